"""OCR of scanned PDF pages: pages rendered from text PDFs (so the words are known), the scanned
samples in ../shared, and Tesseract missing, crashing or stuck (a stand-in `tesseract` program on PATH)."""
from __future__ import annotations

import io
import os
import re
import stat
import sys
from pathlib import Path

import pytest

from assistant import ocr
from assistant.errors import CorpusError, SettingsError
from assistant.corpus import SourceFile
from assistant.extraction import Loader, load_document
from assistant.ocr import MAX_PAGE_PIXELS, OcrOptions, needs_ocr, render_scale
from assistant.settings import Settings
from conftest import SHARED, make_pdf

SAMPLES = SHARED / "pdf-samples"
REAL = SHARED / "realworld-dev" / "corpus"
AUTO = OcrOptions("auto", page_timeout=60)

MOTION = "The council resolved to repair the footpath beside the cemetery wall"
OTHER = "Members approved the annual budget for street lighting maintenance"

needs_tesseract = pytest.mark.skipif(ocr.unavailable() is not None,
                                     reason=f"no OCR here: {ocr.unavailable()}")


@pytest.fixture(autouse=True)
def fresh_engine_check():
    """`unavailable()` is cached per process; tests that change PATH need it asked again."""
    ocr.unavailable.cache_clear()
    yield
    ocr.unavailable.cache_clear()


def scanned_pdf(path: Path, pages: list[str], scanned: set[int]) -> Path:
    """A PDF whose pages `scanned` (1-based) are images only: the text PDF's page rendered with
    pypdfium2 at 200 dpi and drawn as a picture (reportlab); the other pages keep their text layer."""
    import pypdfium2 as pdfium
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    text_pdf = pdfium.PdfDocument(make_pdf(path.with_name(f".{path.stem}-text.pdf"), pages).read_bytes())
    out = canvas.Canvas(str(path), pagesize=A4)
    for number, text in enumerate(pages, start=1):
        if number in scanned:
            image = text_pdf[number - 1].render(scale=200 / 72, grayscale=True).to_pil()
            out.drawImage(ImageReader(image), 0, 0, width=A4[0], height=A4[1])
        else:
            for line_number, line in enumerate(text.split("\n")):
                out.drawString(72, 760 - 16 * line_number, line)
        out.showPage()
    out.save()
    text_pdf.close()
    return path


def load(path: Path, options: OcrOptions | None = AUTO):
    return load_document(SourceFile(path, path.name, {}), path.read_bytes(), ocr=options)


def fake_tesseract(folder: Path, body: str) -> Path:
    """A stand-in `tesseract` on PATH that answers --version and runs `body` for a page
    (pytesseract calls it as `tesseract IMAGE OUTPUT_BASE ... txt` and reads OUTPUT_BASE.txt)."""
    folder.mkdir(exist_ok=True)
    program = folder / "tesseract"
    program.write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then echo "tesseract 5.3.0"; exit 0; fi\n'
                       + body + "\n")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return folder


# -- which pages are read --------------------------------------------------------------------------

def test_pages_without_a_usable_text_layer_are_chosen():
    assert needs_ocr("", lambda: False)
    assert needs_ocr("  \n ", lambda: True)
    assert needs_ocr("Trial version watermark", lambda: True)
    assert not needs_ocr("Trial version watermark", lambda: False)
    assert needs_ocr("\x01\x02 \ue000\ue001\ue002 \ufffd\ufffd\ufffd ~~^^", lambda: False)
    assert not needs_ocr(MOTION + ". " + OTHER + ".", lambda: True)


def test_a_huge_page_is_rendered_within_the_pixel_bound():
    side_pt = 20_000 * 72 / 300  # a 20,000 x 20,000 pixel image at 300 dpi
    scale = render_scale(side_pt, side_pt, 300)
    assert (side_pt * scale) ** 2 <= MAX_PAGE_PIXELS * 1.0001
    assert render_scale(595, 842, 300) == pytest.approx(300 / 72)


def test_ocr_setting_is_validated():
    assert Settings.load(env={"COUNCIL_ASSISTANT_OCR": "off"}).ocr == "off"
    assert Settings.load(env={}).ocr == "auto"
    with pytest.raises(SettingsError, match="ocr='sometimes'.*auto, off"):
        Settings.load(env={}, ocr="sometimes")


