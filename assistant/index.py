"""The on-disk index: builds written beside each other and swapped in atomically.

Layout of the index folder:
    current -> builds/<id>      symlink, replaced atomically (rename) once a build is complete
    builds/<id>/                vectors.faiss, chunks.sqlite3, bm25/, manifest.json
    .lock                       held by the one ingest allowed at a time
    models/                     the embedding model exported to ONNX (see embedding.py), shared by builds
A crash at any point leaves `current` pointing at the last complete build.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .chunkstore import ChunkStore
from .errors import IndexMismatchError, IndexNotFoundError, IngestLockedError
from .sparse import SparseIndex
from .vectors import FaissVectors

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
CURRENT = "current"
BUILDS = "builds"
MANIFEST = "manifest.json"
MODELS = "models"


@dataclass
class Index:
    """A loaded, read-only index build."""

    folder: Path
    manifest: dict
    store: ChunkStore
    vectors: FaissVectors
    sparse: SparseIndex

    @classmethod
    def open(cls, index_dir: Path) -> "Index":
        build = current_build(index_dir)
        if build is None:
            raise IndexNotFoundError(
                f"{index_dir}: no index yet; build one with `council-assistant ingest corpus/`")
        manifest = read_manifest(build)
        return cls(folder=build, manifest=manifest, store=ChunkStore.open(build, readonly=True),
                   vectors=FaissVectors.load(build), sparse=SparseIndex.load(build))

    def check_model(self, model_id: str) -> None:
        check_model(self.folder, self.manifest, model_id)

    def close(self) -> None:
        self.store.close()


def check_model(folder: Path, manifest: dict, model_id: str) -> None:
    built_with = manifest.get("embedding_model")
    if built_with != model_id:
        raise IndexMismatchError(
            f"{folder}: index was built with embedding model {built_with!r} but the settings name "
            f"{model_id!r}; set embedding_model back or rebuild with `council-assistant ingest --rebuild`")


def current_build(index_dir: Path) -> Path | None:
    link = index_dir / CURRENT
    if not link.is_symlink():
        return None
    target = (index_dir / os.readlink(link)).resolve()
    return target if (target / MANIFEST).is_file() else None


def read_manifest(build: Path) -> dict:
    manifest = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexMismatchError(f"{build}: index format {manifest.get('format')} is not {FORMAT_VERSION}; "
                                 "rebuild with `council-assistant ingest --rebuild`")
    return manifest


@contextlib.contextmanager
def ingest_lock(index_dir: Path, wait: bool = True) -> Iterator[None]:
    """Hold the index's ingest lock; a second ingest waits (or, with wait=False, refuses)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise IngestLockedError(f"{index_dir}: another ingest is running; try again when it ends")
            log.warning("%s: another ingest is running; waiting for it to finish", index_dir)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def new_build_dir(index_dir: Path) -> Path:
    builds = index_dir / BUILDS
    builds.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    folder = builds / f".tmp-{stamp}-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    return folder


def copy_build(source: Path, target: Path) -> None:
    """Copy the vectors and chunk store of a complete build into a new (temporary) build folder."""
    shutil.copy2(source / "vectors.faiss", target / "vectors.faiss")
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
    final = tmp.with_name(tmp.name.removeprefix(".tmp-"))
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
