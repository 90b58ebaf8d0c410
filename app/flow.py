"""Dense optical flow between two grey face crops, and optical strain.

TV-L1 (OpenCV contrib) is the accurate default for classification; DIS and Farneback are the fast
options (DIS is what the spotter uses per frame). OpenCV algorithm objects are not thread-safe, so each
thread keeps its own.
"""

from __future__ import annotations

import functools
import threading

import cv2
import numpy as np

from app.median import median
from app.model_card import FLOW_METHODS

_local = threading.local()

# TV-L1 on a 128-px face crop whose motions are a few pixels: three pyramid levels and a looser stopping
# tolerance give the same flow as OpenCV's defaults (5 levels, 5 warps, 0.01) at about a quarter of the
# cost (measured: 600 → 160 ms per pair on this machine under load; translation error unchanged).
TVL1_PARAMETERS = {"nscales": 3, "warps": 3, "epsilon": 0.02}


def _algorithm(method: str):
    cache = getattr(_local, "algorithms", None)
    if cache is None:
        cache = _local.algorithms = {}
    if method not in cache:
        if method == "tvl1":
            cache[method] = cv2.optflow.DualTVL1OpticalFlow_create(**TVL1_PARAMETERS)
        elif method == "dis":
            cache[method] = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        elif method == "dis_fast":
            # The ultrafast preset stops at 1/4 resolution, which smears a mouth corner's 1-px motion
            # to a third of its size; at 1/2 resolution it keeps about 85 % of it with less noise (same
            # peak-to-noise ratio as full resolution on rendered 0.6-1.5 px expressions) at a third of
            # full resolution's cost (measured: 1.5 vs 5.2 ms per 128-px pair).
            dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
            dis.setFinestScale(1)
            cache[method] = dis
        else:
            raise ValueError(f"unknown flow method {method!r}; choose from {list(FLOW_METHODS)}")
    return cache[method]


def compute_flow(prev: np.ndarray, nxt: np.ndarray, method: str = "tvl1") -> np.ndarray:
    """(H, W, 2) float32 flow in pixels, (u, v) = where each pixel of ``prev`` moved to in ``nxt``."""
    if prev.shape != nxt.shape or prev.ndim != 2:
        raise ValueError(f"flow needs two grey images of one size, got {prev.shape} and {nxt.shape}")
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(prev, nxt, None, 0.5, 3, 11, 5, 5, 1.1, 0)
    return _algorithm(method).calc(prev, nxt, None)


def match_brightness(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``image`` with the grey mean and spread of ``reference``.

    TV-L1 assumes that a point keeps its brightness. A face that drifts under a light while it moves
    breaks that: a 6 % fall in brightness between onset and apex doubled the flow of a rendered smile,
    and a model trained on still light read the difference as a non-expression."""
    mean, std = (v.item() for v in cv2.meanStdDev(image))
    ref_mean, ref_std = (v.item() for v in cv2.meanStdDev(reference))
    scaled = (image.astype(np.float32) - mean) * (ref_std / max(std, 1e-3)) + ref_mean
    return np.clip(np.rint(scaled), 0, 255).astype(image.dtype)


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """Magnitude of the infinitesimal strain tensor of a flow field (STSTNet's third channel)."""
    u, v = flow[..., 0], flow[..., 1]
    u_y, u_x = np.gradient(u)
    v_y, v_x = np.gradient(v)
    shear = 0.5 * (u_y + v_x)
    return np.sqrt(u_x**2 + v_y**2 + 2 * shear**2).astype(np.float32)


def head_motion(flow: np.ndarray, step: int = 4, iterations: int = 3) -> np.ndarray:
    """The head's rigid motion in a flow field: similarity parameters (tx, ty, a, b), fitted robustly.

    Expressions move parts of the face; the head moves all of it coherently. A least-squares fit with
    Cauchy re-weighting over a grid of points follows the coherent part and ignores the local one, so
    slow head drift and small turns do not read as expression motion. The motion at (x, y) is
    ``(tx + a·x' - b·y', ty + b·x' + a·y')`` with x', y' measured from the centre in units of the width.
    """
    h, w = flow.shape[:2]
    design = _similarity_design(h, w, step)
    grid = flow[step // 2::step, step // 2::step]
    target = np.concatenate([grid[..., 0].ravel(), grid[..., 1].ravel()])
    weights = np.ones_like(target)
    for _ in range(iterations):  # weighted least squares through its 4×4 normal equations
        weighted = design * (weights * weights)[:, None]
        params = np.linalg.solve(weighted.T @ design, weighted.T @ target)
        residual = target - design @ params
        scale = 1.4826 * median(np.abs(residual)) + 1e-3
        weights = 1.0 / np.sqrt(1.0 + (residual / (2.385 * scale)) ** 2)
    return params


@functools.lru_cache(maxsize=8)
def _similarity_design(h: int, w: int, step: int) -> np.ndarray:
    """The design matrix of a similarity motion at the grid points ``[step//2::step]`` of a (h, w) field
    (u rows, then v rows; points in row-major order)."""
    ys, xs = np.mgrid[step // 2:h:step, step // 2:w:step]
    ys, xs = ys.ravel(), xs.ravel()
    x, y = (xs - w / 2) / w, (ys - h / 2) / w
    ones, zeros = np.ones_like(x), np.zeros_like(x)
    return np.vstack([np.column_stack([ones, zeros, x, -y]), np.column_stack([zeros, ones, y, x])])


def rigid_motion_at(params: np.ndarray, points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N, 2) displacement of the rigid motion ``params`` at (N, 2) pixel points of a (h, w) field."""
    h, w = size
    x, y = (points[:, 0] - w / 2) / w, (points[:, 1] - h / 2) / w
    tx, ty, a, b = params
    return np.column_stack([tx + a * x - b * y, ty + b * x + a * y])


def remove_head_motion(flow: np.ndarray) -> np.ndarray:
    """Flow minus the head's rigid motion (see ``head_motion``)."""
    h, w = flow.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    grid = np.column_stack([xx.ravel(), yy.ravel()]).astype(np.float64)
    rigid = rigid_motion_at(head_motion(flow), grid, (h, w)).reshape(h, w, 2)
    return (flow - rigid).astype(np.float32)
