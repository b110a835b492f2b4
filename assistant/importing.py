"""Bring a council's papers in from its ModernGov site: files in a corpus folder, described in its manifest.

For each chosen committee's meetings in the date range, each public agenda item's linked documents
are downloaded into the folder and described in `manifest.toml` (id, title, meeting date, type,
council, committee, source URL and agenda item). Restricted items and cancelled meetings are not
fetched; a "reports pack" that repeats a meeting's individual reports is not fetched, and a document
whose bytes are already held under another attachment is not stored twice.

Incremental: a hidden state file per site (`.moderngov-<host>.json`) records each attachment fetched
(id, URL, content hash, file) and each meeting checked. A re-run downloads nothing already held, and
checks a meeting again until it has been checked `window_days` after its date, so late papers
(minutes come weeks later) are picked up.

Nothing already imported is lost: each meeting's files are downloaded to hidden `.part` files, then
the manifest (with new entries appended; what is there, including hand-written entries and comments,
is kept as written) is replaced atomically, then the files are moved into place, then the state is
replaced atomically. A run stopped at any point leaves the last meeting's work either done or redone
by the next run, and no half-written file or manifest.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SiteError
from .corpus import MANIFEST_NAME, slug
from .moderngov import Committee, LinkedDocument, Meeting, ModernGovClient

log = logging.getLogger(__name__)

STATE_VERSION = 1
FIRST_RUN_DAYS = 365
AHEAD_DAYS = 31
MAX_NAME_CHARS = 120
_PACK = re.compile(r"\b(reports?|agenda|public|document|supplementary)\s+(reports?\s+)?pack\b", re.I)


@dataclass
class ImportReport:
    """What one import run did: files written, documents passed over (and why), failures."""

    site: str
    folder: str
    since: str
    until: str
    committees: list[str] = field(default_factory=list)
    meetings_checked: int = 0
    meetings_held: int = 0
    fetched: list[dict] = field(default_factory=list)
    held: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    requests: int = 0

    def to_json(self) -> dict:
        return {"site": self.site, "folder": self.folder, "since": self.since, "until": self.until,
                "committees": self.committees, "meetings_checked": self.meetings_checked,
                "meetings_held": self.meetings_held, "fetched": self.fetched, "held": self.held,
                "skipped": [{"what": w, "why": y} for w, y in self.skipped],
                "failed": [{"what": w, "error": e} for w, e in self.failed], "requests": self.requests}


def doc_type(title: str, item_title: str = "") -> str:
    """The kind of paper a linked document is, from its title and its agenda item's title: minutes,
    decision, agenda, appendix or report."""
    text, item = title.lower(), item_title.lower()
    if re.search(r"\bminutes?\b", text) or (re.search(r"\bminutes\b", item) and not re.search(
            r"\b(appendi(x|ces)|annex|report)\b", text)):
        return "minutes"
    if re.search(r"\b(record of (the )?decisions?|decision notice|decisions? (list|sheet))\b", text):
        return "decision"
    if re.search(r"\b(agenda|front ?sheet|summons)\b", text):
        return "agenda"
    if re.search(r"^\W*(appendi(x|ces)|annex|enc(losure)?\b)|\bappendi(x|ces)\s+\w+\b", text):
        return "appendix"
    return "report"


def is_reports_pack(title: str) -> bool:
    """Whether a document is a pack that repeats a meeting's papers ("Public reports pack", "Agenda
    reports pack")."""
    return bool(_PACK.search(title))


def choose_committees(committees: list[Committee], wanted: list[str]) -> list[Committee]:
    """The committees named in `wanted` (each an id, a title, or part of titles, case-insensitively);
    all committees not deleted when `wanted` is empty. A name matching none is a SiteError listing the
    titles."""
    if not wanted:
        return [c for c in committees if not c.deleted]
    chosen: dict[str, Committee] = {}
    for name in wanted:
        key = name.strip().lower()
        exact = [c for c in committees if c.id == name.strip() or c.title.lower() == key]
        found = exact or [c for c in committees if key and key in c.title.lower()]
        if not found:
            titles = "; ".join(c.title for c in committees[:30])
            raise SiteError(f"--committee {name!r}: no such committee on the site; its committees: {titles}"
                            + (" ..." if len(committees) > 30 else ""))
        chosen.update((c.id, c) for c in found)
    return list(chosen.values())


