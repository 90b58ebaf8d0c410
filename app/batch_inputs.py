"""What a batch analyses: the inputs found under its arguments, where each one's outputs go, and the
content hash that tells a rerun whether an input changed.

An argument is a video file, a frame folder (numbered images: one input), a folder searched
recursively (frame folders in it are inputs, other folders are searched), or a text file (``.txt``,
``.list``) with one such path per line. Each input's outputs go to ``OUT/<relative path>``: its path
relative to the deepest folder above every argument (a searched folder counts itself, anything else its
parent folder), so that ``batch archive/`` maps ``archive/a/x.mp4`` to ``OUT/a/x.mp4/``.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from app.errors import InputError, printable
from app.sources import IMAGE_SUFFIXES

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".wmv", ".mpg", ".mpeg", ".flv",
                            ".3gp", ".mts", ".m2ts", ".ts", ".ogv"})
LIST_SUFFIXES = frozenset({".txt", ".list", ".lst"})
MIN_FRAMES = 2  # a folder with fewer numbered images is searched, not analysed


@dataclass(frozen=True)
class BatchInput:
    path: Path  # as the user gave it (joined onto the list file's folder for list entries)
    rel: Path  # where its outputs go, under OUT
    kind: str  # "file" or "folder"


def is_frame_folder(folder: Path) -> bool:
    """A folder of numbered images (FolderSource decides which ones it reads)."""
    count = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                name, suffix = os.path.splitext(entry.name)
                if suffix.lower() in IMAGE_SUFFIXES and re.search(r"\d", name):
                    count += 1
                    if count >= MIN_FRAMES:
                        return True
    except OSError:
        return False
    return False


def find_inputs(arguments: list[str | Path], out: Path) -> list[BatchInput]:
    """Every input under ``arguments``, in path order; InputError for an argument that does not exist or
    holds nothing to analyse. ``out`` (the batch's own outputs) is never searched."""
    found: list[tuple[Path, Path, str]] = []  # path, base folder, kind
    for argument in arguments:
        path = Path(argument)
        if not os.path.lexists(path):
            raise InputError(path, "not found")
        if path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
            found.extend(_from_list(path, out))
        else:
            found.extend(_expand(path, out, listed=False))
    if not found:
        raise InputError(", ".join(printable(a) for a in arguments),
                         "no videos or frame folders found (videos: " + " ".join(sorted(VIDEO_SUFFIXES)) + ")")
    bases = [os.path.abspath(base) for _, base, _ in found]
    root = Path(os.path.commonpath(bases))
    unique: dict[str, BatchInput] = {}
    for path, _, kind in found:
        absolute = os.path.abspath(path)
        unique.setdefault(absolute, BatchInput(path, Path(os.path.relpath(absolute, root)), kind))
    return sorted(unique.values(), key=lambda item: item.rel.as_posix())


def _from_list(list_file: Path, out: Path) -> list[tuple[Path, Path, str]]:
    """The entries of a list file: one path a line, relative to the file's folder; # starts a comment."""
    try:
        lines = list_file.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except OSError as exc:
        raise InputError(list_file, exc.strerror or str(exc)) from None
    found = []
    for line in lines:
        entry = line.strip()
        if entry and not entry.startswith("#"):
            found.extend(_expand(list_file.parent / entry, out, listed=True))
    return found


def _expand(path: Path, out: Path, listed: bool) -> list[tuple[Path, Path, str]]:
    """The inputs one path stands for (with the folder its relative path starts from)."""
    if path.is_dir() and not is_frame_folder(path):
        return [(p, path, kind) for p, kind in _search(path, out)]
    kind = "folder" if path.is_dir() else "file"
    # a listed path that is missing or unreadable is an input that fails, with its reason, in the index
    if kind == "file" and not listed and not path.is_file():
        raise InputError(path, "not a video file, frame folder, folder or list of paths")
    return [(path, path.parent, kind)]


def _search(folder: Path, out: Path) -> list[tuple[Path, str]]:
    found = []
    skip = os.path.abspath(out)
    for current, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        kept = []
        for name in dirs:
            sub = Path(current) / name
            if os.path.abspath(sub) == skip or name.startswith("."):
                continue
            if is_frame_folder(sub):
                found.append((sub, "folder"))
            else:
                kept.append(name)
        dirs[:] = kept
        found.extend((Path(current) / name, "file") for name in sorted(files)
                     if os.path.splitext(name)[1].lower() in VIDEO_SUFFIXES and not name.startswith("."))
    return found


def content_hash(item: BatchInput) -> str:
    """sha256 of a video file, or of a frame folder's image names and contents; "" when unreadable
    (the analysis then fails with the real reason)."""
    digest = hashlib.sha256()
    try:
        if item.kind == "file":
            with open(item.path, "rb") as handle:
                return hashlib.file_digest(handle, "sha256").hexdigest()
        for entry in sorted(os.scandir(item.path), key=lambda e: e.name):
            if os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES and entry.is_file():
                digest.update(entry.name.encode("utf-8", "surrogateescape") + b"\0")
                with open(entry.path, "rb") as handle:
                    digest.update(hashlib.file_digest(handle, "sha256").digest())
    except OSError:
        return ""
    return digest.hexdigest()


def frame_count_hint(item: BatchInput) -> int:
    """Frames to expect (for the batch's ETA); 0 when unknown."""
    if item.kind == "folder":
        try:
            return sum(1 for e in os.scandir(item.path) if os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES)
        except OSError:
            return 0
    import cv2  # only here: finding inputs needs no OpenCV

    try:
        str(item.path).encode("utf-8")
    except UnicodeEncodeError:  # OpenCV cannot open such a name (the analysis can: app.sources)
        return 0
    capture = cv2.VideoCapture(str(item.path))
    try:
        return max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT))) if capture.isOpened() else 0
    finally:
        capture.release()
