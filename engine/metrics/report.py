"""The effectiveness report as one JSON-able document: the JSON twin, and what the HTML report is drawn from.

Everything in it is computed from a `Computation` and a treated/control assignment; nothing reads the clock,
so the same store, period, assignment and seed give the same document.
"""

from __future__ import annotations

from typing import Any

from engine.metrics.assignment import CONTROL, TREATED, Assignment
from engine.metrics.compute import Computation, Funnel, MetricValue, Period, funnels
from engine.metrics.definitions import METRIC_BY_NAME, UPLIFT_NOTE
from engine.metrics.uplift import DEFAULT_CONFIDENCE, DEFAULT_REPLICATES, Uplift, uplift

TOP_RULES = 10
#: The dimensions the funnels are drawn for; rules have their own ranked table.
FUNNEL_DIMENSIONS = ("family", "channel")


def report_document(
    computation: Computation,
    assignment: Assignment,
    assignment_description: dict[str, Any],
    *,
    seed: int = 0,
    replicates: int = DEFAULT_REPLICATES,
    confidence: float = DEFAULT_CONFIDENCE,
    top_rules: int = TOP_RULES,
) -> dict[str, Any]:
    """The whole report: metrics of the period and of each month, uplift, funnels and the top rules."""
    overall = computation.overall
    groups = [assignment(customer_id) for customer_id in overall.customer_ids]
    by_rule = funnels(computation.actions, "rule")
    ranked = sorted(by_rule.items(), key=lambda kv: (-kv[1].revenue, -kv[1].converted, -kv[1].accepted, kv[0]))
    return {
        "period": _period(computation.period),
        "customers_read": computation.customers_read,
        "compacted_customers": computation.compacted_customers,
        "definitions": "docs/metrics.md",
        "metrics": {name: _metric(name, value) for name, value in overall.metrics().items()},
        "components": {component.value: _number(total) for component, total in overall.sums().items()},
        "over_time": [
            {**_period(month.period), "metrics": {name: v.value for name, v in month.metrics().items()}}
            for month in computation.monthly
        ],
        "uplift": {
            "assignment": assignment_description,
            "treated_customers": groups.count(TREATED),
            "control_customers": groups.count(CONTROL),
            "confidence": confidence,
            "replicates": replicates,
            "seed": seed,
            "note": UPLIFT_NOTE,
            "metrics": [
                _uplift(u) for u in uplift(overall, assignment, replicates=replicates, confidence=confidence, seed=seed)
            ],
        },
        "funnels": {
            dimension: [_funnel(value, f) for value, f in funnels(computation.actions, dimension).items()]
            for dimension in FUNNEL_DIMENSIONS
        },
        "top_rules": [_funnel(rule, f) for rule, f in ranked[:top_rules]],
    }


def _period(period: Period) -> dict[str, str]:
    return {"label": period.label, "from": period.start.isoformat(), "to": period.end.isoformat()}


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _metric(name: str, value: MetricValue) -> dict[str, Any]:
    metric = METRIC_BY_NAME[name]
    return {
        "title": metric.title,
        "formula": metric.formula,
        "unit": metric.unit.value,
        "group": metric.group.value,
        "value": value.value,
        "numerator": _number(value.numerator),
        "denominator": _number(value.denominator),
        "reason": value.reason,
    }


def _uplift(found: Uplift) -> dict[str, Any]:
    return {
        "metric": found.metric,
        "treated": found.treated.value,
        "control": found.control.value,
        "difference": found.difference,
        "relative": found.relative,
        "low": found.low,
        "high": found.high,
        "excludes_zero": found.excludes_zero,
        "replicates_used": found.replicates,
        "replicates_dropped": found.dropped,
        "reason": found.reason,
    }


def _funnel(value: str, funnel: Funnel) -> dict[str, Any]:
    return {
        "value": value,
        "actions": funnel.actions,
        "contacted": funnel.contacted,
        "accepted": funnel.accepted,
        "converted": funnel.converted,
        "revenue": _number(funnel.revenue),
        "acceptance_rate": funnel.acceptance_rate.value,
        "conversion_rate": funnel.conversion_rate.value,
        "revenue_per_action": funnel.revenue_per_action.value,
    }
