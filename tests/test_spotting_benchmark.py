"""The spotting benchmark keeps its development and reported seeds apart."""

from __future__ import annotations

from models.spotting_benchmark import DEV_SEED, REPORT_SEED, main


def test_defaults_cannot_be_chosen_on_the_reported_seed(tmp_path, capsys):
    assert DEV_SEED != REPORT_SEED
    assert main(["--choose", "--seed", str(REPORT_SEED), "--out", str(tmp_path)]) == 2
    assert "reported seed" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing rendered
