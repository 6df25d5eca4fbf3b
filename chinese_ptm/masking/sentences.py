"""Sentence tasks: sentence order prediction (SOP) and next sentence prediction (NSP).

Both split a record ``[CLS] content [SEP]`` into two segments and rebuild it as
``[CLS] A [SEP] B [SEP]`` (token types 0 up to the first [SEP], 1 after it; the new [SEP] has zero
pinyin and no word). The split falls at a sentence start chosen uniformly; a record of one
sentence is split at the word boundary nearest the middle of its content.

* SOP: A and B are consecutive; with probability 0.5 they are swapped. Label 1 = swapped.
* NSP: with probability 0.5, B is replaced by a segment of another record of the batch from a
  different document (from one of its sentence starts, at most as long as the true B). Label
  1 = random next, 0 = the real next (``next_sentence_label`` of BERT). When the batch holds no
  other document the real next is kept (label 0).

A record whose content has fewer than two tokens cannot be split; it stays ``[CLS] A [SEP]``
with label 0.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .records import NO_WORD, Sample

SOP = "sop"
NSP = "nsp"
SENTENCE_TASKS = (SOP, NSP)
#: Output key of each task's label.
LABEL_KEYS = {SOP: "sentence_order_label", NSP: "next_sentence_label"}
#: Probability of a swapped (SOP) or random (NSP) second segment.
SWAP_PROBABILITY = 0.5
#: Labels (BERT's and ALBERT's conventions).
IN_ORDER = 0
SWAPPED = 1
IS_NEXT = 0
RANDOM_NEXT = 1
#: Special tokens a sentence task adds to a record (the middle [SEP]).
ADDED_TOKENS = 1


def check_frame(sample: Sample, index: int, cls_id: int, sep_id: int) -> None:
    """A sentence task needs ``[CLS] content [SEP]``."""
    ids = sample.input_ids
    if len(ids) < 2 or ids[0] != cls_id or ids[-1] != sep_id:
        raise ValueError(
            f"record {index}: a sentence task needs records framed as [CLS] content [SEP] "
            f"(first id {cls_id}, last id {sep_id}); got first {ids[:1].tolist()} and last {ids[-1:].tolist()}"
        )


def split_point(sample: Sample, rng: np.random.Generator) -> int | None:
    """Where B starts: a random sentence start inside the content, else the word boundary nearest
    the middle; ``None`` when the content has fewer than two tokens."""
    end = len(sample) - 1  # the closing [SEP]
    if end - 1 < 2:
        return None
    starts = sample.sentence_starts
    inner = starts[(starts > 1) & (starts < end)]
    if len(inner):
        return int(inner[rng.integers(len(inner))])
    middle = 1 + (end - 1) // 2
    words = sample.word_ids[1:end]
    boundaries = np.flatnonzero(words[1:] != words[:-1]) + 2  # positions where a new word begins
    if not len(boundaries):
        return middle
    return int(boundaries[np.argmin(np.abs(boundaries - middle))])


def _segment(sample: Sample, start: int, stop: int) -> Sample:
    return Sample(
        sample.input_ids[start:stop],
        sample.token_type_ids[start:stop],
        None if sample.pinyin_ids is None else sample.pinyin_ids[start:stop],
        sample.word_ids[start:stop],
        sample.sentence_starts,
        sample.doc_id,
        None if sample.glyph_ids is None else sample.glyph_ids[start:stop],
    )


def join(first: Sample, second: Sample, frame: Sample, sep_id: int) -> Sample:
    """``[CLS] first [SEP] second [SEP]`` with the [CLS] and closing [SEP] of ``frame``."""
    n_a, n_b = len(first), len(second)
    cls, close = slice(0, 1), slice(len(frame) - 1, len(frame))
    sep = np.array([sep_id], dtype=np.int64)
    ids = np.concatenate((frame.input_ids[cls], first.input_ids, sep, second.input_ids, frame.input_ids[close]))
    types = np.concatenate((np.zeros(n_a + 2, dtype=np.int64), np.ones(n_b + 1, dtype=np.int64)))
    no_word = np.array([NO_WORD], dtype=np.int64)
    words = np.concatenate((no_word, first.word_ids, no_word, second.word_ids, no_word))
    pinyin = None
    if frame.pinyin_ids is not None:
        zero = np.zeros((1, frame.pinyin_ids.shape[1]), dtype=np.int64)
        pinyin = np.concatenate((zero, first.pinyin_ids, zero, second.pinyin_ids, zero))  # (L+1, 8)
    glyphs: np.ndarray | None = None
    if first.glyph_ids is not None and second.glyph_ids is not None:  # specials show their own glyphs
        glyphs = np.concatenate((ids[:1], first.glyph_ids, sep, second.glyph_ids, ids[-1:]))
    starts = np.array([1, n_a + 2], dtype=np.int64)
    return Sample(ids, types, pinyin, words, starts, frame.doc_id, glyphs)


def _halves(sample: Sample, rng: np.random.Generator) -> tuple[Sample, Sample] | None:
    """The record's content cut at a sentence boundary (None when it cannot be cut)."""
    split = split_point(sample, rng)
    if split is None:
        return None
    return _segment(sample, 1, split), _segment(sample, split, len(sample) - 1)


def sentence_order(samples: Sequence[Sample], rng: np.random.Generator, sep_id: int) -> tuple[list[Sample], np.ndarray]:
    """SOP pairs and labels (1 = swapped)."""
    out, labels = [], np.zeros(len(samples), dtype=np.int64)
    swaps = rng.random(len(samples)) < SWAP_PROBABILITY
    for i, sample in enumerate(samples):
        halves = _halves(sample, rng)
        if halves is None:
            out.append(sample)
            continue
        first, second = halves
        if swaps[i]:
            first, second = second, first
            labels[i] = SWAPPED
        out.append(join(first, second, sample, sep_id))
    return out, labels


def next_sentence(samples: Sequence[Sample], rng: np.random.Generator, sep_id: int) -> tuple[list[Sample], np.ndarray]:
    """NSP pairs and labels (1 = random next, 0 = is next)."""
    out, labels = [], np.zeros(len(samples), dtype=np.int64)
    randoms = rng.random(len(samples)) < SWAP_PROBABILITY
    docs = np.array([s.doc_id for s in samples], dtype=np.int64)
    has_content = np.array([len(s) > 2 for s in samples], dtype=bool)
    for i, sample in enumerate(samples):
        halves = _halves(sample, rng)
        if halves is None:
            out.append(sample)
            continue
        first, second = halves
        if randoms[i]:
            others = np.flatnonzero((docs != docs[i]) & has_content)
            if len(others):
                other = samples[int(others[rng.integers(len(others))])]
                end = len(other) - 1
                starts = other.sentence_starts
                starts = starts[(starts >= 1) & (starts < end)]
                begin = int(starts[rng.integers(len(starts))]) if len(starts) else 1
                second = _segment(other, begin, min(end, begin + len(second)))
                labels[i] = RANDOM_NEXT
        out.append(join(first, second, sample, sep_id))
    return out, labels
