"""`forestall simulate` on 10,000 customers over 365 days, against the same run with nothing to propose.

    python bench/simulate.py                                  # 10,000 customers, 365 days, seed 7
    python bench/simulate.py --customers 1000 --days 90 --runs 3

Each run is `forestall simulate --format json --report FILE` in a fresh process of its
own, so that its peak resident memory (ru_maxrss, from wait4) is its own:

- "no rules": the same population, days and seed over a rules folder holding the
  catalogue and the policy but no rule. The population lives, its events are
  ingested, every touchpoint and sweep is decided and stored, and the report is
  written, but nothing is proposed, so nothing is shown and no outcome comes back:
  the baseline, what a run costs before Forestall has anything to say;
- "sample rules": the repo's rules/, the command as a user runs it.

The runs alternate. Reported: the median over `--runs` of wall seconds, decisions per
second and peak RSS, the ratio of the sample rules' seconds to the baseline's, the
last run's counts, and its report's treated and control figures. Issue 8 asks for
10,000 customers over 365 days in under 10 minutes: the exit status is 1 when the
median run with the sample rules takes longer, else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 600
NOT_RULES = ("catalogue.yaml", "policy.yaml")


def _run(rules: Path, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """One run in a process of its own: its summary, wall seconds and peak RSS in MB."""
    report = folder / "report.html"
    command = [
        *(sys.executable, "-m", "engine.cli.main", "simulate"),
        *("--customers", str(args.customers), "--days", str(args.days), "--seed", str(args.seed)),
        *("--rules", str(rules), "--report", str(report), "--format", "json"),
    ]
    started = time.monotonic()
    with open(folder / "summary.json", "w") as out, open(folder / "progress.txt", "w") as err:
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"forestall simulate failed: {(folder / 'progress.txt').read_text()[-2000:]}")
    summary = json.loads((folder / "summary.json").read_text())
    summary["report_document"] = json.loads(report.with_suffix(".json").read_text())
    return {"seconds": seconds, "rss_mb": usage.ru_maxrss / 1024, "summary": summary}


def _no_rules(folder: Path) -> Path:
    rules = folder / "no-rules"
    rules.mkdir()
    for name in NOT_RULES:
        shutil.copyfile(REPO / "rules" / name, rules / name)
    return rules


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-simulate-") as scratch:
        folder = Path(scratch)
        setups = {"no rules": _no_rules(folder), "sample rules": REPO / "rules"}
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in setups}
        for run in range(args.runs):
            for name, rules in setups.items():
                place = folder / f"{name.replace(' ', '-')}-{run}"
                place.mkdir()
                results[name].append(_run(rules, args, place))
                last = results[name][-1]
                print(f"run {run + 1} {name}: {last['seconds']:.1f} s", file=sys.stderr, flush=True)
    size = f"{args.customers:,} customers, {args.days} days, seed {args.seed}"
    print(f"forestall simulate: {size}; median of {args.runs} run(s)")
    print(f"{'':14} {'seconds':>9} {'decisions/s':>12} {'peak RSS MB':>12} {'decisions':>10} {'outcomes':>9}")
    medians = {}
    for name, runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        rate = statistics.median(r["summary"]["decisions"] / r["seconds"] for r in runs)
        rss = statistics.median(r["rss_mb"] for r in runs)
        summary = runs[-1]["summary"]
        medians[name] = seconds
        print(
            f"{name:14} {seconds:9.1f} {rate:12,.0f} {rss:12,.0f} {summary['decisions']:10,} {summary['outcomes']:9,}"
        )
    ratio = medians["sample rules"] / medians["no rules"]
    print(f"sample rules / no rules: {ratio:.2f} x the time")
    last = results["sample rules"][-1]["summary"]
    counts = ("events", "decisions", "actions", "held_out", "outcomes")
    print("last sample-rules run: " + ", ".join(f"{key} {last[key]:,}" for key in counts))
    print(f"  churned (latent): {last['churned']['treated']:,} treated, {last['churned']['control']:,} control")
    uplift = last["report_document"]["uplift"]
    print(f"  report: {uplift['treated_customers']:,} treated, {uplift['control_customers']:,} control customers")
    for metric in uplift["metrics"]:
        if metric["difference"] is None:
            print(f"    {metric['metric']:22} {metric['reason']}")
            continue
        print(
            f"    {metric['metric']:22} treated {metric['treated']:10.4f} control {metric['control']:10.4f}"
            f" difference {metric['difference']:+.4f} [{metric['low']:+.4f}, {metric['high']:+.4f}]"
        )
    within = medians["sample rules"] < BUDGET_SECONDS
    print(f"budget: {BUDGET_SECONDS} s for the sample rules: {'met' if within else 'NOT met'}")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
