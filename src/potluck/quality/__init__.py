"""Quality gates: prove the features are right before anyone trusts them.

One module per check, each a plain function returning a :class:`Report`:

* :func:`potluck.quality.validate.validate` - sources reachable and matching their declared
  schemas, every view/service resolvable, a historical retrieval and an online read succeed;
* :func:`potluck.quality.consistency.consistency` - online values equal offline point-in-time
  values as of each view's last materialization;
* :func:`potluck.quality.leakage.audit` - label leaks, created-after-entity-time rows,
  future-dated events, TTL gaps, suspiciously predictive single features;
* :func:`potluck.quality.profile.profile` - null rate, range, distinct values, outliers,
  staleness per feature;
* :func:`potluck.quality.drift.drift` - PSI/KS (numeric), chi-square/PSI (categorical);
* :func:`potluck.quality.freshness.freshness` - last materialization and newest online value
  against each view's ``freshness_target`` tag;
* :func:`potluck.quality.catalog.build_catalog` - the feature catalog with lineage.

Reports render as rich tables (CLI), JSON and static HTML with embedded PNG plots
(``_html.py``); heavy libraries (Feast, matplotlib, scipy) are imported by the checks.
"""

from potluck.quality._report import Figure, Finding, Report, Status

__all__ = ["Figure", "Finding", "Report", "Status"]
