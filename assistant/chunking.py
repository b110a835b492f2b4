"""Sentence-aware chunking with overlap; every chunk keeps exact character offsets into its document.

Sentences come from NLTK's Punkt model (the copy bundled with llama-index, so no download), run
on each line separately so that headings and table rows never merge into the next sentence.
No chunk is longer than `chunk_words` × MAX_CHARS_PER_WORD characters: a "word" longer than that
(binary data read as text, a run of text without spaces) is cut, so a search never returns a
megabyte of it. Chunking a document may be given a time limit (ingest gives it `extract_timeout`).
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import replace
from functools import lru_cache
from typing import Iterator

from .errors import CorpusError
from .structure import find_items
from .types import Chunk, Document

_ABBREVIATIONS = {"cllr", "dr", "mr", "mrs", "ms", "st", "no", "nos", "cllrs", "prof", "rev", "hon",
                  "approx", "etc", "e.g", "i.e", "vs", "ref", "jan", "feb", "mar", "apr", "jun", "jul",
                  "aug", "sep", "sept", "oct", "nov", "dec"}
_WORD = re.compile(r"\S+")
_PIECE_CHARS = 10_000
MAX_CHARS_PER_WORD = 20


class Screened:
    """A case-insensitive `pattern` searched only in texts that hold one of `needles` (lower case), each
    a part of the text every match must hold: the same answers as `pattern.search`, without running the
    regex over the most texts, which hold none. Texts are compared case-folded, with the dotted and
    dotless i as plain i, so that whatever the regex matches ignoring case (ſ for s, İ for i, ...) passes
    the screen too."""

    _I = str.maketrans({"\u0130": "i", "\u0131": "i"})

    def __init__(self, pattern: re.Pattern, needles: tuple[str, ...]) -> None:
        self.pattern, self.needles = pattern, needles

    def search(self, text: str) -> re.Match | None:
        plain = text.translate(self._I) if "\u0130" in text or "\u0131" in text else text  # translate is slow
        folded = plain.casefold()
        if not any(needle in folded for needle in self.needles):
            return None
        return self.pattern.search(text)


# Text addressed to a language model, or prompt markup, rather than to a reader of council papers. A
# paper may carry such text by accident or by design (a prompt injection); answers never quote it,
# and retrieval lets it set no other paper's scores. Searched in every candidate of every question, so
# screened by the words each of its alternatives needs (a regex alone cost a search about 7 ms).
INSTRUCTION = Screened(re.compile(
    r"\b(ignore|disregard|forget|override)\b[^.!?]{0,40}\b(instructions?|prompts?|passages?|rules)\b"
    r"|\b(system|assistant)\s*:|\byou are (now|no longer)\b|\b(reply|respond|answer)\s+(only|exactly)\b"
    r"|\b(ai|llm) (assistants?|systems?|models?|tools?)\b|\blanguage models?\b"
    r"|</?[a-z][\w-]*(\s[^<>]*)?>", re.IGNORECASE),
    ("ignore", "disregard", "forget", "override", "system", "assistant", "you are", "reply", "respond",
     "answer", "ai ", "llm ", "language model", "<"))


class _TimeUp(Exception):
    """Chunking passed its deadline."""


@lru_cache(maxsize=1)
def _punkt():
    import importlib.util

    import nltk
    from nltk.tokenize.punkt import PunktTokenizer

    # found without importing llama-index (2 s), which the query path does not otherwise need
    core = importlib.util.find_spec("llama_index.core")
    cache = os.path.join(core.submodule_search_locations[0], "_static", "nltk_cache")
    if cache not in nltk.data.path:
        nltk.data.path.insert(0, cache)
    tokenizer = PunktTokenizer("english")
    tokenizer._params.abbrev_types.update(_ABBREVIATIONS)
    return tokenizer


def sentence_spans(text: str, deadline: float | None = None) -> list[tuple[int, int]]:
    """(start, end) of every sentence in `text`, in order, trimmed of surrounding white space.

    Past `deadline` (a `time.monotonic()` value; checked between lines and pieces) it raises _TimeUp.
    """
    tokenizer = _punkt()
    spans: list[tuple[int, int]] = []
    for first, last in _pieces(text):
        if deadline is not None and time.monotonic() > deadline:
            raise _TimeUp
        piece = text[first:last]
        for start, end in tokenizer.span_tokenize(piece):
            sentence = piece[start:end]
            lead = len(sentence) - len(sentence.lstrip())
            trail = len(sentence) - len(sentence.rstrip())
            if end - trail > start + lead:
                spans.append((first + start + lead, first + end - trail))
    return spans


def _pieces(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each line, a line over _PIECE_CHARS cut at white space into pieces no longer.

    Punkt's time grows with the number of full stops in what it is given, and NLTK stops it with a
    TimeoutError after 5 s: one giant line (a paragraph reflowed from a long file) must not reach it.
    """
    for line in re.finditer(r"[^\n]+", text):
        start, end = line.span()
        while end - start > _PIECE_CHARS:
            cut = start + _PIECE_CHARS
            while cut > start and not text[cut - 1].isspace():
                cut -= 1
            if cut == start:
                cut = start + _PIECE_CHARS
            yield start, cut
            start = cut
        yield start, end