def test_ocr_off_keeps_the_clear_warning(tmp_path):
    path = scanned_pdf(tmp_path / "scan.pdf", [MOTION], {1})
    with pytest.raises(CorpusError, match=r"scan.pdf: no text layer \(needs OCR: OCR is off"):
        load(path, OcrOptions("off"))


# -- real OCR (Tesseract from Debian) -------------------------------------------------------------

@needs_tesseract
def test_an_image_only_page_is_read_and_marked_with_its_page_number(tmp_path):
    path = scanned_pdf(tmp_path / "minutes.pdf", [OTHER, MOTION], {2})
    document = load(path)
    assert document.meta.ocr_pages == (2,)
    page_two = document.text[document.page_starts[1]:]
    for word in ["council", "resolved", "repair", "footpath", "cemetery", "wall"]:
        assert word in page_two.lower()
    assert OTHER in document.text[:document.page_starts[1]]
    assert document.page_at(document.text.index("footpath")) == 2
    assert document.meta.read_by_ocr(2) and not document.meta.read_by_ocr(1)
    assert any("read by OCR" in w for w in document.warnings)


@needs_tesseract
@pytest.mark.slow
def test_the_worker_reads_a_scan_page_by_page(tmp_path):
    path = scanned_pdf(tmp_path / "scan.pdf", [MOTION, OTHER, MOTION], {1, 2, 3})
    with Loader(timeout=120, ocr=AUTO) as loader:
        document = loader.load(SourceFile(path, path.name, {}), path.read_bytes())
    assert document.meta.ocr_pages == (1, 2, 3)
    assert "street lighting" in document.text.lower()


@pytest.mark.samples
@needs_tesseract
@pytest.mark.slow
def test_scanned_samples_give_their_text_or_one_clear_line():
    if not SAMPLES.is_dir():
        pytest.skip(f"{SAMPLES} is absent: the shared PDF samples are not on this machine")
    document = load(SAMPLES / "sf-018-base64image.pdf")
    assert document.meta.ocr_pages == (1,)
    for words in ["assign it to yourself", "fix the issue and close it"]:
        assert words in " ".join(document.text.split())
    # pictures with no writing: a photograph, a drawing, and 16-pixel test images
    for name in ["sf-019-grayscale-image.pdf", "sf-023-cmyk-image.pdf", "sf-007-imagemagick-lzw.pdf",
                 "sf-007-imagemagick-CCITTFaxDecode.pdf", "sf-007-imagemagick-ASCII85Decode.pdf"]:
        with pytest.raises(CorpusError, match=rf"{name}: no text layer \(needs OCR\); OCR found no text"):
            load(SAMPLES / name)


@pytest.mark.samples
@needs_tesseract
@pytest.mark.slow
def test_a_scanned_council_paper_is_read():
    path = REAL / "souldern-pc-planning-minutes-2019-06-27-scanned.pdf"
    if not path.is_file():
        pytest.skip(f"{REAL} is absent: the real-papers corpus is not on this machine")
    document = load(path)
    assert document.meta.ocr_pages == (1, 2)
    text = document.text.lower()
    for word in ["minutes", "planning", "apologies", "meeting"]:
        assert word in text


# -- Tesseract missing, crashing or stuck ------------------------------------------------------------

def test_missing_tesseract_is_one_clear_line(tmp_path, monkeypatch):
    path = scanned_pdf(tmp_path / "scan.pdf", [MOTION], {1})
    text_pdf = make_pdf(tmp_path / "text.pdf", [OTHER])
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(CorpusError, match=r"scan.pdf: no text layer \(needs OCR: Tesseract is not installed; "
                                          r"install Tesseract \(apt-get install tesseract-ocr"):
        load(path)
    assert load(text_pdf).text == OTHER


def test_a_crashing_tesseract_fails_the_file_with_the_reason(tmp_path, monkeypatch):
    path = scanned_pdf(tmp_path / "scan.pdf", [MOTION, OTHER], {1})
    monkeypatch.setenv("PATH", f"{fake_tesseract(tmp_path / 'bin', 'kill -SEGV $$')}{os.pathsep}/usr/bin:/bin")
    document = load(path)
    assert document.text.strip() == OTHER
    assert any("page(s) 1 have no text layer (need OCR: OCR failed on every page (page 1: OCR failed "
               "(Tesseract killed by signal 11" in w for w in document.warnings)
    only_scan = scanned_pdf(tmp_path / "only.pdf", [MOTION], {1})
    with pytest.raises(CorpusError, match=r"only.pdf: no text layer \(needs OCR: OCR failed on every page "
                                          r"\(page 1: OCR failed \(Tesseract killed by signal 11"):
        load(only_scan)


