"""Names that are not UTF-8 on the SFTP and FTP wires, where no server is needed to check them."""

from __future__ import annotations

import codecs
import ftplib

import pytest

from maas.collector.sources.config import FtpConfig, SftpConfig
from maas.collector.sources.ftp import WIRE, FtpSource
from maas.collector.sources.sftp import SftpSource
from maas.errors import SourceRefused

pytestmark = pytest.mark.unit


def test_ftp_wire_text_keeps_bytes_that_are_not_utf8_and_sends_them_back_unchanged() -> None:
    """ftplib reads its connections through a TextIOWrapper, in chunks that can split a UTF-8
    sequence: the bytes that are not UTF-8 become escapes, the split sequence is still joined."""
    decoder = codecs.getincrementaldecoder(WIRE)("strict")
    text = decoder.decode(b"\xc3") + decoder.decode(b"\xa9t\xc3\xa9.csv caf\xe9.csv", final=True)
    assert text == "été.csv caf\udce9.csv"
    assert codecs.encode(f"RETR {text}", WIRE) == "RETR été.csv ".encode() + b"caf\xe9.csv"


def test_an_ftp_reply_echoing_a_name_that_is_not_utf8_is_shown_escaped() -> None:
    source = FtpSource(FtpConfig(type="ftp", host="h", username="u"))
    with pytest.raises(SourceRefused) as err, source._errors("list /in"):
        raise ftplib.error_perm("550 caf\udce9: permission denied")
    assert str(err.value) == r"ftp://u@h:21: cannot list /in (550 caf\xe9: permission denied)"


def test_an_sftp_reply_that_is_not_utf8_is_refused_naming_the_byte() -> None:
    """paramiko still decodes the text of its error replies strictly."""
    source = SftpSource(SftpConfig(type="sftp", host="h", username="u", key_file="/k"))
    with pytest.raises(SourceRefused) as err, source._errors("read /in/a.csv"):
        b"Permission denied: caf\xe9".decode()
    assert str(err.value) == (
        r"SFTP u@h:22: cannot read /in/a.csv "
        r"(the server's reply is not valid UTF-8 (byte 0xE9 in 'Permission denied: caf\xe9'))"
    )
