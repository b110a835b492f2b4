"""The format readers (txt, md, pdf, html, docx) through `load_document`, which cleans what they read."""
from __future__ import annotations

from pathlib import Path

import pytest

from assistant.corpus import SourceFile
from assistant.errors import CorpusError
from assistant.extraction import load_document
from conftest import make_pdf


def load(path: Path, meta: dict | None = None, **kwargs):
    return load_document(SourceFile(path, path.name, meta or {}), path.read_bytes(), **kwargs)


def test_pdf_pages_are_kept(tmp_path):
    path = make_pdf(tmp_path / "minutes.pdf", ["Cherry Road was inspected in June.", "The board met in July.",
                                               "Fostering was discussed in August."], header="Sefton Council Minutes")
    document = load(path)
    assert len(document.page_starts) == 3
    assert "Sefton Council Minutes" not in document.text
    assert "Page 2 of 3" not in document.text
    for page, phrase in [(1, "Cherry Road"), (2, "board met"), (3, "Fostering")]:
        assert document.page_at(document.text.index(phrase)) == page


def test_encrypted_pdf_needs_its_password(tmp_path):
    from pypdf import PdfReader, PdfWriter

    plain = make_pdf(tmp_path / "plain.pdf", ["Confidential budget report for cabinet."])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt("s3cret", algorithm="AES-256")
    locked = tmp_path / "locked.pdf"
    with open(locked, "wb") as handle:
        writer.write(handle)
    with pytest.raises(CorpusError, match=r"locked\.pdf: encrypted PDF; set pdf_password"):
        load(locked)
    with pytest.raises(CorpusError, match="pdf_password is wrong"):
        load(locked, pdf_password="nope")
    assert "Confidential budget report" in load(locked, pdf_password="s3cret").text


