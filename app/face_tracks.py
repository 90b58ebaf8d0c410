"""Stable identities for the faces of a recording: each detection is matched to a face track.

MediaPipe reports the faces of a frame in no particular order, so ids come from here: a detection is
matched to the track whose box is nearest where that track's face should be now (its last box moved on
at its recent velocity, for at most ``predict_s``, so faces that cross keep their ids), measured as
centre distance in face widths; greedy on the cost matrix, cheapest pair first (with a handful of faces
this is the optimal assignment in practice). A track that misses frames lives on for ``max_absence_s``
and re-claims a face that comes back near where it was last seen; after that, a face there starts a new
track with a new id (no re-identification by appearance). With ``max_faces == 1`` there is one track, id 0, that never ends: the largest face in view
is "the face", as before several faces were tracked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.face import FaceObservation

Box = tuple[float, float, float, float]  # x, y, w, h in frame pixels
SPEED_GAP_S = 0.5  # a face seen again after longer than this starts moving from rest


@dataclass(frozen=True)
class TrackOptions:
    max_faces: int = 1  # 1: one track, id 0, that never ends
    max_absence_s: float = 2.0  # a face away longer than this comes back with a new id
    max_jump: float = 1.0  # a detection further than this (centre distance / face width) is another face
    predict_s: float = 0.5  # a track's box is moved on at its velocity for at most this long


@dataclass(frozen=True)
class TrackedFaces:
    """One frame's faces with their track ids (``face_id``), in id order, and the living tracks whose
    face is not in this frame (their continuity breaks here)."""

    faces: tuple[FaceObservation, ...]
    missing: tuple[int, ...]
    ended: tuple[int, ...] = ()  # tracks that ended at this frame (absent too long): forget their state


@dataclass(frozen=True)
class _Track:
    box: Box
    last_seen: float  # source time
    velocity: tuple[float, float] = (0.0, 0.0)  # of the box centre, pixels per second (smoothed)

    def predicted(self, timestamp: float, horizon_s: float) -> Box:
        dt = min(max(timestamp - self.last_seen, 0.0), horizon_s)
        x, y, w, h = self.box
        return x + self.velocity[0] * dt, y + self.velocity[1] * dt, w, h

    def seen(self, box: Box, timestamp: float) -> "_Track":
        dt = timestamp - self.last_seen
        if not 0 < dt <= SPEED_GAP_S:  # after a gap (or on a clock that stood still) the old speed says nothing
            return _Track(box, timestamp)
        step = [(box[k] + box[k + 2] / 2 - self.box[k] - self.box[k + 2] / 2) / dt for k in (0, 1)]
        return _Track(box, timestamp, tuple(0.5 * v + 0.5 * s for v, s in zip(self.velocity, step)))


class FaceTracks:
    """Assigns track ids to each frame's detections, frame after frame (``update``)."""

    def __init__(self, options: TrackOptions | None = None):
        self.options = options or TrackOptions()
        self._tracks: dict[int, _Track] = {}
        self._next_id = 0

    def reset(self) -> None:
        """Forget every track (a seek): ids keep counting up, so an id is never given to two people."""
        self._tracks.clear()

    def update(self, timestamp: float, faces: list[FaceObservation]) -> TrackedFaces:
        if self.options.max_faces == 1:
            return self._single(faces)
        ended = tuple(i for i, t in self._tracks.items() if timestamp - t.last_seen > self.options.max_absence_s)
        for i in ended:
            del self._tracks[i]
        ids = self._match(timestamp, faces)
        for face, i in zip(faces, ids):
            track = self._tracks.get(i)
            self._tracks[i] = track.seen(face.bbox, timestamp) if track else _Track(face.bbox, timestamp)
        seen = set(ids)
        tagged = sorted((replace(face, face_id=i) for face, i in zip(faces, ids)), key=lambda f: f.face_id)
        return TrackedFaces(tuple(tagged), tuple(i for i in sorted(self._tracks) if i not in seen), ended)

    def _single(self, faces: list[FaceObservation]) -> TrackedFaces:
        """One face: track 0 always, the largest face in view (``detect``'s choice)."""
        if not faces:
            return TrackedFaces((), (0,))
        return TrackedFaces((replace(max(faces, key=lambda f: f.bbox[2] * f.bbox[3]), face_id=0),), ())

    def _match(self, timestamp: float, faces: list[FaceObservation]) -> list[int]:
        """A track id per detection: the cheapest (track, detection) pairs within ``max_jump`` first,
        then new ids for the detections left."""
        o = self.options
        expected = {i: track.predicted(timestamp, o.predict_s) for i, track in self._tracks.items()}
        pairs = sorted((cost, i, j) for i, box in expected.items() for j, face in enumerate(faces)
                       if (cost := distance(box, face.bbox)) <= o.max_jump)
        ids: list[int | None] = [None] * len(faces)
        taken: set[int] = set()
        for _, i, j in pairs:
            if i not in taken and ids[j] is None:
                ids[j] = i
                taken.add(i)
        for j, i in enumerate(ids):
            if i is None:
                ids[j], self._next_id = self._next_id, self._next_id + 1
        return ids


# The colour of a face id wherever it is drawn (the app's boxes and timeline, the report's plot).
FACE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def face_hex(face_id: int) -> str:
    return FACE_COLOURS[face_id % len(FACE_COLOURS)]


def distance(a: Box, b: Box) -> float:
    """Centre distance of two boxes in widths of the larger one (0: same place; 1: one face apart)."""
    ax, ay, bx, by = a[0] + a[2] / 2, a[1] + a[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2
    return ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5 / max(a[2], b[2], 1e-6)
