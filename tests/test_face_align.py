"""Real MediaPipe on real face photographs: landmarks, alignment, head pose."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.align import AlignmentTemplate, align_face, reregister
from app.face import N_LANDMARKS, FaceTracker, FaceTrackerOptions, RunningMode
from app.pose import estimate_head_pose
from app.regions import eye_centres
from models.synth.render import render_sequence


@pytest.fixture(scope="module")
def tracker():
    with FaceTracker(FaceTrackerOptions(mode=RunningMode.IMAGE)) as t:
        yield t


def _rotate(image: np.ndarray, degrees: float, scale: float = 1.0, shift=(0, 0)) -> np.ndarray:
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, scale)
    m[:, 2] += shift
    return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


@pytest.mark.parametrize("photo", ["astronaut_bgr", "hopper_bgr"])
def test_face_mesh_finds_478_landmarks_on_the_face(request, tracker, photo):
    image = request.getfixturevalue(photo)
    face = tracker.detect(image)
    assert face is not None
    assert face.landmarks.shape == (N_LANDMARKS, 3)
    x, y, w, h = face.bbox
    assert 0 <= x and x + w <= image.shape[1] and 40 < w < image.shape[1]
    assert 0.5 < face.confidence <= 1.0
    left, right = eye_centres(face.landmarks)
    assert left[0] < right[0] and abs(left[1] - right[1]) < 0.2 * (right[0] - left[0])


def test_a_close_up_that_the_full_range_detector_misses_is_vouched_for(tracker):
    """The rendered close-up of the bundled photo pexels_man_bw: BlazeFace's full-range model finds no face
    in any of these 9 frames (mediapipe 0.10.21), the short-range model scores 0.83 on each; every frame
    must keep its face (IMAGE mode runs the detectors on every frame)."""
    frames, _ = render_sequence("pexels_man_bw", [], fps=30, duration_s=0.3, seed=1)
    faces = [tracker.detect(frame) for frame in frames]
    assert all(face is not None and face.confidence > 0.6 for face in faces)


def test_no_face_in_a_blank_or_non_face_image(tracker, astronaut_bgr):
    assert tracker.detect(np.full((240, 320, 3), 128, np.uint8)) is None
    assert tracker.detect(astronaut_bgr[400:, :200].copy()) is None  # suit and background only


@pytest.mark.parametrize("degrees,scale", [(0, 1.0), (15, 1.0), (-20, 0.8), (10, 1.3)])
def test_alignment_puts_the_eyes_on_the_template(tracker, astronaut_bgr, degrees, scale):
    """Eye centres, re-detected by MediaPipe on the aligned crop, land within 2 px of the template."""
    image = _rotate(astronaut_bgr, degrees, scale, shift=(20, -10))
    template = AlignmentTemplate()
    aligned = align_face(image, tracker.detect(image).landmarks, template)
    assert aligned.image.shape == (template.size, template.size) and aligned.image.dtype == np.uint8
    zoom = 4  # MediaPipe wants a larger face than a 128-px crop
    big = cv2.resize(cv2.cvtColor(aligned.image, cv2.COLOR_GRAY2BGR), None, fx=zoom, fy=zoom,
                     interpolation=cv2.INTER_CUBIC)
    redetected = tracker.detect(big)
    assert redetected is not None
    left, right = (p / zoom for p in eye_centres(redetected.landmarks))
    assert np.linalg.norm(left - template.left_eye) < 2.0
    assert np.linalg.norm(right - template.right_eye) < 2.0


def test_inverse_transform_maps_crop_points_back_to_the_frame(tracker, astronaut_bgr):
    image = _rotate(astronaut_bgr, 12)
    face = tracker.detect(image)
    aligned = align_face(image, face.landmarks, AlignmentTemplate())
    back = aligned.to_frame(aligned.landmarks)
    assert np.abs(back - face.landmarks[:, :2]).max() < 1e-3
    heat = np.zeros((128, 128), np.float32)
    heat[60:68, 60:68] = 1.0
    on_frame = aligned.map_to_frame(heat, (image.shape[1], image.shape[0]))
    ys, xs = np.nonzero(on_frame > 0.5)
    centre = aligned.to_frame(np.array([[63.5, 63.5]]))[0]
    assert abs(xs.mean() - centre[0]) < 2 and abs(ys.mean() - centre[1]) < 2


def test_reregister_removes_the_difference_between_two_alignments(tracker, astronaut_bgr):
    """Two crops of one frame whose alignments differ (as landmark jitter makes them differ between video
    frames): one resampled into the other's coordinates matches it where content is shared."""
    image = _rotate(astronaut_bgr, 8, 1.1, (6, 4))
    b = align_face(image, tracker.detect(image).landmarks, AlignmentTemplate())
    # A second alignment of the same frame, off by a few pixels: re-registration must undo exactly that.
    shifted = type(b)(cv2.warpAffine(b.image, np.float32([[1, 0, 3], [0, 1, -2]]), (128, 128),
                                     borderMode=cv2.BORDER_REPLICATE),
                      b.matrix + np.array([[0, 0, 3], [0, 0, -2]]), b.landmarks + [3, -2])
    back = reregister(shifted, b)
    inner = (slice(20, 108), slice(20, 108))
    assert np.abs(back[inner].astype(int) - b.image[inner].astype(int)).mean() < 2.0


@pytest.mark.parametrize("photo", ["astronaut_bgr", "hopper_bgr"])
def test_head_pose_of_a_portrait_and_of_its_rotation(request, tracker, photo):
    """Portraits face the camera (small angles); roll follows an in-plane rotation, the rest stays."""
    image = request.getfixturevalue(photo)
    base = estimate_head_pose(tracker.detect(image).landmarks)
    assert max(abs(np.degrees(base.pitch)), abs(np.degrees(base.yaw)), abs(np.degrees(base.roll))) < 15
    turned = estimate_head_pose(tracker.detect(_rotate(image, 20)).landmarks)
    assert abs(np.degrees(turned.roll - base.roll) + 20) < 3  # image rotated counter-clockwise
    assert abs(np.degrees(turned.yaw - base.yaw)) < 3
    assert abs(np.degrees(turned.pitch - base.pitch)) < 3
