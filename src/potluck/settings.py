"""Settings: pydantic-settings with the ``POTLUCK_`` env prefix.

``profile`` picks the infrastructure (``embedded``: files on this machine, no
servers; ``services``: real servers) while the feature definitions stay the
same. Nested values use ``__``: ``POTLUCK_POSTGRES__PORT=5433``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "PostgresSettings",
    "RedisSettings",
    "S3Settings",
    "Settings",
    "SourceOverride",
    "deployment_key",
    "get_settings",
    "today_utc",
]


def today_utc() -> datetime:
    """Midnight UTC today: the default anchor of synthetic data."""
    now = datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


class PostgresSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 55432
    user: str = "postgres"
    password: str = Field(default="", repr=False)
    database: str = "potluck"
    # MLflow's tables live in a database of their own (created by `potluck services up`).
    mlflow_database: str = "mlflow"
    # The Iceberg SQL catalog of the services profile (created like MLflow's).
    iceberg_database: str = "iceberg"
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"

    def sqlalchemy_url(self, database: str | None = None) -> str:
        """``postgresql+psycopg://`` URL (psycopg 3) for Feast's SQL registry and MLflow."""
        auth = quote(self.user, safe="") + (
            ":" + quote(self.password, safe="") if self.password else ""
        )
        name = quote(database or self.database, safe="")
        return f"postgresql+psycopg://{auth}@{self.host}:{self.port}/{name}?sslmode={self.sslmode}"


class RedisSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 56379
    db: int = 0


class S3Settings(BaseModel):
    endpoint_url: str = "http://127.0.0.1:55000"
    bucket: str = "potluck"
    access_key: str = "potluck"
    secret_key: str = Field(default="potluck-secret", repr=False)
    region: str = "us-east-1"


class SourceOverride(BaseModel):
    """Rebinds one logical source to another connector kind, whatever the profile says.

    ``POTLUCK_SOURCES__<source>__KIND=postgres`` is enough: without
    ``options`` the profile fills in the kind's usual options (the PostgreSQL or
    S3 settings, or a path under the data folder for the embedded kinds).
    """

    kind: str
    options: dict[str, Any] = Field(default_factory=dict)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="POTLUCK_", env_nested_delimiter="__", extra="ignore"
    )

    profile: Literal["embedded", "services"] = "embedded"
    # "default": the profile's store (embedded: SQLite, services: Redis).
    online_store: Literal["default", "sqlite", "redis"] = "default"
    # Engine of `potluck engineer`; "auto": Spark on the services profile, pandas/DuckDB
    # on embedded (the demo needs no JVM). See potluck.engineering.engines.
    engineering_engine: Literal["auto", "pandas", "spark"] = "auto"
    # The active deployment: a built-in name, "package.module:NAME" or a project folder.
    deployment: str = "healthcare"
    home: Path = Field(
        default=Path("potluck_home"),
        description="where data, registry and models live; unset: potluck_home/<deployment>",
    )
    # Unset: derived from the deployment (project potluck_<name>, the deployment's model
    # name and synthetic size), so switching deployments needs one variable.
    project: str | None = None
    size: int | None = Field(default=None, ge=1, description="synthetic entities to generate")
    seed: int = 42
    model_name: str | None = None
    postgres: PostgresSettings = PostgresSettings()
    redis: RedisSettings = RedisSettings()
    s3: S3Settings = S3Settings()
    # logical source -> another connector (see SourceOverride); how the services profile
    # runs while MongoDB / SQL Server are not reachable.
    sources: dict[str, SourceOverride] = Field(default_factory=dict)
    services_dir: Path = Field(
        default=Path(".services"), description="data of the servers `potluck services up` starts"
    )
    # TTL rule of the Feast-protocol endpoint (POST /get-online-features): "potluck" (a
    # value older than its view's TTL is null, status OUTSIDE_MAX_AGE -- what every other
    # potluck read does) or "feast" (present however old, as `feast serve`). docs/SERVING.md
    feast_protocol_ttl: Literal["potluck", "feast"] = "potluck"
    # REST API bearer keys: key -> comma-separated scopes ("read", "write"), e.g.
    # POTLUCK_API_KEYS='{"dev-read":"read","dev-write":"read,write"}'. None set: every
    # authenticated endpoint answers 401.
    api_keys: dict[str, str] = Field(default_factory=dict, repr=False)
    # Per-API-key request rate, e.g. "100/second" or "20/second;1000/minute" (the `limits`
    # notation); unset: off on the embedded profile, 200/second on services; "off": none.
    rate_limit: str | None = None
    # The services profile refuses default secrets (S3 secret, empty PostgreSQL password)
    # unless this is set: only for local development (`potluck services up` sets it).
    allow_insecure_local: bool = False
    # The alias a prediction without a version or alias is served by: a new version is
    # never served until it is promoted to it.
    serving_alias: str = Field(default="production", pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
    # Background jobs (training) queued or running at once; more is a 429 with Retry-After.
    job_queue_max: int = Field(default=20, ge=1, le=10_000)

    @model_validator(mode="after")
    def _per_deployment_home(self) -> Settings:
        # One home per deployment unless POTLUCK_HOME says otherwise: deployments never
        # share data folders, run state or an online database by accident.
        if "home" not in self.model_fields_set:
            self.home = Path("potluck_home") / deployment_key(self.deployment)
        return self

    @property
    def project_name(self) -> str:
        """The Feast project: ``project`` or ``potluck_<deployment key>``."""
        return self.project or f"potluck_{deployment_key(self.deployment)}"

    @property
    def data_dir(self) -> Path:
        return self.home.resolve() / "data"

    @property
    def repo_dir(self) -> Path:
        return self.home.resolve() / "feature_repo"

    @property
    def mlflow_uri(self) -> str:
        if self.profile == "services":
            return self.postgres.sqlalchemy_url(self.postgres.mlflow_database)
        return f"sqlite:///{self.home.resolve() / 'mlflow.db'}"

    @property
    def mlflow_artifact_location(self) -> str:
        """Where a new MLflow experiment keeps its artifacts (S3 on the services profile)."""
        if self.profile == "services":
            return f"s3://{self.s3.bucket}/mlflow"
        return self.mlflow_artifacts.as_uri()

    def mlflow_environment(self) -> dict[str, str]:
        """Environment MLflow's S3 artifact store reads (boto3); empty when embedded."""
        if self.profile != "services":
            return {}
        return {
            "MLFLOW_S3_ENDPOINT_URL": self.s3.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.s3.access_key,
            "AWS_SECRET_ACCESS_KEY": self.s3.secret_key,
            "AWS_DEFAULT_REGION": self.s3.region,
        }

    @property
    def mlflow_artifacts(self) -> Path:
        return self.home.resolve() / "mlartifacts"


def deployment_key(choice: str) -> str:
    """A folder- and identifier-safe key for a deployment choice (name, module or folder)."""
    tail = choice.rstrip("/").replace(":", "/").split("/")[-1] or "deployment"
    return re.sub(r"[^a-z0-9_]", "_", tail.lower())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
