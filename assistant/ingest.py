"""Incremental ingest: find files, load what changed, embed it, and publish a new index build.

Unchanged files (same bytes, same manifest entry) are skipped; changed ones are re-chunked and
re-embedded, except a file whose manifest entry alone changed (its text reads as stored): it keeps
its chunks and vectors and gets its new metadata. Files gone from a scanned folder are removed. A
file that fails (unreadable, not extractable, its manifest entry or whole manifest refused, its
folder unreadable) is reported and, if an older version of it is indexed, that version is kept:
only a file that is gone is removed.
A failure is remembered by content hash, metadata hash and context in the index folder's
failures.json, and the file is not extracted again until one of those changes (or retry_failed).
Nothing is written over the current build: the new one is made beside it and swapped in (see
index.py); what a killed run left behind is removed when the next one starts.

New chunks are embedded and written in batches of `ingest_batch_chunks`. A first build (no current
build, or --rebuild; FAISS vectors) is resumable: each batch's vectors are saved in the build folder
before its chunks are committed, so a killed first ingest, run again with the same model and chunking,
keeps what it had embedded (files unchanged since) and embeds only the rest.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import index as index_layout
from . import vector_store
from .chunking import chunk_document, with_items
from .chunkstore import ChunkStore
from .corpus import MAX_FILE_BYTES, SourceFile, content_hash, discover, metadata_hash, path_text, printable
from .embedding import Encoder
from .errors import CorpusError, ExtractionUnavailableError, IndexMismatchError
from .extraction import Loader
from .ocr import OcrOptions
from .pages import source_roots
from .progress import Progress
from .settings import Settings
from .sparse import SparseIndex
from .tokenizing import default_tokenizer
from .types import Document, IngestReport

log = logging.getLogger(__name__)

# 3: PDF, DOCX and HTML tables read as row lines with their headers (tables.py)
CHUNKER_VERSION = 3
# Tesseract's own limit per page, as a share of extract_timeout: a stuck page is stopped and reported
# while the worker's clock (rendering included) still runs, so the file's other pages are kept.
_OCR_PAGE_SHARE = 0.8


def _under(key: str, folders: list[str]) -> bool:
    return any(key == folder or key.startswith(folder.rstrip("/") + "/") for folder in folders)


@dataclass
class Loaded:
    """The load step's outcome: documents to index, keys of unchanged files, failures, warnings, and
    the failure record of the files that failed in a way worth remembering (key -> record)."""

    documents: list[tuple[SourceFile, Document, str, str]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    failures: dict[str, dict] = field(default_factory=dict)


REMEMBERED = "unchanged since it last failed; `council-assistant ingest --retry-failed` tries it again"


def load_sources(sources: list[SourceFile], old_files: dict, settings: Settings,
                 remembered: dict[str, dict] | None = None, context: str = "",
                 progress: Progress | None = None) -> Loaded:
    """Read every source and extract the new or changed ones, each in the worker under
    `settings.extract_timeout`. A file that fails is one line in `failed` and never stops the rest.

    A file in `remembered` (the failure record) whose bytes, metadata and `context` (see
    `failure_context`) are those it failed with is not extracted again, only reported again."""
    out = Loaded()
    remembered = remembered or {}
    progress = progress or Progress()
    extract, ocr_pages = progress.phase("extract", len(sources), "files"), progress.phase("ocr", None, "pages")
    log.info("checking %d file(s) for changes", len(sources))
    ocr = OcrOptions(settings.ocr, page_timeout=_OCR_PAGE_SHARE * settings.extract_timeout,
                     max_pages=settings.ocr_max_pages, max_pixels=int(settings.ocr_max_megapixels * 1e6))
    with Loader(settings.extract_timeout, settings.pdf_password, settings.default_council, ocr,
                settings.progress) as loader:
        for source in sources:
            extract.advance(files=1)
            shown = path_text(source.path)
            try:
                size = source.path.stat().st_size
                if size > MAX_FILE_BYTES:
                    out.failed.append((shown, f"{size / 2**20:,.0f} MB, more than the {MAX_FILE_BYTES // 2**20:,} MB "
                                              "allowed for one file; split it or remove it"))
                    continue
                data = source.path.read_bytes()
            except OSError as exc:
                out.failed.append((shown, f"cannot read ({exc.strerror or exc}); check its permissions"))
                continue
            chash, mhash = content_hash(data), metadata_hash(source.meta)
            old = old_files.get(source.key)
            if old and old["content_hash"] == chash and old["meta_hash"] == mhash:
                out.unchanged.append(source.key)
                continue
            fingerprint = {"content_hash": chash, "meta_hash": mhash, "context": context}
            before = remembered.get(source.key)
            if _failed_as(before, fingerprint):
                out.failed.append((shown, f"{before['error']} ({REMEMBERED})"))
                out.failures[source.key] = before
                continue
            log.debug("extracting %s", printable(shown))
            try:
                document = loader.load(source, data)
            except CorpusError as exc:
                message = _one_line(str(exc).removeprefix(f"{source.path}: "))
                out.failed.append((shown, message))
                if not isinstance(exc, ExtractionUnavailableError):
                    out.failures[source.key] = {**fingerprint, "error": message}
                continue
            except Exception as exc:  # a loader bug must not abort the whole ingest
                log.exception("%s: unexpected error while loading", printable(shown))
                message = _one_line(f"could not be read ({type(exc).__name__}: {exc})")
                out.failed.append((shown, message))
                out.failures[source.key] = {**fingerprint, "error": message}
                continue
            out.warnings.extend((shown, _one_line(w)) for w in document.warnings)
            out.documents.append((source, document, chash, mhash))
            if document.meta.ocr_pages:
                ocr_pages.advance(len(document.meta.ocr_pages), files=1)
    extract.end()
    if ocr_pages.done:
        ocr_pages.end()
    log.info("%d file(s) to index, %d unchanged, %d failed", len(out.documents), len(out.unchanged),
             len(out.failed))
    return out


def _failed_as(record: object, fingerprint: dict) -> bool:
    """Whether a failure record is of this very file version (bytes, metadata and context)."""
    return (isinstance(record, dict) and isinstance(record.get("error"), str)
            and all(record.get(k) == v for k, v in fingerprint.items()))


def failure_context(settings: Settings, chunking: dict) -> str:
    """What besides a file's bytes and metadata decides whether it loads: the extraction time limit,
    whether a PDF password is set (not the password), the OCR setting and whether Tesseract runs, the
    chunking and the code of the corpus, reading, table, extraction, OCR, cleaning and chunking stages.
    A remembered failure stands only under the same context, so a raised `extract_timeout`, an
    installed Tesseract or an upgrade tries the file again."""
    from . import __version__, chunking as chunking_module, cleaning, corpus, extraction, ocr, readers, tables
    from . import webpage

    code = hashlib.sha256()
    for module in (corpus, readers, webpage, tables, extraction, cleaning, chunking_module, ocr):
        code.update(Path(module.__file__).read_bytes())
    described = {"extract_timeout": settings.extract_timeout, "pdf_password": bool(settings.pdf_password),
                 "ocr": settings.ocr, "ocr_engine": settings.ocr == "auto" and ocr.unavailable() is None,
                 "chunking": chunking, "version": __version__, "code": code.hexdigest()}
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


def _one_line(message: str, limit: int = 500) -> str:
    message = re.sub(r"\s*[\r\n]+\s*", " ", message).strip()
    return message if len(message) <= limit else message[:limit - 1] + "\u2026"


def resume_key(model_id: str, chunking: dict, precision: str = "fp32") -> str:
    """What a resumable build must share with the run resuming it: the model and its precision, the
    chunking, the format."""
    described = {"model": model_id, "chunking": chunking, "format": index_layout.FORMAT_VERSION}
    if precision != "fp32":  # keeps the keys of fp32 builds begun before the precision was recorded
        described["precision"] = precision
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:12]


def _resumed(build: Path) -> tuple[dict, np.ndarray, np.ndarray]:
    """(the files record, ids, vectors) of what a killed first ingest committed in `build`. A paper
    with a chunk whose vector was not kept is removed from the store, to be embedded again."""
    store = ChunkStore.open(build)
    try:
        ids, vectors = index_layout.embedded_vectors(build, store.last_chunk_id())
        present = store.chunk_ids()
        missing = present[~np.isin(present, ids)]
        for key in store.keys_of(missing):
            store.delete_document(key)
        store.commit()
        keep = np.isin(ids, store.chunk_ids())
        return store.files(), ids[keep], vectors[keep]
    finally:
        store.close()


def _batches(items: list[tuple], size: int) -> list[list[tuple]]:
    """`items` (each ending in its chunks) cut in order into runs of at least `size` chunks (the last
    may be smaller); the same items always cut the same way, so a resumed build matches a whole one."""
    out, run, count = [], [], 0
    for item in items:
        run.append(item)
        count += len(item[-1])
        if count >= size:
            out.append(run)
            run, count = [], 0
    return out + [run] if run else out


def ingest(paths: list[Path], settings: Settings, encoder: Encoder, rebuild: bool = False,
           retry_failed: bool = False, progress: Progress | None = None) -> IngestReport:
    """Bring the index in `settings.index_dir` up to date with `paths`; see the module docstring.
    `retry_failed` (and `rebuild`) extract again the files remembered as failed though unchanged.
    `progress` reports each phase (default: bars when `settings.progress`, else nothing)."""
    started = time.perf_counter()
    progress = progress or Progress("bar" if settings.progress else "off")
    index_dir = settings.index_dir
    chunking = {"chunk_words": settings.chunk_words, "overlap_sentences": settings.chunk_overlap_sentences,
                "version": CHUNKER_VERSION}
    with index_layout.ingest_lock(index_dir):
        index_layout.remove_abandoned(index_dir)
        current = None if rebuild else index_layout.current_build(index_dir)
        old_files: dict = {}
        if current is not None:
            manifest = index_layout.read_manifest(current)
            index_layout.check_model(current, manifest, encoder.model_id, encoder.precision)
            vector_store.check_store(current, manifest, settings)
            if manifest.get("chunking") != chunking:
                raise IndexMismatchError(
                    f"{current}: index was chunked with {manifest.get('chunking')} but the settings say "
                    f"{chunking}; rebuild with `council-assistant ingest --rebuild`")
            old_files = manifest.get("files", {})
        resumable = current is None and settings.vector_store == "faiss"
        key_of_build = resume_key(encoder.model_id, chunking, encoder.precision)
        resumed_build = index_layout.resumable_build(index_dir, key_of_build) if resumable else None
        resumed_ids = np.zeros(0, dtype=np.int64)
        if resumed_build is not None:
            old_files, resumed_ids, resumed_vectors = _resumed(resumed_build)
            log.info("resuming the first build in %s: %d paper(s), %d chunk(s) already embedded",
                     resumed_build.name, len(old_files), len(resumed_ids))

        found = discover(paths, settings.follow_external_links)
        seen_keys = {source.key for source in found.sources} | found.kept
        previous_failures = index_layout.read_failures(index_dir)
        context = failure_context(settings, chunking)
        outcome = load_sources(found.sources, old_files, settings,
                               {} if retry_failed or rebuild else previous_failures, context, progress)
        failed = found.failed + outcome.failed
        warnings = found.skipped + found.warnings + outcome.warnings
        unchanged = [key for key in outcome.unchanged if current is not None or key not in old_files]
        failures = outcome.failures
        loaded = []  # chunked before the build starts, so a file that cannot be chunked fails alone
        for source, document, chash, mhash in outcome.documents:
            try:
                document = with_items(document)
                chunks = chunk_document(document, settings.chunk_words, settings.chunk_overlap_sentences,
                                        settings.extract_timeout)
            except Exception as exc:  # a chunker bug must not abort the whole ingest
                if isinstance(exc, CorpusError):
                    message = _one_line(str(exc).removeprefix(f"{document.path}: "))
                else:
                    log.exception("%s: unexpected error while chunking", printable(source.path))
                    message = _one_line(f"could not be chunked ({type(exc).__name__}: {exc})")
                failed.append((path_text(source.path), message))
                failures[source.key] = {"content_hash": chash, "meta_hash": mhash, "context": context,
                                        "error": message}
                continue
            loaded.append((source, document, chash, mhash, chunks))

        def gone(key: str) -> bool:
            """A key indexed (or remembered) from a scanned folder whose file is no longer there."""
            return key not in seen_keys and _under(key, found.folders) and not _under(key, found.kept_folders)

        removed = [key for key in old_files if gone(key)]
        updated = [s.key for s, *_ in loaded if s.key in old_files]
        added = [s.key for s, *_ in loaded if s.key not in old_files]
        taken = {v["doc_id"]: k for k, v in old_files.items() if k not in removed and k not in updated}
        loaded = _with_unique_ids(loaded, taken, warnings)
        failures = {k: v for k, v in previous_failures.items() if k not in seen_keys and not gone(k)} | failures
        if failures != previous_failures:
            index_layout.write_failures(index_dir, failures)
        report = dict(added=tuple(added), updated=tuple(updated), removed=tuple(removed),
                      unchanged=tuple(unchanged), failed=tuple(failed), warnings=tuple(warnings))
        retokenize = current is not None and manifest.get("tokenizer") != default_tokenizer().to_json()
        if current is None and old_files:  # a resumed first build: every paper it publishes is added
            resumed = [key for key in outcome.unchanged if key in old_files]
            report.update(added=tuple(resumed + updated + added), updated=(), removed=())
            added = list(report["added"])
        if not (added or updated or removed or retokenize):
            return IngestReport(**report, seconds=time.perf_counter() - started)

        tmp = resumed_build or index_layout.new_build_dir(index_dir, key_of_build if resumable else None)
        log.info("writing a new build in %s", tmp)
        if current is not None:
            index_layout.copy_build(current, tmp)
        vectors = vector_store.new_vectors(settings, tmp, encoder.dimension, current,
                                           manifest if current is not None else None)
        store = ChunkStore.open(tmp)
        embed_seconds = 0.0
        try:
            if len(resumed_ids):
                vectors.add(resumed_ids, resumed_vectors, store.filter_fields(resumed_ids))
                del resumed_vectors
            files = {k: v for k, v in old_files.items()}
            retitled = _metadata_only(store, loaded, old_files)
            for key in removed + [key for key in updated if key not in retitled]:
                vectors.remove(store.delete_document(key))
                files.pop(key, None)
            for source, document, chash, mhash, chunks in loaded:
                if source.key in retitled:
                    ids = store.update_meta(source.key, document.meta, mhash)
                    vectors.update_fields(ids, store.filter_fields(ids))
                    files[source.key] = {"doc_id": document.doc_id, "content_hash": chash, "meta_hash": mhash,
                                         "chunks": len(ids)}
            store.commit()
            pending = [item for item in loaded if item[0].key not in retitled]
            del loaded
            total = sum(len(item[-1]) for item in pending)
            log.info("embedding %d chunk(s)", total)
            embedding = progress.phase("embed", total, "chunks")
            for batch in _batches(pending, settings.ingest_batch_chunks):
                new_chunks = []
                for source, document, chash, mhash, chunks in batch:
                    store.put_document(document, source.key, chash, mhash)
                    new_chunks.extend(chunks)
                    files[source.key] = {"doc_id": document.doc_id, "content_hash": chash, "meta_hash": mhash,
                                         "chunks": len(chunks)}
                embed_started = time.perf_counter()
                vectors_new, sentence_vectors = encoder.embed_chunks(new_chunks)
                embed_seconds += time.perf_counter() - embed_started
                ids = store.put_chunks(new_chunks, sentence_vectors)
                vectors.add(ids, vectors_new, store.filter_fields(ids))
                if resumable and len(ids):
                    index_layout.save_embedded(tmp, ids, vectors_new)
                store.commit()
                embedding.advance(len(new_chunks), files=len(batch), chunks=len(new_chunks))
                log.info("batch written: %d of %d chunk(s) embedded", embedding.done, total)
            embedding.end()
            del pending
            writing = progress.phase("write", 3, "steps")
            vectors = vectors.fitted()
            if len(vectors) != store.chunk_count():
                raise RuntimeError(f"index out of step: {len(vectors)} vectors for {store.chunk_count()} chunks")
            vectors.save(tmp)
            writing.advance(chunks=len(vectors))
            sparse = SparseIndex.build_streamed(store.iter_index_texts)
            sparse.save(tmp)
            writing.advance()
        finally:
            store.close()
            vector_store.close_vectors(vectors)
        index_layout.drop_embedded(tmp)
        log.info("publishing %s", tmp.name)
        index_layout.publish(index_dir, tmp, {
            "format": index_layout.FORMAT_VERSION,
            "embedding_model": encoder.model_id,
            "encoder": encoder.record(),
            "dimension": vectors.dimension,
            "vector_store": vectors.description,
            "vectors": vectors.record,
            "chunking": chunking,
            "tokenizer": default_tokenizer().to_json(),
            "files": files,
            "roots": source_roots(paths, manifest.get("roots") if current is not None else None),
            "documents": len(files),
            "chunks": len(sparse.ids),
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        })
        writing.advance()
        writing.end()
        vector_store.drop_superseded_vectors(
            settings, [vectors.record, vector_store.vectors_record(manifest) if current is not None else {}])
        encoder.prepare()
        return IngestReport(**report, chunks_embedded=total, seconds=time.perf_counter() - started,
                            embed_seconds=embed_seconds)


def _metadata_only(store: ChunkStore, loaded: list[tuple], old_files: dict) -> set[str]:
    """Keys of the loaded files of which only the manifest entry changed: same bytes as indexed, and
    text and pages read as stored. Their chunks, vectors and sentence vectors are kept and only their
    metadata updated, so a new title or date costs no embedding. A file whose new id is the old id of
    another such file (two ids swapped) is indexed again instead, since ids change one at a time."""
    same: dict[str, tuple[str, str]] = {}
    for source, document, chash, _, _ in loaded:
        old = old_files.get(source.key)
        if old and old["content_hash"] == chash:
            stored = store.document(old["doc_id"])
            if stored is not None and (stored.text, stored.page_starts) == (document.text, document.page_starts):
                same[source.key] = (old["doc_id"], document.doc_id)
    old_ids = {old for old, _ in same.values()}
    return {key for key, (old, new) in same.items() if new == old or new not in old_ids}


def _with_unique_ids(loaded: list[tuple], taken: dict[str, str], warnings: list[tuple[str, str]]) -> list[tuple]:
    """`loaded` with each document's id made unique against `taken` (id -> key, updated in place)
    and the others. Ids the manifest gives are placed before generated ones; an id given in the
    manifest but already taken is one line in `warnings`."""
    out = []
    for source, document, chash, mhash, chunks in sorted(loaded, key=lambda item: not item[0].meta.get("id")):
        doc_id = document.doc_id
        if doc_id in taken:
            digest = hashlib.sha1(source.key.encode("utf-8", "backslashreplace")).hexdigest()[:6]
            unique, count = f"{doc_id}-{digest}", 2
            while unique in taken:
                unique, count = f"{doc_id}-{digest}-{count}", count + 1
            if source.meta.get("id"):
                warnings.append((path_text(source.path), f"manifest id {doc_id!r} is already the id of {taken[doc_id]}; "
                                                         f"indexed as {unique!r}; give it another id"))
            document = replace(document, meta=replace(document.meta, doc_id=unique))
            chunks = [replace(c, doc_id=unique) for c in chunks]
        taken[document.doc_id] = source.key
        out.append((source, document, chash, mhash, chunks))
    return out
