"""``potluck init``: a new project folder a user edits (see :mod:`.templates`)."""

from __future__ import annotations

from potluck.project.init import TEMPLATES, init_project

__all__ = ["TEMPLATES", "init_project"]
