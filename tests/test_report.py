"""Session reports: a self-contained HTML file with every event, the caveats and the version; PDF plumbing;
the ``report`` command; the report modules stay free of Qt and torch."""

from __future__ import annotations

import argparse
import base64
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from app import __version__
from app.abstention import percent
from app.errors import InputError
from app.sessions import Library
from app.sessions import report_cmd
from app.sessions.report import render_html, timeline_png, write_report
from tests.test_import_isolation import PROBE
from tests.test_sessions import Recorded, record_clip

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Recorded:
    return record_clip(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def session(recorded):
    with Library(recorded.library) as library:
        return library.load(recorded.session_id)


def test_html_report_holds_every_event_marker_note_caveat_and_version(session, tmp_path):
    out = write_report(session, tmp_path / "report.html")
    text = out.read_text(encoding="utf-8")
    assert len(session.events) == 2
    for stored in session.events:
        e = stored.event
        row = re.search(rf"<tr id='event-{e.event_id}'>(.*?)</tr>", text, re.S).group(1)
        conf = percent(e.confidence).replace(">", "&gt;") if e.confidence is not None else "—"
        assert e.label in row and f"{e.apex_time:.2f}" in row and conf in row
        assert f"<td>{e.kind_text}</td>" in row  # a motion labelled none is "other motion", not micro/macro
        # EPIR's own label and the face's evidence stand beside the shown label (stored with the session)
        assert e.model_label in row and e.evidence is not None and e.evidence.text in row.replace("&#x27;", "'")
        assert row.count("src='data:image/png;base64,") == 2  # onset face and attention map
    events = [stored.event for stored in session.events]
    assert (f"{sum(e.expression and e.kind == 'micro' for e in events)} micro- and "
            f"{sum(e.expression and e.kind == 'macro' for e in events)} macro-expressions, "
            f"{sum(not e.expression for e in events)} other motion") in text
    assert "interview &lt;3&gt;" in text and "interview <3>" not in text  # user text is escaped
    assert "question 1" in text and "question 2" in text and "asked &amp; answered" in text
    assert "calm throughout" in text
    assert "trained on synthetic data; not validated on real micro-expressions" in text
    assert f"epir-live {__version__}" in text and session.info.model.sha256 in text
    # self-contained: every image inline, nothing fetched from anywhere
    assert not re.search(r"""(src|href)=['"](?!data:|#)""", text) and "<link" not in text and "@import" not in text
    for uri in re.findall(r"src='data:image/png;base64,([^']+)'", text):
        picture = cv2.imdecode(np.frombuffer(base64.b64decode(uri), np.uint8), cv2.IMREAD_UNCHANGED)
        assert picture is not None and picture.size > 0


def test_timeline_plot_shows_the_events(session):
    picture = cv2.imdecode(np.frombuffer(timeline_png(session), np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape[1] > 1000 and picture.std() > 10


def test_report_of_a_session_without_events_or_model(tmp_path):
    from app.sources import SourceInfo

    with Library(tmp_path / "lib") as library:
        with library.start_session("", SourceInfo("camera", "camera 0", 30.0, 640, 480, None, True)) as recorder:
            pass
        text = render_html(library.load(recorder.session_id))
    assert "No events were spotted" in text and "not classified" in text and "(no label)" in text


def test_report_command_by_label_and_by_id(recorded, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    report_cmd.configure(parser)
    out = tmp_path / "by-label.html"
    assert report_cmd.main(parser.parse_args(["interview", "--out", str(out), "--library", str(recorded.library)])) == 0
    assert "2 events, 2 markers" in capsys.readouterr().out and "event-2" in out.read_text()
    args = parser.parse_args([str(recorded.session_id), "--out", str(tmp_path / "x.html"), "--library",
                              str(recorded.library)])
    assert report_cmd.main(args) == 0
    with pytest.raises(InputError, match="no session"):
        report_cmd.main(parser.parse_args(["nobody", "--out", str(out), "--library", str(recorded.library)]))


def test_pdf_needs_a_converter_and_uses_the_one_installed(session, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(InputError, match="no PDF converter found"):
        write_report(session, tmp_path / "none.pdf")
    assert not (tmp_path / "none.pdf").exists()
    fake = bin_dir / "wkhtmltopdf"  # stands in for the real tool: checks it got the page, writes a PDF
    fake.write_text(f"#!{sys.executable}\nimport sys\npage, out = sys.argv[-2:]\n"
                    "assert 'event-2' in open(page).read()\nopen(out, 'wb').write(b'%PDF-1.4 fake')\n")
    fake.chmod(0o755)
    out = write_report(session, tmp_path / "report.pdf")
    assert out.read_bytes().startswith(b"%PDF")
    assert out.stat().st_mode & 0o777 == 0o600  # private, whatever mode the converter gave it


def test_report_modules_import_without_qt_or_torch():
    modules = ["app.sessions", "app.sessions.report", "app.sessions.report_cmd", "app.sessions.sessions_cmd",
               "app.sessions.analysis"]
    done = subprocess.run([sys.executable, "-c", PROBE, *modules], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]
