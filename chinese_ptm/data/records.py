"""Records: tokenised sentences with word ids, packed into training sequences."""

from __future__ import annotations

import random
import time
from typing import Sequence

import numpy as np

from ..text.open_glyphs import GLYPH_IDS
from ..text.pinyin import PINYIN_SLOTS
from ..text.segmentation import Segmenter, segment_batch
from ..text.token_batch import positions_in_rows
from .reading import PrepareConfig

#: the stages of building records, timed per batch (``RecordBuilder.seconds``; bench/data.py reports them)
STAGES = ("tokenise", "segment", "word_ids", "pack", "to_arrow")


class RecordBuilder:
    """Turns batches of documents into packed records (the function given to ``datasets.map``): a pyarrow
    table in the schema of :func:`record_features`, built from flat numpy buffers (no Python lists per token)."""

    def __init__(self, tokenizer, segmenter: Segmenter, cfg: PrepareConfig):
        self.tokenizer = tokenizer
        self.segmenter = segmenter
        self.cfg = cfg
        self.limit = cfg.max_length - 3  # [CLS] A [SEP] B [SEP] once a sentence task splits a record
        self.seconds = dict.fromkeys(STAGES, 0.0)  # time spent in each stage, in this process
        self.open_glyphs = bool(getattr(tokenizer, "open_glyphs", False))  # records carry glyph_ids too
        self.features = record_features(self.open_glyphs)

    def __call__(self, batch: dict):
        clock = _Clock(self.seconds)
        sentences = [s for doc in batch["sentences"] for s in doc]
        enc = self.tokenizer.encode_arrays(sentences)
        clock.lap("tokenise")
        spans = segment_batch(self.segmenter, sentences)
        clock.lap("segment")
        words, aligned = batch_word_ids(sentences, spans, enc["offsets"], enc["lengths"])
        clock.lap("word_ids")
        bounds = np.concatenate(([0], np.cumsum(enc["lengths"])))
        units: list[list] = []  # [start, end, fallback, words_cut, doc_id] of every record's pieces, in order
        records: list[tuple[int, int]] = []  # (first unit, end unit) of each record
        k = 0
        for doc_id, doc in zip(batch["doc_id"], batch["sentences"]):
            first = len(units)
            for _ in doc:
                units.extend(self._fit(int(bounds[k]), int(bounds[k + 1]), words, not aligned[k]))
                k += 1
            records.extend(self._pack(int(doc_id), units, first))
        clock.lap("pack")
        table = self._table(units, records, enc, words, batch["doc_id"])
        clock.lap("to_arrow")
        return table

    def as_columns(self, batch: dict) -> dict:
        """The records as Python columns (streaming datasets take no Arrow tables from a map)."""
        return self(batch).to_pydict()

    def _fit(self, start: int, end: int, words: np.ndarray, fallback: bool) -> list[list]:
        """A sentence (tokens start..end) as units of at most ``limit`` tokens, cut between words:
        ``[start, end, fallback, words_cut]``."""
        units = []
        while start < end:
            stop = min(start + self.limit, end)
            cut_word = 0
            if stop < end:
                cut = stop
                while cut > start and words[cut] == words[cut - 1]:
                    cut -= 1
                if cut == start:  # one word longer than a record: cut it (counted)
                    cut_word = 1
                else:
                    stop = cut
            units.append([start, stop, int(fallback), cut_word])
            fallback = False
            start = stop
        return units

    def _pack(self, doc_id: int, units: list[list], first: int) -> list[tuple[int, int, int]]:
        """Records of one document's units ``units[first:]``: ``(first unit, end unit, doc_id)``; ``packed_ratio``
        of them hold as many consecutive units as fit, the others one."""
        rng = random.Random(self.cfg.seed * 1_000_003 + doc_id)
        out, i = [], first
        while i < len(units):
            packed = rng.random() < self.cfg.packed_ratio
            group_start, size = i, units[i][1] - units[i][0]
            i += 1
            while packed and i < len(units) and size + units[i][1] - units[i][0] <= self.limit:
                size += units[i][1] - units[i][0]
                i += 1
            out.append((group_start, i, doc_id))
        return out

    def _table(self, units: list[list], records: list[tuple], enc: dict, words: np.ndarray, doc_ids):
        """The records as one pyarrow table. A record is one slice of the batch's tokens (its units are
        consecutive) between [CLS] and [SEP]; word ids restart in every sentence and are renumbered per unit."""
        import pyarrow as pa

        tok = self.tokenizer
        unit = np.asarray(units, dtype=np.int64).reshape(-1, 4)
        groups = np.asarray([r[:2] for r in records], dtype=np.int64).reshape(-1, 2)
        first_token, last_token = unit[groups[:, 0], 0], unit[groups[:, 1] - 1, 1]
        inner = last_token - first_token  # tokens of each record without [CLS] and [SEP]
        sizes = inner + 2
        offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int32)
        record_of_unit = np.repeat(np.arange(len(groups)), groups[:, 1] - groups[:, 0])
        unit_len = unit[:, 1] - unit[:, 0]
        # word-id shift per unit: the words of the earlier units of the same record
        first_word = words[unit[:, 0]]
        span = words[unit[:, 0] + unit_len - 1] - first_word + 1
        before = np.cumsum(span) - span
        unit_shift = before - before[groups[record_of_unit, 0]] - first_word
        tokens = np.repeat(first_token, inner) + positions_in_rows(inner)  # each record's slice of the batch
        body = np.ones(int(offsets[-1]), dtype=bool)
        body[offsets[:-1]] = body[offsets[1:] - 1] = False  # [CLS], [SEP]
        ids = np.empty(int(offsets[-1]), dtype=np.int32)
        ids[offsets[:-1]], ids[offsets[1:] - 1], ids[body] = (
            tok.cls_token_id,
            tok.sep_token_id,
            enc["input_ids"][tokens],
        )
        columns = {GLYPH_IDS: self._glyph_column(ids, body, enc, tokens, offsets)} if self.open_glyphs else {}
        pinyin = np.zeros((int(offsets[-1]), PINYIN_SLOTS), dtype=np.int8)
        pinyin[body] = enc["pinyin_ids"][tokens]
        word_ids = np.full(int(offsets[-1]), -1, dtype=np.int32)
        word_ids[body] = words[tokens] + np.repeat(unit_shift, unit_len)
        starts = (1 + unit[:, 0] - first_token[record_of_unit]).astype(np.int32)
        start_offsets = np.concatenate(([0], np.cumsum(groups[:, 1] - groups[:, 0]))).astype(np.int32)
        return pa.table(
            {
                "input_ids": _lists(offsets, ids),
                "token_type_ids": _lists(offsets, np.zeros(int(offsets[-1]), dtype=np.int8)),
                "pinyin_ids": _lists(
                    offsets, _lists(np.arange(0, pinyin.size + 1, PINYIN_SLOTS, dtype=np.int32), pinyin.reshape(-1))
                ),
                "word_ids": _lists(offsets, word_ids),
                "sentence_starts": _lists(start_offsets, starts),
                "doc_id": pa.array([r[2] for r in records], type=pa.int64()),
                "_tokens": pa.array(inner.astype(np.int32)),
                "_unk": pa.array(
                    np.add.reduceat(ids == tok.unk_token_id, offsets[:-1]).astype(np.int32)
                    if len(groups)
                    else np.zeros(0, np.int32)
                ),
                "_fallback": pa.array(_per_record(unit[:, 2], start_offsets)),
                "_split_words": pa.array(_per_record(unit[:, 3], start_offsets)),
                **columns,
            },
            schema=self.features.arrow_schema,
        )

    @staticmethod
    def _glyph_column(ids: np.ndarray, body: np.ndarray, enc: dict, tokens: np.ndarray, offsets: np.ndarray):
        """``glyph_ids`` of the records: the content's from the tokenizer; [CLS] and [SEP] show their own."""
        glyphs = ids.copy()
        glyphs[body] = enc[GLYPH_IDS][tokens]
        return _lists(offsets, glyphs)