def import_moderngov(client: ModernGovClient, folder: Path, council: str | None = None,
                     committees: list[str] | None = None, since: dt.date | None = None,
                     until: dt.date | None = None, today: dt.date | None = None,
                     window_days: int = 28) -> ImportReport:
    """Import the papers of `client`'s site into `folder` (see the module docstring). Failures of the
    whole site (service disabled, HTML, redirect, 403, time-out) raise a SiteError before anything is
    written; a document that fails is reported in `failed`, and its meeting is checked again next run."""
    today = today or dt.date.today()
    state_path = folder / f".moderngov-{slug(client.host)}.json"
    state = _load_state(state_path, client.site)
    manifest_path = folder / MANIFEST_NAME
    _check_manifest(manifest_path)
    for part in folder.glob(".*.part"):
        part.unlink(missing_ok=True)
    window = dt.timedelta(days=window_days)
    if since is None:
        since = _default_since(state, today, window)
    until = until or today + dt.timedelta(days=AHEAD_DAYS)
    if since > until:
        raise SiteError(f"--since {since} is after --until {until}")
    report = ImportReport(site=client.site, folder=str(folder), since=since.isoformat(), until=until.isoformat())
    chosen = choose_committees(client.committees(), committees or [])
    folder.mkdir(parents=True, exist_ok=True)
    report.committees = [c.title for c in chosen]
    hashes = {a["sha256"]: a.get("file") for a in state["attachments"].values() if a.get("file")}
    for committee in chosen:
        for ref in client.meetings(committee.id, since, until):
            where = f"{committee.title} {ref.date}"
            if ref.cancelled:
                report.skipped.append((where, "meeting cancelled"))
                continue
            seen = state["meetings"].get(ref.id)
            if seen and _settled(seen, window):
                report.meetings_held += 1
                continue
            meeting = client.meeting(ref.id)
            if meeting.cancelled:
                report.skipped.append((where, "meeting cancelled"))
                continue
            report.meetings_checked += 1
            _import_meeting(client, meeting, ref.date or meeting.date, committee.title, council, folder,
                            manifest_path, state, state_path, hashes, today, report)
    state["last_run"] = today.isoformat()
    write_atomic(state_path, json.dumps(state, indent=1, ensure_ascii=False).encode())
    report.requests = client.requests
    return report


def _import_meeting(client: ModernGovClient, meeting: Meeting, date: dt.date | None, committee: str,
                    council: str | None, folder: Path, manifest_path: Path, state: dict, state_path: Path,
                    hashes: dict[str, str | None], today: dt.date, report: ImportReport) -> None:
    """Fetch one meeting's new public documents and commit them (manifest, files, state) together."""
    where = f"{committee} {date}"
    public = [(item, doc) for item in meeting.items for doc in item.documents
              if not (doc.restricted or item.restricted)]
    individual = [doc for _, doc in public if not is_reports_pack(doc.title)]
    for item in meeting.items:
        for doc in item.documents:
            if doc.restricted or item.restricted:
                report.skipped.append((f"{where}: {doc.title}", "restricted (exempt) item; not fetched"))
    parts: list[tuple[Path, Path]] = []
    entries: dict[str, dict] = {}
    failed = False
    try:
        for item, doc in public:
            what = f"{where}: {doc.title}"
            if doc.attachment_id in state["attachments"]:
                report.held += 1
                continue
            if is_reports_pack(doc.title) and individual:
                report.skipped.append((what, "reports pack repeating the meeting's individual reports"))
                continue
            try:
                data = client.document(doc.url)
                suffix = _suffix(data, doc.url)
            except SiteError as exc:
                report.failed.append((what, str(exc)))
                failed = True
                continue
            digest = hashlib.sha256(data).hexdigest()
            record = {"url": doc.url, "sha256": digest, "meeting": meeting.id, "fetched": today.isoformat()}
            if digest in hashes:
                record["duplicate_of"] = hashes[digest]
                state["attachments"][doc.attachment_id] = record
                report.skipped.append((what, f"same bytes as {hashes[digest]}; not stored twice"))
                continue
            name = _file_name(date, committee, doc, suffix)
            part = folder / f".{name}.part"
            part.write_bytes(data)
            parts.append((part, folder / name))
            record["file"] = name
            hashes[digest] = name
            state["attachments"][doc.attachment_id] = record
            entries[name] = _entry(client, doc, item.number, item.title, date, committee, council)
            report.fetched.append({"file": name, "title": doc.title, "committee": committee,
                                   "date": date.isoformat() if date else None,
                                   "doc_type": entries[name]["doc_type"], "source": doc.url})
        if entries:
            _append_entries(manifest_path, entries)
        for part, target in parts:
            os.replace(part, target)
        parts.clear()
        state["meetings"][meeting.id] = {"date": date.isoformat() if date else None, "committee": committee,
                                         "checked": None if failed else today.isoformat()}
        write_atomic(state_path, json.dumps(state, indent=1, ensure_ascii=False).encode())
    finally:
        for part, _ in parts:
            part.unlink(missing_ok=True)


