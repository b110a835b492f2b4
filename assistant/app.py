"""The application object every interface calls: `Assistant.search`, `ask` and `chat`."""
from __future__ import annotations

import datetime as dt
import logging
import numbers
import os
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from .answering import Answerer, ExtractiveAnswerer, fitted_alike
from .conversation import Turn, resolve_followup
from .corpus import content_hash
from .embedding import Embedder, Encoder
from .errors import PageError, QueryError
from .index import CURRENT, MODELS, Index, built_precision, current_build, read_manifest
from .ingest import ingest
from .pages import PageCache, PageImage, indexed_file, render_page
from .progress import Progress
from .query_cues import named_councils
from .retrieval import HybridRetriever
from .settings import Settings
from .types import Answer, Document, DocumentMeta, IngestReport, Passage, Query, SearchFilters


log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 2_000
# a follow-up's condensed query (the question plus context from the conversation) is cut to this
MAX_CONDENSED_CHARS = 4 * MAX_QUERY_CHARS
REOPEN_ATTEMPTS = 3
RETRIEVERS = ("bm25", "dense")  # `Assistant.ranking`: each retriever of the hybrid search alone
_REOPENING = threading.Lock()


class Assistant:
    """Loads the model and index once; answers many queries, from many threads at once.

    Nothing here holds a lock while answering: the index build is swapped by replacing one reference,
    the caches (query and sentence vectors, council BM25) lock only their own dictionaries, and an
    LLM call runs on the calling thread alone (bounded by `llm_timeout`)."""

    def __init__(self, settings: Settings | None = None, *, encoder: Encoder | None = None,
                 answerer: Answerer | None = None) -> None:
        """`encoder` and `answerer` replace the ones the settings name (tests inject a fake encoder;
        an injected encoder is used for ingest and queries alike, and an index built at another
        precision than its own is refused). The settings' encoder instead follows the precision of
        the index it reads (see `_follow_precision`)."""
        self.settings = settings or Settings.load()
        self._own_encoder: Embedder | None = None if encoder is not None else \
            self._embedder(self.settings.encoder_precision)
        self.encoder: Encoder = encoder or self._own_encoder
        self._served: Index | None = None
        self._answerer: Answerer | None = answerer
        self._making_answerer = threading.Lock()
        self._councils: tuple[Index, dict[bool, list[str]]] | None = None
        self._pages = PageCache()

    @property
    def _index(self) -> Index:
        """The open index build, reopened first when an ingest (in this process or another) has published
        a newer one since. The check is one readlink. Callers take one `Index` and use it for a
        whole search, so no search mixes two builds; a search begun on the old build finishes on it (its
        open files stay readable after ingest removes the folder)."""
        index = self._served
        if index is not None and linked_build(self.settings.index_dir) in (None, index.folder.name):
            return index
        with _REOPENING:
            if self._served is index:
                self._served = self._open_index(index)
            return self._served

    def _open_index(self, serving: Index | None) -> Index:
        """The newest build; while one is being served, a build removed before it could be opened (a
        second ingest published after it) is retried, then the served build is kept."""
        for attempt in range(REOPEN_ATTEMPTS):
            try:
                index = Index.open(self.settings.index_dir, self.settings)
            except (OSError, sqlite3.Error, RuntimeError, ValueError) as exc:
                if serving is None:
                    raise
                log.warning("%s: cannot open the new index build yet (%s); attempt %d of %d",
                            self.settings.index_dir, exc, attempt + 1, REOPEN_ATTEMPTS)
                continue
            self._follow_precision(index.folder, index.manifest)
            index.check_model(self.encoder.model_id, self.encoder.precision)
            if serving is not None:
                log.info("%s: now serving build %s", self.settings.index_dir, index.folder.name)
            return index
        return serving

    def _embedder(self, precision: str) -> Embedder:
        settings = self.settings
        return Embedder(settings.embedding_model, settings.embed_batch_size, settings.encoder_runtime,
                        settings.index_dir / MODELS, precision)

    def _follow_precision(self, folder: Path, manifest: dict) -> None:
        """Encode queries at the precision the index at `folder` was built with, whatever the settings
        say: its vectors are comparable only with that encoder's, and a change of the default
        precision must not break indexes built before it. The settings' precision applies to the
        next `ingest --rebuild` (and to a first build)."""
        own = self._own_encoder
        built = built_precision(manifest)
        if own is None or built == own.precision or manifest.get("embedding_model") != own.model_id:
            return
        log.info("%s: built with encoder_precision=%r, so queries are encoded at %r although the settings "
                 "say %r (rebuild with `council-assistant ingest --rebuild` to change it)",
                 folder, built, built, self.settings.encoder_precision)
        own.use_precision(built)

    def _encoder_for_build(self, rebuild: bool) -> Encoder:
        """The encoder an ingest embeds with: an incremental ingest keeps the current build's precision
        (its new vectors must be comparable with the old), a rebuild or first build takes the
        settings' (with an encoder of its own while queries still read the current build)."""
        own = self._own_encoder
        if own is None:
            return self.encoder
        current = None if rebuild else current_build(self.settings.index_dir)
        if current is not None:
            self._follow_precision(current, read_manifest(current))
            return own
        wanted = self.settings.encoder_precision
        return own if own.precision == wanted else self._embedder(wanted)

    def load(self) -> None:
        """Load the model and open the index now, so that no answer's latency includes them (nor the
        BM25 statistics of the settings' council scope, and of the public papers when some are
        restricted)."""
        _ = self._index
        self.encoder.load()
        if self.council_scope:
            self._index.sparse_for(SearchFilters(councils=self.council_scope), None)
        self._index.sparse_for(SearchFilters(councils=self.council_scope, public_only=True), None)

    def ingest(self, paths: list[Path], rebuild: bool = False, retry_failed: bool = False,
               progress: Progress | None = None) -> IngestReport:
        """Bring the index up to date with `paths`; the next query opens the new build (see `_index`).
        `retry_failed` extracts again files that failed before and have not changed since. The ONNX
        export is checked even when nothing changed, so that one lost to a killed ingest is made
        again rather than leaving every later query on torch. The papers it added are then searched
        for the watches (see watches.py); a rebuild adds every paper again, so it records no match."""
        builder = self._encoder_for_build(rebuild)
        report = ingest(paths, self.settings, builder, rebuild=rebuild, retry_failed=retry_failed,
                        progress=progress)
        builder.prepare()
        if report.added and not rebuild:
            from .watches import record_matches, watches_path

            if watches_path(self.settings).is_file():
                record_matches(self._index, self.encoder, self.settings, report.added)
        return report

    def search(self, query: str, k: int | None = None, since: str | None = None, until: str | None = None,
               doc_types: tuple[str, ...] | list[str] | str = (),
               councils: tuple[str, ...] | list[str] | str = (), restricted: bool = True) -> list[Passage]:
        """Ranked passages for `query`, filtered by date (inclusive ISO dates), document type and
        council. Without a council filter, the settings' `council_scope` applies, and without that
        a query naming indexed councils ("Northshire's improvement notice") is kept to their papers and to
        papers whose titles name them (`HybridRetriever.candidates_for`). Arguments of
        the wrong type are refused with a `QueryError` naming them; a bare string for `doc_types` or
        `councils` is one item. `restricted=False` searches as a user who may not see restricted
        papers: they are filtered out before ranking, and ranked with statistics of public text only."""
        query = clean_query(query)
        return self._search(query, _count(k, "k"), self._filters(since, until, doc_types, councils, restricted))

    def _filters(self, since, until, doc_types, councils, restricted: bool = True) -> SearchFilters:
        filters = SearchFilters(since=_iso(since, "since"), until=_iso(until, "until"),
                                doc_types=_names(doc_types, "doc_types"), councils=_names(councils, "councils"),
                                public_only=not restricted)
        if filters.since and filters.until and filters.since > filters.until:
            raise QueryError(f"--since {filters.since} is after --until {filters.until}")
        return filters

    def _search(self, query: Query | str, k: int | None, filters: SearchFilters,
                evidence_only: bool = False) -> list[Passage]:
        """`search` for a cleaned query and checked arguments; retrieval reads a follow-up's context
        with its question (`Query.searched`); `evidence_only` as in `HybridRetriever.search`."""
        searched = Query.of(query).searched
        filters = replace(filters, councils=filters.councils or self.council_scope)
        named = () if filters.councils else named_councils(searched,
                                                            self.councils(restricted=not filters.public_only))
        k = self.settings.top_k if k is None else k
        if k < 1:
            raise QueryError(f"-k must be at least 1, got {k}")
        retriever = HybridRetriever(self._index, self.encoder, self.settings.candidates, self.settings.rrf_k,
                                    self.settings.sparse_weight)
        return retriever.search(searched, k, filters, named, evidence_only)

    @property
    def council_scope(self) -> tuple[str, ...]:
        return tuple(c.strip() for c in (self.settings.council_scope or "").split(";") if c.strip())

    def councils(self, restricted: bool = True) -> list[str]:
        """The councils of the indexed papers (of the public ones with `restricted=False`), cached per
        index build."""
        index = self._index
        known = self._councils
        if known is None or known[0] is not index:
            known = self._councils = (index, {})
        listed = known[1].get(restricted)
        if listed is None:
            listed = known[1][restricted] = index.store.councils(public_only=not restricted)
        return listed

    @property
    def answerer(self) -> Answerer:
        """The extractive answerer, or the LLM one (falling back to extractive) when one is configured."""
        if self._answerer is None:
            with self._making_answerer:
                if self._answerer is None:
                    self._answerer = self._make_answerer()
        return self._answerer

    def word_frequencies(self, words: list[str]) -> tuple[int, dict[str, int]]:
        """(chunks, {word: chunks holding it}) over the public papers of the settings' council scope (their
        BM25 statistics, built at `load`): what the answerer weighs question words by, the same for every
        user and filter, and moved by no restricted paper."""
        scope = SearchFilters(councils=self.council_scope, public_only=True)
        return self._index.sparse_for(scope, None)[0].document_frequencies(words)

    def _make_answerer(self) -> Answerer:
        extractive = ExtractiveAnswerer(self.encoder.embed_passages, self.settings.min_evidence,
                                        self.settings.answer_sentences, embed_query=self.encoder.embed_query,
                                        frequencies=self.word_frequencies if self.settings.word_rarity == "index"
                                        else None)
        fitted_alike(extractive.model, self.settings.word_rarity)
        if self.settings.llm_base_url:
            from .llm import LLMAnswerer

            return LLMAnswerer(self.settings, extractive)
        return extractive

    def ask(self, question: str, since: str | None = None, until: str | None = None,
            doc_types: tuple[str, ...] | list[str] | str = (), history: Iterable | None = (),
            councils: tuple[str, ...] | list[str] | str = (), restricted: bool = True,
            on_text: Callable[[str], None] | None = None) -> Answer:
        """A short cited answer to `question`; with `history`, a follow-up is resolved against it first.
        The length limit applies to the question as typed, not to the follow-up's condensed query.
        `restricted=False`: answered from public papers alone (see `search`). `on_text`: called with the
        reply so far as an LLM streams it (never for the extractive answer, which comes whole); the
        returned answer is the checked one, which may differ from the last text streamed."""
        question = clean_query(question)
        filters = self._filters(since, until, doc_types, councils, restricted)
        history = _history(history)
        self.load()
        started = time.perf_counter()
        query = Query(question)
        if history:
            condensed = self.condense(history, question)
            context = condensed.context[:MAX_CONDENSED_CHARS]
            query = Query(clean_query(condensed.text[:MAX_CONDENSED_CHARS], limit=None),
                          clean_query(context, limit=None) if context.strip() else "")
        passages = self._search(query, self.settings.answer_passages, filters, evidence_only=True)
        if on_text is not None and getattr(self.answerer, "streams", False):
            answer = self.answerer.answer(query, passages, on_text=on_text)
        else:
            answer = self.answerer.answer(query, passages)
        return replace(answer, question=question, query=query.searched,
                       latency_ms=(time.perf_counter() - started) * 1000)

    def chat(self, history: Iterable | None, message: str, **filters) -> Answer:
        """The next answer in a conversation (`history`: earlier turns, oldest first)."""
        return self.ask(message, history=history, **filters)

    def condense(self, history: Iterable, message: str) -> Query:
        """The query for a follow-up message: the message with the conversation's context, or the LLM's
        stand-alone rewrite when one is configured."""
        condense = getattr(self.answerer, "condense", None)
        return condense(history, message) if condense else resolve_followup(history, message)

    def document(self, doc_id: str, restricted: bool = True) -> Document | None:
        """The indexed paper `doc_id`, or None (also for a restricted paper with `restricted=False`)."""
        return self._index.store.document(doc_id, public_only=not restricted)

    def page_image(self, doc_id: str, page: int, start: int | None = None, end: int | None = None,
                   restricted: bool = True) -> PageImage:
        """Page `page` of the indexed PDF `doc_id` as an image, with the document's text[start:end]
        (a cited passage) marked on it where it can be found. The file is the one the index holds for
        `doc_id`, inside the folders the index was built from (see pages.py); a PageError says why
        a page cannot be shown, also for a paper the user may not see."""
        index = self._index
        document = index.store.document(str(doc_id), public_only=not restricted)
        if document is None:
            raise PageError("that paper is not in the index")
        if not document.path.lower().endswith(".pdf"):
            raise PageError("only PDF papers have pages to show")
        record = index.manifest.get("files", {}).get(document.path, {})
        quote = document.text[max(0, start):max(0, end)] if start is not None and end is not None else ""
        key = (document.path, record.get("content_hash"), int(page), quote)
        image = self._pages.get(key)
        if image is None:
            path = indexed_file(document.path, index.manifest.get("roots"), self.settings.corpus_dir)
            if record.get("content_hash") and content_hash(path.read_bytes()) != record["content_hash"]:
                raise PageError("this paper's file has changed since it was indexed; re-run ingest to see its pages")
            image = render_page(path, int(page), quote, self.settings.pdf_password)
            self._pages.put(key, image)
        return image

    def documents(self, restricted: bool = True) -> list[tuple[DocumentMeta, int]]:
        """The indexed papers with their chunk counts (the public ones with `restricted=False`)."""
        return self._index.store.documents(public_only=not restricted)

    def info(self) -> dict[str, object]:
        """What is being served, for interfaces and the eval report: the index folder and build, when it
        was built, its paper and chunk counts, the embedding model, the encoder's record, the vector
        store, the answerer and its evidence bar."""
        index = self._index
        manifest = index.manifest
        answerer = self.answerer
        return {"index": str(index.folder), "build": index.folder.name, "folder": str(index.folder),
                "created": manifest.get("created"),
                "documents": manifest.get("documents"), "chunks": manifest.get("chunks"),
                "embedding_model": manifest.get("embedding_model"),
                "encoder": manifest.get("encoder") or {"model": manifest.get("embedding_model"), "precision": "fp32"},
                "vector_store": manifest.get("vector_store"),
                "answerer": type(answerer).__name__,
                "min_evidence": getattr(answerer, "min_evidence", self.settings.min_evidence)}

    def indexed_files(self) -> dict[str, str]:
        """{file key (its path relative to the folder ingest ran in, else absolute): doc_id} of the
        indexed papers, as the index manifest records them."""
        files = self._index.manifest.get("files", {})
        return {key: record["doc_id"] for key, record in files.items() if "doc_id" in record}

    def ranking(self, query: str, k: int, retriever: str) -> list[Passage]:
        """The top `k` passages for `query` by one retriever alone, "bm25" or "dense" (no filter, fusion
        or re-ranking): what the eval suite's baselines compare the hybrid `search` with."""
        query, k = clean_query(query), _count(k, "k")
        index = self._index
        if retriever == "bm25":
            ranked = index.sparse.search(query, k)
        elif retriever == "dense":
            ranked = index.vectors.search(self.encoder.embed_query(query), k)
        else:
            raise QueryError(f"retriever {retriever!r}: choose one of {', '.join(RETRIEVERS)}")
        rows = index.store.chunks([i for i, _ in ranked])
        kept = [(i, float(score)) for i, score in ranked if i in rows]
        return [Passage(chunk=rows[i][0], meta=rows[i][1], score=score, rank=rank,
                        dense_score=score if retriever == "dense" else None,
                        sparse_score=score if retriever == "bm25" else None)
                for rank, (i, score) in enumerate(kept, start=1)]

    def close(self) -> None:
        """Close the index build served (its files and vector store connection); the next call
        opens the current one again."""
        with _REOPENING:
            served, self._served = self._served, None
        if served is not None:
            served.close()


