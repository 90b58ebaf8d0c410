"""ONNX export with the model card (DESIGN.md 3.1): ``python main.py export --checkpoint CKPT --out FILE``.

The file has input ``flow`` [N, C, H, W] (dynamic N) and outputs ``logits`` [N, K] and ``attention``
[N, h, w]; the card travels in ``metadata_props``. Every export is checked: ONNX Runtime's logits must
match PyTorch's for batch 1 and a larger batch, and the metadata must parse back into the same card.
"""

from __future__ import annotations

import argparse
import copy
import json
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from app.errors import InputError
from app.model_card import InputSpec, ModelCard
from models.checkpoint import load_checkpoint
from models.epir import EPIR, EPIREnsemble, ensemble_size
from models.epir_config import architecture_card

OPSET = 17
TOLERANCE = 1e-4
CHECK_BATCHES = (1, 5)
ARCHITECTURE_CAVEAT = "EPIR is reconstructed from the paper's abstract and its public ancestors; see architecture.reconstructed."


@dataclass(frozen=True)
class ExportCheck:
    """What the post-export verification measured."""

    batches: tuple[int, ...]
    max_logit_diff: float
    max_attention_diff: float


class _OnnxOutputs(nn.Module):
    """The exported signature: the runtime needs logits and attention, not the training embedding."""

    def __init__(self, model: EPIR | EPIREnsemble):
        super().__init__()
        self.model = model

    def forward(self, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, attention, _ = self.model(flow)
        return logits, attention


def complete_card(model: EPIR | EPIREnsemble, card: ModelCard) -> ModelCard:
    """The card with what the model itself knows filled in, after checking it agrees with the model."""
    c = model.config
    problems = []
    if len(card.classes) != c.num_classes:
        problems.append(f"{len(card.classes)} class names for a {c.num_classes}-class model")
    if len(card.input.channels) != c.in_channels:
        problems.append(f"input has {len(card.input.channels)} channels, the model {c.in_channels}")
    if (card.input.height, card.input.width) != (c.image_size, c.image_size):
        problems.append(f"input is {card.input.height}x{card.input.width}, the model {c.image_size}x{c.image_size}")
    if problems:
        raise InputError("model card", "; ".join(problems))
    caveats = card.caveats if ARCHITECTURE_CAVEAT in card.caveats else (*card.caveats, ARCHITECTURE_CAVEAT)
    return replace(
        card,
        attention_grid=c.grid,
        architecture={**card.architecture, **architecture_card(c, ensemble_size(model))},
        caveats=caveats,
    )


def to_onnx(model: EPIR | EPIREnsemble, path: str | Path) -> None:
    """Trace ``model`` (a copy, in eval and export mode) into an ONNX file without metadata."""
    traced = _OnnxOutputs(copy.deepcopy(model).eval().set_export(True))
    c = model.config
    example = torch.zeros(2, c.in_channels, c.image_size, c.image_size)
    batch = {0: "N"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(
            traced,
            (example,),
            str(path),
            dynamo=False,  # the TorchScript exporter: no onnxscript needed, a small static graph
            input_names=["flow"],
            output_names=["logits", "attention"],
            dynamic_axes={"flow": batch, "logits": batch, "attention": batch},
            opset_version=OPSET,
        )


def export_onnx(model: EPIR | EPIREnsemble, card: ModelCard, path: str | Path, seed: int = 0) -> ExportCheck:
    """Write ``model`` with ``card`` to ``path`` and verify it; return what the check measured.

    The card's ``attention_grid`` and ``architecture`` are filled from the model; classes and input
    must agree with it (InputError otherwise). Raises RuntimeError if ONNX Runtime disagrees with
    PyTorch beyond ``TOLERANCE`` or the metadata do not round-trip.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = copy.deepcopy(model).eval()  # leave the caller's model (perhaps mid-training) untouched
    card = complete_card(model, card)
    to_onnx(model, path)
    proto = onnx.load(str(path))
    for key, value in card.to_metadata().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    return verify(model, card, path, seed)


def verify(model: EPIR | EPIREnsemble, card: ModelCard, path: Path, seed: int = 0) -> ExportCheck:
    """ONNX Runtime (CPU provider) vs PyTorch (``model`` in eval mode) on random inputs, and the metadata round trip."""
    import onnxruntime as ort

    proto = onnx.load(str(path), load_external_data=False)
    props = {p.key: p.value for p in proto.metadata_props}
    if ModelCard.from_metadata(props, str(path)).to_metadata() != card.to_metadata():
        raise RuntimeError(f"{path}: metadata do not round-trip to the model card")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(seed)
    c = model.config
    logit_diff = attention_diff = 0.0
    for n in CHECK_BATCHES:
        flow = torch.randn(n, c.in_channels, c.image_size, c.image_size, generator=generator)
        with torch.no_grad():
            logits, attention, _ = model(flow)
        ort_logits, ort_attention = session.run(["logits", "attention"], {"flow": flow.numpy()})
        if ort_logits.shape != tuple(logits.shape) or ort_attention.shape != tuple(attention.shape):
            raise RuntimeError(f"{path}: ONNX output shapes {ort_logits.shape}, {ort_attention.shape} for batch {n}")
        logit_diff = max(logit_diff, float(np.abs(ort_logits - logits.numpy()).max()))
        attention_diff = max(attention_diff, float(np.abs(ort_attention - attention.numpy()).max()))
    if logit_diff >= TOLERANCE or attention_diff >= TOLERANCE:
        raise RuntimeError(f"{path}: ONNX Runtime differs from PyTorch (logits {logit_diff:.2e}, attention {attention_diff:.2e})")
    return ExportCheck(CHECK_BATCHES, logit_diff, attention_diff)


def card_from_checkpoint(checkpoint: dict[str, Any], model: EPIR | EPIREnsemble, overrides: dict[str, Any]) -> ModelCard:
    """Model card from what the checkpoint recorded, updated by ``overrides`` (the --card-json keys)."""
    values: dict[str, Any] = {
        "name": "EPIR",
        "version": "0.1.0",
        "classes": checkpoint["classes"],
        "input": checkpoint.get("input", {}),
        "training": checkpoint.get("training", {}),
        "metrics": checkpoint.get("metrics", {}),
        "caveats": checkpoint.get("caveats", []),
        "architecture": {},
    }
    for key in ("name", "version", "caveats", "classes"):
        if key in checkpoint:
            values[key] = checkpoint[key]
    unknown = sorted(set(overrides) - set(values))
    if unknown:
        raise InputError("--card-json", f"unknown model card keys {unknown}; use {sorted(values)}")
    for key, value in overrides.items():
        values[key] = {**values[key], **value} if isinstance(values[key], dict) and isinstance(value, dict) else value
    spec = dict(values["input"])
    if "channels" in spec:
        spec["channels"] = tuple(spec["channels"])
    c = model.config
    spec.setdefault("height", c.image_size)
    spec.setdefault("width", c.image_size)
    try:
        input_spec = InputSpec(**spec)
    except TypeError as exc:
        raise InputError("model card input", str(exc)) from None
    return ModelCard(
        name=str(values["name"]),
        version=str(values["version"]),
        classes=tuple(values["classes"]),
        input=input_spec,
        attention_grid=c.grid,
        training=dict(values["training"]),
        metrics=dict(values["metrics"]),
        architecture=dict(values["architecture"]),
        caveats=tuple(values["caveats"]),
    )


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="EPIR checkpoint (models.checkpoint.save_checkpoint)")
    parser.add_argument("--out", required=True, help="ONNX file to write")
    parser.add_argument(
        "--card-json",
        help="JSON object updating the model card: name, version, classes, input, training, metrics, caveats",
    )


def main(args: argparse.Namespace) -> int:
    model, checkpoint = load_checkpoint(args.checkpoint)
    overrides: dict[str, Any] = {}
    if args.card_json:
        try:
            overrides = json.loads(Path(args.card_json).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(args.card_json, f"not a readable JSON file ({exc})") from None
        if not isinstance(overrides, dict):
            raise InputError(args.card_json, "must hold a JSON object")
    card = card_from_checkpoint(checkpoint, model, overrides)
    check = export_onnx(model, card, args.out)
    print(
        f"wrote {args.out}: classes {list(card.classes)}, input {len(card.input.channels)}x{card.input.height}x{card.input.width}, "
        f"attention {card.attention_grid[0]}x{card.attention_grid[1]}; ONNX Runtime vs PyTorch max |diff| "
        f"logits {check.max_logit_diff:.1e}, attention {check.max_attention_diff:.1e} (batches {list(check.batches)})"
    )
    if card.synthetic:
        print(f"note: {card.honesty_note}")
    return 0
