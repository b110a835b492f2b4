"""The on-disk index: builds written beside each other and swapped in atomically.

Layout of the index folder:
    current -> builds/<id>      symlink, replaced atomically (rename) once a build is complete
    builds/<id>/                vectors.faiss (or a Milvus collection the manifest names), chunks.sqlite3,
                                bm25/, manifest.json
    .lock                       held by the one ingest allowed at a time
    failures.json               files that failed to load, by content and metadata hash (see ingest.py);
                                kept beside the builds, so it outlives every publish
    models/                     the embedding model exported to ONNX (see embedding.py), shared by builds
    builds/.resume-<key>-<id>/  a first build in progress that a killed ingest resumes: its chunk store
                                committed batch by batch, and embedded/ the vectors of each batch
A crash at any point leaves `current` pointing at the last complete build.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import re
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np

from .chunkstore import ChunkStore
from .errors import IndexDamagedError, IndexMismatchError, IndexNotFoundError
from .sparse import FOLDER as SPARSE_FOLDER, SparseIndex
from .types import SearchFilters
from .vector_store import close_vectors, open_vectors
from .vectors import FILE_NAME as VECTORS_FILE

if TYPE_CHECKING:
    from .settings import Settings
    from .vector_store import Vectors

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
CURRENT = "current"
BUILDS = "builds"
MANIFEST = "manifest.json"
RESUME = ".resume-"
EMBEDDED = "embedded"
MODELS = "models"
FAILURES = "failures.json"
FAILURES_FORMAT = 1
# councils with at most this many chunks get BM25 statistics of their own (see Index.sparse_for); an
# index over 50,000 chunks builds in a few seconds, once per build and council
LOCAL_BM25_LIMIT = 50_000


@dataclass
class Index:
    """A loaded, read-only index build."""

    folder: Path
    manifest: dict
    store: ChunkStore
    vectors: "Vectors"
    sparse: SparseIndex
    _council_sparse: dict = field(default_factory=dict, repr=False)
    _council_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, index_dir: Path, settings: "Settings | None" = None) -> "Index":
        """The current build; `settings` name the vector store expected and where Milvus answers
        (without them, the manifest's record is trusted)."""
        build = current_build(index_dir)
        if build is None:
            raise IndexNotFoundError(
                f"{index_dir}: no index yet; build one with `council-assistant ingest corpus/`")
        manifest = read_manifest(build)
        vectors = open_vectors(build, manifest, settings)
        try:
            store = ChunkStore.open(build, readonly=True)
            return cls(folder=build, manifest=manifest, store=store, vectors=vectors,
                       sparse=SparseIndex.load(build))
        except BaseException:
            close_vectors(vectors)
            raise

    def check_model(self, model_id: str, precision: str = "fp32") -> None:
        check_model(self.folder, self.manifest, model_id, precision)

    def sparse_for(self, filters: SearchFilters, allowed: np.ndarray | None) -> tuple[SparseIndex, np.ndarray | None]:
        """The BM25 index to search under `filters`, and the ids to mask it with.

        Councils are bodies apart: how rare a word is in other councils' papers says nothing about
        how telling it is in this one's. So a search kept to councils (a council's deployment over a
        shared archive, or a question naming a council) ranks with BM25 statistics of those councils'
        papers alone, exactly as an index of their own would, from an index built over their chunks
        on first use and kept for this build. Beyond LOCAL_BM25_LIMIT chunks, and without a council
        filter, the whole index is searched with `allowed` as a mask.

        A search that must not see restricted papers (`public_only`) always ranks with statistics of
        the public papers alone (of its councils, if any), whatever their number: a mask would hide
        restricted chunks but leave their words in the document frequencies, so a restricted paper
        would still move what a public user sees."""
        if not filters.councils and not filters.public_only:
            return self.sparse, allowed
        key = (tuple(sorted(c.lower() for c in filters.councils)), filters.public_only)
        with self._council_lock:
            local = self._council_sparse.get(key)
            if local is None:
                ids = self.store.matching_ids(SearchFilters(councils=key[0], public_only=filters.public_only))
                if len(ids) == len(self.sparse.ids):  # these papers are the whole index
                    local = self.sparse
                elif len(ids) <= LOCAL_BM25_LIMIT or filters.public_only:
                    local = SparseIndex.build_streamed(lambda: self._index_rows(ids), self.sparse.tokenizer)
                else:
                    local = False
                self._council_sparse[key] = local
        if local is False:
            return self.sparse, allowed
        only_scope = not (filters.since or filters.until or filters.doc_types)
        return local, None if only_scope else allowed

    def _index_rows(self, ids: np.ndarray, batch: int = 10_000) -> Iterator[list[tuple[int, str]]]:
        """(chunk id, text BM25 indexes) of `ids` in batches, so a local BM25 index is built without
        holding the text of all its chunks."""
        for first in range(0, len(ids), batch):
            part = ids[first:first + batch]
            yield list(zip((int(i) for i in part), self.store.index_texts(part)))

    def close(self) -> None:
        self.store.close()
        close_vectors(self.vectors)


def check_model(folder: Path, manifest: dict, model_id: str, precision: str = "fp32") -> None:
    """Refuse an index built with another embedding model or encoder precision: its vectors would not
    be comparable with the query's. An index from before the precision was recorded was built in fp32."""
    built_with = manifest.get("embedding_model")
    if built_with != model_id:
        raise IndexMismatchError(
            f"{folder}: index was built with embedding model {built_with!r} but the settings name "
            f"{model_id!r}; set embedding_model back or rebuild with `council-assistant ingest --rebuild`")
    built = built_precision(manifest)
    if built != precision:
        raise IndexMismatchError(
            f"{folder}: index was built with encoder_precision={built!r} but the settings say "
            f"{precision!r}; set encoder_precision back or rebuild with "
            "`council-assistant ingest --rebuild`")


def built_precision(manifest: dict) -> str:
    """The encoder precision that built an index: fp32 for an index from before it was recorded."""
    return str((manifest.get("encoder") or {}).get("precision", "fp32"))


def current_build(index_dir: Path) -> Path | None:
    link = index_dir / CURRENT
    if not link.is_symlink():
        return None
    target = (index_dir / os.readlink(link)).resolve()
    return target if (target / MANIFEST).is_file() else None


def read_manifest(build: Path) -> dict:
    """The build's manifest; IndexDamagedError naming the file when it cannot be read as one."""
    path = build / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexDamagedError(f"{path}: cannot be read ({exc}); rebuild with "
                                "`council-assistant ingest --rebuild`") from exc
    if not isinstance(manifest, dict):
        raise IndexDamagedError(f"{path}: not a manifest (a JSON object expected); rebuild with "
                                "`council-assistant ingest --rebuild`")
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexMismatchError(f"{build}: index format {manifest.get('format')} is not {FORMAT_VERSION}; "
                                 "rebuild with `council-assistant ingest --rebuild`")
    return manifest


@contextlib.contextmanager
def ingest_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index's ingest lock; a second ingest waits for the first to finish."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("%s: another ingest is running; waiting for it to finish", index_dir)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_failures(index_dir: Path) -> dict[str, dict]:
    """The record of files that failed to load: key -> {content_hash, meta_hash, context, error}.
    A missing or unreadable record is empty: every failed file is then simply tried again."""
    path = index_dir / FAILURES
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("%s: cannot be read (%s); files that failed before are tried again", path, exc)
        return {}
    files = record.get("files") if isinstance(record, dict) and record.get("format") == FAILURES_FORMAT else None
    return files if isinstance(files, dict) else {}


def write_failures(index_dir: Path, files: dict[str, dict]) -> None:
    """Replace the failure record atomically (a crash leaves the old record or the new one)."""
    path = index_dir / FAILURES
    tmp = index_dir / f".{FAILURES}-{uuid.uuid4().hex[:8]}"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump({"format": FAILURES_FORMAT, "files": files}, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def remove_abandoned(index_dir: Path) -> list[str]:
    """Remove what a killed ingest left behind: unfinished builds (builds/.tmp-*) and temporary
    `current` links and failure records. Call only under the ingest lock, where none is live;
    the names removed."""
    leftovers = [p for p in index_dir.glob(f".{CURRENT}-*") if p.is_symlink()]
    leftovers += list(index_dir.glob(f".{FAILURES}-*"))
    if (index_dir / BUILDS).is_dir():
        leftovers += [p for p in (index_dir / BUILDS).glob(".tmp-*") if p.is_dir() and not p.is_symlink()]
    for path in leftovers:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if leftovers:
        log.info("removed %d leftover(s) of an interrupted ingest: %s", len(leftovers),
                 ", ".join(p.name for p in leftovers))
    return [p.name for p in leftovers]


def new_build_dir(index_dir: Path, resume_key: str | None = None) -> Path:
    """A new build folder: temporary (removed by the next ingest if this one is killed) or, with
    `resume_key`, resumable (found again by `resumable_build` with the same key)."""
    builds = index_dir / BUILDS
    builds.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    prefix = ".tmp-" if resume_key is None else f"{RESUME}{resume_key}-"
    folder = builds / f"{prefix}{stamp}-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    return folder


def resumable_build(index_dir: Path, resume_key: str) -> Path | None:
    """The resumable build a killed ingest left with this key (made by the same model and chunking),
    ready to take more batches: what it wrote after its last batch (vectors, BM25, manifest) is
    removed. Resumable builds of other keys are removed; None when there is none."""
    builds = index_dir / BUILDS
    found = None
    for folder in sorted(builds.glob(f"{RESUME}*")) if builds.is_dir() else []:
        if found is None and folder.is_dir() and folder.name.startswith(f"{RESUME}{resume_key}-"):
            found = folder
        else:
            shutil.rmtree(folder, ignore_errors=True)
    if found is not None:
        shutil.rmtree(found / SPARSE_FOLDER, ignore_errors=True)
        for name in (MANIFEST, VECTORS_FILE):
            (found / name).unlink(missing_ok=True)
    return found


def save_embedded(build: Path, ids: np.ndarray, vectors: np.ndarray) -> None:
    """Keep one batch's chunk vectors in the build's embedded/ folder, durably, before the chunk store
    commits the batch (so a committed chunk always has its vector saved)."""
    folder = build / EMBEDDED
    folder.mkdir(exist_ok=True)
    target = folder / f"{int(ids[0]):012d}.npz"
    tmp = folder / f".{target.name}.tmp"
    with open(tmp, "wb") as handle:
        np.savez(handle, ids=ids, vectors=vectors)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)


def embedded_vectors(build: Path, last_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of the batches saved in the build, in id order. A batch with ids above
    `last_id` (the store's last committed chunk id) was saved but never committed: those ids will be
    given again, so its file is deleted."""
    ids, vectors = [], []
    folder = build / EMBEDDED
    for path in sorted(folder.glob("*.npz")) if folder.is_dir() else []:
        try:
            with np.load(path) as batch:
                batch_ids, batch_vectors = batch["ids"], batch["vectors"]
        except (OSError, ValueError, KeyError) as exc:
            log.warning("%s: cannot be read (%s); its chunks are embedded again", path, exc)
            path.unlink(missing_ok=True)
            continue
        if len(batch_ids) and int(batch_ids.max()) > last_id:
            path.unlink(missing_ok=True)
            continue
        ids.append(batch_ids)
        vectors.append(batch_vectors)
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(ids), np.concatenate(vectors)


def drop_embedded(build: Path) -> None:
    """Remove the saved batches once their vectors are in the build's vector store."""
    shutil.rmtree(build / EMBEDDED, ignore_errors=True)


def copy_build(source: Path, target: Path) -> None:
    """Copy the chunk store of a complete build into a new (temporary) build folder."""
    src = ChunkStore.open(source, readonly=True)
    dst = ChunkStore.open(target)
    try:
        src.db.backup(dst.db)
    finally:
        src.close()
        dst.close()


def publish(index_dir: Path, tmp: Path, manifest: dict) -> Path:
    """Write the manifest, make the build durable and point `current` at it atomically."""
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    for path in tmp.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    final = tmp.with_name(re.sub(rf"^(\.tmp-|{re.escape(RESUME)}[0-9a-f]+-)", "", tmp.name))
    tmp.rename(final)
    link_tmp = index_dir / f".{CURRENT}-{uuid.uuid4().hex[:8]}"
    os.symlink(os.path.relpath(final, index_dir), link_tmp)
    os.replace(link_tmp, index_dir / CURRENT)
    _fsync_dir(index_dir)
    _remove_old_builds(index_dir, keep=final)
    return final


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_old_builds(index_dir: Path, keep: Path) -> None:
    """Remove superseded and abandoned builds. Open readers keep their files (POSIX unlink semantics)."""
    for folder in (index_dir / BUILDS).iterdir():
        if folder != keep:
            shutil.rmtree(folder, ignore_errors=True)
