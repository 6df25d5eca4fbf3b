"""MaskingCollator: dynamic, seeded masking of packed records, with pinyin that follows the input."""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from chinese_ptm.text.open_glyphs import GLYPH_IDS

from .records import NO_WORD, Sample, load_sample, truncate
from .sentences import ADDED_TOKENS, LABEL_KEYS, NSP, SENTENCE_TASKS, SOP, check_frame, next_sentence, sentence_order
from .similarity import PinyinGlyphSimilarity, SimilarWordSource
from .units import (
    CHAR,
    MAC,
    MIXED,
    NGRAM_STRATEGIES,
    STRATEGIES,
    WORD_STRATEGIES,
    char_runs,
    choose_ngrams,
    choose_units,
    masking_budget,
    word_runs,
)
from .vocab_tables import VocabTables

#: Label of positions that take no loss: read from PyTorch's cross-entropy (its default, -100), not restated here.
IGNORE_INDEX = torch.nn.CrossEntropyLoss().ignore_index
#: Replacement decisions, in the order of ``replace_probs``.
REPLACE_MASK = 0  # [MASK], or a similar word under strategy "mac"
REPLACE_RANDOM = 1
REPLACE_KEEP = 2
#: Tolerance of "sums to 1".
PROBABILITY_TOLERANCE = 1e-6
#: Shortest sequence a sentence task can build: [CLS] a [SEP] b [SEP].
MIN_PAIR_LENGTH = 5

_DEFAULT_SOURCES: dict[int, tuple[Any, SimilarWordSource]] = {}


def default_similarity(tokenizer) -> SimilarWordSource:
    """The shared :class:`PinyinGlyphSimilarity` of a tokenizer (built once per process)."""
    got = _DEFAULT_SOURCES.get(id(tokenizer))
    if got is None or got[0] is not tokenizer:
        got = _DEFAULT_SOURCES[id(tokenizer)] = (tokenizer, PinyinGlyphSimilarity(tokenizer))
    return got[1]