def test_a_stuck_page_is_stopped_and_the_other_pages_kept(tmp_path, monkeypatch):
    first = tmp_path / "first-page-seen"
    body = f'if [ ! -e {first} ]; then touch {first}; exec sleep 30; fi; echo "read by the stand-in" > "$2.txt"'
    monkeypatch.setenv("PATH", f"{fake_tesseract(tmp_path / 'bin', body)}{os.pathsep}/usr/bin:/bin")
    path = scanned_pdf(tmp_path / "scan.pdf", [MOTION, OTHER], {1, 2})
    document = load(path, OcrOptions("auto", page_timeout=1))
    assert document.meta.ocr_pages == (2,)
    assert "read by the stand-in" in document.text
    assert any("page(s) 1 could not be read by OCR (page 1: OCR took longer than 1 s)" in w
               for w in document.warnings)


def test_a_page_with_a_gigantic_image_is_refused_before_decoding(tmp_path):
    path = tmp_path / "huge.pdf"
    path.write_bytes(huge_image_pdf(20_000, 20_000))
    with pytest.raises(CorpusError, match=r"huge.pdf: no text layer \(needs OCR: OCR failed on every page "
                                          r"\(page 1: an image of 400 megapixels, over the 100"):
        load(path)


def huge_image_pdf(width: int, height: int) -> bytes:
    """A one-page PDF (pypdf) drawing an image that declares `width` x `height` pixels; its data is
    a few bytes: only the declared size matters, since the page is refused before the image is decoded."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject, NumberObject

    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    image = DecodedStreamObject()
    image.set_data(b"\x00" * 16)
    image.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Image"),
                  NameObject("/Width"): NumberObject(width), NameObject("/Height"): NumberObject(height),
                  NameObject("/ColorSpace"): NameObject("/DeviceGray"),
                  NameObject("/BitsPerComponent"): NumberObject(8)})
    content = DecodedStreamObject()
    content.set_data(b"q 612 0 0 792 0 0 cm /Im0 Do Q")
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/XObject"): DictionaryObject(
        {NameObject("/Im0"): writer._add_object(image)})})
    page[NameObject("/Contents")] = writer._add_object(content)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# -- the OCR mark through the index -----------------------------------------------------------------

SCHEMA_BEFORE_OCR = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, key TEXT UNIQUE NOT NULL, title TEXT NOT NULL, date TEXT,
    doc_type TEXT NOT NULL, council TEXT, committee TEXT, source TEXT, date_note TEXT,
    text TEXT NOT NULL, page_starts TEXT NOT NULL, content_hash TEXT NOT NULL,
    meta_hash TEXT NOT NULL, warnings TEXT NOT NULL
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ord INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, page INTEGER,
    text TEXT NOT NULL, sentences TEXT NOT NULL DEFAULT '[]', sentence_vectors BLOB
);
"""


def test_a_chunk_store_from_before_ocr_is_read_and_brought_up_to_date(tmp_path):
    import sqlite3

    from assistant.chunkstore import ChunkStore
    from assistant.types import Document, DocumentMeta

    path = tmp_path / "chunks.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA_BEFORE_OCR)
        db.execute("INSERT INTO documents VALUES ('old', 'old.pdf', 'Old paper', NULL, 'minutes', NULL, NULL, "
                   "NULL, NULL, 'Old text', '[0]', 'c', 'm', '[]')")
        db.execute("INSERT INTO chunks (doc_id, ord, start, end, page, text) VALUES ('old', 0, 0, 8, 1, 'Old text')")
    old = ChunkStore(path, readonly=True)
    assert old.document("old").meta.ocr_pages == ()
    assert old.chunks([1])[1][0].heading is None
    assert old.index_texts([1]) == ["Old paper\nOld text"]
    assert old.documents()[0][0].title == "Old paper"
    old.close()
    store = ChunkStore(path)
    store.put_document(Document(DocumentMeta("new", "New paper", ocr_pages=(2,)), "a\n\nb", "new.pdf", (0, 3)),
                       "new.pdf", "c2", "m2")
    store.commit()
    assert store.document("new").meta.ocr_pages == (2,)
    assert store.document("old").meta.ocr_pages == ()
    store.close()


