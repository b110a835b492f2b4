"""Dense vector storage in Milvus: one collection per index build, shared by every replica.

A build's collection holds each chunk's id (the chunk store's row id), its vector and the three
document fields searches filter on (date as an integer yyyymmdd, document type, council in lower
case), so date, type and council filters go into Milvus's filter expression and the top-k is cut
after filtering. The collection is named after the build (`<prefix>_<build id>`); the build's
manifest records it, and a replica serves whichever collection the build `current` names, so a
replica never mixes two builds. Publishing keeps the previous build's collection (a search begun on
it just before the swap can finish) and drops older and abandoned ones.

Index type by size, as for FAISS: FLAT (exact) up to FLAT_LIMIT, IVF_FLAT beyond with the same
number of lists and an nprobe of one list in 64 (at a million chunks FAISS's calibration needed 16
of 2,048 lists for recall@10 0.98; 32 gave 0.998).

Filters are written in llama-index's store-neutral vocabulary (`MetadataFilters`) and turned into
Milvus expressions by llama-index's Milvus integration. Its `MilvusVectorStore` is not used for the
rows themselves: it keys rows by string node ids and stores each node's text and JSON beside the
vector, which the chunk store already holds, and a copy between builds needs integer id ranges.
Only the core MilvusClient calls that Milvus 2.3 servers answer are used. This module and
`vectors.py` are the only ones that know which vector store is in use.
"""
from __future__ import annotations

import logging
import re
import time

import numpy as np
from llama_index.core.vector_stores.types import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters

from .errors import SettingsError
from .types import SearchFilters
from .vectors import kind_for, nlist_for

log = logging.getLogger(__name__)

VECTOR = "vector"
MAX_TEXT = 512
_COPY_BATCH = 10_000   # rows per query when copying a build (Milvus caps a query at 16,384)
_INSERT_BATCH = 5_000  # rows per insert (a gRPC message is capped at 64 MB)
_CONNECT_SECONDS = 10.0


def collection_name(prefix: str, build: str) -> str:
    """`<prefix>_<build id>` with the characters Milvus allows (letters, digits, underscores)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{prefix}_{build.removeprefix('.tmp-')}")


def date_number(date: str | None) -> int:
    """'2021-09-15' -> 20210915, '2021-09' -> 20210900, '2021' -> 20210000, none -> 0: ordered as the
    ISO strings are, so the filters mean what they mean on the chunk store."""
    digits = re.findall(r"\d+", date or "")
    if not digits or len(digits[0]) != 4:
        return 0
    parts = [int(d) for d in digits[:3]] + [0, 0]
    return parts[0] * 10_000 + min(parts[1], 99) * 100 + min(parts[2], 99)


def metadata_filters(filters: SearchFilters) -> MetadataFilters | None:
    """The search filters in llama-index's store-neutral filter vocabulary (None when none are set)."""
    conditions = []
    if filters.since:
        conditions.append(MetadataFilter(key="date", operator=FilterOperator.GTE, value=date_number(filters.since)))
    if filters.until:  # an undated paper (0) is not "until" any date, as in the chunk store
        conditions += [MetadataFilter(key="date", operator=FilterOperator.GT, value=0),
                       MetadataFilter(key="date", operator=FilterOperator.LTE, value=date_number(filters.until))]
    if filters.doc_types:
        conditions.append(MetadataFilter(key="doc_type", operator=FilterOperator.IN,
                                         value=[t[:MAX_TEXT] for t in filters.doc_types]))
    if filters.councils:
        conditions.append(MetadataFilter(key="council", operator=FilterOperator.IN,
                                         value=[c.lower()[:MAX_TEXT] for c in filters.councils]))
    return MetadataFilters(filters=conditions, condition=FilterCondition.AND) if conditions else None


def filter_expression(filters: SearchFilters) -> str:
    """The Milvus boolean expression for the filters ('' when none are set), written by llama-index's
    Milvus integration from the store-neutral filters."""
    from llama_index.vector_stores.milvus.utils import parse_standard_filters

    standard = metadata_filters(filters)
    return parse_standard_filters(standard)[1] if standard is not None else ""


def connect(uri: str, token: str = ""):
    """A MilvusClient for `uri` (`token`: "user:password" or an API key, for a server with
    authentication on), or a SettingsError naming the setting when the server does not answer."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise SettingsError("vector_store='milvus' needs the pymilvus package "
                            "(pip install -e '.[milvus]')") from None
    try:
        return MilvusClient(uri=uri, token=token, timeout=_CONNECT_SECONDS)
    except Exception as exc:
        raise SettingsError(f"milvus_uri={uri!r}: cannot connect to Milvus ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}); check that the server runs there "
                            "and, if it has authentication on, that the variable named by milvus_token_env "
                            "holds its credentials") from exc


def _filter_values(fields: dict) -> dict:
    """A chunk's filter fields as the collection stores them (see the module docstring)."""
    return {"date": date_number(fields.get("date")), "doc_type": (fields.get("doc_type") or "")[:MAX_TEXT],
            "council": (fields.get("council") or "").lower()[:MAX_TEXT]}


