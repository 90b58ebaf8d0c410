"""Metrics by hand, LOSO folds without leaks, fixed-epoch predictions, and the train command end to end."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import onnx
import pytest
import torch

from app.model_card import InputSpec, ModelCard
from models.epir import EPIREnsemble
from models.epir_config import EPIRConfig
from models.layers import mirror
from models.losses import class_weights, supcon_loss
from models.megc2019_recipe import RECIPE
from models.metrics import confusion_matrix, scores
from models.train import (TrainConfig, balanced_order, input_mirror, loso_folds, predict, random_affine, random_erase,
                          run_loso, train_model)

TINY = EPIRConfig(dim=32, depth=2, heads=2, integration_blocks=(0,), dtsm_tokens=4, proj_dim=16)
FAST = TrainConfig(epochs=2, batch_size=8, warmup_epochs=1)


def test_scores_by_hand():
    truth = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    pred = np.array([0, 0, 1, 2, 1, 1, 2, 0])
    m = confusion_matrix(truth, pred, 3)
    assert m.tolist() == [[2, 1, 1], [0, 2, 0], [1, 0, 1]]
    s = scores(m)
    # class 0: P 2/3, R 2/4 → F1 4/7; class 1: P 2/3, R 1 → 4/5; class 2: P 1/2, R 1/2 → 1/2
    assert s.uf1 == pytest.approx((4 / 7 + 4 / 5 + 1 / 2) / 3)
    assert s.uar == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert s.accuracy == pytest.approx(5 / 8)


def test_absent_class_left_out_of_the_means():
    s = scores(confusion_matrix(np.array([0, 1]), np.array([0, 1]), 3))
    assert s.uf1 == 1.0 and s.uar == 1.0 and np.isnan(s.f1[2])


def test_class_weights_from_training_labels():
    w = class_weights(np.array([0, 0, 0, 1]), 3)
    assert w.tolist() == pytest.approx([4 / 6, 4 / 2, 0.0])


def test_supcon_lower_for_clustered_embeddings():
    labels = torch.tensor([0, 0, 1, 1])
    good = torch.nn.functional.normalize(torch.tensor([[1.0, 0], [1, 0.1], [0, 1], [0.1, 1]]), dim=1)
    bad = good[[0, 2, 1, 3]]
    assert supcon_loss(good, labels) < supcon_loss(bad, labels)


def test_mirror_turns_horizontal_flow_the_other_way_in_its_own_value_range():
    signed = input_mirror(InputSpec(channels=("v", "u", "strain"), normalisation="per_sample_max"))
    assert signed == {"mirror_negate": (1,), "mirror_offset": 0.0}
    scaled = input_mirror(InputSpec.whole())
    assert scaled == {"mirror_negate": (0,), "mirror_offset": 1.0}
    # A min-max scaled u of a face moving right, mirrored, must be the min-max scaling of the face moving left.
    u = torch.linspace(-2.0, 3.0, 16).reshape(1, 1, 4, 4)
    x = torch.cat([u, u * 0.5, u.abs()], dim=1)
    minmax = lambda t: (t - t.amin(dim=(2, 3), keepdim=True)) / (t.amax(dim=(2, 3), keepdim=True) - t.amin(dim=(2, 3), keepdim=True))
    moved_left = torch.cat([-u.flip(-1), (u * 0.5).flip(-1), u.abs().flip(-1)], dim=1)
    mirrored = mirror(minmax(x), scaled["mirror_negate"], scaled["mirror_offset"])
    assert torch.allclose(mirrored, minmax(moved_left), atol=1e-6)
    assert mirrored.min() >= 0.0  # plain negation would put u in [-1, 0]
    assert torch.allclose(mirror(x, signed["mirror_negate"], 0.0)[:, 1], -x[:, 1].flip(-1))


def test_loso_never_leaks_the_test_subject():
    subjects = ["a", "a", "b", "c", "c", "c"]
    folds = loso_folds(subjects)
    assert [f.subject for f in folds] == ["a", "b", "c"]
    assert sorted(np.concatenate([f.test for f in folds]).tolist()) == list(range(6))
    for f in folds:
        assert all(subjects[i] == f.subject for i in f.test)
        assert all(subjects[i] != f.subject for i in f.train)


def separable(n_per_class: int = 4, subjects: int = 3, seed: int = 0):
    """Inputs whose class is the sign/location of a blob of flow, per subject."""
    rng = np.random.default_rng(seed)
    x, y, who = [], [], []
    for s in range(subjects):
        for k in range(3):
            for _ in range(n_per_class):
                t = rng.normal(0, 0.05, (3, 28, 28)).astype(np.float32)
                t[k, 4:12, 4:12] += 1.0
                x.append(t)
                y.append(k)
                who.append(f"S{s}")
    return np.stack(x), np.array(y), who


def test_fold_predictions_come_from_the_model_after_the_last_epoch():
    x, y, who = separable()
    result = run_loso(x, y, who, ("negative", "positive", "surprise"), TINY, FAST)
    for fold in result.folds:
        assert fold.subject not in fold.train_subjects
    # retrain the first fold from scratch with the same recipe: same weights, same test predictions
    first = loso_folds(who)[0]
    model = train_model(x[first.train], y[first.train], TINY, FAST)
    assert np.allclose(predict(model, x[first.test]), result.folds[0].probabilities, atol=1e-5)
    assert result.confusion.sum() == len(y)
    assert set(result.as_dict()) >= {"uf1", "uar", "accuracy", "confusion", "folds"}


def test_ensemble_is_its_members_trained_with_consecutive_seeds_logits_averaged():
    x, y, _ = separable(n_per_class=2, subjects=1)
    ensemble = train_model(x, y, TINY, replace(FAST, ensemble=2, seed=3))
    assert isinstance(ensemble, EPIREnsemble) and len(ensemble.members) == 2
    first, second = (train_model(x, y, TINY, replace(FAST, seed=s)) for s in (3, 4))
    inputs = torch.from_numpy(x)
    with torch.no_grad():
        logits, attention, _ = ensemble(inputs)
        assert torch.allclose(logits, (first(inputs)[0] + second(inputs)[0]) / 2, atol=1e-5)
        assert not torch.allclose(first(inputs)[0], second(inputs)[0], atol=1e-3)
    assert torch.allclose(attention.sum(dim=(1, 2)), torch.ones(len(x)), atol=1e-5)
    with pytest.raises(ValueError, match="ensemble"):
        TrainConfig(ensemble=0)


def test_parallel_folds_match_serial():
    x, y, who = separable(n_per_class=2)
    classes = ("negative", "positive", "surprise")
    serial = run_loso(x, y, who, classes, TINY, FAST)
    parallel = run_loso(x, y, who, classes, TINY, FAST, workers=2)
    assert np.array_equal(serial.predictions, parallel.predictions)


def test_train_command_writes_metrics_plot_checkpoint_and_onnx(tmp_path):
    from app.cli import main as cli_main
    from tests.test_datasets import make_synthetic

    root = make_synthetic(tmp_path / "synth", subjects=3, per_class=1)
    run = tmp_path / "run"
    config = {"model": {"dim": 32, "depth": 2, "heads": 2, "integration_blocks": [0], "dtsm_tokens": 4, "proj_dim": 16},
              "train": {"warmup_epochs": 1}}
    code = cli_main(["train", "--dataset", "synthetic", "--root", str(root), "--protocol", "loso", "--out", str(run),
                     "--epochs", "2", "--batch-size", "4", "--loss", "ce+supcon", "--cache", str(tmp_path / "cache"),
                     "--config-json", json.dumps(config)])
    assert code == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"uf1", "uar", "accuracy", "confusion", "folds", "classes", "wall_seconds"} <= set(metrics)
    assert len(metrics["folds"]) == 3 and np.array(metrics["confusion"]).sum() == 9
    assert metrics["synthetic"] is True and metrics["config"]["epochs"] == 2
    assert (run / "confusion.png").stat().st_size > 0 and (run / "final.pt").exists()
    proto = onnx.load(str(run / "model.onnx"))
    card = ModelCard.from_metadata({p.key: p.value for p in proto.metadata_props}, "model.onnx")
    assert card.classes == ("negative", "positive", "surprise") and card.synthetic
    assert card.training["dataset"] == "synthetic" and card.training["protocol"] == "loso"
    assert card.metrics["uf1"] == pytest.approx(metrics["uf1"])
    assert card.input.height == 28 and "synthetic" in card.honesty_note


def test_train_command_bad_root(tmp_path, capsys):
    from app.cli import main as cli_main

    code = cli_main(["train", "--dataset", "casme2", "--root", str(tmp_path), "--out", str(tmp_path / "run")])
    assert code == 2 and "CASME2-coding" in capsys.readouterr().err


def test_train_on_published_flows_reports_per_dataset_calibrates_and_says_research_use(tmp_path):
    from app.cli import main as cli_main
    from tests.test_datasets import make_megc2019_flows

    root = make_megc2019_flows(tmp_path / "flows")
    run = tmp_path / "run"
    config = {"model": {"dim": 32, "depth": 2, "heads": 2, "local_blocks": 1, "integration_blocks": [0], "dtsm_tokens": 4,
                        "proj_dim": 16}, "train": {"warmup_epochs": 1}}  # the shipped recipe's shape (spatial), tiny
    code = cli_main(["train", "--dataset", "megc2019-flows", "--root", str(root), "--out", str(run), "--epochs", "2",
                     "--batch-size", "2", "--config-json", json.dumps(config)])
    assert code == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["per_dataset"]) == {"casme2", "samm", "smic"}
    assert metrics["per_dataset"]["casme2"]["samples"] == 2 and len(metrics["folds"]) == 4
    assert np.array(metrics["per_dataset"]["casme2"]["confusion"]).sum() == 2
    calibration = metrics["calibration"]
    assert calibration["temperature"] > 0 and 0 <= calibration["ece_after"] <= 1
    proto = onnx.load(str(run / "model.onnx"))
    card = ModelCard.from_metadata({p.key: p.value for p in proto.metadata_props}, "model.onnx")
    assert card.input.region_layout == "whole" and card.input.normalisation == "minmax"
    # The mirror it trained with is in the card: u -> -u, the shipped recipe's pin (1 - u without it).
    assert (metrics["model"]["mirror_negate"], metrics["model"]["mirror_offset"]) == ([0], 0.0)
    assert card.architecture["config"]["mirror_offset"] == RECIPE["model"]["mirror_offset"] == 0.0
    assert card.calibration is not None and card.calibration.temperature == pytest.approx(calibration["temperature"])
    assert not card.synthetic and card.training["research_use_only"] and "HTNet" in card.training["source"]
    assert any("research use only" in c for c in card.caveats) and "research use only" in card.honesty_note
    assert set(card.metrics["per_dataset"]) == {"casme2", "samm", "smic"}


def test_temperature_scaling_lowers_the_calibration_error_of_overconfident_predictions():
    from models.calibration import expected_calibration_error, fit_temperature

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 600)
    logits = rng.normal(0, 1, (600, 3))
    logits[np.arange(600), truth] += 1.0  # right about 60% of the time ...
    sharp = np.exp(4 * logits)  # ... but nearly always ~100% sure
    probabilities = sharp / sharp.sum(axis=1, keepdims=True)
    calibration = fit_temperature(probabilities, truth, "test")
    assert calibration.temperature == pytest.approx(4.0, rel=0.25)
    assert calibration.ece_after < calibration.ece_before / 3
    assert calibration.ece_before == pytest.approx(expected_calibration_error(probabilities, truth), abs=1e-4)


def test_experiment_groups_keep_every_subject_in_one_group():
    from models.megc2019_experiment import grouped_subjects

    subjects = ["casme2:sub01", "casme2:sub01", "casme2:sub02", "samm:006", "smic:s01", "smic:s02"]
    groups = grouped_subjects(subjects, 2)
    assert groups == ["group0", "group0", "group1", "group0", "group1", "group0"]
    assert grouped_subjects(subjects, 0) == subjects


def test_experiment_averages_seeds_and_logs_each(tmp_path, monkeypatch):
    """Two seeds of one recipe differ by up to 0.05 UF1 here, so the dev protocol compares seed means."""
    from models import megc2019_experiment
    from tests.test_datasets import make_megc2019_flows

    log = tmp_path / "log.tsv"
    monkeypatch.setattr("sys.argv", [
        "x", "--root", str(make_megc2019_flows(tmp_path / "data")), "--name", "row", "--kfold", "2", "--seeds", "0,1",
        "--workers", "1", "--log", str(log), "--config-json", '{"train": {"epochs": 1, "warmup_epochs": 0}}'])
    assert megc2019_experiment.main() == 0
    lines = [line.split("\t") for line in log.read_text().splitlines()]
    assert [line[0] for line in lines] == ["row/seed0", "row/seed1", "row/mean", "row/ensemble"]
    uf1 = [float(line[1].split()[1]) for line in lines]
    assert uf1[2] == pytest.approx((uf1[0] + uf1[1]) / 2, abs=1e-4)
    assert json.loads(lines[2][-1]) == {"kfold": 2, "seeds": [0, 1], "train": {"epochs": 1, "warmup_epochs": 0}}


def test_experiment_ensemble_averages_logits_not_probabilities():
    from models.megc2019_experiment import ensemble_predictions

    confident = np.log([[0.90, 0.09, 0.01]])
    split = np.log([[0.01, 0.49, 0.50]])
    # Averaged probabilities would pick class 0 (0.455); averaged log-probabilities (logits) pick class 1.
    assert ensemble_predictions([confident, split]).tolist() == [1]
    assert ensemble_predictions([confident]).tolist() == [0]


def test_affine_augmentation_turns_and_zooms_the_face_within_its_value_range():
    x = torch.zeros(1, 3, 28, 28)
    x[:, :, 4:8, 12:16] = 1.0  # a patch of motion above the centre
    g = torch.Generator().manual_seed(0)
    turned = random_affine(x.expand(64, -1, -1, -1), 30.0, 0.0, g)
    assert turned.min() >= 0.0 and turned.max() <= 1.0
    rows, cols = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    centre_x = (turned[:, 0] * cols).sum(dim=(1, 2)) / turned[:, 0].sum(dim=(1, 2))
    assert centre_x.std() > 1.0  # moved sideways by different rotations
    dist = lambda t: (((rows - 13.5) ** 2 + (cols - 13.5) ** 2).sqrt() * t[:, 0]).sum(dim=(1, 2)) / t[:, 0].sum(dim=(1, 2))
    assert torch.allclose(dist(turned), dist(x).expand(64), atol=0.6)  # a rotation keeps the distance to the centre
    zoomed = random_affine(x.expand(64, -1, -1, -1), 0.0, 0.2, g)
    assert dist(zoomed).std() > 0.3 and (zoomed - x).abs().amax(dim=(1, 2, 3)).max() > 0.1


def test_erasing_replaces_one_square_by_the_median_and_nothing_else():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(32, 3, 28, 28)
    out = random_erase(x, 1.0, 7, g)
    changed = (out != x).any(dim=1)
    median = x.flatten(2).median(dim=2).values
    for i in range(32):
        ys, xs = changed[i].nonzero(as_tuple=True)
        assert ys.max() - ys.min() <= 6 and xs.max() - xs.min() <= 6
        assert torch.equal(out[i, :, ys[0], xs[0]], median[i])
    assert torch.equal(random_erase(x, 0.0, 7, g), x)


def test_balanced_order_draws_every_class_about_equally():
    y = torch.tensor([0] * 250 + [1] * 109 + [2] * 83)
    drawn = y[balanced_order(y, torch.Generator().manual_seed(0))]
    assert len(drawn) == len(y)
    assert (torch.bincount(drawn, minlength=3).float() / len(y) - 1 / 3).abs().max() < 0.06
    with pytest.raises(ValueError, match="rotate"):
        TrainConfig(rotate=90.0)


def test_augmented_balanced_recipe_trains_and_depends_on_its_options():
    x, y, _ = separable()
    config = replace(FAST, rotate=10.0, scale=0.1, erase=0.5, balanced=True)
    probabilities = predict(train_model(x, y, TINY, config), x)
    assert np.isfinite(probabilities).all()
    assert not np.allclose(probabilities, predict(train_model(x, y, TINY, FAST), x))
