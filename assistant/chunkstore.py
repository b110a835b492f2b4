"""The chunk store: documents and chunks in SQLite, read row by row, never loaded whole.

Chunk row ids are the ids of their vectors in the vector store and are never reused.
"""
from __future__ import annotations

import json
import sqlite3
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np

from .types import Chunk, Document, DocumentMeta, SearchFilters

FILE_NAME = "chunks.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, key TEXT UNIQUE NOT NULL, title TEXT NOT NULL, date TEXT,
    doc_type TEXT NOT NULL, council TEXT, committee TEXT, source TEXT, date_note TEXT,
    text TEXT NOT NULL, page_starts TEXT NOT NULL, content_hash TEXT NOT NULL,
    meta_hash TEXT NOT NULL, warnings TEXT NOT NULL, ocr_pages TEXT NOT NULL DEFAULT '[]',
    items TEXT NOT NULL DEFAULT '[]', access TEXT NOT NULL DEFAULT 'public'
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ord INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, page INTEGER,
    text TEXT NOT NULL, sentences TEXT NOT NULL DEFAULT '[]', sentence_vectors BLOB, heading TEXT DEFAULT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS documents_date ON documents(date);
CREATE INDEX IF NOT EXISTS documents_type ON documents(doc_type);
"""
_META = "doc_id, title, date, doc_type, council, committee, source, date_note"
# columns added after the first release: (table, column, declaration); a store without them is
# brought up to date when opened for writing and read with the column's default otherwise
_ADDED = [("documents", "ocr_pages", "TEXT NOT NULL DEFAULT '[]'"), ("documents", "items", "TEXT NOT NULL DEFAULT '[]'"),
          ("documents", "access", "TEXT NOT NULL DEFAULT 'public'"),
          ("chunks", "heading", "TEXT DEFAULT NULL"), ("documents", "inferred", "TEXT NOT NULL DEFAULT '[]'")]


class ChunkStore:
    """Documents and chunks of one build. A store written before papers had an access level reads
    as all public (no restricted paper could be in it); the next ingest adds the column."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
        self.db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self.db.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            self.db.executescript(SCHEMA)
        self._column = {}
        for table, column, declaration in _ADDED:
            present = column in {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}
            if not present and not readonly:
                self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
                present = True
            self._column[column] = column if present else declaration.split("DEFAULT ", 1)[1]

    @classmethod
    def open(cls, folder: Path, readonly: bool = False) -> "ChunkStore":
        return cls(folder / FILE_NAME, readonly)

    def close(self) -> None:
        self.db.close()

    # -- writing -------------------------------------------------------------------------------
    def put_document(self, document: Document, key: str, content_hash: str, meta_hash: str) -> None:
        m = document.meta
        self.db.execute(
            "INSERT INTO documents (doc_id, key, title, date, doc_type, council, committee, source, date_note, "
            "text, page_starts, content_hash, meta_hash, warnings, ocr_pages, items, access, inferred) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (m.doc_id, key, m.title, m.date, m.doc_type, m.council, m.committee, m.source, m.date_note,
             document.text, json.dumps(list(document.page_starts)), content_hash, meta_hash,
             json.dumps(list(document.warnings)), json.dumps(list(m.ocr_pages)),
             json.dumps([list(item) for item in m.items], ensure_ascii=False), m.access,
             json.dumps(list(m.inferred))),
        )

    def update_meta(self, key: str, meta: DocumentMeta, meta_hash: str) -> np.ndarray:
        """Give the document indexed under `key` new metadata, its id included, and keep its text,
        chunks and sentence vectors (a manifest change leaves the text alone); return its chunk ids.
        A new id must not be another document's. The items and OCR'd pages, read from the text, stay."""
        old_id = self.db.execute("SELECT doc_id FROM documents WHERE key=?", (key,)).fetchone()[0]
        if meta.doc_id != old_id:
            self.db.execute("PRAGMA defer_foreign_keys = ON")  # the document and its chunks change id together
            self.db.execute("UPDATE chunks SET doc_id=? WHERE doc_id=?", (meta.doc_id, old_id))
        self.db.execute(
            "UPDATE documents SET doc_id=?, title=?, date=?, doc_type=?, council=?, committee=?, source=?, "
            "date_note=?, access=?, inferred=?, meta_hash=? WHERE key=?",
            (meta.doc_id, meta.title, meta.date, meta.doc_type, meta.council, meta.committee, meta.source,
             meta.date_note, meta.access, json.dumps(list(meta.inferred)), meta_hash, key),
        )
        return np.fromiter((r[0] for r in self.db.execute(
            "SELECT id FROM chunks WHERE doc_id=? ORDER BY id", (meta.doc_id,))), dtype=np.int64)

    def put_chunks(self, chunks: list[Chunk], sentence_vectors: list[np.ndarray | None] | None = None) -> np.ndarray:
        """Insert chunks (with each one's sentence vectors, stored as float16) and return their new
        row ids, in order."""
        ids = []
        for n, c in enumerate(chunks):
            matrix = sentence_vectors[n] if sentence_vectors is not None else None
            blob = None if matrix is None else np.ascontiguousarray(matrix, dtype=np.float16).tobytes()
            cursor = self.db.execute(
                "INSERT INTO chunks (doc_id, ord, start, end, page, text, sentences, sentence_vectors, heading) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (c.doc_id, c.ord, c.start, c.end, c.page, c.text, json.dumps(c.sentences, separators=(",", ":")),
                 blob, c.heading))
            ids.append(cursor.lastrowid)
        return np.asarray(ids, dtype=np.int64)

    def delete_document(self, key: str) -> np.ndarray:
        """Remove a document and its chunks; return the removed chunk ids."""
        ids = np.asarray([r[0] for r in self.db.execute(
            "SELECT c.id FROM chunks c JOIN documents d USING (doc_id) WHERE d.key=?", (key,))], dtype=np.int64)
        self.db.execute("DELETE FROM documents WHERE key=?", (key,))
        return ids

    def commit(self) -> None:
        self.db.commit()

    # -- reading -------------------------------------------------------------------------------
    def fingerprints(self) -> dict[str, tuple[str, str, str]]:
        """key -> (doc_id, content hash, metadata hash) for every indexed document."""
        return {k: (d, c, m) for k, d, c, m in self.db.execute(
            "SELECT key, doc_id, content_hash, meta_hash FROM documents")}

    def files(self) -> dict[str, dict]:
        """key -> {doc_id, content_hash, meta_hash, chunks}, the manifest's record of each document."""
        return {k: {"doc_id": d, "content_hash": c, "meta_hash": m, "chunks": n} for k, d, c, m, n in self.db.execute(
            "SELECT d.key, d.doc_id, d.content_hash, d.meta_hash, count(c.id) FROM documents d "
            "LEFT JOIN chunks c USING (doc_id) GROUP BY d.doc_id")}

    def last_chunk_id(self) -> int:
        """The highest chunk id ever committed (ids are never reused), 0 for none."""
        row = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name='chunks'").fetchone()
        return int(row[0]) if row else 0

    def keys_of(self, ids: np.ndarray) -> set[str]:
        """Keys of the documents holding the chunks `ids`."""
        rows = self._rows_by_id("d.key", ids)
        return {values[0] for values in rows.values()}

    def doc_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT doc_id FROM documents")}

    def chunk_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def chunk_ids(self) -> np.ndarray:
        return np.fromiter((r[0] for r in self.db.execute("SELECT id FROM chunks ORDER BY id")), dtype=np.int64)

    def _rows_by_id(self, select: str, ids: np.ndarray) -> dict[int, tuple]:
        """{chunk id: the other columns of `select` (over chunks c joined with documents d)} for `ids`,
        queried in batches under SQLite's limit on bound parameters."""
        rows: dict[int, tuple] = {}
        ids = [int(i) for i in ids]
        for start in range(0, len(ids), 900):
            batch = ids[start:start + 900]
            for cid, *values in self.db.execute(
                    f"SELECT c.id, {select} FROM chunks c JOIN documents d USING (doc_id) "
                    f"WHERE c.id IN ({','.join('?' * len(batch))})", batch):
                rows[cid] = tuple(values)
        return rows

    def filter_fields(self, ids: np.ndarray) -> list[dict]:
        """Each chunk's document date, type and council (what a vector store may filter on), in the
        order of `ids`."""
        rows = self._rows_by_id("d.date, d.doc_type, d.council", ids)
        return [dict(zip(("date", "doc_type", "council"), rows[int(i)])) for i in ids]

    def _index_text(self) -> str:
        """The SQL for the text BM25 indexes: the paper's title, the chunk's item heading, the chunk."""
        return f"d.title || char(10) || coalesce({self._col('heading', 'c.')} || char(10), '') || c.text"

    def _col(self, column: str, prefix: str) -> str:
        """An added column as selected: its name, or its default where the store predates it."""
        value = self._column[column]
        return prefix + value if value == column else value

    def iter_index_texts(self, batch: int = 10_000) -> Iterator[list[tuple[int, str]]]:
        """(chunk id, text to index) in batches, ordered by id; the text is the title, the chunk's item
        heading (when it has one) and the chunk."""
        cursor = self.db.execute(
            f"SELECT c.id, {self._index_text()} FROM chunks c JOIN documents d USING (doc_id) ORDER BY c.id")
        while rows := cursor.fetchmany(batch):
            yield rows

    def index_texts(self, ids: np.ndarray) -> list[str]:
        """The text BM25 indexes (as `iter_index_texts` gives it) of each id, in order."""
        rows = self._rows_by_id(self._index_text(), ids)
        return [rows[int(i)][0] for i in ids]

    def matching_ids(self, filters: SearchFilters) -> np.ndarray:
        """Ids of the chunks whose document passes the filters (dates inclusive, ISO strings)."""
        clauses, args = [], []
        if filters.since:
            clauses.append("d.date >= ?")
            args.append(filters.since)
        if filters.until:
            clauses.append("d.date <= ?")
            args.append(filters.until)
        if filters.doc_types:
            clauses.append(f"d.doc_type IN ({','.join('?' * len(filters.doc_types))})")
            args.extend(filters.doc_types)
        if filters.councils:
            clauses.append(f"lower(d.council) IN ({','.join('?' * len(filters.councils))})")
            args.extend(c.lower() for c in filters.councils)
        if filters.public_only:
            clauses.append(f"{self._col('access', 'd.')} = 'public'")
        where = " AND ".join(clauses) or "1"
        # documents first (a small table), then their chunks through the chunks_doc index: a join
        # let SQLite scan every chunk, about a second at a million chunks
        rows = self.db.execute(f"SELECT id FROM chunks WHERE doc_id IN (SELECT d.doc_id FROM documents d "
                               f"WHERE {where}) ORDER BY id", args)
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def councils(self, public_only: bool = False) -> list[str]:
        where = f" AND {self._col('access', 'd.')} = 'public'" if public_only else ""
        return [r[0] for r in self.db.execute(
            f"SELECT DISTINCT council FROM documents d WHERE council IS NOT NULL{where} ORDER BY council")]

    def chunks(self, ids: list[int]) -> dict[int, tuple[Chunk, DocumentMeta, np.ndarray | None]]:
        """Chunk, document metadata and the chunk's sentence vectors (float16, one row per sentence;
        None when not stored) by chunk id."""
        if not ids:
            return {}
        rows = self.db.execute(
            f"SELECT c.id, c.ord, c.start, c.end, c.page, c.text, c.sentences, c.sentence_vectors, "
            f"{self._col('heading', 'c.')}, {self._meta_columns('d.')} "
            f"FROM chunks c JOIN documents d USING (doc_id) WHERE c.id IN ({','.join('?' * len(ids))})", ids)
        out = {}
        for row in rows:
            meta = _meta(row[9:])
            sentences = tuple((s, e) for s, e in json.loads(row[6]))
            vectors = None
            if row[7] is not None and sentences:
                vectors = np.frombuffer(row[7], dtype=np.float16).reshape(len(sentences), -1)
            out[row[0]] = (Chunk(doc_id=meta.doc_id, ord=row[1], start=row[2], end=row[3], page=row[4],
                                 text=row[5], sentences=sentences, heading=row[8]), meta, vectors)
        return out

    def document(self, doc_id: str, public_only: bool = False) -> Document | None:
        """The document, or None when there is none (or, with `public_only`, when it is restricted)."""
        where = f" AND {self._col('access', 'd.')} = 'public'" if public_only else ""
        row = self.db.execute(f"SELECT d.text, d.key, d.page_starts, d.warnings, {self._meta_columns('d.')} "
                              f"FROM documents d WHERE d.doc_id=?{where}", (doc_id,)).fetchone()
        if row is None:
            return None
        return Document(meta=_meta(row[4:]), text=row[0], path=row[1],
                        page_starts=tuple(json.loads(row[2])), warnings=tuple(json.loads(row[3])))

    def documents(self, public_only: bool = False) -> list[tuple[DocumentMeta, int]]:
        """Every document's metadata with its chunk count, newest first (with `public_only`, the public ones)."""
        where = f"WHERE {self._col('access', 'd.')} = 'public' " if public_only else ""
        rows = self.db.execute(
            f"SELECT count(c.id), {self._meta_columns('d.')} FROM documents d "
            f"LEFT JOIN chunks c USING (doc_id) {where}GROUP BY d.doc_id ORDER BY d.date DESC, d.title")
        return [(_meta(row[1:]), row[0]) for row in rows]

    def _meta_columns(self, prefix: str = "") -> str:
        """The select list `_meta` reads: the metadata fields, the access level, the OCR'd pages, the
        items and the inferred fields."""
        return ", ".join([prefix + f.strip() for f in _META.split(",")]
                         + [self._col(column, prefix) for column in ("access", "ocr_pages", "items", "inferred")])


@lru_cache(maxsize=1024)
def _meta(row: tuple) -> DocumentMeta:
    """A document's metadata from the columns `ChunkStore._meta_columns` selects. Kept for the papers
    met most recently: every chunk of a paper carries the same columns, and a long paper's items (JSON)
    cost more to read than the rest of a search's rows (the metadata is frozen, so sharing it is safe)."""
    return DocumentMeta(*row[:8], access=row[8], ocr_pages=tuple(json.loads(row[9] or "[]")),
                        items=tuple((start, label) for start, label in json.loads(row[10] or "[]")),
                        inferred=tuple(json.loads(row[11] or "[]")))
