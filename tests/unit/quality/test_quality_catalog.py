"""``docs``: the catalog lists everything in the registry, with lineage to models."""

from __future__ import annotations

from pathlib import Path

import pytest
from quality_world import QualityWorld

from potluck.quality.catalog import build_catalog, check_catalog, lineage, write_catalog

pytestmark = pytest.mark.xdist_group("quality")


@pytest.fixture(scope="module")
def catalog(world: QualityWorld) -> dict:
    return build_catalog(world.repo())


def test_catalog_lists_registry_objects_with_connectors(catalog: dict) -> None:
    assert [e["name"] for e in catalog["entities"]] == ["patient"]
    connectors = {s["name"]: s["connector"] for s in catalog["sources"]}
    assert connectors["clinical_measurements"] == "sqlite"
    assert connectors["patient_demographics"] == "jsonl"
    assert connectors["lifestyle_data"] == "parquet"
    views = {v["name"]: v for v in catalog["feature_views"]}
    assert len(views) == 6
    clinical = views["clinical_statistics"]
    assert clinical["ttl_days"] == 365 and clinical["tags"]["freshness_target"] == "400d"
    assert clinical["owner"] and clinical["description"]
    assert {"name": "bmi", "dtype": "Float64"}.items() <= clinical["fields"][1].items()
    demo = {f["name"]: f for f in views["patient_demographics"]["fields"]}
    assert demo["first_name"]["tags"] == {"pii": "true"}
    assert catalog["on_demand_feature_views"][0]["name"] == "request_time_features"
    assert {s["name"] for s in catalog["feature_services"]} == {
        "stroke_risk_v1",
        "stroke_risk_full",
    }


def test_lineage_reaches_registered_models(catalog: dict) -> None:
    assert catalog["models"][0]["feature_service"] == "stroke_risk_v1"
    edges = set(lineage(catalog))
    assert ("service:stroke_risk_v1", "model:stroke_risk/v1") in edges
    assert ("source:clinical_measurements", "view:clinical_statistics") in edges
    assert ("view:clinical_statistics", "service:stroke_risk_v1") in edges
    assert ("source:hospital_administration", "source:hospitalization_metrics") in edges
    assert check_catalog(catalog).passed


def test_markdown_and_html_are_written(catalog: dict, tmp_path: Path) -> None:
    md, html = write_catalog(catalog, tmp_path)
    text = md.read_text()
    assert "## Feature views" in text and "| avg_glucose_level | Float64 |" in text
    assert "never smoked \\| smokes" in text  # pipes in descriptions cannot break tables
    page = html.read_text()
    assert "<table>" in page and page.count("data:image/png;base64,") == 1
    assert "model:stroke_risk/v1" in page


def test_a_named_markdown_file_and_places_it_cannot_go(catalog: dict, tmp_path: Path) -> None:
    """``potluck docs --output-file docs/FEATURES.md``: the Markdown there, the HTML beside
    it; a folder or an unwritable place is a clear error, never a traceback."""
    from potluck.errors import PotluckError

    md, html = write_catalog(catalog, tmp_path, tmp_path / "docs" / "FEATURES.md")
    assert (md, html) == (tmp_path / "docs" / "FEATURES.md", tmp_path / "docs" / "FEATURES.html")
    plain_md, plain_html = write_catalog(catalog, tmp_path / "reports")
    assert md.read_text() == plain_md.read_text()  # the same catalog, only named
    assert html.read_text() == plain_html.read_text()
    with pytest.raises(PotluckError, match="is a folder"):
        write_catalog(catalog, tmp_path, tmp_path / "docs")
    blocker = tmp_path / "plain_file"
    blocker.write_text("x")
    with pytest.raises(PotluckError, match="cannot write the catalog"):
        write_catalog(catalog, tmp_path, blocker / "FEATURES.md")
    with pytest.raises(PotluckError, match="cannot write the catalog"):
        write_catalog(catalog, blocker / "reports")
