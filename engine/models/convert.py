"""The one skl2onnx adapter: a fitted scikit-learn estimator to ONNX bytes.

skl2onnx 1.20 builds the tree nodes of a HistGradientBoosting model with a Python
`False` for a leaf's missing-value flag, which onnx 1.23 refuses in an integer
list ("Expected an int, got a boolean"). While converting, the flag is passed on
as the integer ONNX wants; nothing else changes, and the converted model is
checked against the estimator's own predictions by the tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from skl2onnx import to_onnx
from skl2onnx.common import tree_ensemble
from sklearn.base import BaseEstimator, is_classifier

from engine.errors import ForestallError

# Fixed, so that the same estimator always gives the same bytes whatever skl2onnx would pick.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}


class ConversionFailed(ForestallError):
    status = "INTERNAL"


def onnx_bytes(estimator: BaseEstimator, columns: int, name: str) -> bytes:
    """The estimator as a serialised ONNX model with one float input `X` of `columns` columns.

    A classifier's outputs are `label` and `probabilities` (a plain tensor, no ZipMap);
    a regressor's is `variable`.
    """
    sample = np.zeros((1, columns), dtype=np.float32)
    options = {id(estimator): {"zipmap": False}} if is_classifier(estimator) else None
    try:
        with _integer_missing_flags():
            model = to_onnx(estimator, sample, options=options, target_opset=TARGET_OPSET, naming=name)
    except (ValueError, RuntimeError, TypeError) as exc:
        raise ConversionFailed(f"{name}: cannot convert {type(estimator).__name__} to ONNX: {exc}") from exc
    model.doc_string = name
    return bytes(model.SerializeToString())


@contextmanager
def _integer_missing_flags() -> Iterator[None]:
    original = tree_ensemble.add_node

    def add_node(*args: Any, nodes_missing_value_tracks_true: Any = 0, **kwargs: Any) -> Any:
        return original(*args, nodes_missing_value_tracks_true=int(nodes_missing_value_tracks_true), **kwargs)

    tree_ensemble.add_node = add_node
    try:
        yield
    finally:
        tree_ensemble.add_node = original
