"""The load step of an ingest, one source at a time: read a file, skip it when unchanged (or when it
failed before as it is now), else extract it in the worker (extraction.py) and report each page read
by OCR. `Reader` serves the streamed ingest (ingest.py), which holds only the papers of the batch it is
about to embed, through `Stream` (which also chunks each paper and gives them in the order they
are indexed); `load_sources` gathers every outcome for callers that want them all.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .chunking import chunk_document, with_items
from .corpus import MAX_FILE_BYTES, SourceFile, content_hash, metadata_hash, path_text, printable
from .errors import CorpusError, ExtractionUnavailableError
from .extraction import Loader
from .ocr import OcrOptions
from .progress import Phase, Progress
from .settings import Settings
from .types import Chunk, Document

log = logging.getLogger(__name__)

# Tesseract's own limit per page, as a share of extract_timeout: a stuck page is stopped and reported
# while the worker's clock (rendering included) still runs, so the file's other pages are kept.
_OCR_PAGE_SHARE = 0.8


@dataclass
class Read:
    """One source after the load step (and, in `ingest`, the chunk step): a document to index with
    its chunks, an unchanged file, or a failure (`failure`, and `record` when worth remembering).
    `position` is the source's place in discovery order, by which the report lists it."""

    position: int
    source: SourceFile
    chash: str = ""
    mhash: str = ""
    document: Document | None = None
    chunks: list[Chunk] = field(default_factory=list)
    unchanged: bool = False
    failure: str | None = None
    record: dict | None = None
    chunk_failure: bool = False
    warnings: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Loaded:
    """The load step's outcome: documents to index, keys of unchanged files, failures, warnings, and
    the failure record of the files that failed in a way worth remembering (key -> record)."""

    documents: list[tuple[SourceFile, Document, str, str]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    failures: dict[str, dict] = field(default_factory=dict)


REMEMBERED = "unchanged since it last failed; `council-assistant ingest --retry-failed` tries it again"


class Reader:
    """The load step one source at a time, so an ingest holds only the papers it is about to embed:
    each file is read and, if new or changed, extracted in the worker under `settings.extract_timeout`.
    A file that fails is reported in its `Read` and never stops the rest.

    A file in `remembered` (the failure record) whose bytes, metadata and `context` (see
    `failure_context`) are those it failed with is not extracted again, only reported again.
    Progress: the extract phase counts files; the OCR phase, begun at the first page read by OCR,
    counts pages as each is read, its total growing as each scanned file says how many it has.
    Use as a context manager."""

    def __init__(self, sources: int, old_files: dict, settings: Settings,
                 remembered: dict[str, dict] | None = None, context: str = "",
                 progress: Progress | None = None) -> None:
        self.old_files, self.remembered, self.context = old_files, remembered or {}, context
        self.progress = progress or Progress()
        self.extract = self.progress.phase("extract", sources, "files")
        self.ocr: Phase | None = None
        self._ocr_before = 0
        self._file_started = self.progress.clock()
        ocr = OcrOptions(settings.ocr, page_timeout=_OCR_PAGE_SHARE * settings.extract_timeout,
                         max_pages=settings.ocr_max_pages, max_pixels=int(settings.ocr_max_megapixels * 1e6))
        self._loader = Loader(settings.extract_timeout, settings.pdf_password, settings.default_council, ocr,
                              settings.progress)

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc) -> None:
        self._loader.close()
        self.extract.end()
        if self.ocr is not None:
            self.ocr.end()

    def _on_page(self, done: int, total: int) -> None:
        if self.ocr is None:  # begun when the first scanned file began loading, for a true rate
            self.ocr = self.progress.phase("ocr", None, "pages")
            self.ocr.started = self._file_started
        self.ocr.total = self._ocr_before + total
        self.ocr.advance(self._ocr_before + done - self.ocr.done)

    def read(self, position: int, source: SourceFile) -> Read:
        """The load step's outcome for `source`."""
        self.extract.advance(files=1)
        out = Read(position, source)
        shown = path_text(source.path)
        try:
            size = source.path.stat().st_size
            if size > MAX_FILE_BYTES:
                out.failure = (f"{size / 2**20:,.0f} MB, more than the {MAX_FILE_BYTES // 2**20:,} MB "
                               "allowed for one file; split it or remove it")
                return out
            data = source.path.read_bytes()
        except OSError as exc:
            out.failure = f"cannot read ({exc.strerror or exc}); check its permissions"
            return out
        out.chash, out.mhash = content_hash(data), metadata_hash(source.meta)
        old = self.old_files.get(source.key)
        if old and old["content_hash"] == out.chash and old["meta_hash"] == out.mhash:
            out.unchanged = True
            return out
        fingerprint = {"content_hash": out.chash, "meta_hash": out.mhash, "context": self.context}
        before = self.remembered.get(source.key)
        if _failed_as(before, fingerprint):
            out.failure, out.record = f"{before['error']} ({REMEMBERED})", before
            return out
        log.debug("extracting %s", printable(shown))
        self._file_started = self.progress.clock()
        try:
            document = self._loader.load(source, data, self._on_page)
        except CorpusError as exc:
            out.failure = one_line(str(exc).removeprefix(f"{source.path}: "))
            if not isinstance(exc, ExtractionUnavailableError):
                out.record = {**fingerprint, "error": out.failure}
            return out
        except Exception as exc:  # a loader bug must not abort the whole ingest
            log.exception("%s: unexpected error while loading", printable(shown))
            out.failure = one_line(f"could not be read ({type(exc).__name__}: {exc})")
            out.record = {**fingerprint, "error": out.failure}
            return out
        finally:
            if self.ocr is not None and self.ocr.total != self._ocr_before:
                self.ocr.total = self._ocr_before = self.ocr.done
                self.ocr.advance(0, files=1)
        out.warnings = [(shown, one_line(w)) for w in document.warnings]
        out.document = document
        return out


