"""Narrow services over Feast's ``FeatureStore``: repo config, apply, resolution, retrieval."""

from potluck.features.repo import FeatureRepo
from potluck.features.resolve import ResolvedFeatures

__all__ = ["FeatureRepo", "ResolvedFeatures"]
