"""Extraction: one file's bytes to a cleaned, described `Document`, in a worker process under a time limit.

`load_document` reads the file by its format's reader (readers.py), cleans the text and describes it
from its manifest entry (corpus.py). A file with more than MAX_TEXT_CHARS characters of text (about
1,500 dense pages) is refused: chunking and embedding it would take hours. `Loader` runs
`load_document` in a worker process, so that a file that takes too long is stopped and reported.
"""
from __future__ import annotations

import importlib
import logging
import os
import signal
import subprocess
import sys
import traceback
import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .cleaning import clean_pages, clean_text
from .corpus import SourceFile, describe, printable
from .errors import CorpusError, ExtractionUnavailableError
from .ocr import OcrOptions
from .readers import PRELOAD, ReadOptions, read
from .types import Document

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 5_000_000


def load_document(source: SourceFile, data: bytes, pdf_password: str | None = None,
                  default_council: str | None = None, ocr: OcrOptions | None = None,
                  on_page: Callable[[int, int], None] | None = None) -> Document:
    """Extract, clean and describe one file whose bytes are `data`. PDF pages without a usable text
    layer are read by OCR under `ocr` (None: not at all), `on_page(done, total)` after each."""
    if not data:
        raise CorpusError(f"{source.path}: empty file (0 bytes)")
    extracted = read(source.path, data, ReadOptions(pdf_password, ocr, on_page))
    chars = sum(len(page) for page in extracted.pages)
    if chars > MAX_TEXT_CHARS:
        raise CorpusError(f"{source.path}: {chars:,} characters of text, more than the {MAX_TEXT_CHARS:,} "
                          "allowed for one paper; split it into smaller files or remove it")
    pages = clean_pages(extracted.pages) if extracted.paged else [clean_text("\n\n".join(extracted.pages))]
    text, starts = _join_pages(pages)
    if not text.strip():
        if source.path.suffix.lower() == ".pdf":
            raise CorpusError(f"{source.path}: no text layer (needs OCR); not indexed")
        raise CorpusError(f"{source.path}: no text after cleaning; not indexed")
    first_page = text[:starts[1]] if extracted.paged and len(starts) > 1 else text
    meta = replace(describe(source, text, extracted.title, default_council, first_page),
                   ocr_pages=extracted.ocr_pages)
    return Document(meta=meta, text=text, path=source.key,
                    page_starts=tuple(starts) if extracted.paged else (),
                    warnings=extracted.warnings)


