"""SFTP through paramiko, with the host key verified against a known_hosts file by default.

Only the given known_hosts file is trusted (not the system ones, not an agent, not keys lying
in ~/.ssh): what authenticates us and what we trust is exactly what the configuration says.
``insecure_accept_any_host_key`` exists for labs and logs a warning at every connection.

Directories are listed with the names as bytes (see ``_listdir``): paramiko decodes them
strictly as UTF-8, so one name in Latin-1 would fail the whole directory instead of being
rejected alone, as the filesystem source does.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import stat
from collections.abc import Callable, Iterator
from typing import Any, cast

import paramiko
from paramiko.sftp import CMD_CLOSE, CMD_HANDLE, CMD_NAME, CMD_OPENDIR, CMD_READDIR

from maas.collector.names import name_bytes, undecodable
from maas.collector.sources.config import SftpConfig
from maas.collector.sources.files import Entry, RemoteFileSource, Unreadable, Vanished, levels, safe_child
from maas.config.settings import TLSSettings
from maas.errors import SourceError, SourceRefused, SourceUnavailable

log = logging.getLogger(__name__)


# paramiko's request call and attribute parser are private, so absent from its type stubs. The
# SFTP tests ran with paramiko 3.4.0, 4.0.0 and 5.1.0, and its SFTP modules (sftp.py,
# sftp_client.py, sftp_attr.py) are the same in every release from 3.4.0 to 5.1.0. The protocol
# itself is SFTP v3 (draft-ietf-secsh-filexfer-02).
CHECKED_PARAMIKO = "3.4.0 to 5.1.0"


def _private(owner: type, name: str) -> Callable[..., Any]:
    """paramiko's ``owner.name``, or an ImportError naming the paramiko installed."""
    try:
        return cast(Callable[..., Any], getattr(owner, name))
    except AttributeError:
        raise ImportError(
            f"the SFTP source needs {owner.__name__}.{name}, private to paramiko and missing from "
            f"paramiko {paramiko.__version__}; install a release it was checked with "
            f"(paramiko {CHECKED_PARAMIKO})"
        ) from None


_request: Callable[..., tuple[int, paramiko.Message]] = _private(paramiko.SFTPClient, "_request")
_attributes: Callable[[paramiko.Message], paramiko.SFTPAttributes] = _private(
    paramiko.SFTPAttributes, "_from_msg"
)
Named = tuple[str, paramiko.SFTPAttributes]  # a directory entry: its name, its attributes


