"""Annotation spreadsheets read by column name, wherever the header row is.

Copies of the public datasets' files differ in column order and SAMM's has title rows above the
header, so columns are found by name and the header is the first row that holds all required names.
"""

from __future__ import annotations

from pathlib import Path

from app.errors import InputError


def _key(name: object) -> str:
    return " ".join(str(name or "").split()).lower()


def read_rows(path: Path, required: tuple[str, ...], sheet: str | None = None,
              optional: tuple[str, ...] = ()) -> list[dict[str, object]]:
    """Rows as {column name: value} for the required (and present optional) columns; blank rows skipped."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for unreadable files
        raise InputError(path, f"cannot read spreadsheet ({exc})") from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InputError(path, f"missing sheet {sheet!r} (sheets: {', '.join(book.sheetnames)})")
        rows = list((book[sheet] if sheet else book.worksheets[0]).iter_rows(values_only=True))
    finally:
        book.close()
    wanted = {_key(c) for c in required}
    header_index = next((i for i, row in enumerate(rows) if wanted <= {_key(c) for c in row}), None)
    if header_index is None:
        best = max(rows, key=lambda row: len(wanted & {_key(c) for c in row}), default=())
        missing = [c for c in required if _key(c) not in {_key(x) for x in best}]
        raise InputError(path, f"missing column(s) {', '.join(repr(c) for c in missing)}")
    header = [_key(c) for c in rows[header_index]]
    columns = {name: header.index(_key(name)) for name in required + optional if _key(name) in header}
    records = []
    for row in rows[header_index + 1:]:
        if all(v is None or str(v).strip() == "" for v in row):
            continue
        records.append({name: (row[i] if i < len(row) else None) for name, i in columns.items()})
    return records
