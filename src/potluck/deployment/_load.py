"""Finding the active deployment: a built-in name, ``package.module:NAME`` or a project folder.

A project folder (made by ``potluck init``) holds ``potluck_deployment.py`` defining
``DEPLOYMENT``; the folder is put on ``sys.path`` so that module (which is also its
Feast definitions module) imports by name.
"""

from __future__ import annotations

import importlib
import sys
from functools import lru_cache
from pathlib import Path

from potluck.deployment._spec import Deployment
from potluck.errors import ConfigurationError

__all__ = ["BUILT_INS", "PROJECT_MODULE", "load_deployment"]

# name -> "module:attribute"; imported only when chosen.
BUILT_INS: dict[str, str] = {
    "healthcare": "potluck.domains.healthcare.deployment:DEPLOYMENT",
    "lakehouse": "potluck.domains.lakehouse.deployment:DEPLOYMENT",
}
PROJECT_MODULE = "potluck_deployment"


@lru_cache(maxsize=16)
def load_deployment(choice: str) -> Deployment:
    """The deployment ``choice`` names (see the module docstring)."""
    choice = choice.strip()
    if not choice:
        raise ConfigurationError("POTLUCK_DEPLOYMENT is empty: name a deployment")
    target = BUILT_INS.get(choice)
    if target is None and ":" not in choice:
        folder = Path(choice).expanduser()
        if folder.is_dir():
            return _from_folder(folder.resolve())
        known = ", ".join(sorted(BUILT_INS))
        raise ConfigurationError(
            f"unknown deployment '{choice}': give a built-in name ({known}), "
            "'package.module:NAME', or a project folder made by `potluck init`"
        )
    return _from_target(target or choice)


def _from_target(target: str) -> Deployment:
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"deployment '{target}': cannot import {module_name}: {exc}"
        ) from None
    value = getattr(module, attribute or "DEPLOYMENT", None)
    if not isinstance(value, Deployment):
        raise ConfigurationError(
            f"deployment '{target}': {module_name} has no Deployment named "
            f"'{attribute or 'DEPLOYMENT'}'"
        )
    return value


def _from_folder(folder: Path) -> Deployment:
    if not (folder / f"{PROJECT_MODULE}.py").is_file():
        raise ConfigurationError(
            f"deployment folder {folder} has no {PROJECT_MODULE}.py (make one with `potluck init`)"
        )
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    loaded = sys.modules.get(PROJECT_MODULE)
    if loaded is not None and Path(getattr(loaded, "__file__", "")).parent != folder:
        raise ConfigurationError(
            f"another project's {PROJECT_MODULE} is already loaded in this process"
        )
    return _from_target(f"{PROJECT_MODULE}:DEPLOYMENT")