class SftpSource(RemoteFileSource):
    config: SftpConfig

    def __init__(self, config: SftpConfig, tls: TLSSettings | None = None) -> None:
        super().__init__(config)
        self.where = f"{config.username}@{config.host}:{config.port}"
        self._ssh: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None

    def close(self) -> None:
        if self._ssh is not None:
            self._ssh.close()
        self._ssh = self._sftp = None

    @property
    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            self._ssh = self._connect()
            with self._errors("open the SFTP channel"):
                self._sftp = self._ssh.open_sftp()
        return self._sftp

    def _connect(self) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        self._trust(client)
        cfg = self.config
        with self._errors("connect"):
            client.connect(
                cfg.host,
                cfg.port,
                cfg.username,
                password=cfg.password.resolve() if cfg.password else None,
                key_filename=str(cfg.key_file.expanduser()) if cfg.key_file else None,
                passphrase=cfg.key_passphrase.resolve() if cfg.key_passphrase else None,
                timeout=cfg.timeout_s,
                banner_timeout=cfg.timeout_s,
                auth_timeout=cfg.timeout_s,
                allow_agent=False,
                look_for_keys=False,
            )
        return client

    def _trust(self, client: paramiko.SSHClient) -> None:
        if self.config.insecure_accept_any_host_key:
            log.warning("SFTP %s: host key NOT verified (insecure_accept_any_host_key: true)", self.where)
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
            return
        known = self.config.known_hosts.expanduser()
        try:
            client.load_host_keys(str(known))
        except OSError as exc:
            raise SourceRefused(
                f"SFTP {self.where}: cannot read known_hosts {known} ({exc.strerror}); "
                "add the server's host key there (ssh-keyscan) to trust it"
            ) from None
        client.set_missing_host_key_policy(paramiko.RejectPolicy())

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Map paramiko and socket errors to ours, naming host and reason, never a secret."""
        try:
            yield
        except (SourceError, Unreadable):
            raise
        except UnicodeDecodeError as exc:  # paramiko decodes the text of error replies strictly
            raise SourceRefused(f"SFTP {self.where}: cannot {action} ({undecodable(exc)})") from None
        except paramiko.BadHostKeyException as exc:
            raise SourceRefused(
                f"SFTP {self.where}: host key mismatch ({exc.key.get_name()} "
                f"{exc.key.get_fingerprint().hex()} offered, known_hosts has another); "
                "refusing to connect — if the key legitimately changed, update known_hosts"
            ) from None
        except paramiko.AuthenticationException as exc:
            raise SourceRefused(f"SFTP {self.where}: authentication failed ({exc})") from None
        except paramiko.SSHException as exc:
            raise _ssh_error(self.where, action, exc) from None
        except PermissionError as exc:  # the server's SSH_FX_PERMISSION_DENIED: a retry will not help
            raise SourceRefused(f"SFTP {self.where}: cannot {action} ({_reason(exc)})") from None
        except (OSError, EOFError) as exc:
            raise SourceUnavailable(f"SFTP {self.where}: cannot {action} ({_reason(exc)})") from None

    # backend operations ---------------------------------------------------------------
    def _entries(self, directory: str) -> Iterator[Entry]:
        for name, attr in _listdir(self.sftp, directory):
            mode = attr.st_mode or 0
            kind = "file" if stat.S_ISREG(mode) else "dir" if stat.S_ISDIR(mode) else "other"
            if safe_child(name):
                yield name, kind, attr.st_size or 0, float(attr.st_mtime or 0)

    def _stat(self, path: str) -> tuple[int, float] | None:
        with self._errors(f"stat {path}"):
            try:
                attr = self.sftp.stat(path)
            except FileNotFoundError:
                return None
        return attr.st_size or 0, float(attr.st_mtime or 0)

    def _read(self, path: str) -> bytes:
        with self._errors(f"read {path}"):
            try:
                with self.sftp.open(path, "rb") as remote:
                    remote.prefetch()
                    return remote.read()
            except FileNotFoundError as exc:
                raise Vanished(exc.strerror or str(exc)) from None
            except PermissionError as exc:
                raise Unreadable(exc.strerror or str(exc)) from None

    def _remove(self, path: str) -> None:
        self.sftp.remove(path)

    def _rename(self, path: str, target: str) -> None:
        self.sftp.posix_rename(path, target)

    def _make_dirs(self, directory: str) -> None:
        for level in levels(directory):
            try:
                self.sftp.stat(level)
            except FileNotFoundError:
                self.sftp.mkdir(level)


def _listdir(sftp: paramiko.SFTPClient, directory: str) -> list[Named]:
    """The entries of ``directory``, names decoded as Python decodes a local listing (bytes that
    are not UTF-8 kept as surrogate escapes), so a name that is not UTF-8 is rejected alone by
    the check all file sources share. ``SFTPClient.listdir_attr`` makes the same requests but
    reads the names with ``Message.get_text()``, which raises on the first such name."""
    kind, msg = _request(sftp, CMD_OPENDIR, name_bytes(directory))
    if kind != CMD_HANDLE:
        raise paramiko.SSHException(f"OPENDIR {directory} answered with SFTP message type {kind}")
    handle = msg.get_binary()
    entries: list[Named] = []
    try:
        while (batch := _next_names(sftp, handle)) is not None:
            entries.extend(batch)
    finally:
        _request(sftp, CMD_CLOSE, handle)
    return entries


def _next_names(sftp: paramiko.SFTPClient, handle: bytes) -> list[Named] | None:
    """One READDIR reply: (name, attributes) for each entry, or None at the end of the directory."""
    try:
        kind, msg = _request(sftp, CMD_READDIR, handle)
    except EOFError:  # paramiko's SSH_FX_EOF: every entry was read
        return None
    if kind != CMD_NAME:
        raise paramiko.SSHException(f"READDIR answered with SFTP message type {kind}")
    entries = []
    for _ in range(msg.get_int()):
        name = msg.get_string().decode("utf-8", "surrogateescape")
        msg.get_string()  # the 'ls -l' long name, unused
        entries.append((name, _attributes(msg)))
    return entries


def _ssh_error(where: str, action: str, exc: paramiko.SSHException) -> SourceError:
    text = str(exc)
    if "not found in known_hosts" in text:
        return SourceRefused(
            f"SFTP {where}: host key is not in known_hosts; refusing to connect to an unknown host "
            "(add its key with ssh-keyscan after checking its fingerprint)"
        )
    return SourceUnavailable(f"SFTP {where}: cannot {action} ({text})")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout):
        return "timed out"
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename or ''}".rstrip(": ")
    return str(exc) or type(exc).__name__
