"""Iceberg bindings in profiles, and the lakehouse generator's contract and oracle."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.compute as pc

from potluck.deployment import Binding, load_deployment
from potluck.profiles import resolve_binding, source_bindings
from potluck.settings import Settings


def test_iceberg_binding_embedded_is_sqlite_and_a_warehouse_folder(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, profile="embedded")
    got = resolve_binding(settings, Binding("iceberg", {"namespace": "gold"}))
    data = settings.data_dir
    assert got == {
        "kind": "iceberg",
        "options": {
            "uri": f"sqlite:///{data / 'iceberg' / 'catalog.db'}",
            "warehouse": str(data / "iceberg" / "warehouse"),
            "namespace": "gold",
        },
    }
    other = resolve_binding(
        settings, Binding("iceberg", {"folder": "lake2", "uri": "sqlite:///x.db"})
    )
    assert other["options"]["uri"] == "sqlite:///x.db"  # hints win
    assert other["options"]["warehouse"] == str(data / "lake2" / "warehouse")


def test_iceberg_binding_services_is_postgres_and_s3(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, profile="services")
    options = resolve_binding(settings, Binding("iceberg", {"prefix": "lakehouse"}))["options"]
    assert options["uri"].startswith("postgresql+psycopg://")
    assert options["uri"].split("?")[0].endswith(f"/{settings.postgres.iceberg_database}")
    assert options["warehouse"] == f"s3://{settings.s3.bucket}/lakehouse"
    assert options["endpoint_url"] == settings.s3.endpoint_url
    assert options["access_key"] == settings.s3.access_key
    from potluck.connectors.iceberg import IcebergConfig

    IcebergConfig(**options)  # valid connector options


def test_lakehouse_sources_bind_to_the_gold_namespace(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, deployment="lakehouse")
    bindings = source_bindings(settings)
    assert {b["kind"] for b in bindings.values()} == {"iceberg"}
    assert {b["options"]["namespace"] for b in bindings.values()} == {"gold"}


def test_generator_follows_the_contract_and_the_oracle_is_informative() -> None:
    from sklearn.metrics import roc_auc_score

    deployment = load_deployment("lakehouse")
    assert deployment.generate is not None
    tables = deployment.generate(800, 1, datetime(2025, 1, 1, tzinfo=UTC))
    for name, table in tables.items():
        assert table.schema == deployment.sources[name].schema, name
    labels = tables["churn_labels"]
    aggregates = tables["customer_aggregates"]
    assert len(pc.unique(aggregates["updated_at"])) == 12
    assert len(pc.unique(labels["snapshot_date"])) == 11  # the latest month is unlabelled
    rate = pc.mean(labels["churned"]).as_py()
    assert 0.03 < rate < 0.2
    auc = roc_auc_score(labels["churned"].to_numpy(), labels["churn_probability"].to_numpy())
    assert auc > 0.8
    assert deployment.forbidden_features >= {"email", "churned", "churn_probability"}
    # deterministic
    again = deployment.generate(800, 1, datetime(2025, 1, 1, tzinfo=UTC))
    assert again["churn_labels"].equals(labels)


def test_formulas() -> None:
    from potluck.domains.lakehouse import functions as fn

    assert fn.engagement_ratio(2, 24, 12) == 1.0
    assert fn.engagement_ratio(1, 0, 0) == 10.0  # lifetime rate floored at 0.1
    assert fn.tickets_per_order(3, 2) == 1.0
    p = fn.churn_probability([100, 0], [0, 5], [4, 0], [2, 50], ["basic", "premium"], [3, 200])
    assert p[0] > 0.5 > 0.05 > p[1]
    assert np.all((p > 0) & (p < 1))
