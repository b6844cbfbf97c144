"""Regenerate the committed JSON Schemas in rules/schema/ from the rule and catalogue models.

    python scripts/generate_schemas.py          # rewrite the schema files
    python scripts/generate_schemas.py --check  # exit 1 if they have drifted

Editors read these files through the modeline at the top of each rule file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.ruleset.json_schema import schema_files

ROOT = Path(__file__).resolve().parent.parent
OUTPUT_DIR = ROOT / "rules" / "schema"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if the committed schemas differ")
    check = parser.parse_args().check
    files = schema_files()
    if check:
        drifted = [name for name, text in files.items() if _read(OUTPUT_DIR / name) != text]
        if drifted:
            print(f"schemas drifted from the models: {', '.join(drifted)}", file=sys.stderr)
            print("run: python scripts/generate_schemas.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (OUTPUT_DIR / name).write_text(text)
    return 0


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


if __name__ == "__main__":
    sys.exit(main())