def load_sources(sources: list[SourceFile], old_files: dict, settings: Settings,
                 remembered: dict[str, dict] | None = None, context: str = "",
                 progress: Progress | None = None) -> Loaded:
    """Every source through `Reader`, gathered: what `ingest` does one batch at a time."""
    out = Loaded()
    log.info("checking %d file(s) for changes", len(sources))
    with Reader(len(sources), old_files, settings, remembered, context, progress) as reader:
        for position, source in enumerate(sources):
            read = reader.read(position, source)
            out.warnings.extend(read.warnings)
            if read.failure is not None:
                out.failed.append((path_text(source.path), read.failure))
                if read.record is not None:
                    out.failures[source.key] = read.record
            elif read.unchanged:
                out.unchanged.append(source.key)
            else:
                out.documents.append((source, read.document, read.chash, read.mhash))
    log.info("%d file(s) to index, %d unchanged, %d failed", len(out.documents), len(out.unchanged),
             len(out.failed))
    return out


def _failed_as(record: object, fingerprint: dict) -> bool:
    """Whether a failure record is of this very file version (bytes, metadata and context)."""
    return (isinstance(record, dict) and isinstance(record.get("error"), str)
            and all(record.get(k) == v for k, v in fingerprint.items()))


def failure_context(settings: Settings, chunking: dict) -> str:
    """What besides a file's bytes and metadata decides whether it loads: the extraction time limit,
    whether a PDF password is set (not the password), the OCR setting and whether Tesseract runs, the
    chunking and the code of the corpus, reading, table, extraction, OCR, cleaning and chunking stages.
    A remembered failure stands only under the same context, so a raised `extract_timeout`, an
    installed Tesseract or an upgrade tries the file again."""
    from . import __version__, chunking as chunking_module, cleaning, corpus, extraction, ocr, readers, tables
    from . import webpage

    code = hashlib.sha256()
    for module in (corpus, readers, webpage, tables, extraction, cleaning, chunking_module, ocr):
        code.update(Path(module.__file__).read_bytes())
    described = {"extract_timeout": settings.extract_timeout, "pdf_password": bool(settings.pdf_password),
                 "ocr": settings.ocr, "ocr_engine": settings.ocr == "auto" and ocr.unavailable() is None,
                 "chunking": chunking, "version": __version__, "code": code.hexdigest()}
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


def one_line(message: str, limit: int = 500) -> str:
    message = re.sub(r"\s*[\r\n]+\s*", " ", message).strip()
    return message if len(message) <= limit else message[:limit - 1] + "\u2026"


