"""The real-data model's figures say the same thing everywhere: README, models/megc2019/metrics.json and the
model card inside the ONNX file (read back through ONNX Runtime, as the app reads it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.model_card import ModelCard
from tests.onnx_fixtures import card_in

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / "megc2019"
# The shipped row of the results table: composite, then CASME II, SAMM, SMIC (UF1 / UAR each).
ROW = re.compile(r"\| \*\*EPIR here, shipped recipe\*\*[^|]*\| \*\*(\d\.\d{3}) / (\d\.\d{3})\*\* \| "
                 r"(\d\.\d{3}) / (\d\.\d{3}) \| (\d\.\d{3}) / (\d\.\d{3}) \| (\d\.\d{3}) / (\d\.\d{3}) \|")
CALIBRATION = re.compile(r"out-of-fold LOSO predictions \(each from a model that never\s+saw that subject\): "
                         r"T = (\d\.\d{2}), expected calibration error \(15 bins\) (\d\.\d{3}) → (\d\.\d{3})")


@pytest.fixture(scope="module")
def metrics() -> dict:
    return json.loads((SHIPPED / "metrics.json").read_text())


@pytest.fixture(scope="module")
def card() -> ModelCard:
    return card_in(SHIPPED / "epir_megc2019.onnx")


def test_metrics_json_and_the_onnx_card_agree(metrics, card):
    for key in ("uf1", "uar", "accuracy", "subjects", "samples"):
        assert card.metrics[key] == metrics[key], key
    for name, scores in metrics["per_dataset"].items():
        assert card.metrics["per_dataset"][name]["uf1"] == scores["uf1"], name
    assert card.training["config"] == metrics["config"] and card.architecture["config"] == metrics["model"]
    members = metrics["config"].get("ensemble", 1)
    assert card.architecture.get("ensemble", {"members": 1})["members"] == members
    fitted = metrics["calibration"]
    assert card.calibration is not None and card.calibration.temperature == fitted["temperature"]
    assert (card.calibration.ece_before, card.calibration.ece_after) == (fitted["ece_before"], fitted["ece_after"])


def test_the_readme_quotes_the_shipped_figures(metrics):
    readme = (ROOT / "README.md").read_text()
    rows = ROW.findall(readme)
    assert len(rows) == 1, "README's results table has no single shipped row"
    expected = tuple(f"{d[m]:.3f}" for d in (metrics, *(metrics["per_dataset"][k] for k in ("casme2", "samm", "smic")))
                     for m in ("uf1", "uar"))
    assert rows[0] == expected
    quoted = CALIBRATION.findall(readme)
    fitted = metrics["calibration"]
    assert quoted == [(f"{fitted['temperature']:.2f}", f"{fitted['ece_before']:.3f}", f"{fitted['ece_after']:.3f}")]
