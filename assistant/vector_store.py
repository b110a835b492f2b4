"""The one vector-store factory: a build's vectors in FAISS (a file in the build folder) or in a Milvus
collection, chosen by the settings when ingest writes a build and by the build's manifest when it is
read, so that nothing above the storage layer knows which store holds them."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from .chunkstore import ChunkStore
from .errors import IndexMismatchError
from .vectors import FILE_NAME as FAISS_FILE, FaissVectors

if TYPE_CHECKING:
    from .milvus_store import MilvusVectors
    from .settings import Settings

    Vectors = FaissVectors | MilvusVectors

log = logging.getLogger(__name__)


def vectors_record(manifest: dict) -> dict:
    """Where a build's manifest says its vectors are (builds from before Milvus: FAISS)."""
    return manifest.get("vectors") or {"store": "faiss"}


def milvus_uri(settings: "Settings") -> str:
    from .settings import DEFAULT_MILVUS_URI

    return settings.milvus_uri or DEFAULT_MILVUS_URI


def milvus_token(settings: "Settings | None") -> str:
    """The Milvus credentials from the variable `milvus_token_env` names ('' when unset)."""
    return settings.secret("milvus_token") if settings is not None else ""


def check_store(folder: Path, manifest: dict, settings: "Settings") -> None:
    """Refuse to add to a build whose vectors are in another store than the settings name."""
    kept_in = vectors_record(manifest)["store"]
    if kept_in != settings.vector_store:
        raise IndexMismatchError(
            f"{folder}: index keeps its vectors in {kept_in} but the settings name vector_store="
            f"{settings.vector_store!r}; set it back or rebuild with `council-assistant ingest --rebuild`")


def open_vectors(build: Path, manifest: dict, settings: "Settings | None" = None) -> "Vectors":
    """The build's vectors, in the store its manifest records (so a reader needs no store setting);
    a Milvus server is reached at the settings' milvus_uri when set, else at the one ingest used."""
    record = vectors_record(manifest)
    if record["store"] == "milvus":
        from .milvus_store import MilvusVectors

        uri = (settings.milvus_uri if settings is not None else None) or record["uri"]
        return MilvusVectors.open(uri, record, milvus_token(settings))
    return FaissVectors.load(build)


def close_vectors(vectors: "Vectors") -> None:
    close = getattr(vectors, "close", None)
    if close is not None:
        close()


def new_vectors(settings: "Settings", tmp: Path, dimension: int, current: Path | None = None,
                manifest: dict | None = None) -> "Vectors":
    """The vector store of a new build in `tmp`, holding the vectors of the current build's chunks
    (copied into `tmp` already, when there is a current build) so that ingest only adds and removes."""
    if settings.vector_store == "milvus":
        from .milvus_store import MilvusVectors, collection_name

        vectors = MilvusVectors.create(milvus_uri(settings), collection_name(settings.milvus_collection, tmp.name),
                                       dimension, milvus_token(settings))
        if current is not None:
            copied = ChunkStore.open(tmp, readonly=True)
            previous = open_vectors(current, manifest or {}, settings)
            try:
                vectors.copy_from(previous, copied.chunk_ids())
            finally:
                close_vectors(previous)
                copied.close()
        return vectors
    if current is not None:
        shutil.copy2(current / FAISS_FILE, tmp / FAISS_FILE)
        return FaissVectors.load(tmp)
    return FaissVectors.create(dimension)


def drop_superseded_vectors(settings: "Settings", keep: list[dict]) -> None:
    """After a publish: drop the Milvus collections of this index other than those in `keep` (the new
    build's and the one it replaced, which a search begun before the swap may still be reading).
    A failure here only leaves a collection behind; the next publish tries again."""
    if settings.vector_store != "milvus":
        return
    from .milvus_store import drop_stale

    try:
        drop_stale(milvus_uri(settings), settings.milvus_collection,
                   {r["collection"] for r in keep if r.get("store") == "milvus"}, milvus_token(settings))
    except Exception as exc:
        log.warning("could not drop superseded Milvus collections (%s); the next ingest tries again", exc)
