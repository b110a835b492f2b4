"""Hostile and damaged input: each failed file is one clear line, every good file is indexed.

Most tests run ingest's discovery and load step (`discover`, `load_sources`: the real worker
process and time limit) without the embedding model; one slow test runs the real CLI over it all.
"""
from __future__ import annotations

import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import pytest

from assistant.errors import CorpusError
from assistant.corpus import SourceFile, discover
from assistant.extraction import MAX_TEXT_CHARS, Loader, load_document
from assistant.ingest import load_sources
from assistant.settings import Settings
from conftest import CORPUS, ROOT, SHARED, make_pdf

SAMPLES = SHARED / "pdf-samples"
SEED = 20220315
NOBODY = 65534


SENTENCE = "Kinship care was reviewed."


def slow_pdf(moves: int) -> bytes:
    """A valid one-page PDF of one sentence, drawn after `moves` empty text moves ("0 0 Td").

    pypdf spends about 35 µs on each, so 200,000 of them take seconds to extract, from 2 KB.
    """
    stream = zlib.compress(b"BT /F1 12 Tf 72 700 Td " + b"0 0 Td " * moves + b"(%s) Tj ET" % SENTENCE.encode(), 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def load_folder(*paths: Path, **overrides):
    """(discovery, load outcome) for `paths` as ingest computes them for an empty index."""
    settings = Settings.load(env={}, progress=False, **overrides)
    found = discover(list(paths), settings.follow_external_links)
    return found, load_sources(found.sources, {}, settings)


def results(found, loaded) -> dict[str, str]:
    """File name -> "indexed" or its failure message, checking that each file appears once."""
    out: dict[str, str] = {}
    for source, document, *_ in loaded.documents:
        assert Path(source.key).name not in out, source.key
        out[Path(source.key).name] = "indexed"
    for file, message in found.failed + loaded.failed:
        name = Path(file).name
        assert name not in out, (file, message, out.get(name))
        assert message.strip() and "\n" not in message and "\r" not in message, (file, message)
        assert "Traceback" not in message
        out[name] = message
    return out


def flipped(data: bytes, rng: random.Random, flips: int) -> bytes:
    damaged = bytearray(data)
    for _ in range(flips):
        damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
    return bytes(damaged)


def load_or_error(path: Path, data: bytes) -> tuple[object | None, str | None]:
    """(document, None) or (None, message); any exception other than CorpusError fails the test."""
    try:
        return load_document(SourceFile(path, path.name, {}), data), None
    except CorpusError as exc:
        message = str(exc)
        assert message.startswith(f"{path}: "), message
        return None, message


@pytest.fixture
def five_page_pdf(tmp_path) -> bytes:
    return make_pdf(tmp_path / "report.pdf",
                    [f"Page {n}: the cabinet reviewed safeguarding and fostering." for n in range(1, 6)]).read_bytes()


def test_pdfs_truncated_at_random_offsets_fail_clearly_or_load_with_a_warning(tmp_path, five_page_pdf):
    rng = random.Random(SEED)
    cuts = sorted(rng.randrange(1, len(five_page_pdf)) for _ in range(16))
    for cut in cuts:
        path = tmp_path / f"cut-{cut}.pdf"
        document, error = load_or_error(path, five_page_pdf[:cut])
        if document is not None:
            assert any("damaged" in w for w in document.warnings), (cut, document.warnings)
        else:
            assert "damaged PDF" in error or "no text layer" in error, (cut, error)


@pytest.mark.parametrize("kind", ["pdf", "docx"])
def test_byte_flipped_files_fail_clearly_or_load(tmp_path, five_page_pdf, kind):
    import docx

    if kind == "pdf":
        original = five_page_pdf
    else:
        document = docx.Document()
        document.add_paragraph("Corporate parenting board minutes.")
        document.add_table(rows=1, cols=2).rows[0].cells[0].text = "Care leavers"
        document.save(tmp_path / "minutes.docx")
        original = (tmp_path / "minutes.docx").read_bytes()
    rng = random.Random(SEED)
    errors = 0
    for n in range(60):
        document, error = load_or_error(tmp_path / f"flipped-{n}.{kind}", flipped(original, rng, rng.randint(1, 20)))
        errors += error is not None
    assert errors, "no flip damaged the file: the test exercised nothing"


@pytest.fixture
def hostile(tmp_path) -> tuple[Path, dict[str, str]]:
    """A folder of hostile files, and what each should give: "indexed" or a piece of its message."""
    folder = tmp_path / "hostile"
    folder.mkdir()
    expected: dict[str, str] = {}

    def put(name: str, data: bytes, outcome: str) -> None:
        (folder / name).write_bytes(data)
        expected[name] = outcome

    rng = random.Random(SEED)
    paper = "The cabinet agreed the budget for children's services in March 2022.\n"
    put("empty.txt", b"", "empty file (0 bytes)")
    put("empty.pdf", b"", "empty file (0 bytes)")
    put("one-letter.txt", b"a", "indexed")
    put("one-nul.txt", b"\x00", "binary data, not text")
    put("one-byte.pdf", b"%", "damaged PDF")
    put("one-byte.html", b"<", "indexed")
    put("one-space.htm", b" ", "no text after cleaning")
    put("one-byte.docx", b"P", "not a readable .docx")
    put("one-newline.md", b"\n", "no text after cleaning")
    put("binary.txt", bytes(rng.randrange(256) for _ in range(4096)), "binary data, not text")
    put("latin-1.txt", "Café budget for Bootle: £2 million, agreed in März.".encode("latin-1"), "indexed")
    put("utf-16.txt", "Fostering friendly borough: twelve new carers.".encode("utf-16"), "indexed")
    put("utf-16-no-bom.txt", "Kinship care review for Sefton.".encode("utf-16-le"), "indexed")
    put("big.txt", paper.encode() * (50 * 2**20 // len(paper)), f"more than the {MAX_TEXT_CHARS:,}")
    with open(folder / "huge-sparse.pdf", "wb") as handle:
        handle.truncate(2**30 + 1)
    expected["huge-sparse.pdf"] = "more than the 1,024 MB allowed for one file"
    put("truncated.pdf", make_pdf(tmp_path / "whole.pdf", ["Minutes of the board."]).read_bytes()[:600],
        "damaged PDF")
    put("Cabinet minutes 15 March 2022.txt", b"Minutes with spaces in the file name.", "indexed")
    put("Protokoll M\u00e4rz \u2013 Jugendhilfe.txt", "Ein Protokoll über Jugendhilfe.".encode(), "indexed")
    put("\u4f1a\u8b70\u9332 2022.txt", "会議録: the council met in 2022.".encode(), "indexed")
    put("sheet.xlsx", b"PK\x03\x04", "skipped")
    deep = folder.joinpath(*(f"level-{n:02d}" for n in range(1, 61)))
    deep.mkdir(parents=True)
    (deep / "deep.txt").write_text("A paper sixty folders down.", encoding="utf-8")
    expected["deep.txt"] = "indexed"
    os.symlink("loop-b.txt", folder / "loop-a.txt")
    os.symlink("loop-a.txt", folder / "loop-b.txt")
    expected["loop-a.txt"] = expected["loop-b.txt"] = "symbolic link loop"
    os.symlink(".", folder / "again")
    os.symlink("no-such-target.txt", folder / "dangling.txt")
    expected["dangling.txt"] = "broken symbolic link"
    os.mkfifo(folder / "pipe.txt")
    expected["pipe.txt"] = "not a regular file"
    raw_name = os.fsencode(folder) + b"/caf\xe9 report.txt"
    with open(raw_name, "wb") as handle:
        handle.write(b"A report whose file name is Latin-1, not UTF-8.")
    expected["caf\ufffd report.txt"] = "indexed"
    return folder, expected


def test_hostile_folder_reports_each_bad_file_on_one_line_and_loads_the_rest(hostile):
    folder, expected = hostile
    started = time.perf_counter()
    found, loaded = load_folder(folder)
    seconds = time.perf_counter() - started
    got = results(found, loaded)
    skipped = {Path(f).name for f, _ in found.skipped}
    assert skipped == {name for name, outcome in expected.items() if outcome == "skipped"}
    for name, outcome in expected.items():
        if outcome == "skipped":
            continue
        assert name in got, f"{name} was neither indexed nor reported"
        assert outcome in got[name], (name, got[name])
    assert set(got) == {name for name, outcome in expected.items() if outcome != "skipped"}
    texts = {Path(source.key).name: document.text for source, document, *_ in loaded.documents}
    assert texts["latin-1.txt"] == "Café budget for Bootle: £2 million, agreed in März."
    assert texts["utf-16-no-bom.txt"] == "Kinship care review for Sefton."
    assert texts["\u4f1a\u8b70\u9332 2022.txt"] == "会議録: the council met in 2022."
    warned = {Path(f).name: w for f, w in loaded.warnings}
    assert "read as Windows-1252" in warned["latin-1.txt"]
    assert seconds < 120, f"loading the hostile folder took {seconds:.0f} s"


def run_as_nobody(command: list[str], timeout: float, owned: Path | None = None):
    """The JSON a child process prints, run as nobody when the tests run as root (where chmod 000
    does not stop reads); `owned` (a folder the child writes in) is then handed to nobody first.
    Skips with a message where that cannot be arranged."""
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root, where chmod 000 does not stop reads, and setpriv (util-linux) "
                        "is missing to run the check as another user")
        if owned is not None:
            for path in [owned, *owned.rglob("*")]:
                os.chown(path, NOBODY, NOBODY)
            owned.chmod(0o755)
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
    child = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    if child.returncode and os.geteuid() == 0 and "Permission denied" in child.stderr.splitlines()[-1:][0]:
        pytest.skip(f"running as root and uid {NOBODY} cannot run the tests' Python: {child.stderr[-200:]}")
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout)


def test_unreadable_file_is_reported_and_the_rest_loaded(tmp_path):
    """As root, chmod 000 does not stop reads, so the load step runs in a child process as nobody."""
    folder = Path(tempfile.mkdtemp(prefix="unreadable-"))
    try:
        folder.chmod(0o755)
        (folder / "readable.txt").write_text("The board met in June.", encoding="utf-8")
        (folder / "locked.txt").write_text("Nobody may read this.", encoding="utf-8")
        (folder / "readable.txt").chmod(0o644)
        (folder / "locked.txt").chmod(0o000)
        script = ("import json, sys; from pathlib import Path; sys.path.insert(0, 'tests');"
                  "from test_hostile_files import load_folder, results;"
                  "print(json.dumps(results(*load_folder(Path(sys.argv[1])))))")
        got = run_as_nobody([sys.executable, "-c", script, str(folder)], timeout=120)
        assert got["readable.txt"] == "indexed"
        assert got["locked.txt"].startswith("cannot read (Permission denied)"), got["locked.txt"]
    finally:
        (folder / "locked.txt").chmod(0o644)
        for file in folder.iterdir():
            file.unlink()
        folder.rmdir()


def test_a_file_slower_than_extract_timeout_is_stopped_and_the_ingest_goes_on(tmp_path):
    small = tmp_path / "small-but-same.pdf"
    small.write_bytes(slow_pdf(2_000))
    assert load_document(SourceFile(small, small.name, {}), small.read_bytes()).text == SENTENCE
    (tmp_path / "a-slow.pdf").write_bytes(slow_pdf(200_000))
    make_pdf(tmp_path / "b-good.pdf", ["Fostering was discussed in August."])
    (tmp_path / "c-good.txt").write_text("The board met in June.", encoding="utf-8")
    started = time.perf_counter()
    found, loaded = load_folder(tmp_path, extract_timeout=0.5)
    seconds = time.perf_counter() - started
    got = results(found, loaded)
    assert got["a-slow.pdf"].startswith("extraction took longer than 0.5 s; "), got["a-slow.pdf"]
    assert "raise extract_timeout or remove the file" in got["a-slow.pdf"]
    assert got["b-good.pdf"] == got["c-good.txt"] == got["small-but-same.pdf"] == "indexed"
    assert seconds < 30


def test_pathological_html_and_text_load_well_within_the_time_limit(tmp_path):
    """Each took 17 s to minutes when cleaning and HTML extraction were quadratic; now a few seconds."""
    (tmp_path / "nested.html").write_bytes(b"<div>" * 10_000 + b"Deep text here." + b"</div>" * 10_000)
    (tmp_path / "spaces.html").write_bytes(b"<p>" + b" " * 200_000 + b"x</p><p>Budget agreed.</p>")
    (tmp_path / "hyphens.txt").write_bytes(b"Fostering and adop-\ntion, " * 150_000)
    found, loaded = load_folder(tmp_path, extract_timeout=12)
    assert results(found, loaded) == {"nested.html": "indexed", "spaces.html": "indexed", "hyphens.txt": "indexed"}
    texts = {Path(source.key).name: document.text for source, document, *_ in loaded.documents}
    assert texts["nested.html"] == "Deep text here."
    assert texts["spaces.html"] == "x\n\nBudget agreed."


def test_extract_timeout_setting():
    assert Settings.load(env={}).extract_timeout == 60
    assert Settings.load(env={"COUNCIL_ASSISTANT_EXTRACT_TIMEOUT": "0.5"}).extract_timeout == 0.5


def _worker_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"_serve" in cmdline:
            pids.append(int(entry.name))
    return pids


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the worker")
def test_a_worker_that_dies_mid_file_is_reported_and_replaced(tmp_path):
    slow = tmp_path / "slow.pdf"
    slow.write_bytes(slow_pdf(200_000))
    good = tmp_path / "good.txt"
    good.write_text("The board met in June.", encoding="utf-8")

    def kill_worker() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _worker_pids():
            time.sleep(0.05)
        time.sleep(1)
        for pid in _worker_pids():
            os.kill(pid, signal.SIGKILL)

    with Loader(timeout=60) as loader:
        killer = threading.Thread(target=kill_worker)
        killer.start()
        with pytest.raises(CorpusError, match=r"slow\.pdf: the extraction worker stopped while reading it "
                                              r"\(exit code -9\)"):
            loader.load(SourceFile(slow, slow.name, {}), slow.read_bytes())
        killer.join()
        assert loader.load(SourceFile(good, good.name, {}), good.read_bytes()).text == "The board met in June."
    assert not _worker_pids()


def _manifest_rows() -> list[dict]:
    with open(SAMPLES / "MANIFEST.tsv", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.mark.samples
@pytest.mark.slow
def test_every_sample_pdf_gives_what_its_manifest_expects():
    if not (SAMPLES / "MANIFEST.tsv").is_file():
        pytest.skip(f"{SAMPLES} is absent; it holds the third-party PDF samples (see its README.md)")
    rows = _manifest_rows()
    found, loaded = load_folder(SAMPLES)
    got = results(found, loaded)
    assert got.pop("README.md") == "indexed"
    warned: dict[str, list[str]] = {}
    for file, warning in loaded.warnings:
        warned.setdefault(Path(file).name, []).append(warning)
    assert set(got) == {row["file"] for row in rows}
    for row in rows:
        name, expected, outcome = row["file"], row["expected_behaviour"], got[row["file"]]
        notes = " | ".join(warned.get(name, []))
        if expected.startswith(("extract text", "encrypted, but opens without a password")):
            assert outcome == "indexed", (name, outcome)
        elif expected.startswith("encrypted: clear error unless password given"):
            assert outcome == "encrypted PDF; set pdf_password or remove the file", (name, outcome)
        elif expected.startswith(("no text layer", "no text at all")):
            assert "no text layer (needs OCR)" in outcome or "OCR" in notes, (name, outcome, notes)
        elif expected.startswith("damaged: recovers"):
            assert outcome == "indexed" and "damaged PDF: pypdf repaired it" in notes, (name, outcome, notes)
        elif expected.startswith("damaged: clear error or partial text"):
            assert outcome.startswith("damaged PDF") or "damaged" in notes, (name, outcome, notes)
        else:
            pytest.fail(f"MANIFEST.tsv: {name}: no rule for {expected!r}")


@pytest.mark.samples
@pytest.mark.parametrize("name,password", [
    ("sf-005-libreoffice-writer-password.pdf", "openpassword"),
    ("pypdf-encrypted-file.pdf", "test"),
    ("pypdf-enc-r2-user-password.pdf", "asdfzxcv"),
    ("pypdf-enc-r4-aes-user-password.pdf", "asdfzxcv"),
    ("pypdf-enc-r6-both-passwords.pdf", "foo"),
])
def test_encrypted_sample_opens_with_its_password(name, password):
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    document = load_document(SourceFile(path, name, {}), path.read_bytes(), pdf_password=password)
    assert document.text.strip()


@pytest.mark.slow
def test_cli_ingest_of_hostile_files_prints_one_line_per_failed_file(hostile, tmp_path):
    folder, expected = hostile
    (folder / "slow.pdf").write_bytes(slow_pdf(200_000))
    expected["slow.pdf"] = "extraction took longer than 1 s"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COUNCIL_ASSISTANT_EXTRACT_TIMEOUT": "1"}
    run = subprocess.run([sys.executable, "-m", "assistant", "--index", str(tmp_path / "index"), "ingest",
                          str(folder), str(CORPUS)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=900)
    assert "Traceback" not in run.stderr, run.stderr
    failed_lines = [line for line in run.stderr.splitlines() if line.startswith("failed: ")]
    failing = {name: outcome for name, outcome in expected.items() if outcome not in ("indexed", "skipped")}
    assert len(failed_lines) == len(failing), "\n".join(failed_lines)
    for name, outcome in failing.items():
        lines = [line for line in failed_lines if f"/{name}: " in line]
        assert len(lines) == 1 and outcome in lines[0], (name, lines)
    indexed = sum(outcome == "indexed" for outcome in expected.values()) + len(list(CORPUS.glob("*.txt")))
    summary = run.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"{indexed} added, 0 updated, 0 removed, 0 unchanged, {len(failing)} failed; ")
    assert run.returncode == 1

    from assistant.index import Index

    index = Index.open(tmp_path / "index")
    try:
        files = {Path(key).name for key in index.manifest["files"]}
        assert len(index.store.documents()) == indexed
    finally:
        index.close()
    assert files == {name for name, outcome in expected.items() if outcome == "indexed"} | {
        path.name for path in CORPUS.glob("*.txt")}


# --- manifest faults, colliding names and ids, leftovers and remembered failures (issue 20) ---------
# These run whole ingests with the fake encoder (conftest.HashEncoder) in place of the model: what they test is which papers
# the published index holds, not how well it ranks them.

@pytest.fixture
def hashed(make_assistant):
    """An Assistant over an index in tmp_path/index, embedding with the fake encoder."""
    return make_assistant()


def indexed(assistant) -> dict[str, object]:
    """doc_id -> metadata of every paper in the published build."""
    return {meta.doc_id: meta for meta, _ in assistant.documents()}


@pytest.mark.parametrize("old,new", [
    ("title = \"Cabinet Member Update: Children's", "title = \"Cabinet \"Member\" Update: Children's"),
    ('care.txt"]\nid = "cmu-2021-09-28', 'care.txt"\nid = "cmu-2021-09-28'),
], ids=["unescaped-quote", "unclosed-table"])
def test_a_manifest_that_no_longer_parses_keeps_every_indexed_paper(hashed, corpus_copy, old, new):
    first = hashed.ingest([corpus_copy])
    assert len(first.added) == 5 and not first.failed
    before = indexed(hashed)
    manifest = corpus_copy / "manifest.toml"
    text = manifest.read_text(encoding="utf-8")
    assert old in text
    manifest.write_text(text.replace(old, new, 1), encoding="utf-8")
    report = hashed.ingest([corpus_copy])
    assert len(report.failed) == 5 and not report.removed and not report.changed
    assert all("manifest.toml: not valid TOML" in message for _, message in report.failed)
    assert indexed(hashed) == before
    assert hashed.search("Improvement Board", k=3)


@pytest.mark.parametrize("field,value,shown", [
    ("doc_type", "[]", "field doc_type must be text in quotes"),
    ("id", "[1]", "field id must be text in quotes"),
    ("id", "7", "field id must be text in quotes (id = \"...\"), not a number (7)"),
    ("council", "{a = 1}", "field council must be text in quotes (council = \"...\"), not a table"),
    ("title", "true", "field title must be text in quotes"),
    ("date", '"15/03/2022"', "field date: \"15/03/2022\" is not an ISO date"),
    ("date", '"2022-02-30"', "field date: \"2022-02-30\" is not an ISO date"),
    ("date", "[2022]", "field date: a list ([2022]) is not a date"),
    ("author", '"x"', "has unknown field(s) author"),
])
def test_a_manifest_value_of_the_wrong_type_fails_only_its_own_file(hashed, tmp_path, field, value, shown):
    folder = tmp_path / "papers"
    folder.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (folder / name).write_text(f"Paper {name}: the board met in June.", encoding="utf-8")
    (folder / "manifest.toml").write_text(
        f'[defaults]\ncouncil = "A Council"\n\n[documents."a.txt"]\n{field} = {value}\n\n'
        '[documents."b.txt"]\nid = "paper-b"\ndoc_type = "minutes"\n', encoding="utf-8")
    report = hashed.ingest([folder])
    assert [Path(file).name for file, _ in report.failed] == ["a.txt"]
    message = report.failed[0][1]
    assert message.startswith(f'{folder / "manifest.toml"}: [documents."a.txt"] '), message
    assert shown in message and "\n" not in message
    assert sorted(Path(key).name for key in report.added) == ["b.txt", "c.txt"]
    assert indexed(hashed)["paper-b"].doc_type == "minutes"


def test_a_manifest_whose_documents_is_not_a_table_fails_its_folder_on_one_line_each(hashed, tmp_path):
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "a.txt").write_text("The board met in June.", encoding="utf-8")
    (folder / "manifest.toml").write_text("documents = 5\n", encoding="utf-8")
    report = hashed.ingest([folder])
    assert report.failed == ((str(folder / "a.txt"),
                              f"{folder / 'manifest.toml'}: documents must be a table ([documents...]), "
                              "not a number (5)"),)


@pytest.mark.parametrize("value,iso", [
    ("2022-03-15", "2022-03-15"), ('"2022-03-15"', "2022-03-15"), ('"20220315"', "2022-03-15"),
    ("2022-03-15T09:30:00", "2022-03-15"),
])
def test_manifest_dates_are_stored_as_iso(hashed, tmp_path, value, iso):
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "a.txt").write_text("The board met in March.", encoding="utf-8")
    (folder / "manifest.toml").write_text(f'[documents."a.txt"]\nid = "a"\ndate = {value}\n', encoding="utf-8")
    report = hashed.ingest([folder])
    assert not report.failed and indexed(hashed)["a"].date == iso
    assert hashed.search("board", k=1, since=iso, until=iso)


