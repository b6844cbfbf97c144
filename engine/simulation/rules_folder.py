"""The rules a simulation runs with: a copy of a rules folder whose policy holds out one control share.

The report measures uplift against customers chosen by one share and salt, so the
simulation's policy must hold out exactly those customers, in every family: the copy's
`control` is that share and salt, with no per-family shares.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from engine.policy import POLICY_FILE


def copy_with_control(source: Path, into: Path, share: float, salt: str) -> Path:
    """Copy the rule files of `source` (a valid folder) into `into`, holding out `share` of customers under `salt`."""
    into.mkdir(parents=True, exist_ok=True)
    for path in sorted(Path(source).iterdir()):
        if path.is_file():
            shutil.copyfile(path, into / path.name)
    policy_path = into / POLICY_FILE
    policy = yaml.safe_load(policy_path.read_text(encoding="utf-8")) if policy_path.exists() else None
    policy = policy if isinstance(policy, dict) else {}
    policy["control"] = {"share": share, "salt": salt}
    policy_path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    return into
