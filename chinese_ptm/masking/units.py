"""Masking units: which tokens are masked together, and how many tokens a sequence masks.

A *run* is a maximal stretch of maskable tokens that share a word id (one word of the Chinese
word segmentation, or one token under char masking). A *unit* is what one draw masks: one run
(whole-word and char masking) or up to four consecutive runs (n-gram masking).

The budget of a sequence is ``max(1, round(p * n))`` tokens for its ``n`` maskable tokens. Units are
visited in random order and a unit that would overflow the budget is skipped, so a later, shorter
unit may still fill it (the rule of Google's and HFL's data generators).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

#: Whole-word masking: one unit per word of the segmentation (BERT-wwm-ext).
WWM = "wwm"
#: Char masking: one unit per token.
CHAR = "char"
#: ChineseBERT: each sequence uses whole-word masking with probability ``wwm_sample_probability``,
#: char masking otherwise.
MIXED = "mixed"
#: MacBERT's unit selection: spans of 1-4 consecutive whole words.
NGRAM = "ngram"
#: MacBERT: n-gram units, replaced by similar words (MLM as correction).
MAC = "mac"
STRATEGIES = (WWM, CHAR, MIXED, NGRAM, MAC)
#: Strategies that need the records' ``word_ids``.
WORD_STRATEGIES = frozenset({WWM, MIXED, NGRAM, MAC})
#: Strategies whose units are n-grams of words.
NGRAM_STRATEGIES = frozenset({NGRAM, MAC})

_EMPTY = np.zeros(0, dtype=np.int64)


def masking_budget(n_tokens: int, mlm_probability: float) -> int:
    """Tokens to mask in a sequence of ``n_tokens`` maskable tokens: ``max(1, round(p * n))``.

    Zero when there is nothing to mask; never more than ``n_tokens``.
    """
    if n_tokens <= 0:
        return 0
    return min(n_tokens, max(1, int(round(mlm_probability * n_tokens))))


def word_runs(word_ids: np.ndarray, maskable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Token spans ``[start, end)`` of the words of one sequence.

    A word is a maximal run of adjacent maskable positions with the same word id; a special token
    (or any unmaskable position) always ends a word, so a word never crosses a [SEP].
    """
    pos = np.flatnonzero(maskable)
    if not len(pos):
        return _EMPTY, _EMPTY
    ids = word_ids[pos]
    first = np.ones(len(pos), dtype=bool)
    first[1:] = (pos[1:] != pos[:-1] + 1) | (ids[1:] != ids[:-1])
    heads = np.flatnonzero(first)
    starts = pos[heads]
    ends = np.empty_like(starts)
    ends[:-1] = pos[heads[1:] - 1] + 1
    ends[-1] = pos[-1] + 1
    return starts, ends


def char_runs(maskable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One run per maskable token (char masking)."""
    pos = np.flatnonzero(maskable)
    return pos, pos + 1


def choose_units(lengths: np.ndarray, budget: int, rng: np.random.Generator) -> np.ndarray:
    """Indices (sorted) of the units a sequence masks, for disjoint units of ``lengths`` tokens.

    Equivalent to visiting the units in a random order and taking each one that still fits the
    budget; the prefix that fits is found with one cumulative sum, the few units that fill the
    remainder with a short loop.
    """
    if budget <= 0 or not len(lengths):
        return _EMPTY
    order = rng.permutation(len(lengths))
    total = np.cumsum(lengths[order])
    fit = int(np.searchsorted(total, budget, side="right"))  # order[:fit] fits entirely
    chosen = [order[:fit]]
    left = budget - (int(total[fit - 1]) if fit else 0)
    rest = order[fit + 1 :]  # order[fit] overflowed
    while left > 0 and len(rest):
        fits = np.flatnonzero(lengths[rest] <= left)
        if not len(fits):
            break
        pick = rest[fits[0]]
        chosen.append(pick[None])
        left -= int(lengths[pick])
        rest = rest[fits[0] + 1 :]
    return np.sort(np.concatenate(chosen))


def choose_ngrams(
    lengths: np.ndarray,
    adjacent: np.ndarray,
    budget: int,
    rng: np.random.Generator,
    ngram_probs: Sequence[float],
) -> tuple[np.ndarray, np.ndarray]:
    """N-gram units over words: ``(first_run, n_runs)`` of every chosen unit, by first run.

    Every word is a candidate start, visited in random order; its n is drawn from ``ngram_probs``
    (n = 1, 2, ...), renormalised over the n that stay inside the stretch of adjacent words it
    starts (a span never crosses a special token or runs off the end). A span that overlaps an
    already chosen one or overflows the budget is skipped.

    Args:
        lengths: tokens per run, (W,).
        adjacent: (W,) bool, ``adjacent[k]`` when run k starts right where run k-1 ends.
        budget: tokens to mask.
        rng: the generator.
        ngram_probs: probability of n = 1, 2, ... words.
    """
    n_runs = len(lengths)
    if budget <= 0 or not n_runs:
        return _EMPTY, _EMPTY
    cdf = np.cumsum(np.asarray(ngram_probs, dtype=np.float64))
    index = np.arange(n_runs)
    stretch = np.cumsum(~adjacent)  # stretch id of each run (the first run never adjoins)
    stretch_end = np.searchsorted(stretch, stretch, side="right")  # one past its last run
    max_n = np.minimum(stretch_end - index, len(cdf))
    draws = rng.random(n_runs)
    n = np.searchsorted(cdf, draws * cdf[max_n - 1], side="right") + 1
    n = np.minimum(n, max_n)
    prefix = np.concatenate(([0], np.cumsum(lengths)))
    span = prefix[index + n] - prefix[index]
    order = rng.permutation(n_runs).tolist()
    n_list, span_list = n.tolist(), span.tolist()
    covered = [False] * n_runs
    first: list[int] = []
    sizes: list[int] = []
    left = budget
    for k in order:
        size = span_list[k]
        if size > left:
            continue
        width = n_list[k]
        if True in covered[k : k + width]:
            continue
        covered[k : k + width] = [True] * width
        first.append(k)
        sizes.append(width)
        left -= size
        if not left:
            break
    if not first:
        return _EMPTY, _EMPTY
    first_arr = np.asarray(first, dtype=np.int64)
    sort = np.argsort(first_arr)
    return first_arr[sort], np.asarray(sizes, dtype=np.int64)[sort]
