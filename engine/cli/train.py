"""`forestall train`: train the next-purchase, response and churn models from stored history."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import TextIO

from engine.cli.arguments import moment
from engine.config import Settings
from engine.errors import InvalidArgument
from engine.importing import ColumnMap, PurchaseExport, import_purchases
from engine.logs import configure_logging
from engine.models.dataset import MODEL_NAMES, TrainingPeriod, schemas
from engine.models.pipeline import TrainingResult, train_all
from engine.models.sources import from_store, history_end
from engine.ruleset.loader import load_rule_set
from engine.store import open_store

EPILOG = """\
example: train on the store, judged on the last 90 days of its history

  forestall train --store var/forestall.db --models-dir models
  forestall train --from-file sales.csv --until 2026-06-01 --seed 7 --format json

Each model is fitted on facts derived at four training cutoffs (a month apart) and
judged on a later validation cutoff it never saw, against a base rate and a
recency/frequency heuristic on the same rows; the response model's rows describe
the customer at the moment of each contact made in the month after a cutoff (its
decision's time, if the store holds it). A model that does not beat both is
written but flagged, and `forestall models promote` refuses it unless --force.
Same data and seed, same model files and version.

exit status: 0 every model trained and beats its baselines, 2 some model flagged
or not trained (too little data), 1 the data or the rules could not be read.
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "train",
        help="train the next-purchase, response and churn models; exit 0 all beat their baselines, 2 some not",
        description="Train models from the stored history (or an import file), with a time-based split,"
        " and write each as ONNX with its model card under the models folder.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--store", help="the store to read: a SQLite file or a redis:// URL (FORESTALL_STORE)")
    source.add_argument(
        "--from-file", type=Path, metavar="FILE", help="a purchase export (.csv, .jsonl), imported into a scratch store"
    )
    parser.add_argument("--models-dir", type=Path, help="where models are written (FORESTALL_MODELS_DIR)")
    parser.add_argument("--rules-dir", type=Path, help="the rules folder whose catalogue names the categories")
    parser.add_argument(
        "--until", type=moment, help="end of the history to use, ISO 8601 (default: the latest event's time)"
    )
    parser.add_argument("--horizon-days", type=int, default=30, help="the probabilities' horizon (default 30)")
    parser.add_argument("--days-cap", type=int, default=90, help="days to the next purchase counted up to (default 90)")
    parser.add_argument("--seed", type=int, default=7, help="the models' random seed (default 7)")
    parser.add_argument(
        "--model", action="append", choices=MODEL_NAMES, help="train only this model; repeat for more (default all)"
    )
    parser.add_argument("--workers", type=int, default=2, help="processes deriving facts (default 2)")
    parser.add_argument("--format", choices=["pretty", "json"], default="pretty")
    parser.set_defaults(run=_train)


def _train(args: argparse.Namespace) -> int:
    if args.horizon_days < 1 or args.days_cap < 1:
        raise InvalidArgument("--horizon-days/--days-cap", "must be 1 or more")
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level, settings.log_key)
    catalogue = load_rule_set(args.rules_dir or settings.rules_dir).catalogue
    models_dir = args.models_dir or settings.models_dir
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="forestall-train-") as scratch:
        if args.from_file is not None:
            location = str(Path(scratch) / "history.db")
            _import(args.from_file, location, settings.max_events_per_customer)
            source = f"file {args.from_file.name}"
        else:
            location = args.store or settings.store
            source = "store " + _where(location, settings.max_events_per_customer)
        until = args.until or _latest(location, settings.max_events_per_customer)
        period = TrainingPeriod(until, horizon_days=args.horizon_days, days_cap=args.days_cap)
        wanted = {name: schema for name, schema in schemas(catalogue).items() if not args.model or name in args.model}
        with Progress(sys.stderr, "deriving facts") as progress:
            built = from_store(
                location,
                settings.max_events_per_customer,
                catalogue,
                period,
                wanted,
                workers=args.workers,
                on_progress=progress.update,
            )
    if args.format == "pretty":
        print(f"{built.customers:,} customers, {built.events:,} events until {until:%Y-%m-%d}", file=sys.stderr)
    results = train_all(
        built,
        wanted,
        period,
        models_dir,
        seed=args.seed,
        source=source,
        on_model=lambda name: print(f"training {name}", file=sys.stderr) if args.format == "pretty" else None,
    )
    _report(results, time.monotonic() - started, args.format, sys.stdout)
    return 0 if all(r.card and r.card.beats_baselines for r in results) else 2


def _import(path: Path, location: str, max_events: int) -> None:
    store = open_store(location, max_events)
    try:
        summary = import_purchases(PurchaseExport(path, None, ColumnMap(), None), store)
    finally:
        store.close()
    if summary.rejected_rows:
        print(f"{path}: {summary.rejected_rows:,} rows rejected (see forestall import --rejects)", file=sys.stderr)


def _where(location: str, max_events: int) -> str:
    """The store's location fit for a card: a file path, or a URL without its password."""
    store = open_store(location, max_events)
    try:
        return store.location
    finally:
        store.close()


def _latest(location: str, max_events: int) -> datetime:
    store = open_store(location, max_events)
    try:
        latest = history_end(store)
    finally:
        store.close()
    if latest is None:
        raise InvalidArgument("--store", f"{location} holds no events to train on")
    return latest


class Progress:
    """Customers done out of all on one line of a terminal; a line every ten seconds in a log."""

    def __init__(self, stream: TextIO, what: str) -> None:
        self._stream = stream
        self._what = what
        self._terminal = stream.isatty()
        self._interval = 0.2 if self._terminal else 10.0
        self._started = self._shown = time.monotonic()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_: object) -> None:
        if self._terminal:
            self._stream.write("\n")
            self._stream.flush()

    def update(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._shown < self._interval and done < total:
            return
        self._shown = now
        rate = done / (now - self._started) if now > self._started else 0.0
        line = f"{self._what}: {done:,} of {total:,} customers ({done / total if total else 1:.0%}), {rate:,.0f}/s"
        self._stream.write(("\r" + line) if self._terminal else line + "\n")
        self._stream.flush()


def _report(results: list[TrainingResult], seconds: float, fmt: str, out: TextIO) -> None:
    if fmt == "json":
        body = [
            {
                "model": r.name,
                "version": r.card.version if r.card else None,
                "path": str(r.path) if r.path else None,
                "beats_baselines": r.card.beats_baselines if r.card else False,
                "metrics": r.card.metrics if r.card else {},
                "shortfalls": r.card.shortfalls if r.card else [],
                "failure": r.failure,
            }
            for r in results
        ]
        print(json.dumps({"seconds": round(seconds, 1), "models": body}, indent=2), file=out)
        return
    for r in results:
        if r.card is None:
            print(f"{r.name}: not trained: {r.failure}", file=out)
            continue
        verdict = "beats its baselines" if r.card.beats_baselines else "FLAGGED: does not beat its baselines"
        print(f"{r.name} {r.card.version}: {verdict} ({r.path})", file=out)
        for head, comparison in r.card.metrics.items():
            for metric, value in comparison["model"].items():
                theirs = ", ".join(f"{b} {_number(m.get(metric))}" for b, m in sorted(comparison["baselines"].items()))
                print(f"  {head} {metric}: {_number(value)} (baselines: {theirs})", file=out)
        for shortfall in r.card.shortfalls:
            print(f"  shortfall: {shortfall}", file=out)
    print(f"trained in {seconds:.1f} s", file=out)


def _number(value: object) -> str:
    return "-" if value is None else f"{value:.4f}"
