"""The security suite runs against the same small embedded deployment as ``tests/api``."""

from __future__ import annotations

from tests.api.conftest import client, deployment, stroke_model

__all__ = ["client", "deployment", "stroke_model"]
