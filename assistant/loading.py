"""Read source files into cleaned `Document`s, with metadata from the folder's `manifest.toml`.

Supported: .txt and .md (UTF-8, UTF-16 with or without a byte-order mark, or Windows-1252 with a
warning), .pdf (pypdf; page boundaries kept), .html/.htm (main text, without navigation), .docx.
A .txt, .md or .html file whose bytes are not text (binary data, or mostly non-ASCII bytes that are
not UTF-8) is refused, whatever its name says.
Every failure is a `CorpusError` whose message starts with the file name. A file with more than
MAX_TEXT_CHARS characters of text (about 1,500 dense pages) is refused: chunking and embedding it
would take hours; ingest reads no file over MAX_FILE_BYTES. `Loader` runs the extraction in a worker
process under a time limit.
"""
from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import importlib
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tomllib
import traceback
import unicodedata
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .cleaning import clean_pages, clean_text
from .errors import CorpusError, ExtractionUnavailableError
from .ocr import OCR_OFF, OcrOptions, Scanned, needs_ocr, read_scanned
from .tables import docx_grid, pdf_tables, replace_html_tables, row_lines, table_block
from .types import ACCESS_LEVELS, Document, DocumentMeta

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.toml"
SUPPORTED = {".txt", ".md", ".pdf", ".html", ".htm", ".docx"}
# `item`: the agenda item a paper belongs to ("5. Budget 2026/27"), as `import moderngov` records it;
# `access`: "public" or "restricted" (exempt papers only users allowed restricted papers see)
META_FIELDS = {"id", "title", "date", "date_note", "doc_type", "council", "committee", "source", "item", "access"}
MAX_TEXT_CHARS = 5_000_000
MAX_FILE_BYTES = 2**30
MAX_DOCX_PARAGRAPHS = 100_000
_MIN_PDF_CHARS_PER_PAGE = 1
_SCANNED_PAGE_CHARS = 100
_MAX_HIGH_BYTES = 0.3


@dataclass(frozen=True)
class SourceFile:
    """A file found for ingest: its path, the key it is indexed under and its manifest entry."""

    path: Path
    key: str
    meta: dict


@dataclass(frozen=True)
class Extracted:
    pages: list[str]
    title: str | None
    warnings: tuple[str, ...]
    paged: bool
    ocr_pages: tuple[int, ...] = ()


def file_key(path: Path, exact: bool = False) -> str:
    """The key a file is indexed under: its path relative to the working folder where possible.

    With `exact`, bytes of the name that are not UTF-8 are written as \\xNN escapes instead of
    U+FFFD, so that two names differing only in such bytes get distinct keys.
    """
    resolved = path.resolve()
    try:
        relative = resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        relative = resolved.as_posix()
    return os.fsencode(relative).decode("utf-8", "backslashreplace") if exact else path_text(relative)


def path_text(path: Path | str) -> str:
    """The path as printable text: bytes of a file name that are not UTF-8 become U+FFFD.

    Such names reach Python as lone surrogates, which SQLite, JSON readers and terminals refuse.
    """
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: object) -> str:
    """`text` safe to show on one line of a terminal or log: control characters (a newline that would
    forge a report line, escape sequences that drive the terminal), bidirectional overrides and lone
    surrogates become `\\x..` / `\\u....` escapes. For human-readable lines only; JSON keeps the text."""
    return _UNPRINTABLE.sub(_escape, str(text))


def _escape(match: re.Match) -> str:
    char = match.group()
    code = ord(char)
    return _ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


@dataclass(frozen=True)
class Manifest:
    """A folder's `manifest.toml`, checked entry by entry: a bad entry fails its own file, not the folder."""

    path: Path
    entries: dict[str, dict]
    defaults: dict
    problems: dict[str, str]
    defaults_problem: str | None = None

    def meta_for(self, name: str) -> dict:
        """The fields for the file called `name` (its entry over [defaults]), or a CorpusError
        naming the manifest, the entry and the field when its entry or [defaults] is refused."""
        problem = self.problems.get(name) or self.defaults_problem
        if problem:
            raise CorpusError(problem)
        return dict(self.entries.get(name, self.defaults))