def test_pdf_without_text_layer_is_refused(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "scan.pdf"
    pdf = canvas.Canvas(str(path))
    pdf.rect(100, 100, 200, 200, fill=1)
    pdf.showPage()
    pdf.save()
    with pytest.raises(CorpusError, match=r"scan\.pdf: no text layer \(needs OCR\)"):
        load(path)


def test_truncated_pdf_gives_a_clear_error_or_a_warning(tmp_path):
    full = make_pdf(tmp_path / "full.pdf", [f"Page {n} text about safeguarding." for n in range(1, 6)])
    data = full.read_bytes()
    for cut in (0.3, 0.6, 0.95):
        path = tmp_path / f"cut-{cut}.pdf"
        path.write_bytes(data[: int(len(data) * cut)])
        try:
            document = load(path)
        except CorpusError as exc:
            assert str(exc).startswith(str(path))
        else:
            assert any("damaged" in w for w in document.warnings)


def test_html_keeps_main_text_and_drops_navigation(tmp_path):
    path = tmp_path / "release.html"
    path.write_text(
        "<html><head><title>Council welcomes commissioner</title><script>var x=1;</script></head><body>"
        "<nav><a href='/'>Home</a> | <a href='/news'>News</a></nav><header>Sefton Council</header>"
        "<main><h1>Council welcomes commissioner</h1><p>The council said it welcomes the appointment.</p>"
        "<p>Please follow &amp; like us</p><p>A review of capacity will follow in 2022.</p></main>"
        "<footer>Cookie settings</footer></body></html>", encoding="utf-8")
    document = load(path)
    assert document.meta.title == "Council welcomes commissioner"
    assert "The council said it welcomes the appointment." in document.text
    assert "A review of capacity will follow in 2022." in document.text
    for junk in ("Home", "News", "var x", "Cookie", "follow & like"):
        assert junk not in document.text


# a council minutes page as sites build it: the site around the text made of plain <div>s
CHROME = ["Skip to main content",
          "We use cookies to make this website work and to collect information about how you use it",
          "Accept all cookies", "Cookie settings", "Search this site", "Bins and recycling",
          "Council tax and benefits", "Meetings, agendas and minutes", "Related pages", "Find your councillor",
          "Share this page", "Was this page helpful", "Accessibility statement", "Privacy notice"]
MINUTES = ["Minutes of the Planning Committee, 14 March 2023", "1. Apologies for absence",
           "Apologies were received from the vice-chair and one other member.", "2. Budget 2023/24",
           "The committee considered the draft budget for planning services, summarised below.",
           "Proposed by the chair, seconded by the vice-chair, carried 7-1."]
BUDGET = [["Service", "2022/23", "2023/24"], ["Development control", "£412,000", "£436,500"],
          ["Planning enforcement", "£98,200", "£104,750"]]


def council_page() -> str:
    """Minutes with an h1, h2 items and a budget table, inside a skip link, cookie banner, site header
    with search, menu, breadcrumb, side bar, share bar, feedback box and footer, none of them <nav>,
    <header> or <footer>, and no <main>."""
    c, m = CHROME, MINUTES
    table = "<table>" + "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in BUDGET)
    return (f"<html><head><meta charset='utf-8'><title>Planning Committee minutes</title></head><body>"
            f"<a class='skip-link' href='#content'>{c[0]}</a>"
            f"<div id='cookie-banner'><p>{c[1]}.</p><a class='button'>{c[2]}</a> <a>{c[3]}</a></div>"
            f"<div class='site-header'><img alt='logo'><div class='search'><label>{c[4]}</label></div></div>"
            f"<div class='main-menu'><ul><li><a>{c[5]}</a></li><li><a>{c[6]}</a></li></ul></div>"
            f"<div class='breadcrumb'><a>Home</a> &gt; <a>{c[7]}</a></div>"
            f"<div id='content' class='page-content'><h1>{m[0]}</h1><h2>{m[1]}</h2><p>{m[2]}</p>"
            f"<h2>{m[3]}</h2><p>{m[4]}</p>{table}<p>{m[5]}</p></div>"
            f"<div class='sidebar'><h3>{c[8]}</h3><ul><li><a>{c[9]}</a></li></ul></div>"
            f"<div class='share-bar'>{c[10]}: <a>Facebook</a></div><div id='feedback'>{c[11]}? Yes No</div>"
            f"<div class='site-footer'><a>{c[12]}</a> <a>{c[13]}</a></div></body></html>")


def test_html_drops_the_site_around_the_minutes_and_keeps_headings_and_table(tmp_path):
    path = tmp_path / "minutes.html"
    path.write_text(council_page(), encoding="utf-8")
    document = load(path)
    for junk in CHROME:
        assert junk not in document.text
    lines = document.text.splitlines()
    for line in MINUTES:  # each its own line
        assert line in lines
    for heading in (MINUTES[0], MINUTES[1], MINUTES[3]):
        assert heading in lines
    for row in BUDGET:
        assert all(cell in document.text for cell in row)
    assert document.meta.title == "Planning Committee minutes"


def test_html_chrome_names_do_not_drop_the_heading_or_the_text(tmp_path):
    """An element whose class names chrome is kept when it holds the <h1> or most of the page's text."""
    path = tmp_path / "page.html"
    path.write_text("<html><body><div class='page-header'><h1>Agenda for the Finance Committee</h1></div>"
                    "<div class='menu'><a>Home</a></div><div class='has-sidebar'><p>The whole text of this short "
                    "page sits in an element named like a side bar.</p><ul><li>Apologies</li><li>Budget "
                    "monitoring report</li></ul></div></body></html>", encoding="utf-8")
    text = load(path).text
    assert "Agenda for the Finance Committee" in text and "Home" not in text
    for words in ["The whole text of this short page", "Apologies", "Budget monitoring report"]:
        assert words in text


def test_html_front_matter_is_not_text_and_gives_the_title(tmp_path):
    path = tmp_path / "dates.html"
    path.write_text('---\ndate: 2017-01-20\nlayout: default\ntitle: "Parish Council Meetings"\n---\n'
                    "<h1>Parish Council Meetings</h1><div>Meetings are held at 7.30pm.</div>", encoding="utf-8")
    document = load(path)
    assert [line for line in document.text.splitlines() if line] == ["Parish Council Meetings",
                                                                      "Meetings are held at 7.30pm."]
    assert document.meta.title == "Parish Council Meetings"


def test_real_html_pages_keep_every_key_fact_of_their_dev_questions():
    import json
    import re

    from conftest import SHARED

    dev = SHARED / "realworld-dev"
    if not (dev / "questions.jsonl").is_file():
        pytest.skip(f"{dev} is absent: the real-papers corpus is not on this machine")

    def norm(text: str) -> str:
        return re.sub(r"\s+", " ", text.replace("\u2019", "'")).lower()

    pages = sorted((dev / "corpus").glob("*.html"))
    texts = {path.name: norm(load(path).text) for path in pages}
    checked = 0
    for line in (dev / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        question = json.loads(line)
        sources = [s for s in question.get("sources", []) if s in texts]
        if not sources or len(sources) < len(question["sources"]):
            continue
        text = " ".join(texts[s] for s in sources)
        for alternatives in question["key_facts"]:
            assert any(norm(a) in text for a in alternatives), (question["id"], alternatives)
            checked += 1
    assert checked >= 2
    for path in pages:
        assert "layout: default" not in texts[path.name]


def test_docx_paragraphs_and_tables(tmp_path):
    import docx

    doc = docx.Document()
    doc.add_paragraph("Corporate parenting board minutes.")
    table = doc.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Care leavers"
    table.rows[0].cells[1].text = "Offer reviewed"
    path = tmp_path / "minutes.docx"
    doc.save(path)
    text = load(path).text
    assert "Corporate parenting board minutes." in text
    assert "Care leavers — Offer reviewed" in text.split("\n")


@pytest.mark.parametrize("name,data,problem", [
    ("empty.txt", b"", "empty file (0 bytes)"),
    ("binary.txt", bytes(range(256)) * 4, "binary data, not text"),
    ("blank.txt", b"   \n\n  ", "no text after cleaning"),
    ("fake.pdf", b"%PDF-1.4 this is not really a pdf", "damaged PDF"),
    ("fake.docx", b"PK not a zip", "not a readable .docx"),
    ("table.csv", b"a,b\n1,2\n", "unsupported file type .csv"),
])
def test_bad_files_name_the_file_and_the_problem(tmp_path, name, data, problem):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(CorpusError) as caught:
        load(path)
    assert str(caught.value).startswith(str(path))
    assert problem in str(caught.value)


def test_non_utf8_text_is_read_with_a_warning(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("Café budget for Bootle: £2 million.".encode("cp1252"))
    document = load(path)
    assert document.text == "Café budget for Bootle: £2 million."
    assert any("not UTF-8" in w for w in document.warnings)


def test_utf16_with_bom_is_read(tmp_path):
    path = tmp_path / "wide.txt"
    path.write_bytes("Fostering friendly borough".encode("utf-16"))
    assert load(path).text == "Fostering friendly borough"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_read(tmp_path, encoding):
    path = tmp_path / "wide.txt"
    path.write_bytes("Fostering friendly borough: £2 million.".encode(encoding))
    assert load(path).text == "Fostering friendly borough: £2 million."


def test_pdf_with_an_unknown_encryption_version_is_a_clear_error(tmp_path):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(make_pdf(tmp_path / "plain.pdf", ["Budget report."])))
    writer.encrypt("s3cret", algorithm="AES-256")
    path = tmp_path / "odd.pdf"
    with open(path, "wb") as handle:
        writer.write(handle)
    path.write_bytes(path.read_bytes().replace(b"/V 5", b"/V 0"))
    with pytest.raises(CorpusError, match=r"odd\.pdf: damaged PDF, cannot be opened \(NotImplementedError"):
        load(path)


def test_page_that_is_an_image_with_a_watermark_is_flagged_for_ocr(tmp_path):
    from PIL import Image
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    path = tmp_path / "scan.pdf"
    pdf = canvas.Canvas(str(path))
    pdf.drawImage(ImageReader(Image.new("L", (200, 280), 200)), 50, 50, 500, 700)
    pdf.drawString(60, 800, "Scanned by Sefton Council")
    pdf.showPage()
    pdf.drawString(72, 760, "The cabinet agreed the children's services budget for 2022 after a long debate "
                            "on caseloads.")
    pdf.showPage()
    pdf.save()
    document = load(path)
    assert "Scanned by Sefton Council" in document.text
    assert [w for w in document.warnings if "OCR" in w] == [
        "page(s) 1 are images with under 100 characters of text (a scan with a stamp or watermark?); "
        "they need OCR to be searchable"]


def test_one_repeated_line_on_every_page_is_content_not_a_header(tmp_path):
    path = make_pdf(tmp_path / "slides.pdf", ["Safeguarding children in Sefton"] * 4)
    document = load(path)
    assert document.text.count("Safeguarding children in Sefton") == 4
    assert len(document.page_starts) == 4


def test_a_reader_is_chosen_by_the_registry(tmp_path, monkeypatch):
    """Adding a format is one entry in READERS; the entry's reader gets the path, bytes and options."""
    from assistant.readers import READERS, SUPPORTED, Extracted

    assert SUPPORTED == {".txt", ".md", ".pdf", ".html", ".htm", ".docx"}
    seen = []

    def read_csv(path, data, options):
        seen.append((path.name, options.pdf_password))
        return Extracted(pages=[data.decode().replace(",", " | ")], title="Budget table", warnings=(), paged=False)

    monkeypatch.setitem(READERS, ".csv", read_csv)
    path = tmp_path / "budget.csv"
    path.write_text("Line,Amount\nFostering,2m\n", encoding="utf-8")
    document = load(path, pdf_password="unused")
    assert seen == [("budget.csv", "unused")]
    assert document.meta.title == "Budget table" and "Fostering | 2m" in document.text
