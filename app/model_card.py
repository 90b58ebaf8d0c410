"""The model-file contract (DESIGN.md 3.1): metadata that travels inside the ONNX file.

Both the exporter (``models/``) and the runtime use these dataclasses, so the keys are written and
read by one piece of code. The runtime refuses a file whose metadata is missing or inconsistent.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from app.errors import InputError

METADATA_PREFIX = "epir."
CONTRACT_VERSION = 1
FLOW_METHODS = ("tvl1", "farneback", "dis")
CHANNELS = ("u", "v", "strain", "magnitude")
NORMALISATIONS = ("per_sample_max", "fixed_scale")


@dataclass(frozen=True)
class InputSpec:
    """How the model's input tensor is laid out and computed from an onset/apex pair of face crops."""

    channels: tuple[str, ...] = ("u", "v", "strain")
    height: int = 28
    width: int = 28
    region_layout: str = "quad"  # see app.regions.INPUT_LAYOUTS
    crop_size: int = 128  # aligned face crop side, pixels (app.align.AlignmentTemplate)
    eye_y: float = 0.30  # template eye line, fraction of the crop side
    eye_distance: float = 0.36  # template distance between eye centres, fraction of the side
    flow_method: str = "tvl1"
    normalisation: str = "per_sample_max"
    flow_scale: float = 1.0  # only for normalisation == "fixed_scale": pixels mapped to 1.0
    head_compensation: bool = True  # subtract the head's rigid motion (app.flow.remove_head_motion)
    name: str = "flow"
    layout: str = "NCHW"

    def template(self):
        """The face alignment the model was trained with."""
        from app.align import AlignmentTemplate

        return AlignmentTemplate(self.crop_size, self.eye_y, self.eye_distance)

    def validate(self, where: str) -> None:
        problems = []
        if not self.channels or any(c not in CHANNELS for c in self.channels):
            problems.append(f"input channels {list(self.channels)} not in {list(CHANNELS)}")
        if self.height <= 0 or self.width <= 0:
            problems.append(f"input size {self.height}x{self.width} is not positive")
        if self.flow_method not in FLOW_METHODS:
            problems.append(f"flow method {self.flow_method!r} not in {list(FLOW_METHODS)}")
        if self.normalisation not in NORMALISATIONS:
            problems.append(f"normalisation {self.normalisation!r} not in {list(NORMALISATIONS)}")
        if self.layout != "NCHW":
            problems.append(f"input layout {self.layout!r} is not NCHW")
        from app.regions import INPUT_LAYOUTS

        if self.region_layout not in INPUT_LAYOUTS:
            problems.append(f"region layout {self.region_layout!r} not in {sorted(INPUT_LAYOUTS)}")
        elif self.height % 2 or self.width % 2:
            if INPUT_LAYOUTS[self.region_layout].tiles > 1:
                problems.append("a tiled region layout needs an even input size")
        if problems:
            raise InputError(where, "model metadata: " + "; ".join(problems))


@dataclass(frozen=True)
class ModelCard:
    """Everything the runtime needs to use a model correctly, plus what a user must be told about it."""

    name: str
    version: str
    classes: tuple[str, ...]
    input: InputSpec
    attention_grid: tuple[int, int]  # (h, w) of the `attention` output
    training: dict[str, Any] = field(default_factory=dict)  # dataset, protocol, synthetic flag, seed...
    metrics: dict[str, Any] = field(default_factory=dict)  # e.g. {"uf1": .., "uar": .., "accuracy": ..}
    architecture: dict[str, Any] = field(default_factory=dict)  # config + which parts are reconstructed
    caveats: tuple[str, ...] = ()

    @property
    def synthetic(self) -> bool:
        return bool(self.training.get("synthetic", False))

    @property
    def honesty_note(self) -> str:
        """Short caveat shown next to every label this model produces."""
        if self.synthetic:
            return "trained on synthetic data; not validated on real micro-expressions"
        dataset = self.training.get("dataset", "unknown data")
        return f"trained on {dataset}"

    def to_metadata(self) -> dict[str, str]:
        """Flatten to ONNX ``metadata_props`` (string keys, JSON string values)."""
        values = {
            "contract": CONTRACT_VERSION,
            "name": self.name,
            "version": self.version,
            "classes": list(self.classes),
            "input": asdict(self.input),
            "attention_grid": list(self.attention_grid),
            "training": self.training,
            "metrics": self.metrics,
            "architecture": self.architecture,
            "caveats": list(self.caveats),
        }
        return {METADATA_PREFIX + k: json.dumps(v) for k, v in values.items()}

    @classmethod
    def from_metadata(cls, props: dict[str, str], where: str) -> "ModelCard":
        """Parse and validate; raise InputError naming what is missing or wrong."""
        required = ("contract", "name", "version", "classes", "input", "attention_grid")
        missing = [k for k in required if METADATA_PREFIX + k not in props]
        if missing:
            keys = ", ".join(METADATA_PREFIX + k for k in missing)
            raise InputError(where, f"not an EPIR Live model (metadata missing: {keys})")
        values: dict[str, Any] = {}
        for key, raw in props.items():
            if not key.startswith(METADATA_PREFIX):
                continue
            try:
                values[key[len(METADATA_PREFIX):]] = json.loads(raw)
            except json.JSONDecodeError:
                raise InputError(where, f"model metadata {key} is not valid JSON") from None
        if values["contract"] != CONTRACT_VERSION:
            raise InputError(where, f"model contract version {values['contract']} (this app reads {CONTRACT_VERSION})")
        classes = values["classes"]
        if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) and c for c in classes):
            raise InputError(where, "model metadata: classes must be a list of at least two names")
        if len(set(classes)) != len(classes):
            raise InputError(where, "model metadata: class names are not unique")
        try:
            spec_values = dict(values["input"])
            spec_values["channels"] = tuple(spec_values["channels"])
            spec = InputSpec(**spec_values)
            grid = tuple(int(x) for x in values["attention_grid"])
        except (TypeError, KeyError, ValueError) as exc:
            raise InputError(where, f"model metadata: malformed input/attention description ({exc})") from None
        if len(grid) != 2 or min(grid) <= 0:
            raise InputError(where, f"model metadata: attention grid {list(grid)} is not (h, w)")
        spec.validate(where)
        return cls(
            name=str(values["name"]),
            version=str(values["version"]),
            classes=tuple(classes),
            input=spec,
            attention_grid=(grid[0], grid[1]),
            training=dict(values.get("training", {})),
            metrics=dict(values.get("metrics", {})),
            architecture=dict(values.get("architecture", {})),
            caveats=tuple(values.get("caveats", ())),
        )