def load_manifest(folder: Path) -> Manifest:
    """`folder/manifest.toml` with each `[documents."file name"]` table checked on its own.

    Raises CorpusError only when the file as a whole cannot be used (unreadable, not TOML, or
    `documents`/`defaults` not tables); then no file of the folder has known metadata.
    """
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return Manifest(path, {}, {}, {})
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: not valid TOML ({exc}); fix it, the folder's files are not "
                          "updated until then") from exc
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read ({exc.strerror or exc}); check its permissions") from exc
    documents, defaults = data.get("documents", {}), data.get("defaults", {})
    for name, value in (("documents", documents), ("defaults", defaults)):
        if not isinstance(value, dict):
            raise CorpusError(f"{path}: {name} must be a table ([{name}...]), not {_kind(value)}")
    defaults_problem = None
    try:
        defaults = _check_entry(defaults, f"{path}: [defaults]")
    except CorpusError as exc:
        defaults_problem, defaults = str(exc), {}
    entries: dict[str, dict] = {}
    problems: dict[str, str] = {}
    for name, entry in documents.items():
        try:
            entries[name] = {**defaults, **_check_entry(entry, f"{path}: [documents.{_toml_key(name)}]")}
        except CorpusError as exc:
            problems[name] = str(exc)
    return Manifest(path, entries, defaults, problems, defaults_problem)


def read_manifest(folder: Path) -> dict[str, dict]:
    """Entries of `folder/manifest.toml`, keyed by file name, and [defaults] under "*"; the first
    problem of any entry is raised (ingest uses `load_manifest`, which fails only that entry's file)."""
    manifest = load_manifest(folder)
    for problem in [manifest.defaults_problem, *manifest.problems.values()]:
        if problem:
            raise CorpusError(problem)
    return manifest.entries | {"*": manifest.defaults}


def _check_entry(entry: object, where: str) -> dict:
    """The entry's fields, each text, with the date as ISO YYYY-MM-DD; a CorpusError otherwise."""
    if not isinstance(entry, dict):
        raise CorpusError(f"{where} must be a table of fields, not {_kind(entry)}")
    unknown = set(entry) - META_FIELDS
    if unknown:
        raise CorpusError(f"{where} has unknown field(s) {', '.join(sorted(map(_toml_key, unknown)))}; "
                          f"known: {', '.join(sorted(META_FIELDS))}")
    checked = {}
    for name, value in entry.items():
        if name == "date":
            checked[name] = _check_date(value, f"{where} field date")
        elif name == "access" and value not in ACCESS_LEVELS:
            raise CorpusError(f"{where} field access must be one of {', '.join(map(repr, ACCESS_LEVELS))}, "
                              f"not {value!r}")
        elif isinstance(value, str):
            checked[name] = value
        else:
            raise CorpusError(f'{where} field {name} must be text in quotes ({name} = "..."), '
                              f"not {_kind(value)}")
    return checked


def _check_date(value: object, where: str) -> str:
    """An unambiguous date as ISO YYYY-MM-DD: a TOML date (or date-time: its date), or text in the
    form YYYY-MM-DD or YYYYMMDD. Anything else (15/03/2022, a number, a list) is refused."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str):
        raise CorpusError(f"{where}: {_kind(value)} is not a date; write date = \"YYYY-MM-DD\"")
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})|(\d{4})(\d{2})(\d{2})", value)
    try:
        if match is None:
            raise ValueError(value)
        year, month, day = (int(part) for part in match.groups() if part is not None)
        return dt.date(year, month, day).isoformat()
    except ValueError as exc:
        raise CorpusError(f"{where}: {_shown(value)} is not an ISO date (YYYY-MM-DD)") from exc


def _kind(value: object) -> str:
    """How a TOML value is described in an error message."""
    if isinstance(value, bool):
        return f"true/false ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, list):
        return f"a list ({_shown(value)})"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (dt.date, dt.time)):
        return f"a TOML {type(value).__name__} ({value})"
    return _shown(value)


def _shown(value: object, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _toml_key(name: str) -> str:
    """A table or field name as written in TOML: bare, or quoted with control characters escaped."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name, ensure_ascii=False)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def metadata_hash(meta: dict) -> str:
    return hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode()).hexdigest()[:16]


