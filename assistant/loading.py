"""Read source files into cleaned `Document`s, with metadata from the folder's `manifest.toml`.

Supported: .txt and .md (UTF-8, UTF-16 with a byte-order mark, or Windows-1252 with a warning),
.pdf (pypdf; page boundaries kept), .html/.htm (main text, without navigation), .docx.
Every failure is a `CorpusError` whose message starts with the file name.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import re
import tomllib
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path

from .cleaning import clean_pages, clean_text
from .errors import CorpusError
from .types import Document, DocumentMeta

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.toml"
SUPPORTED = {".txt", ".md", ".pdf", ".html", ".htm", ".docx"}
META_FIELDS = {"id", "title", "date", "date_note", "doc_type", "council", "committee", "source"}
_MIN_PDF_CHARS_PER_PAGE = 1


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


def file_key(path: Path) -> str:
    """The key a file is indexed under: its path relative to the working folder where possible."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def read_manifest(folder: Path) -> dict[str, dict]:
    """Entries of `folder/manifest.toml`, keyed by file name (`[documents."file.txt"]` tables)."""
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: not valid TOML ({exc})") from exc
    documents = data.get("documents", {})
    defaults = data.get("defaults", {})
    for name, entry in {"defaults": defaults, **documents}.items():
        if not isinstance(entry, dict):
            raise CorpusError(f"{path}: [{name}] must be a table of fields")
        unknown = set(entry) - META_FIELDS
        if unknown:
            raise CorpusError(f"{path}: [{name}] has unknown field(s) {', '.join(sorted(unknown))}")
        if "date" in entry:
            _check_date(str(entry["date"]), f"{path}: [{name}] field date")
    return {name: {**defaults, **entry} for name, entry in documents.items()} | {"*": defaults}


def _check_date(value: str, where: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise CorpusError(f"{where}: {value!r} is not an ISO date (YYYY-MM-DD)") from exc


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def metadata_hash(meta: dict) -> str:
    return hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode()).hexdigest()[:16]


def load_document(source: SourceFile, data: bytes, pdf_password: str | None = None,
                  default_council: str | None = None) -> Document:
    """Extract, clean and describe one file whose bytes are `data`."""
    name = source.path.name
    if not data:
        raise CorpusError(f"{source.path}: empty file (0 bytes)")
    suffix = source.path.suffix.lower()
    if suffix in {".txt", ".md"}:
        extracted = _read_text(source.path, data)
    elif suffix == ".pdf":
        extracted = _read_pdf(source.path, data, pdf_password)
    elif suffix in {".html", ".htm"}:
        extracted = _read_html(source.path, data)
    elif suffix == ".docx":
        extracted = _read_docx(source.path, data)
    else:
        raise CorpusError(f"{source.path}: unsupported file type {suffix or '(none)'}; "
                          f"supported: {', '.join(sorted(SUPPORTED))}")
    pages = clean_pages(extracted.pages) if extracted.paged else [clean_text("\n\n".join(extracted.pages))]
    text, starts = _join_pages(pages)
    if not text.strip():
        if suffix == ".pdf":
            raise CorpusError(f"{source.path}: no text layer (needs OCR); not indexed")
        raise CorpusError(f"{source.path}: no text after cleaning; not indexed")
    meta = _describe(source, text, extracted.title, default_council)
    return Document(meta=meta, text=text, path=source.key,
                    page_starts=tuple(starts) if extracted.paged else (),
                    warnings=extracted.warnings)


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
    )


def _read_text(path: Path, data: bytes) -> Extracted:
    notes: tuple[str, ...] = ()
    if data.startswith(b"\xef\xbb\xbf"):
        text = data[3:].decode("utf-8", errors="strict")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise CorpusError(f"{path}: damaged UTF-16 text ({exc.reason})") from exc
    else:
        if _looks_binary(data):
            raise CorpusError(f"{path}: binary data, not text; rename it to its real type or remove it")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = data.decode("cp1252", errors="replace")
            notes = (f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); read as Windows-1252",)
    return Extracted(pages=[text], title=None, warnings=notes, paged=False)


def _looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample:
        return True
    controls = sum(b < 32 and b not in (9, 10, 12, 13) for b in sample)
    return controls > 0.05 * len(sample)


def _read_pdf(path: Path, data: bytes, password: str | None) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError, PyPdfError

    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught, _capture_pypdf_log() as logged:
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
        except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError,
                IndexError, RecursionError, OSError) as exc:
            raise CorpusError(f"{path}: damaged PDF, cannot be opened ({type(exc).__name__}: {exc})") from exc
        pages: list[str] = []
        failed: list[int] = []
        for number in range(count):
            try:
                pages.append(reader.pages[number].extract_text() or "")
            except Exception as exc:  # pypdf raises many types on damaged pages; keep the rest
                log.debug("%s page %d: %s", path, number + 1, exc)
                failed.append(number + 1)
                pages.append("")
        title = _pdf_title(reader)
    if failed:
        notes.append(f"damaged PDF: page(s) {_ranges(failed)} could not be read; indexed the rest")
    if caught or logged:
        notes.append(f"damaged PDF: pypdf repaired it ({len(caught) + len(logged)} warning(s), "
                     f"first: {(caught[0].message if caught else logged[0])})")
    if count and sum(len(p.strip()) for p in pages) < _MIN_PDF_CHARS_PER_PAGE:
        raise CorpusError(f"{path}: no text layer (needs OCR); not indexed")
    empty = [i + 1 for i, p in enumerate(pages) if not p.strip()]
    if empty and len(empty) < count and not failed:
        notes.append(f"page(s) {_ranges(empty)} have no text layer (need OCR)")
    return Extracted(pages=pages, title=title, warnings=tuple(notes), paged=True)


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


class _capture_pypdf_log:
    """Collect pypdf's logged warnings (it reports repairs through logging, not warnings)."""

    def __enter__(self) -> list[str]:
        self.records: list[str] = []
        self.handler = logging.Handler(logging.WARNING)
        self.handler.emit = lambda record: self.records.append(record.getMessage())
        self.logger = logging.getLogger("pypdf")
        self.logger.addHandler(self.handler)
        self.propagate = self.logger.propagate
        self.logger.propagate = False
        return self.records

    def __exit__(self, *exc) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.propagate = self.propagate


_HTML_DROP = ["script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "svg",
              "button", "template"]
_HTML_BLOCKS = ["p", "div", "section", "article", "main", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
                "blockquote", "pre", "table", "ul", "ol", "dd", "dt", "br"]


def _read_html(path: Path, data: bytes) -> Extracted:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup(_HTML_DROP):
        tag.decompose()
    for tag in soup.select('[role="navigation"], [role="banner"], [role="contentinfo"], [aria-hidden="true"]'):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    for tag in root.find_all(_HTML_BLOCKS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    text = re.sub(r"[ \t]*\n[ \t\n]*\n[ \t\n]*", "\n\n", root.get_text(""))
    text = re.sub(r"(?<!\n)\n(?!\n)", " ", text)
    return Extracted(pages=[text], title=title or None, warnings=(), paged=False)


def _read_docx(path: Path, data: bytes) -> Extracted:
    import zipfile

    try:
        import docx

        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise CorpusError(f"{path}: not a readable .docx file ({exc})") from exc
    paragraphs = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            paragraphs.append(" | ".join(cell.text.strip() for cell in row.cells))
    title = document.core_properties.title or None
    return Extracted(pages=["\n\n".join(paragraphs)], title=title, warnings=(), paged=False)
