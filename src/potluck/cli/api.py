"""Commands of the servers: ``serve`` (the REST API), ``ui`` (Feast's UI on the repo) and
``models`` (registered model versions)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from potluck.cli._app import JsonOut, app, console, emit, err, load_settings

__all__: list[str] = []


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = False,
) -> None:
    """Run the REST API (OpenAPI docs at /docs) with uvicorn."""
    import uvicorn

    settings = load_settings()
    if not settings.api_keys:
        err.print(
            "[yellow]no API keys configured (POTLUCK_API_KEYS): every endpoint but "
            "/health, /metrics and /docs will answer 401[/yellow]"
        )
    console.print(f"potluck API on http://{host}:{port} (docs: /docs), {workers} worker(s)")
    # No limit_max_requests: workers are never recycled, so no periodic restart stalls.
    uvicorn.run(
        "potluck.api.main:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level="info",
    )


@app.command()
def ui(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8888,
) -> None:
    """Run Feast's web UI on the active deployment's registry (what `feast ui` run in
    <home>/feature_repo serves): entities, feature views, feature services, sources."""
    from potluck.errors import PotluckError
    from potluck.features.repo import FeatureRepo

    repo = FeatureRepo(load_settings())
    store = repo.store
    if not store.registry.list_feature_views(store.project, allow_cache=False):
        raise PotluckError("the registry has no feature views: run `potluck apply` first")
    console.print(f"Feast UI for project {store.project} on http://{host}:{port}")
    store.serve_ui(host=host, port=port)


@app.command()
def models(
    name: Annotated[str | None, typer.Argument(help="A model: list its versions.")] = None,
    json_out: JsonOut = None,
) -> None:
    """List registered models, or the versions of one (metrics, aliases, lineage)."""
    from potluck.services.models import get_model, list_models

    settings = load_settings()
    if name is None:
        summaries = list_models(settings)
        table = Table("model", "latest", "versions", "aliases", title="registered models")
        for m in summaries:
            aliases = ", ".join(f"{a}=v{v}" for a, v in sorted(m.aliases.items()))
            table.add_row(m.name, str(m.latest_version), str(m.versions), aliases)
        console.print(table)
        emit([m.model_dump() for m in summaries], json_out)
        return
    model = get_model(settings, name)
    table = Table("version", "aliases", "feature service", "rows", "metrics", title=name)
    for v in model.versions:
        metrics = ", ".join(f"{k}={val:.4f}" for k, val in sorted(v.metrics.items()))
        table.add_row(
            str(v.version),
            ", ".join(v.aliases),
            str(v.lineage.get("feature_service") or ""),
            str(v.lineage.get("training_rows", "")),
            metrics,
        )
    console.print(table)
    emit(model.model_dump(), json_out)
