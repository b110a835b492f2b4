"""The corpus on disk: which files there are, the key each is indexed under, and what the folder's
`manifest.toml` says about them (checked entry by entry, dates normalised to ISO YYYY-MM-DD).

Also the hashes that make ingest incremental (a file's bytes, its manifest entry), the metadata a
document gets from its entry (`describe`), and `printable`/`path_text`, which make a file name or an
error safe to show. Reading the files is `readers.py`'s job, and `extraction.py` runs it.
"""
from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import CorpusError
from .readers import SUPPORTED
from .inferring import Inferred, infer
from .types import ACCESS_LEVELS, DocumentMeta

MANIFEST_NAME = "manifest.toml"
# `item`: the agenda item a paper belongs to ("5. Budget 2026/27"), as `import moderngov` records it;
# `access`: "public" or "restricted" (exempt papers only users allowed restricted papers see)
META_FIELDS = {"id", "title", "date", "date_note", "doc_type", "council", "committee", "source", "item", "access"}
MAX_FILE_BYTES = 2**30


@dataclass(frozen=True)
class SourceFile:
    """A file found for ingest: its path, the key it is indexed under and its manifest entry."""

    path: Path
    key: str
    meta: dict


def file_key(path: Path, exact: bool = False) -> str:
    """The key a file is indexed under: its path relative to the working folder where possible.

    With `exact`, bytes of the name that are not UTF-8 are written as \\xNN escapes instead of
    U+FFFD, so that two names differing only in such bytes get distinct keys.
    """
    resolved = path.resolve()
    try:
        relative = resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        relative = resolved.as_posix()
    return os.fsencode(relative).decode("utf-8", "backslashreplace") if exact else path_text(relative)


def path_text(path: Path | str) -> str:
    """The path as printable text: bytes of a file name that are not UTF-8 become U+FFFD.

    Such names reach Python as lone surrogates, which SQLite, JSON readers and terminals refuse.
    """
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: object) -> str:
    """`text` safe to show on one line of a terminal or log: control characters (a newline that would
    forge a report line, escape sequences that drive the terminal), bidirectional overrides and lone
    surrogates become `\\x..` / `\\u....` escapes. For human-readable lines only; JSON keeps the text."""
    return _UNPRINTABLE.sub(_escape, str(text))


def _escape(match: re.Match) -> str:
    char = match.group()
    code = ord(char)
    return _ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


@dataclass(frozen=True)
class Manifest:
    """A folder's `manifest.toml`, checked entry by entry: a bad entry fails its own file, not the folder."""

    path: Path
    entries: dict[str, dict]
    defaults: dict
    problems: dict[str, str]
    defaults_problem: str | None = None

    def meta_for(self, name: str) -> dict:
        """The fields for the file called `name` (its entry over [defaults]), or a CorpusError
        naming the manifest, the entry and the field when its entry or [defaults] is refused."""
        problem = self.problems.get(name) or self.defaults_problem
        if problem:
            raise CorpusError(problem)
        return dict(self.entries.get(name, self.defaults))


def load_manifest(folder: Path) -> Manifest:
    """`folder/manifest.toml` with each `[documents."file name"]` table checked on its own.

    Raises CorpusError only when the file as a whole cannot be used (unreadable, not TOML, or
    `documents`/`defaults` not tables); then no file of the folder has known metadata.
    """
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return Manifest(path, {}, {}, {})
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: not valid TOML ({exc}); fix it, the folder's files are not "
                          "updated until then") from exc
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read ({exc.strerror or exc}); check its permissions") from exc
    documents, defaults = data.get("documents", {}), data.get("defaults", {})
    for name, value in (("documents", documents), ("defaults", defaults)):
        if not isinstance(value, dict):
            raise CorpusError(f"{path}: {name} must be a table ([{name}...]), not {_kind(value)}")
    defaults_problem = None
    try:
        defaults = _check_entry(defaults, f"{path}: [defaults]")
    except CorpusError as exc:
        defaults_problem, defaults = str(exc), {}
    entries: dict[str, dict] = {}
    problems: dict[str, str] = {}
    for name, entry in documents.items():
        try:
            entries[name] = {**defaults, **_check_entry(entry, f"{path}: [documents.{_toml_key(name)}]")}
        except CorpusError as exc:
            problems[name] = str(exc)
    return Manifest(path, entries, defaults, problems, defaults_problem)


def read_manifest(folder: Path) -> dict[str, dict]:
    """Entries of `folder/manifest.toml`, keyed by file name, and [defaults] under "*"; the first
    problem of any entry is raised (ingest uses `load_manifest`, which fails only that entry's file)."""
    manifest = load_manifest(folder)
    for problem in [manifest.defaults_problem, *manifest.problems.values()]:
        if problem:
            raise CorpusError(problem)
    return manifest.entries | {"*": manifest.defaults}