class MilvusVectors:
    """The vectors of one index build in one Milvus collection."""

    def __init__(self, client, collection: str, dimension: int, uri: str, nprobe: int | None = None) -> None:
        self.client = client
        self.collection = collection
        self._dimension = dimension
        self.uri = uri
        self.nprobe = nprobe

    # -- lifecycle ---------------------------------------------------------------------------------
    @classmethod
    def create(cls, uri: str, collection: str, dimension: int, token: str = "") -> "MilvusVectors":
        from pymilvus import DataType

        client = connect(uri, token)
        if client.has_collection(collection):
            client.drop_collection(collection)
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field(VECTOR, DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_field("date", DataType.INT64)
        schema.add_field("doc_type", DataType.VARCHAR, max_length=MAX_TEXT)
        schema.add_field("council", DataType.VARCHAR, max_length=MAX_TEXT)
        client.create_collection(collection, schema=schema, consistency_level="Strong")
        vectors = cls(client, collection, dimension, uri)
        vectors._index("FLAT", {})  # Milvus 2.3 answers queries and deletes only on a loaded collection
        log.info("created Milvus collection %s at %s", collection, uri)
        return vectors

    @classmethod
    def open(cls, uri: str, record: dict, token: str = "") -> "MilvusVectors":
        client = connect(uri, token)
        collection = record["collection"]
        if not client.has_collection(collection):
            raise FileNotFoundError(f"Milvus collection {collection} not found at {uri}")
        vectors = cls(client, collection, int(record["dimension"]), uri, record.get("nprobe"))
        client.load_collection(collection)
        return vectors

    def close(self) -> None:
        self.client.close()

    @property
    def record(self) -> dict:
        """What the build's manifest keeps to find this collection again (the URI ingest used; a
        reader's milvus_uri may name another way to the same server)."""
        return {"store": "milvus", "uri": self.uri, "collection": self.collection, "dimension": self._dimension,
                "nprobe": self.nprobe}

    @property
    def kind(self) -> str:
        return "flat" if self.nprobe is None else "ivf"

    @property
    def description(self) -> str:
        return "milvus-flat-ip" if self.nprobe is None else f"milvus-ivf-flat-ip-nprobe{self.nprobe}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def __len__(self) -> int:
        rows = self.client.query(self.collection, filter="id >= 0", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    # -- writing -----------------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray, fields: list[dict] | None = None) -> None:
        """Store vectors under ids with their documents' filter fields (date, doc_type, council)."""
        if not len(ids):
            return
        if fields is None or len(fields) != len(ids):
            raise ValueError("Milvus needs each chunk's filter fields (date, doc_type, council)")
        vectors = np.asarray(vectors, dtype=np.float32)
        for start in range(0, len(ids), _INSERT_BATCH):
            rows = [{"id": int(i), VECTOR: v.tolist(), **_filter_values(f)}
                    for i, v, f in zip(ids[start:start + _INSERT_BATCH], vectors[start:start + _INSERT_BATCH],
                                       fields[start:start + _INSERT_BATCH])]
            self.client.insert(self.collection, rows)

    def _rows(self, ids: np.ndarray, fields: list[str]):
        """The stored rows of `ids`, in batches by id range (a query returns at most 16,384 rows)."""
        ids = np.sort(np.asarray(ids, dtype=np.int64))
        for start in range(0, len(ids), _COPY_BATCH):
            batch = ids[start:start + _COPY_BATCH]
            rows = self.client.query(self.collection, filter=f"id >= {batch[0]} and id <= {batch[-1]}",
                                     output_fields=fields, limit=16_384)
            yield sorted(rows, key=lambda r: r["id"])

    def copy_from(self, source: "MilvusVectors", ids: np.ndarray) -> None:
        """Copy the rows of `ids` from another build's collection into this one."""
        fields = ["id", VECTOR, "date", "doc_type", "council"]
        for rows in source._rows(ids, fields):
            for part in range(0, len(rows), _INSERT_BATCH):
                self.client.insert(self.collection, [{k: r[k] for k in fields}
                                                     for r in rows[part:part + _INSERT_BATCH]])

    def update_fields(self, ids: np.ndarray, fields: list[dict]) -> None:
        """New filter fields (date, doc_type, council) for the stored vectors of `ids`, in the order of
        `ids` (their document's metadata changed): each row is upserted with its own vector."""
        new = {int(i): f for i, f in zip(ids, fields)}
        for rows in self._rows(ids, ["id", VECTOR]):
            rows = [{"id": r["id"], VECTOR: r[VECTOR], **_filter_values(new[int(r["id"])])}
                    for r in rows if int(r["id"]) in new]
            for part in range(0, len(rows), _INSERT_BATCH):
                self.client.upsert(self.collection, rows[part:part + _INSERT_BATCH])

    def remove(self, ids: np.ndarray) -> int:
        if not len(ids):
            return 0
        ids = [int(i) for i in ids]
        for start in range(0, len(ids), _COPY_BATCH):
            self.client.delete(self.collection, ids=ids[start:start + _COPY_BATCH])
        return len(ids)

    def _index(self, index_type: str, params: dict) -> None:
        index_params = self.client.prepare_index_params()
        index_params.add_index(field_name=VECTOR, index_name=VECTOR, index_type=index_type, metric_type="IP",
                               params=params)
        self.client.create_index(self.collection, index_params)
        self.client.load_collection(self.collection)

    def fitted(self) -> "MilvusVectors":
        """Index the collection by its size: FLAT (exact, as created) up to FLAT_LIMIT, IVF_FLAT beyond."""
        n = len(self)
        if kind_for(n) == "flat":
            self.nprobe = None
            return self
        nlist = nlist_for(n)
        started = time.perf_counter()
        self.client.release_collection(self.collection)
        self.client.drop_index(self.collection, VECTOR)
        self._index("IVF_FLAT", {"nlist": nlist})
        self.nprobe = max(8, nlist // 64)
        log.info("Milvus %s: %s index over %d vectors in %.1f s", self.collection, self.description, n,
                 time.perf_counter() - started)
        return self

    def save(self, folder) -> None:
        """Nothing to write beside the build: the rows are in Milvus (inserts are durable once
        acknowledged, and ingest's Strong count has seen every one before it publishes)."""

    def drop(self) -> None:
        self.client.drop_collection(self.collection)

    # -- reading -----------------------------------------------------------------------------------
    def search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None,
               filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """Up to k (id, cosine) pairs, best first; the filters run inside Milvus (`allowed`, the chunk
        store's ids for the same filters, is not needed). Searches read with Eventually consistency:
        a build's collection is complete before it is published (ingest's Strong count checks every
        row is there) and never written after, so there is nothing newer to wait for, and Strong
        reads would wait for the server's next time tick (about 350 ms a search at 100k rows here,
        against 32 ms)."""
        if k <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        expression = filter_expression(filters) if filters is not None else ""
        params = {"metric_type": "IP", "params": {"nprobe": self.nprobe} if self.nprobe else {}}
        hits = self.client.search(self.collection, data=[np.asarray(vector, dtype=np.float32).ravel().tolist()],
                                  limit=min(k, 16_384), filter=expression, search_params=params,
                                  consistency_level="Eventually")
        return [(int(h["id"]), float(h["distance"])) for h in hits[0]]


# every component of the standalone server binds to loopback, not to the first address the host has
STANDALONE_LOOPBACK_KEYS = tuple(f"{part}.ip" for part in (
    "rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode"))


def start_standalone(data_dir, authorization: bool = False) -> tuple[object, str]:
    """Start a Milvus standalone server from the PyPI `milvus` package (2.3.x) on loopback with its data
    in `data_dir` (a fresh folder starts in seconds; a reused one can take a minute): (server, URI).
    With `authorization`, clients must log in (the server's first user is root:Milvus). For tests,
    the benchmark and trying the store on one machine; stop it with `server.stop()`."""
    try:
        from milvus import MilvusServer
    except ImportError:
        raise SettingsError("a local Milvus server needs the `milvus` package: pip install milvus==2.3.5") from None
    server = MilvusServer()
    server.set_base_dir(str(data_dir))
    for key in STANDALONE_LOOPBACK_KEYS:
        server.config.set(key, "127.0.0.1")
    server.config.set("authorization_enabled", authorization)
    server.start()
    return server, f"http://127.0.0.1:{server.listen_port}"


def drop_stale(uri: str, prefix: str, keep: set[str], token: str = "") -> list[str]:
    """Drop this index's collections (named `<prefix>_…`) other than `keep`; the names dropped."""
    client = connect(uri, token)
    try:
        pattern = re.compile(re.escape(collection_name(prefix, "")) + r"\d{8}T\d{6}_[0-9a-f]{8}$")
        dropped = [name for name in client.list_collections() if pattern.match(name) and name not in keep]
        for name in dropped:
            client.drop_collection(name)
            log.info("dropped Milvus collection %s (superseded build)", name)
        return dropped
    finally:
        client.close()
