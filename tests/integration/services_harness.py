"""Build profiles over the session's real servers and run the deployment's steps on them."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from potluck.devservices import Server
from potluck.features.repo import FeatureRepo
from potluck.settings import PostgresSettings, RedisSettings, S3Settings, Settings

__all__ = [
    "AS_OF",
    "PATIENTS",
    "SEED",
    "build",
    "embedded_settings",
    "offline_at",
    "plain",
    "services_settings",
]

AS_OF = datetime(2026, 11, 25, tzinfo=UTC)
PATIENTS = 300
SEED = 11


def embedded_settings(home: Path) -> Settings:
    return Settings(profile="embedded", home=home)


def services_settings(
    home: Path,
    postgres: Server,
    s3: Server,
    redis: Server | None = None,
    sources: dict[str, Any] | None = None,
) -> Settings:
    """The services profile on the given servers, in a database and bucket of its own."""
    from potluck.profiles import create_database

    tag = uuid.uuid4().hex[:10]
    settings = Settings(
        profile="services",
        home=home,
        project=f"svc_{tag}",
        postgres=PostgresSettings(
            host=postgres.host,
            port=postgres.port,
            database=f"svc_{tag}",
            mlflow_database=f"mlflow_{tag}",
            sslmode="disable",
        ),
        redis=RedisSettings(host=redis.host, port=redis.port) if redis else RedisSettings(),
        s3=S3Settings(
            endpoint_url=f"http://{s3.host}:{s3.port}",
            bucket=f"svc-{tag}",
            access_key="test",
            secret_key="test",
        ),
        sources=sources or {},
    )
    create_database(settings, settings.postgres.database)
    return settings


def build(settings: Settings, service: str = "stroke_risk_full") -> tuple[FeatureRepo, pa.Table]:
    """seed -> apply -> engineer -> training set, as the CLI runs them."""
    from potluck.workflows import data, modeling

    data.seed(settings, size=PATIENTS, seed=SEED, as_of=AS_OF)
    repo = FeatureRepo(settings)
    repo.apply()
    data.engineer(settings)
    return repo, modeling.build_training_set(settings, repo, service)


def offline_at(
    repo: FeatureRepo, patient_ids: Sequence[str], refs: Sequence[str], at: datetime
) -> pd.DataFrame:
    """Point-in-time features of each patient at ``at`` from the offline store."""
    from potluck.features.retrieval import historical_features
    from potluck.offline.job import arrow_to_pandas

    entity = pd.DataFrame({"patient_id": list(patient_ids), "event_timestamp": at})
    return arrow_to_pandas(historical_features(repo, entity, list(refs)))


def plain(value: Any) -> Any:
    """One spelling of 'missing' (None, NaN, pd.NA) and plain Python numbers."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value
