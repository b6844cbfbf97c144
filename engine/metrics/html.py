"""The effectiveness report as one self-contained HTML file, drawn from the report document.

No script and nothing fetched: the charts are inline SVG generated here, the style is inline.
Every number shown in a table carries the exact JSON value in `data-value`, so the HTML and the
JSON twin can be checked against each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from engine.metrics.definitions import METRICS, Unit

WIDTH = 760
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
STAGES = ("actions", "contacted", "accepted", "converted")
UNITS = {m.name: m.unit for m in METRICS}

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1em 0; } td, th { padding: .25em .7em; border-bottom: 1px solid #eee; }
td.n { text-align: right; font-variant-numeric: tabular-nums; } .why { color: #888; font-style: italic; }
svg text { font: 11px system-ui, sans-serif; fill: #333; } .note { color: #555; }
"""


def render(document: dict[str, Any]) -> str:
    """The report document as HTML."""
    period = document["period"]
    uplift = document["uplift"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Forestall effectiveness report {escape(period['label'])}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Effectiveness, {escape(period['from'])} to {escape(period['to'])}</h1>",
        f'<p class="note">{document["customers_read"]:,} customers read; definitions in'
        f" {escape(document['definitions'])}.",
    ]
    if document["compacted_customers"]:
        parts.append(
            f" {document['compacted_customers']:,} customers have a compacted history: their oldest events"
            " are no longer there to count."
        )
    parts += ["</p>", "<h2>Metrics of the period</h2>", _metrics_table(document["metrics"])]
    parts += ["<h2>Over time</h2>", *_over_time(document["over_time"])]
    parts += [
        "<h2>Treated against control</h2>",
        f'<p class="note">{uplift["treated_customers"]:,} treated and {uplift["control_customers"]:,} control'
        f" customers; {escape(_describe(uplift['assignment']))}. Differences are treated minus control, with a"
        f" {uplift['confidence']:.0%} bootstrap interval ({uplift['replicates']:,} replicates, seed"
        f" {uplift['seed']}). {escape(uplift['note'])}</p>",
        _uplift_chart(uplift["metrics"]),
        _uplift_table(uplift["metrics"]),
    ]
    for dimension, rows in document["funnels"].items():
        parts += [f"<h2>Funnel by {escape(dimension)}</h2>", _funnel_chart(dimension, rows), _funnel_table(rows)]
    parts += [
        "<h2>Top rules</h2>",
        '<p class="note">By attributed revenue, then conversions and acceptances.</p>',
        _funnel_chart("rule", document["top_rules"]),
        _funnel_table(document["top_rules"]),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _describe(assignment: dict[str, Any]) -> str:
    return ", ".join(f"{key} {value}" for key, value in assignment.items())


def formatted(value: float | None, unit: Unit | None) -> str:
    """A number as the tables show it: shares as percentages, money with two decimals, counts whole."""
    if value is None:
        return "n/a"
    if unit is Unit.SHARE:
        return f"{value:.1%}"
    if unit is Unit.MONEY:
        return f"{value:,.2f}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def difference(value: float | None, unit: Unit) -> str:
    """A difference between two values: shares in percentage points, signed."""
    if value is None:
        return "n/a"
    return f"{value * 100:+.1f} pp" if unit is Unit.SHARE else f"{value:+,.2f}"


def _cell(value: float | None, unit: Unit | None, field: str, shown: str | None = None) -> str:
    exact = "" if value is None else repr(value)
    text = formatted(value, unit) if shown is None else shown
    return f'<td class="n" data-field="{field}" data-value="{exact}">{text}</td>'


def _metrics_table(metrics: dict[str, dict[str, Any]]) -> str:
    rows = ['<table class="metrics"><tr><th>metric</th><th>formula</th><th>value</th><th></th><th></th></tr>']
    for name, m in metrics.items():
        why = f'<td class="why">{escape(m["reason"])}</td>' if m["reason"] else "<td></td>"
        rows.append(
            f'<tr data-metric="{name}"><td>{escape(m["title"])}</td><td>{escape(m["formula"])}</td>'
            f"{_cell(m['value'], UNITS[name], 'value')}"
            f"{_cell(m['numerator'], None, 'numerator')}<td>/ {formatted(m['denominator'], None)}</td>{why}</tr>"
        )
    return "\n".join([*rows, "</table>"])


def _over_time(months: list[dict[str, Any]]) -> list[str]:
    labels = [month["label"] for month in months]
    charts = []
    for unit, title in ((Unit.SHARE, "Shares and rates"), (Unit.MONEY, "Amounts")):
        names = [m.name for m in METRICS if m.unit is unit]
        series = {name: [month["metrics"][name] for month in months] for name in names}
        charts.append(f"<h3>{title}</h3>" + _line_chart(unit, labels, series))
    return charts


def _svg(attributes: str, height: float) -> str:
    """An inline SVG's opening tag; the namespace lets a chart be cut out as a file of its own."""
    return f'<svg xmlns="http://www.w3.org/2000/svg" {attributes} width="{WIDTH}" height="{height}" role="img">'


def _line_chart(unit: Unit, labels: Sequence[str], series: dict[str, list[float | None]]) -> str:
    """One line per series over the months; a month without a value breaks its line."""
    left, top, plot_w, plot_h = 70, 15, WIDTH - 250, 200
    values = [v for points in series.values() for v in points if v is not None]
    ceiling = max([*values, 1.0 if unit is Unit.SHARE else 0.0]) or 1.0

    def x(i: int) -> float:
        return left + (plot_w / 2 if len(labels) == 1 else plot_w * i / (len(labels) - 1))

    def y(v: float) -> float:
        return top + plot_h * (1 - v / ceiling)

    out = [_svg(f'class="chart line" data-unit="{unit.value}"', plot_h + 60)]
    for step in range(5):
        tick = ceiling * step / 4
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#eee"/>'
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{formatted(tick, unit)}</text>'
        )
    for i, label in enumerate(labels):
        out.append(f'<text x="{x(i):.1f}" y="{top + plot_h + 18}" text-anchor="middle">{escape(label)}</text>')
    for n, (name, points) in enumerate(series.items()):
        colour = PALETTE[n % len(PALETTE)]
        path, pen_down = [], False
        dots = []
        for i, v in enumerate(points):
            if v is None:
                pen_down = False
                continue
            path.append(f"{'L' if pen_down else 'M'}{x(i):.1f},{y(v):.1f}")
            pen_down = True
            dots.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}">'
                f"<title>{escape(name)} {escape(labels[i])}: {formatted(v, unit)}</title></circle>"
            )
        legend_y = top + 14 * n
        out.append(
            f'<g class="series" data-metric="{name}" data-points="{sum(v is not None for v in points)}">'
            f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2"/>{"".join(dots)}'
            f'<rect x="{left + plot_w + 20}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + plot_w + 36}" y="{legend_y}">{escape(name)}</text></g>'
        )
    return "".join([*out, "</svg>"])


