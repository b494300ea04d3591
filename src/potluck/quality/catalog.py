"""``potluck docs``: the feature catalog, generated from the registry.

Every entity, source (with the connector the active profile binds it to), feature
view (fields, dtypes, TTL, description, tags, owner), on-demand view and feature
service, plus lineage source -> view -> service -> registered model (models name
their service in the MLflow run tag ``potluck.feature_service``). Rendered as
Markdown and as static HTML (the same Markdown through markdown-it, with a lineage
diagram), so the catalog can be committed, served or mailed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from potluck.quality import _plots
from potluck.quality._data import feature_views, view_source
from potluck.quality._html import page
from potluck.quality._report import Report

if TYPE_CHECKING:
    from potluck.features.repo import FeatureRepo

__all__ = ["build_catalog", "render_html", "render_markdown", "write_catalog"]

_SECRET = re.compile(r"secret|password|token|access_key", re.IGNORECASE)


def _text(value: str | None) -> str:
    return " ".join((value or "").split())


def _registered_models(repo: FeatureRepo) -> list[dict[str, Any]]:
    """Every registered model version and the feature service it was trained on."""
    settings = repo.settings
    if not (settings.home.resolve() / "mlflow.db").exists():
        return []  # nothing registered yet; do not create an MLflow store just to look
    from potluck.ml.registry import configure_mlflow

    client = configure_mlflow(settings).MlflowClient()
    models = []
    for registered in client.search_registered_models():
        for version in client.search_model_versions(f"name='{registered.name}'"):
            tags = client.get_run(version.run_id).data.tags if version.run_id else {}
            models.append(
                {
                    "name": registered.name,
                    "version": int(version.version),
                    "feature_service": tags.get("potluck.feature_service", ""),
                    "run_id": version.run_id,
                }
            )
    return sorted(models, key=lambda m: (m["name"], m["version"]))


def build_catalog(repo: FeatureRepo, *, models: bool = True) -> dict[str, Any]:
    """The catalog as plain data (also the ``--json-out`` of ``potluck docs``)."""
    from potluck.deployment import active_deployment
    from potluck.engineering.lineage import engineered_inputs

    store, project = repo.store, repo.store.project
    registry = store.registry
    bindings = repo.config.offline_store.sources
    lineage = engineered_inputs(active_deployment(repo.settings))
    views = feature_views(repo)
    odfvs = registry.list_on_demand_feature_views(project, allow_cache=False)
    services = registry.list_feature_services(project, allow_cache=False)
    used_by: dict[str, list[str]] = {}
    for view in views:
        used_by.setdefault(view_source(view).logical, []).append(view.name)
    sources = []
    for logical in sorted(set(bindings) | set(used_by)):
        binding = bindings.get(logical)
        options = {k: v for k, v in (binding.options if binding else {}).items()}
        sources.append(
            {
                "name": logical,
                "connector": binding.kind if binding else None,
                "options": {k: ("***" if _SECRET.search(k) else v) for k, v in options.items()},
                "views": used_by.get(logical, []),
                "engineered_from": lineage.get(logical, []),
            }
        )
    return {
        "project": project,
        "profile": repo.settings.profile,
        "entities": [
            {
                "name": e.name,
                "join_key": e.join_key,
                "value_type": e.value_type.name,
                "description": _text(e.description),
            }
            for e in registry.list_entities(project, allow_cache=False)
            if e.name != "__dummy"  # Feast's placeholder for entity-less views
        ],
        "sources": sources,
        "feature_views": [
            {
                "name": v.name,
                "source": view_source(v).logical,
                "table": view_source(v).table,
                "timestamp_field": view_source(v).timestamp_field,
                "entities": list(v.entities),
                "ttl_days": v.ttl.total_seconds() / 86400 if v.ttl else None,
                "online": v.online,
                "description": _text(v.description),
                "owner": v.owner,
                "tags": dict(sorted(v.tags.items())),
                "fields": [
                    {
                        "name": f.name,
                        "dtype": str(f.dtype),
                        "description": _text(f.description),
                        "tags": dict(sorted(f.tags.items())),
                    }
                    for f in v.features
                ],
            }
            for v in views
        ],
        "on_demand_feature_views": [
            {
                "name": o.name,
                "sources": sorted(o.source_feature_view_projections),
                "request_sources": sorted(o.source_request_sources),
                "description": _text(o.description),
                "owner": o.owner,
                "fields": [{"name": f.name, "dtype": str(f.dtype)} for f in o.features],
            }
            for o in odfvs
        ],
        "feature_services": [
            {
                "name": s.name,
                "description": _text(s.description),
                "owner": s.owner,
                "tags": dict(sorted(s.tags.items())),
                "features": {
                    p.name_to_use(): [f.name for f in p.features]
                    for p in s.feature_view_projections
                },
            }
            for s in services
        ],
        "models": _registered_models(repo) if models else [],
    }


def lineage(catalog: dict[str, Any]) -> list[tuple[str, str]]:
    """Edges ``(from, to)`` with typed node names: ``source:x``, ``view:x``, ``service:x``,
    ``model:name/vN``."""
    edges: list[tuple[str, str]] = []
    for source in catalog["sources"]:
        edges += [(f"source:{s}", f"source:{source['name']}") for s in source["engineered_from"]]
    edges += [(f"source:{v['source']}", f"view:{v['name']}") for v in catalog["feature_views"]]
    for odfv in catalog["on_demand_feature_views"]:
        edges += [(f"view:{s}", f"view:{odfv['name']}") for s in odfv["sources"]]
    for service in catalog["feature_services"]:
        edges += [(f"view:{v}", f"service:{service['name']}") for v in service["features"]]
    for model in catalog["models"]:
        if model["feature_service"]:
            edges.append(
                (
                    f"service:{model['feature_service']}",
                    f"model:{model['name']}/v{model['version']}",
                )
            )
    return edges


def check_catalog(catalog: dict[str, Any]) -> Report:
    """Lineage integrity: every source bound, every service/model reference resolvable."""
    report = Report("docs", f"feature catalog - {catalog['project']}", columns=["connector"])
    views = {v["name"] for v in catalog["feature_views"]} | {
        o["name"] for o in catalog["on_demand_feature_views"]
    }
    services = {s["name"] for s in catalog["feature_services"]}
    feeds = {
        i: [s["name"] for s in catalog["sources"] if i in s["engineered_from"]]
        for s in catalog["sources"]
        for i in s["engineered_from"]
    }
    for source in catalog["sources"]:
        bound = source["connector"] is not None
        uses = [f"view {v}" for v in source["views"]]
        uses += [f"engineered {e}" for e in feeds.get(source["name"], [])]
        report.add(
            "source",
            source["name"],
            "pass" if bound else "fail",
            f"feeds {', '.join(uses) or 'nothing'}"
            if bound
            else "no connector binding in the active profile",
            connector=source["connector"],
        )
    for service in catalog["feature_services"]:
        unknown = sorted(set(service["features"]) - views)
        report.add(
            "service",
            service["name"],
            "fail" if unknown else "pass",
            f"unknown views: {', '.join(unknown)}"
            if unknown
            else f"{len(service['features'])} views",
        )
    for model in catalog["models"]:
        known = model["feature_service"] in services
        report.add(
            "model",
            f"{model['name']} v{model['version']}",
            "pass" if known else "warn",
            f"trained on {model['feature_service'] or 'an unrecorded feature set'}"
            + ("" if known else " (not in the registry)"),
        )
    report.summary = {
        "entities": len(catalog["entities"]),
        "sources": len(catalog["sources"]),
        "feature_views": len(catalog["feature_views"]),
        "on_demand_feature_views": len(catalog["on_demand_feature_views"]),
        "feature_services": len(catalog["feature_services"]),
        "models": len(catalog["models"]),
    }
    return report


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        value = ", ".join(f"{k}={v}" for k, v in value.items())
    elif isinstance(value, list):
        value = ", ".join(map(str, value))
    return str(value if value is not None else "").replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def render_markdown(catalog: dict[str, Any]) -> str:
    out = [f"# Feature catalog: {catalog['project']}", ""]
    out += [
        f"Profile `{catalog['profile']}`. Generated from the Feast registry by `potluck docs`.",
        "",
    ]
    out += ["## Entities", ""]
    out += _table(
        ["entity", "join key", "type", "description"],
        [
            [e["name"], e["join_key"], e["value_type"], e["description"]]
            for e in catalog["entities"]
        ],
    )
    out += ["## Sources", ""]
    out += _table(
        ["source", "connector", "options", "feature views", "engineered from"],
        [
            [s["name"], s["connector"], s["options"], s["views"], s["engineered_from"]]
            for s in catalog["sources"]
        ],
    )
    out += ["## Feature views", ""]
    for v in catalog["feature_views"]:
        out += [f"### {v['name']}", "", v["description"], ""]
        out += _table(
            ["source", "timestamp", "entities", "TTL (days)", "online", "owner", "tags"],
            [
                [
                    v["source"],
                    v["timestamp_field"],
                    v["entities"],
                    v["ttl_days"],
                    v["online"],
                    v["owner"],
                    v["tags"],
                ]
            ],
        )
        out += _table(
            ["field", "dtype", "description", "tags"],
            [[f["name"], f["dtype"], f["description"], f["tags"]] for f in v["fields"]],
        )
    out += ["## On-demand feature views", ""]
    for o in catalog["on_demand_feature_views"]:
        out += [f"### {o['name']}", "", o["description"], ""]
        out += [
            f"Inputs: {', '.join(o['sources'] + o['request_sources'])}. Owner: {o['owner']}.",
            "",
        ]
        out += _table(["field", "dtype"], [[f["name"], f["dtype"]] for f in o["fields"]])
    out += ["## Feature services", ""]
    for s in catalog["feature_services"]:
        out += [f"### {s['name']}", "", s["description"], ""]
        out += _table(["view", "features"], [[k, v] for k, v in s["features"].items()])
    out += ["## Registered models", ""]
    out += _table(
        ["model", "version", "feature service", "run"],
        [[m["name"], m["version"], m["feature_service"], m["run_id"]] for m in catalog["models"]],
    )
    out += ["## Lineage", "", "source -> view -> service -> model", ""]
    out += _table(["from", "to"], [[a, b] for a, b in lineage(catalog)])
    return "\n".join(out)


def _lineage_figure(catalog: dict[str, Any]) -> str:
    """A left-to-right diagram of the lineage edges; returns a PNG data URI."""
    edges = lineage(catalog)
    kinds = ["source", "view", "service", "model"]
    nodes: dict[str, list[str]] = {k: [] for k in kinds}
    for a, b in edges:
        for node in (a, b):
            kind = node.split(":", 1)[0]
            if node not in nodes[kind]:
                nodes[kind].append(node)
    plt = _plots._pyplot()
    rows = max(len(v) for v in nodes.values()) or 1
    fig, ax = plt.subplots(figsize=(11, 0.45 * rows + 1.2))
    where: dict[str, tuple[float, float]] = {}
    for col, kind in enumerate(kinds):
        ax.text(col, rows + 0.2, kind + "s", ha="center", fontsize=11, weight="bold")
        for i, node in enumerate(nodes[kind]):
            y = rows - 1 - i * (rows / max(len(nodes[kind]), 1))
            where[node] = (col, y)
            ax.text(
                col,
                y,
                node.split(":", 1)[1],
                ha="center",
                va="center",
                fontsize=8,
                bbox={"boxstyle": "round", "fc": "#e7f5ff", "ec": "#1c7ed6"},
            )
    for a, b in edges:
        (x1, y1), (x2, y2) = where[a], where[b]
        ax.annotate(
            "",
            (x2 - 0.28, y2),
            (x1 + 0.28, y1),
            arrowprops={"arrowstyle": "->", "color": "#868e96", "lw": 0.8},
        )
    ax.set_xlim(-0.6, len(kinds) - 0.4)
    ax.set_ylim(-1, rows + 0.8)
    ax.axis("off")
    return _plots.to_figure(
        "lineage", fig, {"left": 0.01, "right": 0.99, "top": 0.98, "bottom": 0.02}
    ).data_uri


def render_html(catalog: dict[str, Any], markdown: str) -> str:
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(markdown)
    diagram = f'<h2>Lineage</h2><img alt="lineage diagram" src="{_lineage_figure(catalog)}">\n'
    # The diagram goes right under the introduction, where a reader looks first.
    intro_end = body.find("</p>") + len("</p>\n")
    return page(
        f"Feature catalog: {catalog['project']}", body[:intro_end] + diagram + body[intro_end:]
    )


def write_catalog(
    catalog: dict[str, Any], directory: Path, markdown_file: Path | None = None
) -> tuple[Path, Path]:
    """Write ``catalog.md`` and ``catalog.html`` into ``directory``; or, given
    ``markdown_file`` (e.g. ``docs/FEATURES.md``), the Markdown there and the HTML
    beside it with the ``.html`` suffix."""
    from potluck.errors import PotluckError

    if markdown_file is not None:
        if markdown_file.is_dir():
            raise PotluckError(f"{markdown_file} is a folder: name a file, e.g. docs/FEATURES.md")
        md_path, html_path = markdown_file, markdown_file.with_suffix(".html")
    else:
        md_path, html_path = directory / "catalog.md", directory / "catalog.html"
    markdown = render_markdown(catalog)
    try:
        md_path.parent.mkdir(parents=True, exist_ok=True)
        md_path.write_text(markdown, encoding="utf-8")
        html_path.write_text(render_html(catalog, markdown), encoding="utf-8")
    except OSError as exc:  # a read-only place, a file where a folder should be, ...
        raise PotluckError(
            f"cannot write the catalog to {exc.filename or md_path}: {exc.strerror or exc}"
        ) from None
    return md_path, html_path
