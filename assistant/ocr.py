"""Read PDF pages that have no usable text layer (scans) with Tesseract.

Pages are rendered with pypdfium2 at `OcrOptions.dpi` (fewer dots per inch when the page is so
large that the image would pass `OcrOptions.max_pixels`, MAX_PAGE_PIXELS by default) and read by the
`tesseract` program through pytesseract, one page at a time, each under its own time limit. A page
whose embedded image is over MAX_IMAGE_PIXELS (decoding it alone could take gigabytes) is not
rendered. At most `OcrOptions.max_pages` pages of one file are read (the first ones), so that a scan of
hundreds of pages cannot hold an ingest for hours. Tesseract comes from the
system (Debian: `tesseract-ocr tesseract-ocr-eng`); without it `unavailable()` says so and the caller
keeps its "needs OCR" warning.
"""
from __future__ import annotations

import functools
import logging
import math
import shutil
from dataclasses import dataclass, field
from typing import Callable

log = logging.getLogger(__name__)

MAX_PAGE_PIXELS = 25_000_000
MAX_IMAGE_PIXELS = 100_000_000
OCR_OFF = 'OCR is off (setting ocr = "off")'
INSTALL_HINT = "install Tesseract (apt-get install tesseract-ocr tesseract-ocr-eng, or `make ocr`)"
_SCANNED_PAGE_CHARS = 100
_MIN_READABLE_SHARE = 0.5


@dataclass(frozen=True)
class OcrOptions:
    """How scanned pages are read: `mode` "auto" (OCR pages without a usable text layer) or "off";
    `page_timeout` seconds per page (0: none); `language` a Tesseract language code; `max_pages` the
    pages of one file read at most (the settings' ocr_max_pages); `max_pixels` the pixels of one
    rendered page at most (ocr_max_megapixels)."""

    mode: str = "auto"
    page_timeout: float = 0.0
    dpi: int = 300
    language: str = "eng"
    max_pages: int = 200
    max_pixels: int = MAX_PAGE_PIXELS


@dataclass(frozen=True)
class OcrResult:
    """Text read from each page (1-based page number -> text) and the pages that could not be read,
    with why."""

    texts: dict[int, str] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)


def needs_ocr(text: str, draws_image: Callable[[], bool]) -> bool:
    """Whether a page's text layer is missing or unusable: empty; a few characters over an image (a
    scan with a stamp or watermark); or mostly characters that are neither letters nor digits (a
    broken font encoding). `draws_image()` says whether the page draws an image."""
    stripped = "".join(text.split())
    if not stripped:
        return True
    if len(stripped) < _SCANNED_PAGE_CHARS and draws_image():
        return True
    readable = sum(ch.isalnum() or ch in ".,;:()£$€%&'\"-/" for ch in stripped)
    return readable < _MIN_READABLE_SHARE * len(stripped)


def better_text(layer: str, ocr_text: str) -> bool:
    """Whether OCR found more letters and digits than the page's own text layer."""
    return sum(ch.isalnum() for ch in ocr_text) > sum(ch.isalnum() for ch in layer)


@functools.cache
def unavailable() -> str | None:
    """Why OCR cannot run here (the hint to fix it), or None when Tesseract and its bindings work."""
    try:
        import pypdfium2  # noqa: F401
        import pytesseract
    except ImportError as exc:
        return f"the OCR libraries are not installed ({exc.name}); reinstall council-assistant"
    if shutil.which(pytesseract.pytesseract.tesseract_cmd) is None:
        return f"Tesseract is not installed; {INSTALL_HINT}"
    try:
        pytesseract.get_tesseract_version()
    except Exception as exc:  # a broken install raises its own types
        return f"Tesseract does not run ({type(exc).__name__}: {exc}); {INSTALL_HINT}"
    return None


def render_scale(width_pt: float, height_pt: float, dpi: int, max_pixels: int = MAX_PAGE_PIXELS) -> float:
    """The render scale (pixels per PDF point) for `dpi`, lowered so that the page image holds at
    most `max_pixels` pixels."""
    scale = dpi / 72
    area = max(width_pt, 1.0) * max(height_pt, 1.0)
    if area * scale * scale > max_pixels:
        scale = math.sqrt(max_pixels / area)
    return scale


