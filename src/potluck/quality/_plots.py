"""Small matplotlib plots rendered to base64 PNG data URIs for the HTML reports.

The Agg backend is forced: reports are written on servers and in CI, without a display.
Histograms are drawn from precomputed counts so a million-row column costs one
``np.histogram``, not a million-point artist.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from potluck.quality._report import Figure

__all__ = ["bar_chart", "categorical_bars", "histogram", "overlaid_histograms", "to_figure"]

_REF, _CUR = "#1c7ed6", "#f76707"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def to_figure(title: str, fig: Any, margins: dict[str, float] | None = None) -> Figure:
    """Close ``fig`` and return it as an embeddable PNG."""
    plt = _pyplot()
    buffer = io.BytesIO()
    # Fixed margins, not tight_layout: it measures every text artist and costs ~40%
    # of a small figure's render time (drift draws one figure per feature).
    fig.subplots_adjust(**(margins or {"left": 0.15, "right": 0.97, "top": 0.9, "bottom": 0.2}))
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Figure(title=title, data_uri=f"data:image/png;base64,{encoded}")


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype="float64")
    return values[np.isfinite(values)]


def histogram(title: str, values: np.ndarray, bins: int = 30) -> Figure:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 2.8))
    data = _finite(values)
    if data.size:
        counts, edges = np.histogram(data, bins=bins)
        ax.stairs(counts, edges, fill=True, color=_REF, alpha=0.8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("rows")
    return to_figure(title, fig)


def overlaid_histograms(
    title: str, reference: np.ndarray, current: np.ndarray, bins: int = 30
) -> Figure:
    """Reference and current densities on the same bins."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 2.8))
    ref, cur = _finite(reference), _finite(current)
    both = np.concatenate([ref, cur])
    if both.size:
        lo, hi = float(both.min()), float(both.max())
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
        for data, color, label in ((ref, _REF, "reference"), (cur, _CUR, "current")):
            if data.size:
                counts, _ = np.histogram(data, bins=edges, density=True)
                ax.stairs(counts, edges, fill=True, alpha=0.45, color=color, label=label)
        ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("density")
    return to_figure(title, fig)


def categorical_bars(
    title: str,
    categories: Sequence[str],
    reference: Sequence[float],
    current: Sequence[float] | None = None,
) -> Figure:
    """Shares per category; side by side when a current distribution is given."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 2.8))
    x = np.arange(len(categories))
    width = 0.4 if current is not None else 0.8
    ax.bar(
        x - (width / 2 if current is not None else 0),
        reference,
        width,
        color=_REF,
        label="reference",
    )
    if current is not None:
        ax.bar(x + width / 2, current, width, color=_CUR, label="current")
        ax.legend(fontsize=8)
    ax.set_xticks(x, [str(c)[:14] for c in categories], rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("share")
    ax.set_title(title, fontsize=10)
    return to_figure(title, fig, {"left": 0.15, "right": 0.97, "top": 0.9, "bottom": 0.32})


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    threshold: float | None = None,
    xlabel: str = "",
    stacked: dict[str, Sequence[float]] | None = None,
) -> Figure:
    """Horizontal bars (one per label), optionally stacked by part, with a threshold line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, max(2.0, 0.32 * len(labels) + 1.0)))
    y = np.arange(len(labels))
    if stacked:
        left = np.zeros(len(labels))
        for part, part_values in stacked.items():
            ax.barh(y, part_values, left=left, label=part)
            left = left + np.asarray(part_values, dtype="float64")
        ax.legend(fontsize=8, loc="lower right")
    else:
        colors = ["#e03131" if threshold is not None and v > threshold else _REF for v in values]
        ax.barh(y, values, color=colors)
    if threshold is not None:
        ax.axvline(threshold, color="#e03131", linestyle="--", linewidth=1)
    ax.set_yticks(y, list(labels), fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    height = fig.get_size_inches()[1]
    margins = {"left": 0.3, "right": 0.97, "top": 1 - 0.4 / height, "bottom": 0.55 / height}
    return to_figure(title, fig, margins)