def _word_count(text: str, start: int, end: int) -> int:
    return len(_WORD.findall(text, start, end))


def _split_long(text: str, span: tuple[int, int], limit: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut a sentence longer than `limit` words or `max_chars` characters at word boundaries, and a
    word longer than `max_chars` into pieces of that length."""
    words = list(_WORD.finditer(text, span[0], span[1]))
    if len(words) <= limit and span[1] - span[0] <= max_chars:
        return [span]
    pieces: list[tuple[int, int]] = []
    first, last, count = -1, -1, 0
    for word in words:
        start, end = word.span()
        if first >= 0 and (count == limit or end - first > max_chars):
            pieces.append((first, last))
            first = -1
        while end - start > max_chars:
            pieces.append((start, start + max_chars))
            start += max_chars
        if first < 0:
            first, count = start, 0
        last, count = end, count + 1
    if first >= 0:
        pieces.append((first, last))
    return pieces


def chunk_spans(text: str, chunk_words: int, overlap_sentences: int,
                deadline: float | None = None) -> list[tuple[int, int]]:
    """Greedy windows of whole sentences of about `chunk_words` words, overlapping by whole sentences,
    none longer than `chunk_words` × MAX_CHARS_PER_WORD characters. Past `deadline`: _TimeUp."""
    if chunk_words < 1:
        raise ValueError("chunk_words must be at least 1")
    max_chars = chunk_words * MAX_CHARS_PER_WORD
    sentences = [piece for span in sentence_spans(text, deadline)
                 for piece in _split_long(text, span, chunk_words, max_chars)]
    counts = [_word_count(text, s, e) for s, e in sentences]
    spans: list[tuple[int, int]] = []
    first = 0
    while first < len(sentences):
        last, words = first, counts[first]
        while (last + 1 < len(sentences) and words + counts[last + 1] <= chunk_words
               and sentences[last + 1][1] - sentences[first][0] <= max_chars):
            last += 1
            words += counts[last]
        spans.append((sentences[first][0], sentences[last][1]))
        if last + 1 >= len(sentences):
            break
        first = max(first + 1, last + 1 - overlap_sentences)
    return spans


def chunk_document(document: Document, chunk_words: int, overlap_sentences: int,
                   time_limit: float = 0) -> list[Chunk]:
    """The document's chunks; `chunk.text == document.text[chunk.start:chunk.end]` always holds.

    Chunks end where a numbered item of the document's metadata (`meta.items`) begins, so that a
    chunk belongs to one item, whose label it carries as its heading. With `time_limit` > 0, a
    document whose chunking takes longer (Punkt on millions of full stops can take minutes) is a
    CorpusError naming it, so that one file cannot stall an ingest. The limit counts the document's
    own work, not the first load of the sentence model.
    """
    _punkt()
    deadline = time.monotonic() + time_limit if time_limit > 0 else None
    text = document.text
    bounds = sorted({0, len(text), *(start for start, _ in document.meta.items if 0 < start < len(text))})
    try:
        spans = [(first + start, first + end) for first, last in zip(bounds, bounds[1:])
                 for start, end in chunk_spans(text[first:last], chunk_words, overlap_sentences, deadline)]
        return [
            Chunk(doc_id=document.doc_id, ord=i, text=text[start:end], start=start, end=end,
                  page=document.page_at(start), sentences=tuple(sentence_spans(text[start:end], deadline)),
                  heading=document.meta.heading_at(start))
            for i, (start, end) in enumerate(spans)
        ]
    except _TimeUp:
        raise CorpusError(f"{document.path}: chunking took longer than {time_limit:g} s ({len(text):,} "
                          "characters of text); split the file, raise extract_timeout or remove it") from None


def with_items(document: Document) -> Document:
    """The document with its numbered items (see structure.find_items) in its metadata."""
    items = tuple((item.start, item.label) for item in find_items(document.text))
    return replace(document, meta=replace(document.meta, items=items))