def clean_query(query: str, limit: int | None = MAX_QUERY_CHARS) -> str:
    """The query as one line of visible text: invisible format characters (zero-width spaces and
    joiners, direction overrides, byte-order marks) are dropped, other control and separator characters
    (and lone surrogates, i.e. bytes that were not UTF-8) become spaces, and runs of white space one
    space. Empty, non-text and (with a `limit`) oversized queries are refused, oversized ones before
    any work is done on them."""
    if query is None:
        query = ""
    if not isinstance(query, str):
        raise QueryError(f"the question must be text, not {type(query).__name__}")
    if limit is not None and len(query) > limit * 4:
        raise QueryError(f"the question is {len(query):,} characters long; the limit is {limit:,}")
    text = "".join("" if unicodedata.category(ch) == "Cf" else ch if ch.isprintable() else " "
                   for ch in query)
    text = " ".join(text.split())
    if not text:
        raise QueryError("the question is empty; type a question about the council papers")
    if limit is not None and len(text) > limit:
        raise QueryError(f"the question is {len(text):,} characters long; the limit is {limit:,}")
    return text


def linked_build(index_dir: Path) -> str | None:
    """The name of the build the index's `current` link points at, or None without a link."""
    try:
        return Path(os.readlink(index_dir / CURRENT)).name
    except OSError:
        return None


