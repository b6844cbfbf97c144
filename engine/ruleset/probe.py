"""Compile a rules folder in a throwaway process before the server loads it.

durable-rules' C core can crash or hang on a rule set that passes validation
(shared/DURABLE_RULES.md); in a child process with a timeout that is a rejected
change, not a dead server. The child compiles the folder and matches one fact of
every subject, then reports on stdout as JSON.

    python -m engine.ruleset.probe RULES_DIR
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from engine.errors import RuleError, RuleSetInvalid

DEFAULT_TIMEOUT_SECONDS = 30.0


def probe_folder(folder: Path, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> str:
    """The version the child compiled; raises RuleSetInvalid if compiling `folder` fails, crashes or hangs."""
    command = [sys.executable, "-m", "engine.ruleset.probe", str(folder)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise _refused(folder, "engine-hung", f"compiling the rules did not finish within {timeout:g} s") from exc
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        how = f"signal {-done.returncode}" if done.returncode < 0 else f"exit code {done.returncode}"
        raise _refused(folder, "engine-crashed", f"compiling the rules crashed the rule engine ({how})") from None
    if done.returncode != 0:
        raise RuleSetInvalid([RuleError(**error) for error in report["errors"]])
    return str(report["version"])


def _refused(folder: Path, code: str, message: str) -> RuleSetInvalid:
    return RuleSetInvalid([RuleError(str(folder), 1, 1, code, message)])


def _smoke_facts() -> list[dict[str, object]]:
    """One fact per subject with every known field set, so each pattern meets real data."""
    from engine.features.fields import FIELDS, SUBJECTS

    fields: dict[str, dict[str, object]] = {}
    for spec in FIELDS.values():
        prefix, name = spec.name.split(".", 1)
        fields.setdefault(prefix, {})[name] = 0 if spec.type == "number" else ""
    shared = {prefix: values for prefix, values in fields.items() if prefix not in SUBJECTS or prefix == "customer"}
    return [
        {"id": f"smoke:{subject}", "subject": subject, **shared, subject: fields.get(subject, {})}
        for subject in SUBJECTS
    ]


def _compile_and_exercise(folder: Path) -> str:
    from engine.ruleset.live import compile_folder

    ruleset, matcher = compile_folder(folder)
    try:
        matcher.match(_smoke_facts())
    finally:
        matcher.close()
    return ruleset.version


def main() -> int:
    folder = Path(sys.argv[1])
    try:
        version = _compile_and_exercise(folder)
    except RuleSetInvalid as exc:
        print(json.dumps({"errors": [error.__dict__ for error in exc.errors]}))
        return 1
    print(json.dumps({"version": version}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
