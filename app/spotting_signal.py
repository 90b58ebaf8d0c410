"""The spotter's first part: a per-frame motion signal from aligned face crops.

Per frame t three things are measured, each as the largest regional motion (optical flow in 11 facial
regions, the head's rigid motion subtracted):

- ``value``, the transient motion: against BOTH the frame a half window before and the one after, the
  smaller of the two (the "feature difference" of the MEGC spotting literature, with optical flow). An
  expression displaces the face at its apex with respect to neutral frames on either side; a head turn or a
  lighting step differs from one side only. Two half windows run side by side (micro and macro scales).
  It is capped by the displacement from any compared earlier frame at which the face was still (the rest
  reference, a half window back): a still face between two movements differs from both sides too.
  Near either end of the face track a window is clipped to the frames there are, so the signal runs from
  the first frame to the last.
- ``held``, the displacement from a rest reference: the face a long half window earlier while nothing
  moves, frozen there once the face moves away, so an expression held for many seconds stays visible
  until it is released (or the source ends), and kept for a moment after the face is back (``settle_ms``)
  while it settles; a still face back at the rest it left before a turn or a change of light is at rest too.
- ``nuisance``, set when what differs between the compared frames is the head's pose (the nose and the
  sides of the face moved in the eye-aligned crop, or most regions moved alike, for 50 ms in a row when
  measured from the rest: expressions move a few parts and leave the nose in place) or the lighting (the
  brightness along the face's midline changed). A held expression changes neither; a head turn or a
  lighting step does. The event detector drops such changes, and the rest reference moves to the new
  pose or light.

Flows are computed between crops resampled through one alignment (so landmark jitter cancels) and then
registered on landmarks that no expression moves (so a fast head movement does not leave the flow a
motion too large to measure); one flow serves each pair of frames, in both directions. While the eye
aspect ratio says the eyes blink, the lids are muted and the brows count only what they move beyond the
lids. The signal is smoothed with a short centred moving average.
"""

from __future__ import annotations

import bisect
import itertools
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from app.align import AlignedFace, apply_affine, crop_to_crop
from app.flow import compute_flow, head_motion, rigid_motion_at
from app.median import median
from app.regions import SPOTTING_REGIONS, region_boxes
from app.spotting_options import SpottingOptions

_LID_REGIONS = [i for i, r in enumerate(SPOTTING_REGIONS) if r.blink == "lid"]
_BROW_REGIONS = [i for i, r in enumerate(SPOTTING_REGIONS) if r.blink == "brow"]
# Where a hand over the face shows as texture the flow cannot explain: eyes and mouth show new texture
# when they open (sclera, teeth), cheeks and nose wings do not.
_COVER_REGIONS = [i for i, r in enumerate(SPOTTING_REGIONS) if r.name.startswith(("cheek", "nose_wing"))]
# Landmarks no expression moves in an eye-aligned crop, but a turn or nod of the head does:
# the nose ridge and tip, and the sides of the face at cheekbone and temple height.
STABLE_LANDMARKS = (6, 197, 195, 5, 4, 1, 234, 454, 127, 356)
# The face's midline from the forehead to the nose ridge: the lighting test's strip.
MIDLINE_LANDMARKS = (151, 9, 168, 6, 197, 195)
# The head's motion between two frames is fitted on these: the stable ones, the forehead and the bridge.
ANCHOR_LANDMARKS = [*STABLE_LANDMARKS, 10, 151, 9, 8, 168]


@dataclass(frozen=True)
class MotionSample:
    """The motion signal at one frame, in pixels on the aligned crop."""

    frame: int
    timestamp: float
    value: float  # transient motion, smoothed
    raw: float  # transient motion, unsmoothed (to place the apex)
    held: float  # displacement from the rest reference, smoothed; 0 where the change is pose or lighting
    nuisance: bool  # the compared frames differ in head pose or lighting


@dataclass
class _Slot:
    frame: int
    timestamp: float
    face: AlignedFace
    blink: bool
    raw: float | None = None  # its transient motion (unsmoothed), once measured


