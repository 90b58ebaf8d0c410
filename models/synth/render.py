"""Render a face over time: AU events, blinks, distractors (speech, head movements, a hand), head drift,
illumination drift and sensor noise.

Rendering is split in two: ``plan_sequence`` decides everything per frame (AU intensities, head pose,
lighting) and the ground truth, deterministically from the seed; ``iter_frames`` turns the plan into
images one at a time (a weighted sum of cached AU fields, the pixel grid carried back along it by
``aus.flow``, and one ``cv2.remap`` of the image per frame), so long videos stream to disk without holding
every frame in memory. What a warp of skin cannot show is one more step of that map plus a little paint,
decided per frame from the moved landmarks whatever AUs moved them: lips that part show the mouth's
cavity (``mouth``), an upper lid raised above its place uncovers the white of a still eyeball (``eyes``);
frames where neither happens are rendered by the warp alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from app import strict_json
from models.synth.aus import BLINK, face_frame, flow, parse_code
from models.synth.canvas import CLIP_LAYOUT, FaceCanvas, face_canvas
from models.synth.distractors import Distractor, apex_s, au_intensities, draw_hand, hand_path, head_offsets, skin_colour
from models.synth.events import ExpressionEvent, blink_event
from models.synth.eyes import eye_openings, still_irises
from models.synth.mouth import mouth_openings


BLINK_CODE = str(BLINK)


@dataclass(frozen=True)
class NuisanceOptions:
    """Everything that moves or changes the image without being an expression. Defaults: all off."""

    head_translation_px: float = 0.0  # peak slow drift of the head, canvas pixels
    head_rotation_deg: float = 0.0  # peak slow in-plane rotation
    blinks_per_minute: float = 0.0  # random blinks, kept clear of the expression events
    illumination_drift: float = 0.0  # peak relative change of brightness and of a left-right gradient
    noise_sigma: float = 0.0  # Gaussian sensor noise, grey levels

    @classmethod
    def realistic(cls) -> "NuisanceOptions":
        """A still, cooperative sitter in a lab: what the micro-expression datasets look like."""
        return cls(head_translation_px=1.5, head_rotation_deg=0.5, blinks_per_minute=15.0,
                   illumination_drift=0.05, noise_sigma=1.5)


@dataclass(frozen=True)
class Interval:
    """A ground-truth interval in 0-based frame indices (as decoded by OpenCV)."""

    onset: int
    apex: int
    offset: int
    kind: str  # micro | macro | blink | speech | head | hand
    aus: str  # e.g. "6+12", "R14"
    emotion: str | None
    class3: str | None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class SequenceTruth:
    fps: float
    n_frames: int
    width: int
    height: int
    intervals: list[Interval]  # expressions (what a spotter should find)
    blinks: list[Interval]  # distractors: blinks
    landmarks: np.ndarray = field(repr=False)  # (n_frames, 478, 2) true landmark positions
    others: list[Interval] = field(default_factory=list)  # distractors: speech, head movements, hands

    def to_json(self) -> dict:
        return {
            "fps": self.fps, "n_frames": self.n_frames, "width": self.width, "height": self.height,
            "frame_index": "0-based, as decoded by cv2.VideoCapture",
            "intervals": [i.to_dict() for i in self.intervals],
            "distractors": [b.to_dict() for b in sorted(self.blinks + self.others, key=lambda i: i.onset)],
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(strict_json.dumps(self.to_json(), indent=1) + "\n")


@dataclass(frozen=True)
class SequencePlan:
    """Per-frame parameters of a rendering; produced by ``plan_sequence``."""

    intensities: dict[str, np.ndarray]  # AU code → (n_frames,)
    motion: np.ndarray  # (n_frames, 2, 3) canvas → frame rigid transforms
    gain: np.ndarray  # (n_frames,) brightness factor
    gradient: np.ndarray  # (n_frames,) left-right lighting slope (relative, across the width)
    noise_sigma: float
    noise_seed: int
    truth: SequenceTruth
    hand: np.ndarray | None = None  # (n_frames, 3): centre x, y and direction (+1 rightwards); NaN: no hand
    hand_size: float = 0.0
    hand_colour: tuple[float, float, float] = (0.0, 0.0, 0.0)
    # Per frame: what opens beyond a warp (``models.synth.mouth``: parted lips, ``models.synth.eyes``: the
    # white above a raised lid's iris), each with box, source and paint.
    openings: tuple[tuple, ...] = ()


def aus_text(aus: dict[str, float]) -> str:
    return "+".join(sorted(aus, key=lambda c: (parse_code(c)[0], c)))


def _interval(event: ExpressionEvent, fps: float, n_frames: int) -> Interval:
    onset, apex, offset = (min(n_frames - 1, int(round(t * fps))) for t in (event.onset_s, event.apex_s, event.offset_s))
    if event.is_blink:
        return Interval(onset, apex, offset, "blink", aus_text(event.aus), None, None)
    emotion, class3 = event.labels
    return Interval(onset, apex, offset, event.kind, aus_text(event.aus), emotion, class3)


def _drift(rng: np.random.Generator, t: np.ndarray, peak: float) -> np.ndarray:
    """Slow smooth wander with the given peak: three random sinusoids of 0.05–0.5 Hz."""
    if peak == 0:
        return np.zeros_like(t)
    freqs, phases = rng.uniform(0.05, 0.5, 3), rng.uniform(0, 2 * np.pi, 3)
    wave = sum(np.sin(2 * np.pi * f * t + p) for f, p in zip(freqs, phases))
    return peak * wave / 3.0


def _random_blinks(rng, events, duration_s, per_minute) -> list[ExpressionEvent]:
    """Poisson blinks that stay 0.3 s clear of every expression event and distractor."""
    blinks, t = [], 0.0
    if per_minute <= 0:
        return blinks
    busy = [(e.onset_s - 0.3, e.offset_s + 0.3) for e in events]
    while True:
        t += rng.exponential(60.0 / per_minute)
        if t + 0.4 >= duration_s:
            return blinks
        if not any(a < t + 0.4 and t < b for a, b in busy):
            blinks.append(blink_event(rng, t))
            busy.append((t, blinks[-1].offset_s))


def plan_sequence(
    face: FaceCanvas, events: Sequence[ExpressionEvent], fps: float, duration_s: float, seed: int = 0,
    nuisances: NuisanceOptions = NuisanceOptions(), distractors: Sequence[Distractor] = (),
) -> SequencePlan:
    """Per-frame intensities, head pose, lighting and the ground truth of a sequence (frame i at i/fps)."""
    n = int(round(duration_s * fps))
    if n < 1:
        raise ValueError(f"duration {duration_s} s at {fps} fps has no frames")
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fps
    expressions = [e for e in events if not e.is_blink]
    blinks = [e for e in events if e.is_blink]
    blinks += _random_blinks(rng, [*events, *distractors], duration_s, nuisances.blinks_per_minute)
    intensities: dict[str, np.ndarray] = {}
    for event in expressions + blinks:
        curve = event.profile(t)
        for code, value in event.aus.items():
            intensities[code] = intensities.get(code, 0.0) + value * curve
    for distractor in distractors:
        for code, values in au_intensities(distractor, t).items():
            intensities[code] = intensities.get(code, 0.0) + values
    if BLINK_CODE in intensities:  # overlapping blinks never close the lids beyond shut
        intensities[BLINK_CODE] = np.minimum(intensities[BLINK_CODE], 1.0)

    frame = face_frame(face.landmarks)
    centre = frame.origin
    head = sum((head_offsets(d, t) for d in distractors), np.zeros((n, 4)))
    tx, ty = (_drift(rng, t, nuisances.head_translation_px) + frame.unit * head[:, k] for k in range(2))
    angle = np.deg2rad(_drift(rng, t, nuisances.head_rotation_deg)) + head[:, 2]
    scale = np.exp(head[:, 3])
    cos, sin = scale * np.cos(angle), scale * np.sin(angle)
    motion = np.empty((n, 2, 3))
    motion[:, 0, 0], motion[:, 0, 1], motion[:, 1, 0], motion[:, 1, 1] = cos, -sin, sin, cos
    motion[:, :, 2] = centre + np.stack([tx, ty], 1) - np.einsum("nij,j->ni", motion[:, :, :2], centre)
    gain = 1.0 + _drift(rng, t, nuisances.illumination_drift)
    gradient = _drift(rng, t, nuisances.illumination_drift)

    moved = face.moved_landmarks(intensities) if intensities else face.landmarks[None].astype(np.float64).repeat(n, 0)
    landmarks = (np.einsum("nij,nkj->nki", motion[:, :, :2], moved) + motion[:, None, :, 2]).astype(np.float32)
    mouths = mouth_openings(landmarks, face.landmarks, face.image)
    eyes = eye_openings(landmarks, face.landmarks, motion, face.image)
    for i, (mouth, pair) in enumerate(zip(mouths, eyes)):
        if pair:
            landmarks[i] = still_irises(landmarks[i], face.landmarks, motion[i], pair)
        if mouth is not None:
            landmarks[i] = mouth.open_landmarks(landmarks[i])
    openings = tuple(pair + ((mouth,) if mouth is not None else ()) for mouth, pair in zip(mouths, eyes))

    hand = None
    hands = [d for d in distractors if d.kind == "hand"]
    if hands:
        hand = np.full((n, 3), np.nan)
        for d in hands:
            path = hand_path(d, t, frame)
            inside = np.isfinite(path[:, 0])
            hand[inside, :2] = path[inside]
            hand[inside, 2] = -d.side  # enters on ``side``, moves towards the other

    width, height = face.size
    truth = SequenceTruth(
        float(fps), n, width, height,
        sorted((_interval(e, fps, n) for e in expressions), key=lambda i: i.onset),
        sorted((_interval(b, fps, n) for b in blinks), key=lambda i: i.onset), landmarks,
        sorted((_distractor_interval(d, t, fps, n) for d in distractors), key=lambda i: i.onset),
    )
    return SequencePlan(intensities, motion, gain, gradient, nuisances.noise_sigma,
                        int(rng.integers(2**31)), truth, hand, 0.55 * frame.unit, skin_colour(face.image, frame),
                        openings if any(openings) else ())


def _distractor_interval(d: Distractor, t: np.ndarray, fps: float, n: int) -> Interval:
    onset, apex, offset = (min(n - 1, int(round(s * fps))) for s in (d.onset_s, apex_s(d, t), d.offset_s))
    return Interval(onset, apex, offset, d.kind, "", None, None)


def source_map(face: FaceCanvas, intensities: dict[str, float], motion: np.ndarray,
               grid: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Where each pixel of a frame samples the canvas: back through the head motion (a (2, 3) canvas →
    frame transform), then carried back along the AU fields at ``intensities`` (``flow``: never folds)."""
    xs, ys = grid
    inv = cv2.invertAffineTransform(motion)
    map_x = (inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]).astype(np.float32)
    map_y = (inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]).astype(np.float32)
    active = {code: value for code, value in intensities.items() if abs(value) > 1e-6}
    if not active:
        return map_x, map_y
    fields = [face.field(code) for code in active]
    y0, x0 = (min(f.box[k].start for f in fields) for k in (0, 1))
    y1, x1 = (max(f.box[k].stop for f in fields) for k in (0, 1))
    field = np.zeros((y1 - y0, x1 - x0, 2), np.float32)  # zero outside: only pixels that sample inside move
    for value, local in zip(active.values(), fields):
        field[local.box[0].start - y0:local.box[0].stop - y0, local.box[1].start - x0:local.box[1].stop - x0] \
            += value * local.values
    inside = (map_x >= x0) & (map_x < x1) & (map_y >= y0) & (map_y < y1)
    rows, cols = np.flatnonzero(inside.any(1)), np.flatnonzero(inside.any(0))
    if not len(rows):
        return map_x, map_y
    part = np.s_[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]

    def back(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        v = cv2.remap(field, x - x0, y - y0, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        return -v[..., 0], -v[..., 1]

    map_x[part], map_y[part] = flow(map_x[part], map_y[part], back)
    return map_x, map_y


def iter_frames(face: FaceCanvas, plan: SequencePlan) -> Iterator[np.ndarray]:
    """BGR uint8 frames of a plan, one at a time."""
    height, width = face.image.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = (xs[0] - width / 2) / width  # lighting gradient varies along x only
    noise_rng = np.random.default_rng(plan.noise_seed)
    for i in range(plan.truth.n_frames):
        levels = {code: float(values[i]) for code, values in plan.intensities.items()}
        map_x, map_y = source_map(face, levels, plan.motion[i], (xs, ys))
        painted = []
        for opening in plan.openings[i] if plan.openings else ():  # one more step of the map each
            box = opening.box((height, width))
            map_x[box], map_y[box], cover = opening.source(xs[box], ys[box], map_x, map_y)
            painted.append((opening, box, cover))
        frame = cv2.remap(face.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        for opening, box, cover in painted:
            opening.paint(frame[box], xs[box], ys[box], cover)
        if plan.hand is not None and np.isfinite(plan.hand[i, 0]):
            draw_hand(frame, plan.hand[i, :2], plan.hand_size, plan.hand_colour, plan.hand[i, 2] > 0)
        lit = plan.gain[i] != 1.0 or plan.gradient[i] != 0.0
        if lit or plan.noise_sigma > 0:
            img = frame.astype(np.float32)
            if lit:
                img *= (plan.gain[i] + plan.gradient[i] * ramp)[None, :, None]
            if plan.noise_sigma > 0:  # luminance noise: a third of the cost of per-channel noise
                img += plan.noise_sigma * noise_rng.standard_normal(img.shape[:2], dtype=np.float32)[..., None]
            img += 0.5
            frame = np.clip(img, 0, 255, out=img).astype(np.uint8)
        yield frame


def render_sequence(
    face: FaceCanvas | str, events: Sequence[ExpressionEvent], fps: float, duration_s: float, seed: int = 0,
    nuisances: NuisanceOptions = NuisanceOptions(), distractors: Sequence[Distractor] = (),
) -> tuple[list[np.ndarray], SequenceTruth]:
    """All frames of a sequence and its ground truth. ``face`` is a canvas or a bundled photo's name
    (placed on the default clip canvas, face ~200 px tall)."""
    if isinstance(face, str):
        face = face_canvas(face, CLIP_LAYOUT)
    plan = plan_sequence(face, events, fps, duration_s, seed, nuisances, distractors)
    return list(iter_frames(face, plan)), plan.truth
