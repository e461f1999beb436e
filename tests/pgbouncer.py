"""A real PgBouncer in transaction pooling mode, started in front of the test Postgres.

``PgBouncer.start(target_url, users)`` writes an ini file for a free loopback port (trust
authentication for ``users``, every database of the target server, ``pool_mode = transaction``),
starts the ``pgbouncer`` binary of the Debian package and waits until it accepts connections;
``url_for(url)`` is ``url`` through it. PgBouncer refuses to run as root, so under root it is
started with ``-u nobody`` (its files are made readable for that).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse


def find_pgbouncer() -> str:
    """The ``pgbouncer`` binary (``FileNotFoundError`` when it is not installed)."""
    found = shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer") if os.access(p, os.X_OK)), None
    )
    if found is None:
        raise FileNotFoundError("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgBouncer:
    def __init__(self, process: subprocess.Popen[bytes], port: int, folder: Path) -> None:
        self.process, self.port, self.folder = process, port, folder

    @classmethod
    def start(
        cls,
        target_url: str,
        users: list[str],
        *,
        server_pool_size: int = 2,
        max_client_conn: int = 200,
        timeout_s: float = 10.0,
    ) -> PgBouncer:
        """``server_pool_size``: server connections per database and user (one: every client shares
        it; two or more: a client's consecutive transactions may run on different ones);
        ``max_client_conn``: clients it accepts at once."""
        binary = find_pgbouncer()
        target = urlparse(target_url)
        folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        folder.chmod(0o755)
        port = _free_port()
        (folder / "users.txt").write_text("".join(f'"{user}" ""\n' for user in users))
        (folder / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={target.hostname or '127.0.0.1'} port={target.port or 5432}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {folder / 'users.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {server_pool_size}\n"
            f"max_client_conn = {max_client_conn}\n"
            "server_reset_query =\n"
        )
        for name in ("users.txt", "pgbouncer.ini"):
            (folder / name).chmod(0o644)
        command = [binary, *(["-u", "nobody"] if os.geteuid() == 0 else []), str(folder / "pgbouncer.ini")]
        log = (folder / "pgbouncer.log").open("wb")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        bouncer = cls(process, port, folder)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                bouncer.stop()
                raise RuntimeError(f"pgbouncer exited at start: {bouncer.log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return bouncer
            time.sleep(0.05)
        bouncer.stop()
        raise RuntimeError("pgbouncer did not start listening")

    def url_for(self, url: str, **query: str) -> str:
        """``url`` through this PgBouncer (same user and database), with extra query settings."""
        parsed = urlparse(url)
        user = f"{parsed.username}@" if parsed.username else ""
        extra = "&".join(f"{k}={v}" for k, v in query.items())
        return urlunparse(parsed._replace(netloc=f"{user}127.0.0.1:{self.port}", query=extra))

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.folder / "pgbouncer.log").read_text()[-2000:]
        return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.folder, ignore_errors=True)
