"""Several ONNX heads side by side in one graph, run by one onnxruntime call.

A decision needs up to three models and four heads (next purchase has two). Each
onnxruntime call costs some microseconds whatever it computes, so the heads a decision
needs are put side by side in one graph, built once per set of heads: head i reads
input `i/X` and writes output `i/<its output>`. The graphs are the validated
artifacts' own, their names prefixed; nothing else in them changes, so each head
computes exactly what its own file does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import onnx
import onnxruntime as ort
from onnx import compose, helper


def session_from_bytes(model: bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    # One thread, in the caller's: the server scores one customer's few rows at a time.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


class Heads:
    """Heads (a graph with one input `X`, and the output read from it) run together."""

    def __init__(self, heads: Sequence[tuple[onnx.ModelProto, str]]) -> None:
        nodes, inputs, outputs = [], [], []
        for i, (graph, output) in enumerate(heads):
            prefixed = compose.add_prefix(graph, f"{i}/").graph
            nodes += prefixed.node
            inputs += prefixed.input
            outputs += [o for o in prefixed.output if o.name == f"{i}/{output}"]
        first = heads[0][0]
        together = helper.make_model(
            helper.make_graph(nodes, "heads", inputs, outputs),
            opset_imports=_opsets(graph for graph, _ in heads),
            ir_version=first.ir_version,
        )
        self._session = session_from_bytes(together.SerializeToString())
        self._inputs = [f"{i}/X" for i in range(len(heads))]
        self._outputs = [o.name for o in outputs]

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Each head's output for its input (float32 rows, as many as the head's rows; none is fine)."""
        return list(self._session.run(self._outputs, dict(zip(self._inputs, inputs, strict=True))))


def _opsets(graphs: Iterable[onnx.ModelProto]) -> list[onnx.OperatorSetIdProto]:
    """Each domain once, at the highest version a head imports (the artifacts are converted at one opset)."""
    versions: dict[str, int] = {}
    for graph in graphs:
        for opset in graph.opset_import:
            versions[opset.domain] = max(versions.get(opset.domain, 0), opset.version)
    return [helper.make_opsetid(domain, version) for domain, version in sorted(versions.items())]