def test_file_names_that_read_alike_get_distinct_keys(hashed, tmp_path):
    folder = tmp_path / "papers"
    folder.mkdir()
    for raw in (b"caf\xe8.txt", b"caf\xe9.txt"):
        with open(os.fsencode(folder) + b"/" + raw, "wb") as handle:
            handle.write(b"A paper named " + raw)
    report = hashed.ingest([folder])
    assert not report.failed and len(report.added) == 2 and len(set(report.added)) == 2
    clash = [(file, w) for file, w in report.warnings if "reads the same as" in w]
    assert len(clash) == 1 and "caf\\xe9.txt" in clash[0][1], report.warnings
    assert len(indexed(hashed)) == 2
    again = hashed.ingest([folder])
    assert len(again.unchanged) == 2 and not again.changed


def test_a_manifest_id_equal_to_a_generated_one_is_made_unique(hashed, tmp_path):
    import hashlib

    from assistant.corpus import file_key

    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    (tmp_path / "a" / "update.txt").write_text("First update.", encoding="utf-8")
    (tmp_path / "b" / "update.txt").write_text("Second update.", encoding="utf-8")
    (tmp_path / "c" / "other.txt").write_text("Another paper.", encoding="utf-8")
    generated = f"update-{hashlib.sha1(file_key(tmp_path / 'b' / 'update.txt').encode()).hexdigest()[:6]}"
    (tmp_path / "c" / "manifest.toml").write_text(f'[documents."other.txt"]\nid = "{generated}"\n',
                                                  encoding="utf-8")
    report = hashed.ingest([tmp_path / "a", tmp_path / "c", tmp_path / "b"])
    assert not report.failed and len(report.added) == 3
    ids = indexed(hashed)
    assert len(ids) == 3 and "update" in ids and ids[generated].title == "Another paper."

    (tmp_path / "c" / "late.txt").write_text("A late paper.", encoding="utf-8")
    (tmp_path / "c" / "manifest.toml").write_text(
        f'[documents."other.txt"]\nid = "{generated}"\n[documents."late.txt"]\nid = "update"\n', encoding="utf-8")
    late = hashed.ingest([tmp_path / "c"])
    assert [Path(k).name for k in late.added] == ["late.txt"] and not late.failed
    clash = [w for file, w in late.warnings if file.endswith("late.txt")]
    assert len(clash) == 1 and "manifest id 'update' is already the id of" in clash[0], late.warnings
    assert len(indexed(hashed)) == 4


