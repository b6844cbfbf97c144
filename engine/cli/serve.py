"""`forestall serve` and `forestall demo`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.api.server import serve_until_signalled, start_server, wall_clock
from engine.config import Settings
from engine.demo import SHOWCASE, population_events, showcase_events
from engine.logs import configure_logging
from engine.store import store_file

DEMO_STORE = "var/demo.db"
STORE_HELP = "a SQLite file, or a redis://host:port/db URL (FORESTALL_STORE, default var/forestall.db)"
DEMO_POPULATION = 500


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="run the gRPC decision service")
    _server_options(serve)
    serve.set_defaults(run=_serve)

    demo = commands.add_parser("demo", help="serve with sample customers on a fresh embedded store")
    _server_options(demo)
    demo.set_defaults(run=_demo)


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to listen on (FORESTALL_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on; 0 picks a free one (FORESTALL_PORT, 50051)")
    parser.add_argument("--store", help=STORE_HELP)
    parser.add_argument("--rules-dir", type=Path, help="the rules folder (FORESTALL_RULES_DIR, default rules)")
    parser.add_argument("--models-dir", type=Path, help="the models folder (FORESTALL_MODELS_DIR, default models)")
    parser.add_argument(
        "--decision-log",
        metavar="FILE",
        help="append each decision, with what it read, to this JSON Lines file (FORESTALL_DECISION_LOG; default none)",
    )
    parser.add_argument(
        "--prometheus-port",
        metavar="PORT",
        help="the Prometheus metrics endpoint's port on --host; 0 picks a free one, off turns it off"
        " (FORESTALL_PROMETHEUS_PORT, default 9464)",
    )
    parser.add_argument("--workers", type=int, help="RPC worker threads (FORESTALL_WORKERS, default 8)")
    parser.add_argument("--log-format", choices=["auto", "json", "console"], help="FORESTALL_LOG_FORMAT")


def _settings(args: argparse.Namespace, **defaults: Any) -> Settings:
    given = {k: v for k, v in vars(args).items() if k in Settings.model_fields and v is not None}
    return Settings(**{**defaults, **given})


def _serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure_logging(settings.log_format, settings.log_level, settings.log_key)
    running = start_server(settings)
    serve_until_signalled(running, settings.shutdown_grace)
    return 0


def _demo(args: argparse.Namespace) -> int:
    settings = _settings(args, store=DEMO_STORE)
    configure_logging(settings.log_format, settings.log_level, settings.log_key)
    path = store_file(settings.store)
    if path is not None:  # the demo's own file: dates are relative to now, so start afresh
        for leftover in (path, *path.parent.glob(path.name + "-*")):
            leftover.unlink(missing_ok=True)
    running = start_server(settings)
    now = wall_clock()
    events = [*showcase_events(now), *population_events(now, DEMO_POPULATION)]
    running.engine.ingest(events)
    print(
        f"\nForestall demo on {settings.host}:{running.port} with {len(events)} events "
        f"for {DEMO_POPULATION + len(SHOWCASE)} customers (store {running.engine.store.location}).\n"
        "Try these customers:",
        file=sys.stderr,
    )
    for customer, story in SHOWCASE.items():
        print(f"  {customer:15} {story}", file=sys.stderr)
    print(f"\n  python examples/decide.py --target 127.0.0.1:{running.port} demo-boiler\n", file=sys.stderr)
    serve_until_signalled(running, settings.shutdown_grace)
    return 0
