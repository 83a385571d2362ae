"""The ``maas`` command line: parsing, output and exit codes only; no business logic."""
