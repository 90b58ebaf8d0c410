"""Face landmarks with MediaPipe face mesh (478 points, iris refinement), offline from the wheel.

An options dataclass and an explicit running mode, as in MediaPipe Tasks: ``IMAGE`` treats every call
independently (dataset frames), ``VIDEO`` tracks landmarks across consecutive frames (faster and
steadier). ``detect`` reports the largest face; ``detect_all`` up to ``max_faces`` of them (their
identities over time are ``app.face_tracks``' business).

In VIDEO mode the BlazeFace detector, which vouches that the mesh follows a face, runs only when a
face is new, has moved away from the box it last confirmed, or every ``detect_every`` frames (as
MediaPipe's own trackers do); in between, every frame carries the score of that last confirmation. One
detector run scores every face of the frame.
Each observation also carries MediaPipe's 52 blendshape scores (``app.blendshapes``), computed from
the tracked landmarks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")  # keep MediaPipe's C++ logging off the user's terminal
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import time  # noqa: E402

import cv2  # noqa: E402
import mediapipe as mp  # noqa: E402

from app.blendshapes import BlendshapeModel  # noqa: E402

N_LANDMARKS = 478


class RunningMode(Enum):
    IMAGE = "image"
    VIDEO = "video"


@dataclass(frozen=True)
class FaceTrackerOptions:
    mode: RunningMode = RunningMode.VIDEO
    max_faces: int = 1  # faces the mesh looks for (``detect`` reports the largest)
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    # The mesh alone can lock onto texture that is not a face; the detector must agree this much.
    min_face_confidence: float = 0.2
    # A face the full-range detector misses may be vouched for by the short-range one at this score: the
    # full-range model lost a rendered close-up with the jaw wide open for 25 frames in a row (seed-8
    # development set), which the short-range model scored 0.79-0.84; it scores blurred noise 0.55-0.59.
    min_close_confidence: float = 0.7
    # VIDEO mode: re-run the detector at least this often (frames), and whenever the tracked box
    # overlaps the last confirmed one by less than ``recheck_iou``.
    detect_every: int = 30
    recheck_iou: float = 0.6
    blendshapes: bool = True


@dataclass(frozen=True)
class FaceObservation:
    """One face in one frame. Landmarks are in frame pixels; z is in the same pixel scale."""

    face_id: int
    landmarks: np.ndarray  # (478, 3) float32
    bbox: tuple[float, float, float, float]  # x, y, w, h of the landmarks
    confidence: float  # face detector score in [0, 1] (of the last detector check, see FaceTracker)
    blendshapes: np.ndarray | None = None  # (52,) MediaPipe blendshape scores (app.blendshapes order)


class FaceTracker:
    """MediaPipe face mesh plus the BlazeFace detector (for a real confidence and the largest face)."""

    def __init__(self, options: FaceTrackerOptions | None = None):
        self.options = options or FaceTrackerOptions()
        self._mesh = None
        self._detectors: tuple = ()
        self._blendshapes = BlendshapeModel() if self.options.blendshapes else None
        self._confirmed: list[tuple[tuple[float, float, float, float], float]] = []  # box, score per face
        self._since_check = 0
        self.detector_runs = 0
        # Milliseconds of the last call's parts: the mesh alone, the detector (0 when skipped), blendshapes.
        self.timings_ms: dict[str, float] = {}
        self._open()

    def _open(self) -> None:
        o = self.options
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=o.mode is RunningMode.IMAGE,
            max_num_faces=o.max_faces,
            refine_landmarks=True,
            min_detection_confidence=o.min_detection_confidence,
            min_tracking_confidence=o.min_tracking_confidence,
        )
        # BlazeFace's full-range model (up to ~5 m: small faces in wide shots too), then, for the faces it
        # misses, the short-range one (within ~2 m), which must be surer (``min_close_confidence``).
        self._detectors = tuple(mp.solutions.face_detection.FaceDetection(
            model_selection=selection, min_detection_confidence=min(0.2, o.min_face_confidence)) for selection in (1, 0))

    def close(self) -> None:
        for solution in (self._mesh, *self._detectors):
            if solution is not None:
                solution.close()
        self._mesh, self._detectors = None, ()
        self._confirmed = []

    def reset(self) -> None:
        """Forget tracking state (after a seek or a source change)."""
        self.close()
        self._open()

    def __enter__(self) -> "FaceTracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def detect(self, image_bgr: np.ndarray) -> FaceObservation | None:
        """Landmarks of the largest face in a BGR frame, or None when no face is found."""
        faces = self.detect_all(image_bgr)
        return max(faces, key=lambda f: f.bbox[2] * f.bbox[3]) if faces else None

    def detect_all(self, image_bgr: np.ndarray) -> list[FaceObservation]:
        """Up to ``max_faces`` faces of a BGR frame that the detector vouches for, in the mesh's order
        (``face_id`` 0: identities are assigned by ``app.face_tracks``)."""
        if self._mesh is None:
            raise RuntimeError("FaceTracker is closed")
        t0 = time.perf_counter()
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        result = self._mesh.process(rgb)
        self.timings_ms = {"mesh": _ms(t0), "detector": 0.0, "blendshapes": 0.0}
        if not result.multi_face_landmarks:
            self._confirmed = []
            return []
        h, w = image_bgr.shape[:2]
        faces = []
        for face in result.multi_face_landmarks:
            pts = np.array([(p.x * w, p.y * h, p.z * w) for p in face.landmark], dtype=np.float32)
            x0, y0 = pts[:, :2].min(axis=0)
            x1, y1 = pts[:, :2].max(axis=0)
            faces.append((pts, (float(x0), float(y0), float(x1 - x0), float(y1 - y0))))
        self.timings_ms["mesh"] = _ms(t0)
        confidences = self._checked_confidences(rgb, [bbox for _, bbox in faces])
        found = []
        t0 = time.perf_counter()
        for (pts, bbox), confidence in zip(faces, confidences):
            if confidence >= self.options.min_face_confidence:
                scores = self._blendshapes.scores(pts) if self._blendshapes is not None else None
                found.append(FaceObservation(0, pts, bbox, confidence, scores))
        if self._blendshapes is not None and found:
            self.timings_ms["blendshapes"] = _ms(t0)
        return found

    def _checked_confidences(self, rgb: np.ndarray, boxes: list[tuple[float, float, float, float]]) -> list[float]:
        """The detector's score for each face: measured now (one detector run for all) when a face is
        new, doubtful or due for a check, else carried from the last check of the box it overlaps."""
        o = self.options
        self._since_check += 1
        if o.mode is RunningMode.VIDEO and self._confirmed and self._since_check < o.detect_every:
            carried = [next((score for box, score in self._confirmed if _iou(box, bbox) >= o.recheck_iou), None)
                       for bbox in boxes]
            if None not in carried:
                return carried
        t0 = time.perf_counter()
        scores = self._confidences(rgb, boxes)
        self.timings_ms["detector"] = _ms(t0)
        self.detector_runs += 1
        self._since_check = 0
        self._confirmed = [(bbox, score) for bbox, score in zip(boxes, scores) if score >= o.min_face_confidence]
        return scores

    def _confidences(self, rgb: np.ndarray, boxes: list[tuple[float, float, float, float]]) -> list[float]:
        """Per tracked face, the score of the detection that overlaps it best: the full-range model's, else
        the short-range model's if it reaches ``min_close_confidence`` (run only when a face lacks a score);
        0 when neither vouches for it."""
        o = self.options
        scores = [0.0] * len(boxes)
        for detector, needed in zip(self._detectors, (o.min_face_confidence, o.min_close_confidence)):
            found = _detections(detector.process(rgb), rgb.shape[:2])
            for i, bbox in enumerate(boxes):
                score = max((s for box, s in found if _iou(box, bbox) > 0.3), default=0.0)
                if scores[i] < o.min_face_confidence and score >= needed:
                    scores[i] = score
            if min(scores, default=1.0) >= o.min_face_confidence:
                break
        return scores


def _detections(result, size: tuple[int, int]) -> list[tuple[tuple[float, float, float, float], float]]:
    """(box in pixels, score) of each detection of a BlazeFace result."""
    h, w = size
    found = []
    for detection in result.detections or ():
        b = detection.location_data.relative_bounding_box
        found.append(((b.xmin * w, b.ymin * h, b.width * w, b.height * h), float(detection.score[0])))
    return found


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0.0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