def _check_probability(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return float(value)


def _check_distribution(name: str, values: Any, length: int | None = None) -> tuple[float, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(f"{name} must be a sequence of probabilities, got {values!r}")
    if length is not None and len(values) != length:
        raise ValueError(f"{name} must hold {length} probabilities, got {len(values)}: {tuple(values)}")
    if not values:
        raise ValueError(f"{name} must hold at least one probability")
    probs = tuple(_check_probability(f"{name}[{i}]", v) for i, v in enumerate(values))
    if abs(sum(probs) - 1) > PROBABILITY_TOLERANCE:
        raise ValueError(f"{name} must sum to 1, got {probs} (sum {sum(probs):.6g})")
    return probs


@dataclass
class MaskingCollator:
    """Pads records and masks them anew on every call (dynamic masking), deterministically per seed.

    Args:
        tokenizer: the tokenizer the records were made with (special ids, vocabulary, pinyin tables).
        strategy: ``"wwm"`` whole words, ``"char"`` single tokens, ``"mixed"`` (ChineseBERT: whole
            words for a sample with probability ``wwm_sample_probability``, else tokens),
            ``"ngram"`` (MacBERT: spans of 1-4 whole words, ``ngram_probs``), ``"mac"`` (n-gram
            units replaced by similar words).
        mlm_probability: share of a sample's maskable tokens to mask (``max(1, round(p * n))``).
        replace_probs: per unit: ([MASK] or, for "mac", a similar word; a random token; keep).
        ngram_probs: probability of spans of 1, 2, ... words (n-gram strategies).
        wwm_sample_probability: share of whole-word samples under ``"mixed"``.
        sentence_task: None, ``"sop"`` (label ``sentence_order_label``, 1 = swapped) or ``"nsp"``
            (label ``next_sentence_label``, 1 = random next, 0 = is next, as BERT).
        similarity: similar-word source for ``"mac"`` (default: :class:`PinyinGlyphSimilarity`).
        pad_to_multiple_of: round the padded length up to a multiple of this.
        max_length: truncate longer records (keeping the closing [SEP]); with a sentence task the
            result, middle [SEP] included, stays within it.
        seed: masking seed; each DataLoader worker draws from its own generator seeded from
            ``(seed, worker id, epoch, rank)`` (the main process uses worker id 0; the rank of
            distributed training, 0 otherwise).
        return_word_ids: also return ``word_ids`` (-1 at specials and padding).
        return_pinyin: return ``pinyin_ids`` (off for models without pinyin input).
        return_glyphs: return ``glyph_ids`` (records made with a tokenizer with ``open_glyphs``): a kept [UNK]
            shows its own character's glyph, a masked or replaced position the glyph of what it now holds.
            None: as the tokenizer's ``open_glyphs``.

    Returns from ``collator(records)``: a dict of tensors ``input_ids``, ``token_type_ids``,
    ``attention_mask`` (B, T), ``pinyin_ids`` (B, T, 8), ``labels`` (B, T; original ids at the
    chosen positions, -100 elsewhere) and the sentence label (B,) when asked.

    Non-persistent DataLoader workers start every epoch from a copy of the collator; call
    :meth:`set_epoch` each epoch (or use ``persistent_workers=True``) so that epochs differ.
    """

    tokenizer: Any
    strategy: str = "wwm"
    mlm_probability: float = 0.15
    replace_probs: tuple[float, float, float] = (0.8, 0.1, 0.1)
    ngram_probs: tuple[float, ...] = (0.4, 0.3, 0.2, 0.1)
    wwm_sample_probability: float = 0.9
    sentence_task: str | None = None
    similarity: SimilarWordSource | None = None
    pad_to_multiple_of: int | None = None
    max_length: int | None = None
    seed: int = 0
    return_word_ids: bool = False
    return_pinyin: bool = True
    return_glyphs: bool | None = None

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        self.mlm_probability = _check_probability("mlm_probability", self.mlm_probability)
        if self.mlm_probability == 0:
            raise ValueError("mlm_probability must be above 0 (every sample masks at least one token)")
        self.replace_probs = _check_distribution("replace_probs", self.replace_probs, 3)
        self.ngram_probs = _check_distribution("ngram_probs", self.ngram_probs)
        self.wwm_sample_probability = _check_probability("wwm_sample_probability", self.wwm_sample_probability)
        if self.sentence_task not in (None, *SENTENCE_TASKS):
            raise ValueError(f"sentence_task must be None or one of {SENTENCE_TASKS}, got {self.sentence_task!r}")
        if self.similarity is not None:
            if not callable(getattr(self.similarity, "similar", None)):
                raise ValueError(
                    "similarity must have a method similar(word, rng) -> str | None, got "
                    f"{type(self.similarity).__name__}"
                )
            if self.strategy != MAC:
                warnings.warn(f"similarity is only used by strategy 'mac'; strategy is {self.strategy!r}", stacklevel=3)
        for name in ("pad_to_multiple_of", "max_length"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be None or a positive int, got {value!r}")
        shortest = MIN_PAIR_LENGTH if self.sentence_task else 3
        if self.max_length is not None and self.max_length < shortest:
            raise ValueError(
                f"max_length must be at least {shortest} (room for the special tokens), got {self.max_length}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")
        for name in ("mask_token_id", "pad_token_id", "cls_token_id", "sep_token_id"):
            if getattr(self.tokenizer, name, None) is None:
                raise ValueError(f"tokenizer has no {name}; masking needs a BERT-style tokenizer")
        if self.return_glyphs is None:
            self.return_glyphs = bool(getattr(self.tokenizer, "open_glyphs", False))
        self._epoch = 0
        self._rngs: dict[tuple[int, int], np.random.Generator] = {}
        self._tables: VocabTables | None = None
        self._default_source: SimilarWordSource | None = None

    # -- state ---------------------------------------------------------------------------------
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_rngs"] = {}  # generators are made afresh in each process
        return state

    def set_epoch(self, epoch: int) -> None:
        """Restart the masking streams for ``epoch`` (generators are seeded with it)."""
        self._epoch = int(epoch)
        self._rngs.clear()

    def generator(self) -> np.random.Generator:
        """This process' / DataLoader worker's generator, made on first use and seeded from
        (seed, worker id, epoch, distributed rank); the main process counts as worker 0."""
        info = torch.utils.data.get_worker_info()
        worker = info.id if info is not None else 0
        key = (os.getpid(), worker)
        rng = self._rngs.get(key)
        if rng is None:
            distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
            rank = torch.distributed.get_rank() if distributed else 0
            entropy = [int(self.seed), worker, self._epoch, rank]
            rng = self._rngs[key] = np.random.default_rng(np.random.SeedSequence(entropy))
        return rng

    @property
    def tables(self) -> VocabTables:
        if self._tables is None:
            self._tables = VocabTables(self.tokenizer, with_pinyin=self.return_pinyin)
        return self._tables

    @property
    def similarity_source(self) -> SimilarWordSource:
        """``similarity``, or the tokenizer's shared :class:`PinyinGlyphSimilarity` (kept on the
        collator, so that forked or pickled DataLoader workers receive it built)."""
        if self.similarity is not None:
            return self.similarity
        if self._default_source is None:
            self._default_source = default_similarity(self.tokenizer)
        return self._default_source

    # -- collating -----------------------------------------------------------------------------
    def __call__(self, records: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        if not len(records):
            raise ValueError("cannot collate an empty batch")
        tables = self.tables
        rng = self.generator()
        samples = [
            load_sample(
                record,
                i,
                with_pinyin=self.return_pinyin,
                need_words=self.strategy in WORD_STRATEGIES,
                need_doc=self.sentence_task == NSP,
                with_glyphs=bool(self.return_glyphs),
            )
            for i, record in enumerate(records)
        ]
        if self.sentence_task:
            for i, sample in enumerate(samples):
                check_frame(sample, i, tables.cls_id, tables.sep_id)
        if self.max_length is not None:
            room = self.max_length - (ADDED_TOKENS if self.sentence_task else 0)
            samples = [truncate(sample, room) for sample in samples]
        sentence_labels = None
        if self.sentence_task == SOP:
            samples, sentence_labels = sentence_order(samples, rng, tables.sep_id)
        elif self.sentence_task == NSP:
            samples, sentence_labels = next_sentence(samples, rng, tables.sep_id)

        ids, types, attention, pinyin, words = self._pad(samples, tables)
        unmasked = ids.copy() if self.return_glyphs else None
        labels = self.mask(ids, pinyin, words, rng)
        out = {
            "input_ids": torch.from_numpy(ids),
            "token_type_ids": torch.from_numpy(types),
            "attention_mask": torch.from_numpy(attention),
        }
        if pinyin is not None:
            out["pinyin_ids"] = torch.from_numpy(pinyin)
        if unmasked is not None:  # a position the masking changed shows what it holds now
            glyphs = self._pad_glyphs(samples, ids.shape, tables.pad_id)
            out[GLYPH_IDS] = torch.from_numpy(np.where(ids == unmasked, glyphs, ids))
        out["labels"] = torch.from_numpy(labels)
        if sentence_labels is not None:
            out[LABEL_KEYS[self.sentence_task]] = torch.from_numpy(sentence_labels)
        if self.return_word_ids:
            out["word_ids"] = torch.from_numpy(words)
        return out

    def _pad(self, samples: list[Sample], tables: VocabTables):
        longest = max(len(s) for s in samples)
        if self.pad_to_multiple_of:
            longest = math.ceil(longest / self.pad_to_multiple_of) * self.pad_to_multiple_of
        n = len(samples)
        ids = np.full((n, longest), tables.pad_id, dtype=np.int64)
        types = np.zeros((n, longest), dtype=np.int64)
        attention = np.zeros((n, longest), dtype=np.int64)
        words = np.full((n, longest), NO_WORD, dtype=np.int64)
        pinyin = np.zeros((n, longest, samples[0].pinyin_ids.shape[1]), dtype=np.int64) if self.return_pinyin else None
        for b, sample in enumerate(samples):
            size = len(sample)
            ids[b, :size] = sample.input_ids
            types[b, :size] = sample.token_type_ids
            attention[b, :size] = 1
            words[b, :size] = sample.word_ids
            if pinyin is not None:
                pinyin[b, :size] = sample.pinyin_ids
        if ids.max(initial=0) >= tables.size or ids.min(initial=0) < 0:
            bad = int(np.argmax(((ids >= tables.size) | (ids < 0)).any(axis=1)))
            raise ValueError(
                f"record {bad}: input id outside the tokenizer's vocabulary of {tables.size} tokens; "
                "were the records made with this tokenizer?"
            )
        return ids, types, attention, pinyin, words

    @staticmethod
    def _pad_glyphs(samples: list[Sample], shape: tuple[int, ...], pad_id: int) -> np.ndarray:
        glyphs = np.full(shape, pad_id, dtype=np.int64)
        for b, sample in enumerate(samples):
            assert sample.glyph_ids is not None  # load_sample read them (return_glyphs)
            glyphs[b, : len(sample)] = sample.glyph_ids
        return glyphs

    # -- masking -------------------------------------------------------------------------------
    def mask(
        self, ids: np.ndarray, pinyin: np.ndarray | None, words: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Mask a padded batch in place (``ids`` (B, T), ``pinyin`` (B, T, 8)); returns the labels (B, T).

        ``words`` holds word ids, -1 at specials and padding.
        """
        tables = self.tables
        unit_row, unit_start, unit_end, runs = self._choose_units(ids, words, rng)
        labels = np.full(ids.shape, IGNORE_INDEX, dtype=np.int64)
        if not len(unit_row):
            return labels
        n_units = len(unit_row)
        decision = np.searchsorted(np.cumsum(self.replace_probs), rng.random(n_units), side="right")
        decision = np.minimum(decision, REPLACE_KEEP)  # float round-off at the top end
        # every token of every unit: (row, position, unit)
        length = unit_end - unit_start
        unit = np.repeat(np.arange(n_units), length)
        offset = np.arange(len(unit)) - np.repeat(np.cumsum(length) - length, length)
        row, pos = unit_row[unit], unit_start[unit] + offset
        labels[row, pos] = ids[row, pos]

        token_decision = decision[unit]
        random_token = token_decision == REPLACE_RANDOM
        r_row, r_pos = row[random_token], pos[random_token]
        if self.strategy == MAC:
            similar_units = np.flatnonzero(decision == REPLACE_MASK).tolist()
            units = [(int(unit_row[u]), *runs[u]) for u in similar_units]
            f_row, f_pos = self._replace_similar(ids, pinyin, units, rng)
            r_row, r_pos = np.concatenate((r_row, f_row)), np.concatenate((r_pos, f_pos))
        else:
            masked = token_decision == REPLACE_MASK
            ids[row[masked], pos[masked]] = tables.mask_id
            if pinyin is not None:
                pinyin[row[masked], pos[masked]] = 0
        new = tables.random_tokens(ids[r_row, r_pos], rng)
        ids[r_row, r_pos] = new
        if pinyin is not None:
            pinyin[r_row, r_pos] = tables.first_reading[new]
        return labels

    def _choose_units(self, ids: np.ndarray, words: np.ndarray, rng: np.random.Generator):
        """The units to mask in each row: (row, start, end) of every unit, and for MacBERT the words of each."""
        maskable = (words != NO_WORD) & ~self.tables.unmaskable[ids]  # (B, T)
        counts = maskable.sum(axis=1).tolist()
        use_words = rng.random(len(ids)) < self.wwm_sample_probability  # drawn for "mixed" only
        ngram = self.strategy in NGRAM_STRATEGIES
        rows, starts, ends, runs = [], [], [], []
        for b, count in enumerate(counts):
            budget = masking_budget(count, self.mlm_probability)
            if not budget:
                continue
            char_level = self.strategy == CHAR or (self.strategy == MIXED and not use_words[b])
            run_start, run_end = char_runs(maskable[b]) if char_level else word_runs(words[b], maskable[b])
            lengths = run_end - run_start
            if ngram:
                adjacent = np.zeros(len(run_start), dtype=bool)
                adjacent[1:] = run_start[1:] == run_end[:-1]
                first, width = choose_ngrams(lengths, adjacent, budget, rng, self.ngram_probs)
                unit_start, unit_end = run_start[first], run_end[first + width - 1]
                if self.strategy == MAC:
                    for f, w in zip(first.tolist(), width.tolist()):
                        runs.append((run_start[f : f + w], run_end[f : f + w]))  # the words of each unit
            else:
                chosen = choose_units(lengths, budget, rng)
                unit_start, unit_end = run_start[chosen], run_end[chosen]
            rows.append(np.full(len(unit_start), b, dtype=np.int64))
            starts.append(unit_start)
            ends.append(unit_end)
        if not rows:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, runs
        return np.concatenate(rows), np.concatenate(starts), np.concatenate(ends), runs

    def _replace_similar(
        self,
        ids: np.ndarray,
        pinyin: np.ndarray | None,
        units: list[tuple[int, np.ndarray, np.ndarray]],
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Replace each word of the given units ``(row, word starts, word ends)`` by a similar word of
        the same length, read in its own context for its pinyin. Returns the (rows, positions) of the
        words that get random tokens instead: no similar word, or a word not made of Chinese
        characters (a similar word must be one vocabulary token per character).
        """
        tables, source = self.tables, self.similarity_source
        fallback_rows: list[int] = []
        fallback_pos: list[int] = []
        for row, word_starts, word_ends in units:
            line = ids[row]
            for start, end in zip(word_starts.tolist(), word_ends.tolist()):
                word = tables.word_text(line[start:end].tolist())
                replacement = None
                if word is not None:
                    candidate = source.similar(word, rng)
                    if isinstance(candidate, str) and len(candidate) == len(word) and candidate != word:
                        replacement = tables.encode_word(candidate)
                if replacement is None:
                    fallback_rows.extend([row] * (end - start))
                    fallback_pos.extend(range(start, end))
                    continue
                line[start:end] = replacement[0]
                if pinyin is not None:
                    pinyin[row, start:end] = replacement[1]
        return np.asarray(fallback_rows, dtype=np.int64), np.asarray(fallback_pos, dtype=np.int64)
