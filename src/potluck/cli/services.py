"""``potluck services up|down|status``: the real servers of the services profile, locally.

PostgreSQL 15 (initdb into ``{services_dir}/postgres``), Redis and an S3 endpoint
(moto's server, the MinIO stand-in), on the loopback ports of the settings
(``POTLUCK_POSTGRES__PORT``, ``POTLUCK_REDIS__PORT``, the port of
``POTLUCK_S3__ENDPOINT_URL``). ``up`` also creates MLflow's database and the
bucket, then writes ``{services_dir}/env``: the exports that select the services
profile against these servers (``source .services/env``). MongoDB and SQL Server
cannot be started here, so that file rebinds the active deployment's sources bound
to them to PostgreSQL (``POTLUCK_SOURCES__...__KIND``).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer
from rich.table import Table

from potluck.cli._app import JsonOut, app, console, emit, load_settings
from potluck.errors import ConfigurationError

if TYPE_CHECKING:
    from potluck.settings import Settings

__all__ = ["env_lines", "services_app"]

services_app = typer.Typer(help="Start/stop the local real servers of the services profile.")
app.add_typer(services_app, name="services")

# Server kinds `services up` cannot start here; their sources are rebound to PostgreSQL.
UNSTARTABLE = ("mongodb", "mssql")


def fallbacks(settings: Settings) -> dict[str, str]:
    """source -> kind for the active deployment's sources bound to an unstartable server."""
    from potluck.deployment import active_deployment

    sources = active_deployment(settings).sources
    return {
        name: "postgres"
        for name, spec in sources.items()
        if spec.binding("services").kind in UNSTARTABLE
    }


def _endpoints(settings: Settings) -> dict[str, tuple[str, int]]:
    s3 = urlsplit(settings.s3.endpoint_url)
    if s3.port is None or s3.hostname is None:
        raise ConfigurationError(
            f"s3.endpoint_url needs a host and port: {settings.s3.endpoint_url}"
        )
    return {
        "postgres": (settings.postgres.host, settings.postgres.port),
        "redis": (settings.redis.host, settings.redis.port),
        "s3": (s3.hostname, s3.port),
    }


def _listening(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def _closed(host: str, port: int, timeout: float = 10.0) -> bool:
    """Wait for a stopped server to let go of its port (SIGTERM is asynchronous)."""
    deadline = time.monotonic() + timeout
    while _listening(host, port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _root(settings: Settings) -> Path:
    return settings.services_dir.resolve()


def env_lines(settings: Settings) -> list[str]:
    """Shell exports selecting the services profile on the configured servers."""
    pg, redis, s3 = settings.postgres, settings.redis, settings.s3
    values = {
        "POTLUCK_PROFILE": "services",
        # Its own home: registry, models and seed state of the two profiles never mix.
        "POTLUCK_HOME": str(_root(settings) / "home"),
        "POTLUCK_SERVICES_DIR": str(_root(settings)),
        "POTLUCK_POSTGRES__HOST": pg.host,
        "POTLUCK_POSTGRES__PORT": str(pg.port),
        "POTLUCK_POSTGRES__DATABASE": pg.database,
        "POTLUCK_REDIS__HOST": redis.host,
        "POTLUCK_REDIS__PORT": str(redis.port),
        "POTLUCK_S3__ENDPOINT_URL": s3.endpoint_url,
        "POTLUCK_S3__BUCKET": s3.bucket,
        # These local servers run with default secrets: allowed for local development only.
        "POTLUCK_ALLOW_INSECURE_LOCAL": "true",
    }
    for source, kind in fallbacks(settings).items():
        if source not in settings.sources:  # the user's own rebinding wins
            values[f"POTLUCK_SOURCES__{source.upper()}__KIND"] = kind
    return [f"export {name}={value}" for name, value in values.items()]


@services_app.command("up")
def up(json_out: JsonOut = None) -> None:
    """Start PostgreSQL, Redis and the S3 endpoint (those not already listening)."""
    from potluck import devservices
    from potluck.profiles import create_database, prepare_iceberg_catalog, prepare_mlflow_store

    settings = load_settings().model_copy(update={"profile": "services"})
    root = _root(settings)
    started: dict[str, str] = {}
    for name, (host, port) in _endpoints(settings).items():
        if _listening(host, port):
            started[name] = f"already listening on {host}:{port}"
            continue
        with console.status(f"starting {name} on {host}:{port}"):
            if name == "postgres":
                devservices.start_postgres(root / name, port, settings.postgres.database)
            elif name == "redis":
                devservices.start_redis(root / name, port)
            else:
                devservices.start_moto(root / name, port)
        started[name] = f"started on {host}:{port}"
    create_database(settings, settings.postgres.database)
    prepare_mlflow_store(settings)  # MLflow's database + the bucket
    prepare_iceberg_catalog(settings)  # the Iceberg SQL catalog's database
    env_file = root / "env"
    env_file.parent.mkdir(parents=True, exist_ok=True)
    lines = env_lines(settings)
    header = "# source this file: the services profile on the servers of `potluck services up`"
    env_file.write_text("\n".join([header, *lines]) + "\n")
    table = Table("server", "state", title="potluck services")
    for name, state in started.items():
        table.add_row(name, state)
    console.print(table)
    console.print(f"then: [bold]source {env_file}[/bold] && potluck demo")
    emit({"servers": started, "env_file": str(env_file), "exports": lines}, json_out)


@services_app.command("down")
def down(json_out: JsonOut = None) -> None:
    """Stop the servers `services up` started (data stays under the services folder)."""
    from potluck import devservices

    settings = load_settings()
    root = _root(settings)
    stopped: dict[str, bool] = {}
    for name, (host, port) in _endpoints(settings).items():
        devservices.stop(devservices.Server(name, host, port, root / name))
        stopped[name] = _closed(host, port)
    console.print(", ".join(f"{n}: {'stopped' if ok else 'STILL UP'}" for n, ok in stopped.items()))
    emit({"stopped": stopped}, json_out)


@services_app.command("status")
def status(
    json_out: JsonOut = None,
    env: Annotated[bool, typer.Option("--env", help="Print the shell exports too.")] = False,
) -> None:
    """Which servers answer on their configured ports."""
    settings = load_settings().model_copy(update={"profile": "services"})
    state = {
        name: {"host": host, "port": port, "up": _listening(host, port)}
        for name, (host, port) in _endpoints(settings).items()
    }
    table = Table("server", "address", "state", title="potluck services")
    for name, item in state.items():
        table.add_row(name, f"{item['host']}:{item['port']}", "up" if item["up"] else "down")
    console.print(table)
    if env:
        console.print("\n".join(env_lines(settings)), highlight=False)
    emit(state, json_out)
