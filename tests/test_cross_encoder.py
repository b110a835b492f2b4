"""The sentence cross-encoder: its generated questions, a tiny training run, and the trained model's scores."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import SettingsError
from test_synthetic import _load_bench_module

_xenc = _load_bench_module("cross_encoder")  # measured tooling, not read by the product: it lives in bench/
TRAINED_FOLDER, CrossEncoder, cloze_question = _xenc.TRAINED_FOLDER, _xenc.CrossEncoder, _xenc.cloze_question
find_cross_encoder, train, training_pairs = _xenc.find_cross_encoder, _xenc.train, _xenc.training_pairs

PAPERS = [
    ["The council approved a grant of £12,500 to the village hall committee for a new roof.",
     "Councillors noted the clerk's report on the condition of the footpaths near the school.",
     "The annual parish meeting will be held on 14 May 2024 in the church rooms.",
     "Members agreed to buy two new litter bins for the playing field."],
    ["The planning committee refused the application for six houses on the allotments.",
     "Mr Jones was elected chair of the finance committee for the coming year.",
     "The precept for 2024/25 was set at £48,000, an increase of three per cent.",
     "Residents raised concerns about speeding traffic on the main road through the village."],
]


def test_cloze_question_replaces_the_asked_for_span_by_its_question_word() -> None:
    rng = random.Random(0)
    sentence = PAPERS[0][0]
    question = cloze_question(sentence, rng, keep=1.0)
    assert question is not None and question.startswith("How much ")
    assert "12,500" not in question and "roof" in question
    assert cloze_question("The annual parish meeting will be held on 14 May 2024 in the church rooms.",
                          rng, keep=1.0).startswith("When ")
    assert cloze_question("Mr Jones was elected chair of the finance committee for the coming year.",
                          rng, keep=1.0).startswith("Who ")
    assert cloze_question("Apologies.", rng) is None


def test_training_pairs_take_hard_negatives_from_the_same_paper_and_easy_ones_from_others() -> None:
    pairs = training_pairs(PAPERS, random.Random(1), hard=2, easy=1)
    assert len(pairs) == sum(len(p) for p in PAPERS)
    for pair in pairs:
        own = next(p for p in PAPERS if pair.positive in p)
        assert pair.positive not in pair.negatives
        assert sum(n in own for n in pair.negatives) == 2
        assert sum(n not in own for n in pair.negatives) == 1


def test_a_missing_model_is_a_clear_error_or_none(tmp_path: Path) -> None:
    assert find_cross_encoder(tmp_path) is None
    with pytest.raises(SettingsError, match="make train-reranker"):
        CrossEncoder(tmp_path)


@pytest.mark.slow
def test_a_tiny_training_run_scores_the_matching_sentence_above_an_unrelated_one(tmp_path: Path) -> None:
    """Loads MiniLM and trains a few steps on the generated groups of two short papers (about 30 s on
    one core); the question words of the positive are also the pair's, so a few steps suffice."""
    rng = random.Random(3)
    pairs = training_pairs(PAPERS, rng) * 3
    figures = train(pairs, tmp_path / "xenc", seed=0, epochs=2, groups_per_batch=4, learning_rate=1e-4, frozen=0)
    assert figures["steps"] > 0 and figures["last_loss"] < figures["first_loss"]
    model = find_cross_encoder(tmp_path / "xenc")
    assert model is not None
    scores = model.score("How much was the grant to the village hall for the roof?",
                         [PAPERS[1][3], PAPERS[0][0], PAPERS[1][0]])
    assert scores.dtype == np.float32 and scores.shape == (3,)
    assert scores[1] > scores[0] and scores[1] > scores[2]
    assert model.score("anything", []).shape == (0,)


@pytest.mark.slow
def test_the_trained_model_ranks_a_council_sentence_above_an_unrelated_one() -> None:
    model = find_cross_encoder()
    if model is None:
        pytest.skip(f"no trained cross-encoder in {TRAINED_FOLDER}; run `make train-reranker`")
    scores = model.score("When will the annual parish meeting be held?",
                         [PAPERS[1][3], PAPERS[0][2], PAPERS[0][3]])
    assert int(np.argmax(scores)) == 1
