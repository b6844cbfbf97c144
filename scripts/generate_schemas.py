"""Regenerate the committed JSON Schemas from the models they describe: rules/schema/ from the
rule and catalogue models, scenarios/schema/ from the replay scenario model.

    python scripts/generate_schemas.py          # rewrite the schema files
    python scripts/generate_schemas.py --check  # exit 1 if they have drifted

Editors read these files through the modeline at the top of each rule and scenario file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.replay.json_schema import SCHEMA_FILE, scenario_schema
from engine.ruleset.json_schema import render, schema_files

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if the committed schemas differ")
    check = parser.parse_args().check
    files = {ROOT / "rules" / "schema" / name: text for name, text in schema_files().items()}
    files[SCHEMA_FILE] = render(scenario_schema())
    if check:
        drifted = [str(path.relative_to(ROOT)) for path, text in files.items() if _read(path) != text]
        if drifted:
            print(f"schemas drifted from the models: {', '.join(drifted)}", file=sys.stderr)
            print("run: python scripts/generate_schemas.py", file=sys.stderr)
            return 1
        return 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return 0


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


if __name__ == "__main__":
    sys.exit(main())