def pose_shift(a: AlignedFace, b: AlignedFace) -> float:
    """Median shift of the stable landmarks between two eye-aligned crops (pixels)."""
    idx = list(STABLE_LANDMARKS)
    return float(median(np.linalg.norm(a.landmarks[idx, :2] - b.landmarks[idx, :2], axis=1)))


def brightness_change(a: AlignedFace, b: AlignedFace) -> float:
    """Relative change of brightness between two crops along the face's midline from the forehead to the
    nose: skin that no expression uncovers or shades, while a change of light (or a hand) reaches it. The
    whole centre of the face would not do: a broad smile's cheeks and lids shade it by 7-10 %, as a change
    of light would (measured on rendered smiles), and the rest reference was re-taken mid-smile."""
    ma, mb = _midline_brightness(a), _midline_brightness(b)
    return abs(ma - mb) / max(ma, mb, 1.0)


def _midline_brightness(face: AlignedFace) -> float:
    """Mean grey level of a strip on the nose ridge, forehead (151) to mid-nose (195), a quarter of the
    eye-corner distance wide."""
    lm = face.landmarks
    x = float(lm[list(MIDLINE_LANDMARKS), 0].mean())
    half = 0.12 * float(np.linalg.norm(lm[133, :2] - lm[362, :2])) + 2
    top, bottom = int(round(lm[151, 1])), int(round(lm[195, 1]))
    left, right = int(round(x - half)), int(round(x + half))
    strip = face.image[max(top, 0):max(bottom, top + 1), max(left, 0):max(right, left + 1)]
    return float(strip.mean()) if strip.size else float(face.image.mean())


def region_motion(flow: np.ndarray, boxes: np.ndarray, head: np.ndarray | None = None) -> np.ndarray:
    """Length of each region's mean flow vector, the head's rigid motion (``head``, else fitted here)
    taken out.

    The mean vector, not the mean length: coherent motion adds up, noise cancels out. The rigid
    motion is affine, so its mean over a box is its value at the box centre. Box sums come from one
    integral image, so the cost does not grow with the number of regions.
    """
    return np.linalg.norm(_region_vectors(flow, boxes, head_motion(flow, step=8) if head is None else head), axis=1)


def _region_vectors(flow: np.ndarray, boxes: np.ndarray, head: np.ndarray) -> np.ndarray:
    sums = cv2.integral(flow)  # (H+1, W+1, 2), float64
    x0, y0, x1, y1 = boxes.T
    totals = sums[y1, x1] - sums[y0, x1] - sums[y1, x0] + sums[y0, x0]
    means = totals / ((x1 - x0) * (y1 - y0))[:, None]
    centres = np.column_stack([(x0 + x1 - 1) / 2, (y0 + y1 - 1) / 2])
    return means - rigid_motion_at(head, centres, flow.shape[:2])


