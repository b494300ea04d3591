"""Profiles: which connector serves each logical source, and where Feast and MLflow keep state.

The feature definitions never change between profiles; only this mapping does.
``settings.sources`` rebinds single sources on top of a profile (for example
``POTLUCK_SOURCES__patient_demographics__KIND=postgres`` while no MongoDB is
reachable), so the services profile runs on PostgreSQL + S3 + Redis alone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from potluck.errors import ConfigurationError, SourceError
from potluck.settings import Settings

__all__ = [
    "ENGINEERED_SOURCES",
    "LOGICAL_SOURCES",
    "create_database",
    "feature_store_yaml",
    "prepare_mlflow_store",
    "repo_config_dict",
    "source_bindings",
]

LOGICAL_SOURCES = (
    "clinical_measurements",
    "patient_demographics",
    "hospital_administration",
    "lifestyle_data",
    "stroke_outcomes",
)
ENGINEERED_SOURCES = ("computed_risk_metrics", "hospitalization_metrics")
STORE_TYPE = "potluck.offline.store.FederatedOfflineStore"


def _embedded(data: Path) -> dict[str, dict[str, Any]]:
    sqlite = {"kind": "sqlite", "options": {"path": str(data / "hospital.db")}}
    lake = {"kind": "parquet", "options": {"root": str(data / "lake")}}
    engineered = {"kind": "parquet", "options": {"root": str(data / "engineered")}}
    return {
        "clinical_measurements": sqlite,
        "patient_demographics": {"kind": "jsonl", "options": {"root": str(data / "documents")}},
        "hospital_administration": sqlite,
        "lifestyle_data": lake,
        "stroke_outcomes": lake,
        "computed_risk_metrics": engineered,
        "hospitalization_metrics": engineered,
    }


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


def _services(settings: Settings) -> dict[str, dict[str, Any]]:
    pg = {"kind": "postgres", "options": _postgres_options(settings)}
    lake = {"kind": "s3", "options": _s3_options(settings, "lake")}
    engineered = {"kind": "s3", "options": _s3_options(settings, "engineered")}
    return {
        "clinical_measurements": pg,
        "patient_demographics": {"kind": "mongodb", "options": {}},
        "hospital_administration": {"kind": "mssql", "options": {}},
        "lifestyle_data": lake,
        "stroke_outcomes": lake,
        "computed_risk_metrics": engineered,
        "hospitalization_metrics": engineered,
    }


def _usual_options(settings: Settings, kind: str, source: str) -> dict[str, Any]:
    """A kind's options when an override names only the kind."""
    engineered = source in ENGINEERED_SOURCES
    if kind == "postgres":
        return _postgres_options(settings)
    if kind == "s3":
        return _s3_options(settings, "engineered" if engineered else "lake")
    embedded = _embedded(settings.data_dir)
    same_kind = [b for b in embedded.values() if b["kind"] == kind]
    if kind == embedded[source]["kind"]:
        return dict(embedded[source]["options"])
    return dict(same_kind[0]["options"]) if same_kind else {}


def source_bindings(settings: Settings) -> dict[str, dict[str, Any]]:
    """logical source -> {kind, options} for the active profile, after ``settings.sources``."""
    if settings.profile == "embedded":
        bindings = _embedded(settings.data_dir)
    else:
        bindings = _services(settings)
    for source, override in settings.sources.items():
        if source not in bindings:
            known = ", ".join(bindings)
            raise ConfigurationError(
                f"settings.sources names an unknown source '{source}' (known: {known})"
            )
        options = override.options or _usual_options(settings, override.kind, source)
        bindings[source] = {"kind": override.kind, "options": options}
    return bindings


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
        "project": settings.project,
        "provider": "local",
        "registry": registry,
        "offline_store": {"type": STORE_TYPE, "sources": source_bindings(settings)},
        "online_store": online,
        "entity_key_serialization_version": 3,
    }


def feature_store_yaml(settings: Settings) -> str:
    return yaml.safe_dump(repo_config_dict(settings), sort_keys=False)
