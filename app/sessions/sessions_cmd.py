"""``python main.py sessions``: list, search and delete saved sessions, and show where the library is."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from app.sessions.library import LIBRARY_ENV, Library


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--library", type=Path, help=f"library folder (default: ${LIBRARY_ENV} or the user data folder)")
    parser.add_argument("--search", help="only sessions whose label contains this text")
    parser.add_argument("--since", type=date.fromisoformat, help="only sessions started on or after YYYY-MM-DD")
    parser.add_argument("--until", type=date.fromisoformat, help="only sessions started on or before YYYY-MM-DD")
    parser.add_argument("--delete", metavar="SESSION", help="delete this session (id or label): rows and files")


def main(args: argparse.Namespace) -> int:
    with Library(args.library) as library:
        print(f"library: {library.path}")
        if args.delete:
            info = library.find(args.delete)
            library.delete(info.id)
            print(f"deleted session {info.id} ({info.label or 'no label'}) and its folder")
            return 0
        sessions = library.sessions(args.search, args.since, args.until)
    if not sessions:
        print("no sessions")
        return 0
    print(f"{'id':>4}  {'started':<16}  {'status':<11}  {'events':>6}  {'markers':>7}  {'span s':>7}  label")
    for s in sessions:
        span = f"{s.last_timestamp:.1f}" if s.last_timestamp is not None else "-"
        print(f"{s.id:>4}  {s.started_at.astimezone():%Y-%m-%d %H:%M}  {s.status:<11}  {s.event_count:>6}  "
              f"{s.marker_count:>7}  {span:>7}  {s.label}")
    return 0
