"""Static HTML for reports: one self-contained file (inline CSS, PNGs as base64 URIs),
so a report opens from disk, from a CI artifact or an e-mail without a server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from potluck.quality._report import Report, jsonable

__all__ = ["CSS", "format_value", "page", "render_report", "write_report"]

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#1f2933;}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px}
.badge{display:inline-block;padding:3px 10px;border-radius:10px;color:#fff;font-weight:600}
.pass{background:#2f9e44} .fail{background:#e03131} .warn{background:#f08c00}
.info{background:#868e96}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f1f3f5}
tr.row-fail td{background:#fff5f5} tr.row-warn td{background:#fff9db}
.figs{display:flex;flex-wrap:wrap;gap:12px}
.fig{border:1px solid #e9ecef;padding:6px;background:#fff}
.fig img{display:block;max-width:560px}
.meta{color:#6c757d;font-size:12px}
code{background:#f1f3f5;padding:1px 4px;border-radius:3px}
"""

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>{{ css }}</style></head><body>
<h1>{{ title }} <span class="badge {{ 'pass' if passed else 'fail' }}">
{{ 'PASS' if passed else 'FAIL' }}</span></h1>
<p class="meta">generated {{ generated }} &middot; {{ failures }} failure(s),
{{ warnings }} warning(s)</p>
{% if summary %}<h2>Summary</h2><table>
{% for key, value in summary %}<tr><th>{{ key }}</th><td>{{ value }}</td></tr>{% endfor %}
</table>{% endif %}
<h2>Findings</h2>
<table><tr><th>check</th><th>subject</th><th>status</th>{% for c in columns %}<th>{{ c }}</th>
{% endfor %}<th>detail</th></tr>
{% for f in findings %}<tr class="row-{{ f.status }}"><td>{{ f.check }}</td><td>{{ f.subject }}</td>
<td><span class="badge {{ f.status }}">{{ f.status }}</span></td>
{% for c in columns %}<td>{{ f.cells[loop.index0] }}</td>{% endfor %}<td>{{ f.detail }}</td></tr>
{% endfor %}</table>
{% if figures %}<h2>Plots</h2><div class="figs">
{% for fig in figures %}<div class="fig"><div>{{ fig.title }}</div>
<img alt="{{ fig.title }}" src="{{ fig.data_uri }}"></div>{% endfor %}</div>{% endif %}
</body></html>
"""


def format_value(value: Any) -> str:
    """Compact text for a table cell."""
    value = jsonable(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={format_value(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(format_value(v) for v in value)
    return str(value)


def page(title: str, body: str) -> str:
    """A standalone HTML page around already-rendered ``body``."""
    from jinja2 import Environment

    env = Environment(autoescape=True)
    template = env.from_string(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>'
        "<style>{{ css }}</style></head><body>{{ body | safe }}</body></html>"
    )
    return template.render(title=title, css=CSS, body=body)


def render_report(report: Report) -> str:
    from jinja2 import Environment

    env = Environment(autoescape=True)
    findings = [
        {
            "check": f.check,
            "subject": f.subject,
            "status": f.status,
            "detail": f.detail,
            "cells": [format_value(f.metrics.get(c)) for c in report.columns],
        }
        for f in report.findings
    ]
    return env.from_string(_TEMPLATE).render(
        title=report.title,
        css=CSS,
        passed=report.passed,
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
        failures=len(report.failures),
        warnings=len(report.warnings),
        summary=[(k, format_value(v)) for k, v in report.summary.items()],
        columns=report.columns,
        findings=findings,
        figures=report.figures,
    )


def write_report(report: Report, directory: Path, name: str | None = None) -> Path:
    """Write ``report`` as ``{directory}/{name or report.name}.html``; records and returns it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name or report.name}.html"
    path.write_text(render_report(report), encoding="utf-8")
    report.html_path = path
    return path
