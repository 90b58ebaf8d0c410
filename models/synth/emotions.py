"""Emotion labels from AU combinations, by FACS/EMFACS-style prototype rules.

The rules follow the prototypes used to label CASME II and SAMM (Ekman & Friesen's EMFACS tables,
Davison et al. 2018 "Objective classes for micro-facial expression recognition"), checked in this
order so that the most specific combination wins:

1. happiness: AU12 (± AU6, AU25) with no negative marker (AU4, AU9, AU15)
2. fear: AU1+AU2+AU4 (± AU5, AU20, AU25/26), or AU20 with AU1 or AU4
3. surprise: AU1+AU2 (± AU5, AU25, AU26) without AU4
4. disgust: AU9 or AU10
5. sadness: AU15 with AU1 or AU4, or AU1+AU4
6. anger: AU4 (± AU7, AU23, AU24)
7. contempt: AU14 (usually one-sided)
8. repression: AU15, AU17, AU23 or AU24 alone or together (CASME II's suppressed negative)
9. others: any other combination (e.g. AU1 alone); like CASME II's "others", it has no class3

MEGC2019's three classes: happiness → positive, surprise → surprise, the negative emotions → negative.
AU45 (blink) is not an expression and is ignored.
"""

from __future__ import annotations

from models.synth.aus import BLINK, parse_code

CLASS3 = {"happiness": "positive", "surprise": "surprise"}
NEGATIVE_EMOTIONS = ("anger", "contempt", "disgust", "fear", "sadness", "repression")


def classify_aus(aus) -> tuple[str, str | None]:
    """(emotion, class3) for an iterable of AU codes (ints or strings such as "R14")."""
    s = {parse_code(code)[0] for code in aus} - {BLINK}
    if 12 in s and not s & {4, 9, 15}:
        emotion = "happiness"
    elif {1, 2, 4} <= s or (20 in s and s & {1, 4}):
        emotion = "fear"
    elif {1, 2} <= s:
        emotion = "surprise"
    elif s & {9, 10}:
        emotion = "disgust"
    elif (15 in s and s & {1, 4}) or {1, 4} <= s:
        emotion = "sadness"
    elif 4 in s:
        emotion = "anger"
    elif 14 in s:
        emotion = "contempt"
    elif s and s <= {15, 17, 23, 24}:
        emotion = "repression"
    else:
        return "others", None
    return emotion, CLASS3.get(emotion, "negative")
