"""Start and stop real local servers for development and tests.

PostgreSQL 15 (Debian binaries, initdb into a project-local folder), Redis
(``redis-server``) and an S3 endpoint (moto's server, the stand-in for MinIO),
all bound to loopback. ``make services-up`` / ``make services-down`` and the
test suite's fixtures use the same functions. A server that cannot start is an
error that says why -- never a silent skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from potluck.errors import ConfigurationError

__all__ = [
    "Server",
    "free_port",
    "start_moto",
    "start_postgres",
    "start_redis",
    "stop",
    "wait_for_port",
]


@dataclass(frozen=True)
class Server:
    name: str
    host: str
    port: int
    root: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0, name: str = "server") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise ConfigurationError(f"{name} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def _run(args: Sequence[str], what: str, user: str | None = None) -> None:
    if user and os.geteuid() == 0:
        args = ["runuser", "-u", user, "--", *args]
    proc = subprocess.run(list(args), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ConfigurationError(
            f"{what} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}"
        )


def _pg_bin(name: str) -> str:
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise ConfigurationError(
            f"PostgreSQL binary '{name}' not found: apt-get install -y postgresql"
        )
    return found


def start_postgres(root: Path, port: int, database: str = "potluck") -> Server:
    """initdb (once) into ``root/pg`` and start PostgreSQL on 127.0.0.1:``port``."""
    data = root / "pg"
    user = "postgres" if os.geteuid() == 0 else None
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        if user:
            # initdb refuses to run as root: the folder goes to the postgres user, and
            # ``root``'s ancestors must be traversable by it (pytest's tmp dirs are 0700).
            for folder in [root, *root.parents]:
                if folder.stat().st_uid == 0 and not folder.stat().st_mode & 0o001:
                    folder.chmod(folder.stat().st_mode | 0o711)
            shutil.chown(root, user)
            shutil.chown(data, user)
        _run(
            [_pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            "initdb",
            user,
        )
    options = (
        f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    )
    _run(
        [
            _pg_bin("pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(data / "server.log"),
            "-w",
            "start",
        ],
        "pg_ctl start",
        user,
    )
    wait_for_port(port, name="PostgreSQL")
    proc = subprocess.run(
        [
            _pg_bin("psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname = '{database}'",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.stdout.strip() != "1":
        _run(
            [_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", database],
            "createdb",
        )
    return Server("postgres", "127.0.0.1", port, root)


def start_redis(root: Path, port: int) -> Server:
    binary = shutil.which("redis-server")
    if binary is None:
        raise ConfigurationError("redis-server not found: apt-get install -y redis-server")
    root.mkdir(parents=True, exist_ok=True)
    _run(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--dir",
            str(root),
            "--pidfile",
            str(root / "redis.pid"),
            "--logfile",
            str(root / "redis.log"),
        ],
        "redis-server",
    )
    wait_for_port(port, name="Redis")
    return Server("redis", "127.0.0.1", port, root)


def start_moto(root: Path, port: int) -> Server:
    """moto's S3-compatible server (the MinIO stand-in) in the background."""
    binary = Path(sys.executable).with_name("moto_server")
    if not binary.exists():
        raise ConfigurationError("moto_server not found: pip install 'moto[server]'")
    root.mkdir(parents=True, exist_ok=True)
    log = (root / "moto.log").open("ab")
    proc = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    (root / "moto.pid").write_text(str(proc.pid))
    wait_for_port(port, name="moto S3 server")
    return Server("s3", "127.0.0.1", port, root)


def stop(server: Server) -> None:
    """Stop a server started by this module; quiet if it is already gone."""
    if server.name == "postgres":
        user = "postgres" if os.geteuid() == 0 else None
        args = [_pg_bin("pg_ctl"), "-D", str(server.root / "pg"), "-m", "fast", "-w", "stop"]
        if user:
            args = ["runuser", "-u", user, "--", *args]
        subprocess.run(args, capture_output=True, check=False)
        return
    pidfile = server.root / ("redis.pid" if server.name == "redis" else "moto.pid")
    if pidfile.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
        pidfile.unlink(missing_ok=True)
