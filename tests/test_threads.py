"""One tokenizer, one model in eval mode, one predictor shared by threads (a web server, a thread pool in a
pipeline) give exactly what one thread gives: cold (the first calls race to build what is built on first use) and
warm, whatever truncation and padding each call asks for."""

from __future__ import annotations

import random

import pytest
import torch
from conftest import differences_across_threads

from chinese_ptm.data.corpora import peoples_daily_lines
from chinese_ptm.resources import vocab_dir
from chinese_ptm.text.tokenization import GlyceBertTokenizer

THREADS = 8
RARE = "䶮㐀𠀀丼冇"  # outside the bundled vocabulary: [UNK], with their own glyph ids when open


def mixed_calls(count: int, seed: int = 0) -> list[tuple]:
    """Batches, pairs and single texts, with and without truncation, padding and offsets, as callers mix them."""
    lines = [line[:150] for line in peoples_daily_lines(300)]
    lines = [
        line[:5] + random.Random(i).choice(RARE) + line[5:] if i % 7 == 0 else line for i, line in enumerate(lines)
    ]
    rng = random.Random(seed)
    options = [
        {},
        {"truncation": True, "max_length": 24},
        {"padding": "max_length", "truncation": True, "max_length": 40},
        {"padding": True, "return_offsets_mapping": True},
        {"truncation": True, "max_length": 16, "return_overflowing_tokens": True, "stride": 4},
    ]
    calls = []
    for _ in range(count):
        shape = rng.choice(("batch", "pair", "single"))
        texts = rng.sample(lines, 6) if shape == "batch" else rng.choice(lines)
        pair = (rng.choice(lines),) if shape == "pair" else ()
        calls.append(((texts, *pair), rng.choice(options)))
    return calls


def encode(tokenizer):
    return lambda call: dict(tokenizer(*call[0], **call[1]))


@pytest.mark.parametrize("open_glyphs", [False, True])
def test_a_cold_tokenizer_shared_by_threads_gives_what_one_thread_gives(open_glyphs):
    calls = mixed_calls(240)
    vocab = str(vocab_dir() / "vocab.txt")
    sequential = encode(GlyceBertTokenizer(vocab_file=vocab, open_glyphs=open_glyphs))
    reference = [sequential(c) for c in calls]
    compared = wrong = 0
    for _ in range(3):  # three cold tokenizers, then one of them warm
        tokenizer = GlyceBertTokenizer(vocab_file=vocab, open_glyphs=open_glyphs)
        wrong += differences_across_threads(encode(tokenizer), calls, reference, THREADS)
        compared += len(calls)
    wrong += differences_across_threads(encode(tokenizer), calls, reference, THREADS)
    assert compared == 720 and wrong == 0
    if open_glyphs:
        assert any((g < 0).any() for r in reference for g in map(torch.as_tensor, r["glyph_ids"]) if g.dim())


def test_encode_arrays_from_threads_gives_what_one_thread_gives():
    lines = [line[:80] for line in peoples_daily_lines(64)]
    chunks = [lines[i : i + 8] for i in range(0, len(lines), 8)] * 4
    vocab = str(vocab_dir() / "vocab.txt")
    reference = [GlyceBertTokenizer(vocab_file=vocab).encode_arrays(c) for c in chunks]
    tokenizer = GlyceBertTokenizer(vocab_file=vocab)
    mixed = [(c, {"truncation": True, "max_length": 8}) for c in chunks]  # other callers truncate meanwhile

    def call(index: int):
        if index % 2:
            tokenizer(*([mixed[index][0]]), **mixed[index][1])
        return tokenizer.encode_arrays(chunks[index])

    assert differences_across_threads(call, list(range(len(chunks))), reference, THREADS) == 0


def test_a_model_in_eval_shared_by_threads_gives_what_one_thread_gives():
    """Fill-mask on a GlyceBERT that draws open glyphs: its glyph cache starts cold in the threaded model."""
    from conftest import save_tiny_glycebert

    from chinese_ptm.modeling import GlyceBertForMaskedLM
    from chinese_ptm.text.vocab import read_vocab_tokens

    return_tensors = {"return_tensors": "pt", "padding": "max_length", "truncation": True, "max_length": 48}
    directory = save_tiny_glycebert(
        pytest.importorskip("pathlib").Path(__import__("tempfile").mkdtemp()) / "m",
        read_vocab_tokens(vocab_dir()),
        positions=64,
        open_glyphs=True,
    )
    tokenizer = GlyceBertTokenizer.from_pretrained(directory)
    batches = [
        tokenizer(texts, **return_tensors) for (texts, *_), _ in mixed_calls(48, seed=1) if isinstance(texts, list)
    ]

    def fill_mask(model):
        def call(batch):
            with torch.no_grad():
                return model(**batch).logits.argmax(-1)

        return call

    reference = [fill_mask(GlyceBertForMaskedLM.from_pretrained(directory).eval())(b) for b in batches]
    cold = GlyceBertForMaskedLM.from_pretrained(directory).eval()
    assert differences_across_threads(fill_mask(cold), batches, reference, THREADS) == 0
