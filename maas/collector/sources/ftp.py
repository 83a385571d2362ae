"""FTP and explicit FTPS (AUTH TLS + ``PROT P``) through ftplib.

Listing uses MLSD, whose facts (type, size, UTC modify time) are standard and machine-readable;
servers without it fall back to NLST plus SIZE and MDTM per entry, where an entry without a
size is taken for a directory. With ``tls: true`` the control channel is encrypted before the
password is sent and the data channel is protected, and the server certificate is verified
unless ``verify_tls: false`` (or ``tls.verify: false`` in the settings).

The control and data connections are read and written as UTF-8 with surrogate escapes (see
``WIRE``), so a name a server sends as raw bytes that are not UTF-8 (vsftpd does) is rejected
alone, as the filesystem source does, instead of failing the whole listing.
"""

from __future__ import annotations

import codecs
import contextlib
import ftplib
import logging
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from maas.collector.names import shown
from maas.collector.sources.config import FtpConfig
from maas.collector.sources.files import Entry, RemoteFileSource, Unreadable, levels, safe_child
from maas.collector.sources.tls import ssl_context
from maas.config.settings import TLSSettings
from maas.errors import SourceError, SourceRefused, SourceUnavailable

if TYPE_CHECKING:
    from typing_extensions import Buffer  # collections.abc.Buffer from Python 3.12

log = logging.getLogger(__name__)
_NOT_SUPPORTED = ("500", "501", "502", "504")
WIRE = "maas-utf-8-surrogateescape"


def _wire_encode(text: str, errors: str = "strict") -> tuple[bytes, int]:
    """``errors`` is ignored on purpose: ftplib always asks for strict."""
    return text.encode("utf-8", "surrogateescape"), len(text)


def _wire_decode(data: Buffer, errors: str = "strict", final: bool = True) -> tuple[str, int]:
    return codecs.utf_8_decode(data, "surrogateescape", final)


class _WireDecoder(codecs.BufferedIncrementalDecoder):
    def _buffer_decode(self, data: Buffer, errors: str, final: bool) -> tuple[str, int]:
        return _wire_decode(data, errors, final)


class _WireEncoder(codecs.IncrementalEncoder):
    def encode(self, text: str, final: bool = False) -> bytes:
        return _wire_encode(text)[0]


def _find_wire(name: str) -> codecs.CodecInfo | None:
    """UTF-8 whose errors are always ``surrogateescape``: ftplib's one hook for the text of both
    connections is its ``encoding`` (no ``errors``), and decodes strictly otherwise. A name that
    is not UTF-8 arrives as a Python local listing gives it, and is sent back as the same bytes."""
    if name != WIRE.replace("-", "_"):  # codecs normalises the name it looks up
        return None
    return codecs.CodecInfo(
        encode=_wire_encode,
        decode=_wire_decode,
        incrementalencoder=_WireEncoder,
        incrementaldecoder=_WireDecoder,
        name=WIRE,
    )


codecs.register(_find_wire)


