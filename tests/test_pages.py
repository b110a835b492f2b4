"""The original page of an indexed PDF: rendering, the quote found on the page, and which files may be
rendered at all. PDFs are generated with reportlab, so where each line lies on the page is known."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from assistant import pages
from assistant.errors import PageError
from tests.conftest import SHARED, make_pdf

A4_HEIGHT = 841.89
QUOTE_LINE = "The Improvement Board agreed a grant of 25,000 pounds for foster carers."
PAGE_TWO = ["Minutes of the meeting, continued.", "Item 4 Foster carers", QUOTE_LINE,
            "Carried unanimously."]


@pytest.fixture
def pdf(tmp_path) -> Path:
    folder = tmp_path / "papers"
    folder.mkdir()
    return make_pdf(folder / "minutes.pdf", ["First page of the minutes.", "\n".join(PAGE_TWO)])


def test_the_page_renders_with_the_quote_marked_where_it_is_drawn(pdf):
    from PIL import Image

    image = pages.render_page(pdf, 2, "grant of 25,000 pounds for foster carers")
    assert image.located and image.pages == 2 and image.page == 2 and not image.note
    assert Image.open(io.BytesIO(image.png)).size == (image.width, image.height)
    assert image.width <= pages.MAX_WIDTH_PX
    (left, top, width, height), = image.boxes
    baseline = 760 - 16 * PAGE_TWO.index(QUOTE_LINE)  # make_pdf draws line i at y = 760 - 16 i
    assert abs((top + height) - (A4_HEIGHT - baseline) / A4_HEIGHT) < 0.01
    assert 72 / 595.27 < left < 0.5 and 0.1 < width < 0.6 and height < 0.03


def test_a_quote_cleaned_at_ingest_is_still_found_in_the_raw_page_text():
    raw = "The recruit-\r\nment of foster\r\ncarers ﬁnished   in May.\r\nPage 2 of 9"
    start, end = pages.locate("The recruitment of foster carers finished in May.", raw)
    assert raw[start:end] == "The recruit-\r\nment of foster\r\ncarers ﬁnished   in May"
    with_header = "grant of 25,000 pounds\r\nCOUNCIL MINUTES 2022\r\nfor foster carers and more"
    start, end = pages.locate("grant of 25,000 pounds for foster carers", with_header)
    assert raw is not None and with_header[start:end].startswith("grant") and with_header[start:end].endswith("carers")
    assert pages.locate("a sentence on another page entirely", raw) is None
    assert pages.locate("", raw) is None


def test_a_quote_not_on_the_page_leaves_it_unmarked_and_says_so(pdf):
    image = pages.render_page(pdf, 1, "grant of 25,000 pounds for foster carers")
    assert not image.located and not image.boxes and "could not be found" in image.note
    assert image.png.startswith(b"\x89PNG")


def test_pages_that_do_not_exist_are_refused_in_words(pdf, tmp_path):
    for page in (0, 3):
        with pytest.raises(PageError, match="has 2 pages, not a page"):
            pages.render_page(pdf, page)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(PageError, match="cannot be opened"):
        pages.render_page(broken, 1)


def test_a_huge_page_is_drawn_within_the_pixel_bound():
    scale = pages.render_scale(20_000, 20_000)
    assert (20_000 * scale) ** 2 <= pages.MAX_PIXELS * 1.001
    assert pages.render_scale(595, 842) == pytest.approx(pages.MAX_WIDTH_PX / 595)


def test_only_files_inside_the_indexed_folders_are_rendered(pdf, tmp_path):
    folder = pdf.parent
    roots = {**pages.source_roots([folder], None), "cwd": str(tmp_path.resolve())}  # as if ingested from tmp_path
    assert pages.indexed_file("papers/minutes.pdf", roots, Path("corpus")) == pdf.resolve()
    assert pages.indexed_file(str(pdf), roots, Path("corpus")) == pdf.resolve()
    outside = make_pdf(tmp_path / "elsewhere.pdf", ["not indexed"])
    (folder / "link.pdf").symlink_to(outside)
    for key in (str(outside), "elsewhere.pdf", "papers/../elsewhere.pdf", str(folder / "link.pdf"),
                str(folder / ".." / "elsewhere.pdf"), "/etc/passwd", "../../etc/passwd"):
        with pytest.raises(PageError, match="not inside the folders"):
            pages.indexed_file(key, roots, Path("corpus"))
    with pytest.raises(PageError, match="no longer where"):
        pages.indexed_file(str(folder / "gone.pdf"), roots, Path("corpus"))
    merged = pages.source_roots([outside], roots)
    assert merged["cwd"] == roots["cwd"] and str(folder.resolve()) in merged["folders"]


def test_the_cache_keeps_recent_pages_within_its_byte_bound():
    def page(n: int, size: int) -> pages.PageImage:
        return pages.PageImage(png=b"x" * size, width=1, height=1, page=n, pages=9)

    cache = pages.PageCache(max_bytes=250)
    for n in range(1, 4):
        cache.put(n, page(n, 100))
    assert cache.get(1) is None and cache.get(2).page == 2 and cache.size_bytes == 200
    cache.put(4, page(4, 100))
    assert cache.get(3) is None and cache.get(2) is not None, "the least recently used goes first"
    cache.put(5, page(5, 1000))
    assert cache.get(5) is None and cache.size_bytes <= 250


@pytest.mark.slow
def test_the_assistant_renders_an_indexed_page_and_nothing_else(pdf, make_settings, embedder, tmp_path):
    from assistant.app import Assistant

    assistant = Assistant(make_settings(corpus_dir=tmp_path / "nowhere"))
    assistant.embedder = embedder
    assert not assistant.ingest([pdf.parent]).failed
    (meta, _), = assistant.documents()
    document = assistant.document(meta.doc_id)
    start = document.text.index("grant of 25,000")
    image = assistant.page_image(meta.doc_id, 2, start, start + 40)
    assert image.located and len(image.boxes) == 1
    assert assistant.page_image(meta.doc_id, 2, start, start + 40) is image, "the second look is cached"
    with pytest.raises(PageError, match="not in the index"):
        assistant.page_image("../../etc/passwd", 1)
    pdf.write_bytes(pdf.read_bytes() + b"\n% changed")
    with pytest.raises(PageError, match="changed since it was indexed"):
        assistant.page_image(meta.doc_id, 1)


def test_a_box_per_word_becomes_one_mark_per_line():
    words = [(0.10, 0.200, 0.05, 0.012), (0.16, 0.201, 0.07, 0.011), (0.24, 0.200, 0.04, 0.012),
             (0.10, 0.220, 0.06, 0.012)]
    assert pages.merged_lines(words) == ((0.1, 0.2, 0.18, 0.012), (0.1, 0.22, 0.06, 0.012))
    assert pages.merged_lines([]) == ()


@pytest.mark.samples
def test_a_real_council_paper_page_is_marked_line_by_line():
    papers = sorted((SHARED / "realworld-dev" / "corpus").glob("*minutes*.pdf"))
    if not papers:
        pytest.skip(f"no real minutes PDFs in {SHARED / 'realworld-dev' / 'corpus'}")
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(papers[0]))
    words = pdf[0].get_textpage().get_text_range().split()
    pdf.close()
    quote = " ".join(words[30:60])  # about two or three lines of the first page
    image = pages.render_page(papers[0], 1, quote)
    assert image.located and 1 <= len(image.boxes) <= 6, image.boxes
    assert all(0 <= x and 0 <= y and x + w <= 1.001 and y + h <= 1.001 for x, y, w, h in image.boxes)
