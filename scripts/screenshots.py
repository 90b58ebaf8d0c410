"""Screenshots of the app for the README, taken under a virtual X server (Xvfb).

    python scripts/screenshots.py [--model PATH] [--out docs/screenshots]

Starts Xvfb (Debian package ``xvfb``) when there is no display, opens the real window on the bundled
demo clip, and saves: live.png (the demo clip analysed live, an event on the face), review.png (the
clip analysed as a recording, an event selected), settings.png, session_review.png (the clip recorded as
a live session with markers, reopened in the session library) and report.png (that session's HTML report
rendered by headless Chromium, when installed). Settings and the session library are kept in a temporary
folder, so the user's own are neither used nor changed.
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
    scratch = Path(tempfile.mkdtemp(prefix="epir-shots-"))
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(scratch / "settings"))
    from app.sessions import LIBRARY_ENV
    os.environ[LIBRARY_ENV] = str(scratch / "library")
    from app.gui.feeds import clip_feed
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

    window.session_label.setText("demo on stage")
    window.start_demo()  # live: wait for an event drawn on the face, a moment after it was spotted
    if not wait(lambda: window.view.events and window.view.events[-1][1] > 0.95, 90):
        print("warning: no event appeared in live mode", file=sys.stderr)
    save(window, "live.png")
    window.stop_analysis()
    wait(lambda: window.controller.last_session_id is not None, 30)

    window.apply_settings(window.settings.__class__(**{**window.settings.__dict__, "show_landmarks": False}))
    window.open_video(DEMO_CLIP)
    wait(lambda: window.store is not None and not window.store.live and window.store.progress.done, 120)
    window._refresh_timeline()
    if window.events_panel.views:
        best = max(range(len(window.events_panel.views)),
                   key=lambda i: window.events_panel.views[i].event.spot_score)
        window.events_panel.selectRow(best)
        apex = window.events_panel.views[best].event.apex_frame
        wait(lambda: window.view.index >= apex, 10)
        window.player.pause()
    save(window, "review.png")

    model_flow = window.classifier.card.input.flow_method if window.classifier else None
    dialog = SettingsDialog(window.settings, window.cameras, window, model_flow)
    dialog.show()
    save(dialog, "settings.png")
    dialog.close()

    # A live session with two markers and a pause, reopened for review, and its report.
    window.session_label.setText("interview 3 (demo clip)")
    window.start_live(clip_feed(DEMO_CLIP))
    for at, note in ((2.0, "question 1 asked"), (5.5, "question 2 asked")):
        wait(lambda: (window.latest_time or 0) >= at, 60)
        window.mark()
        window.marker_note.setText(note)
        window._save_marker_note()
        if at == 2.0:
            window.toggle_pause()
            wait(lambda: False, 1.0)
            window.toggle_pause()
    previous = window.controller.last_session_id
    wait(lambda: window.session is None, 120)  # the clip ends: the session is finished
    wait(lambda: window.controller.last_session_id != previous, 30)
    session_id = window.controller.last_session_id
    sessions = window.open_sessions()
    sessions.resize(1500, 920)
    sessions.select(session_id)
    wait(lambda: sessions.review.session is not None, 30)
    review = sessions.review
    review.note_edit.setText("Relaxed at the start; long smile after question 2.")
    review.note_edit.returnPressed.emit()  # added to the library, then the session is reloaded
    wait(lambda: review.notes.count() == 1, 30)
    if review.events.views:
        review.events.selectRow(max(range(len(review.events.views)),
                                    key=lambda i: review.events.views[i].event.spot_score))
    if review.markers.count() >= 2:
        review.markers.item(0).setSelected(True)
        review.markers.item(1).setSelected(True)
    save(sessions, "session_review.png")

    report = scratch / "report.html"
    sessions.export(session_id, report)
    wait(lambda: report.is_file() and not sessions.tasks, 60)
    release(window)
    render_page(report, args.out / "report.png")
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars")


def render_page(page: Path, png: Path, size: str = "1200,1600") -> None:
    """A screenshot of a local HTML page by headless Chromium (offline: no background networking)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        print("warning: no Chromium installed: report.png not taken", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}",
                        f"--window-size={size}", page.resolve().as_uri()], check=True, timeout=120,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"saved {png}")


if __name__ == "__main__":
    sys.exit(main())
