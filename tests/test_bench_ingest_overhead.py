"""bench/ingest_overhead.py's padding count: what a wider sorting window (larger ingest batches) saves,
counted with the model's own tokenizer, so the figure needs no timing."""
from __future__ import annotations

from pathlib import Path

from test_synthetic import _load_bench_module

synthetic = _load_bench_module("synthetic")
overhead = _load_bench_module("ingest_overhead")


def test_padding_falls_as_the_sorting_window_widens(tmp_path):
    """Small batches pad more than one sort of all; a batch holding every chunk pads exactly as one
    sort of all; every distinct text is counted once, however many batches met it."""
    from tokenizers import Tokenizer

    from assistant.embedding import resolve_model

    tokenizer = Tokenizer.from_file(str(Path(resolve_model("all-MiniLM-L6-v2")[1]) / "tokenizer.json"))
    tokenizer.no_padding()
    papers = tmp_path / "papers"
    synthetic.write_corpus(papers, 4)
    narrow = overhead.padding(papers, tmp_path, 8, tokenizer, 32)
    wide = overhead.padding(papers, tmp_path, 100_000, tokenizer, 32)
    assert narrow["batches"] > 1 and wide["batches"] == 1
    assert narrow["texts"] == wide["texts"]
    assert narrow["padded_vs_real_tokens"] > narrow["one_sort_padded_vs_real_tokens"] >= 1
    assert wide["padded_vs_real_tokens"] == wide["one_sort_padded_vs_real_tokens"] == \
        narrow["one_sort_padded_vs_real_tokens"]
