"""``--max-faces 1`` writes what the one-face analysis wrote before several faces were tracked.

The golden files in ``tests/golden/single_face/`` were written by the code at commit 16a935c (before
issue 12) from the first 5 s of the bundled demo clip (a PNG frame folder, so no codec is involved):
this test runs today's ``analyze --max-faces 1`` on the same frames and wants every byte of frames.csv
(less the face box columns added since), events.csv and events.json (less run times and paths) the same.
Both run the shipped model on ONNX Runtime's CPU provider (a GPU's arithmetic differs in the last digits).
The bytes are those of this machine's CPU (x86-64); MediaPipe's and ONNX Runtime's kernels may round the
last printed digit differently on another CPU family.

A change that is *meant* to alter one-face results (spotting, labels, the model) must regenerate the
golden files, after checking that the difference is that change's alone:
``PYTHONPATH=. python -m tests.test_single_face_golden --write``.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import cv2

from app.cli import main as cli_main
from app.demo import DEMO_CLIP

GOLDEN = Path(__file__).resolve().parent / "golden" / "single_face"
FRAMES = 150  # 5 s at 30 fps: two of the demo clip's micro-expressions
BOX_COLUMNS = ("face_x", "face_y", "face_w", "face_h")
RUN_DEPENDENT = ("seconds", "fps")  # events.json summary fields measured on the clock


def demo_frames(folder: Path) -> Path:
    """The demo clip's first ``FRAMES`` frames as lossless PNG files."""
    folder.mkdir(parents=True, exist_ok=True)
    capture = cv2.VideoCapture(str(DEMO_CLIP))
    for i in range(FRAMES):
        ok, image = capture.read()
        assert ok, f"demo clip ended at frame {i}"
        cv2.imwrite(str(folder / f"frame{i:04d}.png"), image)
    capture.release()
    return folder


def analyse(folder: Path, out: Path, *options: str) -> Path:
    code = cli_main(["analyze", str(folder), "--out", str(out), "--fps", "30", "--no-progress", "--provider", "cpu",
                     *options])
    assert code == 0
    return out


def normalised(out: Path) -> dict[str, str]:
    """The three output files as text, without the columns and fields that may differ between runs."""
    with open(out / "frames.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    keep = [i for i, name in enumerate(rows[0]) if name not in BOX_COLUMNS]
    frames = io.StringIO(newline="")
    csv.writer(frames, lineterminator="\n").writerows([[row[i] for i in keep] for row in rows])
    report = json.loads((out / "events.json").read_text(encoding="utf-8"))
    for name in RUN_DEPENDENT:
        report["summary"].pop(name)
    report["source"].pop("path")
    report["model"].pop("path")  # where the project is checked out
    report.pop("software")
    return {"frames.csv": frames.getvalue(), "events.csv": (out / "events.csv").read_text(encoding="utf-8"),
            "events.json": json.dumps(report, indent=1, sort_keys=True) + "\n"}


def test_max_faces_1_gives_the_one_face_outputs_byte_for_byte(tmp_path):
    out = analyse(demo_frames(tmp_path / "frames"), tmp_path / "out", "--max-faces", "1")
    with open(out / "frames.csv", newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header[1:6] == ["face_id", *BOX_COLUMNS]  # the box right after face_id
    got = normalised(out)
    assert got["frames.csv"].count("\n") == FRAMES + 1  # one row per frame: one face
    assert '"event_id": 1' in got["events.json"]  # something was spotted, so the events are compared too
    for name, text in got.items():
        expected = (GOLDEN / name).read_text(encoding="utf-8")
        assert text == expected, (f"{name} differs from the one-face golden file; if the change is meant, "
                                  "regenerate: python -m tests.test_single_face_golden --write")


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        written = normalised(analyse(demo_frames(Path(work) / "frames"), Path(work) / "out"))
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, text in written.items():
        (GOLDEN / name).write_text(text, encoding="utf-8")
    print(f"wrote {', '.join(written)} to {GOLDEN}")
