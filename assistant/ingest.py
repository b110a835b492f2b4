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

Loading streams: each file is read (loading.py), chunked and put in the build in turn, and new chunks
are embedded and written in batches of `ingest_batch_chunks`, so the first batch is embedded once its
papers are read and memory holds one batch of papers (and the next one, read and chunked by a thread
while the batch is embedded), not the archive. Papers go in in the order the
whole-archive ingest used (those with a manifest id first, then discovery order), so the build is the
same however large the batches. A sentence met again in a later batch is not encoded again (the
encoder's `remembering`, bounded). A first build (no current
build, or --rebuild; FAISS vectors) is resumable: each batch's vectors are saved in the build folder
before its chunks are committed, so a killed first ingest, run again with the same model and chunking,
keeps what it had embedded (files unchanged since) and embeds only the rest.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import index as index_layout
from . import vector_store
from .chunkstore import ChunkStore
from .corpus import discover, path_text
from .embedding import Encoder
from .errors import IndexMismatchError
from .loading import Read, Reader, Stream, failure_context, load_sources
from .pages import source_roots
from .progress import Progress
from .settings import Settings
from .sparse import SparseIndex
from .tokenizing import default_tokenizer
from .types import IngestReport

log = logging.getLogger(__name__)

__all__ = ["CHUNKER_VERSION", "failure_context", "ingest", "load_sources", "resume_key"]

# 3: PDF, DOCX and HTML tables read as row lines with their headers (tables.py)
CHUNKER_VERSION = 3


def _under(key: str, folders: list[str]) -> bool:
    return any(key == folder or key.startswith(folder.rstrip("/") + "/") for folder in folders)


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