def load_document(source: SourceFile, data: bytes, pdf_password: str | None = None,
                  default_council: str | None = None, ocr: OcrOptions | None = None,
                  on_page: Callable[[int, int], None] | None = None) -> Document:
    """Extract, clean and describe one file whose bytes are `data`. PDF pages without a usable text
    layer are read by OCR under `ocr` (None: not at all), `on_page(done, total)` after each."""
    if not data:
        raise CorpusError(f"{source.path}: empty file (0 bytes)")
    suffix = source.path.suffix.lower()
    if suffix in {".txt", ".md"}:
        extracted = _read_text(source.path, data)
    elif suffix == ".pdf":
        extracted = _read_pdf(source.path, data, pdf_password, ocr, on_page)
    elif suffix in {".html", ".htm"}:
        extracted = _read_html(source.path, data)
    elif suffix == ".docx":
        extracted = _read_docx(source.path, data)
    else:
        raise CorpusError(f"{source.path}: unsupported file type {suffix or '(none)'}; "
                          f"supported: {', '.join(sorted(SUPPORTED))}")
    chars = sum(len(page) for page in extracted.pages)
    if chars > MAX_TEXT_CHARS:
        raise CorpusError(f"{source.path}: {chars:,} characters of text, more than the {MAX_TEXT_CHARS:,} "
                          "allowed for one paper; split it into smaller files or remove it")
    pages = clean_pages(extracted.pages) if extracted.paged else [clean_text("\n\n".join(extracted.pages))]
    text, starts = _join_pages(pages)
    if not text.strip():
        if suffix == ".pdf":
            raise CorpusError(f"{source.path}: no text layer (needs OCR); not indexed")
        raise CorpusError(f"{source.path}: no text after cleaning; not indexed")
    meta = replace(_describe(source, text, extracted.title, default_council), ocr_pages=extracted.ocr_pages)
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
    the loading and cleaning code, and dies with the caller. The limit counts the file's own work,
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

    def load(self, source: SourceFile, data: bytes) -> Document:
        """The cleaned document, or a `CorpusError` naming the file (also for a timeout or a crash)."""
        connection = None if self._in_process else self._worker()
        bar = _PageBar(source.path.name, self.progress)
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
                    [sys.executable, "-c", "from assistant.loading import _serve; _serve()",
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
_LIBRARIES = {".pdf": ["pypdf", "pypdfium2", "pytesseract", "pdfplumber"], ".html": ["bs4", "soupsieve"],
              ".htm": ["bs4", "soupsieve"], ".docx": ["docx"]}


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
        for library in _LIBRARIES.get(source.path.suffix.lower(), []):
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
    """A progress bar over the pages of one file read by OCR, shown from the first page read."""

    def __init__(self, name: str, enabled: bool) -> None:
        self.name, self.enabled, self.bar = name, enabled, None

    def __call__(self, done: int, total: int) -> None:
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


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "document"


def _describe(source: SourceFile, text: str, found_title: str | None, default_council: str | None) -> DocumentMeta:
    meta = source.meta
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), source.path.stem)
    title = meta.get("title") or found_title or first_line[:120]
    return DocumentMeta(
        doc_id=meta.get("id") or slug(source.path.stem),
        title=str(title),
        date=str(meta["date"]) if meta.get("date") else None,
        doc_type=meta.get("doc_type", "document"),
        council=meta.get("council") or default_council,
        committee=meta.get("committee"),
        source=meta.get("source") or source.key,
        date_note=meta.get("date_note"),
        access=meta.get("access", "public"),
    )


