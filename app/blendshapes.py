"""MediaPipe's 52 blendshape scores from the landmarks the face mesh already tracks.

The blendshape network of MediaPipe's Face Landmarker (Apache-2.0, trained on real faces) reads 146 of
the 478 landmarks in image pixels and returns ARKit-style scores in [0, 1]. Running it here, on our own
tracked landmarks, costs one small ONNX Runtime call instead of a second face tracker; the ONNX file is
a one-time conversion of the tflite model (``scripts/convert_face_blendshapes.py``; provenance in
``models/mediapipe/PROVENANCE.md``), checked against MediaPipe's own FaceLandmarker in the tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from app.errors import InputError

BLENDSHAPE_MODEL = Path(__file__).resolve().parent.parent / "models" / "mediapipe" / "face_blendshapes.onnx"

# face_blendshapes_graph.cc: kLandmarksSubsetIdxs (the network's input points, in this order).
LANDMARK_SUBSET = np.array([
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67,
    70, 78, 80, 81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136, 144, 145, 146, 148,
    149, 150, 152, 153, 154, 155, 157, 158, 159, 160, 161, 162, 163, 168, 172, 173, 176, 178, 181, 185,
    191, 195, 197, 234, 246, 249, 251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293, 295,
    296, 297, 300, 308, 310, 311, 312, 314, 317, 318, 321, 323, 324, 332, 334, 336, 338, 356, 361, 362,
    365, 373, 374, 375, 377, 378, 379, 380, 381, 382, 384, 385, 386, 387, 388, 389, 390, 397, 398, 400,
    402, 405, 409, 415, 454, 466, 468, 469, 470, 471, 472, 473, 474, 475, 476, 477])

# face_blendshapes_graph.cc: kBlendshapeNames, MediaPipe's category names in output order.
BLENDSHAPE_NAMES = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight",
    "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight",
    "mouthFrownLeft", "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft",
    "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft",
    "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
)
BLENDSHAPE_INDEX = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}


class BlendshapeModel:
    """One ONNX Runtime session on one thread (the face stage runs per frame beside other stages)."""

    def __init__(self, path: str | Path = BLENDSHAPE_MODEL):
        if not Path(path).is_file():
            raise InputError(path, "blendshape model not found (part of the installation: models/mediapipe/)")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # ORT's MatMul+Add fusion wraps each 4-D MatMul in reshapes, which costs more than it saves here.
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"],
                                            disabled_optimizers=["MatMulAddFusion"])
        shape = self.session.get_outputs()[0].shape
        if shape != [len(BLENDSHAPE_NAMES)]:
            raise InputError(path, f"blendshape model outputs {shape}, expected [{len(BLENDSHAPE_NAMES)}]")

    def scores(self, landmarks: np.ndarray) -> np.ndarray:
        """(52,) float32 scores in [0, 1] for one face's (478, 2+) landmarks in image pixels."""
        points = np.ascontiguousarray(landmarks[LANDMARK_SUBSET, :2], dtype=np.float32)[None]
        return self.session.run(None, {"points": points})[0]
