"""The domain objects that flow through the pipeline (see DESIGN.md, "Core types")."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DocumentMeta:
    """What a citation says about its source: title, date (ISO), type, council, committee, source;
    who may see it (`access`: "public", or "restricted" for exempt papers only some users may read);
    the PDF pages whose text was read by OCR from a scan, and the numbered items of minutes and
    agendas as (offset where the item starts, "Item 37/18 Appointment of Internal Auditor");
    `inferred` names the fields read from the paper's heading because the manifest did not give them."""

    doc_id: str
    title: str
    date: str | None = None
    doc_type: str = "document"
    council: str | None = None
    committee: str | None = None
    source: str | None = None
    date_note: str | None = None
    access: str = "public"
    ocr_pages: tuple[int, ...] = ()
    items: tuple[tuple[int, str], ...] = ()
    inferred: tuple[str, ...] = ()

    def to_json(self) -> dict:
        """The fields a search result or citation shows of its paper (one projection for both)."""
        return {"doc_id": self.doc_id, "title": self.title, "date": self.date, "doc_type": self.doc_type,
                "source": self.source, "inferred": list(self.inferred)}

    def read_by_ocr(self, page: int | None) -> bool:
        """Whether the text of `page` was read by OCR from a scan."""
        return page is not None and page in self.ocr_pages

    def heading_at(self, offset: int) -> str | None:
        """The label of the numbered item that holds character `offset` of the text, if any."""
        label = None
        for start, item in self.items:
            if start > offset:
                break
            label = item
        return label


OCR_NOTE = "text read by OCR from a scan"


ACCESS_LEVELS = ("public", "restricted")


@dataclass(frozen=True)
class Document:
    """A cleaned document. `page_starts[i]` is the offset in `text` where page i+1 begins (PDFs only)."""

    meta: DocumentMeta
    text: str
    path: str
    page_starts: tuple[int, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def doc_id(self) -> str:
        return self.meta.doc_id

    def page_at(self, offset: int) -> int | None:
        """1-based page holding character `offset`, or None for documents without pages."""
        if not self.page_starts:
            return None
        page = 1
        for i, start in enumerate(self.page_starts):
            if start <= offset:
                page = i + 1
            else:
                break
        return page


@dataclass(frozen=True)
class Chunk:
    """A span of a document: `text == document.text[start:end]`."""

    doc_id: str
    ord: int
    text: str
    start: int
    end: int
    page: int | None = None
    # (start, end) of each sentence, relative to `text`; found at ingest so that answering needs no
    # sentence splitter (empty: not recorded, split on demand)
    sentences: tuple[tuple[int, int], ...] = ()
    # the numbered item the chunk belongs to ("Item 37/18 Appointment of Internal Auditor"): context
    # for search and answers, never part of `text`
    heading: str | None = None


@dataclass(frozen=True)
class Query:
    """What is searched and answered: the question as asked (`text`) and, for a follow-up resolved
    against the conversation (conversation.py), the words of the earlier turn it leans on (`context`).

    Retrieval reads both (`searched`): "and when did she start?" finds nothing without the name the
    context holds. The answerer reads them apart: the question's words decide what the answer must
    state, the context's count for less (answering.CONTEXT_WEIGHT), and the kind of fact asked for,
    the dates and the names to be matched come from `text` alone."""

    text: str
    context: str = ""

    @property
    def searched(self) -> str:
        """The text retrieval searches for: the question, then its context."""
        return f"{self.text} {self.context}" if self.context else self.text

    @classmethod
    def of(cls, query: "Query | str") -> "Query":
        """`query` as a Query (a bare string is a question without context)."""
        return query if isinstance(query, Query) else cls(query)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its document's metadata, fused score (0..1) and rank (1-based)."""

    chunk: Chunk
    meta: DocumentMeta
    score: float
    rank: int
    dense_score: float | None = None
    sparse_score: float | None = None
    # float16 rows, one per `chunk.sentences` span, as stored at ingest (None: not stored)
    sentence_vectors: Any = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict:
        return {
            "rank": self.rank,
            **self.meta.to_json(),
            "page": self.chunk.page,
            "item": self.chunk.heading,
            "ocr": self.meta.read_by_ocr(self.chunk.page),
            "text": self.chunk.text,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class Citation:
    """A `[n]` marker's source: the quote is `document.text[start:end]`, exactly as it stands."""

    n: int
    meta: DocumentMeta
    page: int | None
    quote: str
    start: int
    end: int
    score: float
    passage: str = ""
    passage_start: int = 0

    def to_json(self) -> dict:
        return {
            "n": self.n,
            **self.meta.to_json(),
            "page": self.page,
            "item": self.meta.heading_at(self.start),
            "ocr": self.meta.read_by_ocr(self.page),
            "quote": self.quote,
            "score": round(self.score, 4),
        }


NOT_IN_PAPERS = "The indexed papers do not say."


@dataclass(frozen=True)
class ShortAnswer:
    """The asked-for thing (a sum, date, name and role, decision or vote) exactly as the paper words it:
    `text == document.text[start:end]`, inside the quote of citation `n`."""

    text: str
    start: int
    end: int
    n: int

    def to_json(self) -> dict:
        return {"text": self.text, "n": self.n, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Answer:
    """An answer with `[n]` markers; when `answered` is false the citations are only possibly related.

    `short_answer` is the asked-for span the answer leads with (None when the question asks for no
    particular kind of fact, or when it abstains).

    `query` is the question actually searched (a follow-up resolved against the conversation).
    """

    question: str
    text: str
    answered: bool
    citations: tuple[Citation, ...] = ()
    latency_ms: float = 0.0
    query: str | None = None
    notes: tuple[str, ...] = ()
    short_answer: ShortAnswer | None = None

    def to_json(self) -> dict:
        out = {
            "question": self.question,
            "short_answer": self.short_answer.to_json() if self.short_answer else None,
            "answer": self.text,
            "answered": self.answered,
            "latency_ms": round(self.latency_ms, 1),
            "citations": [c.to_json() for c in self.citations],
        }
        if self.query and self.query != self.question:
            out["query"] = self.query
        if self.notes:
            out["notes"] = list(self.notes)
        return out


@dataclass(frozen=True)
class SearchFilters:
    """Date range (ISO dates, inclusive), document types and councils; empty means no filter.
    `public_only` keeps out restricted papers (for a user who may not see them)."""

    since: str | None = None
    until: str | None = None
    doc_types: tuple[str, ...] = ()
    councils: tuple[str, ...] = ()
    public_only: bool = False

    @property
    def active(self) -> bool:
        return bool(self.since or self.until or self.doc_types or self.councils or self.public_only)


@dataclass(frozen=True)
class IngestReport:
    """What one ingest run did, file by file."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    warnings: tuple[tuple[str, str], ...] = ()
    chunks_embedded: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)