def _uplift_chart(rows: list[dict[str, Any]]) -> str:
    """Each metric's difference and interval on a scale of its own, symmetric around 0."""
    left, row_h, plot_w = 170, 28, WIDTH - 330
    middle = left + plot_w / 2
    out = [_svg('class="chart uplift"', row_h * len(rows) + 20)]
    out.append(f'<line x1="{middle}" x2="{middle}" y1="0" y2="{row_h * len(rows)}" stroke="#999"/>')
    for n, row in enumerate(rows):
        cy = row_h * n + row_h / 2
        unit = UNITS[row["metric"]]
        shown = [v for v in (row["low"], row["high"], row["difference"]) if v is not None]
        span = max([abs(v) for v in shown] + [0.0]) or 1.0

        def x(v: float, span: float = span) -> float:
            return middle + (plot_w / 2) * v / span

        out.append(f'<g class="uplift-row" data-metric="{row["metric"]}">')
        out.append(f'<text x="{left - 8}" y="{cy + 4}" text-anchor="end">{escape(row["metric"])}</text>')
        if row["difference"] is None:
            out.append(f'<text x="{middle + 8}" y="{cy + 4}" class="why">{escape(row["reason"] or "")}</text></g>')
            continue
        colour = ("#d62728" if row["difference"] < 0 else "#2ca02c") if row["excludes_zero"] else "#1f77b4"
        if row["low"] is not None and row["high"] is not None:
            out.append(
                f'<line class="interval" x1="{x(row["low"]):.1f}" x2="{x(row["high"]):.1f}" y1="{cy}" y2="{cy}"'
                f' stroke="{colour}" stroke-width="2"/>'
            )
        out.append(
            f'<circle class="difference" cx="{x(row["difference"]):.1f}" cy="{cy}" r="4" fill="{colour}"/>'
            f'<text x="{left + plot_w + 10}" y="{cy + 4}">{difference(row["difference"], unit)}'
            f" [{difference(row['low'], unit)}, {difference(row['high'], unit)}]</text></g>"
        )
    return "".join([*out, "</svg>"])


