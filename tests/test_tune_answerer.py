"""bench/tune_answerer.py: the bar a re-fitted answerer model must clear is the shipped model's own
figures, on rows computed with the settings the shipped model was fitted with."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from assistant.answering import FEATURES, ScoringModel, candidate_sentences, fitted_alike, load_model
from assistant.errors import SettingsError
from assistant.eval_questions import EvalQuestion
from assistant.types import Chunk, DocumentMeta, Passage
from test_synthetic import _load_bench_module

tune = _load_bench_module("tune_answerer")

PAPER = "The council agreed a budget of £5m for road repairs this year. Members then discussed the weather at length."


def _rows(lexical: list[float]) -> np.ndarray:
    rows = np.zeros((len(lexical), len(FEATURES)))
    rows[:, FEATURES.index("lexical")] = lexical
    return rows


def _item(rarity: str, lexical: list[float], others: dict[str, list[float]]) -> dict:
    """One dev question of the "seed" suite over PAPER, its two sentences' rows with `rarity` (only the
    lexical column set) and with each other rarity of `others`; the first sentence states the answer."""
    passage = Passage(chunk=Chunk(doc_id="roads", ord=0, text=PAPER, start=0, end=len(PAPER)),
                      meta=DocumentMeta(doc_id="roads", title="Road repairs"), score=1.0, rank=1)
    sentences = candidate_sentences([passage])
    assert [s.text[:12] for s in sentences] == ["The council ", "Members then"]
    q = EvalQuestion(id="q1", question="How much was agreed for road repairs?", answerable=True,
                     key_facts=(("£5m",),), sources=("roads",), category="figure", split="dev")
    return {"suite": "seed", "q": q, "passages": [passage], "sentences": sentences, "rows": _rows(lexical),
            "part_rows": [], "labels": np.array([1, 0]), "group": "seed suite", "fold": "seed:roads",
            "rarity": rarity, "rows_by": {r: (_rows(v), []) for r, v in others.items()}}


def _model(rarity: str, threshold: float = 0.5) -> ScoringModel:
    """p = sigmoid(10 * lexical - 5): the sentence of the higher lexical measure wins."""
    return ScoringModel(("lexical",), (0.0,), (1.0,), (10.0,), -5.0, threshold, 0.5, rarity)


def _ship(tmp_path, monkeypatch, model: ScoringModel) -> None:
    path = tmp_path / "answerer.json"
    path.write_text(json.dumps(model.to_json()), encoding="utf-8")
    monkeypatch.setattr(tune, "MODEL_FILE", path)


def test_no_worse_holds_a_refit_to_the_shipped_models_figures_on_its_own_rows(tmp_path, monkeypatch):
    """The shipped model, fitted with candidate rarity, answers right on its own rows; on index-rarity rows
    it would answer wrong, and a re-fit that answers wrong would clear that lowered bar. It must not."""
    _ship(tmp_path, monkeypatch, _model("candidates"))
    dev = [_item("index", [0.3, 0.9], {"candidates": [0.9, 0.3]})]
    refit = _model("index")

    def accuracy(rows: np.ndarray) -> float:
        return tune.figures([tune.outcome(dev[0], (refit.probabilities(rows), ()), 0.5, 0.5)])["accuracy"]

    assert accuracy(dev[0]["rows_by"]["candidates"][0]) == 1.0 and accuracy(dev[0]["rows"]) == 0.0
    assert tune.no_worse(refit, dev, 0.5, 0.5) is None


def test_no_worse_passes_a_refit_as_good_as_the_shipped_model_under_another_setting(tmp_path, monkeypatch):
    _ship(tmp_path, monkeypatch, _model("candidates"))
    dev = [_item("index", [0.9, 0.3], {"candidates": [0.9, 0.3]})]
    assert tune.no_worse(_model("index"), dev, 0.5, 0.5) == 0.5


def test_items_without_the_shipped_models_rows_are_refused_not_misread(tmp_path, monkeypatch):
    _ship(tmp_path, monkeypatch, _model("candidates"))
    with pytest.raises(ValueError, match="word_rarity 'candidates'"):
        tune.no_worse(_model("index"), [_item("index", [0.3, 0.9], {})], 0.5, 0.5)


def test_a_refit_records_the_word_rarity_of_the_rows_it_was_fitted_on():
    items = [_item("index", [0.9, 0.3], {}), _item("index", [0.8, 0.1], {})]
    assert tune.fit(items, 1.0).word_rarity == "index"
    with pytest.raises(ValueError, match="several word rarities"):
        tune.fit([items[0], _item("candidates", [0.9, 0.3], {})], 1.0)


def test_the_model_file_records_its_word_rarity_and_a_file_without_it_means_candidates(tmp_path):
    assert load_model().word_rarity == "candidates"
    data = _model("index").to_json()
    assert ScoringModel.from_json(data).word_rarity == "index"
    del data["word_rarity"]
    assert ScoringModel.from_json(data).word_rarity == "candidates"
    data["word_rarity"] = "everywhere"
    with pytest.raises(SettingsError, match="word_rarity 'everywhere'"):
        ScoringModel.from_json(data, "models/x.json")


def test_a_model_fitted_with_another_word_rarity_is_warned_about_once_naming_both(caplog):
    with caplog.at_level(logging.WARNING, logger="assistant.answering"):
        assert fitted_alike(_model("candidates"), "candidates", "answerer.json")
        assert not caplog.records
        assert not fitted_alike(_model("candidates"), "index", "answerer.json")
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "answerer.json" in message and "'candidates'" in message and "'index'" in message
