"""The access audit log: who read feature values or predictions, when, how many entities.

One JSON object per line in ``<home>/audit/access.jsonl``, rotated at
:data:`MAX_BYTES` with :data:`BACKUPS` old files kept (``access.jsonl.1`` ...).
Each record: ``time`` (UTC ISO-8601), ``key_id`` (the first 12 hex digits of the
key's SHA-256, never the key; null when no valid key was given), ``method``,
``endpoint`` (the route template), ``status``, ``outcome`` (``ok``, ``denied``,
``rejected`` or ``error``), ``entities`` (rows asked for; null when the request
was refused before it was read) and, when answered, ``model`` and ``version``.
No feature value, entity id or request body is ever written.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AUDITED", "AuditMiddleware", "audit_logger"]

AUDITED = frozenset({"/predictions/online", "/predictions/batch"})
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 10


def audit_logger(home: Path) -> logging.Logger:
    """A logger writing bare JSON lines to ``<home>/audit/access.jsonl`` (rotated)."""
    folder = home.resolve() / "audit"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "access.jsonl"
    logger = logging.getLogger(f"potluck.audit.{path}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    if not logger.handlers:
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    return logger


def _outcome(status: int) -> str:
    if status < 400:
        return "ok"
    if status in (401, 403, 429):
        return "denied"
    return "rejected" if status < 500 else "error"


class AuditMiddleware:
    """Records every request to an audited endpoint, whatever its outcome."""

    def __init__(self, app: ASGIApp, logger: logging.Logger) -> None:
        self.app = app
        self.logger = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in AUDITED:
            await self.app(scope, receive, send)
            return
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            state: dict[str, Any] = scope.get("state") or {}
            principal = state.get("principal")
            answered: dict[str, Any] = state.get("audit") or {}
            record: dict[str, Any] = {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "key_id": getattr(principal, "key_id", None),
                "method": scope.get("method", ""),
                "endpoint": scope.get("path", ""),
                "status": status[0],
                "outcome": _outcome(status[0]),
                "entities": answered.get("entities"),
                **{k: answered[k] for k in ("model", "version") if k in answered},
            }
            self.logger.info(json.dumps(record, separators=(",", ":")))
