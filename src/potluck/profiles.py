"""Profiles: which connector serves each logical source, and where Feast and MLflow keep state.

The feature definitions never change between profiles; only this mapping does.
Each source of the active deployment declares its connector per profile (a
:class:`~potluck.deployment.Binding`); ``settings.sources`` rebinds single sources
on top (for example ``POTLUCK_SOURCES__<source>__KIND=postgres`` while no MongoDB
is reachable), so the services profile runs on PostgreSQL + S3 + Redis alone.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import yaml

from potluck.deployment import Binding, active_deployment
from potluck.errors import ConfigurationError, SourceError
from potluck.settings import Settings

__all__ = [
    "create_database",
    "feature_store_yaml",
    "iceberg_options",
    "prepare_iceberg_catalog",
    "prepare_mlflow_store",
    "repo_config_dict",
    "resolve_binding",
    "source_bindings",
]

STORE_TYPE = "potluck.offline.store.FederatedOfflineStore"


def _postgres_options(settings: Settings) -> dict[str, Any]:
    pg = settings.postgres
    return {
        "host": pg.host,
        "port": pg.port,
        "user": pg.user,
        "password": pg.password,
        "database": pg.database,
        "sslmode": pg.sslmode,
    }


def _s3_options(settings: Settings, prefix: str) -> dict[str, Any]:
    s3 = settings.s3
    return {
        "bucket": s3.bucket,
        "prefix": prefix,
        "endpoint_url": s3.endpoint_url,
        "access_key": s3.access_key,
        "secret_key": s3.secret_key,
        "region": s3.region,
    }


def iceberg_options(
    settings: Settings, folder: str = "iceberg", prefix: str = "iceberg"
) -> dict[str, Any]:
    """The iceberg connector's catalog and warehouse on this profile.

    Embedded: a SQLite catalog ``<data>/<folder>/catalog.db`` and the warehouse folder
    ``<data>/<folder>/warehouse``. Services: the SQL catalog in a PostgreSQL database of
    its own (``postgres.iceberg_database``, made by :func:`prepare_iceberg_catalog`) and
    the warehouse ``s3://<bucket>/<prefix>`` with the settings' S3 endpoint and keys.
    """
    if settings.profile != "services":
        root = settings.data_dir / folder
        return {"uri": f"sqlite:///{root / 'catalog.db'}", "warehouse": str(root / "warehouse")}
    s3 = settings.s3
    return {
        "uri": settings.postgres.sqlalchemy_url(settings.postgres.iceberg_database),
        "warehouse": f"s3://{s3.bucket}/{prefix.strip('/')}",
        "endpoint_url": s3.endpoint_url,
        "access_key": s3.access_key,
        "secret_key": s3.secret_key,
        "region": s3.region,
    }


def resolve_binding(settings: Settings, binding: Binding) -> dict[str, Any]:
    """{kind, options} of a deployment's :class:`Binding` on this machine.

    File kinds live under the deployment's data folder (``file`` / ``folder`` hints);
    server kinds take their address from settings; ``iceberg`` gets its catalog and
    warehouse from :func:`iceberg_options` (``folder`` / ``prefix`` hints); other hints
    (``namespace``, or ``uri`` / ``warehouse`` themselves) pass through as options.
    """
    hints = dict(binding.hints)
    data = settings.data_dir
    kind = binding.kind
    if kind == "sqlite":
        options = {"path": str(data / hints.pop("file", "sources.db"))}
    elif kind in ("parquet", "jsonl"):
        options = {"root": str(data / hints.pop("folder", "lake"))}
    elif kind == "postgres":
        options = _postgres_options(settings)
    elif kind == "s3":
        options = _s3_options(settings, hints.pop("prefix", "lake"))
    elif kind == "iceberg":
        options = iceberg_options(
            settings, hints.pop("folder", "iceberg"), hints.pop("prefix", "iceberg")
        )
    else:
        options = {}
    for hint in ("file", "folder", "prefix"):
        hints.pop(hint, None)
    return {"kind": kind, "options": {**options, **hints}}


def source_bindings(settings: Settings) -> dict[str, dict[str, Any]]:
    """logical source -> {kind, options} for the active deployment and profile, after
    ``settings.sources`` (which may rebind a source to another kind)."""
    deployment = active_deployment(settings)
    bindings = {
        name: resolve_binding(settings, spec.binding(settings.profile))
        for name, spec in deployment.sources.items()
    }
    for source, override in settings.sources.items():
        if source not in bindings:
            known = ", ".join(bindings)
            raise ConfigurationError(
                f"settings.sources names an unknown source '{source}' (known: {known})"
            )
        options = override.options or _usual_options(settings, override.kind, source)
        bindings[source] = {"kind": override.kind, "options": options}
    return bindings


def _usual_options(settings: Settings, kind: str, source: str) -> dict[str, Any]:
    """A kind's options when an override names only the kind: the source's own binding of
    that kind, else the first embedded binding of that kind among the deployment's
    sources, else the kind's defaults (engineered sources keep their folder/prefix)."""
    sources = active_deployment(settings).sources
    spec = sources[source]
    for binding in spec.bindings.values():
        if binding.kind == kind:
            return resolve_binding(settings, binding)["options"]
    if kind not in ("postgres", "s3"):
        for other in sources.values():
            if other.binding("embedded").kind == kind:
                return resolve_binding(settings, other.binding("embedded"))["options"]
    folder = "engineered" if spec.engineered else "lake"
    return resolve_binding(settings, Binding(kind, {"folder": folder, "prefix": folder}))["options"]


