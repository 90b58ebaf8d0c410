"""Optical flow, optical strain and the classifier's input on real face crops."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.align import AlignedFace, AlignmentTemplate, align_face
from app.face import FaceTracker, FaceTrackerOptions, RunningMode
from app.flow import compute_flow, optical_strain
from app.model_card import InputSpec
from app.model_input import attention_to_crop, build_model_input, onset_apex_flow


@pytest.fixture(scope="module")
def face_crop(astronaut_bgr) -> AlignedFace:
    with FaceTracker(FaceTrackerOptions(mode=RunningMode.IMAGE)) as tracker:
        return align_face(astronaut_bgr, tracker.detect(astronaut_bgr).landmarks, AlignmentTemplate())


def _warp(image: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Move content by (dx, dy): output(x + d) = input(x), for smooth small d."""
    h, w = image.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(image, xx - dx, yy - dy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("method", ["tvl1", "farneback", "dis"])
def test_flow_recovers_a_known_subpixel_translation(face_crop, method):
    moved = _warp(face_crop.image, np.full((128, 128), 0.8, np.float32), np.full((128, 128), -0.5, np.float32))
    flow = compute_flow(face_crop.image, moved, method)
    inner = flow[24:104, 24:104].reshape(-1, 2)
    assert np.median(inner[:, 0]) == pytest.approx(0.8, abs=0.12)
    assert np.median(inner[:, 1]) == pytest.approx(-0.5, abs=0.12)


def test_strain_is_zero_for_translation_and_matches_a_stretch():
    h = w = 64
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    translation = np.dstack([np.full((h, w), 2.0), np.full((h, w), -1.0)]).astype(np.float32)
    assert optical_strain(translation).max() < 1e-6
    stretch = np.dstack([0.03 * xx, np.zeros_like(yy)]).astype(np.float32)  # u_x = 0.03
    assert np.median(optical_strain(stretch)) == pytest.approx(0.03, rel=1e-3)


def test_model_input_follows_the_spec_and_sees_the_moved_region(face_crop):
    spec = InputSpec()  # quad layout, 28x28, u/v/strain, per-sample max
    corner = face_crop.landmarks[291]  # image-right mouth corner
    yy, xx = np.mgrid[0:128, 0:128].astype(np.float32)
    bump = 1.5 * np.exp(-((xx - corner[0]) ** 2 + (yy - corner[1]) ** 2) / (2 * 5.0**2))
    apex = AlignedFace(_warp(face_crop.image, bump, -0.5 * bump), face_crop.matrix, face_crop.landmarks)
    model_input = build_model_input(face_crop, apex, spec)
    assert model_input.tensor.shape == (3, 28, 28) and model_input.tensor.dtype == np.float32
    magnitude = np.hypot(model_input.tensor[0], model_input.tensor[1])
    assert magnitude.max() == pytest.approx(1.0, abs=1e-5)  # per-sample normalisation
    tiles = [magnitude[:14, :14], magnitude[:14, 14:], magnitude[14:, :14], magnitude[14:, 14:]]
    assert int(np.argmax([t.mean() for t in tiles])) == 3  # the mouth-corner-right tile
    x0, y0, x1, y1 = model_input.boxes[3]
    assert x0 <= corner[0] <= x1 and y0 <= corner[1] <= y1


def test_brightness_matching_keeps_a_darker_apex_from_reading_as_motion(face_crop):
    """A 6 % fall in light between onset and apex: TV-L1 reads it as motion all over the face unless the
    model's card asks for the apex's brightness to be matched to the onset's; the real movement stays."""
    corner = face_crop.landmarks[291]
    yy, xx = np.mgrid[0:128, 0:128].astype(np.float32)
    bump = 1.5 * np.exp(-((xx - corner[0]) ** 2 + (yy - corner[1]) ** 2) / (2 * 5.0**2))
    moved = _warp(face_crop.image, bump, -0.5 * bump)
    darker = AlignedFace(np.clip(moved * 0.94, 0, 255).astype(np.uint8), face_crop.matrix, face_crop.landmarks)
    lit = AlignedFace(moved, face_crop.matrix, face_crop.landmarks)
    distance = np.hypot(xx - corner[0], yy - corner[1])
    far, near = distance > 20, distance < 4

    def magnitude(apex, match):
        return np.linalg.norm(onset_apex_flow(face_crop, apex, InputSpec(match_brightness=match)), axis=2)

    assert magnitude(darker, False)[far].mean() > 0.4  # the light's change, read as motion
    matched, reference = magnitude(darker, True), magnitude(lit, False)
    assert matched[far].mean() < 0.05
    assert matched[near].mean() == pytest.approx(reference[near].mean(), rel=0.15)


def test_face_layout_and_fixed_scale(face_crop):
    spec = InputSpec(region_layout="face", height=32, width=32, channels=("u", "v"),
                     normalisation="fixed_scale", flow_scale=2.0)
    moved = AlignedFace(_warp(face_crop.image, np.full((128, 128), 1.0, np.float32), np.zeros((128, 128), np.float32)),
                        face_crop.matrix, face_crop.landmarks)
    tensor = build_model_input(face_crop, moved, spec).tensor
    assert tensor.shape == (2, 32, 32)
    # nose compensation removes a global translation: what is left is near zero.
    assert np.abs(np.median(tensor[0])) < 0.05


def test_attention_maps_back_onto_the_crop_region_it_came_from(face_crop):
    spec = InputSpec()
    model_input = build_model_input(face_crop, face_crop, spec)
    attention = np.zeros((7, 7), np.float32)
    attention[0, 0] = 1.0  # top-left patch of the top-left tile (image-left eye and brow)
    crop_map = attention_to_crop(attention, model_input, spec)
    assert crop_map.sum() == pytest.approx(1.0, abs=1e-5) and crop_map.min() >= 0
    x0, y0, x1, y1 = model_input.boxes[0]
    ys, xs = np.nonzero(crop_map)
    assert xs.min() >= x0 and xs.max() < x0 + (x1 - x0) / 2 + 1
    assert ys.min() >= y0 and ys.max() < y0 + (y1 - y0) / 2 + 1


# Published MEGC2019 flows (HTNet's STSNet_whole_norm_u_v_os, 442 images), per-image statistics in [0, 1],
# measured once on the published files (README): 1st-99th and 5th-95th percentiles over the images.
#   channel median       u 0.16-0.83 (0.26-0.76)  v 0.09-0.91 (0.14-0.88)    strain 0.016-0.175 (0.02-0.13)
#   interquartile range  u 0.03-0.35 (0.04-0.28)  v 0.017-0.33 (0.035-0.27) strain 0.008-0.18 (0.02-0.14)
PUBLISHED_MEDIAN = {"u": ((0.16, 0.83), (0.26, 0.76)), "v": ((0.09, 0.91), (0.14, 0.88)),
                    "strain": ((3.5 / 255, 0.175), (0.02, 0.13))}  # p1 is 4 of the PNGs' 8-bit steps (±0.5)
PUBLISHED_IQR = {"u": ((0.03, 0.35), (0.04, 0.28)), "v": ((0.017, 0.33), (0.035, 0.27)),
                 "strain": ((0.008, 0.18), (0.02, 0.14))}


def _expressions(face: AlignedFace) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Displacement fields of three expression-like motions on the aligned face, from its landmarks."""
    size = face.size
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)

    def bump(index: int, radius: float) -> np.ndarray:
        x, y = face.landmarks[index, :2]
        return np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * radius**2))

    corners, brows = (bump(61, 6), bump(291, 6)), (bump(105, 8), bump(334, 8))
    return {
        "smile": (1.2 * (corners[1] - corners[0]), -0.8 * (corners[0] + corners[1])),
        "brows_raised": (np.zeros_like(xx), -(brows[0] + brows[1])),
        "frown": (brows[0] - brows[1], brows[0] + brows[1]),
    }


def test_whole_layout_has_the_published_flows_value_distribution(astronaut_bgr, hopper_bgr):
    """The runtime's whole-face input on real faces (deformed, with camera noise) looks like the published flows."""
    spec = InputSpec.whole()
    rng = np.random.default_rng(0)
    noisy = lambda image: np.clip(image + rng.normal(0, 3.0, image.shape), 0, 255).astype(np.uint8)  # noqa: E731
    medians, iqrs = [], []
    with FaceTracker(FaceTrackerOptions(mode=RunningMode.IMAGE)) as tracker:
        for photo in (astronaut_bgr, hopper_bgr):
            face = align_face(photo, tracker.detect(photo).landmarks, spec.template())
            assert face.size == spec.crop_size
            for dx, dy in _expressions(face).values():
                onset = AlignedFace(noisy(face.image), face.matrix, face.landmarks)
                apex = AlignedFace(noisy(_warp(face.image, dx, dy)), face.matrix, face.landmarks)
                tensor = build_model_input(onset, apex, spec).tensor.reshape(3, -1)
                assert tensor.min() == 0.0 and tensor.max() == 1.0  # per-channel min-max, like the PNGs
                assert np.allclose(tensor * 255, np.round(tensor * 255), atol=1e-4)  # 8-bit steps
                medians.append(np.median(tensor, axis=1))
                iqrs.append(np.subtract(*np.percentile(tensor, [75, 25], axis=1)))
    medians, iqrs = np.array(medians), np.array(iqrs)
    # every sample inside the published 1st-99th percentiles, the typical one inside the 5th-95th
    for c, name in enumerate(spec.channels):
        for values, ((low, high), (low5, high95)) in ((medians[:, c], PUBLISHED_MEDIAN[name]), (iqrs[:, c], PUBLISHED_IQR[name])):
            assert np.all((values >= low) & (values <= high)), (name, values)
            assert low5 <= np.median(values) <= high95, (name, values)
    # strain sits near the bottom of its range, the flow components near the middle
    assert np.median(medians[:, 2]) < 0.1 < np.median(medians[:, :2])
