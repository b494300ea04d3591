"""Writing a new project: a documented deployment module and a README of next commands.

Nothing is overwritten: an existing file in the target folder stops the command, and a
symlinked target or file is refused (the project is written where it says it is).
"""

from __future__ import annotations

import re
from pathlib import Path

from potluck.deployment import PROJECT_MODULE
from potluck.errors import RequestError
from potluck.project.templates import BASIC_DEPLOYMENT, README, SAMPLE_CSV

__all__ = ["TEMPLATES", "init_project"]

TEMPLATES = {"basic": BASIC_DEPLOYMENT}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def init_project(folder: Path, template: str = "basic", name: str | None = None) -> list[Path]:
    """Write the project files into ``folder`` (created); returns the files written."""
    if template not in TEMPLATES:
        raise RequestError(f"unknown template '{template}' (one of {', '.join(TEMPLATES)})")
    project = name or re.sub(r"[^a-z0-9_]", "_", folder.resolve().name.lower()).strip("_")
    if not _NAME.match(project or ""):
        raise RequestError(
            f"project name {project!r} must be lowercase letters, digits and _ (start with a "
            "letter, at most 40): pass --name"
        )
    if folder.is_symlink():
        raise RequestError(f"{folder} is a symlink: give the real folder")
    if folder.exists() and not folder.is_dir():
        raise RequestError(f"{folder} exists and is not a folder")
    files = {
        f"{PROJECT_MODULE}.py": TEMPLATES[template].replace("{name}", project),
        "README.md": README.replace("{name}", project).replace("{folder}", str(folder)),
        "data/orders.csv": SAMPLE_CSV,
    }
    clashes = [n for n in files if (folder / n).exists() or (folder / n).is_symlink()]
    if clashes:
        raise RequestError(f"{folder} already has {', '.join(clashes)}: nothing written")
    written = []
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:  # "x": never follow or replace
            handle.write(text)
        written.append(path)
    return written
