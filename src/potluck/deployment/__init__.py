"""The Deployment seam: one declaration of everything domain-specific.

``POTLUCK_DEPLOYMENT`` picks the active deployment (a built-in name, a
``package.module:NAME`` or a project folder); :func:`active_deployment` loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from potluck.deployment._load import BUILT_INS, PROJECT_MODULE, load_deployment
from potluck.deployment._spec import (
    AsOfInput,
    Binding,
    DemoPush,
    DemoStream,
    Deployment,
    EngineeringSpec,
    EntitySpec,
    LabelSpec,
    MaxAtOrBefore,
    ModelDefaults,
    SourceSpec,
)

if TYPE_CHECKING:
    from potluck.settings import Settings

__all__ = [
    "BUILT_INS",
    "PROJECT_MODULE",
    "AsOfInput",
    "Binding",
    "DemoPush",
    "DemoStream",
    "Deployment",
    "EngineeringSpec",
    "EntitySpec",
    "LabelSpec",
    "MaxAtOrBefore",
    "ModelDefaults",
    "SourceSpec",
    "active_deployment",
    "default_model_name",
    "load_deployment",
]


def active_deployment(settings: Settings) -> Deployment:
    """The deployment ``settings.deployment`` names."""
    return load_deployment(settings.deployment)


def default_model_name(settings: Settings) -> str:
    """``settings.model_name``, else the active deployment's model name."""
    return settings.model_name or active_deployment(settings).model.name
