"""Video sources on real files decoded by OpenCV, and their errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.errors import InputError
from app.sources import CameraSource, FileSource, FolderSource, RealTimeSource, open_source
from tests.conftest import write_video


def _frames(n: int, size=(96, 128)) -> list[np.ndarray]:
    return [np.full((*size, 3), (i * 7) % 256, np.uint8) for i in range(n)]


@pytest.mark.parametrize("fps", [30.0, 200.0])
def test_file_source_reports_fps_and_timestamps_from_the_file(tmp_path, fps):
    path = write_video(tmp_path / "clip.avi", _frames(40), fps)
    with open_source(path) as source:
        assert isinstance(source, FileSource)
        assert source.info.fps == pytest.approx(fps, rel=1e-3)
        assert source.info.frame_count == 40 and not source.info.live
        frames = list(source.frames())
    assert [f.index for f in frames] == list(range(40))
    assert np.allclose([f.timestamp for f in frames], np.arange(40) / fps, atol=1e-3)


def test_file_source_can_be_replayed(tmp_path):
    path = write_video(tmp_path / "clip.avi", _frames(5), 25)
    with FileSource(path) as source:
        assert len(list(source.frames())) == 5
        assert len(list(source.frames())) == 5


def test_folder_source_orders_frames_by_number_and_uses_the_given_fps(tmp_path):
    for n in (1, 2, 10, 11, 100):  # lexical order would put 10 before 2
        cv2.imwrite(str(tmp_path / f"reg_img{n}.jpg"), np.full((32, 32, 3), n, np.uint8))
    (tmp_path / "notes.txt").write_text("not a frame")
    source = open_source(tmp_path, fps=200)
    assert isinstance(source, FolderSource)
    frames = list(source.frames())
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert [round(f.timestamp * 200) for f in frames] == [0, 1, 9, 10, 99]  # gaps in numbering are time
    assert source.info.fps == 200 and source.info.frame_count == 5


@pytest.mark.parametrize("make,problem", [
    (lambda p: p / "missing.mp4", "file not found"),
    (lambda p: (p / "notes.mp4").write_text("hello") and p / "notes.mp4", "cannot be opened"),
    (lambda p: (p / "empty.avi").write_bytes(b"") or p / "empty.avi", "cannot be opened"),
])
def test_bad_files_give_one_line_naming_the_file(tmp_path, make, problem):
    path = make(tmp_path)
    with pytest.raises(InputError) as err:
        open_source(path)
    message = str(err.value)
    assert str(path) in message and problem in message and "\n" not in message


def test_corrupt_video_body_is_refused(tmp_path):
    good = write_video(tmp_path / "good.avi", _frames(10), 30).read_bytes()
    bad = tmp_path / "corrupt.avi"
    bad.write_bytes(good[:64] + bytes(len(good) - 64))  # header kept, everything else zeroed
    with pytest.raises(InputError, match="corrupt.avi"):
        open_source(bad)


def test_truncated_video_decodes_what_is_there_and_says_so(tmp_path, astronaut_bgr):
    frames = [np.roll(astronaut_bgr, i, axis=1) for i in range(30)]
    data = write_video(tmp_path / "full.avi", frames, 30).read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    with FileSource(cut) as source:
        decoded = list(source.frames())
    assert 0 < len(decoded) < 30
    assert source.truncated_at == len(decoded)


def test_empty_folder_and_missing_camera(tmp_path):
    with pytest.raises(InputError, match="no numbered image frames"):
        FolderSource(tmp_path)
    with pytest.raises(InputError, match="camera 7: not found"):
        CameraSource(7)


def test_real_time_source_paces_and_loops(tmp_path):
    path = write_video(tmp_path / "clip.avi", _frames(6), 100)
    source = RealTimeSource(FileSource(path), loop=True)
    assert source.info.live
    got = []
    for frame in source.frames():
        got.append(frame)
        if len(got) == 15:
            break
    stamps = np.array([f.timestamp for f in got])
    assert np.all(np.diff(stamps) > 0)  # the loop continues the clock instead of restarting it
    assert stamps[-1] == pytest.approx(0.14, abs=1e-3)
