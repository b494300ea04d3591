"""Finding the active deployment: a built-in name, ``package.module:NAME`` or a project folder.

A project folder (made by ``potluck init``) holds ``potluck_deployment.py`` defining
``DEPLOYMENT``. It is imported under a name of its own per folder
(``potluck_project_<folder>_<hash>``), so two projects can be loaded in one process
(tests do); the folder also goes on ``sys.path`` so the module can import its siblings.
The module is its own Feast definitions module (``definitions=__name__``).
"""

from __future__ import annotations

import importlib
import sys
from functools import lru_cache
from pathlib import Path

from potluck.deployment._spec import Deployment
from potluck.errors import ConfigurationError

__all__ = ["BUILT_INS", "PROJECT_MODULE", "load_deployment", "project_module_name"]

# name -> "module:attribute"; imported only when chosen.
BUILT_INS: dict[str, str] = {
    "healthcare": "potluck.domains.healthcare.deployment:DEPLOYMENT",
    "lakehouse": "potluck.domains.lakehouse.deployment:DEPLOYMENT",
    "fraud": "potluck.domains.fraud.deployment:DEPLOYMENT",
    "wellness": "potluck.domains.wellness.deployment:DEPLOYMENT",
}
PROJECT_MODULE = "potluck_deployment"


@lru_cache(maxsize=16)
def load_deployment(choice: str) -> Deployment:
    """The deployment ``choice`` names (see the module docstring)."""
    choice = choice.strip()
    if not choice:
        raise ConfigurationError("POTLUCK_DEPLOYMENT is empty: name a deployment")
    target = BUILT_INS.get(choice) or _packaged(choice)
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


def _packaged(choice: str) -> str | None:
    """``potluck.domains.<choice>.deployment:DEPLOYMENT`` when such a module ships with
    potluck (found without importing it: the core never imports a domain statically)."""
    import importlib.util
    import re

    if not re.fullmatch(r"[a-z][a-z0-9_]*", choice):
        return None
    name = f"potluck.domains.{choice}.deployment"
    try:
        found = importlib.util.find_spec(name)
    except ImportError:
        return None
    return f"{name}:DEPLOYMENT" if found is not None else None


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


def project_module_name(folder: Path) -> str:
    """The import name of a project folder's deployment module."""
    import hashlib
    import re

    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:10]
    tail = re.sub(r"[^a-z0-9_]", "_", folder.name.lower())[:30]
    return f"potluck_project_{tail}_{digest}"


def _from_folder(folder: Path) -> Deployment:
    import importlib.util

    path = folder / f"{PROJECT_MODULE}.py"
    if not path.is_file():
        raise ConfigurationError(
            f"deployment folder {folder} has no {PROJECT_MODULE}.py (make one with `potluck init`)"
        )
    name = project_module_name(folder)
    if name not in sys.modules:
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ConfigurationError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[name]
            raise ConfigurationError(
                f"{path} failed to load: {type(exc).__name__}: {exc}"
            ) from None
    return _from_target(f"{name}:DEPLOYMENT")