def _lists(offsets: np.ndarray, values):
    import pyarrow as pa

    return pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), values)


def _per_record(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Sum of per-unit ``values`` over each record's units."""
    totals = np.concatenate(([0], np.cumsum(values)))
    return (totals[offsets[1:]] - totals[offsets[:-1]]).astype(np.int32)


class _Clock:
    def __init__(self, seconds: dict):
        self.seconds, self.last = seconds, time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] += now - self.last
        self.last = now


def batch_word_ids(
    texts: Sequence[str], spans: tuple[np.ndarray, np.ndarray, np.ndarray], offsets: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Word ids (from 0 in each text) of the tokens of many texts at once.

    A token belongs to the word that holds its characters; a token outside every word is a word
    of its own. In a text where a token straddles a word boundary every token gets its own id
    (``aligned[k]`` is False: character masking for that text).
    """
    n_text = len(texts)
    base = np.concatenate(([0], np.cumsum([len(t) + 1 for t in texts])))
    owner = np.repeat(np.arange(n_text), lengths)  # text of each token
    starts = offsets[:, 0] + base[owner]
    ends = offsets[:, 1] + base[owner]
    word_starts, word_ends, counts = spans  # segmentation.segment_batch
    w_start = word_starts + np.repeat(base[:-1], counts)
    w_end = word_ends + np.repeat(base[:-1], counts)

    def word_of(chars):
        k = np.searchsorted(w_start, chars, side="right") - 1
        ok = (k >= 0) & (chars < w_end[np.maximum(k, 0)]) if len(w_start) else np.zeros(len(chars), bool)
        return np.where(ok, k, -1)

    first, last = word_of(starts), word_of(ends - 1)
    aligned = np.bincount(owner, weights=(first != last), minlength=n_text) == 0
    token = np.arange(len(starts))
    text_first = np.concatenate(([0], np.cumsum(lengths)))[:-1]
    key = np.where((first >= 0) & aligned[owner], first, -1 - token)  # outside words, or fallback: own word
    new_word = np.ones(len(key), dtype=bool)
    new_word[1:] = key[1:] != key[:-1]
    new_word[text_first[lengths > 0]] = True
    count = np.cumsum(new_word)
    before = np.concatenate(([0], count))[text_first]  # words counted before each text
    return count - 1 - np.repeat(before, lengths), aligned


def record_features(open_glyphs: bool = False):
    """The schema of prepared records; with ``open_glyphs`` (a tokenizer that gives them) ``glyph_ids`` too: the
    input id, or -code point where an [UNK] is one character (records without it are what they always were)."""
    from datasets import Features, Sequence, Value

    glyphs = {GLYPH_IDS: Sequence(Value("int32"))} if open_glyphs else {}
    return Features(
        {
            "input_ids": Sequence(Value("int32")),
            "token_type_ids": Sequence(Value("int8")),
            "pinyin_ids": Sequence(Sequence(Value("int8"))),
            "word_ids": Sequence(Value("int32")),
            "sentence_starts": Sequence(Value("int32")),
            "doc_id": Value("int64"),
            "_tokens": Value("int32"),
            "_unk": Value("int32"),
            "_fallback": Value("int32"),
            "_split_words": Value("int32"),
            **glyphs,
        }
    )
