"""The shipped model's figures say the same thing everywhere: README, models/default/metrics.json and the
model card inside the ONNX file (read back through ONNX Runtime, as the app reads it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.model_card import ModelCard
from tests.onnx_fixtures import card_in
from models.make_default import HELD_OUT, PROTOCOL, TRAINING_PEOPLE

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "models" / "default"
LOSO = re.compile(r"LOSO by person over (\d+) people \((\d+) clips[^)]*\): \*\*UF1 (\d\.\d{3}), UAR (\d\.\d{3}), "
                  r"accuracy (\d\.\d{3})\*\*")
HELD = re.compile(r"spotting F1 \*\*(\d\.\d{3})\*\* \(MEGC IoU ≥ 0\.5\) and UF1 \*\*(\d\.\d{3})\*\* "
                  r"on (\d+) matched events")


@pytest.fixture(scope="module")
def metrics() -> dict:
    return json.loads((DEFAULT / "metrics.json").read_text())


@pytest.fixture(scope="module")
def card() -> ModelCard:
    return card_in(DEFAULT / "epir_synthetic.onnx")


@pytest.fixture(scope="module")
def readme() -> str:
    return (ROOT / "README.md").read_text()


def test_metrics_json_and_the_onnx_card_agree(metrics, card):
    assert card.classes == tuple(metrics["classes"]) == ("negative", "positive", "surprise", "none")
    for key in ("uf1", "uar", "accuracy", "subjects", "samples"):
        assert card.metrics[key] == metrics[key], key
    assert card.metrics["protocol"] == metrics["protocol"] == PROTOCOL
    assert card.training["people"] == metrics["people"] == list(TRAINING_PEOPLE)
    assert card.training["held_out_people"] == list(HELD_OUT) and card.synthetic
    assert not set(HELD_OUT) & set(metrics["people"])
    held, summary = metrics["held_out"], card.metrics["held_out"]
    assert summary["spotting_f1"] == held["spotting"]["overall"]["f1"]
    assert (summary["uf1"], summary["uar"], summary["matched_events"]) == (
        held["labels"]["uf1"], held["labels"]["uar"], held["labels"]["matched"])
    assert summary["people"] == held["people"] == list(HELD_OUT)


def test_the_readme_quotes_the_shipped_figures_and_no_other(metrics, readme):
    loso = LOSO.findall(readme)
    assert loso, "README does not state the LOSO-by-person figure"
    expected = (str(metrics["subjects"]), str(metrics["samples"]),
                *(f"{metrics[k]:.3f}" for k in ("uf1", "uar", "accuracy")))
    assert all(found == expected for found in loso), (loso, expected)
    held = HELD.findall(readme)
    assert held, "README does not state the held-out figures"
    labels = metrics["held_out"]["labels"]
    spotting = metrics["held_out"]["spotting"]["overall"]
    expected = (f"{spotting['f1']:.3f}", f"{labels['uf1']:.3f}", str(labels["matched"]))
    assert all(found == expected for found in held), (held, expected)
    assert "UF1 0.990" not in readme  # the old figure over two photographs is gone


CALIBRATION = re.compile(r"synthetic model: \*\*T = (\d\.\d{3}), ECE (\d\.\d{3}) → (\d\.\d{3})\*\*")


def test_the_synthetic_models_calibration_is_the_same_everywhere(metrics, card, readme):
    fitted = metrics["calibration"]
    assert card.calibration is not None and card.calibration.temperature == fitted["temperature"]
    assert (card.calibration.ece_before, card.calibration.ece_after) == (fitted["ece_before"], fitted["ece_after"])
    assert "out-of-fold LOSO" in card.calibration.fitted_on and fitted["ece_after"] < fitted["ece_before"]
    quoted = CALIBRATION.findall(readme)
    assert quoted and all(q == tuple(f"{fitted[k]:.3f}" for k in ("temperature", "ece_before", "ece_after"))
                          for q in quoted), quoted
