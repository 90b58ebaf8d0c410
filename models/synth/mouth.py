"""Lips that part: the mouth's dark cavity between them, as a real open mouth shows.

A warp cannot open a mouth. The AU fields are smooth, so two points that touch (the upper and lower inner
lip of a closed mouth) move together: a rendered jaw drop (AU26) moved the chin as far as real speech does
but left the lips sealed, both lips stretched down into the gap, and MediaPipe, which reads the mouth from
the image, saw long lips rather than an open mouth (``jawOpen`` +0.09 where a real surprise reads 0.73;
``mouthUpperUp`` falling). So the opening is a property of the render, computed per frame from the moved
landmarks whatever AUs moved them (a jaw drop, parted lips, speech, a raised upper lip). Lips keep their
thickness: in each column of the mouth (face coordinates: u along the eye line, v down the face) between
the moved upper and lower outer lip edges, the upper lip is redrawn at its thickness in the photograph and
the lower lip fills the rest down to its edge; what the outer edges moved apart beyond the photograph's lip
height, less ``DEAD_ZONE`` (lips stick a little), opens between them as an ellipse across the inner mouth
corners, its sides (``DROOP``) taken up by the upper lip so that the opening is an oval, not a D. Any
opening the photograph already had (teeth showing) joins the new one. The opening is painted as the mouth's
cavity: the lips' hue at a fifth of their brightness, darker mid-way, a band of upper teeth under the upper
lip, soft 1-px edges.

A redrawn lip samples the photograph along the matching column of its own lip (``LipProfile.canvas``), as
one more step of the frame's sampling map (``MouthOpening.source``), so the image is interpolated once; the
lip landmarks move by the same rule (``MouthOpening.open_landmarks``: each keeps its share of its lip's
thickness), so the landmark truth stays on the rendered lips. The redrawing fades in over ``RAMP`` of
separation, so frames stay continuous, and a frame whose lips the AUs do not part has no opening: it is
rendered by the warp alone, exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.synth.aus import FaceFrame, face_frame

UPPER_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)  # corner to corner
LOWER_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
UPPER_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
# The landmarks inside each lip (the inner edge and the two rings between it and the outer edge).
UPPER_LIP = (191, 80, 81, 82, 13, 312, 311, 310, 415, 183, 42, 41, 38, 12, 268, 271, 272, 407,
             184, 74, 73, 72, 11, 302, 303, 304, 408)
LOWER_LIP = (95, 88, 178, 87, 14, 317, 402, 318, 324, 96, 89, 179, 86, 15, 316, 403, 319, 325,
             77, 90, 180, 85, 16, 315, 404, 320, 307)
DEAD_ZONE = 0.01  # eye distances the outer lip edges move apart before the lips part
RAMP = 0.03  # eye distances over which the redrawn lips fade in
DROOP = 1.0  # share of the opening toward the corners that stretches the upper lip down (an oval, not a D)
MAX_SHARE = 0.8  # the gap takes at most this share of the column's height
TEETH = 0.3  # height of the upper teeth, as a share of the gap (at most ``TEETH_MAX``)
TEETH_MAX = 0.06  # eye distances
EDGE = 1.0  # px: width of the soft edges
SAMPLES = 33  # columns of the neutral lip profile


def _uv(points: np.ndarray) -> tuple[np.ndarray, FaceFrame]:
    """Face coordinates (u, v) in pixels of (478, 2) landmarks, and their face frame."""
    frame = face_frame(points)
    return frame.points_uv(points), frame


def pixel_box(xy: np.ndarray, shape: tuple[int, int]) -> tuple[slice, slice]:
    """Rows and columns of a (h, w) frame around (N, 2) pixel points, with a margin for soft edges."""
    x0, y0 = np.maximum(np.floor(xy.min(0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(xy.max(0)).astype(int) + 3, (shape[1], shape[0]))
    return slice(y0, y1), slice(x0, x1)


def by_u(uv: np.ndarray, indices: tuple[int, ...]) -> np.ndarray:
    """The points ``indices`` of (478, 2) face coordinates, ordered along u: a curve for ``np.interp``."""
    c = uv[list(indices)]
    return c[np.argsort(c[:, 0])]


def _along(u: np.ndarray, curve: np.ndarray) -> np.ndarray:
    return np.interp(u, curve[:, 0], curve[:, 1])


@dataclass(frozen=True)
class LipProfile:
    """The photograph's mouth, per column r (0 and 1: the outer corners): the lips' height and the upper
    lip's share of it, in eye distances; the inner corners' r; each lip landmark's share down its column."""

    r: np.ndarray  # (SAMPLES,)
    height: np.ndarray  # (SAMPLES,) upper outer edge → lower outer edge
    upper: np.ndarray  # (SAMPLES,) share of the height above the seam (the upper inner lip)
    lower: np.ndarray  # (SAMPLES,) share above the lower inner lip (> upper where the photo's mouth is open)
    inner: tuple[float, float]  # r of the inner corners
    upper_tau: np.ndarray  # (len(UPPER_LIP),) share down the column, in [0, upper]
    lower_tau: np.ndarray  # (len(LOWER_LIP),) in [lower, 1]
    frame: FaceFrame  # the photograph's face frame (canvas pixels) ...
    top: np.ndarray  # ... and its outer lip edges in it, (11, 2) u, v by u
    bottom: np.ndarray
    corners: tuple[float, float]  # u of its outer corners

    def canvas(self, r: np.ndarray, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Canvas pixel ``tau`` of the way down the photograph's lips at column ``r``."""
        u = self.corners[0] + r * (self.corners[1] - self.corners[0])
        a = _along(u, self.top)
        v = a + tau * (_along(u, self.bottom) - a)
        return self.frame.xy(u, v)


def lip_profile(landmarks: np.ndarray) -> LipProfile:
    """The photograph's lips (its landmarks on the canvas), computed once per face."""
    uv, frame = _uv(landmarks)
    unit = frame.unit
    u0, u1 = uv[61, 0], uv[291, 0]
    r = np.linspace(0, 1, SAMPLES)
    u = u0 + r * (u1 - u0)
    top, bottom, seam, floor = (_along(u, by_u(uv, c)) for c in (UPPER_OUTER, LOWER_OUTER, UPPER_INNER, LOWER_INNER))
    height = np.maximum(bottom - top, 1e-3 * unit)
    upper = np.clip((seam - top) / height, 0, 1)
    lower = np.clip((floor - top) / height, upper, 1)

    def tau(rows: tuple[int, ...]) -> np.ndarray:
        ru = (uv[list(rows), 0] - u0) / (u1 - u0)
        t = _along(uv[list(rows), 0], by_u(uv, UPPER_OUTER))
        return np.clip((uv[list(rows), 1] - t) / np.interp(ru, r, height), 0, 1)

    inner = tuple(float((uv[i, 0] - u0) / (u1 - u0)) for i in (78, 308))
    return LipProfile(r, height / unit, upper, lower, inner,
                      np.minimum(tau(UPPER_LIP), np.interp((uv[list(UPPER_LIP), 0] - u0) / (u1 - u0), r, upper)),
                      np.maximum(tau(LOWER_LIP), np.interp((uv[list(LOWER_LIP), 0] - u0) / (u1 - u0), r, lower)),
                      frame, by_u(uv, UPPER_OUTER), by_u(uv, LOWER_OUTER),
                      (float(u0), float(u1)))


@dataclass(frozen=True)
class MouthColours:
    cavity: np.ndarray  # (3,) BGR at the cavity's edges; darker mid-way
    teeth: np.ndarray  # (3,) BGR


def mouth_colours(image: np.ndarray, landmarks: np.ndarray) -> MouthColours:
    """The cavity in the lips' own hue at a fifth of their brightness; teeth a little brighter than the
    face's bright skin (so a grey photograph gets a grey mouth)."""
    h, w = image.shape[:2]
    at = np.clip(np.round(landmarks[list(UPPER_OUTER[1:-1] + LOWER_OUTER[1:-1]), :2]).astype(int), 0, (w - 1, h - 1))
    lips = image[at[:, 1], at[:, 0]].astype(np.float32).mean(0)
    frame = face_frame(landmarks)
    x, y = np.round(frame.origin).astype(int)
    r = int(frame.unit)
    face = image[max(0, y):min(h, y + r), max(0, x - r):min(w, x + r)].reshape(-1, 3).astype(np.float32)
    bright = float(np.percentile(face.mean(1), 95)) if len(face) else 200.0
    return MouthColours(0.22 * lips, np.clip(np.array([0.92, 0.96, 1.0]) * 1.05 * bright, 0, 255))


@dataclass(frozen=True)
class Columns:
    """Per column u of a frame: the outer edges a, o (v), the upper lip's height and the cavity's (px), the
    photograph's shares of its lip height above the upper and the lower inner lip."""

    a: np.ndarray
    o: np.ndarray
    upper: np.ndarray
    gap: np.ndarray
    share: np.ndarray
    floor: np.ndarray
    inside: np.ndarray  # bool: between the outer corners


@dataclass(frozen=True)
class MouthOpening:
    """One frame's opening, in face coordinates (u along the eye line, v down the face, pixels from the
    eyes' midpoint), so it holds at any head roll and scale."""

    frame: FaceFrame  # of the moved landmarks (its unit: the eye distance, px)
    top: np.ndarray  # (11, 2) u, v of the moved upper outer lip edge, by u
    bottom: np.ndarray  # (11, 2) u, v of the moved lower outer lip edge, by u
    corners: tuple[float, float]  # u of the outer corners
    weight: float  # 0-1: how far the redrawn lips have faded in
    profile: LipProfile
    colours: MouthColours

    def columns(self, u: np.ndarray) -> Columns:
        p = self.profile
        r = (u - self.corners[0]) / (self.corners[1] - self.corners[0])
        a, o = _along(u, self.top), _along(u, self.bottom)
        rest = np.interp(r, p.r, p.height) * self.frame.unit
        share, floor = np.interp(r, p.r, p.upper), np.interp(r, p.r, p.lower)
        centre, half = (p.inner[0] + p.inner[1]) / 2, abs(p.inner[1] - p.inner[0]) / 2
        shape = np.sqrt(np.clip(1 - ((r - centre) / half) ** 2, 0, 1))
        extra = np.maximum(o - a - rest - DEAD_ZONE * self.frame.unit, 0)
        upper = np.minimum(share * rest + DROOP * (1 - shape) * extra, 0.6 * np.maximum(o - a, 0))
        gap = extra * shape + (floor - share) * rest
        gap = np.minimum(gap, MAX_SHARE * np.maximum(o - a - upper, 0))
        return Columns(a, o, upper, gap, share, floor, (r > 0) & (r < 1) & (o > a))

    def _tau_to_v(self, c: Columns, tau: np.ndarray, lower: bool) -> np.ndarray:
        """Where a point ``tau`` down its column of the photograph's lips goes (upper lip: tau <= share;
        lower lip: tau >= floor; the photograph's own mouth opening between them becomes cavity)."""
        if not lower:
            return c.a + tau / np.maximum(c.share, 1e-6) * c.upper
        start = c.a + c.upper + c.gap
        return start + (tau - c.floor) / np.maximum(1 - c.floor, 1e-6) * (c.o - start)

    def open_landmarks(self, landmarks: np.ndarray) -> np.ndarray:
        """The lip landmarks at their places in the redrawn lips; the others unchanged."""
        out = landmarks.copy()
        p = self.profile
        for rows, taus, lower in ((UPPER_LIP, p.upper_tau, False), (LOWER_LIP, p.lower_tau, True)):
            rows = list(rows)
            u, v = self.frame.uv(landmarks[rows, 0].astype(np.float64), landmarks[rows, 1].astype(np.float64))
            c = self.columns(u)
            new = np.where(c.inside, self._tau_to_v(c, taus, lower), v)
            out[rows, 0], out[rows, 1] = self.frame.xy(u, (1 - self.weight) * v + self.weight * new)
        return out

    def box(self, shape: tuple[int, int]) -> tuple[slice, slice]:
        """Rows and columns of the frame the opening can change."""
        edges = np.concatenate([self.top, self.bottom])
        return pixel_box(np.stack(self.frame.xy(edges[:, 0], edges[:, 1]), 1), shape)

    def source(self, x: np.ndarray, y: np.ndarray, map_x: np.ndarray, map_y: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For frame pixels (x, y): where they sample the image once the lips are redrawn (``map_x``,
        ``map_y``: the AU flow's full-frame map), and how much the cavity covers them (0-1)."""
        u, v = self.frame.uv(x, y)
        c = self.columns(u)
        rel = v - c.a
        below = c.o - c.a - c.upper - c.gap
        tau = np.where(rel < c.upper, c.share * rel / np.maximum(c.upper, 1e-6),
                       np.where(rel < c.upper + c.gap, c.share,
                                c.floor + (1 - c.floor) * (rel - c.upper - c.gap) / np.maximum(below, 1e-6)))
        band = c.inside & (rel >= 0) & (v <= c.o)
        w = self.weight * band
        lip_x, lip_y = self.profile.canvas((u - self.corners[0]) / (self.corners[1] - self.corners[0]), tau)
        new_x = (1 - w) * map_x[y.astype(int), x.astype(int)] + w * lip_x
        new_y = (1 - w) * map_y[y.astype(int), x.astype(int)] + w * lip_y
        gap_rel = rel - c.upper
        cover = np.clip(gap_rel / EDGE + 0.5, 0, 1) * np.clip((c.gap - gap_rel) / EDGE + 0.5, 0, 1)
        cover *= self.weight * c.inside * np.clip(c.gap / EDGE, 0, 1)
        return new_x.astype(np.float32), new_y.astype(np.float32), cover.astype(np.float32)

    def paint(self, frame: np.ndarray, x: np.ndarray, y: np.ndarray, cover: np.ndarray) -> None:
        """Paint the cavity (and the upper teeth) over ``frame``'s pixels (x, y) in place."""
        colours = self.colours
        u, v = self.frame.uv(x, y)
        c = self.columns(u)
        s = c.a + c.upper
        depth = np.clip((v - s) / np.maximum(c.gap, 1e-6), 0, 1)
        colour = colours.cavity * (1 - 0.55 * np.sin(np.pi * depth))[..., None]
        p = self.profile
        r = (u - self.corners[0]) / (self.corners[1] - self.corners[0])
        shape = np.clip(1 - ((r - (p.inner[0] + p.inner[1]) / 2) / (0.4 * abs(p.inner[1] - p.inner[0]))) ** 2, 0, 1)
        teeth = np.minimum(TEETH * c.gap, TEETH_MAX * self.frame.unit) * np.sqrt(shape)
        enamel = np.clip((s + teeth - v) / EDGE + 0.5, 0, 1) * (teeth > EDGE)
        colour += enamel[..., None] * (colours.teeth - colour)
        a = cover[..., None]
        frame[...] = np.clip(frame * (1 - a) + colour * a + 0.5, 0, 255).astype(np.uint8)


def mouth_openings(landmarks: np.ndarray, neutral: np.ndarray, image: np.ndarray) -> list[MouthOpening | None]:
    """Per frame of (n, 478, 2) frame-space landmarks (moved by the AUs and the head): the opening, or
    None when the outer lip edges have not moved apart beyond the photograph's (``image``, its landmarks
    ``neutral``) by ``DEAD_ZONE`` in the mouth's middle."""
    profile = lip_profile(neutral)
    colours = None
    middle = SAMPLES // 2
    openings: list[MouthOpening | None] = []
    for points in landmarks:
        uv, frame = _uv(points)
        unit = frame.unit
        top, bottom = by_u(uv, UPPER_OUTER), by_u(uv, LOWER_OUTER)
        corners = (float(uv[61, 0]), float(uv[291, 0]))
        u = corners[0] + profile.r[middle] * (corners[1] - corners[0])
        extra = (_along(u, bottom) - _along(u, top)) / unit - profile.height[middle] - DEAD_ZONE
        if extra <= 0:
            openings.append(None)
            continue
        colours = colours or mouth_colours(image, neutral)
        openings.append(MouthOpening(frame, top, bottom, corners,
                                     float(min(1.0, extra / RAMP)), profile, colours))
    return openings