def _read_text(path: Path, data: bytes) -> Extracted:
    notes: tuple[str, ...] = ()
    _check_text(path, data)
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            text = data[3:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CorpusError(f"{path}: damaged UTF-8 text ({exc.reason} at offset {exc.start + 3})") from exc
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise CorpusError(f"{path}: damaged UTF-16 text ({exc.reason})") from exc
    elif (wide := _utf16_without_bom(data)) is not None:
        text = wide
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = data.decode("cp1252", errors="replace")
            notes = (f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); read as Windows-1252",)
    return Extracted(pages=[text], title=None, warnings=notes, paged=False)


def _check_text(path: Path, data: bytes, declared_charset: bool = False) -> None:
    """Refuse bytes that are not text, whatever the file's name says (.txt, .md, .html).

    Binary data holds NUL or many control bytes. Text that is not UTF-8 is read as Windows-1252,
    where letters outside ASCII are a small share of the bytes: when most are, the bytes are data
    (or a legacy encoding Windows-1252 would turn into garbage) unless an HTML page declares its
    charset. UTF-16, with or without a byte-order mark, is text.
    """
    if data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) or _utf16_without_bom(data) is not None:
        return
    if _looks_binary(data):
        raise CorpusError(f"{path}: binary data, not text; rename it to its real type or remove it")
    sample = data[:8192]
    high = sum(b >= 0x80 for b in sample)
    if not declared_charset and high > _MAX_HIGH_BYTES * len(sample) and not _utf8_prefix(sample):
        raise CorpusError(f"{path}: neither UTF-8 nor Windows-1252 text ({high / len(sample):.0%} of its first "
                          f"{len(sample):,} bytes are outside ASCII); convert it to UTF-8 or remove it")


