"""The classifier's input, built from an onset and an apex face crop exactly as the model file says.

This is the single implementation used by live inference and by training (``models/`` imports it).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from app.align import AlignedFace, reregister
from app.flow import compute_flow, match_brightness, optical_strain, remove_head_motion
from app.model_card import InputSpec
from app.regions import INPUT_LAYOUTS

_EPS = 1e-6


@dataclass(frozen=True)
class ModelInput:
    tensor: np.ndarray  # (C, H, W) float32, ready to batch
    flow: np.ndarray  # (S, S, 2) onset→apex flow on the whole onset crop, pixels (for display)
    boxes: tuple[tuple[int, int, int, int], ...]  # crop boxes of the input tiles, row-major


def onset_apex_flow(onset: AlignedFace, apex: AlignedFace, spec: InputSpec) -> np.ndarray:
    """Flow from onset to apex in the onset crop's coordinates, brightness matched and head motion removed if
    the model asks."""
    apex_image = reregister(apex, onset)
    if spec.match_brightness:
        apex_image = match_brightness(apex_image, onset.image)
    flow = compute_flow(onset.image, apex_image, spec.flow_method)
    if spec.head_compensation:
        flow = remove_head_motion(flow)
    return flow.astype(np.float32)


def build_model_input(onset: AlignedFace, apex: AlignedFace, spec: InputSpec) -> ModelInput:
    if onset.size != spec.crop_size or apex.size != spec.crop_size:
        raise ValueError(f"crops are {onset.size}px; the model expects {spec.crop_size}px crops")
    flow = onset_apex_flow(onset, apex, spec)
    strain = optical_strain(flow)
    planes = {
        "u": flow[..., 0],
        "v": flow[..., 1],
        "strain": strain,
        "magnitude": np.linalg.norm(flow, axis=2),
    }
    layout = INPUT_LAYOUTS[spec.region_layout]
    boxes = tuple(layout.boxes(onset.landmarks, onset.size))
    rows, cols = layout.grid
    tile_h, tile_w = spec.height // rows, spec.width // cols
    tensor = np.zeros((len(spec.channels), spec.height, spec.width), np.float32)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        r, c = divmod(i, cols)
        for ch, name in enumerate(spec.channels):
            patch = cv2.resize(planes[name][y0:y1, x0:x1], (tile_w, tile_h), interpolation=cv2.INTER_AREA)
            if name in ("u", "v"):
                patch = patch * (tile_w / (x1 - x0))  # displacements in input-pixel units
            tensor[ch, r * tile_h:(r + 1) * tile_h, c * tile_w:(c + 1) * tile_w] = patch
    _normalise(tensor, spec)
    return ModelInput(tensor, flow, boxes)


def _normalise(tensor: np.ndarray, spec: InputSpec) -> None:
    names = list(spec.channels)
    if spec.normalisation == "fixed_scale":
        tensor /= spec.flow_scale
        return
    if spec.normalisation == "minmax":
        # As the published flow PNGs: each channel to [0, 1] by its own min and max, 8-bit steps.
        low = tensor.min(axis=(1, 2), keepdims=True)
        span = np.maximum(tensor.max(axis=(1, 2), keepdims=True) - low, _EPS)
        tensor[:] = np.round((tensor - low) / span * 255.0) / 255.0
        return
    # per_sample_max: motion vectors by the largest magnitude (keeps direction and relative size),
    # every other channel by its own maximum.
    motion = [names.index(n) for n in ("u", "v") if n in names]
    if motion:
        peak = np.sqrt((tensor[motion] ** 2).sum(axis=0)).max()
        tensor[motion] /= max(peak, _EPS)
    for i, name in enumerate(names):
        if name not in ("u", "v"):
            tensor[i] /= max(np.abs(tensor[i]).max(), _EPS)


def attention_to_crop(attention: np.ndarray, model_input: ModelInput, spec: InputSpec) -> np.ndarray:
    """Spread a patch-grid attention map (h, w) back over the face crop; the result sums to 1."""
    layout = INPUT_LAYOUTS[spec.region_layout]
    rows, cols = layout.grid
    full = cv2.resize(attention.astype(np.float32), (spec.width, spec.height), interpolation=cv2.INTER_NEAREST)
    full *= attention.sum() / max(full.sum(), _EPS)
    tile_h, tile_w = spec.height // rows, spec.width // cols
    out = np.zeros((spec.crop_size, spec.crop_size), np.float32)
    for i, (x0, y0, x1, y1) in enumerate(model_input.boxes):
        r, c = divmod(i, cols)
        tile = full[r * tile_h:(r + 1) * tile_h, c * tile_w:(c + 1) * tile_w]
        mass = tile.sum()
        spread = cv2.resize(tile, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        out[y0:y1, x0:x1] += spread * (mass / max(spread.sum(), _EPS))
    return out / max(out.sum(), _EPS)
