"""Options of the S3 connector.

Validated by pydantic so a typo in a profile fails at start-up with a
:class:`~potluck.errors.ConfigurationError` instead of at the first read.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["S3Access", "S3Config"]


class S3Access(BaseModel):
    """How to reach an S3 endpoint: shared by every connector that keeps files in S3."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint_url: str | None = Field(
        default=None, description="http(s)://host:port of MinIO/moto; None for AWS itself."
    )
    # repr=False: credentials never appear in logs or error messages.
    access_key: str | None = Field(default=None, repr=False)
    secret_key: str | None = Field(default=None, repr=False)
    region: str = "us-east-1"
    timeout_s: float = Field(default=10.0, gt=0, description="Connect and request timeout.")

    @field_validator("endpoint_url")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                raise ValueError("endpoint_url must look like http(s)://host:port")
        return value


class S3Config(S3Access):
    """A bucket (and key prefix) holding one ``{prefix}/{table}.parquet`` object per table."""

    bucket: str = Field(min_length=3, max_length=63, description="Bucket; created if absent.")
    prefix: str = Field(default="", description="Key prefix of the tables ('' = bucket root).")

    @field_validator("prefix")
    @classmethod
    def _clean_prefix(cls, value: str) -> str:
        value = value.strip("/")
        if any(part in {"", ".", ".."} for part in value.split("/")) and value:
            raise ValueError("prefix parts must be plain names (no '', '.', '..')")
        return value

    @property
    def root(self) -> str:
        """``bucket/prefix`` as pyarrow's S3 filesystem names it."""
        return f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket
