"""EPIR inference with ONNX Runtime: explicit provider order, validated model card, attention on the face.

The session is asked for TensorRT, CUDA and CPU in that order (filtered by what this onnxruntime build
offers and by the user's choice); what it really got is read back from the session, because
onnxruntime-gpu silently falls back to the CPU where CUDA is missing. One warm-up inference at load
moves the first event's one-off costs (CUDA context, TensorRT engine build, memory arenas) out of the
live path. Inference goes through IO binding: inputs and outputs live on the provider's device, so a
GPU run copies once each way and does not synchronise per output; on the CPU the same code runs.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from app.align import AlignedFace
from app.errors import InputError
from app.model_card import InputSpec, ModelCard
from app.model_input import ModelInput, attention_to_crop, build_model_input

# The synthetic model: with the abstention both shipped models label the same real development events
# right, and on the bundled demo the real-data one shows a wrong label (README "Evidence and abstention",
# "Which model is the default"); models/megc2019/ is a --model choice.
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "default" / "epir_synthetic.onnx"


PROVIDERS = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
PROVIDER_LABELS = {v: k.upper() if k != "tensorrt" else "TensorRT" for k, v in PROVIDERS.items()}
PROVIDER_CHOICES = ("auto", "tensorrt", "cuda", "cpu")


def provider_order(choice: str = "auto") -> list[str]:
    """Providers to request, best first: the choice, then everything slower down to the CPU."""
    if choice not in PROVIDER_CHOICES:
        raise ValueError(f"provider {choice!r} not in {PROVIDER_CHOICES}")
    ladder = list(PROVIDERS.values())
    wanted = ladder if choice == "auto" else ladder[ladder.index(PROVIDERS[choice]):]
    available = set(ort.get_available_providers())
    return [p for p in wanted if p in available] or ["CPUExecutionProvider"]


@dataclass(frozen=True)
class Classification:
    label: str
    probabilities: dict[str, float]  # every class, in the model's logit order
    attention: np.ndarray  # (h, w) over the input's patch grid, sums to 1
    attention_crop: np.ndarray  # (S, S) over the onset face crop, sums to 1
    model_input: ModelInput

    @property
    def confidence(self) -> float:
        return self.probabilities[self.label]


class Classifier:
    def __init__(self, path: str | Path, provider: str = "auto", threads: int | None = None):
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError(path, "is a folder, not a model file")
        if not self.path.is_file():
            raise InputError(path, "model file not found")
        options = ort.SessionOptions()
        options.log_severity_level = 3  # the provider fallback is reported by us, not as log noise
        if threads:
            options.intra_op_num_threads = threads
        self.requested = provider_order(provider)
        fallback_report = io.StringIO()  # ORT prints its provider fallback; we report it in one line
        try:
            with contextlib.redirect_stdout(fallback_report):
                self.session = ort.InferenceSession(str(self.path), options, providers=self.requested)
        except Exception as exc:  # ORT raises several types for "not a model"
            raise InputError(path, f"not a loadable ONNX model ({_first_line(exc)})") from None
        self.providers = self.session.get_providers()
        self.unavailable = [PROVIDER_LABELS[p] for p in self.requested if p not in self.providers]
        props = dict(self.session.get_modelmeta().custom_metadata_map)
        self.card = ModelCard.from_metadata(props, str(path))
        self._check_signature()
        self.device = "cuda" if self.providers[0] in (PROVIDERS["tensorrt"], PROVIDERS["cuda"]) else "cpu"
        spec = self.card.input
        self.run(np.zeros((1, len(spec.channels), spec.height, spec.width), np.float32))  # warm-up; outputs checked now, not mid-run

    @property
    def provider_summary(self) -> str:
        """E.g. "CPU (TensorRT, CUDA unavailable here)": what runs, and what was asked for but failed."""
        if not self.unavailable:
            return self.provider_label
        return f"{self.provider_label} ({', '.join(self.unavailable)} unavailable here)"

    @property
    def provider_label(self) -> str:
        """The provider doing the work, e.g. "CPU" or "CUDA"."""
        return PROVIDER_LABELS.get(self.providers[0], self.providers[0])

    def _check_signature(self) -> None:
        spec, where = self.card.input, str(self.path)
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = {o.name: o for o in self.session.get_outputs()}
        if spec.name not in inputs:
            raise InputError(where, f"model has no input {spec.name!r} (has {sorted(inputs)})")
        for name in ("logits", "attention"):
            if name not in outputs:
                raise InputError(where, f"model has no output {name!r} (has {sorted(outputs)})")
        expected = {
            spec.name: (inputs[spec.name].shape, [len(spec.channels), spec.height, spec.width]),
            "logits": (outputs["logits"].shape, [len(self.card.classes)]),
            "attention": (outputs["attention"].shape, list(self.card.attention_grid)),
        }
        for name, (shape, tail) in expected.items():
            actual = list(shape[1:])
            if len(actual) != len(tail) or any(isinstance(a, int) and a != t for a, t in zip(actual, tail)):
                raise InputError(where, f"{name} has shape {list(shape)} but the metadata says [N, {', '.join(map(str, tail))}]")

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities (N, K) and attention (N, h, w) for a (N, C, H, W) batch; InputError (naming the
        model) for an output of the wrong shape or with NaN/infinite values, never a made-up label."""
        binding = self.session.io_binding()  # one per call: a session may serve several threads
        tensor = np.ascontiguousarray(batch, dtype=np.float32)
        binding.bind_ortvalue_input(self.card.input.name, ort.OrtValue.ortvalue_from_numpy(tensor, self.device, 0))
        for name in ("logits", "attention"):
            binding.bind_output(name, self.device, 0)
        try:
            self.session.run_with_iobinding(binding)
        except Exception as exc:  # ORT raises several types for a graph that fails on real input
            raise InputError(self.path, f"model failed to run ({_first_line(exc)})") from None
        logits, attention = binding.copy_outputs_to_cpu()
        n = len(batch)
        for name, value, shape in (("logits", logits, (n, len(self.card.classes))),
                                   ("attention", attention, (n, *self.card.attention_grid))):
            if value.shape != shape:
                raise InputError(self.path, f"model output {name} has shape {list(value.shape)}, expected {list(shape)}")
            if not np.isfinite(value).all():
                raise InputError(self.path, f"model output {name} holds NaN or infinite values")
        if self.card.calibration is not None:  # temperature scaling fitted on held-out predictions
            logits = logits / self.card.calibration.temperature
        shifted = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        return probs / probs.sum(axis=1, keepdims=True), attention

    def classify(self, onset: AlignedFace, apex: AlignedFace, spec: InputSpec | None = None) -> Classification:
        """Label one onset/apex pair; ``spec`` may swap the flow method (a faster one than trained with)."""
        spec = spec or self.card.input
        model_input = build_model_input(onset, apex, spec)
        probs, attention = self.run(model_input.tensor[None])
        p, att = probs[0], attention[0]
        label = self.card.classes[int(np.argmax(p))]
        return Classification(
            label=label,
            probabilities={c: float(v) for c, v in zip(self.card.classes, p)},
            attention=att,
            attention_crop=attention_to_crop(att, model_input, spec),
            model_input=model_input,
        )


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__
