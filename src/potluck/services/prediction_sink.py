"""Batch predictions written back to the lakehouse: an Iceberg table, one new snapshot.

``output: "iceberg"`` on a batch prediction writes the scored frame (keys,
``event_timestamp``, the prediction and probability columns, any features asked for)
plus ``model``, ``model_version`` and ``scored_at`` into ``output_table`` of the
deployment's prediction sink (:attr:`potluck.deployment.Deployment.prediction_sink`;
default: the ``predictions`` namespace of the profile's Iceberg catalog) through the
iceberg connector: ``append`` (default) adds a snapshot, ``replace`` overwrites the
table in one commit. Either way readers of the catalog see all of it or none.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from potluck.deployment import Binding, active_deployment
from potluck.profiles import resolve_binding

if TYPE_CHECKING:
    from potluck.connectors.iceberg import IcebergConnector
    from potluck.settings import Settings

__all__ = ["DEFAULT_SINK", "ScoresWritten", "sink_connector", "write_scores"]

DEFAULT_SINK = Binding("iceberg", {"namespace": "predictions"})
SINK_SOURCE = "prediction_sink"  # the logical name in error messages


def sink_connector(settings: Settings, namespace: str | None = None) -> IcebergConnector:
    """The iceberg connector of the deployment's prediction sink (``namespace`` overrides)."""
    from potluck.errors import ConfigurationError
    from potluck.offline.bindings import SourceBinding, connector_for_name

    binding = active_deployment(settings).prediction_sink or DEFAULT_SINK
    if binding.kind != "iceberg":
        raise ConfigurationError(
            f"the deployment's prediction_sink is a '{binding.kind}' binding; "
            "batch output 'iceberg' needs an iceberg one"
        )
    resolved = resolve_binding(settings, binding)
    options = dict(resolved["options"])
    if namespace:
        options["namespace"] = namespace
    connector = connector_for_name(SINK_SOURCE, SourceBinding(kind="iceberg", options=options))
    return connector  # type: ignore[return-value]


def default_table(model: str) -> str:
    """``<model>_predictions`` as a plain table name."""
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{model}_predictions")


class ScoresWritten(dict[str, Any]):
    """table, namespace, snapshot_id and rows of one write."""


def _refuse_source_tables(settings: Settings, namespace: str, table: str) -> None:
    """Predictions never land in (or replace) a table a source of the deployment reads."""
    from potluck.errors import InvalidInputError
    from potluck.profiles import source_bindings

    for source, binding in source_bindings(settings).items():
        if binding["kind"] != "iceberg":
            continue
        if binding["options"].get("namespace", "default") == namespace and source == table:
            raise InvalidInputError(
                "output_table",
                [f"{namespace}.{table} is the table of source '{source}': choose another table"],
            )


def write_scores(
    settings: Settings,
    scores: pa.Table,
    *,
    model: str,
    version: int,
    table: str | None = None,
    namespace: str | None = None,
    mode: str = "append",
) -> ScoresWritten:
    """Write ``scores`` (+ model, model_version, scored_at) as one Iceberg commit."""
    connector = sink_connector(settings, namespace)
    name = table or default_table(model)
    _refuse_source_tables(settings, connector.config.namespace, name)
    rows = scores.num_rows
    now = datetime.now(UTC)
    stamped = (
        scores.append_column("model", pa.array([model] * rows, pa.string()))
        .append_column("model_version", pa.array([version] * rows, pa.int64()))
        .append_column("scored_at", pa.array([now] * rows, pa.timestamp("us", tz="UTC")))
    )
    connector.write(name, stamped, mode=mode)  # type: ignore[arg-type]
    snapshot_id = connector.snapshots(name)[-1][0]
    return ScoresWritten(
        table=name, namespace=connector.config.namespace, snapshot_id=snapshot_id, rows=rows
    )
