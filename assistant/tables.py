"""Tables as rows: each row of a table becomes one line that carries its column headers, so that
"Precept — 2024/25: £7,994.00" is one citable unit instead of a figure cut off from its label.

PDF tables are found by pdfplumber (ruled tables; a page that draws no grid of edges is not tried,
which keeps its cost to the pages that can hold one); DOCX and HTML tables come as cell grids from their
readers. `row_lines` turns a grid into lines and is the single place the line format is decided:
`label — header: value; header: value` (with `section — ` before it under a one-cell section row).
Limits: tables in scanned pages are not seen (OCR gives plain lines); a table split over two pages is
two tables, the second without the first's headers unless it repeats them.
"""
from __future__ import annotations

import io
import logging
import re
from collections.abc import Sequence

log = logging.getLogger(__name__)

Grid = Sequence[Sequence[str | None]]

# a page is tried for ruled tables when it draws at least this many horizontal and as many vertical
# edges (lines, or the sides of boxes): the smallest ruled table, two rows by two columns, draws three
MIN_EDGES = 3
_THIN = 3.0
_LAYOUT_CELL_CHARS = 600
_LONG = 10.0
_MAX_HEADER_ROWS = 3
_SHORT_HEADER_WORDS = 3
# rows are kept apart by two blank lines so that cleaning never reflows two rows into one paragraph
ROW_BREAK = "\n\n\n"
_AMOUNT = re.compile(r"^[£$€]?\s*\(?[-–]?\s*[£$€]?\s*\d[\d,]*(\.\d+)?\)?\s*%?$")
_SPACE = re.compile(r"\s+")


def _cell(text: str | None) -> str:
    return _SPACE.sub(" ", text).strip() if text else ""


def _is_amount(text: str) -> bool:
    return bool(_AMOUNT.match(text)) and not re.fullmatch(r"(19|20)\d\d", text)


def _split_columns(grid: list[list[str | None]]) -> list[list[list[str | None]]]:
    """Side-by-side tables drawn as one (two accounts next to each other, an empty column between):
    split at every column that is empty in every row."""
    width = max(len(row) for row in grid)
    rows = [list(row) + [None] * (width - len(row)) for row in grid]
    empty = [all(not _cell(row[c]) for row in rows) for c in range(width)]
    parts: list[list[list[str | None]]] = []
    start = 0
    for c in range(width + 1):
        if c == width or empty[c]:
            if c > start:
                parts.append([row[start:c] for row in rows])
            start = c + 1
    return parts


def _unstack(row: list[str | None]) -> list[list[str | None]]:
    """A row whose cells each hold the same number (3 or more) of lines, one per entry, is a column
    of entries the extractor could not part (a list drawn without row borders): one row per line."""
    lines = [(cell or "").split("\n") for cell in row]
    counts = {len(parts) for parts, cell in zip(lines, row) if cell and cell.strip()}
    filled = sum(1 for cell in row if cell and cell.strip())
    if filled < 2 or len(counts) != 1 or next(iter(counts)) < 3:
        return [row]
    n = next(iter(counts))
    return [[parts[i] if len(parts) == n else None for parts in lines] for i in range(n)]


def _section(row: list[str]) -> str | None:
    """The text of a row with only its first cell filled (a section or caption row), else None."""
    if len(row) > 1 and row[0] and not any(row[1:]):
        return row[0]
    return None


def _header_rows(rows: list[list[str]], spans: list[bool]) -> int:
    """How many leading rows are column headers: the first when it has two or more cells and no
    amount; up to two more made of short labels, each under a row with a spanning cell (`spans`),
    or with an empty first cell, or just above a row of amounts. At least one row is left as data."""
    count = 0
    for index, row in enumerate(rows[:_MAX_HEADER_ROWS]):
        filled = [cell for cell in row if cell]
        if index + 1 >= len(rows) or _section(row) or any(_is_amount(cell) for cell in filled):
            break
        if index == 0 and len(filled) < 2:
            break
        if index > 0:
            if any(len(cell.split()) > _SHORT_HEADER_WORDS for cell in filled):
                break
            if not (spans[index - 1] or not row[0] or any(_is_amount(cell) for cell in rows[index + 1])):
                break
        count += 1
    return count


