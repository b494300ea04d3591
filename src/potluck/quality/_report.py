"""The result every check returns: findings with a status, a summary, figures."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["Figure", "Finding", "Report", "Status", "jsonable"]

# "info" notes something that was not checkable (e.g. no created_timestamp column); it
# never fails a report, unlike "fail". "warn" is shown but does not change the exit code.
Status = Literal["pass", "warn", "fail", "info"]


@dataclass
class Finding:
    """One verdict of a check about one subject (a source, view, service or feature)."""

    check: str
    subject: str
    status: Status
    detail: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "subject": self.subject,
            "status": self.status,
            "detail": self.detail,
            "metrics": jsonable(self.metrics),
        }


@dataclass
class Figure:
    """A plot for the HTML report: a title and a ``data:image/png;base64,...`` URI."""

    title: str
    data_uri: str


@dataclass
class Report:
    """What a check found. ``columns`` names the metrics shown in table views."""

    name: str
    title: str
    findings: list[Finding] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    html_path: Path | None = None

    def add(
        self,
        check: str,
        subject: str,
        status: Status,
        detail: str = "",
        **metrics: Any,
    ) -> Finding:
        finding = Finding(check, subject, status, detail, metrics)
        self.findings.append(finding)
        return finding

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "fail"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "warn"]

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "passed": self.passed,
            "failures": len(self.failures),
            "warnings": len(self.warnings),
            "summary": jsonable(self.summary),
            "findings": [f.to_dict() for f in self.findings],
            "html": str(self.html_path) if self.html_path else None,
        }


def jsonable(value: Any) -> Any:
    """Plain JSON data: NaN/inf become None, numpy scalars Python numbers, others str."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return jsonable(item())
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return isoformat()
    return str(value)
