"""Options of the PostgreSQL connector.

Validated by pydantic so a typo in a profile fails at start-up with a
:class:`~potluck.errors.ConfigurationError` instead of at the first read. Where
the server is (host, port, database) must be said; nothing is guessed.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PostgresConfig"]


class PostgresConfig(BaseModel):
    """One PostgreSQL database (and schema) holding potluck's tables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(description="Server host name or address.")
    port: int = Field(gt=0, lt=65536, description="Server port.")
    database: str = Field(min_length=1, description="Database name.")
    user: str = "postgres"
    # repr=False: the password never appears in logs or error messages.
    password: str = Field(default="", repr=False)
    schema_name: str = Field(default="public", min_length=1, description="Schema of the tables.")
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    connect_timeout: int = Field(default=10, gt=0, description="Seconds to wait for a connection.")

    @property
    def uri(self) -> str:
        """The libpq URI (user and password percent-encoded)."""
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        query = urlencode(
            {
                "sslmode": self.sslmode,
                "connect_timeout": self.connect_timeout,
                "application_name": "potluck",
            }
        )
        return (
            f"postgresql://{auth}@{self.host}:{self.port}/{quote(self.database, safe='')}?{query}"
        )

    @property
    def where(self) -> str:
        """Where the tables are, for messages (no credentials)."""
        return f"{self.host}:{self.port}/{self.database}"
