"""Saved sessions: a local SQLite library, a live recorder, review queries and reports.

    library = Library()                          # $EPIR_LIVE_LIBRARY or the platform data folder
    with library.start_session("interview 3", source.info, settings, classifier) as recorder:
        for result in pipeline.run(source):
            recorder.feed(result)                # events/markers committed at once, frames every 0.25 s
        recorder.add_marker(label="question 3 asked")
    session = library.load(recorder.session_id)

Libraries are private to their user (0700/0600) and may be encrypted: ``Library(path, passphrase)`` opens
one, ``Library(path, passphrase, encrypt="passphrase")`` creates one (crypto.py, privacy.py).

Nothing here imports Qt or torch; the report's plot uses matplotlib's Agg canvas, imported on use.
"""

from app.sessions.library import LIBRARY_ENV, Library, default_library_dir
from app.sessions.models import Marker, Note, Session, SessionInfo, Signal, StoredEvent
from app.sessions.recorder import Recorder

__all__ = ["LIBRARY_ENV", "Library", "default_library_dir", "Marker", "Note", "Session", "SessionInfo", "Signal",
           "StoredEvent", "Recorder"]
