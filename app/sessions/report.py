"""A session report a clinician can file: one self-contained HTML file (inline CSS, images as data URIs),
and a PDF of it where a converter is installed (Chromium/Chrome, wkhtmltopdf or LibreOffice).

It holds the summary, the timeline (spotting signal, threshold, events coloured by label, markers), every
event with its onset face and attention map, markers with what happened between them, notes, the model
card and its caveats (the synthetic-data warning first), and the software version.
"""

from __future__ import annotations

import base64
import html
import io
import os
import shutil
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path

from app import __version__
from app.abstention import percent
from app.errors import InputError, OutputError, output_error, printable
from app.face_tracks import face_hex
from app.labels import label_hex
from app.paths import existing_ancestor
from app.private_files import make_private, private_dir, write_private
from app.sessions.models import Session
from app.sessions.review import UNLABELLED, label_counts, spans_between_markers

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;max-width:1100px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.muted{color:#666}.caveat{background:#fff4e5;border:1px solid #f0b45a;padding:8px 12px;border-radius:4px;margin:12px 0}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:middle}
th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums}.kv th{width:190px}
img.thumb{width:72px;height:72px;image-rendering:pixelated}img.plot{width:100%}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr{break-inside:avoid}}
"""


IDENTIFIABLE = ("it holds pictures of the face (the onset of every event and the attention map over it). "
                "Store and share it as you would the recording; <code>report --no-faces</code> writes a "
                "de-identified one.")
DEIDENTIFIED = ("expression labels, timings, the spotting signal, markers and notes only: no face picture, no "
                "attention overlay on a face, no video, no session label or source file name.")


def _evidence_cell(e) -> str:
    """The face's reading and its movements in plain words (app.evidence.describe), e.g.
    "positive: lip corners up (smile) +0.82, cheeks raised +0.40"; with the flow's reading when it stood in
    for an unreadable face ("unclear: no visible facial movement; motion surprise: brows up +0.031 eye
    distances")."""
    if e.evidence is None:
        return "—"
    cell = f"{e.evidence.face_reading}: {e.evidence_text}"
    return f"{cell}; motion {e.motion_text}" if e.motion_text else cell


def label_colours(classes: tuple[str, ...], labels: list[str]) -> dict[str, str]:
    """The app's colour for every label, the model's classes first, in their order."""
    names = list(classes) + sorted(set(labels) - set(classes))
    return {name: label_hex(None if name == UNLABELLED else name) for name in names}


def timeline_png(session: Session, width_in: float = 11.0) -> bytes:
    """The spotting signal and threshold over time, events as bands coloured by label, markers as lines."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # no pyplot: no global state, no GUI backend
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    sig = session.signal
    events = [s.event for s in session.events]
    colours = label_colours(session.info.classes, [e.label or UNLABELLED for e in events])
    fig = Figure(figsize=(width_in, 3.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    faces = sig.face_ids
    for face_id in faces:  # one signal per face, in its id's colour (black with one face, as before)
        one = sig.of(face_id)
        colour, name = (face_hex(face_id), f"face {face_id}: ") if len(faces) > 1 else ("#333", "")
        ax.plot(one.timestamp, one.value, lw=0.9, color=colour, label=f"{name}spotting signal")
        ax.plot(one.timestamp, one.threshold, lw=0.9, ls="--", color=colour if name else "#c00",
                label=f"{name}threshold")
    for e in events:
        ax.axvspan(e.onset_time, e.offset_time, color=colours[e.label or UNLABELLED], alpha=0.35, lw=0)
        ax.annotate(str(e.event_id), (e.apex_time, 1.0), xycoords=("data", "axes fraction"), ha="center",
                    va="bottom", fontsize=7)
    for m in session.markers:
        user = m.kind == "user"
        ax.axvline(m.t, color="#0a7" if user else "#999", lw=1.0, ls="-" if user else ":")
        if user and m.label:
            ax.text(m.t, 0.97, f" {_plain(m.label)}", transform=ax.get_xaxis_transform(), fontsize=7, va="top",
                    color="#075")
    ax.set_xlabel("time (s, source clock)")
    ax.set_ylabel("regional motion (px)")
    if len(sig):
        ax.set_xlim(float(sig.timestamp[0]), float(sig.timestamp[-1]))
    handles, _ = ax.get_legend_handles_labels()
    used = {e.label or UNLABELLED for e in events}
    handles += [Patch(color=c, alpha=0.35, label=_plain(n)) for n, c in colours.items() if n in used]
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=8, frameon=False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def render_html(session: Session, generated: datetime | None = None, faces: bool = True) -> str:
    """The report page; ``faces=False`` makes it de-identified: labels, timings, the signal plot and notes,
    but no face picture, no attention overlay on a face, no video, session label or source file name."""
    info = session.info
    events = [s.event for s in session.events]
    classes = info.classes
    colours = label_colours(classes, [e.label or UNLABELLED for e in events])
    generated = generated or datetime.now().astimezone()
    esc = html.escape
    title = info.label if faces else "de-identified"  # a label often names the person
    sig = session.signal
    seconds = float(sig.timestamp[-1] - sig.timestamp[0]) if len(sig) > 1 else 0.0
    frames, without_face = sig.frame_counts()
    face_ids = sorted({*sig.face_ids, *(e.face_id for e in events)})
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>EPIR Live session "
             f"{info.id}: {esc(title)}</title><style>{CSS}</style></head><body>",
             f"<h1>Session {info.id}: {esc(title) or '<span class=muted>(no label)</span>'}</h1>",
             f"<div class='muted'>EPIR Live report, generated {_local(generated)} by epir-live {__version__}</div>",
             f"<div class='caveat'><b>{'Identifiable report' if faces else 'De-identified report'}:</b> "
             + (DEIDENTIFIED if not faces else IDENTIFIABLE) + "</div>"]
    if info.model is not None:
        parts.append(f"<div class='caveat'><b>About the labels:</b> {esc(info.model.card.honesty_note)}.</div>")
    else:
        parts.append("<div class='caveat'>No model was installed: events were spotted but not classified.</div>")
    if info.status == "interrupted":
        parts.append("<div class='caveat'>This session was interrupted (the app stopped while recording); "
                     "it holds everything committed up to then.</div>")

    parts.append("<h2>Summary</h2><table class='kv'>")
    summary = [
        ("Status", info.status),
        ("Started", _local(info.started_at)),
        ("Ended", _local(info.ended_at) if info.ended_at else "—"),
        ("Recorded span", f"{seconds:.1f} s ({frames} frames, {without_face} without a face)"),
        ("Faces", ", ".join(str(i) for i in face_ids) or "none"),
        ("Source", f"{info.source.kind}: {info.source.name if faces else '(name left out)'}, "
                   f"{info.source.width}×{info.source.height}, {info.source.fps:.2f} fps"),
        ("Model", "none" if info.model is None else
         f"{info.model.name} {info.model.version} on {info.model.provider}; sha256 {info.model.sha256}"),
        ("Events", f"{len(events)}: {sum(e.expression and e.kind == 'micro' for e in events)} micro- and "
                   f"{sum(e.expression and e.kind == 'macro' for e in events)} macro-expressions, "
                   f"{sum(not e.expression for e in events)} other motion (not an expression: label none)"),
        ("Markers / notes", f"{sum(m.kind == 'user' for m in session.markers)} / {len(session.notes)}"),
        ("Recorded video", ("recorded (left out of this report)" if not faces else info.video_path.name)
         if info.video_path else "not recorded"),
    ]
    parts += [f"<tr><th>{k}</th><td>{esc(str(v))}</td></tr>" for k, v in summary]
    parts.append("</table><table><tr><th>Label</th><th>Events</th></tr>")
    parts += [f"<tr><td>{_swatch(colours[label])}{esc(label)}</td><td class='num'>{n}</td></tr>"
              for label, n in label_counts(events, classes).items()]
    parts.append("</table>")

    parts.append("<h2>Timeline</h2>")
    try:
        parts.append(f"<img class='plot' alt='timeline' src='{_data_uri(timeline_png(session))}'>")
    except ImportError:
        parts.append("<p class='muted'>The timeline plot needs matplotlib, which is not installed.</p>")

    parts.append("<h2>Events</h2>")
    if not events:
        parts.append("<p>No events were spotted.</p>")
    else:
        head = "".join(f"<th>p({esc(c)})</th>" for c in classes)
        table_head = ("<table><tr><th>#</th><th>onset s</th><th>apex s</th><th>offset s</th><th>ms</th><th>kind</th>"
                      f"<th>label</th><th>conf.</th><th>EPIR</th><th>face evidence</th>{head}<th>score</th>"
                      + ("<th>onset face</th><th>attention</th>" if faces else "") + "</tr>")
        # several faces: one table per face, in id order
        groups = [(None, session.events)] if len(face_ids) < 2 else [
            (i, [s for s in session.events if s.event.face_id == i]) for i in face_ids]
        for face_id, group in groups:
            if not group:
                continue
            if face_id is not None:
                parts.append(f"<h3>{_swatch(face_hex(face_id))}Face {face_id}: {len(group)} event(s)</h3>")
            parts.append(table_head)
            for stored in group:
                e = stored.event
                label = e.label or UNLABELLED
                probs = "".join(f"<td class='num'>{e.probabilities.get(c, float('nan')):.2f}</td>" for c in classes)
                conf = esc(percent(e.confidence)) if e.confidence is not None else "—"
                parts.append(
                    f"<tr id='event-{e.event_id}'><td class='num'>{e.event_id}</td><td class='num'>{e.onset_time:.2f}</td>"
                    f"<td class='num'>{e.apex_time:.2f}</td><td class='num'>{e.offset_time:.2f}</td>"
                    f"<td class='num'>{e.duration_ms:.0f}</td><td>{e.kind_text}</td>"
                    f"<td>{_swatch(colours[label])}{esc(label)}</td><td class='num'>{conf}</td>"
                    f"<td>{esc(e.model_label or '—')}</td><td>{esc(_evidence_cell(e))}</td>{probs}"
                    f"<td class='num'>{e.spot_score:.1f}</td>"
                    + (f"<td>{_thumb(stored.onset_png, 'onset face')}</td><td>{_thumb(stored.attention_png, 'attention')}"
                       "</td>" if faces else "") + "</tr>")
            parts.append("</table>")

    parts.append("<h2>Markers</h2>")
    spans = spans_between_markers(session)
    if not spans:
        parts.append("<p>No markers.</p>")
    else:
        parts.append("<table><tr><th>time s</th><th>frame</th><th>marker</th><th>note</th>"
                     "<th>events until the next marker</th></tr>")
        for marker, span in spans:
            counts = ", ".join(f"{esc(k)} {v}" for k, v in span.counts.items() if v) or "none"
            parts.append(f"<tr><td class='num'>{marker.t:.2f}</td><td class='num'>"
                         f"{'' if marker.frame is None else marker.frame}</td><td>{esc(marker.label)}</td>"
                         f"<td>{esc(marker.note)}</td><td>{len(span.events)} ({counts}) in {span.seconds:.1f} s</td></tr>")
        parts.append("</table>")
    pauses = [m for m in session.markers if m.kind != "user"]
    if pauses:
        parts.append("<p class='muted'>Analysis " + "; ".join(f"{m.kind}d at {m.t:.2f} s" for m in pauses) + ".</p>")

    parts.append("<h2>Notes</h2>")
    parts.append("".join(f"<p><span class='muted'>{_local(n.created_at)}</span><br>{esc(n.text)}</p>"
                         for n in session.notes) or "<p>No notes.</p>")

    parts.append("<h2>Model card</h2>")
    parts.append(_model_card(session))
    parts.append(f"<p class='muted'>epir-live {__version__} (recorded with {esc(info.software)}). "
                 "Generated on this computer from the local session library; nothing was sent anywhere.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def check_report_path(out: Path) -> None:
    """OutputError for a report path that cannot be written (a folder, under a file, read-only), found
    without writing anything."""
    out = Path(out)
    if out.is_dir():
        raise OutputError(out, "is a folder; give the report's file name (.html or .pdf)")
    existing = existing_ancestor(out.parent)
    if not existing.is_dir():
        raise OutputError(out, f"{printable(existing)} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise OutputError(out, "cannot be written (read-only or permission denied)")


def write_report(session: Session, out: Path, faces: bool = True) -> Path:
    """Write ``out`` (0600: readable by its owner only) as HTML, or as PDF when it ends in ``.pdf``
    (InputError if no converter is installed); ``faces=False``: the de-identified report. The file is
    replaced atomically: a failed write leaves the earlier report and no temporary file."""
    out = Path(out)
    check_report_path(out)
    text = render_html(session, faces=faces)
    if out.suffix.lower() != ".pdf":
        try:
            private_dir(out.parent)
            return write_private(out, text)
        except OSError as exc:
            out.with_name(out.name + ".tmp").unlink(missing_ok=True)
            raise output_error(out, exc) from None
    private_dir(out.parent)
    with tempfile.TemporaryDirectory() as work:  # 0700: the converter's output is private before it moves
        page = write_private(Path(work) / f"{out.stem}.html", text)
        made = Path(work) / out.name
        html_to_pdf(page, made)
        make_private(made)
        shutil.move(made, out)
    return out


PDF_CONVERTERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "microsoft-edge",
                  "wkhtmltopdf", "soffice", "libreoffice")


def pdf_converter() -> str | None:
    """The first PDF converter on PATH, or None."""
    return next((path for name in PDF_CONVERTERS if (path := shutil.which(name))), None)


def html_to_pdf(page: Path, out: Path) -> None:
    converter = pdf_converter()
    if converter is None:
        raise InputError(out, f"no PDF converter found (looked for {', '.join(PDF_CONVERTERS)}); "
                              "write the report as .html and print it from a browser")
    name = Path(converter).name
    produced, profile = out, None
    if name.startswith(("soffice", "libreoffice")):
        command = [converter, "--headless", "--convert-to", "pdf", "--outdir", str(page.parent), str(page)]
        produced = page.with_suffix(".pdf")
    elif name == "wkhtmltopdf":
        command = [converter, "--quiet", "--enable-local-file-access", str(page), str(out)]
    else:  # Chromium / Chrome: offline, in a throw-away profile; as root it refuses to run sandboxed
        profile = tempfile.mkdtemp(prefix="epir-pdf-")
        command = [converter, "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                   "--disable-component-update", "--disable-sync", "--disable-quic", f"--user-data-dir={profile}",
                   *(["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
                   "--no-pdf-header-footer", f"--print-to-pdf={out}", page.resolve().as_uri()]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    finally:
        if profile:
            shutil.rmtree(profile, ignore_errors=True)
    if done.returncode != 0 or not produced.is_file():
        raise InputError(out, f"{name} could not make the PDF ({(done.stderr or done.stdout).strip()[-300:]})")
    if produced != out:
        shutil.move(produced, out)


def _model_card(session: Session) -> str:
    model = session.info.model
    if model is None:
        return "<p>No model.</p>"
    card, esc = model.card, html.escape
    rows = [("Name, version", f"{card.name} {card.version}"), ("Classes", ", ".join(card.classes)),
            ("File", f"{model.path} (sha256 {model.sha256})"), ("Provider", model.provider),
            ("Training", _readable(card.training) or "—"), ("Metrics", _readable(card.metrics) or "—")]
    table = "<table class='kv'>" + "".join(f"<tr><th>{k}</th><td>{esc(str(v))}</td></tr>" for k, v in rows) + "</table>"
    return table + "<p><b>Caveats</b></p><ul>" + "".join(f"<li>{esc(c)}</li>" for c in _caveats(card)) + "</ul>"


def _readable(values: dict) -> str:
    """A card's dict as "key: value" text: numbers to 3 decimals, nested settings in brackets."""
    def one(v) -> str:
        if isinstance(v, dict):
            return "(" + _readable(v) + ")"
        if isinstance(v, float):
            return f"{v:.3f}"
        if isinstance(v, (list, tuple)):
            return ", ".join(one(x) for x in v)
        return str(v)

    return ", ".join(f"{k}: {one(v)}" for k, v in values.items())


def _caveats(card) -> list[str]:
    """The honesty note and the card's caveats, each said once (a caveat that repeats the note is dropped)."""
    def words(text: str) -> set[str]:
        return set(text.lower().replace(";", " ").replace(".", " ").split())

    kept: list[str] = []
    for caveat in (card.honesty_note, *card.caveats):
        w = words(caveat)
        if not any(len(w & words(k)) >= 0.7 * min(len(w), len(words(k))) for k in kept):
            kept.append(caveat)
    return kept


def _plain(text: str) -> str:
    """User text for a matplotlib label: ``$`` escaped (it would start mathtext), control characters shown."""
    return printable(text).replace("$", r"\$")


def _thumb(png: bytes | None, alt: str) -> str:
    return "—" if png is None else f"<img class='thumb' alt='{alt}' src='{_data_uri(png)}'>"


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _swatch(colour: str) -> str:
    return f"<span class='swatch' style='background:{colour}'></span>"


def _local(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
