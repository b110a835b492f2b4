"""How well metadata is inferred from a paper's first page, measured against manifests that give it.

Each reference folder's `manifest.toml` describes its papers; this script reads every paper as if the
manifest said nothing and compares the inferred title, date, type, committee and council with the
manifest's. Papers are split into a dev half (the rules in `assistant/inferring.py` were shaped on it)
and a test half (only reported) by SHA-256 of "SPLIT_SEED:file name": even first byte → dev.

    python bench/metadata_inference.py [FOLDER ...] [--index BUILD_DIR] [--json] [-v]

FOLDER defaults to ../shared/realworld-dev/corpus and corpus/. With `--index`, a paper's text comes
from that build's chunk store (so scanned papers read by OCR count); otherwise papers are extracted
here without OCR, and a paper with no text layer counts as nothing inferred.

Scoring: date, type, committee and council must equal the manifest's (case-insensitive); a title
counts when its words overlap the manifest title's by at least TITLE_OVERLAP (Jaccard).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.chunkstore import ChunkStore  # noqa: E402
from assistant.errors import CorpusError  # noqa: E402
from assistant.inferring import infer  # noqa: E402
from assistant.corpus import SUPPORTED, SourceFile, file_key, load_manifest  # noqa: E402
from assistant.extraction import load_document  # noqa: E402

SPLIT_SEED = "metadata-inference-2026"
TITLE_OVERLAP = 0.4
FIELDS = ("title", "date", "doc_type", "committee", "council")
SHARED = ROOT.parent / "shared"


def half(name: str) -> str:
    """"dev" or "test" for the paper called `name`, fixed by SPLIT_SEED."""
    return "dev" if hashlib.sha256(f"{SPLIT_SEED}:{name}".encode()).digest()[0] % 2 == 0 else "test"


def first_pages_from_index(build: Path) -> dict[str, str]:
    """File name → first page text, from a build's chunk store."""
    store = ChunkStore.open(build, readonly=True)
    try:
        out = {}
        for meta, _ in store.documents():
            document = store.document(meta.doc_id)
            starts = document.page_starts
            out[Path(document.path).name] = document.text[:starts[1]] if len(starts) > 1 else document.text
        return out
    finally:
        store.close()


def first_page_extracted(path: Path) -> str:
    """A paper's first page, extracted here without OCR ("" when it has no text layer)."""
    source = SourceFile(path=path, key=file_key(path), meta={})
    try:
        document = load_document(source, path.read_bytes())
    except CorpusError:
        return ""
    starts = document.page_starts
    return document.text[:starts[1]] if len(starts) > 1 else document.text


def words(text: str | None) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", (text or "").lower()))


def matches(field: str, found: str | None, expected: str | None) -> bool:
    if field == "title":
        a, b = words(found), words(expected)
        return bool(a | b) and len(a & b) / len(a | b) >= TITLE_OVERLAP
    return (found or "").strip().lower() == (expected or "").strip().lower()


def measure(folders: list[Path], index: Path | None, verbose: bool) -> dict:
    indexed = first_pages_from_index(index) if index else {}
    tally = {h: {"papers": 0, **{f: 0 for f in FIELDS}} for h in ("dev", "test")}
    for folder in folders:
        manifest = load_manifest(folder)
        for name, entry in sorted(manifest.entries.items()):
            path = folder / name
            if path.suffix.lower() not in SUPPORTED or not path.is_file():
                continue
            expected = {**manifest.defaults, **entry}
            first = indexed.get(name) if name in indexed else first_page_extracted(path)
            guess = infer(first, name)
            row = tally[half(name)]
            row["papers"] += 1
            wrong = {}
            for field in FIELDS:
                ok = matches(field, getattr(guess, field), expected.get(field))
                row[field] += ok
                if not ok:
                    wrong[field] = (getattr(guess, field), expected.get(field))
            if verbose and half(name) == "dev" and wrong:
                print(f"  {name}: {wrong}")
    return {h: {**row, **{f"{f}_accuracy": round(row[f] / row["papers"], 3) if row["papers"] else None
                          for f in FIELDS}} for h, row in tally.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--index", type=Path, help="a build folder whose chunk store holds the papers' text")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("-v", action="store_true", help="list the dev papers' misses")
    args = parser.parse_args()
    folders = args.folders or [p for p in (SHARED / "realworld-dev" / "corpus", ROOT / "corpus") if p.is_dir()]
    result = measure(folders, args.index, args.v)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'half':<5} {'papers':>6} " + " ".join(f"{f:>10}" for f in FIELDS))
    for h, row in result.items():
        print(f"{h:<5} {row['papers']:>6} " + " ".join(f"{row[f]:>4}/{row['papers']:<5}" for f in FIELDS))


if __name__ == "__main__":
    main()
