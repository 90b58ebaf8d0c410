"""The model-file contract (DESIGN.md 3.1): metadata that travels inside the ONNX file.

Both the exporter (``models/``) and the runtime use these dataclasses, so the keys are written and
read by one piece of code. The runtime refuses a file whose metadata is missing or inconsistent.
"""

from __future__ import annotations

import json
import math
import typing
from dataclasses import asdict, dataclass, field
from typing import Any

from app import strict_json
from app.errors import InputError

METADATA_PREFIX = "epir."
CONTRACT_VERSION = 1
FLOW_METHODS = ("tvl1", "farneback", "dis")
CHANNELS = ("u", "v", "strain", "magnitude")
# per_sample_max: u, v by the largest motion magnitude, other channels by their maximum (keeps signs);
# fixed_scale: divided by flow_scale pixels; minmax: every channel min-max scaled to [0, 1] per sample and
# quantised to 8 bits, exactly like the MEGC2019 flow images HTNet's authors publish (0 = the channel's
# minimum, 1 = its maximum; absolute motion size is lost).
NORMALISATIONS = ("per_sample_max", "fixed_scale", "minmax")


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
    match_brightness: bool = False  # apex crop's grey mean and spread set to the onset's before the flow
    name: str = "flow"
    layout: str = "NCHW"

    @classmethod
    def whole(cls) -> "InputSpec":
        """The published MEGC2019 flows' input (STSTNet/HTNet ``whole``): whole face, 28x28, u/v/strain, min-max.

        The alignment reproduces where the faces sit in the published images (eye centres measured from
        the mean strain map: about a quarter of the height down, a little over half the width apart).
        """
        return cls(region_layout="whole", crop_size=112, eye_y=0.26, eye_distance=0.54, normalisation="minmax")

    def template(self):
        """The face alignment the model was trained with."""
        from app.align import AlignmentTemplate

        return AlignmentTemplate(self.crop_size, self.eye_y, self.eye_distance)

    @classmethod
    def from_json(cls, values: dict[str, Any], where: str) -> "InputSpec":
        """The ``input`` object of the metadata, every field type-checked against this dataclass."""
        hints = typing.get_type_hints(cls)
        unknown = sorted(set(values) - set(hints))
        problems = [f"unknown input field(s) {unknown}"] if unknown else []
        for key, value in values.items():
            kind = typing.get_origin(hints.get(key)) or hints.get(key)
            if kind is not None and not _is(value, kind):
                problems.append(f"input {key} must be {_TYPE_NAMES[kind]}, not {json.dumps(value)}")
        if problems:
            raise InputError(where, "model metadata: " + "; ".join(problems))
        spec = cls(**{**values, **({"channels": tuple(values["channels"])} if "channels" in values else {})})
        spec.validate(where)
        return spec

    def validate(self, where: str) -> None:
        problems = [f"input {key} {getattr(self, key)} is outside [{low:g}, {high:g}]"
                    for key, (low, high) in INPUT_RANGES.items() if not low <= getattr(self, key) <= high]
        if not self.channels or any(not isinstance(c, str) or c not in CHANNELS for c in self.channels):
            problems.append(f"input channels {list(self.channels)} not in {list(CHANNELS)}")
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
class Calibration:
    """Temperature scaling fitted on held-out predictions: the runtime divides logits by ``temperature``.

    ``ece_before``/``ece_after`` are the expected calibration errors (15 equal-width confidence bins) on
    the predictions it was fitted on, which ``fitted_on`` names (e.g. out-of-fold LOSO predictions).
    """

    temperature: float
    ece_before: float
    ece_after: float
    fitted_on: str

    @classmethod
    def from_dict(cls, values: Any, where: str) -> "Calibration":
        fields_ = ("temperature", "ece_before", "ece_after", "fitted_on")
        if not isinstance(values, dict) or sorted(values) != sorted(fields_):
            raise InputError(where, f"model metadata: calibration must be an object with keys {list(fields_)}")
        if not all(_is(values[k], float) for k in fields_[:3]):
            raise InputError(where, "model metadata: calibration temperature and ECEs must be numbers")
        numbers = [float(values[k]) for k in fields_[:3]]
        if not (numbers[0] > 0 and math.isfinite(numbers[0])):
            raise InputError(where, f"model metadata: calibration temperature {values['temperature']!r} is not > 0")
        if not all(0.0 <= e <= 1.0 for e in numbers[1:]):
            raise InputError(where, "model metadata: calibration ECEs must lie in [0, 1]")
        if not isinstance(values["fitted_on"], str) or not values["fitted_on"]:
            raise InputError(where, "model metadata: calibration fitted_on must name the data it was fitted on")
        return cls(*numbers, values["fitted_on"])


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
    calibration: Calibration | None = None  # optional temperature scaling of the logits

    @property
    def synthetic(self) -> bool:
        return bool(self.training.get("synthetic", False))

    @property
    def honesty_note(self) -> str:
        """Short caveat shown next to every label this model produces."""
        if self.synthetic:
            return "trained on synthetic data; not validated on real micro-expressions"
        dataset = self.training.get("source") or self.training.get("dataset", "unknown data")
        restriction = "; research use only" if self.training.get("research_use_only") else ""
        return f"trained on {dataset}{restriction}"

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
        if self.calibration is not None:
            values["calibration"] = asdict(self.calibration)
        return {METADATA_PREFIX + k: strict_json.dumps(v) for k, v in values.items()}

    @classmethod
    def from_metadata(cls, props: dict[str, str], where: str) -> "ModelCard":
        """Parse and validate completely (types, ranges, consistency); raise InputError naming what is
        missing or wrong, so that nothing fails later in the middle of a run."""
        missing = [k for k, (_, required) in CARD_FIELDS.items() if required and METADATA_PREFIX + k not in props]
        if missing:
            keys = ", ".join(METADATA_PREFIX + k for k in missing)
            raise InputError(where, f"not an EPIR Live model (metadata missing: {keys})")
        values: dict[str, Any] = {}
        for key, raw in props.items():
            if not key.startswith(METADATA_PREFIX):
                continue
            try:
                values[key[len(METADATA_PREFIX):]] = json.loads(raw)
            except (json.JSONDecodeError, TypeError):
                raise InputError(where, f"model metadata {key} is not valid JSON") from None
        if values["contract"] != CONTRACT_VERSION:
            raise InputError(where, f"model contract version {values['contract']} (this app reads {CONTRACT_VERSION})")
        problems = [f"{METADATA_PREFIX}{k} must be {_TYPE_NAMES[kind]}, not {type(values[k]).__name__}"
                    for k, (kind, _) in CARD_FIELDS.items() if k in values and not _is(values[k], kind)]
        if problems:
            raise InputError(where, "model metadata: " + "; ".join(problems))
        classes = values["classes"]
        if len(classes) < 2 or not all(isinstance(c, str) and c for c in classes):
            raise InputError(where, "model metadata: classes must be a list of at least two names")
        if len(set(classes)) != len(classes):
            raise InputError(where, "model metadata: class names are not unique")
        grid = values["attention_grid"]
        if len(grid) != 2 or not all(_is(x, int) and 0 < x <= 1024 for x in grid):
            raise InputError(where, f"model metadata: attention grid {grid} is not (h, w) of positive integers")
        spec = InputSpec.from_json(values["input"], where)
        if not all(isinstance(c, str) for c in values.get("caveats", ())):
            raise InputError(where, "model metadata: caveats must be a list of strings")
        calibration = values.get("calibration")
        return cls(
            name=values["name"],
            version=values["version"],
            classes=tuple(classes),
            input=spec,
            attention_grid=(grid[0], grid[1]),
            training=dict(values.get("training", {})),
            metrics=dict(values.get("metrics", {})),
            architecture=dict(values.get("architecture", {})),
            caveats=tuple(values.get("caveats", ())),
            calibration=None if calibration is None else Calibration.from_dict(calibration, where),
        )


# metadata key → (JSON type, required). Optional keys may be absent; present ones must have the type.
CARD_FIELDS: dict[str, tuple[type, bool]] = {
    "contract": (int, True), "name": (str, True), "version": (str, True), "classes": (list, True),
    "input": (dict, True), "attention_grid": (list, True),
    "training": (dict, False), "metrics": (dict, False), "architecture": (dict, False), "caveats": (list, False),
    "calibration": (dict, False),
}
# InputSpec numbers: inclusive (low, high) bounds
INPUT_RANGES: dict[str, tuple[float, float]] = {
    "height": (4, 1024), "width": (4, 1024), "crop_size": (32, 2048),
    "eye_y": (0.05, 0.95), "eye_distance": (0.05, 0.95), "flow_scale": (1e-6, 1e6),
}
_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list",
               dict: "an object", tuple: "a list"}


def _is(value: Any, kind: type) -> bool:
    """JSON type check: bool is not a number; an integer is a number; numbers are finite."""
    if kind is bool or isinstance(value, bool):
        return kind is bool and isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and math.isfinite(value)
    if kind is tuple:
        return isinstance(value, list)
    return isinstance(value, kind)