class _Build:
    """The new build an ingest writes, opened at its first change: a copy of the current build (or the
    resumed one) with the removed papers deleted, then each paper put in as it comes (its old version
    deleted, or only its metadata updated), its chunks embedded and committed a batch of at least
    `ingest_batch_chunks` at a time. Use as a context manager: it closes the store and the vectors."""

    def __init__(self, settings: Settings, encoder: Encoder, progress: Progress, current: Path | None,
                 manifest: dict | None, old_files: dict, removed: list[str], key_of_build: str | None,
                 resumed_build: Path | None, resumed: tuple[np.ndarray, np.ndarray] | None) -> None:
        self.settings, self.encoder, self.progress = settings, encoder, progress
        self.current, self.manifest, self.old_files, self.removed = current, manifest, old_files, removed
        self.key_of_build, self.resumed_build, self.resumed = key_of_build, resumed_build, resumed
        self.files = dict(old_files)
        self.tmp: Path | None = None
        self.store: ChunkStore | None = None
        self.vectors = None
        self.stream: Stream | None = None
        self.batch: list[Read] = []
        self.batch_chunks = self.embedded = self.papers_embedded = 0
        self.embed_seconds = 0.0
        self._holder = {v["doc_id"]: k for k, v in old_files.items()}  # id -> key, as the store holds them
        self._id_of = {k: v["doc_id"] for k, v in old_files.items()}
        self._old_owner = dict(self._holder)
        self._same: dict[str, bool] = {}

    def __enter__(self) -> "_Build":
        return self

    def __exit__(self, *exc) -> None:
        if self.store is not None:
            self.store.close()
            vector_store.close_vectors(self.vectors)

    def open(self) -> None:
        if self.store is not None:
            return
        self.tmp = self.resumed_build or index_layout.new_build_dir(self.settings.index_dir, self.key_of_build)
        log.info("writing a new build in %s", self.tmp)
        if self.current is not None:
            index_layout.copy_build(self.current, self.tmp)
        self.vectors = vector_store.new_vectors(self.settings, self.tmp, self.encoder.dimension, self.current,
                                                self.manifest)
        self.store = ChunkStore.open(self.tmp)
        self.embedding = self.progress.phase("embed", None, "chunks")
        if self.resumed is not None and len(self.resumed[0]):
            ids, vectors = self.resumed
            self.vectors.add(ids, vectors, self.store.filter_fields(ids))
        self.resumed = None
        for key in self.removed:
            self.vectors.remove(self.store.delete_document(key))
            self._hold(key, None)
            self.files.pop(key, None)

    def put(self, read: Read) -> None:
        """Put a paper to index (its final id given) in the build."""
        self.open()
        key, document = read.source.key, read.document
        retitled = self._retitled(read)
        if key in self.old_files and not retitled:
            self.vectors.remove(self.store.delete_document(key))
            self._hold(key, None)
        self._clear(document.doc_id, key)
        entry = {"doc_id": document.doc_id, "content_hash": read.chash, "meta_hash": read.mhash}
        self._hold(key, document.doc_id)
        if retitled:
            ids = self.store.update_meta(key, document.meta, read.mhash)
            self.vectors.update_fields(ids, self.store.filter_fields(ids))
            self.files[key] = {**entry, "chunks": len(ids)}
            return
        self.store.put_document(document, key, read.chash, read.mhash)
        self.files.pop(key, None)
        self.files[key] = {**entry, "chunks": len(read.chunks)}
        self.batch.append(read)
        self.batch_chunks += len(read.chunks)
        if self.batch_chunks >= self.settings.ingest_batch_chunks:
            self.flush()

    def flush(self) -> None:
        """Embed the batch's chunks and commit them with its papers (and any deletion or metadata
        update before them); in a resumable build, the vectors are saved first."""
        chunks = [chunk for read in self.batch for chunk in read.chunks]
        if chunks:
            log.info("embedding %d chunk(s) of %d paper(s)", len(chunks), len(self.batch))
            started = time.perf_counter()
            vectors, sentence_vectors = self.encoder.embed_chunks(chunks)
            self.embed_seconds += time.perf_counter() - started
            ids = self.store.put_chunks(chunks, sentence_vectors)
            self.vectors.add(ids, vectors, self.store.filter_fields(ids))
            if self.key_of_build is not None and len(ids):
                index_layout.save_embedded(self.tmp, ids, vectors)
        if self.store is not None:
            self.store.commit()
        if self.batch:
            self.embedded += len(chunks)
            self.papers_embedded += len(self.batch)
            self.embedding.advance(len(chunks), files=len(self.batch), chunks=len(chunks))
            log.info("batch written: %d of the chunk(s) so far embedded, from %d paper(s)", self.embedded,
                     self.papers_embedded)
        self.batch, self.batch_chunks = [], 0

    def same(self, key: str) -> bool:
        """Whether the paper `key` is indexed in this run with the bytes, text and pages the build
        holds for it: only its manifest entry changed. Known before its row changes."""
        if key not in self._same:
            read = self.stream.peek(key) if self.stream is not None else None
            self._same[key] = self._same_as_stored(read)
        return self._same[key]

    def _same_as_stored(self, read: Read | None) -> bool:
        old = None if read is None else self.old_files.get(read.source.key)
        if old is None or read.document is None or old["content_hash"] != read.chash:
            return False
        stored = self.store.document(old["doc_id"])
        return stored is not None and (stored.text, stored.page_starts) == (read.document.text,
                                                                            read.document.page_starts)

    def _retitled(self, read: Read) -> bool:
        """Whether only the metadata of this paper changes: its chunks, vectors and sentence vectors
        are kept, so a new title or date costs no embedding. A paper whose new id is the old id of
        another such paper (two ids swapped) is indexed again instead, since ids change one at a time."""
        key = read.source.key
        if key not in self._same:
            self._same[key] = self._same_as_stored(read)
        if not self._same[key]:
            return False
        new = read.document.doc_id
        if new == self.old_files[key]["doc_id"]:
            return True
        other = self._old_owner.get(new)
        return other is None or not self.same(other)

    def _clear(self, doc_id: str, key: str) -> None:
        """Move aside the paper that the build still holds under `doc_id` (one indexed again in this
        run, not yet come to its turn) so that `key` can take the id."""
        holder = self._holder.get(doc_id)
        if holder is None or holder == key:
            return
        self.same(holder)
        aside = f"\x00{holder}"
        meta = self.store.document(doc_id).meta
        self.store.update_meta(holder, replace(meta, doc_id=aside), self.old_files[holder]["meta_hash"])
        self._hold(holder, aside)

    def _hold(self, key: str, doc_id: str | None) -> None:
        held = self._id_of.pop(key, None)
        if held is not None and self._holder.get(held) == key:
            del self._holder[held]
        if doc_id is not None:
            self._holder[doc_id], self._id_of[key] = key, doc_id


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
        manifest: dict | None = None
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
        resumed = None
        if resumed_build is not None:
            old_files, *resumed = _resumed(resumed_build)
            log.info("resuming the first build in %s: %d paper(s), %d chunk(s) already embedded",
                     resumed_build.name, len(old_files), len(resumed[0]))

        found = discover(paths, settings.follow_external_links)
        seen_keys = {source.key for source in found.sources} | found.kept
        previous_failures = index_layout.read_failures(index_dir)
        context = failure_context(settings, chunking)

        def gone(key: str) -> bool:
            """A key indexed (or remembered) from a scanned folder whose file is no longer there."""
            return key not in seen_keys and _under(key, found.folders) and not _under(key, found.kept_folders)

        removed = [key for key in old_files if gone(key)]
        retokenize = current is not None and manifest.get("tokenizer") != default_tokenizer().to_json()
        remembered = {} if retry_failed or rebuild else previous_failures
        sources = found.sources
        log.info("checking %d file(s) for changes", len(sources))
        build = _Build(settings, encoder, progress, current, manifest, old_files, removed,
                       key_of_build if resumable else None, resumed_build, resumed)
        remembering = getattr(encoder, "remembering", None)  # the real encoder's; fakes have none
        with build, remembering() if remembering is not None else contextlib.nullcontext():
            with Reader(len(sources), old_files, settings, remembered, context, progress) as reader, \
                    Stream(sources, reader, settings, context, settings.ingest_batch_chunks) as stream:
                build.stream = stream
                listed = _index_stream(stream, build, old_files, removed)
            build.flush()
            failed = found.failed + listed.failed
            warnings = found.skipped + found.warnings + listed.warnings
            failures = {k: v for k, v in previous_failures.items()
                        if k not in seen_keys and not gone(k)} | listed.failures
            if failures != previous_failures:
                index_layout.write_failures(index_dir, failures)
            added, updated = listed.added, listed.updated
            unchanged = [key for key in listed.unchanged if current is not None or key not in old_files]
            log.info("%d file(s) indexed, %d unchanged, %d failed", len(added) + len(updated),
                     len(listed.unchanged), len(listed.failed))
            report = dict(added=tuple(added), updated=tuple(updated), removed=tuple(removed),
                          unchanged=tuple(unchanged), failed=tuple(failed), warnings=tuple(warnings))
            if current is None and old_files:  # a resumed first build: every paper it publishes is added
                resumed_keys = [key for key in listed.unchanged if key in old_files]
                report.update(added=tuple(resumed_keys + updated + added), updated=(), removed=())
                added = list(report["added"])
            if not (added or updated or removed or retokenize):
                return IngestReport(**report, seconds=time.perf_counter() - started)
            build.open()
            build.store.commit()
            build.embedding.total = build.embedding.done
            build.embedding.end()
            tmp, store = build.tmp, build.store
            writing = progress.phase("write", 3, "steps")
            vectors = build.vectors = build.vectors.fitted()
            if len(vectors) != store.chunk_count():
                raise RuntimeError(f"index out of step: {len(vectors)} vectors for {store.chunk_count()} chunks")
            vectors.save(tmp)
            writing.advance(chunks=len(vectors))
            sparse = SparseIndex.build_streamed(store.iter_index_texts)
            sparse.save(tmp)
            writing.advance()
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
            "files": build.files,
            "roots": source_roots(paths, manifest.get("roots") if current is not None else None),
            "documents": len(build.files),
            "chunks": len(sparse.ids),
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        })
        writing.advance()
        writing.end()
        vector_store.drop_superseded_vectors(
            settings, [vectors.record, vector_store.vectors_record(manifest) if current is not None else {}])
        encoder.prepare()
        return IngestReport(**report, chunks_embedded=build.embedded, seconds=time.perf_counter() - started,
                            embed_seconds=build.embed_seconds)