@needs_tesseract
def test_search_results_and_citations_say_the_text_was_read_by_ocr(tmp_path, make_settings, encoder, capsys):
    from assistant.app import Assistant
    from assistant.cli_output import print_answer as _print_answer

    folder = tmp_path / "papers"
    folder.mkdir()
    scanned_pdf(folder / "scan.pdf", [MOTION], {1})
    make_pdf(folder / "text.pdf", [OTHER])
    assistant = Assistant(make_settings(), encoder=encoder)
    report = assistant.ingest([folder])
    assert not report.failed
    hit = assistant.search("repair the footpath beside the cemetery wall", k=1)[0]
    assert hit.meta.doc_id == "scan" and hit.chunk.page == 1 and hit.to_json()["ocr"] is True
    assert assistant.search("street lighting maintenance budget", k=1)[0].to_json()["ocr"] is False
    answer = assistant.ask("What did the council resolve to repair?")
    cited = [c for c in answer.citations if c.meta.doc_id == "scan"]
    assert cited and cited[0].to_json()["ocr"] is True
    _print_answer(answer, as_json=False)
    assert "page 1, text read by OCR from a scan" in capsys.readouterr().out


# -- bounds on what one scan may cost ----------------------------------------------------------------

STAND_IN_READS = 'echo "Text read by the stand-in engine" > "$2.txt"'
STAND_IN_CRASHES = 'echo "Error in pixReadStream: stand-in engine crash" >&2; exit 1'


def stand_in_path(tmp_path: Path, body: str, name: str = "bin") -> str:
    """PATH with a stand-in `tesseract` first (for a real engine that reads, or that crashes)."""
    return f"{fake_tesseract(tmp_path / name, body)}{os.pathsep}/usr/bin:/bin"


def test_ocr_bounds_are_settings_with_bounds():
    settings = Settings.load(env={})
    assert (settings.ocr_max_pages, settings.ocr_max_megapixels) == (200, 25)
    assert Settings.load(env={"COUNCIL_ASSISTANT_OCR_MAX_PAGES": "3"}).ocr_max_pages == 3
    with pytest.raises(SettingsError, match=r"ocr_max_pages=0: give a value from 1"):
        Settings.load(env={}, ocr_max_pages=0)
    with pytest.raises(SettingsError, match=r"ocr_max_megapixels=1000: give a value from 1 up to 400"):
        Settings.load(env={}, ocr_max_megapixels=1000)


def test_a_long_scan_is_read_up_to_ocr_max_pages_with_one_line_for_the_rest(tmp_path, monkeypatch):
    """A scan of many pages (six here, the bound lowered to two) stands for one of hundreds."""
    monkeypatch.setenv("PATH", stand_in_path(tmp_path, STAND_IN_READS))
    path = scanned_pdf(tmp_path / "long-scan.pdf", [MOTION] * 6, set(range(1, 7)))
    document = load(path, OcrOptions("auto", page_timeout=60, max_pages=2))
    assert document.meta.ocr_pages == (1, 2)
    assert document.text.count("Text read by the stand-in engine") == 2
    assert [w for w in document.warnings if "left out" in w or "no text layer" in w] == [
        "6 pages need OCR, more than ocr_max_pages=2; the first 2 were read, page(s) 3-6 left out: raise "
        "ocr_max_pages to read them, or split the file"]


def test_ingest_bounds_a_long_scan_and_indexes_the_other_files(tmp_path, monkeypatch):
    from assistant.corpus import discover
    from assistant.ingest import load_sources

    monkeypatch.setenv("PATH", stand_in_path(tmp_path, STAND_IN_READS))
    folder = tmp_path / "papers"
    folder.mkdir()
    scanned_pdf(folder / "long-scan.pdf", [MOTION] * 5, set(range(1, 6)))
    make_pdf(folder / "text.pdf", [OTHER])
    settings = Settings.load(env={}, progress=False, ocr_max_pages=3)
    found = discover([folder], settings.follow_external_links)
    loaded = load_sources(found.sources, {}, settings)
    assert not loaded.failed
    documents = {Path(source.key).name: document for source, document, *_ in loaded.documents}
    assert documents["long-scan.pdf"].meta.ocr_pages == (1, 2, 3)
    assert documents["text.pdf"].text == OTHER
    assert [message for name, message in loaded.warnings if name.endswith("long-scan.pdf") and "OCR" in message
            and "read by OCR" not in message] == [
        "5 pages need OCR, more than ocr_max_pages=3; the first 3 were read, page(s) 4-5 left out: raise "
        "ocr_max_pages to read them, or split the file"]


