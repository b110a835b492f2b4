"""Minutes structure: numbered items, motions and votes, on generated minutes and the dev papers."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.chunking import chunk_document, with_items
from assistant.chunkstore import ChunkStore
from assistant.corpus import SourceFile
from assistant.extraction import load_document
from assistant.structure import find_items, find_motions
from conftest import SHARED, make_pdf

REAL = SHARED / "realworld-dev" / "corpus"

MINUTES = """Minutes of the meeting of the Parish Council held on 4 June 2018
Present: Cllr A (Chair), Cllr B, Cllr C
36/18 Apologies for absence
Apologies were received from Cllr D.
37/18 Appointment of Internal Auditor
The clerk reported three quotations for the internal audit of the 2018/19 accounts.
Proposed by Cllr A, seconded by Cllr B, carried 7-1.
RESOLVED: that the lowest quotation be accepted.
Item 38 Playground repairs
The council noted the report. As minuted at 37/18 The auditor will report in May.
Minute 123 Budget for 2019/20
For: 6, Against: 2, Abstain: 1
7. Date of next meeting
The next meeting is on 2 July 2018.
"""


def test_numbered_items_of_each_style_are_found():
    items = find_items(MINUTES)
    assert [(i.ref, i.title) for i in items] == [
        ("36/18", "Apologies for absence"), ("37/18", "Appointment of Internal Auditor"),
        ("38", "Playground repairs"), ("123", "Budget for 2019/20"), ("7", "Date of next meeting")]
    assert items[1].label == "Item 37/18 Appointment of Internal Auditor"
    assert MINUTES[items[1].start:].startswith("37/18 Appointment")


def test_references_in_running_text_and_long_numbered_lines_are_not_headings():
    text = ("The council noted that 37/18 had been settled.\n"
            "1. The picnic table and the long bench seat in the glade have been cleaned and repainted over "
            "the winter by volunteers who gave their time freely.\n"
            "3.5 Tonnes of gravel were delivered.\n")
    assert find_items(text) == []


def test_motions_and_votes_are_parsed():
    motions = find_motions(MINUTES)
    kinds = [m.kind for m in motions]
    for kind in ["proposed", "seconded", "carried", "resolved"]:
        assert kind in kinds
    votes = [(m.votes_for, m.votes_against, m.abstentions) for m in motions if m.kind == "vote"]
    assert votes == [(7, 1, None), (6, 2, 1)]
    roll_call = ("the motion carried by the following voice vote: Ayes: Councilmembers E, F and Mayor G – 3. "
                 "Noes: Councilmembers H and J – 2.")
    assert [(m.votes_for, m.votes_against) for m in find_motions(roll_call) if m.kind == "vote"] == [(3, 2)]


def test_chunks_follow_items_and_carry_their_heading(tmp_path):
    path = make_pdf(tmp_path / "minutes.pdf", [MINUTES])
    document = with_items(load_document(SourceFile(path, path.name, {}), path.read_bytes()))
    chunks = chunk_document(document, chunk_words=90, overlap_sentences=1)
    vote = next(c for c in chunks if "carried 7-1" in c.text)
    assert vote.heading == "Item 37/18 Appointment of Internal Auditor"
    assert "Apologies were received" not in vote.text and "Playground" not in vote.text
    assert "Item 37/18" not in vote.text
    for chunk in chunks:
        assert chunk.text == document.text[chunk.start:chunk.end]
        assert chunk.heading == document.meta.heading_at(chunk.start)
    assert [c.heading for c in chunks][0] is None

    store = ChunkStore(tmp_path / "chunks.sqlite3")
    store.put_document(document, "minutes.pdf", "c", "m")
    ids = store.put_chunks(chunks)
    store.commit()
    stored = store.chunks([int(i) for i in ids])
    assert [stored[int(i)][0].heading for i in ids] == [c.heading for c in chunks]
    assert stored[int(ids[0])][1].items == document.meta.items
    assert any(text.split("\n")[1] == "Item 37/18 Appointment of Internal Auditor"
               for text in store.index_texts(ids))
    store.close()


def _dev_text(name: str) -> str:
    path = REAL / name
    if not path.is_file():
        pytest.skip(f"{REAL} is absent: the real-papers corpus is not on this machine")
    return load_document(SourceFile(path, path.name, {}), path.read_bytes()).text


@pytest.mark.samples
@pytest.mark.parametrize("name", [
    "milburn-pc-minutes-2018-01-16.pdf", "milburn-pc-minutes-2021-01-26.pdf", "milburn-pc-agm-minutes-2019-05-07.pdf",
    "newbiggin-pc-minutes-2019-09-03.docx", "souldern-pc-minutes-2023-10-26.pdf", "souldern-pc-minutes-2024-01-25.pdf",
    "souldern-pc-minutes-2025-02-27.pdf", "souldern-pc-minutes-2026-01-29.pdf",
    "souldern-pc-annual-meeting-minutes-2025-05-20.pdf"])
def test_every_numbered_item_of_the_dev_minutes_is_found(name):
    """Each "MM.YY.NN Title" reference printed in a dev paper's minutes is an item, whether it starts
    its line or text extraction ran it into the line before."""
    text = _dev_text(name)
    printed = {m.group(1) for m in re.finditer(r"(?<![\d.])(\d{2}\.\d{2}\.\d{1,2})\s+[A-Z]", text)}
    found = {item.ref for item in find_items(text)}
    assert printed and printed <= found, sorted(printed - found)


@pytest.mark.samples
def test_roll_call_votes_of_the_dev_minutes_are_parsed():
    text = _dev_text("alameda-city-council-minutes-2023-06-20.pdf")
    votes = [(m.votes_for, m.votes_against) for m in find_motions(text) if m.kind == "vote"]
    assert (3, 2) in votes and (4, 1) in votes
    refs = {item.ref for item in find_items(text)}
    printed = {m.group(1) for m in re.finditer(r"^\((\d{2}-\d{3}(?: [A-Z])?)\)", text, re.MULTILINE)}
    assert printed and printed <= refs, sorted(printed - refs)