@dataclass
class _Listed:
    """What `_index_stream` reports, each list in discovery order (failures to load before failures
    to chunk, and warnings about ids after the others, as the steps come)."""

    added: list[str]
    updated: list[str]
    unchanged: list[str]
    failed: list[tuple[str, str]]
    warnings: list[tuple[str, str]]
    failures: dict[str, dict]


def _index_stream(stream: Stream, build: _Build, old_files: dict, removed: list[str]) -> _Listed:
    """Take each source of `stream` in turn and put each paper to index into `build`, its id made
    unique first: an id the manifest gives is kept unless another paper holds it (then a warning),
    and an id held by a paper indexed again in this run is free if that paper is indexed (it is read
    ahead of its turn to know)."""
    at: dict[str, list[tuple[int, object]]] = {"added": [], "updated": [], "unchanged": [], "failed": [],
                                               "failed_chunking": [], "warnings": []}
    id_warnings: list[tuple[str, str]] = []
    failures: dict[str, dict] = {}
    assigned: dict[str, str] = {}  # id -> key, given in this run
    old_owner = {v["doc_id"]: k for k, v in old_files.items() if k not in removed}

    def holder(doc_id: str, key: str) -> str | None:
        """The key of the paper that keeps `doc_id` from `key`, if any."""
        if doc_id in assigned:
            return assigned[doc_id]
        owner = old_owner.get(doc_id)
        if owner is None or owner == key:
            return None
        read = stream.peek(owner)
        return owner if read is None or read.document is None else None

    for read in stream:
        key, shown = read.source.key, path_text(read.source.path)
        at["warnings"].extend((read.position, w) for w in read.warnings)
        if read.failure is not None:
            at["failed_chunking" if read.chunk_failure else "failed"].append((read.position, (shown, read.failure)))
            if read.record is not None:
                failures[key] = read.record
            continue
        if read.unchanged:
            at["unchanged"].append((read.position, key))
            continue
        doc_id = read.document.doc_id
        taken_by = holder(doc_id, key)
        if taken_by is not None:
            digest = hashlib.sha1(key.encode("utf-8", "backslashreplace")).hexdigest()[:6]
            unique, count = f"{doc_id}-{digest}", 2
            while holder(unique, key) is not None:
                unique, count = f"{doc_id}-{digest}-{count}", count + 1
            if read.source.meta.get("id"):
                id_warnings.append((shown, f"manifest id {doc_id!r} is already the id of {taken_by}; "
                                           f"indexed as {unique!r}; give it another id"))
            read.document = replace(read.document, meta=replace(read.document.meta, doc_id=unique))
            read.chunks = [replace(c, doc_id=unique) for c in read.chunks]
        assigned[read.document.doc_id] = key
        old = old_files.get(key)
        if old is not None and old_owner.get(old["doc_id"]) == key:
            del old_owner[old["doc_id"]]
        at["updated" if old is not None else "added"].append((read.position, key))
        build.put(read)

    def listed(name: str) -> list:
        return [item for _, item in sorted(at[name], key=lambda pair: pair[0])]

    return _Listed(listed("added"), listed("updated"), listed("unchanged"),
                   listed("failed") + listed("failed_chunking"), listed("warnings") + id_warnings, failures)
