"""``python main.py sessions``: list, search, delete and purge saved sessions, show where the library is,
make it private or encrypt it."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from app.errors import printable
from app.sessions.cli_access import KEY_STORES, open_library, passphrase
from app.sessions import crypto, store
from app.sessions.crypto import PASSPHRASE_ENV
from app.sessions.library import LIBRARY_ENV, default_library_dir
from app.sessions.models import SessionInfo


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--library", type=Path, help=f"library folder (default: ${LIBRARY_ENV} or the user data folder)")
    parser.add_argument("--search", help="only sessions whose label contains this text")
    parser.add_argument("--since", type=date.fromisoformat, help="only sessions started on or after YYYY-MM-DD")
    parser.add_argument("--until", type=date.fromisoformat, help="only sessions started on or before YYYY-MM-DD")
    parser.add_argument("--delete", metavar="SESSION", help="delete this session (id or label): rows and files")
    parser.add_argument("--purge-older-than", type=int, metavar="DAYS",
                        help="delete every session started before the day DAYS days ago (rows and files)")
    parser.add_argument("--dry-run", action="store_true", help="with --purge-older-than: list, delete nothing")
    parser.add_argument("--fix-permissions", action="store_true",
                        help="make the library readable by you only (folders 0700, files 0600)")
    parser.add_argument("--encrypt", action="store_true",
                        help="encrypt the library (a new one, or this one in place); passphrase from "
                             f"${PASSPHRASE_ENV} or a prompt")
    parser.add_argument("--key-store", choices=KEY_STORES, default="passphrase",
                        help="with --encrypt: derive the key from a passphrase, or keep a random key in the OS keyring")


def main(args: argparse.Namespace) -> int:
    create = _new_encrypted(args)
    with open_library(args.library, create, warn=not args.fix_permissions) as library:
        print(f"library: {printable(library.path)}" + ("  (encrypted)" if library.encrypted else "")
              + ("  (read-only)" if library.read_only else ""))
        if args.fix_permissions:
            print(f"made private: {library.make_private()} files or folders changed")
        if create:
            print("created the library encrypted")
        elif args.encrypt and library.encrypted:
            print("the library is already encrypted; nothing was changed")
        elif args.encrypt:
            secret = passphrase(library.path, confirm=True) if args.key_store == "passphrase" else None
            count = library.encrypt(args.key_store, secret)
            print(f"encrypted the library in place: the database and {count} session files")
        if args.delete:
            info = library.find(args.delete)
            library.delete(info.id)
            print(f"deleted session {info.id} ({printable(info.label) or 'no label'}) and its folder")
            return 0
        if args.purge_older_than is not None:
            if args.dry_run:
                listed = library.expired(args.purge_older_than)
                _table(listed, f"would delete {len(listed)} sessions started before the day "
                               f"{args.purge_older_than} days ago:")
            else:
                _table(library.purge(args.purge_older_than), "deleted (rows overwritten, folders removed):")
            return 0
        if args.fix_permissions or args.encrypt:
            return 0
        sessions = library.sessions(args.search, args.since, args.until)
    _table(sessions, None)
    return 0


def _new_encrypted(args: argparse.Namespace) -> str | None:
    """--encrypt on a folder without a library creates it encrypted (an existing one is converted in place)."""
    folder = Path(args.library).expanduser() if args.library is not None else default_library_dir()
    new = not (folder / store.DB_NAME).exists() and not crypto.is_encrypted(folder)
    return args.key_store if args.encrypt and new else None


def _table(sessions: list[SessionInfo], title: str | None) -> None:
    if title:
        print(title)
    if not sessions:
        print("no sessions")
        return
    print(f"{'id':>4}  {'started':<16}  {'status':<11}  {'events':>6}  {'markers':>7}  {'span s':>7}  label")
    for s in sessions:  # labels escaped: a label cannot clear the screen or fake rows; damaged rows listed
        span = f"{s.last_timestamp:.1f}" if s.last_timestamp is not None else "-"
        status = "damaged" if s.problem else s.status
        print(f"{s.id:>4}  {s.started_at.astimezone():%Y-%m-%d %H:%M}  {status:<11}  {s.event_count:>6}  "
              f"{s.marker_count:>7}  {span:>7}  {printable(s.label)}" + (f"  ({s.problem})" if s.problem else ""))
