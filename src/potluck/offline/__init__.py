"""The federated offline store: one point-in-time join across many source systems."""

from potluck.offline.bindings import FederatedOfflineStoreConfig, SourceBinding
from potluck.offline.source import PotluckSource

__all__ = ["FederatedOfflineStoreConfig", "PotluckSource", "SourceBinding"]
