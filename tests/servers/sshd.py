"""A private OpenSSH sshd on a loopback port, for SFTP tests against the real server.

Own configuration, own host key, a client key pair authorised through a file in the work
directory, ``internal-sftp``, ``StrictModes no`` (keys live in a temp dir), no PAM. It runs in
the foreground (``-D``) as a child process so it is stopped with the test session. The OpenSSH
server is installed with apt-get when missing, so a fresh Debian machine works.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from servers.net import free_port, wait_for_port

SSHD = Path("/usr/sbin/sshd")
TEST_USER = "maas-sftp-test"  # not root, logs in by password: see password_user


class SshdUnavailable(RuntimeError):
    """sshd cannot be installed or started here; the message says why."""


def ensure_sshd() -> Path:
    """The sshd binary, installing Debian's openssh-server first when it is missing."""
    if SSHD.exists():
        return SSHD
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SshdUnavailable(f"{SSHD} is missing and cannot be installed (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "openssh-server"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SshdUnavailable(f"apt-get install openssh-server failed: {done.stderr[-500:]}")
    return SSHD


def keygen(path: Path) -> Path:
    """An ed25519 key pair at ``path`` and ``path.pub`` (no passphrase)."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "maas-test", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


class Sshd:
    """``with Sshd(workdir) as sshd:``; ``sshd.client_key``, ``sshd.known_hosts_line()``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.host_key = keygen(workdir / "host_ed25519")
        self.client_key = keygen(workdir / "client_ed25519")
        self.authorized_keys = workdir / "authorized_keys"
        self.authorized_keys.write_text((workdir / "client_ed25519.pub").read_text())
        self.config = workdir / "sshd_config"
        self.log = workdir / "sshd.log"
        self._process: subprocess.Popen[bytes] | None = None

    def _write_config(self) -> None:
        self.config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key}",
                    f"PidFile {self.workdir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.authorized_keys}",
                    "StrictModes no",
                    "PermitRootLogin yes",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication yes",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "Subsystem sftp internal-sftp",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )

    def __enter__(self) -> Sshd:
        binary = ensure_sshd()
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege-separation directory
        self._write_config()
        with self.log.open("wb") as log:
            self._process = subprocess.Popen([str(binary), "-D", "-e", "-f", str(self.config)], stderr=log)
        try:
            wait_for_port(self.port, timeout=10)
        except TimeoutError:
            self.__exit__()
            raise SshdUnavailable(f"sshd did not start: {self.log.read_text()[-800:]}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def host_public_key(self) -> str:
        return (self.workdir / "host_ed25519.pub").read_text().split()[1]

    def known_hosts_line(self, key_type: str = "ssh-ed25519", key: str | None = None) -> str:
        """The line a client's known_hosts needs for this daemon (non-22 ports are bracketed)."""
        return f"[127.0.0.1]:{self.port} {key_type} {key or self.host_public_key()}\n"


@dataclass(frozen=True)
class PasswordUser:
    """A system user that is not root, so that file permissions stop it, and its password."""

    name: str
    password: str
    root: Path  # a directory of its own to serve: pytest's temporary directories are root's alone


@contextmanager
def password_user(password: str) -> Iterator[PasswordUser]:
    """TEST_USER with ``password`` and a fresh directory under /tmp it can reach, removed at the
    end. A password, as sshd checks it against the system: the client key's authorized_keys lies
    in a temporary directory this user cannot read. Root only (raises SshdUnavailable)."""
    root = Path(tempfile.mkdtemp(prefix="maas-sftp-", dir="/tmp"))
    try:
        root.chmod(0o755)
        yield PasswordUser(ensure_password_user(password, root), password, root)
    finally:
        shutil.rmtree(root)


def ensure_password_user(password: str, home: Path) -> str:
    """Create (once) TEST_USER and set its password. Root only."""
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        raise SshdUnavailable(f"creating the test user {TEST_USER} needs root and useradd")
    if subprocess.run(["id", TEST_USER], capture_output=True).returncode != 0:
        subprocess.run(
            [
                "useradd",
                "--no-create-home",
                "--home-dir",
                str(home),
                "--shell",
                "/usr/sbin/nologin",
                TEST_USER,
            ],
            check=True,
            capture_output=True,
        )
    subprocess.run(["chpasswd"], input=f"{TEST_USER}:{password}".encode(), check=True, capture_output=True)
    return TEST_USER