def _uplift_table(rows: list[dict[str, Any]]) -> str:
    out = [
        '<table class="uplift"><tr><th>metric</th><th>treated</th><th>control</th><th>difference</th>'
        "<th>low</th><th>high</th><th></th></tr>"
    ]
    for row in rows:
        unit = UNITS[row["metric"]]
        cells = "".join(_cell(row[field], unit, field) for field in ("treated", "control"))
        cells += "".join(_cell(row[f], unit, f, difference(row[f], unit)) for f in ("difference", "low", "high"))
        why = escape(row["reason"] or ("differs" if row["excludes_zero"] else "no clear difference"))
        out.append(f'<tr data-metric="{row["metric"]}"><td>{escape(row["metric"])}</td>{cells}<td>{why}</td></tr>')
    return "\n".join([*out, "</table>"])


def _funnel_chart(dimension: str, rows: list[dict[str, Any]]) -> str:
    """Per value, bars for its actions, contacted, accepted and converted, on one scale."""
    left, bar_h, plot_w = 170, 9, WIDTH - 260
    group_h = bar_h * len(STAGES) + 12
    most = max([row["actions"] for row in rows] + [1])
    out = [_svg(f'class="chart funnel" data-dimension="{dimension}"', group_h * len(rows) + 30)]
    for s, stage in enumerate(STAGES):
        out.append(
            f'<rect x="{left + 90 * s}" y="{group_h * len(rows) + 10}" width="10" height="10" fill="{PALETTE[s]}"/>'
            f'<text x="{left + 90 * s + 14}" y="{group_h * len(rows) + 19}">{stage}</text>'
        )
    for n, row in enumerate(rows):
        top = group_h * n
        out.append(f'<g class="funnel-group" data-value="{escape(row["value"])}">')
        out.append(f'<text x="{left - 8}" y="{top + group_h / 2}" text-anchor="end">{escape(row["value"])}</text>')
        for s, stage in enumerate(STAGES):
            width = plot_w * row[stage] / most
            out.append(
                f'<rect data-stage="{stage}" x="{left}" y="{top + bar_h * s}" width="{width:.1f}"'
                f' height="{bar_h - 1}" fill="{PALETTE[s]}"><title>{stage}: {row[stage]:,}</title></rect>'
            )
        out.append("</g>")
    return "".join([*out, "</svg>"])


def _funnel_table(rows: list[dict[str, Any]]) -> str:
    fields: tuple[tuple[str, Unit | None], ...] = (
        *((stage, None) for stage in STAGES),
        ("acceptance_rate", Unit.SHARE),
        ("conversion_rate", Unit.SHARE),
        ("revenue", Unit.MONEY),
        ("revenue_per_action", Unit.MONEY),
    )
    out = [
        '<table class="funnel"><tr><th></th>' + "".join(f"<th>{f.replace('_', ' ')}</th>" for f, _ in fields) + "</tr>"
    ]
    for row in rows:
        cells = "".join(_cell(row[field], unit, field) for field, unit in fields)
        out.append(f'<tr data-value="{escape(row["value"])}"><td>{escape(row["value"])}</td>{cells}</tr>')
    return "\n".join([*out, "</table>"])
