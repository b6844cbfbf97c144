"""`forestall models list|show|promote`: the trained models, their cards, and which version serves."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.config import Settings
from engine.models.artifacts import CARD_MARKDOWN, load_model
from engine.models.registry import entries, find, promote, promoted

EPILOG = """\
examples:
  forestall models list                                  # every version; * marks the promoted ones
  forestall models show churn                            # the promoted (else latest) card of churn
  forestall models show churn 20260601-2ccf0e37cfa2 --format json
  forestall models promote churn 20260601-2ccf0e37cfa2   # refused if flagged, unless --force

exit status: 0 done, 1 an unknown model or version, a model that does not load
(corrupt, not ONNX, altered card), or a flagged model promoted without --force.
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "models",
        help="list trained models, show a card, promote a version to serve",
        description="See the trained models and their cards, and choose the version of each that serves.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="every model version, flagged ones marked, promoted ones starred")
    show = actions.add_parser("show", help="a version's card (default: the promoted one, else the latest)")
    show.add_argument("name")
    show.add_argument("version", nargs="?")
    promoting = actions.add_parser("promote", help="make a version the one that serves; validates it first")
    promoting.add_argument("name")
    promoting.add_argument("version")
    promoting.add_argument("--force", action="store_true", help="promote even a model that does not beat its baselines")
    for sub in (listing, show, promoting):
        sub.add_argument("--models-dir", type=Path, help="the models folder (FORESTALL_MODELS_DIR, default models)")
        sub.add_argument("--format", choices=["pretty", "json"], default="pretty")
    listing.set_defaults(run=_list)
    show.set_defaults(run=_show)
    promoting.set_defaults(run=_promote)


def _folder(args: argparse.Namespace) -> Path:
    return Path(args.models_dir or Settings().models_dir)


def _list(args: argparse.Namespace) -> int:
    found = entries(_folder(args))
    if args.format == "json":
        rows = [
            {
                "name": e.name,
                "version": e.version,
                "promoted": e.promoted,
                "flagged": e.card.flagged if e.card else None,
                "metrics": e.card.metrics if e.card else None,
                "problem": e.problem,
            }
            for e in found
        ]
        print(json.dumps(rows, indent=2))
        return 0
    if not found:
        print(f"no models in {_folder(args)}: train some with forestall train")
    for e in found:
        mark = "*" if e.promoted else " "
        if e.card is None:
            print(f"{mark} {e.name} {e.version}  unreadable: {e.problem}")
            continue
        headline = e.card.metrics["probability"]["model"]
        verdict = "FLAGGED" if e.card.flagged else "ok"
        print(
            f"{mark} {e.name} {e.version}  {verdict}  roc_auc {headline.get('roc_auc')}  brier {headline.get('brier')}"
            f"  until {e.card.training_period['until'][:10]}"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    folder = find(_folder(args), args.name, args.version)
    model = load_model(folder)
    if args.format == "json":
        print(model.card.json_text(), end="")
    else:
        print((folder / CARD_MARKDOWN).read_text(), end="")
        served = promoted(_folder(args)).get(args.name) == model.card.version
        print(f"\n{'promoted: this version serves' if served else 'not promoted'}; files in {folder}")
    return 0


def _promote(args: argparse.Namespace) -> int:
    model = promote(_folder(args), args.name, args.version, force=args.force)
    note = " (forced: flagged, does not beat its baselines)" if model.card.flagged else ""
    if args.format == "json":
        print(json.dumps({"name": args.name, "version": args.version, "promoted": True, "flagged": model.card.flagged}))
    else:
        print(f"{args.name} {args.version} promoted{note}", file=sys.stdout)
    return 0
