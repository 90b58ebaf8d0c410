"""Spotting evaluation (MEGC rule) on hand-made intervals whose counts are worked out by hand."""

from __future__ import annotations

import csv
import json

import pytest

from app.errors import InputError
from models.spotting_eval import Interval, evaluate, iou, is_expression, match, read_spotted, read_truth

M, MA = "micro", "macro"


def test_iou_inclusive_frames():
    assert iou(Interval(0, 9, M), Interval(5, 14, M)) == pytest.approx(5 / 15)
    assert iou(Interval(0, 9, M), Interval(0, 9, M)) == 1.0
    assert iou(Interval(0, 4, M), Interval(5, 9, M)) == 0.0


def test_one_to_one_matching():
    truth = [Interval(10, 19, M)]
    # both overlap the truth with IoU >= 0.5, but only one can match it
    assert match([Interval(10, 19, M), Interval(11, 20, M)], truth) == 1
    assert match([Interval(10, 14, M)], truth) == 1  # IoU 5/10 = 0.5 exactly counts
    assert match([Interval(10, 13, M)], truth) == 0  # IoU 4/10


def test_counts_pooled_over_videos_per_kind_and_overall():
    truth = {
        "v1": [Interval(10, 19, M), Interval(100, 149, MA), Interval(300, 309, "blink")],
        "v2": [Interval(50, 59, M), Interval(80, 89, M)],
    }
    spotted = {
        "v1": [Interval(11, 20, M), Interval(100, 130, MA), Interval(200, 209, M)],
        "v2": [Interval(50, 58, M)],
    }
    # v1 micro: [11,20] vs [10,19]: 9/11 → TP; [200,209] FP. macro: [100,130] vs [100,149]: 31/50 → TP.
    # v2 micro: [50,58] vs [50,59]: 9/10 → TP; [80,89] missed.
    # micro: TP 2, spotted 3, truth 3 → F1 = 4/6.  macro: TP 1, spotted 1, truth 1 → F1 = 1.
    # overall: TP 3, spotted 4, truth 4 → F1 = 6/8. The blink is not scored.
    result = evaluate(spotted, truth)
    assert (result["micro"].tp, result["micro"].spotted, result["micro"].truth) == (2, 3, 3)
    assert result["micro"].f1 == pytest.approx(4 / 6)
    assert result["macro"].f1 == 1.0
    assert result["overall"].f1 == pytest.approx(6 / 8)
    assert result["overall"].precision == pytest.approx(3 / 4) and result["overall"].recall == pytest.approx(3 / 4)


def test_kind_must_agree():
    result = evaluate({"v": [Interval(0, 9, MA)]}, {"v": [Interval(0, 9, M)]})
    assert result["micro"].tp == 0 and result["micro"].f1 == 0.0 and result["overall"].f1 == 0.0


def write_events_csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["face_id", "onset_frame", "apex_frame", "offset_frame", "kind", "label"])
        writer.writeheader()
        for onset, offset, kind in rows:
            writer.writerow({"face_id": 0, "onset_frame": onset, "apex_frame": onset + 1, "offset_frame": offset,
                             "kind": kind, "label": "negative"})


def test_command_on_files(tmp_path, capsys):
    from app.cli import main as cli_main

    long = tmp_path / "long"
    long.mkdir()
    (long / "v1.json").write_text(json.dumps({"fps": 30, "intervals": [
        {"onset": 10, "apex": 14, "offset": 19, "kind": M}, {"onset": 100, "apex": 120, "offset": 149, "kind": MA}]}))
    (long / "v2.json").write_text(json.dumps({"fps": 30, "intervals": [{"onset": 50, "apex": 53, "offset": 59, "kind": M}]}))
    write_events_csv(tmp_path / "pred/v1/events.csv", [(10, 19, M), (300, 305, M)])
    (tmp_path / "pred/v2").mkdir(parents=True)
    (tmp_path / "pred/v2/events.json").write_text(json.dumps({"events": [{"onset_frame": 50, "offset_frame": 59, "kind": M}]}))
    out = tmp_path / "scores.json"
    assert cli_main(["evaluate-spotting", "--pred", str(tmp_path / "pred"), "--truth", str(long), "--out", str(out)]) == 0
    scores = json.loads(out.read_text())
    # micro: TP 2, spotted 3, truth 2 → 4/5; macro: TP 0, spotted 0, truth 1 → 0; overall: TP 2, 3, 3 → 4/6
    assert scores["micro"]["f1"] == pytest.approx(4 / 5)
    assert scores["macro"]["f1"] == 0.0
    assert scores["overall"]["f1"] == pytest.approx(4 / 6)
    assert "overall" in capsys.readouterr().out