def _utf8_prefix(sample: bytes) -> bool:
    """Whether `sample` (the first bytes of a file) is UTF-8, a character cut at its end allowed."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _utf16_without_bom(data: bytes) -> str | None:
    """Text saved as UTF-16 without a byte-order mark: in a Latin-script file every other byte is 0."""
    sample = data[:8192]
    if len(data) % 2 or len(sample) < 4:
        return None
    for encoding, zeros, letters in (("utf-16-le", sample[1::2], sample[0::2]),
                                     ("utf-16-be", sample[0::2], sample[1::2])):
        if zeros.count(0) >= 0.9 * len(zeros) and letters.count(0) == 0:
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                return None
            head = text[:4096]
            controls = sum(ord(ch) < 32 and ch not in "\t\n\f\r" for ch in head)
            return None if controls > 0.05 * len(head) else text
    return None


def _looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample:
        return True
    controls = sum(b < 32 and b not in (9, 10, 12, 13) for b in sample)
    return controls > 0.05 * len(sample)


def _read_pdf(path: Path, data: bytes, password: str | None, ocr: OcrOptions | None = None,
              on_page: Callable[[int, int], None] | None = None) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError

    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught, _capture_log("pypdf") as logged:
        warnings.simplefilter("always")
        try:
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                opened = any(reader.decrypt(p) for p in _passwords(password))
                if not opened:
                    hint = "the configured pdf_password is wrong" if password else "set pdf_password"
                    raise CorpusError(f"{path}: encrypted PDF; {hint} or remove the file")
            count = len(reader.pages)
        except CorpusError:
            raise
        except FileNotDecryptedError as exc:
            raise CorpusError(f"{path}: encrypted PDF; set pdf_password or remove the file") from exc
        except Exception as exc:  # pypdf raises many types on damaged files (zlib, NotImplementedError, ...)
            raise CorpusError(f"{path}: damaged PDF, cannot be opened ({type(exc).__name__}: {exc})") from exc
        pages: list[str] = []
        failed: list[int] = []
        for number in range(count):
            try:
                pages.append(reader.pages[number].extract_text() or "")
            except Exception as exc:  # pypdf raises many types on damaged pages; keep the rest
                log.debug("%s page %d: %s", printable(path), number + 1, printable(exc))
                failed.append(number + 1)
                pages.append("")
        title = _pdf_title(reader)
    for number, text in pdf_tables(data, password, [i for i, p in enumerate(pages) if p.strip()]).items():
        pages[number] = text
    if failed:
        notes.append(f"damaged PDF: page(s) {_ranges(failed)} could not be read; indexed the rest")
    if caught or logged:
        notes.append(f"damaged PDF: pypdf repaired it ({len(caught) + len(logged)} warning(s), "
                     f"first: {(caught[0].message if caught else logged[0])})")
    scan = Scanned(pages, (), frozenset(), (), OCR_OFF if ocr is not None else None)
    if ocr is not None and ocr.mode == "auto":
        wanted = [i + 1 for i, p in enumerate(pages)
                  if i + 1 not in failed and needs_ocr(p, lambda i=i: _draws_image(reader, i))]
        scan = read_scanned(data, pages, wanted, ocr, password, on_page)
        pages = scan.pages
        notes.extend(scan.notes)
    hint = f": {scan.problem}" if scan.problem else ""
    if count and sum(len(p.strip()) for p in pages) < _MIN_PDF_CHARS_PER_PAGE:
        found = "; OCR found no text either" if scan.tried else ""
        raise CorpusError(f"{path}: no text layer (needs OCR{hint}){found}; not indexed")
    empty = [i + 1 for i, p in enumerate(pages) if not p.strip() and i + 1 not in scan.tried]
    if empty and len(empty) < count and not failed:
        notes.append(f"page(s) {_ranges(empty)} have no text layer (need OCR{hint})")
    scanned = [i + 1 for i, p in enumerate(pages) if i + 1 not in scan.tried
               and 0 < len(p.strip()) < _SCANNED_PAGE_CHARS and _draws_image(reader, i)]
    if scanned:
        notes.append(f"page(s) {_ranges(scanned)} are images with under {_SCANNED_PAGE_CHARS} characters of "
                     "text (a scan with a stamp or watermark?); they need OCR to be searchable")
    return Extracted(pages=pages, title=title, warnings=tuple(notes), paged=True, ocr_pages=scan.ocr_pages)


def _draws_image(reader, index: int) -> bool:
    try:
        xobjects = (reader.pages[index].get("/Resources") or {}).get("/XObject") or {}
        return any(xobjects[name].get_object().get("/Subtype") == "/Image" for name in xobjects)
    except Exception:  # a damaged resource dictionary: no warning rather than no document
        return False


def _passwords(password: str | None) -> list[str]:
    return [password, ""] if password else [""]


def _pdf_title(reader) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:
        return None
    return title.strip() if isinstance(title, str) and title.strip() else None


def _ranges(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers[:10]) + (" ..." if len(numbers) > 10 else "")


class _capture_log:
    """Collect a library's logged warnings (pypdf reports repairs, and bs4 undecodable bytes, through
    logging, not warnings), so that they reach the report as warnings naming the file."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> list[str]:
        self.records: list[str] = []
        self.handler = logging.Handler(logging.WARNING)
        self.handler.emit = lambda record: self.records.append(record.getMessage())
        self.logger = logging.getLogger(self.name)
        self.logger.addHandler(self.handler)
        self.propagate = self.logger.propagate
        self.logger.propagate = False
        return self.records

    def __exit__(self, *exc) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.propagate = self.propagate


_HTML_CHARSET = re.compile(rb"""<meta[^>]{0,200}charset\s*=\s*["']?[-\w]+""", re.IGNORECASE)
_HTML_DROP = ["script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "svg",
              "button", "template"]
_HTML_BLOCKS = ["p", "div", "section", "article", "main", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
                "blockquote", "pre", "table", "ul", "ol", "dd", "dt", "br"]


