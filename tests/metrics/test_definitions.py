"""The metric definitions: the doc is generated from them, and every metric is a ratio of documented components."""

from __future__ import annotations

from engine.metrics.definitions import COMPONENTS, METRICS, Component, main, markdown
from tests.conftest import REPO


def test_docs_metrics_md_is_generated_from_the_definitions():
    assert (REPO / "docs" / "metrics.md").read_text(encoding="utf-8") == markdown(), (
        "docs/metrics.md is out of date: python -m engine.metrics.definitions docs/metrics.md"
    )


def test_every_component_is_defined_and_every_metric_names_its_reason_for_having_no_value():
    assert set(COMPONENTS) == set(Component)
    assert len({m.name for m in METRICS}) == len(METRICS)
    for metric in METRICS:
        assert metric.undefined, metric.name
        assert f"`{metric.numerator.value}`" in markdown()


def test_the_doc_can_be_written_to_a_file(tmp_path):
    assert main([str(tmp_path / "metrics.md")]) == 0
    assert (tmp_path / "metrics.md").read_text(encoding="utf-8") == markdown()