def _headers(rows: list[list[str | None]], width: int) -> list[str]:
    """One header per column; a header cell spanning columns (followed by None) labels each."""
    labels: list[list[str]] = [[] for _ in range(width)]
    for row in rows:
        current = ""
        for c in range(width):
            value = row[c] if c < len(row) else None
            if value is None:
                text = current
            else:
                text = current = _cell(value)
            if text and text not in labels[c]:
                labels[c].append(text)
    return [" ".join(parts) for parts in labels]


def is_table(grid: Grid) -> bool:
    """Whether a grid holds a table: two or more rows of two or more filled cells (an extractor also
    finds boxed or shaded paragraphs, one cell to a row)."""
    rows = [split for row in grid for split in _unstack(list(row))]
    return sum(1 for row in rows if sum(1 for cell in row if _cell(cell)) >= 2) >= 2


def row_lines(grid: Grid) -> list[str]:
    """Each data row of a table (rows of cells, None for a cell covered by a merged one) as one line
    with its column headers: `label — header: value; header: value`, under its section row (a row
    with only its first cell filled) as `section — ...`; a section with no row under it is a line
    of its own, and empty rows are dropped."""
    grid = [list(row) for row in grid if row]
    if not grid:
        return []
    lines: list[str] = []
    for part in _split_columns(grid):
        rows = [split for row in part for split in _unstack(row)]
        width = len(rows[0])
        count = _header_rows([[_cell(c) for c in row] for row in rows], [None in row for row in rows])
        headers = _headers(rows[:count], width) if count else [""] * width
        section: str | None = None
        shown = True
        previous: list[str] = [""] * width
        for raw in rows[count:]:
            row = [_cell(c) for c in raw]
            if not any(row):
                continue
            heading = _section(row)
            if heading:
                if not shown:
                    lines.append(section or "")
                section, shown = heading, False
                continue
            leading = 0
            while leading < width and raw[leading] is None:
                leading += 1
            row = previous[:leading] + row[leading:]
            previous = row
            parts = [f"{headers[c]}: {value}" if headers[c] and headers[c] != value else value
                     for c, value in enumerate(row) if value]
            first, rest = (parts[0], parts[1:]) if row[0] and not headers[0] else ("", parts)
            line = "; ".join(rest)
            if first:
                line = f"{first} — {line}" if line else first
            lines.append(f"{section} — {line}" if section else line)
            shown = True
        if not shown and section:
            lines.append(section)
    return lines


def table_block(lines: Sequence[str]) -> str:
    """Row lines as they go into a page's text: apart, so cleaning keeps each a paragraph of its own."""
    return ROW_BREAK.join(lines)


# -- PDF ------------------------------------------------------------------------------------------

def _ruled(page) -> bool:
    """Whether a pypdfium2 page draws MIN_EDGES horizontal and MIN_EDGES vertical edges."""
    import pypdfium2.raw as pdfium_c

    across = down = 0
    for obj in page.get_objects(max_depth=2):
        if obj.type != pdfium_c.FPDF_PAGEOBJ_PATH:
            continue
        left, bottom, right, top = obj.get_bounds()
        width, height = right - left, top - bottom
        if height <= _THIN and width >= _LONG:
            across += 1
        elif width <= _THIN and height >= _LONG:
            down += 1
        elif width >= _LONG and height >= _LONG:
            across, down = across + 2, down + 2
        if across >= MIN_EDGES and down >= MIN_EDGES:
            return True
    return False


def tabular_pages(data: bytes, password: str | None, numbers: Sequence[int]) -> list[int]:
    """The pages among `numbers` (0-based) that draw the edges of a ruled table: the cheap test (pdfium
    reads the page's drawing, not its text) that keeps pdfplumber to the pages that can hold one."""
    import pypdfium2 as pdfium

    found: list[int] = []
    document = pdfium.PdfDocument(data, password=password)
    try:
        for number in numbers:
            page = document[number]
            if _ruled(page):
                found.append(number)
            page.close()
    finally:
        document.close()
    return found


def _inside(obj: dict, box: tuple[float, float, float, float]) -> bool:
    x = (obj["x0"] + obj["x1"]) / 2
    y = (obj["top"] + obj["bottom"]) / 2
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def _contains(outer: tuple, inner: tuple) -> bool:
    return outer != inner and outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] \
        and outer[3] >= inner[3]