def read_pages(data: bytes, numbers: list[int], options: OcrOptions, password: str | None = None,
               on_page: Callable[[int, int], None] | None = None) -> OcrResult:
    """OCR the 1-based pages `numbers` of the PDF `data`. A page that fails (too large, Tesseract
    crashing or over its time limit) is in `failed` and the others are still read; `on_page(done,
    total)` is called after each page. Tesseract runs one thread per page (OMP_THREAD_LIMIT, unless
    set): on a shared machine its own threads slow it down. Raises RuntimeError when the PDF cannot be
    opened."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c
    import pytesseract

    from .settings import prepare_libraries

    prepare_libraries("tesseract")
    texts: dict[int, str] = {}
    failed: dict[int, str] = {}
    try:
        pdf = pdfium.PdfDocument(data, password=password or None)
    except pdfium.PdfiumError as exc:
        raise RuntimeError(f"pdfium cannot open it for OCR ({exc})") from exc
    config = f"--dpi {options.dpi}"
    try:
        for done, number in enumerate(numbers, 1):
            page = None
            try:
                page = pdf[number - 1]
                largest = max((math.prod(image.get_px_size()) for image in
                               page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3)), default=0)
                if largest > MAX_IMAGE_PIXELS:
                    failed[number] = f"an image of {largest / 1e6:,.0f} megapixels, over the " \
                                     f"{MAX_IMAGE_PIXELS / 1e6:,.0f} read by OCR"
                    continue
                width, height = page.get_size()
                scale = render_scale(width, height, options.dpi, options.max_pixels)
                image = page.render(scale=scale, grayscale=True).to_pil()
                texts[number] = pytesseract.image_to_string(
                    image, lang=options.language, config=config, timeout=options.page_timeout or 0)
            except pytesseract.TesseractError as exc:
                failed[number] = f"OCR failed (Tesseract {_exit(exc.status)}: {_first_line(exc.message)})"
            except RuntimeError as exc:  # pytesseract's time limit
                failed[number] = f"OCR took longer than {options.page_timeout:g} s" \
                    if "timeout" in str(exc).lower() else f"OCR failed ({exc})"
            except (pdfium.PdfiumError, OSError, ValueError) as exc:
                failed[number] = f"OCR failed ({type(exc).__name__}: {_first_line(exc)})"
            finally:
                if page is not None:
                    page.close()
                if on_page is not None:
                    on_page(done, len(numbers))
    finally:
        pdf.close()
    if failed:
        log.debug("OCR failed on pages %s", failed)
    return OcrResult(texts, failed)


def _exit(status: int) -> str:
    return f"killed by signal {-status}" if status < 0 else f"exited with status {status}"


def _first_line(exc: Exception | str) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else "no message"



@dataclass(frozen=True)
class Scanned:
    """A PDF's pages after OCR: `pages` with the text read by OCR in place of a missing or unusable
    layer, the 1-based numbers of those pages, the pages tried, notes for the ingest report, why
    OCR could not run (None when it ran) and the pages that needed OCR but were left out, past
    `OcrOptions.max_pages`."""

    pages: list[str]
    ocr_pages: tuple[int, ...]
    tried: frozenset[int]
    notes: tuple[str, ...]
    problem: str | None = None
    left_out: frozenset[int] = frozenset()


def read_scanned(data: bytes, pages: list[str], wanted: list[int], options: OcrOptions,
                 password: str | None = None, on_page: Callable[[int, int], None] | None = None) -> Scanned:
    """OCR the pages `wanted` (1-based) of a PDF whose extracted page texts are `pages`; each page's
    OCR text replaces its text layer when it holds more letters and digits. Only the first
    `options.max_pages` of `wanted` are read; a note says which were left out."""
    problem = unavailable()
    if problem is not None or not wanted:
        return Scanned(pages, (), frozenset(), (), problem)
    wanted, rest = wanted[:options.max_pages], wanted[options.max_pages:]
    bound = (f"{len(wanted) + len(rest)} pages need OCR, more than ocr_max_pages={options.max_pages}; the "
             f"first {len(wanted)} were read, page(s) {_ranges(rest)} left out: raise ocr_max_pages to read "
             "them, or split the file",) if rest else ()
    try:
        result = read_pages(data, wanted, options, password, on_page)
    except RuntimeError as exc:
        return Scanned(pages, (), frozenset(), (), str(exc))
    out = list(pages)
    replaced = []
    for number, text in sorted(result.texts.items()):
        if better_text(out[number - 1], text):
            out[number - 1] = text
            replaced.append(number)
    if result.failed and not result.texts:
        first = min(result.failed)
        return Scanned(pages, (), frozenset(), bound, f"OCR failed on every page (page {first}: {result.failed[first]})",
                       frozenset(rest))
    notes = list(bound)
    if replaced:
        notes.append(f"page(s) {_ranges(replaced)} read by OCR from a scan ({len(replaced)} page(s); "
                     "recognition errors are possible)")
    blank = [n for n, text in sorted(result.texts.items()) if n not in replaced and not any(map(str.isalnum, text))]
    if blank:
        notes.append(f"page(s) {_ranges(blank)} need OCR but it found no text on them (pictures, or blank)")
    if result.failed:
        first = min(result.failed)
        notes.append(f"page(s) {_ranges(sorted(result.failed))} could not be read by OCR "
                     f"(page {first}: {result.failed[first]})")
    return Scanned(out, tuple(replaced), frozenset(result.texts), tuple(notes), left_out=frozenset(rest))


def _ranges(numbers: list[int]) -> str:
    """"1-3, 7" for [1, 2, 3, 7]."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)
