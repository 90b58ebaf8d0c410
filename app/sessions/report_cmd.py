"""``python main.py report SESSION --out FILE``: a session's report as HTML (or PDF, by the file name)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.errors import printable
from app.sessions.cli_access import open_library
from app.sessions.library import LIBRARY_ENV
from app.sessions.report import check_report_path, write_report


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", help="session id, or its label (exact, or a unique part of it)")
    parser.add_argument("--out", required=True, type=Path, help="report file: .html, or .pdf when a converter "
                        "(Chromium/Chrome, wkhtmltopdf, LibreOffice) is installed")
    parser.add_argument("--library", type=Path, help=f"library folder (default: ${LIBRARY_ENV} or the user data folder)")
    parser.add_argument("--no-faces", action="store_true", help="a de-identified report: no face pictures, no "
                        "attention overlays on the face, no video, session label or source file name")


def main(args: argparse.Namespace) -> int:
    """The library is only read (a read-only one works; a missing one is refused, never created)."""
    check_report_path(args.out)
    with open_library(args.library, create=False) as library:
        info = library.find(args.session)
        session = library.load(info.id)
    if info.problem:
        print(f"warning: session {info.id}: stored record damaged ({info.problem}); the report shows the rest",
              file=sys.stderr)
    out = write_report(session, args.out, faces=not args.no_faces)
    kind = "de-identified report" if args.no_faces else "report"
    print(f"session {info.id} ({printable(info.label) or 'no label'}): {len(session.events)} events, "
          f"{sum(m.kind == 'user' for m in session.markers)} markers; {kind} written to {printable(out)}")
    return 0
