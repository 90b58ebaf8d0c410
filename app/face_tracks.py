"""Stable identities for the faces of a recording: each detection is matched to a face track.

MediaPipe reports the faces of a frame in no particular order, so ids come from here: a detection is
matched to the track whose last box is nearest (centre distance in face widths, greedy on the cost
matrix, cheapest pair first; with a handful of faces this is the optimal assignment in practice). A
track that misses frames lives on for ``max_absence_s`` and re-claims a face that comes back near where
it was last seen; after that, a face there starts a new track with a new id (no re-identification by
appearance). With ``max_faces == 1`` there is one track, id 0, that never ends: the largest face in view
is "the face", as before several faces were tracked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.face import FaceObservation

Box = tuple[float, float, float, float]  # x, y, w, h in frame pixels


@dataclass(frozen=True)
class TrackOptions:
    max_faces: int = 1
    max_absence_s: float = 2.0  # a face away longer than this comes back with a new id
    max_jump: float = 1.0  # a detection further than this (centre distance / face width) is another face


@dataclass(frozen=True)
class TrackedFaces:
    """One frame's faces with their track ids (``face_id``), in id order, and the living tracks whose
    face is not in this frame (their continuity breaks here)."""

    faces: tuple[FaceObservation, ...]
    missing: tuple[int, ...]
    ended: tuple[int, ...] = ()  # tracks that ended at this frame (absent too long): forget their state


@dataclass
class _Track:
    box: Box
    last_seen: float  # source time


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
            return self._single(timestamp, faces)
        ended = tuple(i for i, t in self._tracks.items() if timestamp - t.last_seen > self.options.max_absence_s)
        for i in ended:
            del self._tracks[i]
        ids = self._match(faces)
        for face, i in zip(faces, ids):
            self._tracks[i] = _Track(face.bbox, timestamp)
        seen = set(ids)
        tagged = sorted((replace(face, face_id=i) for face, i in zip(faces, ids)), key=lambda f: f.face_id)
        return TrackedFaces(tuple(tagged), tuple(i for i in sorted(self._tracks) if i not in seen), ended)

    def _single(self, timestamp: float, faces: list[FaceObservation]) -> TrackedFaces:
        """One face: track 0 always, the largest face in view (``detect``'s choice)."""
        if not faces:
            return TrackedFaces((), (0,))
        return TrackedFaces((replace(max(faces, key=lambda f: f.bbox[2] * f.bbox[3]), face_id=0),), ())

    def _match(self, faces: list[FaceObservation]) -> list[int]:
        """A track id per detection: the cheapest (track, detection) pairs within ``max_jump`` first,
        then new ids for the detections left."""
        pairs = sorted((cost, i, j) for i, track in self._tracks.items() for j, face in enumerate(faces)
                       if (cost := distance(track.box, face.bbox)) <= self.options.max_jump)
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


def distance(a: Box, b: Box) -> float:
    """Centre distance of two boxes in widths of the larger one (0: same place; 1: one face apart)."""
    ax, ay, bx, by = a[0] + a[2] / 2, a[1] + a[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2
    return ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5 / max(a[2], b[2], 1e-6)
