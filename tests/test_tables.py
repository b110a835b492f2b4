from __future__ import annotations

from pathlib import Path

import pytest

from assistant.chunking import chunk_document
from assistant.corpus import SourceFile
from assistant.extraction import load_document
from assistant.tables import is_table, row_lines

REAL_PAPERS = Path(__file__).resolve().parents[1] / ".." / "shared" / "realworld-dev" / "corpus"
BUDGET = [["", "2024 actual", "2025 budget"],
          ["Fire Department revenues", "$2,100", "$2,500"],
          ["Library expenditure", "$9,750", "$10,400"]]


def load(path: Path):
    return load_document(SourceFile(path, path.name, {}), path.read_bytes())


def budget_pdf(path: Path) -> Path:
    """Two pages: running text, then a ruled budget table (reportlab's Table with a grid)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table, TableStyle

    style = getSampleStyleSheet()["Normal"]
    table = Table(BUDGET)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey)]))
    story = [Paragraph("The finance committee met to review the draft budget.", style), PageBreak(),
             Paragraph("Appendix A: the budget as adopted.", style), table,
             Paragraph("The budget was adopted unanimously.", style)]
    SimpleDocTemplate(str(path), pagesize=A4).build(story)
    return path


def test_rows_carry_their_column_headers():
    assert row_lines(BUDGET) == [
        "Fire Department revenues — 2024 actual: $2,100; 2025 budget: $2,500",
        "Library expenditure — 2024 actual: $9,750; 2025 budget: $10,400"]


def test_section_rows_spans_and_side_by_side_tables():
    grid = [["MAIN ACCOUNT", None, "", "PLAYGROUND ACCOUNT", None],
            ["INCOME", "8,984.85", "", "INCOME", "543.26"],
            ["", "", "", "", ""]]
    assert row_lines(grid) == ["MAIN ACCOUNT — INCOME — 8,984.85", "PLAYGROUND ACCOUNT — INCOME — 543.26"]
    risks = [["Ref.", "Topic", "Risk"], ["1. Finances", None, None], ["1.1", "Precept", "Not submitted"],
             [None, None, "Not paid"]]
    assert row_lines(risks) == ["1. Finances — Ref.: 1.1; Topic: Precept; Risk: Not submitted",
                                "1. Finances — Ref.: 1.1; Topic: Precept; Risk: Not paid"]


def test_a_list_drawn_without_row_borders_is_parted_line_by_line():
    grid = [["04/04/2023 Insurance\n24/11/2023 Electrics\n29/11/2023 Salary", "156.00\n1344.00\n126.29"]]
    assert row_lines(grid) == ["04/04/2023 Insurance — 156.00", "24/11/2023 Electrics — 1344.00",
                               "29/11/2023 Salary — 126.29"]


def test_pdf_table_row_is_one_line_and_cites_its_page(tmp_path):
    document = load(budget_pdf(tmp_path / "budget.pdf"))
    row = "Fire Department revenues — 2024 actual: $2,100; 2025 budget: $2,500"
    assert row in document.text.split("\n")
    start = document.text.index(row)
    assert document.page_at(start) == 2
    assert "The budget was adopted unanimously." in document.text
    assert document.text.index("Appendix A") < start < document.text.index("The budget was adopted")
    chunks = chunk_document(document, chunk_words=12, overlap_sentences=0)
    holding = [c for c in chunks if row in c.text]
    assert holding and all(c.page == 2 and document.text[c.start:c.end] == c.text for c in holding)


def test_pdf_without_ruled_tables_keeps_its_text(tmp_path):
    from conftest import make_pdf

    path = make_pdf(tmp_path / "plain.pdf", ["Revenue 2,500 Expenditure 1,200", "Second page text."])
    document = load(path)
    assert "Revenue 2,500 Expenditure 1,200" in document.text
    assert document.page_at(document.text.index("Second page")) == 2


def test_docx_table_rows_with_headers(tmp_path):
    import docx

    doc = docx.Document()
    doc.add_paragraph("Recorded vote on the budget.")
    table = doc.add_table(rows=3, cols=2)
    for r, row in enumerate([["Councillor", "Vote"], ["Cllr Adams", "For"], ["Cllr Brown", "Against"]]):
        for c, text in enumerate(row):
            table.rows[r].cells[c].text = text
    path = tmp_path / "votes.docx"
    doc.save(path)
    lines = load(path).text.split("\n")
    assert "Councillor: Cllr Adams; Vote: For" in lines
    assert "Councillor: Cllr Brown; Vote: Against" in lines


def test_html_table_rows_with_headers(tmp_path):
    path = tmp_path / "grants.html"
    path.write_text(
        "<html><body><main><p>Grants decided by the committee.</p><table>"
        "<thead><tr><th>Organisation</th><th>Amount</th><th>Decision</th></tr></thead>"
        "<tbody><tr><td>Youth club</td><td>£8,000</td><td>Approved</td></tr>"
        "<tr><td colspan='2'>Memory café</td><td>Rejected</td></tr></tbody></table>"
        "<p>The next round opens in June.</p></main></body></html>", encoding="utf-8")
    lines = load(path).text.split("\n")
    assert "Organisation: Youth club; Amount: £8,000; Decision: Approved" in lines
    assert "Organisation: Memory café; Decision: Rejected" in lines
    assert "Grants decided by the committee." in lines and "The next round opens in June." in lines


@pytest.mark.skipif(not REAL_PAPERS.is_dir(), reason="../shared/realworld-dev/corpus is absent")
def test_real_financial_report_keeps_each_figure_with_its_label():
    document = load(REAL_PAPERS / "souldern-annual-parish-meeting-minutes-2025-05-20.pdf")
    lines = document.text.split("\n")
    assert "INCOME BREAKDOWN - MAIN — PRECEPT — £7,994.00" in lines
    assert "EXPENDITURE BREAKDOWN — GRASS CUTTING — £2,576.00" in lines
    assert document.page_at(document.text.index("PRECEPT — £7,994.00")) == 3


def test_a_boxed_paragraph_is_not_a_table_and_no_section_is_lost():
    boxed = [[None, "spoke to a Director of a local"], ["company for advice and a quote of £60k", None]]
    assert not is_table(boxed)
    assert row_lines([["Ref", "Risk"], ["1. Finances", None], ["2. Premises", None], ["2.1", "Fire"]]) == [
        "1. Finances", "2. Premises — Ref: 2.1; Risk: Fire"]


def test_an_html_layout_table_is_read_as_text(tmp_path):
    path = tmp_path / "page.html"
    long = "The council agreed the budget after a long debate. " * 20
    path.write_text(f"<html><body><table><tr><td><p>{long}</p><p>Second paragraph.</p></td></tr></table>"
                    "</body></html>", encoding="utf-8")
    text = load(path).text
    assert "Second paragraph." in text.split("\n")
