"""TLS settings (``settings.tls``) turned into what ftplib and requests expect.

Verification is on unless both the settings and the source allow it off; ``ca_file`` replaces
the system trust store when given (a private PKI), and a client certificate is presented when
configured.
"""

from __future__ import annotations

import ssl

from maas.config.settings import TLSSettings


def ssl_context(tls: TLSSettings, verify: bool = True) -> ssl.SSLContext:
    """A client context; ``verify=False`` (explicit in the config) disables all checks."""
    context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
    if not (verify and tls.verify):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.client_cert:
        context.load_cert_chain(str(tls.client_cert), str(tls.client_key) if tls.client_key else None)
    return context


def requests_verify(tls: TLSSettings, verify: bool = True) -> bool | str:
    """The ``verify`` argument of requests: False, the CA bundle path, or True (system store)."""
    if not (verify and tls.verify):
        return False
    return str(tls.ca_file) if tls.ca_file else True


def requests_cert(tls: TLSSettings) -> tuple[str, str] | str | None:
    if tls.client_cert is None:
        return None
    return (str(tls.client_cert), str(tls.client_key)) if tls.client_key else str(tls.client_cert)