def _entry(client: ModernGovClient, doc: LinkedDocument, number: str, item_title: str, date: dt.date | None,
           committee: str, council: str | None) -> dict:
    entry = {"id": f"{slug(client.host)}-{doc.attachment_id}", "title": doc.title or item_title or doc.attachment_id}
    if date:
        entry["date"] = date.isoformat()
    entry["doc_type"] = doc_type(doc.title, item_title)
    if council:
        entry["council"] = council
    entry["committee"] = committee
    entry["source"] = doc.url
    item = f"{number}. {item_title}" if number and item_title else item_title or number
    if item:
        entry["item"] = item
    return entry


def _file_name(date: dt.date | None, committee: str, doc: LinkedDocument, suffix: str) -> str:
    stem = "-".join(part for part in (date.isoformat() if date else "undated", slug(committee)[:40],
                                      slug(doc.attachment_id), slug(doc.title)) if part)
    return stem[:MAX_NAME_CHARS].rstrip("-") + suffix


def _suffix(data: bytes, url: str) -> str:
    """The file suffix for a document's bytes; a SiteError for what ingest could not read (a web page
    served in place of the paper, often a sign-in or error page)."""
    if data.startswith(b"%PDF-"):
        return ".pdf"
    if data.startswith(b"PK\x03\x04") and b"word/" in data[:4096]:
        return ".docx"
    kind = "a web page (HTML)" if b"<html" in data[:1024].lower() else "not a PDF"
    raise SiteError(f"{url}: the site sent {kind} instead of the paper; open the address in a browser to "
                    "see why (a sign-in or an error page)")


def _settled(seen: dict, window: dt.timedelta) -> bool:
    """Whether a meeting needs no further check: checked without failures at least `window` after its
    date, when late papers are no longer expected."""
    if not seen.get("checked") or not seen.get("date"):
        return False
    return dt.date.fromisoformat(seen["checked"]) >= dt.date.fromisoformat(seen["date"]) + window


def _default_since(state: dict, today: dt.date, window: dt.timedelta) -> dt.date:
    """The first run looks FIRST_RUN_DAYS back; later runs from the last run less the window, or
    from the earliest meeting not yet settled."""
    if not state.get("last_run"):
        return today - dt.timedelta(days=FIRST_RUN_DAYS)
    candidates = [dt.date.fromisoformat(state["last_run"]) - window]
    candidates += [dt.date.fromisoformat(m["date"]) for m in state["meetings"].values()
                   if m.get("date") and not _settled(m, window)]
    return min(candidates)


def _load_state(path: Path, site: str) -> dict:
    if not path.is_file():
        return {"version": STATE_VERSION, "site": site, "last_run": None, "attachments": {}, "meetings": {}}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        if not (isinstance(state.get("attachments"), dict) and isinstance(state.get("meetings"), dict)):
            raise ValueError("attachments or meetings missing")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SiteError(f"{path}: import state unreadable ({exc}); move it aside to import again from "
                        "scratch (files already held are then downloaded again)") from exc
    return state


def _check_manifest(path: Path) -> None:
    if not path.is_file():
        return
    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SiteError(f"{path}: not valid TOML ({exc}); fix it before importing (nothing was fetched)") from exc


def _append_entries(path: Path, entries: dict[str, dict]) -> None:
    """Append `[documents."name"]` tables for the names the manifest does not describe yet, keeping
    every byte already there; the new text is checked to parse before it replaces the old."""
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    described = tomllib.loads(old).get("documents", {}) if old else {}
    blocks = []
    for name, entry in entries.items():
        if name in described:
            continue
        lines = [f"[documents.{toml_string(name)}]"] + [f"{k} = {toml_string(v)}" for k, v in entry.items()]
        blocks.append("\n".join(lines) + "\n")
    if not blocks:
        return
    separator = "" if not old or old.endswith("\n\n") else ("\n" if old.endswith("\n") else "\n\n")
    text = old + separator + "\n".join(blocks)
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SiteError(f"{path}: cannot add entries to it ({exc}); write its documents as "
                        '[documents."file name"] tables, then import again') from exc
    write_atomic(path, text.encode("utf-8"))


def toml_string(value: str) -> str:
    """`value` as a TOML basic string (JSON's escapes are TOML's, and DEL is escaped too)."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that a reader (or a crash) sees the old file or the new, whole."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