def _check_entry(entry: object, where: str) -> dict:
    """The entry's fields, each text, with the date as ISO YYYY-MM-DD; a CorpusError otherwise."""
    if not isinstance(entry, dict):
        raise CorpusError(f"{where} must be a table of fields, not {_kind(entry)}")
    unknown = set(entry) - META_FIELDS
    if unknown:
        raise CorpusError(f"{where} has unknown field(s) {', '.join(sorted(map(_toml_key, unknown)))}; "
                          f"known: {', '.join(sorted(META_FIELDS))}")
    checked = {}
    for name, value in entry.items():
        if name == "date":
            checked[name] = _check_date(value, f"{where} field date")
        elif name == "access" and value not in ACCESS_LEVELS:
            raise CorpusError(f"{where} field access must be one of {', '.join(map(repr, ACCESS_LEVELS))}, "
                              f"not {value!r}")
        elif isinstance(value, str):
            checked[name] = value
        else:
            raise CorpusError(f'{where} field {name} must be text in quotes ({name} = "..."), '
                              f"not {_kind(value)}")
    return checked


def _check_date(value: object, where: str) -> str:
    """An unambiguous date as ISO YYYY-MM-DD: a TOML date (or date-time: its date), or text in the
    form YYYY-MM-DD or YYYYMMDD. Anything else (15/03/2022, a number, a list) is refused."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str):
        raise CorpusError(f"{where}: {_kind(value)} is not a date; write date = \"YYYY-MM-DD\"")
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})|(\d{4})(\d{2})(\d{2})", value)
    try:
        if match is None:
            raise ValueError(value)
        year, month, day = (int(part) for part in match.groups() if part is not None)
        return dt.date(year, month, day).isoformat()
    except ValueError as exc:
        raise CorpusError(f"{where}: {_shown(value)} is not an ISO date (YYYY-MM-DD)") from exc


def _kind(value: object) -> str:
    """How a TOML value is described in an error message."""
    if isinstance(value, bool):
        return f"true/false ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, list):
        return f"a list ({_shown(value)})"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (dt.date, dt.time)):
        return f"a TOML {type(value).__name__} ({value})"
    return _shown(value)


def _shown(value: object, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _toml_key(name: str) -> str:
    """A table or field name as written in TOML: bare, or quoted with control characters escaped."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name, ensure_ascii=False)


def content_hash(data: bytes) -> str:
    """A file's fingerprint: the SHA-256 of its bytes."""
    return hashlib.sha256(data).hexdigest()


def metadata_hash(meta: dict) -> str:
    """A manifest entry's fingerprint: a change of any field makes ingest update the document."""
    return hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode()).hexdigest()[:16]



def slug(text: str) -> str:
    """`text` as a lower-case ASCII id ("Minutes 15/03" -> "minutes-15-03"); "document" when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "document"


UNTRUSTED_TITLES = {".pdf", ".docx"}
"""Formats whose title field loses to a title read from the heading: PDF and Word title fields are
mostly a template's or a draft's ("DRAFT", "Microsoft Word - …", an export's hash: so on every real
PDF measured in bench/metadata_inference.py), while a web page's <title> names the page."""


def describe(source: SourceFile, text: str, found_title: str | None, default_council: str | None,
              first_page: str) -> DocumentMeta:
    """The paper's metadata: its manifest entry; for a file the manifest does not title, each field
    the manifest leaves empty is read from the paper's heading (`inferring`) and marked inferred."""
    meta = source.meta
    guess = infer(first_page, source.path.name) if not meta.get("title") else Inferred()
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), source.path.stem)
    inferred = []

    def pick(name: str, given: object, fallback: object = None) -> object:
        if given:
            return given
        value = getattr(guess, name)
        if value:
            inferred.append(name)
            return value
        return fallback

    if source.path.suffix.lower() not in UNTRUSTED_TITLES:
        title = meta.get("title") or found_title or pick("title", None, first_line[:120])
    else:
        title = pick("title", meta.get("title"), found_title or first_line[:120])
    date = pick("date", str(meta["date"]) if meta.get("date") else None)
    return DocumentMeta(
        doc_id=meta.get("id") or slug(source.path.stem),
        title=str(title),
        date=date,
        doc_type=pick("doc_type", meta.get("doc_type"), "document"),
        council=pick("council", meta.get("council") or default_council),
        committee=pick("committee", meta.get("committee")),
        source=meta.get("source") or source.key,
        date_note=meta.get("date_note"),
        access=meta.get("access", "public"),
        inferred=tuple(inferred),
    )


# -- discovery ------------------------------------------------------------------------------------

@dataclass
class Discovery:
    """Files found for ingest. `kept` holds the keys of files that failed but are still there, and
    `kept_folders` those of folders that could not be read: what the index holds for them stays."""

    sources: list[SourceFile] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    kept: set[str] = field(default_factory=set)
    kept_folders: list[str] = field(default_factory=list)


