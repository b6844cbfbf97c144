"""Models trained from stored history: next purchase, response and churn risk.

Serving needs three things from here: `feature_rows` (facts to model rows, the same
function training uses), `load_model`/`load_promoted` (validated ONNX artifacts) and
`LoadedModel.predict`.
"""

from engine.models.artifacts import LoadedModel, ModelArtifactInvalid, load_model
from engine.models.features import FeatureRows, FeatureSchema, feature_rows
from engine.models.registry import load_promoted

__all__ = [
    "FeatureRows",
    "FeatureSchema",
    "LoadedModel",
    "ModelArtifactInvalid",
    "feature_rows",
    "load_model",
    "load_promoted",
]