def page_text(page) -> str | None:
    """The text of a pdfplumber page with each ruled table replaced by its row lines, in reading order
    (top to bottom); None when the page holds no table with a row line to give."""
    tables = page.find_tables()
    boxes = [t.bbox for t in tables]
    tables = [t for t in tables if not any(_contains(other, t.bbox) for other in boxes)]
    blocks: list[tuple[float, str, bool]] = []
    kept: list[tuple[float, float, float, float]] = []
    for table in tables:
        grid = table.extract()
        lines = row_lines(grid) if is_table(grid) else []
        if lines:
            blocks.append((table.bbox[1], table_block(lines), True))
            kept.append(table.bbox)
    if not blocks:
        return None
    rest = page.filter(lambda obj: obj.get("object_type") != "char" or not any(_inside(obj, b) for b in kept))
    blocks.extend((line["top"], line["text"], False) for line in rest.extract_text_lines(return_chars=False))
    blocks.sort(key=lambda block: block[0])
    parts = [blocks[0][1]]
    for before, block in zip(blocks, blocks[1:]):
        parts.append(ROW_BREAK if before[2] or block[2] else "\n")
        parts.append(block[1])
    return "".join(parts)


def pdf_tables(data: bytes, password: str | None, numbers: Sequence[int]) -> dict[int, str]:
    """Page number (0-based) -> the page's text with its tables as row lines, for each page among
    `numbers` that draws a ruled table. A page pdfplumber cannot read is left out (its pypdf text
    stands) and logged."""
    try:
        candidates = tabular_pages(data, password, numbers)
        if not candidates:
            return {}
        import pdfplumber

        found: dict[int, str] = {}
        with pdfplumber.open(io.BytesIO(data), password=password or "") as pdf:
            for number in candidates:
                try:
                    text = page_text(pdf.pages[number])
                except Exception as exc:  # pdfminer raises many types on damaged pages; keep pypdf's text
                    log.debug("page %d: no tables read (%s: %s)", number + 1, type(exc).__name__, exc)
                    continue
                finally:
                    pdf.pages[number].close()
                if text:
                    found[number] = text
        return found
    except Exception as exc:  # a file pdfium or pdfminer cannot open keeps pypdf's text throughout
        log.debug("no tables read (%s: %s)", type(exc).__name__, exc)
        return {}


# -- DOCX and HTML --------------------------------------------------------------------------------

def docx_grid(table) -> list[list[str | None]]:
    """The cells of a python-docx table; a cell spanning columns is given once, then None."""
    grid: list[list[str | None]] = []
    for row in table.rows:
        cells: list[str | None] = []
        previous = None
        for cell in row.cells:
            cells.append(None if previous is not None and cell._tc is previous else cell.text)
            previous = cell._tc
        grid.append(cells)
    return grid


def html_grid(table) -> list[list[str | None]]:
    """The cells of a BeautifulSoup <table> (its own rows, not those of a table inside it); a cell
    with colspan=N is given once, then N-1 times None."""
    grid: list[list[str | None]] = []
    for row in table.find_all("tr"):
        if row.find_parent("table") is not table:
            continue
        cells: list[str | None] = []
        for cell in row.find_all(["td", "th"], recursive=False):
            cells.append(cell.get_text(" ", strip=True))
            try:
                span = min(int(cell.get("colspan", 1)), 100)
            except (TypeError, ValueError):
                span = 1
            cells.extend([None] * (span - 1))
        if cells:
            grid.append(cells)
    return grid


_TABLE_PARTS = {"tr", "thead", "tbody", "tfoot", "caption", "colgroup", "col"}


def replace_html_tables(root) -> None:
    """Replace each outermost data <table> under `root` (a BeautifulSoup tree, changed in place) by
    its row lines, each a paragraph of its own. A layout table (one holding a table, a cell of more
    than _LAYOUT_CELL_CHARS characters, or fewer than two rows of two cells) is left to be read as text."""
    for table in [t for t in root.find_all("table") if t.find_parent("table") is None]:
        grid = html_grid(table)
        layout = table.find("table") or any(len(c or "") > _LAYOUT_CELL_CHARS for r in grid for c in r)
        if layout or not is_table(grid):
            continue
        for stray in [c for c in table.children if getattr(c, "name", None) and c.name not in _TABLE_PARTS]:
            table.insert_before(stray.extract())  # as a browser does with content a table cannot hold
        table.replace_with("\n\n" + "\n\n".join(row_lines(grid)) + "\n\n")
