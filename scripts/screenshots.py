"""Screenshots of the app for the README, taken under a virtual X server (Xvfb).

    python scripts/screenshots.py [--model PATH] [--out docs/screenshots]

Starts Xvfb (Debian package ``xvfb``) when there is no display, opens the real window on the bundled
demo clip, and saves: live.png (the demo clip analysed live, an event on the face), review.png (the
clip analysed as a recording, an event selected), settings.png. Settings are kept in a temporary folder,
so the user's own are neither used nor changed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def start_xvfb(size: str = "1600x1000x24") -> subprocess.Popen | None:
    """A virtual screen on a free display number; None when a display already exists."""
    if os.environ.get("DISPLAY"):
        return None
    if not shutil.which("Xvfb"):
        sys.exit("Xvfb not found: apt-get install xvfb (or run under any X display)")
    for number in range(99, 140):
        if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
            continue
        server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", size, "-nolisten", "tcp"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                os.environ["DISPLAY"] = f":{number}"
                return server
            if server.poll() is not None:
                break
            time.sleep(0.1)
        server.kill()
    sys.exit("could not start Xvfb")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="EPIR model file (default: the shipped one, when installed)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    server = start_xvfb()
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    try:
        return shoot(args)
    finally:
        if server is not None:
            server.terminate()
            server.wait()


def shoot(args: argparse.Namespace) -> int:
    from PySide6.QtCore import QSettings

    from app.demo import DEMO_CLIP
    from app.gui.main import create_application, release

    app = create_application([])
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, tempfile.mkdtemp(prefix="epir-shots-"))
    from app.gui.settings import SettingsDialog
    from app.gui.window import MainWindow

    def wait(condition, seconds: float) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            if condition():
                return True
            time.sleep(0.01)
        return False

    def save(widget, name: str) -> None:
        for _ in range(5):
            app.processEvents()
        path = args.out / name
        widget.grab().save(str(path))
        print(f"saved {path}")

    window = MainWindow()
    window.resize(1500, 920)
    window.show()
    if args.model:
        window.settings.model_path = str(args.model)
        window.load_model()
    wait(lambda: not window.model_loading, 30)
    window.apply_settings(window.settings.__class__(**{**window.settings.__dict__, "show_landmarks": True}))

    window.start_demo()  # live: wait for an event drawn on the face, a moment after it was spotted
    if not wait(lambda: window.view.events and window.view.events[-1][1] > 0.95, 90):
        print("warning: no event appeared in live mode", file=sys.stderr)
    save(window, "live.png")

    window.apply_settings(window.settings.__class__(**{**window.settings.__dict__, "show_landmarks": False}))
    window.open_video(DEMO_CLIP)
    wait(lambda: window.store is not None and not window.store.live and window.store.progress.done, 120)
    if window.events_panel.views:
        best = max(range(len(window.events_panel.views)),
                   key=lambda i: window.events_panel.views[i].event.spot_score)
        window.events_panel.selectRow(best)
        apex = window.events_panel.views[best].event.apex_frame
        wait(lambda: window.view.index >= apex, 10)
        window.player.pause()
    save(window, "review.png")

    dialog = SettingsDialog(window.settings, window.cameras, window)
    dialog.show()
    save(dialog, "settings.png")
    dialog.close()
    release(window)
    return 0


if __name__ == "__main__":
    sys.exit(main())