def test_an_ingest_removes_the_builds_a_killed_run_left(hashed, corpus_copy):
    hashed.ingest([corpus_copy])
    index_dir = hashed.settings.index_dir
    current = os.readlink(index_dir / "current")
    leftover = index_dir / "builds" / ".tmp-20240101T000000-deadbeef"
    leftover.mkdir()
    (leftover / "chunks.sqlite3").write_bytes(b"\x00" * 4096)
    os.symlink(current, index_dir / ".current-deadbeef")
    report = hashed.ingest([corpus_copy])
    assert not report.changed and len(report.unchanged) == 5
    assert not leftover.exists() and not os.path.lexists(index_dir / ".current-deadbeef")
    assert os.readlink(index_dir / "current") == current and hashed.search("Improvement Board", k=1)


def test_a_failed_file_is_extracted_again_only_when_it_changes_or_is_retried(hashed, tmp_path, monkeypatch):
    from assistant import loading as ingest_module

    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "good.txt").write_text("The board met in June.", encoding="utf-8")
    bad = folder / "bad.txt"
    bad.write_bytes(bytes(range(256)) * 4)
    extracted: list[str] = []
    real_load = ingest_module.Loader.load

    def counting_load(loader, source, data, *args):
        extracted.append(source.path.name)
        return real_load(loader, source, data, *args)

    monkeypatch.setattr(ingest_module.Loader, "load", counting_load)
    first = hashed.ingest([folder])
    assert extracted == ["bad.txt", "good.txt"] and first.failed[0][1].startswith("binary data, not text")

    extracted.clear()
    again = hashed.ingest([folder])
    assert extracted == [] and len(again.failed) == 1 and len(again.unchanged) == 1
    assert again.failed[0][1].startswith("binary data, not text")
    assert "unchanged since it last failed; `council-assistant ingest --retry-failed` tries it again" in \
        again.failed[0][1]

    retried = hashed.ingest([folder], retry_failed=True)
    assert extracted == ["bad.txt"] and "unchanged since" not in retried.failed[0][1]

    extracted.clear()
    (folder / "manifest.toml").write_text('[documents."bad.txt"]\ntitle = "Renamed"\n', encoding="utf-8")
    assert hashed.ingest([folder]).failed and extracted == ["bad.txt"]

    extracted.clear()
    bad.write_text("Now a readable paper.", encoding="utf-8")
    fixed = hashed.ingest([folder])
    assert extracted == ["bad.txt"] and not fixed.failed and len(fixed.added) == 1
    record = json.loads((hashed.settings.index_dir / "failures.json").read_text(encoding="utf-8"))
    assert record["files"] == {}


