"""Watches: standing searches whose matches among newly ingested papers are recorded and reported.

A watch is a query with optional document-type and committee filters. After each ingest, the
passages of the papers it added are searched for each watch (hybrid: dense and BM25 candidates
restricted to the new papers, fused by reciprocal rank) and a passage is recorded as a match when
its dense cosine similarity to the query reaches the calibrated threshold in `watch_threshold.toml`
(fused scores are ranks, and a search restricted to a few papers always ranks something first, so
the absolute similarity decides). Papers already indexed are never matched again.

Watches and matches live in `<index folder>/watches.json` (beside the index builds, so a new build
keeps them), written atomically.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import smtplib
import tomllib
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import QueryError, SettingsError
from .importing import write_atomic
from .retrieval import rrf_fuse
from .settings import Settings, email_addresses

if TYPE_CHECKING:
    from .embedding import Encoder
    from .index import Index

log = logging.getLogger(__name__)

WATCHES_FILE = "watches.json"
CALIBRATION_FILE = Path(__file__).with_name("watch_threshold.toml")
MAX_MATCHES_PER_PAPER = 3
QUOTE_CHARS = 300


@dataclass(frozen=True)
class Watch:
    """A standing search; `user` is the login it belongs to (None: everyone's, shown to every user)."""

    name: str
    query: str
    doc_types: tuple[str, ...] = ()
    committee: str | None = None
    created: str = ""
    user: str | None = None


@dataclass(frozen=True)
class Match:
    """A passage of a newly added paper that matches a watch, with what a citation needs."""

    watch: str
    doc_id: str
    title: str
    date: str | None
    doc_type: str
    committee: str | None
    source: str | None
    page: int | None
    quote: str
    score: float
    found: str
    reported: bool = False


@dataclass
class WatchBook:
    watches: list[Watch] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)


def threshold() -> float:
    """The calibrated dense-similarity threshold a passage must reach to match a watch."""
    return float(tomllib.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))["min_cosine"])


def watches_path(settings: Settings) -> Path:
    return settings.index_dir / WATCHES_FILE


def load(path: Path) -> WatchBook:
    if not path.is_file():
        return WatchBook()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return WatchBook([Watch(**{**w, "doc_types": tuple(w.get("doc_types", ()))}) for w in data["watches"]],
                         [Match(**m) for m in data["matches"]])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise SettingsError(f"{path}: watches unreadable ({exc}); fix or move it aside") from exc


