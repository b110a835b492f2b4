"""The original page of an indexed PDF as an image, with a quoted passage marked on it.

A page is rendered on demand through pypdfium2 from the file the index was built from, never from a
path a caller gives: the file is found from the index's own key for the document and must lie inside
the folders the index was built from (`indexed_file`). The quote is the cleaned text the answer cites;
it is found in the page's raw text by a tolerant match (letters and digits only, compatibility forms
folded), and its characters' boxes become the highlight. Rendered pages are kept in a bounded
in-memory cache (`PageCache`), since people open the same cited pages again and again.
"""
from __future__ import annotations

import base64
import difflib
import io
import logging
import os
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from .errors import PageError

log = logging.getLogger(__name__)

MAX_WIDTH_PX = 1100  # the page image's width at most (a little over the view's column on a wide screen)
MAX_PIXELS = 3_000_000  # a 20,000 x 20,000 pt page still renders small
MAX_SCALE = 2.0
MIN_MATCH_SHARE = 0.6  # a fuzzy match must cover this share of the quote's letters and digits
CACHE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class PageImage:
    """A rendered page: PNG bytes, its size in pixels, and the highlight as rectangles in fractions of
    the page (left, top, width, height; 0..1), so the browser can scale the image freely. `located` is
    False when the quote could not be found on the page (no highlight); `note` says why, in words."""

    png: bytes
    width: int
    height: int
    page: int
    pages: int
    boxes: tuple[tuple[float, float, float, float], ...] = ()
    located: bool = False
    note: str = ""

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def source_roots(paths: list[Path], old: dict | None) -> dict:
    """The record an index build keeps of where its files came from: the working folder its keys are
    relative to, and the folders and files given to ingest (resolved), merged with those of the build
    before. `indexed_file` resolves keys against it."""
    old = old or {}
    roots = set(old.get("folders", ())) | {str(Path(p).resolve()) for p in paths}
    return {"cwd": old.get("cwd") or str(Path.cwd().resolve()), "folders": sorted(roots)}


def indexed_file(key: str, roots: dict | None, fallback: Path) -> Path:
    """The file an index key stands for, when it lies inside the folders the index was built from
    (`roots`, see `source_roots`; an index without that record falls back to the corpus folder
    `fallback`). A key that climbs out with "..", or whose file (symbolic links followed) lies anywhere
    else, is refused, as is a missing file."""
    roots = roots or {"cwd": str(Path.cwd().resolve()), "folders": [str(fallback.resolve())]}
    base = Path(roots.get("cwd") or Path.cwd())
    candidate = Path(key) if os.path.isabs(key) else base / key
    lexical = Path(os.path.normpath(candidate))
    real = candidate.resolve()
    folders = [Path(f) for f in roots.get("folders", ())]
    inside = [f for f in folders if (lexical == f or lexical.is_relative_to(f)) and (real == f or real.is_relative_to(f))]
    if ".." in Path(key).parts or not inside:
        raise PageError("this paper's file is not inside the folders the index was built from")
    if not real.is_file():
        raise PageError("this paper's file is no longer where it was indexed from; re-run ingest")
    return real


def _folded(text: str) -> tuple[str, list[int]]:
    """`text` reduced to lower-case letters and digits (compatibility forms such as ligatures folded),
    with the index in `text` of each kept character."""
    kept, where = [], []
    for i, ch in enumerate(text):
        for part in unicodedata.normalize("NFKC", ch):
            if part.isalnum():
                kept.append(part.lower())
                where.append(i)
    return "".join(kept), where


def locate(quote: str, page_text: str) -> tuple[int, int] | None:
    """(start, end) in `page_text` of the passage `quote` stands for, or None. The index's text is
    cleaned (hyphenated line ends joined, spaces collapsed, headers dropped), so both are compared as
    letters and digits only; failing an exact match, the longest common run counts when it covers at
    least `MIN_MATCH_SHARE` of the quote (a running header inside the quote, a changed character)."""
    needle, _ = _folded(quote)
    hay, where = _folded(page_text)
    if not needle or not hay:
        return None
    found = hay.find(needle)
    if found >= 0:
        return where[found], where[found + len(needle) - 1] + 1
    matcher = difflib.SequenceMatcher(None, hay, needle, autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size >= 8]
    if not blocks or sum(b.size for b in blocks) < MIN_MATCH_SHARE * len(needle):
        return None
    first, last = blocks[0], blocks[-1]
    if last.a + last.size - first.a > 2 * len(needle):
        return None
    return where[first.a], where[last.a + last.size - 1] + 1