def test_cli_ingest_has_retry_failed():
    from assistant.cli import _parser

    assert _parser().parse_args(["ingest", "--retry-failed", "corpus"]).retry_failed
    assert not _parser().parse_args(["ingest"]).retry_failed


UNREADABLE_FOLDER_RUN = """
import json, sys
from pathlib import Path
sys.path.insert(0, "tests")
from conftest import HashEncoder
from assistant.ingest import ingest
from assistant.settings import Settings

folder, settings = Path(sys.argv[1]), Settings.load(env={}, index_dir=Path(sys.argv[2]), progress=False)
first = ingest([folder], settings, HashEncoder())
(folder / "sub").chmod(0o000)
try:
    second = ingest([folder], settings, HashEncoder())
finally:
    (folder / "sub").chmod(0o755)
print(json.dumps({"added": first.added, "removed": second.removed, "failed": second.failed}))
"""


def test_a_folder_that_cannot_be_read_keeps_its_indexed_papers():
    """Run as nobody in a child process (as root, chmod 000 does not stop reads)."""
    folder = Path(tempfile.mkdtemp(prefix="unreadable-folder-"))
    try:
        (folder / "papers" / "sub").mkdir(parents=True)
        (folder / "papers" / "top.txt").write_text("The board met in June.", encoding="utf-8")
        (folder / "papers" / "sub" / "inner.txt").write_text("The panel met in July.", encoding="utf-8")
        got = run_as_nobody([sys.executable, "-c", UNREADABLE_FOLDER_RUN, str(folder / "papers"),
                             str(folder / "index")], timeout=300, owned=folder)
        assert len(got["added"]) == 2
        assert got["removed"] == []
        assert [Path(file).name for file, _ in got["failed"]] == ["sub"]
        assert got["failed"][0][1].startswith("cannot read folder (Permission denied)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
def test_bytes_that_are_not_text_are_refused_whatever_the_name_says(tmp_path):
    """Random bytes named .html were indexed as a garbage paper (bs4 decodes anything); .txt, .md
    and .html now pass the same test, and real text in any of them, or in a declared charset, loads."""
    rng = random.Random(SEED)
    noise = bytes(rng.randrange(256) for _ in range(4096))
    high = bytes(rng.randrange(0x80, 0x100) for _ in range(4096))
    for name, data in [("noise.html", noise), ("noise.htm", noise), ("noise.md", noise), ("noise.txt", noise),
                       ("high.html", high), ("high.md", high), ("high.txt", high)]:
        (tmp_path / name).write_bytes(data)
    (tmp_path / "page.html").write_bytes(b"<html><body><p>The cabinet agreed the budget.</p></body></html>")
    (tmp_path / "latin-1.html").write_bytes("<p>Caf\u00e9 budget agreed in M\u00e4rz.</p>".encode("latin-1"))
    (tmp_path / "declared.html").write_bytes(
        '<meta charset="windows-1251"><p>\u041f\u0440\u043e\u0442\u043e\u043a\u043e\u043b \u0437\u0430\u0441'
        '\u0435\u0434\u0430\u043d\u0438\u044f.</p>'.encode("cp1251"))
    (tmp_path / "utf-16.html").write_bytes("<p>Kinship care review.</p>".encode("utf-16"))
    found, loaded = load_folder(tmp_path)
    got = results(found, loaded)
    for name in ("noise.html", "noise.htm", "noise.md", "noise.txt"):
        assert got[name] == "binary data, not text; rename it to its real type or remove it", (name, got[name])
    for name in ("high.html", "high.md", "high.txt"):
        assert got[name].startswith("neither UTF-8 nor Windows-1252 text (100% of its first 4,096 bytes"), got[name]
    for name in ("page.html", "latin-1.html", "declared.html", "utf-16.html"):
        assert got[name] == "indexed", (name, got[name])
    texts = {Path(source.key).name: document.text for source, document, *_ in loaded.documents}
    assert texts["declared.html"] == "\u041f\u0440\u043e\u0442\u043e\u043a\u043e\u043b \u0437\u0430\u0441" \
                                     "\u0435\u0434\u0430\u043d\u0438\u044f."
    assert texts["utf-16.html"] == "Kinship care review."


def test_symbolic_links_out_of_the_given_folders_are_skipped_unless_allowed(tmp_path):
    """A link in the corpus to a file or folder elsewhere (/etc/passwd, say) was indexed and searchable."""
    corpus, other, outside = tmp_path / "corpus", tmp_path / "other", tmp_path / "outside"
    for folder in (corpus, other, outside, corpus / "minutes"):
        folder.mkdir()
    (corpus / "paper.txt").write_text("The cabinet agreed the budget.", encoding="utf-8")
    (corpus / "minutes" / "june.txt").write_text("The board met in June.", encoding="utf-8")
    (other / "shared.txt").write_text("A paper in the second folder given.", encoding="utf-8")
    (outside / "secret.txt").write_text("Not part of any corpus.", encoding="utf-8")
    (outside / "private").mkdir()
    (outside / "private" / "notes.txt").write_text("Private notes.", encoding="utf-8")
    os.symlink(outside / "secret.txt", corpus / "secret-link.txt")
    os.symlink("/etc/passwd", corpus / "passwd.txt")
    os.symlink(outside / "private", corpus / "private-link")
    os.symlink("minutes/june.txt", corpus / "june-link.txt")
    os.symlink(corpus / "minutes", corpus / "minutes-link")
    os.symlink(other / "shared.txt", corpus / "shared-link.txt")

    found, loaded = load_folder(corpus, other)
    got = results(found, loaded)
    skipped = {Path(file).name: reason for file, reason in found.skipped}
    assert set(skipped) == {"secret-link.txt", "passwd.txt", "private-link"}, skipped
    assert skipped["passwd.txt"] == ("symbolic link to /etc/passwd, outside the folders given to ingest; not "
                                     "followed (set follow_external_links = true to index it)")
    assert f"symbolic link to {outside / 'private'}, outside the folders" in skipped["private-link"]
    indexed = {Path(source.key).name for source, *_ in loaded.documents}
    assert indexed == {"paper.txt", "june.txt", "shared.txt"}, indexed  # a file is indexed under its real path
    assert set(got) == indexed

    found, loaded = load_folder(corpus, follow_external_links=True)
    assert not found.skipped and not found.failed and not loaded.failed
    assert {Path(source.key).name for source, *_ in loaded.documents} == {
        "paper.txt", "june.txt", "shared.txt", "secret.txt", "passwd", "notes.txt"}

    found, loaded = load_folder(corpus / "secret-link.txt")
    assert [Path(source.key).name for source, *_ in loaded.documents] == ["secret.txt"]


def test_follow_external_links_setting():
    from assistant.errors import SettingsError

    assert Settings.load(env={}).follow_external_links is False
    assert Settings.load(env={"COUNCIL_ASSISTANT_FOLLOW_EXTERNAL_LINKS": "true"}).follow_external_links is True
    with pytest.raises(SettingsError, match="follow_external_links='sometimes': expected true or false"):
        Settings.load(env={"COUNCIL_ASSISTANT_FOLLOW_EXTERNAL_LINKS": "sometimes"})


def docx_with_paragraphs(path: Path, paragraph: bytes, count: int) -> Path:
    """A real .docx (python-docx) with `count` copies of the raw paragraph XML before its one line of text."""
    import zipfile

    import docx

    base = path.with_name("base-" + path.name)
    document = docx.Document()
    document.add_paragraph("Budget agreed.")
    document.save(base)
    with zipfile.ZipFile(base) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "word/document.xml":
                data = data.replace(b"<w:body>", b"<w:body>" + paragraph * count, 1)
            target.writestr(item, data)
    base.unlink()
    return path


def test_cheap_docx_files_of_a_million_paragraphs_cost_little(tmp_path):
    """45 KB of a million empty paragraphs took 25 s to read (python-docx: 50 µs each) and 135 KB of
    a million one-letter ones about a minute, then gave 11,200 chunks to embed: now the empty ones
    cost a lookup, and a file of more paragraphs than a paper has is refused on one line."""
    from assistant.readers import MAX_DOCX_PARAGRAPHS

    empty = docx_with_paragraphs(tmp_path / "empty-paragraphs.docx", b"<w:p/>", 1_000_000)
    letters = docx_with_paragraphs(tmp_path / "letters.docx", b"<w:p><w:r><w:t>a</w:t></w:r></w:p>", 1_000_000)
    assert empty.stat().st_size < 60_000 and letters.stat().st_size < 150_000
    found, loaded = load_folder(tmp_path, extract_timeout=15)
    got = results(found, loaded)
    assert got["empty-paragraphs.docx"] == "indexed", got["empty-paragraphs.docx"]
    assert got["letters.docx"] == (f"1,000,001 paragraphs, more than the {MAX_DOCX_PARAGRAPHS:,} allowed for one "
                                   "paper; split it into smaller files or remove it")
    assert loaded.documents[0][1].text == "Budget agreed."


def test_no_chunk_holds_more_than_its_share_of_characters(tmp_path):
    """A PDF whose text is one giant "word" gave it whole as one chunk (and so in search results)."""
    from assistant.chunking import MAX_CHARS_PER_WORD, chunk_document

    rng = random.Random(SEED)
    word = "".join(rng.choice("abcdefghij") for _ in range(300_000))
    path = make_pdf(tmp_path / "word.pdf", [f"Budget agreed. {word} Fostering reviewed."])
    document = load_document(SourceFile(path, path.name, {}), path.read_bytes())
    assert word in document.text
    chunks = chunk_document(document, 90, 0)
    assert max(len(chunk.text) for chunk in chunks) == 90 * MAX_CHARS_PER_WORD
    assert len(chunks) < 2 * 300_000 / (90 * MAX_CHARS_PER_WORD)
    assert chunks[0].text == "Budget agreed."
    gaps = [document.text[a.end:b.start] for a, b in zip(chunks, chunks[1:])]
    assert all(not gap.strip() for gap in gaps), "a character of the text is in no chunk"


def test_chunking_longer_than_the_time_limit_fails_that_file_alone(tmp_path, encoder):
    """Chunking ran in the ingest process with no limit: 600,000 characters of "a. a. a." take Punkt
    most of a minute, after a fraction of a second of extraction."""
    from assistant.ingest import ingest

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "full-stops.txt").write_bytes(b"a. " * 200_000)
    (corpus / "good.txt").write_text("The cabinet agreed the budget in March.", encoding="utf-8")
    settings = Settings.load(env={}, progress=False, index_dir=tmp_path / "index", extract_timeout=2)
    report = ingest([corpus], settings, encoder)
    assert [Path(key).name for key in report.added] == ["good.txt"]
    assert [(Path(file).name, problem) for file, problem in report.failed] == [(
        "full-stops.txt", "chunking took longer than 2 s (599,999 characters of text); split the file, raise "
                          "extract_timeout or remove it")]