def register(moving: AlignedFace, reference: AlignedFace) -> np.ndarray:
    """(2, 3) map from the moving crop onto the reference crop: through the frame (so each crop's own
    alignment jitter cancels), then the similarity that puts the moving face's anchor landmarks on the
    reference's (least squares, in closed form). The head's motion between the two frames (a fast turn
    moves the face 15 px and 6° in the crop) is so taken out before the flow, which is accurate only on
    small motions; the landmarks' own jitter is a small similarity that the head-motion fit on the flow
    removes."""
    base = crop_to_crop(moving, reference)
    src = apply_affine(base, moving.landmarks[ANCHOR_LANDMARKS])
    dst = reference.landmarks[ANCHOR_LANDMARKS, :2].astype(np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    (x, y), (u, v) = (src - src_mean).T, (dst - dst_mean).T
    norm = float(x @ x + y @ y)
    a, b = float(x @ u + y @ v) / norm, float(x @ v - y @ u) / norm
    rotation = np.array([[a, -b], [b, a]])
    shift = dst_mean - rotation @ src_mean
    return np.hstack([rotation @ base[:, :2], (rotation @ base[:, 2] + shift)[:, None]])


@dataclass(frozen=True)
class PairFlow:
    """The one flow of a pair of frames: measured in ``owner``'s crop, from the other frame's crop carried
    onto it by ``to_owner`` (``register``); with the head's rigid motion in it and whether something covers
    the face. It serves both frames (``region_motion`` in the owner's crop, ``motion_at_other``)."""

    flow: np.ndarray  # (H, W, 2) float32, other frame → owner, in the owner's crop
    head: np.ndarray  # the head's rigid motion in ``flow`` (app.flow.head_motion)
    owner: AlignedFace
    to_owner: np.ndarray  # (2, 3) the other crop → the owner's crop
    covered: bool

    def motion_at_other(self, boxes: np.ndarray) -> np.ndarray:
        """Regional motion of the opposite direction (owner → other frame) at boxes of the other frame's crop.

        Each box is carried into the owner's crop (centre through ``to_owner``, sides scaled), its motion
        measured there and carried back; reversing a vector keeps its length, the similarity scales it.
        This replaces warping the whole flow into the other crop and fitting the head's motion again, at
        about half the cost (measured on rendered faces turning their heads: within 0.06 px + 7 % of that
        region motion; on a real 640x360 clip median 1.4 % of it, and the same events there)."""
        (a, b, tx), (c, d, ty) = self.to_owner
        scale, size = abs(a * d - b * c) ** 0.5, self.owner.size
        low, high = boxes[:, :2], boxes[:, 2:]
        centres = (low + high - 1) / 2 @ self.to_owner[:, :2].T + (tx, ty)
        halves = (high - low - 1) * (scale / 2)
        low = np.rint(np.clip(centres - halves, 0, size - 2))
        high = np.maximum(np.rint(np.clip(centres + halves, low, size - 1)) + 1, low + 2)
        carried = np.hstack([low, high]).astype(np.int64)
        return np.linalg.norm(_region_vectors(self.flow, carried, self.head), axis=1) / scale


def unexplained(moved: np.ndarray, target: np.ndarray, flow: np.ndarray, box: np.ndarray) -> float:
    """How much of the image change in a box the flow leaves unexplained (residual after warping / change).

    A face deforming is what optical flow models: warped by its flow, the earlier frame matches the later
    one (measured on rendered expressions: 0.2-0.4 of the change remains where the face moves most, up to
    0.57 on a 3-px smile, where the half-resolution flow falls short). A hand crossing the face brings
    texture that no motion of the face produces (0.65-1.07 remains, most frames above 0.75)."""
    x0, y0, x1, y1 = (int(v) for v in box)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    sub = flow[y0:y1, x0:x1]
    warped = cv2.remap(target, xs + sub[..., 0], ys + sub[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    before = moved[y0:y1, x0:x1].astype(np.float32)
    change = float(np.abs(target[y0:y1, x0:x1].astype(np.float32) - before).mean())
    return float(np.abs(warped.astype(np.float32) - before).mean()) / max(change, 1e-3)


def mute_blink(values: np.ndarray) -> np.ndarray:
    """The regional motion while the eyes blink: lids muted, brows reduced to what they move beyond the
    lids (the lids' motion spreads into the brow boxes, more so on a half-resolution flow)."""
    values = values.copy()
    lids = values[_LID_REGIONS].max()
    values[_LID_REGIONS] = 0.0
    values[_BROW_REGIONS] = np.maximum(values[_BROW_REGIONS] - lids, 0.0)
    return values


class MotionSignal:
    """Feed one aligned face per frame with ``push``; collect ``MotionSample``s in frame order.

    Windows are in seconds on the frames' own timestamps, so frames dropped in live use (or a variable
    frame rate) do not stretch them. A sample is known once the frame a long half window later has
    arrived; ``flush`` measures the last frames with windows clipped to the end of the track.
    """

    def __init__(self, fps: float, options: SpottingOptions | None = None):
        self.options = o = options or SpottingOptions()
        self.windows_s = sorted({ms / 1000.0 for ms in o.half_windows_ms})
        self.margin_s = max(o.blink_margin_ms, 0.0) / 1000.0
        self.min_side_s = o.min_side_ms / 1000.0
        self.tolerance_s = 0.5 / fps  # half a frame: how far a reference frame may sit from its ideal time
        self.half = o.frames(o.smoothing_ms, fps) // 2  # centred smoothing window of 2·half + 1 samples
        self.blink_margin = o.frames(o.blink_margin_ms, fps) if o.blink_margin_ms > 0 else 0
        self.long = o.frames(self.windows_s[-1] * 1000, fps)
        self.max_held_s = o.max_held_ms / 1000.0
        self.settle_s = o.settle_ms / 1000.0
        self.confirm = o.frames(o.global_confirm_ms, fps)
        self._ear_history = o.frames(10_000, fps)
        self.reset()

    @property
    def delay_frames(self) -> int:
        """How many frames (at the nominal fps) after a frame arrives its sample is known."""
        return self.long + self.half + self.blink_margin

    def reset(self) -> None:
        """Forget everything that depends on continuity (face lost, seek)."""
        self._slots: deque[_Slot] = deque()
        self._next = 0  # index in _slots of the next frame to measure
        self._raw: list[tuple[int, float, float, float, bool]] = []  # measured, not all smoothed yet
        self._pos = 0  # index in _raw of the next sample to emit
        self._ears: deque[float] = deque(maxlen=self._ear_history)
        self._ref: _Slot | None = None  # rest reference, frozen; None: the frame a long half window back
        self._rest: _Slot | None = None  # the last new rest (a turn, a lighting change, a release, a long hold)
        self._earlier: _Slot | None = None  # the rest before the last turn or lighting change (see ``_measure``)
        self._returning = False  # the face looked back at the earlier rest, not yet still from there
        self._back_since: float | None = None  # when the face came back within rest level of the frozen rest
        self._alike = 0  # frames in a row at which the whole face moved alike from the rest
        # per pair of frames (the earlier frame, the later), its one flow
        self._pairs: dict[tuple[int, int], PairFlow] = {}

    def push(self, frame: int, timestamp: float, face: AlignedFace, ear: float) -> list[MotionSample]:
        self._slots.append(_Slot(frame, timestamp, face, self._is_blink(ear)))
        ready = timestamp - self.windows_s[-1] - self.margin_s + self.tolerance_s
        while self._next < len(self._slots) and self._slots[self._next].timestamp <= ready:
            self._measure(self._next)
            self._next += 1
        self._forget_old_slots()
        return self._emit(final=False)

    def flush(self) -> list[MotionSample]:
        """End of the track: measure the last frames with the windows clipped to it; emit everything."""
        for centre in range(self._next, len(self._slots)):
            self._measure(centre)
        self._next = len(self._slots)
        samples = self._emit(final=True)
        self.reset()
        return samples

    def _forget_old_slots(self) -> None:
        if self._next >= len(self._slots):
            return
        oldest_needed = self._slots[self._next].timestamp - self.windows_s[-1] - self.margin_s - self.tolerance_s
        while self._slots and self._slots[0].timestamp < oldest_needed:
            self._slots.popleft()
            self._next -= 1
        if self._slots:
            oldest = self._slots[0].frame
            self._pairs = {k: v for k, v in self._pairs.items() if k[0] >= oldest}

    def _emit(self, final: bool) -> list[MotionSample]:
        """Smooth with a centred window (shortened at the ends of the track) and emit what is known."""
        raw, out, h = self._raw, [], self.half
        while self._pos < len(raw) and (final or self._pos + h < len(raw)):
            window = raw[max(0, self._pos - h):self._pos + h + 1]
            frame, timestamp, value, held, nuisance = raw[self._pos]
            out.append(MotionSample(frame, timestamp, float(np.mean([r[2] for r in window])), value,
                                    float(np.mean([r[3] for r in window])), nuisance))
            self._pos += 1
        drop = max(0, self._pos - h)
        del raw[:drop]
        self._pos -= drop
        return out

    def _is_blink(self, ear: float) -> bool:
        usual = float(median(np.fromiter(self._ears, float, len(self._ears)))) if len(self._ears) >= 5 else ear
        self._ears.append(ear)
        return ear < self.options.blink_ear_ratio * usual

    def _settling(self, now: float) -> bool:
        """Whether the face came back to its frozen rest less than ``settle_ms`` ago (counting from now if it
        just did)."""
        if self._back_since is None:
            self._back_since = now
        return now - self._back_since < self.settle_s

    def _measure(self, centre: int) -> None:
        """Transient motion, held displacement and nuisance flag of the slot at ``centre``."""
        o, slots = self.options, self._slots
        here = slots[centre]
        times = [s.timestamp for s in slots]
        first, last, tol = times[0], times[-1], self.tolerance_s

        def nearest(t: float) -> int:
            i = bisect.bisect_left(times, t)
            return min((j for j in (i - 1, i) if 0 <= j < len(times)), key=lambda j: abs(times[j] - t))

        def blinking(t: float) -> bool:
            lo = bisect.bisect_left(times, t - self.margin_s - tol)
            hi = bisect.bisect_right(times, t + self.margin_s + tol)
            return any(s.blink for s in itertools.islice(slots, lo, hi))

        boxes = region_boxes(SPOTTING_REGIONS, here.face.landmarks, here.face.size)

        measured: dict[int, np.ndarray] = {}  # regional motion (unmuted) against each frame, for this frame

        def motion(other: _Slot, muted: bool) -> np.ndarray:
            """Regional motion between ``other`` and here. One flow per pair of frames: frame t's flow to
            t + w serves frame t + w's motion back to t."""
            if other.frame not in measured:
                flow = pair(other)
                if flow.owner is not here.face:
                    measured[other.frame] = flow.motion_at_other(boxes)
            values = measured[other.frame]
            return mute_blink(values) if muted else values

        def pair(other: _Slot) -> PairFlow:
            """The pair's flow (measured now in this crop, unless the other frame measured it)."""
            key = (min(other.frame, here.frame), max(other.frame, here.frame))
            if key not in self._pairs:
                to_here = register(other.face, here.face)
                moved = cv2.warpAffine(other.face.image, to_here, (here.face.size,) * 2,
                                       flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                flow = compute_flow(moved, here.face.image, o.flow_method)
                head = head_motion(flow, step=8)
                values = measured[other.frame] = region_motion(flow, boxes, head)
                k = _COVER_REGIONS[int(values[_COVER_REGIONS].argmax())]
                covered = (o.cover_test and values[k] > o.occlusion_px
                           and unexplained(moved, here.face.image, flow, boxes[k]) > o.occlusion_ratio)
                self._pairs[key] = PairFlow(flow, head, here.face, to_here, covered)
            return self._pairs[key]

        def alike(regions: np.ndarray) -> bool:
            """Most regions moved alike: a turn or nod distorts the whole face, an expression a few parts."""
            top = float(regions.max())
            return top > o.rest_level_px and float(median(regions)) > o.global_share * top

        def stepped(a: _Slot, b: _Slot, regions: np.ndarray) -> bool:
            """A change of pose or light between two frames: the stable landmarks moved by more than a share
            of the regional motion (an expression moves its regions far more than the nose), or the face's
            brightness changed."""
            shift = pose_shift(a.face, b.face)
            return ((shift > o.pose_px and shift > o.pose_share * float(regions.max()))
                    or brightness_change(a.face, b.face) > o.lighting_ratio)

        def still(slot: _Slot) -> bool:
            """Whether the face was still at an earlier frame (its own transient motion at rest level)."""
            return slot.raw is not None and slot.raw <= o.rest_level_px

        scales = []  # (value, the compared frames differ in pose, light or cover) per window
        from_still = []  # the displacement from each compared earlier frame at which the face was still
        for w in self.windows_s:
            t_before, t_after = max(here.timestamp - w, first), min(here.timestamp + w, last)
            if min(here.timestamp - t_before, t_after - here.timestamp) < self.min_side_s - tol:
                continue
            before, after = slots[nearest(t_before)], slots[nearest(t_after)]
            muted = blinking(t_before) or blinking(here.timestamp) or blinking(t_after)
            sides = np.stack([motion(before, muted), motion(after, muted)])
            before_covered = pair(before).covered
            covered = before_covered or pair(after).covered
            if still(before) and not before_covered:
                from_still.append(float(sides[0].max()))
            # no lighting or landmark test here: a lighting step or a turn differs from one side only, which
            # the smaller of the two sides already ignores, while the light drifting over 3 s or the head
            # moving with a laugh (its nose landmarks shift 4 px and more) must not hide an expression
            scales.append((float(np.max(sides.min(axis=0))), covered or alike(sides.max(axis=0))))
        # A nuisance only if every window that sees the motion (nearly) as strongly says so: a micro-expression
        # seen cleanly against frames 0.5 s away is no lighting change because the light drifted over 3 s.
        value = max((v for v, _ in scales), default=0.0)
        nuisance = value > 0 and all(flag for v, flag in scales if v >= 0.8 * value)

        # At rest the reference follows a long half window behind (the long window's own before-frame,
        # whose flow is already measured), never back past the last new rest (a turn, a lighting step,
        # the face's return from an expression); frozen once the face moves.
        ref = self._ref or slots[nearest(here.timestamp - self.windows_s[-1])]
        if self._rest is not None and self._rest.timestamp > ref.timestamp:
            ref = self._rest
        displaced = motion(ref, ref.blink or blinking(here.timestamp))
        held = float(displaced.max())
        # The rest before the last turn or lighting change, while an expression could still be held from it:
        # a face back there is at rest. A new rest taken in the middle of an expression (a broad smile's
        # shading read as a change of light) then ends with the expression, not when the hold runs out.
        if self._earlier is not None and here.timestamp - self._earlier.timestamp > self.max_held_s:
            self._earlier = None

        def back_at_earlier_rest() -> float | None:
            """The displacement from the earlier rest when the face is back there (looked at only while the
            face is still: a face in speech or in motion is not back at rest, and each look is one more flow)."""
            if self._earlier is None or value > o.rest_level_px:
                return None
            back = float(motion(self._earlier, self._earlier.blink or blinking(here.timestamp)).max())
            return back if back <= o.rest_level_px else None

        ref_covered = pair(ref).covered
        self._alike = self._alike + 1 if not ref_covered and alike(displaced) else 0
        turned = not ref_covered and (stepped(ref, here, displaced) or self._alike >= self.confirm)
        if not (ref_covered or turned) and still(ref):
            from_still.append(held)
        # A face no further from a still earlier frame (the rest, a half window back) than that moved no
        # further, however much the frames a half window away differ from it: between two movements (speech,
        # a hand, an expression) both of them do. Not from a frame taken mid-movement (a laugh's head motion
        # re-takes the rest mid-laugh).
        value = min([value, *from_still])
        if ref_covered:  # something covers the face: no displacement known, the rest stays
            held, nuisance = 0.0, True
        elif turned:  # the head turned or the light changed: that is the new rest
            self._earlier, self._returning = self._earlier or ref, False
            held, nuisance, self._ref, self._rest, self._alike = 0.0, True, None, here, 0
        elif held <= o.rest_level_px and self._ref is not None and self._settling(here.timestamp):
            pass  # back at the rest it left but still settling: that rest stays the reference
        elif held <= o.rest_level_px:  # at rest: the reference follows again, from here if the face just came back
            self._rest = here if self._ref is not None else self._rest
            self._ref, self._back_since = None, None
            if self._returning:  # still where it came back: that was the earlier rest
                self._earlier, self._returning = None, False
        elif (back := back_at_earlier_rest()) is not None:
            # The earlier rest is kept until the face stays still from here: a frame in the middle of a hand
            # crossing can look back there, and the hand leaving then read as an expression held for 4 s.
            held, self._ref, self._rest, self._returning = back, None, here, True
        elif here.timestamp - ref.timestamp > self.max_held_s:  # held too long to be one expression
            self._ref, self._rest = None, here
        else:  # moved away from rest: the reference stays until the face comes back
            self._ref, self._back_since = ref, None
        here.raw = value
        self._raw.append((here.frame, here.timestamp, value, held, nuisance))
