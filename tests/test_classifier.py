"""Real ONNX Runtime sessions on small EPIR-contract models built by the test."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from app.align import AlignmentTemplate, align_face
from app.classifier import Classifier, provider_order
from app.errors import InputError
from app.face import FaceTracker, FaceTrackerOptions, RunningMode
from app.model_card import ModelCard
from tests.onnx_fixtures import build_tiny_model, tiny_card


def test_provider_order_is_explicit_and_ends_on_the_cpu():
    available = set(ort.get_available_providers())
    for choice in ("auto", "tensorrt", "cuda", "cpu"):
        order = provider_order(choice)
        assert order[-1] == "CPUExecutionProvider" and set(order) <= available | {"CPUExecutionProvider"}
    assert provider_order("cpu") == ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in available:  # onnxruntime-gpu: asked for, whether or not CUDA works
        assert provider_order("auto").index("CUDAExecutionProvider") < provider_order("auto").index("CPUExecutionProvider")


def test_session_reports_the_provider_it_really_got(tmp_path):
    model = Classifier(build_tiny_model(tmp_path / "m.onnx"), provider="auto")
    assert model.providers == model.session.get_providers()
    assert model.provider_label in ("CPU", "CUDA", "TensorRT")
    assert Classifier(tmp_path / "m.onnx", provider="cpu").provider_label == "CPU"


def test_classify_returns_every_class_and_a_normalised_attention_map(tmp_path, astronaut_bgr):
    model = Classifier(build_tiny_model(tmp_path / "m.onnx"), provider="cpu")
    with FaceTracker(FaceTrackerOptions(mode=RunningMode.IMAGE)) as tracker:
        face = tracker.detect(astronaut_bgr)
    onset = align_face(astronaut_bgr, face.landmarks, AlignmentTemplate())
    shifted = np.roll(astronaut_bgr, 1, axis=1)
    apex = align_face(shifted, face.landmarks, AlignmentTemplate())
    result = model.classify(onset, apex)
    assert list(result.probabilities) == ["negative", "positive", "surprise"]
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert result.label == max(result.probabilities, key=result.probabilities.get)
    assert result.attention.shape == (7, 7) and result.attention.sum() == pytest.approx(1.0, abs=1e-5)
    assert result.attention_crop.shape == (128, 128) and result.attention_crop.sum() == pytest.approx(1.0, abs=1e-4)
    probs, attention = model.run(np.random.default_rng(0).normal(size=(4, 3, 28, 28)).astype(np.float32))
    assert probs.shape == (4, 3) and attention.shape == (4, 7, 7)  # dynamic batch


def test_model_without_metadata_is_refused_with_the_reason(tmp_path):
    path = build_tiny_model(tmp_path / "bare.onnx", metadata=False)
    with pytest.raises(InputError, match=r"bare.onnx: not an EPIR Live model \(metadata missing: epir.contract"):
        Classifier(path)


def test_metadata_inconsistent_with_the_graph_is_refused(tmp_path):
    path = build_tiny_model(tmp_path / "wrong.onnx", tiny_card(classes=("a", "b", "c", "d")), logits_dim=3)
    with pytest.raises(InputError, match=r"logits has shape \['N', 3\] but the metadata says \[N, 4\]"):
        Classifier(path)


def test_broken_metadata_values_are_named(tmp_path):
    path = build_tiny_model(tmp_path / "m.onnx")
    model = onnx.load(path)
    for prop in model.metadata_props:
        if prop.key == "epir.input":
            prop.value = prop.value.replace('"tvl1"', '"magic"')
    onnx.save(model, path)
    with pytest.raises(InputError, match="flow method 'magic'"):
        Classifier(path)


def test_a_file_that_is_not_onnx(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x89PNG not a model")
    with pytest.raises(InputError, match="model.onnx: not a loadable ONNX model"):
        Classifier(path)
    with pytest.raises(InputError, match="model file not found"):
        Classifier(tmp_path / "nope.onnx")


def test_card_round_trip_and_honesty_note():
    card = tiny_card()
    back = ModelCard.from_metadata(card.to_metadata(), "x")
    assert back == card
    assert "synthetic" in back.honesty_note


def test_calibration_temperature_divides_the_logits(tmp_path):
    from dataclasses import replace

    from app.model_card import Calibration

    plain = Classifier(build_tiny_model(tmp_path / "plain.onnx"))
    calibration = Calibration(temperature=2.5, ece_before=0.2, ece_after=0.05, fitted_on="out-of-fold LOSO predictions")
    card = replace(tiny_card(), calibration=calibration)
    assert ModelCard.from_metadata(card.to_metadata(), "x") == card
    calibrated = Classifier(build_tiny_model(tmp_path / "calibrated.onnx", card))
    assert calibrated.card.calibration == calibration
    batch = np.random.default_rng(1).normal(size=(4, 3, 28, 28)).astype(np.float32)
    logits = plain.session.run(["logits"], {"flow": batch})[0] / 2.5
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    probs, _ = calibrated.run(batch)
    assert np.allclose(probs, expected, atol=1e-6)
    assert np.array_equal(probs.argmax(axis=1), plain.run(batch)[0].argmax(axis=1))  # ranks unchanged


@pytest.mark.parametrize("bad, message", [
    ({"temperature": 0, "ece_before": 0.1, "ece_after": 0.1, "fitted_on": "x"}, "temperature 0 is not > 0"),
    ({"temperature": "hot", "ece_before": 0.1, "ece_after": 0.1, "fitted_on": "x"}, "must be numbers"),
    ({"temperature": 1.5, "ece_before": 0.1, "ece_after": 1.4, "fitted_on": "x"}, r"ECEs must lie in \[0, 1\]"),
    ({"temperature": 1.5, "ece_before": 0.1, "ece_after": 0.1, "fitted_on": ""}, "fitted_on must name"),
    ({"temperature": 1.5}, "calibration must be an object with keys"),
])
def test_malformed_calibration_is_refused(bad, message):
    import json

    props = tiny_card().to_metadata()
    props["epir.calibration"] = json.dumps(bad)
    with pytest.raises(InputError, match=message):
        ModelCard.from_metadata(props, "m.onnx")


def test_shipped_megc2019_model_says_where_it_comes_from_and_runs_on_a_real_face(astronaut_bgr):
    """The real-data model: its card names its provenance and restriction, and it labels a real face's flow."""
    from pathlib import Path

    from app.align import AlignedFace

    path = Path(__file__).resolve().parent.parent / "models" / "megc2019" / "epir_megc2019.onnx"
    model = Classifier(path, provider="cpu")
    card = model.card
    assert card.input.region_layout == "whole" and card.input.normalisation == "minmax"
    assert not card.synthetic and card.training["dataset"] == "megc2019-flows" and card.training["research_use_only"]
    assert "HTNet" in card.training["source"] and "research use only" in card.honesty_note
    assert card.calibration is not None and card.calibration.ece_after <= card.calibration.ece_before
    assert set(card.metrics["per_dataset"]) == {"casme2", "samm", "smic"}
    with FaceTracker(FaceTrackerOptions(mode=RunningMode.IMAGE)) as tracker:
        face = align_face(astronaut_bgr, tracker.detect(astronaut_bgr).landmarks, card.input.template())
    shifted = np.roll(face.image, 1, axis=1)  # a small motion everywhere
    result = model.classify(face, AlignedFace(shifted, face.matrix, face.landmarks))
    assert result.label in card.classes and sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert result.attention_crop.shape == (card.input.crop_size,) * 2