def _iso(value: str | dt.date | None, field: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str):
        raise QueryError(f"{field} must be a date as text (YYYY-MM-DD), not {type(value).__name__} {_shown(value)}")
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise QueryError(f"--{field} {value!r} is not a date (YYYY-MM-DD)") from exc


def _count(value: int | None, field: str) -> int | None:
    """A whole-number argument (None for the default); text, fractions and booleans are refused."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise QueryError(f"{field} must be a whole number, not {type(value).__name__} {_shown(value)}")
    return int(value)


def _names(value: Iterable[str] | str | None, field: str) -> tuple[str, ...]:
    """A filter's names: a list or tuple of text, or one bare string (taken as a one-item list, never
    as its characters)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        raise QueryError(f"{field} must be a list of text, not {type(value).__name__} {_shown(value)}")
    names = tuple(value)
    for n, name in enumerate(names):
        if not isinstance(name, str):
            raise QueryError(f"{field}[{n}] must be text, not {type(name).__name__} {_shown(name)}")
    return names


def _history(value: Iterable | None) -> list:
    """The earlier turns of a conversation, checked: each a Turn, a (question, answer) pair or a
    role/content message."""
    if value is None:
        return []
    if isinstance(value, (str, bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        raise QueryError(f"history must be a list of earlier turns, not {type(value).__name__} {_shown(value)}")
    history = list(value)
    for n, turn in enumerate(history):
        pair = isinstance(turn, (list, tuple)) and 1 <= len(turn) <= 2
        if not (pair or isinstance(turn, (Turn, Mapping))):
            raise QueryError(f"history[{n}] must be a (question, answer) pair, a role/content message or a Turn, "
                             f"not {type(turn).__name__} {_shown(turn)}")
    return history


def _shown(value: object, limit: int = 40) -> str:
    """`value` in parentheses for an error message, cut to `limit` characters."""
    text = repr(value)
    return f"({text if len(text) <= limit else text[:limit - 1] + '…'})"