def discover(paths: list[Path], follow_external_links: bool = False) -> Discovery:
    """Files to ingest under `paths`. Hidden files and folders and manifest files are passed over.

    A symbolic link found in a folder is followed only when its target lies inside one of the folders
    given (or `follow_external_links` is set): a link to `/etc/passwd` dropped into the corpus is
    reported as skipped, not indexed. A file named in `paths` is read wherever it points.

    Each file gets a key no other file has (see `_distinct_key`) and its manifest entry; a file whose
    entry (or whose folder's manifest) is refused is failed on its own line and its key kept."""
    found = Discovery()
    manifests: dict[Path, Manifest | CorpusError] = {}
    seen: set[Path] = set()
    keys: dict[str, Path] = {}
    roots = [path.resolve() for path in paths if path.is_dir()]

    def inside(real: Path) -> bool:
        return follow_external_links or any(real.is_relative_to(root) for root in roots)

    def manifest_for(folder: Path) -> Manifest:
        if folder not in manifests:
            try:
                manifests[folder] = load_manifest(folder)
            except CorpusError as exc:
                manifests[folder] = exc
        manifest = manifests[folder]
        if isinstance(manifest, CorpusError):
            raise manifest
        return manifest

    def add(path: Path, explicit: bool) -> None:
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            found.failed.append((path_text(path), _unresolved(exc)))
            return
        if not explicit and not inside(real):
            found.skipped.append((path_text(path), _outside(real)))
            return
        if real in seen:
            return
        seen.add(real)
        if path.suffix.lower() not in SUPPORTED:
            reason = f"unsupported file type {path.suffix or '(none)'}; supported: {', '.join(sorted(SUPPORTED))}"
            (found.failed if explicit else found.skipped).append((path_text(path), reason))
            return
        if not real.is_file():
            found.failed.append((path_text(path), "not a regular file (a named pipe, socket or device); "
                                                  "remove it from the folder"))
            return
        key = _distinct_key(path, keys, found)
        try:
            meta = manifest_for(path.parent).meta_for(path.name)
        except CorpusError as exc:
            found.failed.append((path_text(path), str(exc)))
            found.kept.add(key)
            return
        found.sources.append(SourceFile(path=path, key=key, meta=meta))

    for path in paths:
        if path.is_symlink() and not path.exists():
            found.failed.append((path_text(path), "broken symbolic link"))
        elif not path.exists():
            found.failed.append((path_text(path), "no such file or folder"))
        elif path.is_dir():
            found.folders.append(file_key(path))
            skipped = len(found.skipped)
            files = _walk(path, found, inside)
            if not files and len(found.skipped) == skipped:
                found.failed.append((path_text(path), "folder holds no files to ingest"))
            for file in files:
                add(file, explicit=False)
        else:
            add(path, explicit=True)
    return found


def _walk(root: Path, found: Discovery, inside: Callable[[Path], bool]) -> list[Path]:
    """Files below root in a stable order, following no folder twice (symlink loops are cut) and no
    linked folder whose target is not `inside` the folders given (reported as skipped)."""
    files: list[Path] = []
    visited: set[Path] = set()

    def on_error(exc: OSError) -> None:
        found.failed.append((path_text(exc.filename), f"cannot read folder ({exc.strerror})"))
        found.kept_folders.append(file_key(Path(exc.filename)))

    for name, subfolders, names in os.walk(root, followlinks=True, onerror=on_error):
        folder = Path(name)
        real = folder.resolve()
        if real in visited:
            subfolders.clear()
            continue
        visited.add(real)
        kept = []
        for sub in sorted(d for d in subfolders if not d.startswith(".")):
            target = (folder / sub).resolve()
            if (folder / sub).is_symlink() and not inside(target):
                found.skipped.append((path_text(folder / sub), _outside(target)))
            else:
                kept.append(sub)
        subfolders[:] = kept
        files.extend(folder / n for n in sorted(names) if not n.startswith(".") and n != MANIFEST_NAME)
    return files


def _distinct_key(path: Path, keys: dict[str, Path], found: Discovery) -> str:
    """The file's key, unless another file found in this run has it: names whose bytes are not
    UTF-8 read alike once shown (U+FFFD); the later file is then keyed with those bytes as \\xNN
    escapes (and a counter, should even that be taken), and the clash is reported as a warning."""
    key = file_key(path)
    if key in keys:
        first = keys[key]
        key = candidate = file_key(path, exact=True)
        count = 2
        while key in keys:
            key, count = f"{candidate}~{count}", count + 1
        found.warnings.append((path_text(path), f"name reads the same as {path_text(first)} (bytes that are "
                                               f"not UTF-8); indexed under the key {key}; rename one of them"))
    keys[key] = path
    return key


def _outside(target: Path) -> str:
    return (f"symbolic link to {path_text(target)}, outside the folders given to ingest; not followed "
            "(set follow_external_links = true to index it)")


def _unresolved(exc: Exception) -> str:
    if isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP:
        return "symbolic link loop; remove the link"
    if isinstance(exc, FileNotFoundError):
        return "broken symbolic link; remove it or restore its target"
    return f"cannot read ({getattr(exc, 'strerror', None) or exc})"