def _chunked(read: Read, settings: Settings, context: str) -> Read:
    """`read` with its document's chunks; a file that cannot be chunked fails alone (its document
    dropped, the failure remembered)."""
    if read.document is None:
        return read
    try:
        read.document = with_items(read.document)
        read.chunks = chunk_document(read.document, settings.chunk_words, settings.chunk_overlap_sentences,
                                     settings.extract_timeout)
    except Exception as exc:  # a chunker bug must not abort the whole ingest
        if isinstance(exc, CorpusError):
            message = one_line(str(exc).removeprefix(f"{read.document.path}: "))
        else:
            log.exception("%s: unexpected error while chunking", printable(read.source.path))
            message = one_line(f"could not be chunked ({type(exc).__name__}: {exc})")
        read.document, read.failure, read.chunk_failure = None, message, True
        read.record = {"content_hash": read.chash, "meta_hash": read.mhash, "context": context, "error": message}
    return read


class Stream:
    """The sources in the order their papers are indexed (those with an id from the manifest first,
    then discovery order), read and chunked one at a time. A source can be read ahead of its turn
    (`peek`) when another paper's id depends on whether it is indexed; it waits in `ahead` until then.

    With `ahead_chunks` > 0 a thread reads and chunks the next sources while the caller embeds the
    ones it took (the encoders release the GIL; extraction runs in its worker process), holding at
    most one paper beyond `ahead_chunks` chunks read and not yet taken, so memory holds about one
    batch more than without it. The papers come in the same order either way. An error the thread
    meets (a bug: a file's own failures are its `Read`'s) is raised to the caller at that paper's
    turn, with a note naming the file. Use as a context manager: the thread is stopped at exit."""

    def __init__(self, sources: list[SourceFile], reader: Reader, settings: Settings, context: str,
                 ahead_chunks: int = 0) -> None:
        self.sources, self.reader, self.settings, self.context = sources, reader, settings, context
        self.order = sorted(range(len(sources)), key=lambda i: not sources[i].meta.get("id"))
        self.position = {source.key: i for i, source in enumerate(sources)}
        self.ahead: dict[int, Read] = {}
        self.done: set[str] = set()
        self.ahead_chunks = ahead_chunks
        self._reading = threading.Lock()  # the reader and `ahead`; taken before `_state`, never after
        self._state = threading.Condition()  # `_queued`, `_held`, `done`, `_error`, `_stop`
        self._queued: dict[int, Read] = {}  # read by the thread, not yet taken
        self._held = 0
        self._error: tuple[int, BaseException] | None = None
        self._stop = False
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the reading thread (after the file it is reading, if any)."""
        with self._state:
            self._stop = True
            self._state.notify_all()
        if self._thread is not None:
            self._thread.join()

    def __iter__(self) -> Iterator[Read]:
        if self.ahead_chunks > 0:
            self._thread = threading.Thread(target=self._produce, name="ingest-reader", daemon=True)
            self._thread.start()
        for i in self.order:
            if self._thread is None:
                with self._reading:
                    read = self.ahead.pop(i, None) or self._read(i)
            else:
                read = self._take(i)
            with self._state:
                self.done.add(read.source.key)
            yield read

    def peek(self, key: str) -> Read | None:
        """The read of the source `key` not yet taken (None: no such source, or taken already)."""
        i = self.position.get(key)
        if i is None:
            return None
        with self._reading:
            with self._state:
                if key in self.done:
                    return None
                if i in self._queued:
                    return self._queued[i]
            if i not in self.ahead:
                self.ahead[i] = self._read(i)
            return self.ahead[i]

    def _take(self, i: int) -> Read:
        """The read of source `i` from the thread, once it is there."""
        with self._state:
            while i not in self._queued:
                if self._error is not None and self._error[0] == i:
                    raise self._error[1]
                self._state.wait()
            read = self._queued.pop(i)
            self._held -= len(read.chunks)
            self._state.notify_all()
            return read

    def _produce(self) -> None:
        for i in self.order:
            with self._state:
                while not self._stop and self._queued and self._held >= self.ahead_chunks:
                    self._state.wait()
                if self._stop:
                    return
            try:
                with self._reading:
                    read = self.ahead.pop(i, None) or self._read(i)
                    with self._state:
                        self._queued[i] = read
                        self._held += len(read.chunks)
                        self._state.notify_all()
            except BaseException as exc:  # raised again in the caller's thread, at this paper's turn
                with self._state:
                    self._error = (i, exc)
                    self._state.notify_all()
                return

    def _read(self, i: int) -> Read:
        source = self.sources[i]
        try:
            return _chunked(self.reader.read(i, source), self.settings, self.context)
        except BaseException as exc:
            exc.add_note(f"while reading {printable(path_text(source.path))} for the ingest")
            raise
