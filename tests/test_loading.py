from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import CorpusError
from assistant.loading import SourceFile, load_document, read_manifest
from conftest import CORPUS, make_pdf


def load(path: Path, meta: dict | None = None, **kwargs):
    return load_document(SourceFile(path, path.name, meta or {}), path.read_bytes(), **kwargs)


def test_corpus_manifest_describes_every_seed():
    manifest = read_manifest(CORPUS)
    files = sorted(p.name for p in CORPUS.glob("*.txt"))
    assert len(files) == 5
    for name in files:
        entry = manifest[name]
        assert entry["council"] == "Sefton Council"
        assert entry["doc_type"] in {"cabinet-member-update", "press-release"}
        assert entry["title"] and entry["date"] and entry["id"]


def test_corpus_text_is_kept_as_given():
    seeds = Path(__file__).resolve().parents[2] / "shared" / "seeds"
    if not seeds.is_dir():
        pytest.skip("../shared/seeds is absent")
    assert sorted(p.read_bytes() for p in seeds.glob("*.txt")) == sorted(p.read_bytes() for p in CORPUS.glob("*.txt"))


def test_text_document_gets_manifest_metadata():
    path = CORPUS / "2022-03-15-cabinet-member-update-childrens-social-care.txt"
    document = load(path, read_manifest(CORPUS)[path.name])
    assert document.meta.doc_id == "cmu-2022-03-15-childrens-social-care"
    assert document.meta.date == "2022-03-15"
    assert document.meta.committee.startswith("Overview and Scrutiny")
    assert document.page_starts == ()
    assert "Martin Birch who was appointed permanently will commence in April 2022" in document.text


def test_unlisted_file_is_titled_by_its_first_line(tmp_path):
    path = tmp_path / "note.md"
    path.write_text("# Fostering update\n\nThe fostering service recruited ten carers.", encoding="utf-8")
    document = load(path)
    assert document.meta.title == "# Fostering update"
    assert document.meta.doc_id == "note"
    assert document.meta.date is None


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


@pytest.mark.parametrize("body,problem", [
    ('[documents."a.txt"]\ndate = "15 March 2022"\n', "field date"),
    ('[documents."a.txt"]\nauthor = "x"\n', "unknown field(s) author"),
    ("[documents\n", "not valid TOML"),
])
def test_bad_manifest_names_the_file_and_field(tmp_path, body, problem):
    (tmp_path / "manifest.toml").write_text(body, encoding="utf-8")
    with pytest.raises(CorpusError) as caught:
        read_manifest(tmp_path)
    assert str(tmp_path / "manifest.toml") in str(caught.value)
    assert problem in str(caught.value)


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