def prepare_mlflow_store(settings: Settings) -> None:
    """Services profile: create MLflow's database and the artifact bucket if absent, and
    export the S3 endpoint and credentials MLflow's artifact store (boto3) reads."""
    if settings.profile != "services":
        return
    os.environ.update(settings.mlflow_environment())
    create_database(settings, settings.postgres.mlflow_database)
    from pyarrow import fs

    s3 = settings.s3
    url = urlsplit(s3.endpoint_url)
    bucket_fs = fs.S3FileSystem(
        access_key=s3.access_key,
        secret_key=s3.secret_key,
        region=s3.region,
        endpoint_override=url.netloc,
        scheme=url.scheme,
        allow_bucket_creation=True,
    )
    try:
        if bucket_fs.get_file_info(s3.bucket).type == fs.FileType.NotFound:
            bucket_fs.create_dir(s3.bucket)
    except OSError as exc:
        raise SourceError("mlflow artifacts", "s3", f"{s3.endpoint_url}: {exc}") from None


def prepare_iceberg_catalog(settings: Settings) -> None:
    """Services profile: create the Iceberg catalog's database if absent (its tables are
    made by pyiceberg on first use; the warehouse bucket by the connector's first write)."""
    if settings.profile == "services":
        create_database(settings, settings.postgres.iceberg_database)


def create_database(settings: Settings, database: str) -> None:
    """CREATE DATABASE ``database`` on the settings' PostgreSQL server unless it exists."""
    import psycopg
    from psycopg import sql

    pg = settings.postgres
    try:
        with psycopg.connect(
            host=pg.host,
            port=pg.port,
            user=pg.user,
            password=pg.password or None,
            dbname="postgres",  # the maintenance database: the target may not exist yet
            sslmode=pg.sslmode,
            connect_timeout=10,
            autocommit=True,
        ) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if found.fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    except psycopg.Error as exc:
        detail = " ".join(str(exc).split())
        raise SourceError(database, "postgres", f"{pg.host}:{pg.port}: {detail}") from None


def repo_config_dict(settings: Settings) -> dict[str, Any]:
    """The Feast repo config of the active profile, as plain data."""
    home = settings.home.resolve()
    if settings.profile == "embedded":
        registry: dict[str, Any] = {
            "registry_type": "sql",
            "path": f"sqlite:///{home / 'registry.db'}",
            "cache_ttl_seconds": 60,
        }
    else:
        registry = {
            "registry_type": "sql",
            "path": settings.postgres.sqlalchemy_url(),
            "cache_ttl_seconds": 60,
            # A pooled connection is checked before use: a restarted server costs nothing.
            "sqlalchemy_config_kwargs": {"echo": False, "pool_pre_ping": True},
        }
    online: dict[str, Any] = {"type": "sqlite", "path": str(home / "online.db")}
    kind = settings.online_store
    if kind == "redis" or (kind == "default" and settings.profile == "services"):
        redis = settings.redis
        online = {
            "type": "redis",
            "connection_string": f"{redis.host}:{redis.port},db={redis.db}",
        }
    return {
        "project": settings.project_name,
        "provider": "local",
        "registry": registry,
        "offline_store": {"type": STORE_TYPE, "sources": source_bindings(settings)},
        "online_store": online,
        "entity_key_serialization_version": 3,
    }


def feature_store_yaml(settings: Settings) -> str:
    return yaml.safe_dump(repo_config_dict(settings), sort_keys=False)
