"""`forestall report`: the HTML's charts and tables, parsed with the stdlib, agree with its JSON twin."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.metrics.definitions import METRICS
from engine.store.sqlite import SqliteStore
from tests.metrics.dataset import fill


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    text: str = ""

    def find(self, tag: str, **attrs: str) -> list[Node]:
        """Every descendant with the tag whose attributes include these (class matches one of its classes)."""
        found = []
        for child in self.children:
            if child.tag == tag and all(_matches(child, k, v) for k, v in attrs.items()):
                found.append(child)
            found += child.find(tag, **attrs)
        return found

    @property
    def all_text(self) -> str:
        return self.text + "".join(child.all_text for child in self.children)


def _matches(node: Node, key: str, value: str) -> bool:
    key = key.replace("_", "-").replace("class-", "class")
    actual = node.attrs.get(key)
    return actual is not None and (value in actual.split() if key == "class" else actual == value)


class Dom(HTMLParser):
    VOID = frozenset({"meta", "br", "img", "link", "input", "hr"})

    def __init__(self, text: str) -> None:
        super().__init__()
        self.root = Node("#document", {})
        self.open = [self.root]
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.open[-1].children.append(node)
        if tag not in self.VOID:
            self.open.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        assert self.open[-1].tag == tag, f"</{tag}> closes <{self.open[-1].tag}>"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.open[-1].children.append(Node("#text", {}, text=data))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Node, dict, Path]:
    folder = tmp_path_factory.mktemp("report")
    fill(SqliteStore(folder / "store.db")).close()
    argv = ["report", "--from", "2026-01-01", "--to", "2026-04-01", "--store", str(folder / "store.db")]
    argv += ["--out", str(folder / "r.html"), "--json", str(folder / "r.json"), "--control-share", "0.3"]
    assert main([*argv, "--replicates", "200"]) == 0
    html = (folder / "r.html").read_text(encoding="utf-8")
    return Dom(html).root, json.loads((folder / "r.json").read_text(encoding="utf-8")), folder


def _value(cell: Node) -> float | None:
    return None if cell.attrs["data-value"] == "" else float(cell.attrs["data-value"])


def test_the_metrics_table_shows_the_json_numbers(report):
    dom, document, _ = report

    rows = dom.find("table", class_="metrics")[0].find("tr")[1:]

    assert [row.attrs["data-metric"] for row in rows] == [m.name for m in METRICS]
    for row in rows:
        expected = document["metrics"][row.attrs["data-metric"]]
        [value] = row.find("td", data_field="value")
        [numerator] = row.find("td", data_field="numerator")
        assert (_value(value), _value(numerator)) == (expected["value"], expected["numerator"])
    shown = {row.attrs["data-metric"]: row.find("td", data_field="value")[0].all_text for row in rows}
    # January to March: as worked out in test_compute, 2 of 10 satisfied, 550 / 5 a check
    assert (shown["satisfaction"], shown["average_check"]) == ("20.0%", "110.00")


def test_the_over_time_charts_have_one_series_per_metric_with_a_point_per_month_that_has_a_value(report):
    dom, document, _ = report

    charts = dom.find("svg", class_="line")
    series = {g.attrs["data-metric"]: g for chart in charts for g in chart.find("g", class_="series")}

    assert len(charts) == 2
    assert sorted(series) == sorted(m.name for m in METRICS)
    assert [month["label"] for month in document["over_time"]] == ["2026-01", "2026-02", "2026-03"]
    for name, g in series.items():
        with_values = [month["metrics"][name] for month in document["over_time"] if month["metrics"][name] is not None]
        assert len(g.find("circle")) == len(with_values) == int(g.attrs["data-points"]), name
        assert g.find("path")[0].attrs["d"].count("M") >= (1 if with_values else 0)


def test_treated_against_control_has_a_chart_row_and_table_row_per_metric_with_the_json_numbers(report):
    dom, document, _ = report
    uplift = document["uplift"]

    [chart] = dom.find("svg", class_="uplift")
    table_rows = dom.find("table", class_="uplift")[0].find("tr")[1:]

    names = [row["metric"] for row in uplift["metrics"]]
    assert names == [m.name for m in METRICS if m.uplift]
    assert [g.attrs["data-metric"] for g in chart.find("g", class_="uplift-row")] == names
    assert uplift["treated_customers"] + uplift["control_customers"] == document["customers_read"] == 12
    for row, expected in zip(table_rows, uplift["metrics"], strict=True):
        for name in ("treated", "control", "difference", "low", "high"):
            assert _value(row.find("td", data_field=name)[0]) == expected[name], (expected["metric"], name)
    with_interval = [g for g in chart.find("g", class_="uplift-row") if g.find("line", class_="interval")]
    assert len(with_interval) == sum(row["low"] is not None for row in uplift["metrics"])


def test_funnels_by_family_and_channel_and_the_top_rules_agree_with_the_json(report):
    dom, document, _ = report

    charts = {svg.attrs["data-dimension"]: svg for svg in dom.find("svg", class_="funnel")}
    tables = dom.find("table", class_="funnel")

    assert list(charts) == ["family", "channel", "rule"]
    expected_rows = [document["funnels"]["family"], document["funnels"]["channel"], document["top_rules"]]
    for chart, table, rows in zip(charts.values(), tables, expected_rows, strict=True):
        assert [g.attrs["data-value"] for g in chart.find("g", class_="funnel-group")] == [r["value"] for r in rows]
        assert all(len(g.find("rect")) == 4 for g in chart.find("g", class_="funnel-group"))
        for tr, row in zip(table.find("tr")[1:], rows, strict=True):
            for cell in tr.find("td", class_="n"):
                assert _value(cell) == row[cell.attrs["data-field"]], (row["value"], cell.attrs["data-field"])
    # January to March: r-boiler brought the 120; r-seat's d2 action was accepted in February
    assert [rule["value"] for rule in document["top_rules"]] == ["r-boiler", "r-seat", "r-ink"]


def test_the_html_needs_nothing_from_the_network(report):
    dom, _, folder = report
    html = (folder / "r.html").read_text(encoding="utf-8")

    assert not dom.find("script") and not dom.find("link") and not dom.find("img")
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html


def test_the_same_store_and_seed_give_the_same_json(report, tmp_path, capsys):
    _, document, folder = report
    argv = ["report", "--from", "2026-01-01", "--to", "2026-04-01", "--store", str(folder / "store.db")]
    argv += ["--out", str(tmp_path / "again.html"), "--control-share", "0.3", "--replicates", "200", "--json", "-"]

    assert main(argv) == 0

    assert json.loads(capsys.readouterr().out) == document
    assert (tmp_path / "again.html").read_bytes() == (folder / "r.html").read_bytes()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--from", "2026-04-01", "--to", "2026-03-01"], "--to: 2026-03-01T00:00:00+00:00 is not after --from"),
        (["--from", "2026-03-01", "--to", "2026-04-01", "--control-share", "2"], "--control-share: 2.0 is not"),
    ],
)
def test_a_bad_period_or_share_exits_1_and_says_which_option(extra, message, tmp_path, capsys):
    assert main(["report", *extra, "--store", str(tmp_path / "s.db"), "--out", str(tmp_path / "r.html")]) == 1

    assert message in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_the_control_group_defaults_to_the_one_the_contact_policy_holds_out(report, tmp_path, rules_dir, monkeypatch):
    _, _, folder = report
    (rules_dir / "policy.yaml").write_text("control: {share: 0.25, salt: spring-trial}\n")
    monkeypatch.setenv("FORESTALL_RULES_DIR", str(rules_dir))
    argv = ["report", "--from", "2026-01-01", "--to", "2026-04-01", "--store", str(folder / "store.db")]
    argv += ["--out", str(tmp_path / "policy.html"), "--json", str(tmp_path / "policy.json"), "--replicates", "50"]

    assert main(argv) == 0

    document = json.loads((tmp_path / "policy.json").read_text(encoding="utf-8"))
    assignment = document["uplift"]["assignment"]
    assert (assignment["control_share"], assignment["salt"]) == (0.25, "spring-trial")
