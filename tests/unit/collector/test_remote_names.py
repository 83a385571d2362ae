"""Names that are not UTF-8 on the SFTP wire, where no server is needed to check them."""

from __future__ import annotations

import pytest

from maas.collector.sources.config import SftpConfig
from maas.collector.sources.sftp import SftpSource
from maas.errors import SourceRefused

pytestmark = pytest.mark.unit


def test_an_sftp_reply_that_is_not_utf8_is_refused_naming_the_byte() -> None:
    """paramiko still decodes the text of its error replies strictly."""
    source = SftpSource(SftpConfig(type="sftp", host="h", username="u", key_file="/k"))
    with pytest.raises(SourceRefused) as err, source._errors("read /in/a.csv"):
        b"Permission denied: caf\xe9".decode()
    assert str(err.value) == (
        r"SFTP u@h:22: cannot read /in/a.csv "
        r"(the server's reply is not valid UTF-8 (byte 0xE9 in 'Permission denied: caf\xe9'))"
    )
