"""`forestall customer ...`: a customer's data rights, on the store itself.

While a server runs on the store, the admin RPCs ExportCustomer and ForgetCustomer do
the same through it, and also cover decisions it has made but not yet written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from engine.config import Settings
from engine.logs import configure_logging
from engine.store import Store, open_store

STORE_HELP = "a SQLite file or a redis:// URL (FORESTALL_STORE, default: the server's)"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    customer = commands.add_parser("customer", help="export or erase everything held on a customer")
    sub = customer.add_subparsers(dest="customer_command", required=True)

    export = sub.add_parser(
        "export",
        help="print everything held on a customer as JSON",
        description="Print everything the store holds on a customer, events, decisions and their outcomes, "
        "as one JSON document. An unknown customer has empty lists.",
        epilog="example: forestall customer export c-123 --store var/forestall.db > c-123.json",
    )
    export.add_argument("customer_id")
    export.add_argument("--store", help=STORE_HELP)
    export.set_defaults(run=_export)

    forget = sub.add_parser(
        "forget",
        help="erase everything held on a customer",
        description="Erase everything the store holds on a customer, events, decisions and their outcomes, "
        "and say how many records were erased.",
        epilog="example: forestall customer forget c-123 --store var/forestall.db --yes",
    )
    forget.add_argument("customer_id")
    forget.add_argument("--store", help=STORE_HELP)
    forget.add_argument("--yes", action="store_true", required=True, help="confirm the erasure: it cannot be undone")
    forget.set_defaults(run=_forget)


@contextmanager
def _store(args: argparse.Namespace) -> Iterator[Store]:
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level, settings.log_key)  # on stderr: stdout is the output
    store = open_store(args.store or settings.store)
    try:
        yield store
    finally:
        store.close()


def _export(args: argparse.Namespace) -> int:
    with _store(args) as store:
        document = store.export_customer(args.customer_id)
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


def _forget(args: argparse.Namespace) -> int:
    with _store(args) as store:
        erased = store.forget_customer(args.customer_id)
    print(f"customer {args.customer_id}: {erased} records erased (events, decisions and outcomes)")
    return 0
