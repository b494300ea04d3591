"""Settings: pydantic-settings with the ``POTLUCK_`` env prefix.

``profile`` picks the infrastructure (``embedded``: files on this machine, no
servers; ``services``: real servers) while the feature definitions stay the
same. Nested values use ``__``: ``POTLUCK_POSTGRES__PORT=5433``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "PostgresSettings",
    "RedisSettings",
    "S3Settings",
    "Settings",
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
    password: str = ""
    database: str = "potluck"


class RedisSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 56379
    db: int = 0


class S3Settings(BaseModel):
    endpoint_url: str = "http://127.0.0.1:55000"
    bucket: str = "potluck"
    access_key: str = "potluck"
    secret_key: str = "potluck-secret"
    region: str = "us-east-1"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="POTLUCK_", env_nested_delimiter="__", extra="ignore"
    )

    profile: Literal["embedded", "services"] = "embedded"
    home: Path = Field(
        default=Path("potluck_home"), description="where data, registry and models live"
    )
    project: str = "potluck_healthcare"
    patients: int = 10_000
    seed: int = 42
    model_name: str = "stroke_risk"
    postgres: PostgresSettings = PostgresSettings()
    redis: RedisSettings = RedisSettings()
    s3: S3Settings = S3Settings()

    @property
    def data_dir(self) -> Path:
        return self.home.resolve() / "data"

    @property
    def repo_dir(self) -> Path:
        return self.home.resolve() / "feature_repo"

    @property
    def mlflow_uri(self) -> str:
        return f"sqlite:///{self.home.resolve() / 'mlflow.db'}"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.home.resolve() / "mlartifacts"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
