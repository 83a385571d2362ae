"""``python -m maas_cli``: the same as the ``maas`` command."""

from maas_cli.app import main

main()