class FtpSource(RemoteFileSource):
    config: FtpConfig

    def __init__(self, config: FtpConfig, tls: TLSSettings | None = None) -> None:
        super().__init__(config)
        self.tls = tls or TLSSettings()
        self.where = f"{'ftps' if config.tls else 'ftp'}://{config.username}@{config.host}:{config.port}"
        self.scheme = "ftps" if config.tls else "ftp"
        self._ftp: ftplib.FTP | None = None
        self._mlsd = True

    def close(self) -> None:
        if self._ftp is not None:
            with contextlib.suppress(OSError, EOFError, ftplib.Error):
                self._ftp.quit()
            self._ftp.close()
        self._ftp = None

    @property
    def ftp(self) -> ftplib.FTP:
        if self._ftp is None:
            self._ftp = self._connect()
        return self._ftp

    def _connect(self) -> ftplib.FTP:
        cfg = self.config
        ftp = self._client()
        with self._errors("connect"):
            ftp.connect(cfg.host, cfg.port, timeout=cfg.timeout_s)
            ftp.login(cfg.username, cfg.password.resolve() if cfg.password else "")
            if isinstance(ftp, ftplib.FTP_TLS):
                ftp.prot_p()
            ftp.set_pasv(cfg.passive)
            ftp.voidcmd("TYPE I")
        return ftp

    def _client(self) -> ftplib.FTP:
        if not self.config.tls:
            return ftplib.FTP(encoding=WIRE)
        verify = self.config.verify_tls and self.tls.verify
        if not verify:
            log.warning("%s: TLS certificate NOT verified (verify_tls: false)", self.where)
        return ftplib.FTP_TLS(context=ssl_context(self.tls, verify), encoding=WIRE)

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Map ftplib, TLS and socket errors to ours, naming host and reason (a reply may echo
        a name that is not UTF-8: shown escaped, so the message stays printable)."""
        try:
            yield
        except (SourceError, Unreadable):
            raise
        except ftplib.error_perm as exc:
            raise self._permanent(action, exc) from None
        except ssl.SSLCertVerificationError as exc:
            raise SourceRefused(f"{self.where}: TLS certificate rejected ({exc.verify_message})") from None
        except (ftplib.error_temp, ftplib.error_reply, ftplib.error_proto) as exc:
            raise SourceUnavailable(f"{self.where}: cannot {action} ({shown(str(exc))})") from None
        except (OSError, EOFError) as exc:
            reason = "timed out" if isinstance(exc, socket.timeout) else str(exc) or type(exc).__name__
            raise SourceUnavailable(f"{self.where}: cannot {action} ({reason})") from None

    def _permanent(self, action: str, exc: ftplib.error_perm) -> SourceError:
        text = shown(str(exc))
        if text.startswith("530"):
            return SourceRefused(f"{self.where}: login refused ({text})")
        return SourceRefused(f"{self.where}: cannot {action} ({text})")

    # listing ------------------------------------------------------------------------
    def _entries(self, directory: str) -> Iterator[Entry]:
        if self._mlsd:
            try:
                yield from _mlsd(self.ftp, directory)
                return
            except ftplib.error_perm as exc:
                if not str(exc).startswith(_NOT_SUPPORTED):
                    raise
                log.info("%s: MLSD not supported, listing with NLST/SIZE/MDTM", self.where)
                self._mlsd = False
        yield from self._nlst(directory)

    def _nlst(self, directory: str) -> Iterator[Entry]:
        for entry in self.ftp.nlst(directory):
            name = PurePosixPath(entry).name
            if not safe_child(name):
                continue
            found = self._stat(self._join(directory, name))
            yield (name, "dir", 0, 0.0) if found is None else (name, "file", *found)

    # file operations ----------------------------------------------------------------
    def _stat(self, path: str) -> tuple[int, float] | None:
        with self._errors(f"stat {path}"):
            try:
                self.ftp.voidcmd("TYPE I")  # listings switch to ASCII, where SIZE is refused
                size = self.ftp.size(path)
                modified = self.ftp.sendcmd(f"MDTM {path}").split()[-1]
            except ftplib.error_perm:  # 550: gone, or a directory
                return None
        return (size or 0), _ftp_time(modified)

    def _read(self, path: str) -> bytes:
        chunks: list[bytes] = []
        with self._errors(f"read {path}"):
            try:
                self.ftp.retrbinary(f"RETR {path}", chunks.append)
            except ftplib.error_perm as exc:
                raise Unreadable(shown(str(exc))) from None
        return b"".join(chunks)

    def _remove(self, path: str) -> None:
        self.ftp.delete(path)

    def _rename(self, path: str, target: str) -> None:
        self.ftp.rename(path, target)

    def _make_dirs(self, directory: str) -> None:
        for level in levels(directory):
            with contextlib.suppress(ftplib.error_perm):  # 550: exists (else the rename says why)
                self.ftp.mkd(level)


def _mlsd(ftp: ftplib.FTP, directory: str) -> Iterator[Entry]:
    for name, facts in ftp.mlsd(directory, facts=["type", "size", "modify"]):
        kind = facts.get("type", "").lower()
        if safe_child(name) and kind in ("file", "dir"):
            yield name, kind, int(facts.get("size", 0)), _ftp_time(facts.get("modify", ""))


def _ftp_time(value: str) -> float:
    """MLSD/MDTM time ``YYYYMMDDHHMMSS[.sss]`` (always UTC) as epoch seconds."""
    whole, _, fraction = value.partition(".")
    try:
        moment = datetime.strptime(whole, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return 0.0
    return moment.timestamp() + (float(f"0.{fraction}") if fraction.isdigit() else 0.0)