def save(path: Path, book: WatchBook) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"watches": [asdict(w) for w in book.watches], "matches": [asdict(m) for m in book.matches]}
    write_atomic(path, json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8"))


def add(path: Path, query: str, doc_types: list[str] | None = None, committee: str | None = None,
        name: str | None = None, today: dt.date | None = None, user: str | None = None) -> Watch:
    query = " ".join(query.split())
    if not query:
        raise QueryError("watch add: the query is empty")
    book = load(path)
    name = (name or query[:60]).strip()
    if any(w.name == name for w in book.watches):
        raise QueryError(f"watch {name!r} exists already; remove it first or give --name")
    watch = Watch(name, query, tuple(doc_types or ()), committee or None, (today or dt.date.today()).isoformat(),
                  user or None)
    book.watches.append(watch)
    save(path, book)
    return watch


def visible_to(watches: list[Watch], user: str | None, everyone: bool) -> list[Watch]:
    """The watches a person sees: all of them where the app has no logins (`everyone`), else those
    shared with every user and the signed-in `user`'s own."""
    return list(watches) if everyone else [w for w in watches if w.user is None or (user and w.user == user)]


def remove(path: Path, name: str) -> None:
    book = load(path)
    kept = [w for w in book.watches if w.name != name]
    if len(kept) == len(book.watches):
        raise QueryError(f"no watch named {name!r}; `watch list` shows them")
    book.watches = kept
    save(path, book)


def passage_scores(index: "Index", encoder: "Encoder", query: str, chunk_ids: np.ndarray,
                   pool: int = 50) -> list[tuple[int, float, float]]:
    """(chunk id, fused score, dense cosine) of the best passages among `chunk_ids` for `query`,
    best first by fused score: dense and BM25 candidates restricted to those chunks."""
    if len(chunk_ids) == 0:
        return []
    dense = index.vectors.search(encoder.embed_query(query), len(chunk_ids), chunk_ids)
    sparse = index.sparse.search(query, pool, chunk_ids)
    cosine = dict(dense)
    fused = rrf_fuse([[i for i, _ in dense[:pool]], [i for i, _ in sparse]])
    return [(i, score, cosine.get(i, 0.0)) for i, score in fused]


def new_chunk_ids(index: "Index", doc_ids: set[str]) -> np.ndarray:
    """The chunk ids of the documents `doc_ids` in `index`."""
    if not doc_ids:
        return np.zeros(0, dtype=np.int64)
    marks = ",".join("?" * len(doc_ids))
    rows = index.store.db.execute(f"SELECT id FROM chunks WHERE doc_id IN ({marks}) ORDER BY id", sorted(doc_ids))
    return np.fromiter((r[0] for r in rows), dtype=np.int64)


def record_matches(index: "Index", encoder: "Encoder", settings: Settings, added_keys: tuple[str, ...],
                   now: dt.datetime | None = None, min_cosine: float | None = None) -> list[Match]:
    """Search the papers an ingest added (their file keys) for every watch, and record the matches
    (at most MAX_MATCHES_PER_PAPER passages per paper and watch). No watches: nothing is read."""
    path = watches_path(settings)
    book = load(path)
    if not book.watches or not added_keys:
        return []
    keys = set(added_keys)
    doc_ids = {doc_id for key, (doc_id, _, _) in index.store.fingerprints().items() if key in keys}
    chunk_ids = new_chunk_ids(index, doc_ids)
    limit = threshold() if min_cosine is None else min_cosine
    found = (now or dt.datetime.now()).isoformat(timespec="seconds")
    new: list[Match] = []
    for watch in book.watches:
        scored = [s for s in passage_scores(index, encoder, watch.query, chunk_ids) if s[2] >= limit]
        rows = index.store.chunks([i for i, _, _ in scored])
        per_paper: dict[str, int] = {}
        for chunk_id, _, cosine in scored:
            chunk, meta, _ = rows[chunk_id]
            if watch.doc_types and meta.doc_type not in watch.doc_types:
                continue
            if watch.committee and watch.committee.lower() not in (meta.committee or "").lower():
                continue
            if per_paper.get(meta.doc_id, 0) >= MAX_MATCHES_PER_PAPER:
                continue
            per_paper[meta.doc_id] = per_paper.get(meta.doc_id, 0) + 1
            quote = " ".join(chunk.text.split())
            new.append(Match(watch.name, meta.doc_id, meta.title, meta.date, meta.doc_type, meta.committee,
                             meta.source, chunk.page, quote[:QUOTE_CHARS] + ("\u2026" if len(quote) > QUOTE_CHARS else ""),
                             round(cosine, 4), found))
    if new:
        book.matches.extend(new)
        save(path, book)
        log.info("%d new watch matches", len(new))
    return new


def report(path: Path, since: str | None = None, new: bool = False) -> list[Match]:
    """Recorded matches, oldest first: found on or after `since` (ISO date), or (`new`) those not
    reported before, which are then marked reported."""
    book = load(path)
    chosen = [m for m in book.matches if (not new or not m.reported) and (not since or m.found[:10] >= since)]
    if new and chosen:
        book.matches = [Match(**{**asdict(m), "reported": True}) if m in chosen else m for m in book.matches]
        save(path, book)
    return chosen


def report_text(matches: list[Match]) -> str:
    """The report as text: per watch, each match with a [n] citation (title, date, type, committee,
    page, source) and its passage."""
    if not matches:
        return "No new papers match your watches.\n"
    lines: list[str] = []
    n = 0
    for name in dict.fromkeys(m.watch for m in matches):
        lines.append(f"Watch: {name}")
        for m in (m for m in matches if m.watch == name):
            n += 1
            where = f", page {m.page}" if m.page else ""
            committee = f", {m.committee}" if m.committee else ""
            lines.append(f"[{n}] {m.title} ({m.date or 'undated'}, {m.doc_type}{committee}{where})  score {m.score:.2f}")
            lines.append(f"    \u201c{m.quote}\u201d")
            if m.source:
                lines.append(f"    {m.source}")
        lines.append("")
    return "\n".join(lines)


def send_report(settings: Settings, text: str, subject: str = "council-assistant: new papers on your watches") -> None:
    """E-mail the report through the SMTP server the settings name (STARTTLS and login when set)."""
    recipients = email_addresses(settings.smtp_recipients)
    if not (settings.smtp_host and settings.smtp_sender and recipients):
        raise SettingsError("e-mail needs smtp_host, smtp_sender and smtp_recipients in the settings")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.smtp_sender, ", ".join(recipients), subject
    message.set_content(text)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username and settings.smtp_password_env:
                smtp.login(settings.smtp_username, settings.secret("smtp_password"))
            smtp.send_message(message, to_addrs=recipients)
    except (OSError, smtplib.SMTPException) as exc:
        raise SettingsError(f"smtp_host {settings.smtp_host}:{settings.smtp_port}: cannot send the report "
                            f"({exc}); check the SMTP settings") from exc