def render_scale(width: float, height: float) -> float:
    """Pixels per PDF point: the page at most `MAX_WIDTH_PX` wide and `MAX_PIXELS` in all."""
    scale = min(MAX_SCALE, MAX_WIDTH_PX / max(width, 1.0))
    if width * height * scale * scale > MAX_PIXELS:
        scale = (MAX_PIXELS / (width * height)) ** 0.5
    return scale


def render_page(path: Path, page: int, quote: str | None = None, password: str | None = None) -> PageImage:
    """Page `page` (1-based) of the PDF at `path` as PNG, with `quote` marked when it is found there."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(str(path), password=password or None)
    except pdfium.PdfiumError as exc:
        raise PageError(f"the PDF cannot be opened ({exc})") from None
    try:
        pages = len(pdf)
        if not 1 <= page <= pages:
            raise PageError(f"the paper has {pages} page{'s' if pages != 1 else ''}, not a page {page}")
        sheet = pdf[page - 1]
        try:
            left, bottom, right, top = sheet.get_cropbox()
            width, height = right - left, top - bottom
            scale = render_scale(width, height)
            image = sheet.render(scale=scale).to_pil()
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", optimize=True)
            boxes, located, note = (), False, ""
            if quote:
                boxes, note = _highlight(sheet, pdfium_c, quote, (left, top, width, height))
                located = bool(boxes)
            return PageImage(png=buffer.getvalue(), width=image.width, height=image.height, page=page, pages=pages,
                             boxes=boxes, located=located, note=note)
        finally:
            sheet.close()
    except pdfium.PdfiumError as exc:
        raise PageError(f"page {page} cannot be drawn ({exc})") from None
    finally:
        pdf.close()


def _highlight(sheet, pdfium_c, quote: str, frame: tuple[float, float, float, float]):
    """(the quote's rectangles as page fractions, a note when there are none)."""
    if sheet.get_rotation():
        return (), "The page is rotated, so the passage is not marked on it."
    textpage = sheet.get_textpage()
    try:
        count = textpage.count_chars()
        if count <= 0:
            return (), "This page has no text layer (a scan), so the passage cannot be marked on it."
        text = "".join(chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, i)) for i in range(count))
        span = locate(quote, text)
        if span is None:
            return (), "The quoted passage could not be found on this page's image, so it is not marked."
        left, top, width, height = frame
        boxes = []
        for i in range(textpage.count_rects(span[0], span[1] - span[0])):
            x0, y0, x1, y1 = textpage.get_rect(i)
            box = ((x0 - left) / width, (top - y1) / height, (x1 - x0) / width, (y1 - y0) / height)
            if box[2] > 0 and box[3] > 0:
                boxes.append(tuple(round(v, 5) for v in box))
        boxes = merged_lines(boxes)
        return boxes, "" if boxes else "The quoted passage has no position on this page, so it is not marked."
    finally:
        textpage.close()


def merged_lines(boxes: list[tuple[float, float, float, float]]) -> tuple[tuple[float, float, float, float], ...]:
    """(left, top, width, height) boxes joined into one per line: pdfium gives a box per text run (often
    per word), and a mark per word reads as clutter. Boxes whose vertical middles lie within the other's
    height are on one line."""
    lines: list[list[float]] = []
    for x, y, w, h in boxes:
        middle = y + h / 2
        line = next((ln for ln in lines if ln[1] <= middle <= ln[3] or y <= (ln[1] + ln[3]) / 2 <= y + h), None)
        if line is None:
            lines.append([x, y, x + w, y + h])
        else:
            line[:] = [min(line[0], x), min(line[1], y), max(line[2], x + w), max(line[3], y + h)]
    return tuple(tuple(round(v, 5) for v in (a, b, c - a, d - b)) for a, b, c, d in lines)


class PageCache:
    """Rendered pages by (file key, content hash, page, quote), least recently used dropped first once
    they hold more than `max_bytes`; safe to share between threads."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, PageImage] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> PageImage | None:
        with self._lock:
            image = self._items.get(key)
            if image is not None:
                self._items.move_to_end(key)
            return image

    def put(self, key: tuple, image: PageImage) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old.png)
            if len(image.png) > self.max_bytes:
                return
            self._items[key] = image
            self._bytes += len(image.png)
            while self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped.png)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)
