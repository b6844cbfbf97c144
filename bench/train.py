"""Seconds and peak memory of `forestall train` on a generated population (100,000 customers by default).

    python bench/train.py                        # 100,000 customers, about 3 million events
    python bench/train.py --customers 5000 --models-dir models   # the sample models (models/README.md)

The population is engine/models/synthetic.py's: histories with known signals, from a
fixed seed, ingested into a SQLite store kept in the temp directory and reused (its
making is not timed). Then `forestall train` runs in this process, as the command
runs it, with two worker processes deriving facts. Reported: wall seconds of the
training and of each of its stages, the peak resident memory of this process and of
the largest worker (ru_maxrss), and each model's metrics against its baselines.
The exit status is 1 if training took longer than --budget seconds or a model does
not beat its baselines, else 0.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

from engine.cli.main import main as forestall
from engine.models.synthetic import population
from engine.store import open_store

UNTIL = datetime(2026, 6, 1, tzinfo=UTC)
SEED = 7
# Bump when the generated population changes, so that an old store is not reused.
GENERATOR_VERSION = 1
BATCH_CUSTOMERS = 500


def store_of(customers: int) -> Path:
    folder = Path(tempfile.gettempdir()) / "forestall-bench-train"
    path = folder / f"population-v{GENERATOR_VERSION}-seed{SEED}-{customers}c.db"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        for leftover in folder.glob(partial.name + "*"):
            leftover.unlink()
        print(f"generating {customers:,} customers into {path} (once; reused after)", file=sys.stderr)
        # In a process of its own, so that its memory is not this one's.
        process = get_context("spawn").Process(target=_fill, args=(partial, customers))
        process.start()
        process.join()
        if process.exitcode != 0:
            sys.exit(f"generating the population failed ({process.exitcode})")
        for suffix in ("-wal", "-shm"):
            Path(str(partial) + suffix).unlink(missing_ok=True)
        os.replace(partial, path)
    return path


def _fill(path: Path, customers: int) -> None:
    store = open_store(path)
    started = time.monotonic()
    for first in range(0, customers, BATCH_CUSTOMERS):
        count = min(BATCH_CUSTOMERS, customers - first)
        store.ingest([e for history in population(UNTIL, count, SEED, first) for e in history])
        done = first + count
        rate = done / (time.monotonic() - started)
        print(f"\rgenerated {done:,} of {customers:,} customers ({rate:,.0f}/s)", end="", file=sys.stderr)
    print(file=sys.stderr)
    store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--models-dir", type=Path, help="where to write the models (default: a scratch folder)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--budget", type=float, default=300.0, help="seconds the training may take (default 300)")
    args = parser.parse_args()
    store = store_of(args.customers)
    with tempfile.TemporaryDirectory(prefix="forestall-bench-models-") as scratch:
        models_dir = args.models_dir or Path(scratch)
        started = time.monotonic()
        status = forestall(
            [
                "train",
                "--store",
                str(store),
                "--models-dir",
                str(models_dir),
                "--seed",
                str(SEED),
                "--workers",
                str(args.workers),
            ]
        )
        seconds = time.monotonic() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if status != 0:
        print(f"\n{args.customers:,} customers: forestall train exited {status} after {seconds:.1f} s")
    else:
        print(f"\n{args.customers:,} customers: trained in {seconds:.1f} s (budget {args.budget:.0f} s)")
    print(f"peak memory: {own:,.0f} MB this process, {workers:,.0f} MB the largest worker")
    return 0 if status == 0 and seconds <= args.budget else 1


if __name__ == "__main__":
    sys.exit(main())
