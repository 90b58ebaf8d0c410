"""Head pose (pitch, yaw, roll) from MediaPipe's 3-D landmarks, with OpenFace's axis conventions.

MediaPipe gives every landmark a depth in the same pixel scale as x, so the face's own axes can be
read off directly: x along the outer eye corners, y from the eyes' midpoint down to the mouth
corners' midpoint (these four points lie at almost the same depth, so the axes are level on a frontal
face), z perpendicular to both. No generic head model, hence no face-shape bias in pitch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EYE_OUTER = (33, 263)  # image-left, image-right
_MOUTH_CORNERS = (61, 291)


@dataclass(frozen=True)
class HeadPose:
    """Radians about the camera axes (x right, y down, z forward): pitch Rx, yaw Ry, roll Rz."""

    pitch: float
    yaw: float
    roll: float


def estimate_head_pose(landmarks: np.ndarray) -> HeadPose:
    """Head pose from (478, 3) landmarks in pixels (z in the same scale)."""
    p = landmarks.astype(np.float64)
    x = p[_EYE_OUTER[1]] - p[_EYE_OUTER[0]]
    y = p[list(_MOUTH_CORNERS)].mean(axis=0) - p[list(_EYE_OUTER)].mean(axis=0)
    x /= np.linalg.norm(x)
    y -= (y @ x) * x
    y /= np.linalg.norm(y)
    z = np.cross(x, y)
    rot = np.column_stack([x, y, z])  # face axes in camera coordinates
    # rot = Rx(pitch) · Ry(yaw) · Rz(roll), the XYZ order OpenFace reports.
    pitch = np.arctan2(-rot[1, 2], rot[2, 2])
    yaw = np.arcsin(np.clip(rot[0, 2], -1.0, 1.0))
    roll = np.arctan2(-rot[0, 1], rot[0, 0])
    return HeadPose(float(pitch), float(yaw), float(roll))
