"""Model artifacts on disk: written whole, loaded only after they prove to be what their card says.

A model version is a folder `models/<name>/<version>/` holding `card.json`, `card.md`
and one ONNX file per head. Loading refuses, with the file and the reason:

- a card that does not parse, or whose feature schema does not match its digest or
  reads fields this engine does not derive (training and serving would disagree);
- a model file that is missing, differs from the digest in its card, is a pickle
  (pickles run code when loaded: they are never opened), or is not a valid ONNX
  model with one input of the schema's width.

ONNX files are parsed as data by onnx and onnxruntime; nothing in them is executed
as Python.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from pydantic import ValidationError

from engine.errors import ForestallError
from engine.models.card import ModelCard, card_digest, markdown
from engine.models.combined import Heads, session_from_bytes
from engine.models.features import FeatureRows, FeatureSchema, validate_schema

CARD_FILE = "card.json"
CARD_MARKDOWN = "card.md"
# A pickle starts with the PROTO opcode and a protocol number (2 and up); zip files (joblib, skops) with PK.
_PICKLE_PREFIXES = tuple(bytes([0x80, protocol]) for protocol in range(2, 6))
_ZIP_PREFIX = b"PK\x03\x04"


class ModelArtifactInvalid(ForestallError):
    """A model file or card that cannot be trusted to serve."""

    status = "FAILED_PRECONDITION"

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True)
class LoadedModel:
    """A validated model version, ready to score rows made by `feature_rows` with its schema."""

    card: ModelCard
    schema: FeatureSchema
    # head -> its validated ONNX graph
    graphs: dict[str, onnx.ModelProto]

    def heads(self) -> list[tuple[onnx.ModelProto, str]]:
        """Each head's graph and the output read from it, in the order of `graphs`."""
        return [(graph, self.card.artifacts[head].output) for head, graph in self.graphs.items()]

    def predict(self, rows: FeatureRows) -> dict[str, np.ndarray]:
        """Each head's prediction per row: `probability` (0 to 1) and, for next purchase, `days`."""
        return self.read(self._alone.run([rows.matrix] * len(self.graphs)))

    def read(self, outputs: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
        """The heads' predictions from their outputs (in the order of `heads`): a probability is the
        positive class's, and days are clipped to the cap they were trained and judged with."""
        found = {}
        for head, value in zip(self.graphs, outputs, strict=True):
            found[head] = value[:, 1] if head == "probability" else value.ravel().clip(0, self._days_cap)
        return found

    @functools.cached_property
    def _alone(self) -> Heads:
        return Heads(self.heads())

    @functools.cached_property
    def _days_cap(self) -> float | None:
        cap = self.card.training_period.get("days_cap")
        return None if cap is None else float(cap)


def read_card(folder: Path) -> ModelCard:
    path = folder / CARD_FILE
    try:
        return ModelCard.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise ModelArtifactInvalid(path, "no model card: a model version folder holds card.json") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "card"
        raise ModelArtifactInvalid(path, f"not a model card: {where}: {first['msg']}") from exc


def load_model(folder: Path) -> LoadedModel:
    """The model version in `folder`, validated against its card; raises ModelArtifactInvalid."""
    folder = Path(folder)
    card = read_card(folder)
    card_path = folder / CARD_FILE
    if card_digest(card) != card.version.rpartition("-")[2]:
        raise ModelArtifactInvalid(card_path, "does not match the digest in its version: the card was altered")
    try:
        schema = FeatureSchema.from_document(card.feature_schema)
    except (KeyError, TypeError, ValueError, AssertionError) as exc:
        raise ModelArtifactInvalid(card_path, f"feature_schema cannot be read: {exc}") from exc
    if schema.digest != card.schema_digest:
        raise ModelArtifactInvalid(card_path, "feature_schema does not match schema_digest: the card was altered")
    problems = validate_schema(schema)
    if problems:
        raise ModelArtifactInvalid(
            card_path, "feature_schema reads what this engine does not derive: " + "; ".join(problems)
        )
    graphs = {
        head: _graph(folder / artifact.file, artifact.sha256, len(schema.features))
        for head, artifact in card.artifacts.items()
    }
    return LoadedModel(card, schema, graphs)


def _graph(path: Path, sha256: str, columns: int) -> onnx.ModelProto:
    """The ONNX graph of a head's file, once it proves to be the card's, valid and of the schema's width."""
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        raise ModelArtifactInvalid(path, "model file missing") from None
    if body.startswith(_PICKLE_PREFIXES):
        raise ModelArtifactInvalid(path, "is a Python pickle, refused: pickles run code when loaded; models are ONNX")
    if body.startswith(_ZIP_PREFIX):
        raise ModelArtifactInvalid(path, "is a zip archive (joblib or skops?), refused: models are ONNX")
    if hashlib.sha256(body).hexdigest() != sha256:
        raise ModelArtifactInvalid(path, "differs from the sha256 in its card: corrupt or replaced")
    try:
        model = onnx.load_model_from_string(body)
        onnx.checker.check_model(model)
        session = session_from_bytes(body)
    except Exception as exc:  # onnx and onnxruntime raise bare and private exception types
        raise ModelArtifactInvalid(path, f"not a valid ONNX model: {str(exc).splitlines()[0][:200]}") from exc
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].name != "X" or inputs[0].shape[-1] != columns:
        shapes = ", ".join(f"{i.name}{i.shape}" for i in inputs)
        raise ModelArtifactInvalid(
            path, f"expects inputs {shapes}; the card's schema has one input X of {columns} columns"
        )
    return model


def write_model(models_dir: Path, card: ModelCard, heads: dict[str, bytes]) -> Path:
    """Write a model version folder whole: built beside it, then renamed into place.

    Writing a version that exists already replaces nothing: same version, same bytes.
    """
    target = Path(models_dir) / card.name / card.version
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{card.version}.", dir=target.parent))
    try:
        for head, artifact in card.artifacts.items():
            (building / artifact.file).write_bytes(heads[head])
        (building / CARD_FILE).write_text(card.json_text())
        (building / CARD_MARKDOWN).write_text(markdown(card))
        for path in building.iterdir():
            with path.open("rb") as written:
                os.fsync(written.fileno())
        os.rename(building, target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return target
