"""The kinds of fact a question asks for and a sentence holds, and the measures of a candidate
sentence (evidence.py), on sentences worded as real council papers word them."""
from __future__ import annotations

import numpy as np
import pytest

from assistant.composition import question_parts, short_span
from assistant.evidence import (FEATURES, Sentence, analyse, asked_kinds, candidate_sentences, index_idf, kind_match,
                                new_facts, sentence_features)
from assistant.types import Chunk, DocumentMeta, Passage


def _sentence(text: str, heading: str = "") -> Sentence:
    chunk = Chunk(doc_id="d", ord=0, text=text, start=0, end=len(text))
    passage = Passage(chunk=chunk, meta=DocumentMeta(doc_id="d", title="Minutes"), score=1.0, rank=1)
    return Sentence(text=text, start=0, end=len(text), passage=passage, heading=heading)


def test_a_name_in_capitals_beside_a_role_is_the_person_asked_for():
    question = "Who was the Chief Financial Officer certifying the budget?"
    sentence = "No. DONNA MAUER N-0647 Chief Financial Officer Cert."
    assert [m.group(0) for m in new_facts("person", question, sentence)] == ["DONNA MAUER"]
    assert short_span(question, sentence) is not None


def test_a_heading_in_capitals_without_a_role_names_no_person():
    assert new_facts("person", "Who paid for the works?", "PLAY AREA REFURBISHMENT WORKS") == []


def test_members_initials_before_proposed_and_seconded_are_people():
    question = "Who proposed and who seconded co-opting the two new members?"
    sentence = "JH proposed HD seconded and it was RESOLVED to co-opt both."
    assert [m.group(0) for m in new_facts("person", question, sentence)] == ["JH", "HD"]


def test_a_sum_in_an_accounts_table_without_a_currency_sign_is_a_sum():
    question = "What was the annual precept for the year ended 31 March 2018?"
    row = "(1,102,339) 1,823,850 Annual Precept 1,832,982 Transfer to Earmarked Reserves (827,769)"
    assert "1,832,982" in [m.group(0) for m in new_facts("money", question, row)]
    assert new_facts("money", question, "The accounts for 2018 were approved.") == []


def test_a_question_for_a_resolution_number_asks_for_a_number():
    question = "Under which resolution number did the council adopt its operating budget?"
    assert "count" in asked_kinds(question)
    assert kind_match(question, "Resolution No. 15782, Approving and Adopting the Operating Budget.") > \
        kind_match(question, "Resolution approving and adopting the operating budget.")


@pytest.mark.parametrize("question,parts", [
    ("Who is the adviser supporting the service, and since when has that adviser been in place?",
     ["Who is the adviser supporting the service", "since when has that adviser been in place?"]),
    ("In which newspaper, and in which issue, was the budget to be published?",
     ["In which newspaper", "in which issue, was the budget to be published?"]),
])
def test_a_further_question_word_after_a_preposition_starts_a_part(question, parts):
    assert question_parts(question) == parts
    assert analyse(question).parts == 2


def test_the_question_s_phrases_kept_together_score_above_its_words_scattered():
    from assistant.evidence import phrase_match

    question = analyse("When was the launch event for the framework held?")
    idf = {"": 3.0}
    together = _sentence("The launch event took place on the 9th February.")
    scattered = _sentence("An event was held in the hall after the launch of the plan.")
    assert phrase_match(question.words, together, idf) > 0.3
    assert phrase_match(question.words, scattered, idf) == 0.0
    assert phrase_match(analyse("Who chairs it?").words, together, idf) == 0.0


def test_an_opening_phrase_that_asks_nothing_belongs_to_the_part_after_it():
    question = ("In January 2024, how much had the fundraising brought in altogether, "
                "and what did the project end up costing?")
    assert question_parts(question) == ["In January 2024, how much had the fundraising brought in altogether",
                                        "what did the project end up costing?"]
    assert "money" in asked_kinds("what did the project end up costing?")


def test_with_index_rarity_a_passage_repeating_the_question_s_words_reweights_no_other_sentence():
    """A low-ranked passage that repeats one of the question's words (a notice naming the "Cabinet
    Member" again and again) made that word look common among the candidates and re-weighted the
    question's words for every other sentence; weighed by index-wide rarity, the other sentences'
    word measures do not move."""
    question = "Which cabinet member was quoted about the new social work posts?"
    fact = "Cllr Jane Smith, the Cabinet Member for Children's Services, welcomed the new social work posts."
    notice = " ".join(f"The Cabinet Member update number {n} is published today." for n in range(6))

    def passage(text: str, rank: int, doc_id: str):
        chunk = Chunk(doc_id=doc_id, ord=0, text=text, start=0, end=len(text))
        return Passage(chunk=chunk, meta=DocumentMeta(doc_id=doc_id, title="Release"), score=1.0 / rank, rank=rank)

    alone = candidate_sentences([passage(fact, 1, "release")])
    joined = candidate_sentences([passage(fact, 1, "release"), passage(notice, 8, "notice")])
    idf = index_idf(500, {"cabinet": 40, "member": 60, "quot": 30, "social": 50, "work": 80, "post": 45})
    words = [FEATURES.index(name) for name in ("lexical", "lexical_context", "phrase")]

    def measures(sentences, table):
        return sentence_features(question, sentences, np.full(len(sentences), 0.5), table)[0, words]

    assert np.array_equal(measures(alone, idf), measures(joined, idf))
    assert not np.array_equal(measures(alone, None), measures(joined, None))  # rarity among the candidates
