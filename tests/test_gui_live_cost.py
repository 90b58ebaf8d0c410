"""Issue 9: the app's live work per frame does not grow with the session's length.

The real window is fed three minutes of live results (synthetic frames, signal and events, as the analysis
thread posts them; the pipeline is left out so that minutes take seconds) and its 4-Hz timeline refresh is
run by the simulated clock. The timeline must hand its curves only the seconds in view, keep a bounded
number of scene items, repaint once per scroll, and show the whole kept history once live analysis stops.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication

from app.events import Event
from app.gui.controller import ShownFrame, State
from app.gui.images import bgr_image
from app.gui.records import (LIVE_EVENTS, LIVE_SIGNAL_S, AnalysisStore, Batch, EventView, FaceRecord, FrameRecord,
                             ProgressInfo)
from app.gui.timeline import LIVE_WINDOW_S
from app.sources import SourceInfo
from app.spotting_events import SpotSample
from tests.gui_fixtures import isolated_settings, qapp, window  # noqa: F401  (fixtures are found by name)

FPS = 30.0
REFRESH_FRAMES = 8  # the window's 4-Hz refresh, in frames at 30 fps (rounded up)


class PaintCounter(QObject):
    def __init__(self, target) -> None:
        super().__init__(target)
        self.count = 0
        target.installEventFilter(self)

    def eventFilter(self, _obj, event) -> bool:
        self.count += event.type() == QEvent.Paint
        return False


def _event_view(event_id: int, t: float) -> EventView:
    e = Event(event_id=event_id, face_id=0, onset_frame=0, apex_frame=1, offset_frame=2, onset_time=t - 0.5,
              apex_time=t - 0.4, offset_time=t - 0.2, duration_ms=300.0, kind="micro", spot_score=1.5,
              label="positive", probabilities={"negative": 0.1, "positive": 0.8, "surprise": 0.1},
              model_label="positive")
    picture = np.full((16, 16, 3), 90, np.uint8)
    return EventView(e, picture, picture, picture, np.full((16, 16, 4), 90, np.uint8), picture[:8, :8], t)


def test_live_timeline_cost_is_bounded_by_the_view_not_the_session(qtbot, window):
    win = window
    win.timeline_timer.stop()  # refreshed below by the simulated clock
    info = SourceInfo("camera", "camera 0", FPS, 64, 48, None, True)
    controller = win.controller
    controller.source_info, controller.store = info, AnalysisStore(FPS, live=True)
    controller._set_state(State.LIVE)
    win.opened(info, False)
    image = bgr_image(np.zeros((48, 64, 3), np.uint8))
    face = FaceRecord(0, 0.9, (10.0, 10.0, 30.0, 30.0), np.zeros((478, 2), np.float16), np.eye(2, 3))
    events = [0]

    def play(frames: range, paint: bool = False) -> None:
        for k in frames:
            t = k / FPS
            record = FrameRecord(k, t, (face,), 5.0)
            value = 1.0 if k % 90 == 0 else 0.5  # the y range stays put: a repaint is the scroll's alone
            batch = Batch([record], [SpotSample(k, t, value, 1.2, 0.3)], progress=ProgressInfo(k + 1))
            if k % FPS == FPS - 1 and not paint:  # an event a second
                events[0] += 1
                batch.events.append(_event_view(events[0], t))
            win.results(controller._take(batch), ShownFrame(image, record))
            if k % REFRESH_FRAMES == 0:
                win._refresh_timeline()
                if paint:
                    QApplication.processEvents()

    minute = int(60 * FPS)
    play(range(0, 2 * minute))
    QApplication.processEvents()
    items_at_2 = len(win.timeline.scene().items())
    play(range(2 * minute, 3 * minute))
    QApplication.processEvents()
    timeline = win.timeline
    assert abs(len(timeline.scene().items()) - items_at_2) <= 8  # spans come and go, their number stays
    assert len(timeline.spans) <= LIVE_SIGNAL_S + 1
    assert win.events_panel.rowCount() == LIVE_EVENTS
    times = timeline.signal.xData
    now = (3 * minute - 1) // REFRESH_FRAMES * REFRESH_FRAMES / FPS  # the last refresh
    assert len(times) <= (LIVE_WINDOW_S + 1) * FPS and times[-1] == now  # only what is in view is drawn
    assert times[1] >= now - LIVE_WINDOW_S

    paints = PaintCounter(timeline.viewport())
    scrolls = 12
    play(range(3 * minute, 3 * minute + scrolls * REFRESH_FRAMES), paint=True)
    assert paints.count == scrolls  # pyqtgraph's y auto-range and its lazy view transform made it two

    controller._set_state(State.IDLE)  # stopped: the whole kept history, to pan through
    times = timeline.signal.xData
    assert times[-1] - times[0] >= LIVE_SIGNAL_S - 1