def _read_html(path: Path, data: bytes) -> Extracted:
    from bs4 import BeautifulSoup

    _check_text(path, data, declared_charset=_HTML_CHARSET.search(data[:4096]) is not None)
    with _capture_log("bs4.dammit") as logged:
        soup = BeautifulSoup(data, "html.parser")
    notes = tuple(f"{message[:1].lower()}{message[1:]} (encoding read as {soup.original_encoding})"
                  for message in dict.fromkeys(logged))
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup(_HTML_DROP):
        tag.decompose()
    for tag in soup.select('[role="navigation"], [role="banner"], [role="contentinfo"], [aria-hidden="true"]'):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    replace_html_tables(root)
    text = re.sub(r"(?<![ \t])[ \t]*\n[ \t\n]*\n[ \t\n]*", "\n\n", _html_text(root))
    text = re.sub(r"(?<!\n)\n(?!\n)", " ", text)
    return Extracted(pages=[text], title=title or None, warnings=notes, paged=False)


_BLOCK_END = object()


def _html_text(root) -> str:
    """The text under `root` (as `get_text("")`) with a blank line around each block element below it.

    Walks with an explicit stack, so the time is linear in the size of the page however deeply its
    elements nest (inserting the blank lines into the tree is quadratic in the depth).
    """
    from bs4 import CData, NavigableString, Tag

    parts: list[str] = []
    stack: list = list(reversed(root.contents))
    while stack:
        node = stack.pop()
        if node is _BLOCK_END:
            parts.append("\n\n")
        elif type(node) in (NavigableString, CData):
            parts.append(str(node))
        elif isinstance(node, Tag):
            if node.name in _HTML_BLOCKS:
                parts.append("\n\n")
                stack.append(_BLOCK_END)
            stack.extend(reversed(node.contents))
    return "".join(parts)


def _read_docx(path: Path, data: bytes) -> Extracted:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
        body = document.element.body
        paragraphs = int(body.xpath("count(w:p[w:r or w:hyperlink])"))
        if paragraphs > MAX_DOCX_PARAGRAPHS:
            raise CorpusError(f"{path}: {paragraphs:,} paragraphs, more than the {MAX_DOCX_PARAGRAPHS:,} allowed "
                              "for one paper; split it into smaller files or remove it")
        paragraphs = _docx_paragraphs(body)
        paragraphs.extend(table_block(row_lines(docx_grid(table))) for table in document.tables)
        title = document.core_properties.title or None
    except CorpusError:
        raise
    except Exception as exc:  # zipfile, zlib, lxml and python-docx each raise their own types
        raise CorpusError(f"{path}: not a readable .docx file ({type(exc).__name__}: {exc})") from exc
    return Extracted(pages=["\n\n".join(paragraphs)], title=title, warnings=(), paged=False)


def _docx_paragraphs(body) -> list[str]:
    """The text of the body's paragraphs, as python-docx's `Paragraph.text` gives it, about five times
    faster (python-docx spends some 50 µs on each); a run of paragraphs without text is kept as one
    empty one, which cleaning reads the same (a paragraph break)."""
    from docx.oxml.ns import qn

    paragraph, run, link = qn("w:p"), qn("w:r"), qn("w:hyperlink")
    inner = [qn(f"w:{tag}") for tag in ("br", "cr", "noBreakHyphen", "ptab", "t", "tab")]

    def run_text(element) -> str:
        return "".join(str(e) for e in element.iterchildren(*inner))

    texts: list[str] = []
    for p in body.iterchildren(paragraph):
        parts: list[str] = []
        for element in p.iterchildren(run, link):
            if element.tag == run:
                parts.append(run_text(element))
            else:
                parts.extend(run_text(r) for r in element.iterchildren(run))
        text = "".join(parts)
        if text.strip():
            texts.append(text)
        elif not texts or texts[-1]:
            texts.append("")
    return texts
