"""Options of the SQL Server connector.

Validated by pydantic so a typo in a profile fails at start-up with a
:class:`~potluck.errors.ConfigurationError` instead of at the first read. The
password comes from settings or the environment, never from code.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from sqlalchemy.engine import URL

__all__ = ["MssqlConfig"]


class MssqlConfig(BaseModel):
    """How to reach the SQL Server database, and where its tables live."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=1433, ge=1, le=65535)
    database: str = Field(default="potluck", min_length=1)
    user: str = "sa"
    password: SecretStr = SecretStr("")
    db_schema: str | None = Field(
        default="dbo", description="Schema of the tables (None: default)."
    )
    driver: str = Field(
        default="FreeTDS",
        description="ODBC driver name: 'FreeTDS' (Debian tdsodbc) or 'ODBC Driver 18 for SQL Server'.",
    )
    tds_version: str = Field(default="7.4", description="TDS protocol version (FreeTDS only).")
    odbc: dict[str, str] = Field(
        default_factory=dict,
        description="Extra ODBC attributes, e.g. Encrypt, TrustServerCertificate.",
    )
    login_timeout: int = Field(
        default=5, ge=1, description="Seconds before a connect attempt fails."
    )
    batch_size: int = Field(default=10_000, ge=1, description="Rows per executemany batch.")

    def url(self) -> URL:
        """The SQLAlchemy URL (``mssql+pyodbc``); the password is escaped by SQLAlchemy."""
        query = {"driver": self.driver, "LoginTimeout": str(self.login_timeout), **self.odbc}
        if self.driver == "FreeTDS":
            query.setdefault("TDS_Version", self.tds_version)
        return URL.create(
            "mssql+pyodbc",
            username=self.user,
            password=self.password.get_secret_value() or None,
            host=self.host,
            port=self.port,
            database=self.database,
            query=query,
        )
