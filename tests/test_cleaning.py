from __future__ import annotations

import re

from assistant.cleaning import clean_pages, clean_text
from conftest import CORPUS

SEPT_UPDATE = CORPUS / "2021-09-28-cabinet-member-update-childrens-social-care.txt"
OFSTED_RELEASE = CORPUS / "2022-05-press-release-ofsted-inadequate-rating.txt"


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def test_double_spaced_pdf_text_is_reflowed_without_losing_words():
    raw = SEPT_UPDATE.read_text(encoding="utf-8")
    cleaned = clean_text(raw)
    assert "\n\n\n" not in cleaned
    assert ("The Improvement Board has convened on three ocasions and is held monthly. The Board is "
            "Independently chaired") in cleaned
    assert words(cleaned) == words(raw)


def test_headings_stay_on_their_own_lines():
    cleaned = clean_text(SEPT_UPDATE.read_text(encoding="utf-8"))
    assert "\n(Social Care)\n" in cleaned


def test_web_boilerplate_is_removed_and_paragraphs_kept():
    raw = OFSTED_RELEASE.read_text(encoding="utf-8")
    cleaned = clean_text(raw)
    assert "Please follow & like us" not in cleaned
    assert cleaned.startswith("Sefton Council responds to")
    assert words(cleaned) == words(raw.replace("Please follow & like us", ""))
    assert cleaned.count("\n\n") == raw.strip().count("\n\n") - 1


def test_single_spaced_paragraphs_are_not_merged():
    text = "First paragraph ends here.\n\nSecond paragraph.\n\nThird one.\n\nFourth.\n\nFifth.\n\nSixth."
    assert clean_text(text) == text


def test_hyphenation_at_line_ends_is_joined():
    text = ("The improvement board agreed a new frame-\nwork for practice across the whole service and "
            "partners.\nIt meets monthly.")
    assert "framework for practice" in clean_text(text)


def test_hyphen_before_a_number_is_kept_when_lines_are_joined():
    text = ("Demand for children's social care has risen sharply across the\n"
            "whole service since the start of the Covid-\n"
            "19 pandemic, and the council has responded with new staff and\n"
            "a transformation team to support the improvement work now.\nDone.")
    assert "Covid-19 pandemic" in clean_text(text)


def test_repeated_headers_and_footers_are_dropped():
    bodies = ["Fostering recruitment rose.", "Cherry Road closed in June.", "The board meets monthly.",
              "Caseloads fell in 2022."]
    pages = [f"Sefton Council - Cabinet Member Update\n{body}\nPage {n} of 4" for n, body in enumerate(bodies, 1)]
    assert clean_pages(pages) == bodies


def test_headers_kept_when_too_few_pages():
    pages = ["Header\nBody one.", "Header\nBody two."]
    assert clean_pages(pages) == ["Header\nBody one.", "Header\nBody two."]


def test_control_characters_and_odd_spaces_are_normalised():
    assert clean_text("Sefton\x00 Council\u00a0\u00a0budget\tline\r\nnext") == "Sefton Council budget line\nnext"
