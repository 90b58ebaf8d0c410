"""Dataset loaders on small fixture folders in the real layouts, and the cached preprocessing."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import pytest

from app.errors import InputError
from app.model_card import InputSpec
from models.datasets import LOADERS, load_dataset
from models.datasets.cache import cache_path, prepare


def face_frames(offset_px: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """A real face (scikit-image's public-domain astronaut) and a copy with the mouth region moved."""
    from skimage import data

    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    moved = face.copy()
    y, x = np.mgrid[0:face.shape[0], 0:face.shape[1]].astype(np.float32)
    bump = np.exp(-(((x - 250) / 40) ** 2 + ((y - 230) / 25) ** 2)) * offset_px
    moved = cv2.remap(face, x - bump, y + bump * 0.5, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return face, moved


def write_clip(folder: Path, names: list[str], apex_name: str | None = None) -> None:
    """Frames named as the dataset names them; the apex frame (or the middle one) is the moved face."""
    folder.mkdir(parents=True, exist_ok=True)
    face, moved = face_frames()
    apex_name = apex_name or names[len(names) // 2]
    for name in names:
        cv2.imwrite(str(folder / name), moved if name == apex_name else face)


def write_xlsx(path: Path, header: list[str], rows: list[list], title_rows: int = 0, sheet: str | None = None) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    if sheet:
        ws.title = sheet
    for i in range(title_rows):
        ws.append([f"title line {i}"])
    ws.append(header)
    for row in rows:
        ws.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)


def make_casme2(root: Path) -> Path:
    # columns deliberately not in the original order, plus one the loader ignores
    header = ["Filename", "Subject", "Estimated Emotion", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Extra"]
    rows = [["EP02_01f", 1, "happiness", 46, 59, 86, "12", ""],
            ["EP03_02", 1, "others", 10, 12, 20, "4", ""],
            ["EP01_01", 2, "repression", 20, "/", 24, "14", ""]]
    write_xlsx(root / "CASME2-coding-20140508.xlsx", header, rows)
    write_clip(root / "Cropped/sub01/EP02_01f", [f"reg_img{n}.jpg" for n in (46, 59, 86)], "reg_img59.jpg")
    write_clip(root / "Cropped/sub02/EP01_01", [f"reg_img{n}.jpg" for n in range(20, 25)], "reg_img22.jpg")
    return root


def make_samm(root: Path) -> Path:
    header = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
              "Type", "Action Units", "Notes", "Estimated Emotion", "Objective Classes"]
    rows = [["006", "006_1_2", 1, 5562, 5588, 5632, 71, "Micro - 1/2", "R14A", "", "Contempt", 3],
            [7, "007_3_1", 3, 100, 104, 110, 11, "Micro - 1/2", "6+12", "", "Happiness", 1]]
    write_xlsx(root / "SAMM_Micro_FACS_Codes_v2.xlsx", header, rows, title_rows=3)
    write_clip(root / "SAMM/006/006_1_2", [f"006_{n:05d}.jpg" for n in (5562, 5588, 5632)], "006_05588.jpg")
    write_clip(root / "SAMM/007/007_3_1", [f"007_{n:05d}.jpg" for n in (100, 104, 110)], "007_00104.jpg")
    return root


def make_smic(root: Path) -> Path:
    for subject, cls, clip in (("s1", "negative", "s1_ne_01"), ("s2", "surprise", "s2_sur_01")):
        write_clip(root / "HS" / subject / "micro" / cls / clip, [f"image{n:06d}.bmp" for n in range(300, 305)])
    return root


def make_casme3(root: Path) -> Path:
    header = ["Subject", "Filename", "Onset", "Apex", "Offset", "Objective class", "AU", "emotion"]
    rows = [["spNO.1", "b", 175, 180, 190, 1, "AU4", "disgust"], ["spNO.2", "a", 10, 12, 15, 2, "AU1+AU2", "surprise"]]
    write_xlsx(root / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", header, rows, sheet="label")
    write_clip(root / "part_A/spNO.1/b/color", [f"{n}.jpg" for n in (175, 180, 190)], "180.jpg")
    write_clip(root / "part_A/spNO.2/a/color", [f"{n}.jpg" for n in (10, 12, 15)], "12.jpg")
    return root


def make_synthetic(root: Path, subjects: int = 2, per_class: int = 1) -> Path:
    rows = []
    for s in range(subjects):
        for cls in ("negative", "positive", "surprise"):
            for k in range(per_class):
                clip = f"{cls}_{k}"
                write_clip(root / "clips" / f"S{s:02d}" / clip, [f"img{n:04d}.jpg" for n in range(3)], "img0001.jpg")
                rows.append({"subject": f"S{s:02d}", "clip": clip, "onset": 0, "apex": 1, "offset": 2,
                             "aus": "AU4", "emotion": cls, "class3": cls, "fps": 30})
    with (root / "annotations.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_casme2_columns_by_name_others_excluded_missing_apex_is_middle(tmp_path):
    ds = load_dataset("casme2", make_casme2(tmp_path))
    assert ds.classes == ("negative", "positive", "surprise")
    by_clip = {s.clip: s for s in ds.samples}
    assert set(by_clip) == {"EP02_01f", "EP01_01"}
    s = by_clip["EP02_01f"]
    assert (s.dataset, s.subject, s.onset, s.apex, s.offset) == ("casme2", "sub01", 46, 59, 86)
    assert (s.emotion, s.label, s.aus) == ("happiness", "positive", "12")
    assert s.apex_path.name == "reg_img59.jpg"
    assert by_clip["EP01_01"].apex == 22 and by_clip["EP01_01"].label == "negative"
    assert any("others" in reason for reason in ds.excluded)


def test_samm_header_below_title_rows(tmp_path):
    ds = load_dataset("samm", make_samm(tmp_path))
    labels = {(s.subject, s.clip): (s.label, s.onset, s.apex) for s in ds.samples}
    assert labels == {("006", "006_1_2"): ("negative", 5562, 5588), ("007", "007_3_1"): ("positive", 100, 104)}


def test_smic_labels_from_folders_apex_is_middle_frame(tmp_path):
    ds = load_dataset("smic", make_smic(tmp_path))
    s = {x.subject: x for x in ds.samples}
    assert s["s1"].label == "negative" and s["s2"].label == "surprise"
    assert (s["s1"].onset, s["s1"].apex, s["s1"].offset) == (300, 302, 304)


def test_casme3_sheet_label(tmp_path):
    ds = load_dataset("casme3", make_casme3(tmp_path))
    assert {(s.subject, s.clip, s.label) for s in ds.samples} == {("spNO.1", "b", "negative"), ("spNO.2", "a", "surprise")}
    assert all(s.apex_path.parent.name == "color" for s in ds.samples)


def test_megc2019_composite_prefixes_subjects(tmp_path):
    make_casme2(tmp_path / "CASME2")
    make_samm(tmp_path / "SAMM")
    make_smic(tmp_path / "SMIC")
    ds = load_dataset("megc2019", tmp_path)
    assert len(ds.samples) == 6
    assert "samm/006" in ds.subjects and "casme2/sub01" in ds.subjects and "smic/s1" in ds.subjects


def test_synthetic_annotations(tmp_path):
    ds = load_dataset("synthetic", make_synthetic(tmp_path))
    assert len(ds.samples) == 6 and ds.subjects == ["S00", "S01"]
    assert {s.label for s in ds.samples} == {"negative", "positive", "surprise"}


@pytest.mark.parametrize("name", ["casme2", "samm", "casme3", "synthetic"])
def test_empty_root_names_the_missing_file(tmp_path, name):
    with pytest.raises(InputError) as info:
        load_dataset(name, tmp_path)
    assert "missing" in str(info.value)


def test_missing_column_is_named(tmp_path):
    make_casme2(tmp_path)
    write_xlsx(tmp_path / "CASME2-coding-20140508.xlsx", ["Subject", "Filename", "OnsetFrame"], [[1, "EP02_01f", 46]])
    with pytest.raises(InputError, match="'ApexFrame'"):
        load_dataset("casme2", tmp_path)


def test_missing_frame_folder_and_sheet(tmp_path):
    make_casme3(tmp_path)
    write_xlsx(tmp_path / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", ["Subject"], [], sheet="other")
    with pytest.raises(InputError, match="sheet 'label'"):
        load_dataset("casme3", tmp_path)
    make_samm(tmp_path / "samm")
    import shutil
    shutil.rmtree(tmp_path / "samm" / "SAMM")
    with pytest.raises(InputError, match="SAMM/"):
        load_dataset("samm", tmp_path / "samm")


def test_registry_and_unknown_name():
    assert set(LOADERS) == {"casme2", "samm", "smic", "casme3", "megc2019", "megc2019-flows", "synthetic"}
    with pytest.raises(InputError, match="unknown dataset"):
        load_dataset("nope", ".")


def test_prepare_runs_the_runtime_preprocessing_caches_and_reports_faceless(tmp_path):
    ds = load_dataset("smic", make_smic(tmp_path / "smic"))
    blank = ds.samples[1].apex_path
    cv2.imwrite(str(blank), np.full((200, 200, 3), 128, np.uint8))  # no face here
    spec = InputSpec()
    prepared = prepare(ds.samples, spec, tmp_path / "cache", progress=False)
    assert prepared.tensors.shape == (1, 3, 28, 28) and prepared.tensors.dtype == np.float32
    assert np.abs(prepared.tensors).max() > 0
    assert len(prepared.failed) == 1 and "no face found in the apex frame" in prepared.failed[0]
    path = cache_path(ds.samples[0], spec, tmp_path / "cache")
    assert path.exists()
    np.save(path, np.full((3, 28, 28), 7, np.float32))  # the second call reads the cache
    again = prepare(ds.samples, spec, tmp_path / "cache", progress=False)
    assert float(again.tensors[0, 0, 0, 0]) == 7 and len(again.failed) == 1
    other = cache_path(ds.samples[0], InputSpec(flow_method="dis"), tmp_path / "cache")
    assert other != path


def test_clip_folders_not_matching_the_sheet(tmp_path):
    make_casme2(tmp_path)
    for sub in ("sub01", "sub02"):
        (tmp_path / "Cropped" / sub).rename(tmp_path / "Cropped" / f"{sub}_renamed")
    with pytest.raises(InputError, match="no annotated clip has its frames .*sub0"):
        load_dataset("casme2", tmp_path)


def make_megc2019_flows(root: Path, missing_image: bool = False) -> Path:
    """HTNet's published layout: the label CSV and ``datasets/STSNet_whole_norm_u_v_os/<sub>_<clip> .png``.

    Each image's red channel (u) is a left-to-right ramp, green (v) top-to-bottom, blue (strain) a
    constant per class, so the test can tell channel order and labels apart.
    """
    folder = root / "datasets" / "STSNet_whole_norm_u_v_os"
    folder.mkdir(parents=True)
    rows = [("casme2", "sub01", "EP02_01f", 1), ("casme2", "sub02", "EP01_11f", 0), ("samm", "006", "006_1_2", 0),
            ("smic", "s01", "s01_sur_01", 2), ("smic", "s02", "s02_ne_03", 7)]
    ramp = np.tile(np.arange(28, dtype=np.uint8) * 9, (28, 1))
    for dataset, sub, clip, label in rows[: 4 if missing_image else 5]:
        rgb = np.stack([ramp, ramp.T, np.full((28, 28), 40 * (label % 3), np.uint8)], axis=2)
        cv2.imwrite(str(folder / f"{sub}_{clip} .png"), rgb[..., ::-1])  # cv2 writes BGR
    with (root / "combined_3_class2_for_optical_flow.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dataset", "sub", "filename_o", "label", "apex", "imagename", "sub_filename"])
        for dataset, sub, clip, label in rows[:4] + [("casme2", "sub03", "EP09_09", 1)]:
            writer.writerow([dataset, sub, clip, label, "", f"{sub}_{clip}.jpg", ""])
    return root


def test_megc2019_flows_reads_the_published_layout(tmp_path):
    from models.datasets.megc2019_flows import SPEC

    ds = load_dataset("megc2019-flows", make_megc2019_flows(tmp_path))
    assert [s.subject for s in ds.samples] == ["casme2:sub01", "casme2:sub02", "samm:006", "smic:s01"]
    assert [s.label for s in ds.samples] == ["positive", "negative", "negative", "surprise"]
    assert [s.dataset for s in ds.samples] == ["casme2", "casme2", "samm", "smic"]
    assert ds.classes == ("negative", "positive", "surprise") and len(ds.subjects) == 4
    assert len(ds.excluded) == 1 and "sub03_EP09_09 .png" in ds.excluded[0]
    prepared = prepare(ds.samples, SPEC, tmp_path / "unused-cache", progress=False)
    x = prepared.tensors
    assert x.shape == (4, 3, 28, 28) and x.dtype == np.float32 and not (tmp_path / "unused-cache").exists()
    # RGB order = u, v, strain, in [0, 1]: u ramps left to right, v top to bottom
    assert np.allclose(x[:, 0, 5], np.arange(28) * 9 / 255) and np.allclose(x[:, 1, :, 5], np.arange(28) * 9 / 255)
    assert np.allclose(x[:, 2, 0, 0], [40 / 255, 0, 0, 80 / 255])
    with pytest.raises(InputError, match="published flows are 28x28"):
        prepare(ds.samples, InputSpec(), tmp_path / "cache", progress=False)


def test_megc2019_flows_bad_layouts(tmp_path):
    with pytest.raises(InputError, match="combined_3_class2_for_optical_flow.csv"):
        load_dataset("megc2019-flows", tmp_path)
    root = make_megc2019_flows(tmp_path / "a")
    table = root / "combined_3_class2_for_optical_flow.csv"
    table.write_text(table.read_text().replace("filename_o", "clip"))
    with pytest.raises(InputError, match=r"missing column\(s\) filename_o"):
        load_dataset("megc2019-flows", root)
    root = make_megc2019_flows(tmp_path / "b")
    (root / "datasets" / "STSNet_whole_norm_u_v_os").rename(root / "datasets" / "other")
    with pytest.raises(InputError, match="STSNet_whole_norm_u_v_os"):
        load_dataset("megc2019-flows", root)
