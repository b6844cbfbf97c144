"""What is in a models folder, and which version of each model serves.

`models/promoted.json` maps each model name to its promoted version; it is replaced
atomically (written beside, fsynced, renamed), so a reader sees the old pointers or
the new, never half a file. Promotion loads the version first: a model that does not
load is never promoted, and a flagged one (it does not beat its baselines) only by force.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ForestallError, NotFound
from engine.models.artifacts import CARD_FILE, LoadedModel, ModelArtifactInvalid, load_model, read_card
from engine.models.card import ModelCard

PROMOTED_FILE = "promoted.json"


class PromotionRefused(ForestallError):
    status = "FAILED_PRECONDITION"


@dataclass(frozen=True)
class Entry:
    """One model version in the folder, with whether it is the promoted one."""

    path: Path
    card: ModelCard | None
    promoted: bool
    problem: str = ""

    @property
    def name(self) -> str:
        return self.path.parent.name

    @property
    def version(self) -> str:
        return self.path.name


def promoted(models_dir: Path) -> dict[str, str]:
    path = Path(models_dir) / PROMOTED_FILE
    try:
        body = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelArtifactInvalid(path, f"not JSON: {exc}") from exc
    if not isinstance(body, dict) or not all(isinstance(v, str) for v in body.values()):
        raise ModelArtifactInvalid(path, 'expected {"<model name>": "<version>", ...}')
    return body


def entries(models_dir: Path, name: str | None = None) -> list[Entry]:
    """Every model version under the folder (of one model if named), by name then version."""
    pointers = promoted(models_dir)
    found = []
    for card_path in sorted(Path(models_dir).glob(f"{name or '*'}/*/{CARD_FILE}")):
        folder = card_path.parent
        try:
            card, problem = read_card(folder), ""
        except ModelArtifactInvalid as exc:
            card, problem = None, exc.problem
        found.append(Entry(folder, card, pointers.get(folder.parent.name) == folder.name, problem))
    return found


def find(models_dir: Path, name: str, version: str | None = None) -> Path:
    """The folder of a version; without one, the promoted version, else the latest."""
    versions = [e.version for e in entries(models_dir, name)]
    if not versions:
        raise NotFound("model", name)
    chosen = version or promoted(models_dir).get(name) or versions[-1]
    if chosen not in versions:
        raise NotFound("model version", f"{name} {chosen}")
    return Path(models_dir) / name / chosen


def promote(models_dir: Path, name: str, version: str, *, force: bool = False) -> LoadedModel:
    """Make `version` the one that serves for `name`; refuses a flagged model unless forced."""
    model = load_model(find(models_dir, name, version))
    if model.card.flagged and not force:
        reasons = "; ".join(model.card.shortfalls)
        raise PromotionRefused(f"{name} {version} does not beat its baselines ({reasons}); use --force to promote it")
    pointers = promoted(models_dir)
    pointers[name] = version
    _replace(Path(models_dir) / PROMOTED_FILE, json.dumps(pointers, indent=2, sort_keys=True) + "\n")
    return model


def load_promoted(models_dir: Path, name: str) -> LoadedModel | None:
    """The promoted version of a model, validated; None while none is promoted."""
    version = promoted(models_dir).get(name)
    return None if version is None else load_model(find(models_dir, name, version))


def _replace(path: Path, text: str) -> None:
    handle, partial = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