def test_control_characters_in_names_and_titles_are_escaped_in_text_output(tmp_path, encoder, monkeypatch, capsys):
    """A newline in a file name forged a report line, and escape sequences in a name or a title reached
    the terminal; each is now shown escaped in text output, while the JSON report keeps the exact name."""
    from assistant.cli import main

    monkeypatch.setattr("assistant.app.Embedder", lambda *args, **kwargs: encoder)
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "corpus"
    folder.mkdir()
    forged = "forged\nfailed: everything.txt"
    rng = random.Random(SEED)
    (folder / forged).write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
    (folder / "\x1b[2J\x1b[31mred.txt").write_bytes("Caf\u00e9 budget agreed in March.".encode("latin-1"))
    (folder / "title.html").write_bytes(b"<title>Budget &#27;[31mred&#27;[0m \xe2\x80\xaeevil</title>"
                                        b"<p>The cabinet agreed the budget for children's services.</p>")
    index = str(tmp_path / "index")

    assert main(["--index", index, "ingest", str(folder)]) == 1
    out, err = capsys.readouterr()
    assert "\x1b" not in out + err and "\u202e" not in out + err
    assert [line for line in err.splitlines() if line.startswith("failed: ")] == [
        f"failed: {folder}/forged\\nfailed: everything.txt: binary data, not text; rename it to its real type "
        "or remove it"]
    assert f"warning: {folder}/\\x1b[2J\\x1b[31mred.txt: not UTF-8" in err
    assert out.strip().splitlines()[-1].startswith("2 added, 0 updated, 0 removed, 0 unchanged, 1 failed; ")

    assert main(["--index", index, "ingest", "--json", str(folder)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [entry["file"] for entry in report["failed"]] == [f"{folder}/{forged}"]

    assert main(["--index", index, "search", "cabinet budget children"]) == 0
    out, err = capsys.readouterr()
    assert "\x1b" not in out + err and "\u202e" not in out + err
    assert "1. Budget \\x1b[31mred\\x1b[0m \\u202eevil (undated, budget)  score " in out
