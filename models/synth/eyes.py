"""Eyes that widen: the eyeball stays put while the upper lid rises, and the white above the iris shows.

The AU fields move skin. A raised upper lid (AU5) dragged the top of the eye's opening up with it, so the
iris stretched upward with the lid and no white appeared above it: MediaPipe's ``eyeWide`` did not move
at all (rendered AU5 at its full macro intensity: +0.01). An eyeball is not skin: so, whatever AUs moved
the lids, where an upper lid has risen above its place in the photograph (by more than ``DEAD_ZONE``),
the opening between the lids shows the photograph's eyeball carried only by the head's motion (the iris
does not follow the lid), and the band between the raised lid and where the lid was is painted as what
the lid uncovered: the iris where its circle (MediaPipe's iris landmarks) reaches, the white elsewhere,
in colours sampled from the photograph's own eye, with soft 1-px edges. Like the mouth's opening
(``models.synth.mouth``) it is one more step of the frame's sampling map, fades in over ``RAMP``, leaves
frames without a raised lid exactly as they were, and puts the iris landmarks back on the still eyeball.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from models.synth.aus import FaceFrame, face_frame
from models.synth.mouth import by_u, pixel_box

# Per eye (image left, image right): corners, upper and lower lid (corner to corner), iris centre and ring.
EYES = (
    dict(upper=(33, 246, 161, 160, 159, 158, 157, 173, 133), lower=(33, 7, 163, 144, 145, 153, 154, 155, 133),
         iris=468, ring=(469, 470, 471, 472)),
    dict(upper=(362, 398, 384, 385, 386, 387, 388, 466, 263), lower=(362, 382, 381, 380, 374, 373, 390, 249, 263),
         iris=473, ring=(474, 475, 476, 477)),
)
IRIS_LANDMARKS = tuple(range(468, 478))
DEAD_ZONE = 0.005  # eye distances the upper lid rises above its place before the white shows
RAMP = 0.02  # eye distances over which the still eyeball fades in
EDGE = 1.0  # px
MARGIN = 2.0  # px: the dark lid margin along the raised lid


@dataclass(frozen=True)
class EyeColours:
    sclera: np.ndarray  # (2, 3) BGR per eye
    iris: np.ndarray  # (2, 3)
    margin: np.ndarray  # (2, 3) the lid margin's lashes: the darkest of the opening


def eye_colours(image: np.ndarray, landmarks: np.ndarray) -> EyeColours:
    """Per eye: the white (the brightest sixth of the opening outside the iris: the rest is lid margin and
    shadow) and the iris (its middle)."""
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    sclera, iris, margin = [], [], []
    for eye in EYES:
        outline = np.concatenate([landmarks[list(eye["upper"])], landmarks[list(eye["lower"])[::-1]]])
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [np.round(outline).astype(np.int32)], 1)
        centre = landmarks[eye["iris"]]
        radius = float(np.linalg.norm(landmarks[list(eye["ring"])] - centre, axis=1).max())
        dist = np.hypot(xs - centre[0], ys - centre[1])
        white = image[(mask > 0) & (dist > 1.15 * radius)].astype(np.float32)
        opening = image[mask > 0].astype(np.float32)
        margin.append(opening[opening.mean(1) <= np.percentile(opening.mean(1), 5)].mean(0) if len(opening)
                      else np.array([30.0, 30.0, 30.0]))
        if len(white):
            grey = white.mean(1)
            white = white[grey >= np.percentile(grey, 85)]
        sclera.append(white.mean(0) if len(white) else np.array([200.0, 205.0, 210.0]))
        middle = image[dist < 0.6 * radius].astype(np.float32)
        iris.append(middle.mean(0) if len(middle) else np.array([60.0, 60.0, 60.0]))
    return EyeColours(np.array(sclera), np.array(iris), np.array(margin))


@dataclass(frozen=True)
class EyeOpening:
    """One eye in one frame, in face coordinates (u, v: pixels along the eye line and down the face)."""

    frame: FaceFrame  # of the moved landmarks
    upper: np.ndarray  # (9, 2) the moved upper lid, by u
    rest: np.ndarray  # (9, 2) the upper lid where the photograph has it (moved by the head only)
    lower: np.ndarray  # (9, 2) the moved lower lid
    iris: np.ndarray  # (2,) frame xy of the iris centre (moved by the head only)
    radius: float  # px
    inverse: np.ndarray  # (2, 3) frame → canvas head motion
    weight: float
    side: int  # 0: image-left eye, 1: image-right
    colours: EyeColours

    def box(self, shape: tuple[int, int]) -> tuple[slice, slice]:
        pts = np.concatenate([self.upper, self.rest, self.lower])
        return pixel_box(np.stack(self.frame.xy(pts[:, 0], pts[:, 1]), 1), shape)

    def _bands(self, x, y):
        u, v = self.frame.uv(x, y)
        inside = (u > self.upper[0, 0]) & (u < self.upper[-1, 0])
        top = np.interp(u, self.upper[:, 0], self.upper[:, 1])
        rest = np.maximum(np.interp(u, self.rest[:, 0], self.rest[:, 1]), top)
        bottom = np.interp(u, self.lower[:, 0], self.lower[:, 1])
        return u, v, inside, top, rest, bottom

    def source(self, x: np.ndarray, y: np.ndarray, map_x: np.ndarray, map_y: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """New sampling map for frame pixels (x, y): the still eyeball inside the opening; and the cover of
        the uncovered band."""
        _, v, inside, top, rest, bottom = self._bands(x, y)
        opening = inside & (v >= top - 0.5) & (v <= bottom)
        w = self.weight * np.clip(np.minimum(v - top, bottom - v) / EDGE + 0.5, 0, 1) * opening
        m = self.inverse
        still_x, still_y = m[0, 0] * x + m[0, 1] * y + m[0, 2], m[1, 0] * x + m[1, 1] * y + m[1, 2]
        rows, cols = y.astype(int), x.astype(int)
        new_x = (1 - w) * map_x[rows, cols] + w * still_x
        new_y = (1 - w) * map_y[rows, cols] + w * still_y
        cover = np.clip((v - top) / EDGE + 0.5, 0, 1) * np.clip((rest + 1.0 - v) / EDGE + 0.5, 0, 1)
        cover *= self.weight * inside * np.clip((rest - top) / EDGE, 0, 1)
        return new_x.astype(np.float32), new_y.astype(np.float32), cover.astype(np.float32)

    def paint(self, frame: np.ndarray, x: np.ndarray, y: np.ndarray, cover: np.ndarray) -> None:
        """The uncovered band: iris inside its circle, the white elsewhere."""
        colours = self.colours
        dist = np.hypot(x - self.iris[0], y - self.iris[1])
        in_iris = np.clip((self.radius - dist) / EDGE + 0.5, 0, 1)[..., None]
        colour = colours.sclera[self.side] + in_iris * (colours.iris[self.side] - colours.sclera[self.side])
        _, v, _, top, _, _ = self._bands(x, y)
        shade = np.clip(1 - (v - top) / MARGIN, 0, 1)[..., None]  # the raised lid's lashes and shadow
        colour += shade * (colours.margin[self.side] - colour)
        a = cover[..., None]
        frame[...] = np.clip(frame * (1 - a) + colour * a + 0.5, 0, 255).astype(np.uint8)


def eye_openings(landmarks: np.ndarray, neutral: np.ndarray, motion: np.ndarray, image: np.ndarray
                 ) -> list[tuple[EyeOpening, ...]]:
    """Per frame of (n, 478, 2) frame-space landmarks: the eyes whose upper lid has risen (maybe none).
    ``image``, ``neutral``: the photograph and its landmarks; ``motion``: (n, 2, 3) canvas → frame head motion."""
    out = []
    colours = None
    for points, m in zip(landmarks, motion):
        still = neutral[:, :2] @ m[:, :2].T + m[:, 2]
        frame = face_frame(points)
        uv, uv0 = frame.points_uv(points), frame.points_uv(still)
        eyes = []
        for side, eye in enumerate(EYES):
            upper, rest, lower = by_u(uv, eye["upper"]), by_u(uv0, eye["upper"]), by_u(uv, eye["lower"])
            middle = upper[3:6]  # the lid's middle: a cheek raise lifts the corners, not the lid
            lid = np.interp(middle[:, 0], rest[:, 0], rest[:, 1]) - middle[:, 1]
            gap = (np.interp(middle[:, 0], lower[:, 0], lower[:, 1]) - middle[:, 1]
                   - np.interp(middle[:, 0], by_u(uv0, eye["lower"])[:, 0], by_u(uv0, eye["lower"])[:, 1])
                   + np.interp(middle[:, 0], rest[:, 0], rest[:, 1]))
            rise = min(lid.mean(), gap.mean()) / frame.unit - DEAD_ZONE
            if rise <= 0:
                continue
            radius = float(np.linalg.norm(still[list(eye["ring"])] - still[eye["iris"]], axis=1).max())
            colours = colours or eye_colours(image, neutral)
            eyes.append(EyeOpening(frame, upper, rest, lower,
                                   still[eye["iris"]], radius, cv2.invertAffineTransform(m),
                                   float(min(1.0, rise / RAMP)), side, colours))
        out.append(tuple(eyes))
    return out


def still_irises(landmarks: np.ndarray, neutral: np.ndarray, motion: np.ndarray, eyes: tuple[EyeOpening, ...]
                 ) -> np.ndarray:
    """The iris landmarks of the eyes in ``eyes`` back on the still eyeball (moved by the head only)."""
    out = landmarks.copy()
    still = neutral[list(IRIS_LANDMARKS), :2] @ motion[:, :2].T + motion[:, 2]
    for eye in eyes:
        rows = [i - IRIS_LANDMARKS[0] for i in (EYES[eye.side]["iris"], *EYES[eye.side]["ring"])]
        idx = [IRIS_LANDMARKS[r] for r in rows]
        out[idx] = (1 - eye.weight) * landmarks[idx] + eye.weight * still[rows]
    return out