def test_a_huge_page_is_rendered_for_ocr_within_ocr_max_megapixels(tmp_path, monkeypatch):
    """A 200 x 200 inch page (the largest a PDF may have) would be 3.6 gigapixels at 300 dpi; the
    stand-in engine writes the size of the image it was given."""
    from reportlab.pdfgen import canvas
    from PIL import Image

    measure = (f'{sys.executable} -c "import sys; from PIL import Image; w, h = Image.open(sys.argv[1]).size; '
               f'open(sys.argv[2] + \'.txt\', \'w\').write(f\'rendered {{w}} by {{h}} pixels\')" "$1" "$2"')
    monkeypatch.setenv("PATH", stand_in_path(tmp_path, measure))
    path = tmp_path / "huge-page.pdf"
    side = 200 * 72
    out = canvas.Canvas(str(path), pagesize=(side, side))
    out.drawInlineImage(Image.new("L", (64, 64), 255), 0, 0, width=side, height=side)
    out.showPage()
    out.save()
    document = load(path, OcrOptions("auto", page_timeout=60, max_pixels=4_000_000))
    assert document.meta.ocr_pages == (1,)
    width, height = map(int, re.search(r"rendered (\d+) by (\d+) pixels", document.text).groups())
    assert width * height <= 4_000_000 and width >= 1990


def test_a_crashing_engine_fails_only_the_scan(tmp_path, monkeypatch):
    from assistant.corpus import discover
    from assistant.ingest import load_sources

    monkeypatch.setenv("PATH", stand_in_path(tmp_path, STAND_IN_CRASHES))
    folder = tmp_path / "papers"
    folder.mkdir()
    scanned_pdf(folder / "scan.pdf", [MOTION], {1})
    make_pdf(folder / "text.pdf", [OTHER])
    settings = Settings.load(env={}, progress=False)
    found = discover([folder], settings.follow_external_links)
    loaded = load_sources(found.sources, {}, settings)
    assert [Path(source.key).name for source, *_ in loaded.documents] == ["text.pdf"]
    assert [(Path(name).name, message) for name, message in loaded.failed] == [
        ("scan.pdf", "no text layer (needs OCR: OCR failed on every page (page 1: OCR failed (Tesseract exited "
                     "with status 1: Error in pixReadStream: stand-in engine crash))); not indexed")]


@pytest.mark.slow
def test_a_scan_that_fails_on_its_next_ingest_keeps_what_the_index_holds(tmp_path, make_settings, embedder,
                                                                        monkeypatch):
    """Read once by a working engine, then changed while the engine crashes (or is missing): the
    paper indexed before stays searchable, and the failure is one line."""
    from assistant.app import Assistant

    folder = tmp_path / "papers"
    folder.mkdir()
    scan = scanned_pdf(folder / "scan.pdf", [MOTION], {1})
    make_pdf(folder / "text.pdf", [OTHER])
    assistant = Assistant(make_settings())
    assistant.embedder = embedder
    monkeypatch.setenv("PATH", stand_in_path(tmp_path, STAND_IN_READS, "reads"))
    ocr.unavailable.cache_clear()
    assert not assistant.ingest([folder]).failed
    scanned_pdf(scan, [MOTION, OTHER], {1, 2})
    for path in (stand_in_path(tmp_path, STAND_IN_CRASHES, "crashes"), str(tmp_path / "nowhere")):
        monkeypatch.setenv("PATH", path)
        ocr.unavailable.cache_clear()
        report = assistant.ingest([folder])
        assert [Path(name).name for name, _ in report.failed] == ["scan.pdf"]
        hit = assistant.search("Text read by the stand-in engine", k=1)[0]
        assert hit.meta.doc_id == "scan" and "stand-in engine" in hit.chunk.text
        assert assistant.search("street lighting maintenance budget", k=1)[0].meta.doc_id == "text"
