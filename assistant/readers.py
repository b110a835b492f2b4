"""The format readers: a file's bytes to its raw text, behind a registry keyed by file suffix.

Supported: .txt and .md (UTF-8, UTF-16 with or without a byte-order mark, or Windows-1252 with a
warning), .pdf (pypdf; page boundaries kept; pages without a text layer read by OCR when asked),
.html/.htm (main text and its headings, without the site around it: `main_content`), .docx. A .txt,
.md or .html file whose bytes are not text (binary data, or mostly non-ASCII bytes that are not UTF-8)
is refused, whatever its name says.
Every failure is a `CorpusError` whose message starts with the file name. A reader only extracts:
cleaning and metadata are `extraction.load_document`'s. To add a format, add one entry to `READERS`
(and, if its library is slow to import, one to `PRELOAD`).
"""
from __future__ import annotations

import codecs
import io
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import CorpusError
from .ocr import OCR_OFF, OcrOptions, Scanned, needs_ocr, read_scanned
from .webpage import _front_matter, _html_text, main_content
from .tables import docx_grid, pdf_tables, replace_html_tables, row_lines, table_block

log = logging.getLogger(__name__)

MAX_DOCX_PARAGRAPHS = 100_000
_MIN_PDF_CHARS_PER_PAGE = 1
_SCANNED_PAGE_CHARS = 100
_MAX_HIGH_BYTES = 0.3


@dataclass(frozen=True)
class Extracted:
    """What a reader found: the text of each page (one page for formats without pages), the title the
    file itself gives (PDF metadata, HTML <title>, .docx properties), warnings, whether the pages are
    real pages, and the pages read by OCR."""

    pages: list[str]
    title: str | None
    warnings: tuple[str, ...]
    paged: bool
    ocr_pages: tuple[int, ...] = ()


@dataclass(frozen=True)
class ReadOptions:
    """What some readers need besides the bytes: the PDF password, how to OCR scanned PDF pages (None:
    not at all) and `on_page(done, total)`, called after each page read by OCR."""

    pdf_password: str | None = None
    ocr: OcrOptions | None = None
    on_page: Callable[[int, int], None] | None = None


Reader = Callable[[Path, bytes, ReadOptions], Extracted]
NO_OPTIONS = ReadOptions()


def _read_text(path: Path, data: bytes, options: ReadOptions = NO_OPTIONS) -> Extracted:
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


def _read_pdf(path: Path, data: bytes, options: ReadOptions = NO_OPTIONS) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError

    password, ocr, on_page = options.pdf_password, options.ocr, options.on_page
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
                log.debug("%r page %d: %r", str(path), number + 1, str(exc))
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
    handled = scan.tried | scan.left_out
    empty = [i + 1 for i, p in enumerate(pages) if not p.strip() and i + 1 not in handled]
    if empty and len(empty) < count and not failed:
        notes.append(f"page(s) {_ranges(empty)} have no text layer (need OCR{hint})")
    scanned = [i + 1 for i, p in enumerate(pages) if i + 1 not in handled
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


def _read_html(path: Path, data: bytes, options: ReadOptions = NO_OPTIONS) -> Extracted:
    from bs4 import BeautifulSoup

    _check_text(path, data, declared_charset=_HTML_CHARSET.search(data[:4096]) is not None)
    data, matter_title = _front_matter(data)
    with _capture_log("bs4.dammit") as logged:
        soup = BeautifulSoup(data, "html.parser")
    notes = tuple(f"{message[:1].lower()}{message[1:]} (encoding read as {soup.original_encoding})"
                  for message in dict.fromkeys(logged))
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    root = main_content(soup)
    replace_html_tables(root)
    text = re.sub(r"(?<![ \t])[ \t]*\n[ \t\n]*\n[ \t\n]*", "\n\n", _html_text(root))
    text = re.sub(r"(?<!\n)\n(?!\n)", " ", text)
    # each block apart by two blank lines: a page of short headings would otherwise read to the cleaner
    # as double-spaced text, whose single blank lines join paragraphs (and a table's rows)
    text = text.replace("\n\n", "\n\n\n")
    return Extracted(pages=[text], title=title or matter_title or None, warnings=notes, paged=False)


def _read_docx(path: Path, data: bytes, options: ReadOptions = NO_OPTIONS) -> Extracted:
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


READERS: dict[str, Reader] = {".txt": _read_text, ".md": _read_text, ".pdf": _read_pdf, ".html": _read_html,
                              ".htm": _read_html, ".docx": _read_docx}
SUPPORTED = frozenset(READERS)
# libraries the extraction worker imports before it starts a file's clock (their first import is slow)
PRELOAD: dict[str, list[str]] = {".pdf": ["pypdf", "pypdfium2", "pytesseract", "pdfplumber"],
                                 ".html": ["bs4", "soupsieve"], ".htm": ["bs4", "soupsieve"], ".docx": ["docx"]}


def read(path: Path, data: bytes, options: ReadOptions = NO_OPTIONS) -> Extracted:
    """The raw text of the file at `path` whose bytes are `data`, by the reader of its suffix."""
    suffix = path.suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        raise CorpusError(f"{path}: unsupported file type {suffix or '(none)'}; "
                          f"supported: {', '.join(sorted(SUPPORTED))}")
    return reader(path, data, options)