def test_ground_truth_csv_and_single_video_pairing(tmp_path):
    table = tmp_path / "ground_truth.csv"
    table.write_text("video,onset,apex,offset,kind\nclipA.mp4,10,12,19,micro\nclipA.mp4,40,45,90,macro\n")
    assert read_truth(table) == {"clipA": [Interval(10, 19, M), Interval(40, 90, MA)]}
    write_events_csv(tmp_path / "run/events.csv", [(10, 19, M)])
    assert read_spotted(tmp_path / "run/events.csv") == {"run": [Interval(10, 19, M)]}


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(InputError, match="no events.json or events.csv"):
        read_spotted(tmp_path)
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(InputError, match="intervals"):
        read_truth(tmp_path / "x.json")
    write_events_csv(tmp_path / "bad/events.csv", [])
    (tmp_path / "bad/events.csv").write_text("onset_frame,kind\n1,micro\n")
    with pytest.raises(InputError, match="offset_frame"):
        read_spotted(tmp_path / "bad")


def test_motion_that_is_not_an_expression_is_not_scored_as_one(tmp_path, capsys):
    """An event the product reports as other motion (label none: a blink, speech, a hand) is kept in the
    files but is no spotted expression: evaluate-spotting leaves it out unless asked for every motion."""
    from app.cli import main as cli_main
    from app.events import Event

    def event(i, onset, offset, label):
        return Event(i, 0, onset, onset + 1, offset, onset / 30, (onset + 1) / 30, offset / 30,
                     (offset - onset) / 30 * 1000, M, 1.0, label=label)

    hand, smile = event(0, 10, 19, "none"), event(1, 50, 59, "uncertain")
    assert not hand.expression and hand.kind_text == "other motion" and hand.to_json()["expression"] is False
    assert smile.expression and smile.kind_text == M and smile.to_json()["expression"] is True
    truth = tmp_path / "v1.json"
    truth.write_text(json.dumps({"fps": 30, "intervals": [{"onset": 50, "apex": 53, "offset": 59, "kind": M}]}))
    (tmp_path / "pred/v1").mkdir(parents=True)
    (tmp_path / "pred/v1/events.json").write_text(json.dumps({"events": [hand.to_json(), smile.to_json()]}))
    assert read_spotted(tmp_path / "pred") == {"v1": [Interval(50, 59, M)]}
    assert read_spotted(tmp_path / "pred", all_motion=True) == {"v1": [Interval(10, 19, M), Interval(50, 59, M)]}
    # events.csv writes the flag as True/False; files from before the flag: label none is not an expression
    write_events_csv(tmp_path / "csv/v1/events.csv", [(10, 19, M)])
    with (tmp_path / "csv/v1/events.csv").open("a") as handle:
        handle.write("0,70,71,75,micro,none\n")
    assert read_spotted(tmp_path / "csv") == {"v1": [Interval(10, 19, M)]}
    rows = [{"onset_frame": 1, "offset_frame": 2, "kind": M, "expression": "False", "label": "negative"}]
    assert not is_expression(rows[0]) and is_expression({**rows[0], "expression": "True"})
    out = tmp_path / "scores.json"
    assert cli_main(["evaluate-spotting", "--pred", str(tmp_path / "pred"), "--truth", str(truth), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["overall"]["fp"] == 0
    assert cli_main(["evaluate-spotting", "--pred", str(tmp_path / "pred"), "--truth", str(truth), "--out", str(out),
                     "--all-motion"]) == 0
    assert json.loads(out.read_text())["overall"]["fp"] == 1
    assert "every spotted motion" in capsys.readouterr().out
