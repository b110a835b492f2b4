"""The synthetic corpus generator in bench/synthetic.py: deterministic, varied, ingestible, no real names."""
from __future__ import annotations

import datetime as dt
import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import pytest

from assistant.corpus import discover, read_manifest
from assistant.extraction import load_document

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"


def _load_bench_module(name: str):
    """bench/ is not a package: load bench/<name>.py by path."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


synthetic = _load_bench_module("synthetic")

DOMAIN_TERMS = (
    "ofsted", "inadequate", "improvement board", "improvement notice", "children's social care",
    "children's services", "department for education", "dfe", "social worker", "agency", "recruitment",
    "caseload", "fostering", "foster carer", "adoption", "special guardianship", "send",
    "education, health and care plan", "care leaver", "corporate parenting", "overview and scrutiny",
    "cabinet", "commissioner", "secretary of state", "children in care", "child protection",
    "multi-agency safeguarding hub", "budget", "£", "million", "director of children's services",
    "cabinet member", "councillor", "inspection", "permanence", "residential", "investment",
)
# People and places named in the real corpus; the synthetic papers must name none of them.
REAL_NAMES = ("Sefton", "Mhairi", "Doyle", "Roscoe", "Clive Jones", "Lisa Lyons", "Lyons", "Martin Birch",
              "Birch", "Hilary Brooks", "Caroline McKenna", "McKenna", "Banham", "Risthardh", "Cherry Road",
              "Liverpool", "Plaza Community Cinema", "Making a Difference")


def _normal(text: str) -> str:
    return text.replace("’", "'").replace("‘", "'").lower()


@pytest.fixture(scope="module")
def papers():
    return synthetic.generate_documents(500, seed=0)


def test_same_seed_gives_the_same_papers_and_another_seed_others():
    assert synthetic.generate_documents(25, seed=3) == synthetic.generate_documents(25, seed=3)
    other = synthetic.generate_documents(25, seed=4)
    assert all(a.text != b.text for a, b in zip(synthetic.generate_documents(25, seed=3), other))


def test_paper_i_does_not_depend_on_n(papers):
    assert synthetic.generate_documents(60) == papers[:60]
    assert synthetic.generate_document(321) == papers[321]


def test_papers_vary(papers):
    assert len({p.text for p in papers}) >= 0.95 * len(papers)
    assert len({p.title for p in papers}) >= 0.8 * len(papers)
    sentences = {s for p in papers for s in re.split(r"(?<=[.!?”])\s+", p.text) if len(s.split()) >= 6}
    assert len(sentences) >= 10_000
    assert len({p.council for p in papers}) >= 30
    assert {p.date[:4] for p in papers} == {str(y) for y in range(2015, 2026)}
    assert synthetic.template_count() >= 400


def test_every_kind_has_its_shape_and_length(papers):
    by_type = {t: [p for p in papers if p.doc_type == t] for t in synthetic.DOC_TYPES}
    assert all(len(group) >= 50 for group in by_type.values())
    for paper in by_type["press-release"]:
        assert 250 <= len(paper.text.split()) <= 700, paper.doc_id
        assert paper.committee is None
        assert "said:" in paper.text or "added:" in paper.text or "commented:" in paper.text
    for kind in ("cabinet-member-update", "minutes", "report"):
        for paper in by_type[kind]:
            assert 700 <= len(paper.text.split()) <= 2800, paper.doc_id
            assert paper.committee
    assert all(p.text.startswith("CABINET MEMBER UPDATE\n\n") for p in by_type["cabinet-member-update"])
    assert all("RESOLVED: That" in p.text and "APOLOGIES FOR ABSENCE" in p.text for p in by_type["minutes"])
    assert all("Recommendation(s):" in p.text and "\n\n1. " in p.text for p in by_type["report"])


def test_metadata_is_consistent(papers):
    for paper in papers:
        date = dt.date.fromisoformat(paper.date)
        assert 2015 <= date.year <= 2025 and date.weekday() < 5
        assert paper.date in paper.doc_id
        assert paper.doc_type in synthetic.DOC_TYPES
        assert paper.council.endswith("Council")
        short = paper.council.split(" Council")[0].split(" Borough")[0].split(" Metropolitan")[0]
        assert short.lower() in paper.text.lower()
    assert len({p.doc_id for p in papers}) == len(papers)


def test_papers_use_the_real_corpus_vocabulary(papers):
    texts = [_normal(p.text) for p in papers]
    everything = "\n".join(texts)
    assert [t for t in DOMAIN_TERMS if t not in everything] == []
    assert all(sum(t in text for t in DOMAIN_TERMS) >= 5 for text in texts)
    words = re.compile(r"[a-z][a-z'-]+")
    real = {w for path in CORPUS.glob("*.txt") for w in words.findall(_normal(path.read_text(encoding="utf-8")))
            if len(w) >= 6}
    assert len(real & set(words.findall(everything))) >= 0.8 * len(real)


def test_no_real_council_or_person_is_named(papers):
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in REAL_NAMES) + r")\b", re.IGNORECASE)
    for paper in papers:
        for value in (paper.text, paper.title, paper.council, paper.committee or ""):
            assert not pattern.search(value), (paper.doc_id, pattern.search(value))
    assert not any(pattern.search(q) for q in synthetic.questions(500))


def test_every_template_fills():
    slots = synthetic._paper_slots(0, synthetic.random.Random(1), 0, dt.date(2021, 9, 28))
    slots.update({"officer": "A Person", "officer_role": "Head of Fostering", "item_subject": "a subject",
                  "concern": "a concern"})
    templates = [t for topic in synthetic.TOPICS for field in ("headings", "subjects", "headlines", "facts",
                                                               "quotes", "concerns", "actions")
                 for t in getattr(topic, field)]
    templates += [t for name in ("_MINUTES_INTRO", "_MINUTES_DISCUSSION", "_REPORT_REASONS",
                                 "_REPORT_ALTERNATIVES", "_REPORT_REVENUE", "_REPORT_CAPITAL", "_REPORT_LEGAL",
                                 "_REPORT_EQUALITY", "_REPORT_PURPOSE", "_REPORT_CONSULTATION",
                                 "_PRESS_CLOSINGS", "_QUOTE_GENERIC") for t in getattr(synthetic, name)]
    templates += [t for group in synthetic._MINUTES_OPENING + synthetic._MINUTES_CLOSING
                  for t in (group[0], *group[1])]
    for template in templates:
        filled = synthetic._fill(template, slots)
        assert not re.search(r"[{}\[\]]", filled), template
    assert len(templates) >= 400


def test_written_corpus_is_found_by_ingest_with_its_metadata(tmp_path):
    folder = tmp_path / "synthetic"
    paths = synthetic.write_corpus(folder, 40, seed=2)
    papers = synthetic.generate_documents(40, seed=2)
    assert len(paths) == 40 and all(p.is_file() and p.suffix == ".txt" for p in paths)
    entries = read_manifest(folder)
    assert set(entries) - {"*"} == {p.name for p in paths}
    found = discover([folder])
    assert not found.failed
    assert len(found.sources) == 40
    by_name = {source.path.name: source for source in found.sources}
    for paper in papers:
        meta = by_name[paper.file_name].meta
        assert (meta["id"], meta["title"], meta["date"], meta["doc_type"], meta["council"]) == (
            paper.doc_id, paper.title, paper.date, paper.doc_type, paper.council)
        assert meta.get("committee") == paper.committee
    for source in found.sources[:5]:
        document = load_document(source, source.path.read_bytes())
        paper = next(p for p in papers if p.file_name == source.path.name)
        assert (document.meta.title, document.meta.date, document.meta.doc_type) == (
            paper.title, paper.date, paper.doc_type)


def test_toml_strings_are_escaped():
    value = 'Council responds to "inadequate" rating \\ C:\\path\n\ttab “curly”'
    assert tomllib.loads(f"key = {synthetic.toml_string(value)}")["key"] == value


def test_chunk_records_are_chunk_sized_and_labelled():
    records = list(synthetic.chunk_records(3000, seed=5))
    assert len(records) == 3000
    assert records == list(synthetic.chunk_records(3000, seed=5))
    assert records[:100] == list(synthetic.chunk_records(100, seed=5))
    assert {topic for topic, _ in records} == set(synthetic.TOPIC_NAMES)
    for topic, text in records:
        title, body = text.split("\n", 1)
        assert title and "\n" not in body
        assert 60 <= len(body.split()) <= 90
        assert body.endswith((".", "?", "”", "'"))
    assert len({text for _, text in records}) == len(records)
    assert [t for _, t in records[:50]] == list(synthetic.chunk_texts(50, seed=5))


def test_questions_are_distinct_questions():
    asked = synthetic.questions(300, seed=1)
    assert len(asked) == len(set(asked)) == 300
    assert all(q.endswith("?") and q[0].isupper() for q in asked)
    assert synthetic.questions(100, seed=1) == asked[:100]
    assert synthetic.questions(300, seed=2) != asked


def test_main_writes_a_corpus(tmp_path, capsys):
    synthetic.main([str(tmp_path / "out"), "--n", "5", "--seed", "7"])
    assert len(list((tmp_path / "out").glob("*.txt"))) == 5
    assert (tmp_path / "out" / "manifest.toml").is_file()
    assert "wrote 5 papers" in capsys.readouterr().out
