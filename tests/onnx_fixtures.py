"""Small but valid EPIR-contract ONNX models built with onnx.helper, for tests of the runtime.

The graph is a real computation: logits are a linear map of region-pooled flow, attention is a
softmax over patch energies, so outputs change with the input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from app.model_card import InputSpec, ModelCard


def card_in(path: Path) -> ModelCard:
    """The model card inside an ONNX file, read back through ONNX Runtime as the app reads it."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return ModelCard.from_metadata(session.get_modelmeta().custom_metadata_map, str(path))


def tiny_card(classes=("negative", "positive", "surprise"), grid=(7, 7), **training) -> ModelCard:
    return ModelCard(
        name="tiny-test", version="0.0.1", classes=tuple(classes), input=InputSpec(),
        attention_grid=grid, training={"dataset": "none", "synthetic": True, **training},
    )


def build_tiny_model(path: Path, card: ModelCard | None = None, *, metadata: bool = True,
                     logits_dim: int | None = None, seed: int = 0) -> Path:
    card = card or tiny_card()
    spec, (gh, gw) = card.input, card.attention_grid
    c, k = len(spec.channels), logits_dim or len(card.classes)
    ph, pw = spec.height // gh, spec.width // gw
    rng = np.random.default_rng(seed)
    weight = rng.normal(size=(c * gh * gw, k)).astype(np.float32)
    nodes = [
        helper.make_node("AveragePool", ["flow"], ["pooled"], kernel_shape=[ph, pw], strides=[ph, pw]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "W"], ["logits"]),
        helper.make_node("Mul", ["pooled", "pooled"], ["energy4"]),
        helper.make_node("ReduceSum", ["energy4", "axes1"], ["energy"], keepdims=0),
        helper.make_node("Flatten", ["energy"], ["energy_flat"], axis=1),
        helper.make_node("Softmax", ["energy_flat"], ["att_flat"], axis=1),
        helper.make_node("Reshape", ["att_flat", "att_shape"], ["attention"]),
    ]
    inits = [
        helper.make_tensor("W", TensorProto.FLOAT, weight.shape, weight.ravel()),
        helper.make_tensor("axes1", TensorProto.INT64, [1], [1]),
        helper.make_tensor("att_shape", TensorProto.INT64, [3], [-1, gh, gw]),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("flow", TensorProto.FLOAT, ["N", c, spec.height, spec.width])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", k]),
         helper.make_tensor_value_info("attention", TensorProto.FLOAT, ["N", gh, gw])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if metadata:
        onnx.helper.set_model_props(model, card.to_metadata())
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path