class Loader:
    """Runs `load_document` in a worker process, so that a file whose extraction takes longer than
    `timeout` seconds is stopped and reported instead of stalling the ingest (pypdf's pure-Python
    parser cannot be interrupted from a thread).

    One worker, started on first use, serves every file and is replaced after a timeout or a crash.
    It is a fresh interpreter (not a fork, and not multiprocessing's spawn, which re-runs the
    caller's main script): it inherits nothing of the caller (torch, open index files), imports only
    the extraction, reading and cleaning code, and dies with the caller. The limit counts the file's own work,
    not the worker's start or its first import of a format's library; for a file whose pages are
    read by OCR (`ocr`) it applies to each page, so a long scan finishes. `timeout=0` loads in this
    process, with no limit, and so does a Loader whose worker cannot be started (a warning says so).
    Use as a context manager, or call `close`.
    """

    def __init__(self, timeout: float, pdf_password: str | None = None,
                 default_council: str | None = None, ocr: OcrOptions | None = None,
                 progress: bool = False) -> None:
        self.timeout = timeout
        self.pdf_password = pdf_password
        self.default_council = default_council
        self.ocr = ocr
        self.progress = progress
        self._process: subprocess.Popen | None = None
        self._connection: Connection | None = None
        self._in_process = not timeout

    def __enter__(self) -> "Loader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def load(self, source: SourceFile, data: bytes,
             on_page: Callable[[int, int], None] | None = None) -> Document:
        """The cleaned document, or a `CorpusError` naming the file (also for a timeout or a crash);
        `on_page(done, total)` after each page read by OCR."""
        connection = None if self._in_process else self._worker()
        bar = _PageBar(source.path.name, self.progress, on_page)
        if connection is None:
            try:
                return load_document(source, data, self.pdf_password, self.default_council, self.ocr, bar)
            finally:
                bar.close()
        try:
            connection.send((source, data, self.pdf_password, self.default_council, self.ocr))
            if not connection.poll(_WORKER_START_SECONDS):
                self._stop()
                raise ExtractionUnavailableError(f"{source.path}: the extraction worker did not start within "
                                  f"{_WORKER_START_SECONDS} s; the machine may be overloaded: try again")
            connection.recv()
            reply = ("page", 0, 0)
            while reply[0] == "page":
                if not connection.poll(self.timeout):
                    self._stop()
                    work = f"OCR of page {reply[1] + 1} of {reply[2]}" if reply[2] else "extraction"
                    raise CorpusError(
                        f"{source.path}: {work} took longer than {self.timeout:g} s; the file may be "
                        "damaged or unusually complex: raise extract_timeout or remove the file")
                reply = connection.recv()
                if reply[0] == "page":
                    bar(*reply[1:])
            outcome, message, trace = reply
        except (EOFError, OSError) as exc:
            code = self._stop()
            raise CorpusError(f"{source.path}: the extraction worker stopped while reading it (exit code "
                              f"{code}); the file may be damaged: remove it or convert it") from exc
        finally:
            bar.close()
        if outcome == "ok":
            return message
        if trace:
            log.error("%s: unexpected error while loading (in the worker process)\n%s", printable(source.path), trace)
        raise CorpusError(message)

    def close(self) -> None:
        """Let the worker exit (kill it if it has not within a second)."""
        if self._connection is not None:
            try:
                self._connection.send(None)
            except OSError:
                pass
        if self._process is not None:
            try:
                self._process.wait(1)
            except subprocess.TimeoutExpired:
                pass
        self._stop()

    def _worker(self) -> Connection | None:
        if self._process is None or self._process.poll() is not None:
            from multiprocessing.connection import Pipe

            self._stop()
            ours, theirs = Pipe()
            package_root = str(Path(__file__).resolve().parents[1])
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(
                filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
            try:
                self._process = subprocess.Popen(
                    [sys.executable, "-c", "from assistant.extraction import _serve; _serve()",
                     str(theirs.fileno()), str(os.getpid())],
                    pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=env)
            except OSError as exc:
                ours.close()
                log.warning("cannot start the extraction worker (%s); loading files in this process, "
                            "without the %g s limit", exc, self.timeout)
                self._in_process = True
                return None
            finally:
                theirs.close()
            self._connection = ours
        return self._connection

    def _stop(self) -> int | None:
        code = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            code = self._process.wait()
        if self._connection is not None:
            self._connection.close()
        self._process = self._connection = None
        return code


_WORKER_START_SECONDS = 120


def _serve() -> None:
    """The worker's loop (argv: connection fd, parent pid). For each file: import its format's
    library, send ("begin",) so that the caller starts the clock, load, and send ("ok", document, "")
    or ("failed", message, traceback); the traceback is set only for an unexpected error."""
    from multiprocessing.connection import Connection

    connection = Connection(int(sys.argv[1]))
    _die_with(int(sys.argv[2]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warnings.simplefilter("ignore")
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        source, data, password, council, ocr = request
        for library in PRELOAD.get(source.path.suffix.lower(), []):
            try:
                importlib.import_module(library)
            except ImportError:
                pass
        try:
            connection.send(("begin",))
            try:
                reply = ("ok", load_document(source, data, password, council, ocr,
                                             lambda done, total: connection.send(("page", done, total))), "")
            except CorpusError as exc:
                reply = ("failed", str(exc), "")
            except Exception as exc:
                reply = ("failed", f"{source.path}: could not be read ({type(exc).__name__}: {exc})",
                         traceback.format_exc())
            connection.send(reply)
        except (OSError, ValueError):
            return


class _PageBar:
    """A progress bar over the pages of one file read by OCR, shown from the first page read, and the
    caller's `on_page`."""

    def __init__(self, name: str, enabled: bool, on_page: Callable[[int, int], None] | None = None) -> None:
        self.name, self.enabled, self.bar, self.on_page = name, enabled, None, on_page

    def __call__(self, done: int, total: int) -> None:
        if self.on_page is not None:
            self.on_page(done, total)
        if self.enabled and self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=f"OCR {self.name}", unit="page", leave=False)
        if self.bar is not None:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _die_with(parent: int) -> None:
    """Ask Linux to kill this process when its parent dies (a killed ingest leaves no worker behind)."""
    if sys.platform == "linux":
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(0)


def _join_pages(pages: list[str]) -> tuple[str, list[int]]:
    parts: list[str] = []
    starts: list[int] = []
    offset = 0
    for page in pages:
        if parts:
            parts.append("\n\n")
            offset += 2
        starts.append(offset)
        parts.append(page)
        offset += len(page)
    return "".join(parts), starts

