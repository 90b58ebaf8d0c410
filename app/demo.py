"""The bundled demo clip: rendered by ``python main.py make-demo`` from a public-domain photograph."""

from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"
DEMO_CLIP = ASSETS / "demo.mp4"
DEMO_TRUTH = ASSETS / "demo_truth.json"
