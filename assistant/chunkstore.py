"""The chunk store: documents and chunks in SQLite, read row by row, never loaded whole.

Chunk row ids are the ids of their vectors in the vector store and are never reused.
"""
from __future__ import annotations

import json
import sqlite3
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
    meta_hash TEXT NOT NULL, warnings TEXT NOT NULL, access TEXT NOT NULL DEFAULT 'public'
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ord INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, page INTEGER,
    text TEXT NOT NULL, sentences TEXT NOT NULL DEFAULT '[]', sentence_vectors BLOB
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS documents_date ON documents(date);
CREATE INDEX IF NOT EXISTS documents_type ON documents(doc_type);
"""
_META = "doc_id, title, date, doc_type, council, committee, source, date_note"
_META_COUNT = 9  # the fields of DocumentMeta: _META and access


class ChunkStore:
    """Documents and chunks of one build. A store written before papers had an access level reads
    as all public (no restricted paper could be in it); the next ingest adds the column."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
        self.db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self.db.execute("PRAGMA foreign_keys = ON")
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(documents)")}
        if not readonly:
            if columns and "access" not in columns:
                self.db.execute("ALTER TABLE documents ADD COLUMN access TEXT NOT NULL DEFAULT 'public'")
                columns.add("access")
            self.db.executescript(SCHEMA)
        self._access = "d.access" if "access" in columns or not columns else "'public'"

    def _meta(self) -> str:
        """The select list of a DocumentMeta over documents `d`."""
        return ", ".join("d." + f.strip() for f in _META.split(",")) + f", {self._access}"

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
            "text, page_starts, content_hash, meta_hash, warnings, access) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (m.doc_id, key, m.title, m.date, m.doc_type, m.council, m.committee, m.source, m.date_note,
             document.text, json.dumps(list(document.page_starts)), content_hash, meta_hash,
             json.dumps(list(document.warnings)), m.access),
        )

    def update_meta(self, key: str, meta: DocumentMeta, meta_hash: str) -> None:
        self.db.execute(
            "UPDATE documents SET title=?, date=?, doc_type=?, council=?, committee=?, source=?, "
            "date_note=?, access=?, meta_hash=? WHERE key=?",
            (meta.title, meta.date, meta.doc_type, meta.council, meta.committee, meta.source,
             meta.date_note, meta.access, meta_hash, key),
        )

    def put_chunks(self, chunks: list[Chunk], sentence_vectors: list[np.ndarray | None] | None = None) -> np.ndarray:
        """Insert chunks (with each one's sentence vectors, stored as float16) and return their new
        row ids, in order."""
        ids = []
        for n, c in enumerate(chunks):
            matrix = sentence_vectors[n] if sentence_vectors is not None else None
            blob = None if matrix is None else np.ascontiguousarray(matrix, dtype=np.float16).tobytes()
            cursor = self.db.execute(
                "INSERT INTO chunks (doc_id, ord, start, end, page, text, sentences, sentence_vectors) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (c.doc_id, c.ord, c.start, c.end, c.page, c.text, json.dumps(c.sentences, separators=(",", ":")),
                 blob))
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

    def iter_index_texts(self, batch: int = 10_000) -> Iterator[list[tuple[int, str]]]:
        """(chunk id, text to index) in batches, ordered by id; the text is the title plus the chunk."""
        cursor = self.db.execute(
            "SELECT c.id, d.title || char(10) || c.text FROM chunks c JOIN documents d USING (doc_id) ORDER BY c.id")
        while rows := cursor.fetchmany(batch):
            yield rows

    def index_texts(self, ids: np.ndarray) -> list[str]:
        """The text BM25 indexes (title plus chunk, as `iter_index_texts` gives it) of each id, in order."""
        rows = self._rows_by_id("d.title || char(10) || c.text", ids)
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
            clauses.append(f"{self._access} = 'public'")
        where = " AND ".join(clauses) or "1"
        # documents first (a small table), then their chunks through the chunks_doc index: a join
        # let SQLite scan every chunk, about a second at a million chunks
        rows = self.db.execute(f"SELECT id FROM chunks WHERE doc_id IN (SELECT d.doc_id FROM documents d "
                               f"WHERE {where}) ORDER BY id", args)
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def councils(self, public_only: bool = False) -> list[str]:
        where = f" AND {self._access} = 'public'" if public_only else ""
        return [r[0] for r in self.db.execute(
            f"SELECT DISTINCT council FROM documents d WHERE council IS NOT NULL{where} ORDER BY council")]

    def chunks(self, ids: list[int]) -> dict[int, tuple[Chunk, DocumentMeta, np.ndarray | None]]:
        """Chunk, document metadata and the chunk's sentence vectors (float16, one row per sentence;
        None when not stored) by chunk id."""
        if not ids:
            return {}
        rows = self.db.execute(
            f"SELECT c.id, c.ord, c.start, c.end, c.page, c.text, c.sentences, c.sentence_vectors, {self._meta()} "
            f"FROM chunks c JOIN documents d USING (doc_id) WHERE c.id IN ({','.join('?' * len(ids))})", ids)
        out = {}
        for row in rows:
            meta = DocumentMeta(*row[8:])
            sentences = tuple((s, e) for s, e in json.loads(row[6]))
            vectors = None
            if row[7] is not None and sentences:
                vectors = np.frombuffer(row[7], dtype=np.float16).reshape(len(sentences), -1)
            out[row[0]] = (Chunk(doc_id=meta.doc_id, ord=row[1], start=row[2], end=row[3], page=row[4],
                                 text=row[5], sentences=sentences), meta, vectors)
        return out

    def document(self, doc_id: str, public_only: bool = False) -> Document | None:
        """The document, or None when there is none (or, with `public_only`, when it is restricted)."""
        where = f" AND {self._access} = 'public'" if public_only else ""
        row = self.db.execute(f"SELECT {self._meta()}, d.text, d.key, d.page_starts, d.warnings FROM documents d "
                              f"WHERE d.doc_id=?{where}", (doc_id,)).fetchone()
        if row is None:
            return None
        n = _META_COUNT
        return Document(meta=DocumentMeta(*row[:n]), text=row[n], path=row[n + 1],
                        page_starts=tuple(json.loads(row[n + 2])), warnings=tuple(json.loads(row[n + 3])))

    def documents(self, public_only: bool = False) -> list[tuple[DocumentMeta, int]]:
        """Every document's metadata with its chunk count, newest first (with `public_only`, the public ones)."""
        where = f"WHERE {self._access} = 'public' " if public_only else ""
        rows = self.db.execute(
            f"SELECT {self._meta()}, count(c.id) FROM documents d LEFT JOIN chunks c USING (doc_id) {where}"
            "GROUP BY d.doc_id ORDER BY d.date DESC, d.title")
        return [(DocumentMeta(*row[:_META_COUNT]), row[_META_COUNT]) for row in rows]
