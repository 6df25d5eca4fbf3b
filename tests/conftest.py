"""Shared test helpers: fixture locations, tiny vocabularies, corpora."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: ../shared/fixtures relative to the project root (outputs of the original ChineseBERT code)
FIXTURES = PROJECT_ROOT.parent / "shared" / "fixtures" / "chinesebert_reference"

requires_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared/fixtures is not present")

TINY_CHARS = "我喜欢北京烤鸭银行长了解一个中国人民大会堂的地得着重要为和种"


def write_tiny_vocab(directory: Path, extra: str = "") -> Path:
    """A small BERT-layout vocab.txt: specials, ASCII, some punctuation, a few hanzi."""
    from chinese_ptm.text.vocab import SPECIAL_TOKENS

    chars = []
    for c in (
        "!\"#$%&'()*+,-./0123456789:;<=>?@[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~，。！？、“”…—" + TINY_CHARS + extra
    ):
        if c not in chars:
            chars.append(c)
    tokens = SPECIAL_TOKENS + chars + ["##" + c for c in "0123456789abcdefghijklmnopqrstuvwxyz"]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "vocab.txt"
    path.write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    return path


def save_tiny_glycebert(directory: Path, tokens: list[str], positions: int = 128, open_glyphs: bool = False) -> Path:
    """A tiny random GlyceBERT (hidden 32, 2 layers) with a random glyph table, saved with its tokenizer; with
    ``open_glyphs`` one that draws characters outside ``tokens`` in the shipped fonts."""
    import numpy as np
    import torch

    from chinese_ptm.modeling import GlyceBertConfig, GlyceBertForMaskedLM
    from chinese_ptm.text.tokenization import GlyceBertTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    torch.manual_seed(0)
    config = GlyceBertConfig(
        vocab_size=len(tokens),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=positions,
        pinyin_embedding_size=16,
        open_glyph_fonts=["serif", "kai", "sans"] if open_glyphs else None,
    )
    model = GlyceBertForMaskedLM(config)
    model.load_glyph_table(np.random.default_rng(0).integers(0, 256, (len(tokens), 3, 24, 24), dtype=np.uint8))
    model.save_pretrained(directory)
    GlyceBertTokenizer(vocab_file=str(directory / "vocab.txt"), open_glyphs=open_glyphs).save_pretrained(str(directory))
    return directory


@pytest.fixture(scope="session")
def default_tokenizer():
    from chinese_ptm.text.tokenization import load_tokenizer

    return load_tokenizer()


@pytest.fixture(scope="session")
def reference_tokenizer():
    if not FIXTURES.is_dir():
        pytest.skip("../shared/fixtures is not present")
    from chinese_ptm.text.tokenization import GlyceBertTokenizer

    return GlyceBertTokenizer.from_pretrained(str(FIXTURES / "tokenizer"))


@pytest.fixture(scope="session")
def news_lines():
    from chinese_ptm.data.corpora import peoples_daily_lines

    return peoples_daily_lines(2000)


def differences_across_threads(call, inputs: list, reference: list | None = None, threads: int = 8) -> int:
    """How many of ``call(x)`` for ``inputs``, run at once from ``threads`` threads (all started together), differ
    from ``reference`` (default: the same calls, one after another, run first)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    expected = [call(x) for x in inputs] if reference is None else reference
    start = threading.Barrier(threads)

    def first_waits(x):
        if threading.current_thread().name not in started:
            started.add(threading.current_thread().name)
            start.wait()  # every thread's first call begins together: the cold path is raced for real
        return call(x)

    started: set[str] = set()
    with ThreadPoolExecutor(threads) as pool:
        got = list(pool.map(first_waits, inputs))
    return sum(not _same(g, e) for g, e in zip(got, expected))


def _same(a, b) -> bool:
    import numpy as np
    import torch

    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and bool(torch.equal(a, b))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and bool((a == b).all())
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        if not isinstance(b, (list, tuple)) or len(a) != len(b):
            return False
        try:
            return bool(a == b)  # nested lists of numbers: compared in C
        except (RuntimeError, ValueError):  # lists of arrays or tensors have no single truth value
            return all(_same(x, y) for x, y in zip(a, b))
    return a == b
