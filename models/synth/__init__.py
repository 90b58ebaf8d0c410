"""Synthetic micro-expression benchmark: photographs of twelve real people (``photos.json``) deformed by
FACS action-unit displacement fields with micro- and macro-expression timing, with distractors replayed
from a real talking face (speech, head movements) and a hand crossing the face.

The licensed micro-expression datasets are not available here (DESIGN.md section 5); this generator
gives training, spotting evaluation and the runtime's tests faces whose motion is known exactly.
Public API (see ``/work/notes/synth.md``)::

    from models.synth import ExpressionEvent, NuisanceOptions, render_sequence, write_video
    frames, truth = render_sequence("astronaut", [ExpressionEvent({"12": 1.0}, 1.0, 1.1, 1.3)], fps=30,
                                    duration_s=2.5)
"""

from models.synth.aus import ACTION_UNITS, MICRO_UNIT
from models.synth.canvas import FaceCanvas, face_canvas
from models.synth.distractors import Distractor
from models.synth.emotions import classify_aus
from models.synth.events import ExpressionEvent
from models.synth.render import NuisanceOptions, SequenceTruth, render_sequence
from models.synth.video import write_video

__all__ = [
    "ACTION_UNITS", "MICRO_UNIT", "Distractor", "ExpressionEvent", "FaceCanvas", "NuisanceOptions", "SequenceTruth",
    "classify_aus", "face_canvas", "render_sequence", "write_video",
]
