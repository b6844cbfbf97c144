"""The HTML report of a simulation, opened in headless Chromium, draws every chart.

The report has no script of its own; the test opens a copy with a probe appended that
measures, once the browser has laid the page out, each chart's box and the rendered
size of its marks (lines, points, intervals, bars), and dumps the DOM with the result.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from engine.cli.simulate import simulate

CHROMIUM = "/usr/bin/chromium"
INSTALL = "apt-get install -y chromium (Debian's package; .ci/run installs it)"
# What each kind of chart draws its data with.
MARKS = "g.series path, g.series circle, circle.difference, line.interval, rect[data-stage]"
PROBE = f"""<script>
const charts = [...document.querySelectorAll("svg.chart")].map((svg) => {{
  const box = svg.getBoundingClientRect();
  const marks = [...svg.querySelectorAll("{MARKS}")];
  const drawn = marks.filter((mark) => {{ const b = mark.getBBox(); return b.width > 0 || b.height > 0; }});
  return {{kind: svg.getAttribute("class"), width: box.width, height: box.height, marks: marks.length,
           drawn: drawn.length}};
}});
const probe = document.createElement("pre");
probe.id = "browser-probe";
probe.textContent = JSON.stringify(charts);
document.body.append(probe);
</script>"""
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class _ChartCounter(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.charts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = dict(attrs).get("class") or ""
        if tag == "svg" and "chart" in classes.split():
            self.charts.append(classes)


def _charts_in(html: str) -> list[str]:
    counter = _ChartCounter()
    counter.feed(html)
    return counter.charts


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("browser")
    path = folder / "report.html"
    simulate(
        customers=80,
        days=75,
        seed=3,
        start=datetime(2026, 1, 1, tzinfo=UTC),
        control_share=0.3,
        report=path,
    )
    return path


def _rendered(report: Path, tmp_path: Path) -> list[dict[str, object]]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: the report's rendering cannot be checked. Install it: {INSTALL}")
    probed = tmp_path / "probed.html"
    probed.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", probed.as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.search(r'<pre id="browser-probe">(.*?)</pre>', result.stdout, flags=re.S)
    assert found, f"the probe did not run; the browser said: {result.stderr[-2000:]}"
    return json.loads(found[1].replace("&quot;", '"').replace("&amp;", "&"))


def test_every_chart_of_the_report_is_drawn_with_marks_in_a_browser(report, tmp_path):
    in_file = _charts_in(report.read_text(encoding="utf-8"))

    charts = _rendered(report, tmp_path)

    assert [chart["kind"] for chart in charts] == in_file
    kinds = {str(chart["kind"]) for chart in charts}
    assert {"chart line", "chart uplift", "chart funnel"} <= kinds
    for chart in charts:
        assert chart["width"] > 0 and chart["height"] > 0, chart
        assert chart["marks"] > 0 and chart["drawn"] > 0, chart
