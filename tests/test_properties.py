"""Properties of cleaning and chunking that must hold for any text, checked with hypothesis."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from assistant.chunking import chunk_document, chunk_spans
from assistant.cleaning import BOILERPLATE, clean_pages, clean_text
from assistant.errors import CorpusError
from assistant.corpus import SourceFile
from assistant.extraction import load_document
from assistant.types import Document, DocumentMeta

settings.register_profile("council-assistant", database=None, deadline=None, max_examples=100,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("council-assistant")

CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u00ad\ufeff]"
ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=600)
ODD = ["\u200b", "\u200d", "\ufeff", "\u00ad", "\u0301", "\u202e", "\u200f", "\x85", "\u2028", "\u2029",
       "\x00", "\x0b", "\x0c", "\x1f", "\r", "\r\n", "\t", "\u00a0", "\u3000"]
WORDS = ["council", "Cabinet", "Cllr.", "Dr.", "e.g.", "2022", "£2m", "(a)", "frame-", "work", "Covid-", "19",
         "-", "\u2014", "\u062d\u064e\u0628\u064a\u0628\u064a", "\u05e9\u05dc\u05d5\u05dd", "\u4f1a\u8b70",
         "e\u0301te\u0301", "no.", "St.", "?", "!", ":", "..."]
WORD = st.one_of(st.sampled_from(WORDS), st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True),
                 st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=6))
LINE = st.lists(st.one_of(WORD, st.sampled_from(ODD)), max_size=16).map(" ".join)
BREAK = st.sampled_from(["\n", "\n", "\n\n", "\n\n\n", "\n \n", ". ", "\r\n"])
PAPER = st.lists(st.tuples(LINE, BREAK), max_size=40).map(lambda parts: "".join(a + b for a, b in parts))
LONG_LINE = st.tuples(st.lists(WORD, min_size=1, max_size=4).map(" ".join),
                      st.sampled_from([". ", " ", "", "; "]),
                      st.integers(300, 1500)).map(lambda t: (t[0] + t[1]) * t[2])
TEXT = st.one_of(ANY_TEXT, PAPER, LONG_LINE)


def document(text: str, page_starts: tuple[int, ...] = ()) -> Document:
    return Document(DocumentMeta("d", "Title"), text, "d.txt", page_starts=page_starts)


def visible(text: str) -> str:
    return "".join(text.split())


def lines_as_cleaning_sees_them(raw: str) -> list[str]:
    """Control characters removed, CR and CRLF made LF, runs of spaces made one, each line stripped."""
    text = re.sub(CONTROL, "", raw.replace("\r\n", "\n").replace("\r", "\n"))
    return [re.sub(r"[ \t\u00a0\u2000-\u200a\u202f\u3000]+", " ", line).strip() for line in text.split("\n")]


@given(TEXT, st.integers(1, 120), st.integers(0, 3))
@example("Ab. " * 2_600, 90, 1)
@example("x" * 25_000, 40, 0)
def test_chunks_map_back_and_cover_every_visible_character(raw, chunk_words, overlap):
    text = clean_text(raw)
    chunks = chunk_document(document(text), chunk_words, overlap)
    covered = bytearray(len(text))
    for chunk in chunks:
        assert 0 <= chunk.start < chunk.end <= len(text)
        assert text[chunk.start:chunk.end] == chunk.text
        assert not chunk.text[0].isspace() and not chunk.text[-1].isspace()
        covered[chunk.start:chunk.end] = b"\x01" * (chunk.end - chunk.start)
    lost = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert not lost, f"characters {lost[:5]} ({text[lost[0]]!r}) are in no chunk"
    assert [c.ord for c in chunks] == list(range(len(chunks)))
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    assert bool(chunks) == bool(text.strip())


@given(TEXT, st.integers(1, 60), st.integers(0, 2))
def test_chunking_uncleaned_text_loses_no_visible_character(raw, chunk_words, overlap):
    spans = chunk_spans(raw, chunk_words, overlap)
    covered = bytearray(len(raw))
    for start, end in spans:
        covered[start:end] = b"\x01" * (end - start)
    assert all(covered[i] for i, ch in enumerate(raw) if not ch.isspace())


@given(st.lists(st.tuples(LINE, BREAK), max_size=30).map(lambda parts: "".join(a + b for a, b in parts)))
@example("The improvement board agreed a new frame-\nwork for practice.\nIt meets monthly.")
def test_cleaning_keeps_every_visible_character_but_line_end_hyphens(raw):
    assume(not any(BOILERPLATE.match(line) for line in lines_as_cleaning_sees_them(raw)))
    cleaned = clean_text(raw)
    expected = visible(re.sub(CONTROL, "", raw))
    assert visible(cleaned).replace("-", "") == expected.replace("-", "")
    assert len(visible(cleaned)) >= len(expected) - expected.count("-")


@given(TEXT)
def test_cleaned_text_is_in_normal_form(raw):
    cleaned = clean_text(raw)
    assert cleaned == cleaned.strip()
    assert "\r" not in cleaned and "\t" not in cleaned and "\n\n\n" not in cleaned and "  " not in cleaned
    assert not re.search(CONTROL, cleaned) and "\u00a0" not in cleaned
    assert all(line == line.strip() for line in cleaned.split("\n"))


@settings(max_examples=60)
@given(st.lists(st.one_of(ANY_TEXT, PAPER), min_size=1, max_size=8), st.sampled_from(["", "Sefton Council"]))
@example(["\u062d\u064e\u0628\u064a\u0628\u064a habibi \u062d\u064e\u0628\u064a\u0628\u064a "] * 4, "")
@example(["Background\n"] * 4 + ["", "Background\n"], "")
def test_header_removal_never_empties_a_document_with_text(pages, header):
    pages = [f"{header}\n{page}" if header else page for page in pages]
    cleaned = clean_pages(pages)
    assert len(cleaned) == len(pages)
    if any(clean_text(page) for page in pages):
        assert any(cleaned)


CODEWORDS = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"]


@settings(max_examples=60)
@given(st.lists(PAPER, min_size=3, max_size=6))
def test_repeated_headers_and_page_numbers_go_and_each_page_body_stays(bodies):
    header = "Sefton Council - Cabinet Member Update"
    pages = [f"{header}\n{word} {body}\nPage {n} of {len(bodies)}"
             for n, (word, body) in enumerate(zip(CODEWORDS, bodies), 1)]
    cleaned = clean_pages(pages)
    for word, page in zip(CODEWORDS, cleaned):
        assert page.startswith(word), page
        assert not re.search(r"Page \d+ of \d+$", page), page


@given(st.lists(st.one_of(ANY_TEXT, PAPER), min_size=1, max_size=5))
def test_each_chunk_is_on_the_page_where_it_starts(pages):
    cleaned = clean_pages(pages)
    starts = [sum(len(page) + 2 for page in cleaned[:i]) for i in range(len(cleaned))]
    for chunk in chunk_document(document("\n\n".join(cleaned), tuple(starts)), 30, 1):
        assert starts[chunk.page - 1] <= chunk.start
        assert chunk.page == len(starts) or chunk.start < starts[chunk.page]


@given(st.sampled_from([".txt", ".md", ".html", ".htm"]),
       st.one_of(st.binary(max_size=400), TEXT.map(str.encode), TEXT.map(lambda t: t.encode("utf-16")),
                 TEXT.map(lambda t: t.encode("utf-16-le")), TEXT.map(lambda t: t.encode("cp1252", "replace"))))
def test_any_bytes_load_or_fail_with_a_message_naming_the_file(suffix, data):
    path = Path(f"paper{suffix}")
    try:
        loaded = load_document(SourceFile(path, path.name, {}), data)
    except CorpusError as exc:
        assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)
    else:
        assert loaded.text.strip() and loaded.text == loaded.text.strip()


@pytest.mark.slow
def test_a_giant_line_of_short_sentences_is_chunked():
    """600 KB in one line made NLTK's Punkt give up (its regex time limit, 5 s) and abort the ingest."""
    text = ("Ab. " * 150_000).strip()
    spans = chunk_spans(text, 90, 1)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
