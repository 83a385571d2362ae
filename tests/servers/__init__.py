"""Real servers for integration tests, started on loopback by fixtures.

OpenSSH sshd (own config, host key and client key), pyftpdlib (FTP and FTPS), and small
stdlib HTTP servers that speak OData v4, OData v2 (with $metadata) and paged JSON. They are
plain helpers so that fixtures, benchmarks and ad-hoc scripts can start the same servers.
"""
