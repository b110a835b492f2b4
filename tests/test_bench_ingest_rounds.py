"""bench/ingest_rounds.py: ingest timed against the raw encode of exactly the texts it encodes, in
alternating rounds (what bench/scale.py's `ingest_vs_raw_encode` and bench/ingest_overhead.py use)."""
from __future__ import annotations

from conftest import HashEncoder
from test_synthetic import _load_bench_module

synthetic = _load_bench_module("synthetic")
rounds = _load_bench_module("ingest_rounds")


def test_rounds_alternate_share_their_raw_encodes_and_reverse_the_ingests():
    """Raw, the ingests, raw; the next round opens on the raw encode that closed the one before and
    runs its ingests in the reverse order, so neither always follows a raw encode."""
    calls: list[str] = []
    seconds = {"raw": iter([10.0, 14.0, 12.0]), "a": iter([11.0, 15.0]), "b": iter([13.0, 12.0])}

    def raw() -> float:
        calls.append("raw")
        return next(seconds["raw"])

    def ingest(name: str):
        def run() -> tuple[float, float]:
            calls.append(name)
            wall = next(seconds[name])
            return wall, wall - 1

        return run

    rows = rounds.alternating_rounds(raw, {"a": ingest("a"), "b": ingest("b")}, 2, log=lambda line: None)
    assert calls == ["raw", "a", "b", "raw", "b", "a", "raw"]
    assert rows[0] == {"raw_before_s": 10.0, "a_s": 11.0, "a_encode_s": 10.0, "b_s": 13.0, "b_encode_s": 12.0,
                       "raw_after_s": 14.0, "raw_s": 12.0}
    assert rows[1]["raw_before_s"] == 14.0 and rows[1]["raw_after_s"] == 12.0 and rows[1]["raw_s"] == 13.0
    assert rows[1]["a_s"] == 15.0 and rows[1]["b_s"] == 12.0
    assert rounds.median_ratio(rows, "a") == round((11 / 12 + 15 / 13) / 2, 3)
    assert rounds.median_ratio(rows, "b") == round((13 / 12 + 12 / 13) / 2, 3)


class RecordingEncoder(HashEncoder):
    """The hash encoder, keeping every text it was asked to encode."""

    def __init__(self) -> None:
        super().__init__()
        self.encoded: list[str] = []

    def embed_passages(self, texts, progress=False):
        self.encoded.extend(texts)
        return super().embed_passages(texts, progress)


def test_timed_ingest_from_scratch_and_product_texts_are_what_it_encoded(tmp_path):
    """Each timed ingest starts from an empty index (else the second would find nothing to do), and
    `product_texts` reads back exactly the texts the ingest encoded: the raw encode's work."""
    papers = tmp_path / "papers"
    synthetic.write_corpus(papers, 3)
    index = tmp_path / "index"
    settings = rounds.settings_for(index, ingest_batch_chunks=16)
    encoder = RecordingEncoder()
    for ahead in (True, False):
        encoder.encoded.clear()
        wall, encode = rounds.timed_ingest(papers, index, encoder, settings, ahead)
        assert 0 < encode <= wall
        assert encoder.encoded, "the second ingest found nothing to do: the index was not removed"
        texts = rounds.product_texts(index)
        assert sorted(texts) == sorted(set(encoder.encoded))
        assert len(texts) == len(set(texts))
    from assistant import ingest as ingest_module
    from assistant.loading import Stream

    assert ingest_module.Stream is Stream
