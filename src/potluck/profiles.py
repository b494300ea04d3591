"""Profiles: which connector serves each logical source, and where Feast keeps state.

The feature definitions never change between profiles; only this mapping does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from potluck.settings import Settings

__all__ = [
    "ENGINEERED_SOURCES",
    "LOGICAL_SOURCES",
    "feature_store_yaml",
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


def _services(settings: Settings) -> dict[str, dict[str, Any]]:
    pg = settings.postgres
    s3 = settings.s3
    s3_options = {
        "bucket": s3.bucket,
        "endpoint_url": s3.endpoint_url,
        "access_key": s3.access_key,
        "secret_key": s3.secret_key,
        "region": s3.region,
    }
    return {
        "clinical_measurements": {"kind": "postgres", "options": pg.model_dump()},
        "patient_demographics": {"kind": "mongodb", "options": {}},
        "hospital_administration": {"kind": "mssql", "options": {}},
        "lifestyle_data": {"kind": "s3", "options": {**s3_options, "prefix": "lake"}},
        "stroke_outcomes": {"kind": "s3", "options": {**s3_options, "prefix": "lake"}},
        "computed_risk_metrics": {"kind": "s3", "options": {**s3_options, "prefix": "engineered"}},
        "hospitalization_metrics": {
            "kind": "s3",
            "options": {**s3_options, "prefix": "engineered"},
        },
    }


def source_bindings(settings: Settings) -> dict[str, dict[str, Any]]:
    """logical source -> {kind, options} for the active profile."""
    if settings.profile == "embedded":
        return _embedded(settings.data_dir)
    return _services(settings)


def repo_config_dict(settings: Settings) -> dict[str, Any]:
    """The Feast repo config of the active profile, as plain data."""
    home = settings.home.resolve()
    if settings.profile == "embedded":
        registry: dict[str, Any] = {
            "registry_type": "sql",
            "path": f"sqlite:///{home / 'registry.db'}",
            "cache_ttl_seconds": 60,
        }
        online: dict[str, Any] = {"type": "sqlite", "path": str(home / "online.db")}
    else:
        pg = settings.postgres
        registry = {
            "registry_type": "sql",
            "path": f"postgresql+psycopg://{pg.user}:{pg.password}@{pg.host}:{pg.port}/{pg.database}",
            "cache_ttl_seconds": 60,
        }
        online = {
            "type": "redis",
            "connection_string": f"{settings.redis.host}:{settings.redis.port}",
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
