"""Records: tokenised sentences with word ids, packed into training sequences."""

from __future__ import annotations

import random
from typing import Sequence

import numpy as np

from ..pinyin import PINYIN_SLOTS
from ..segmentation import Segmenter
from .reading import PrepareConfig

class RecordBuilder:
    """Turns batches of documents into packed records (the function given to ``datasets.map``)."""

    def __init__(self, tokenizer, segmenter: Segmenter, cfg: PrepareConfig):
        self.tokenizer = tokenizer
        self.segmenter = segmenter
        self.cfg = cfg
        self.limit = cfg.max_length - 3  # [CLS] A [SEP] B [SEP] once a sentence task splits a record

    def __call__(self, batch: dict) -> dict:
        sentences = [s for doc in batch["sentences"] for s in doc]
        enc = self.tokenizer.encode_arrays(sentences)
        spans = [self.segmenter.segment(s) for s in sentences]
        words, aligned = batch_word_ids(sentences, spans, enc["offsets"], enc["lengths"])
        bounds = np.concatenate(([0], np.cumsum(enc["lengths"])))
        out = {k: [] for k in record_features()}
        k = 0
        for doc_id, doc in zip(batch["doc_id"], batch["sentences"]):
            units = []
            for _ in doc:
                units.extend(self._fit(int(bounds[k]), int(bounds[k + 1]), words, not aligned[k]))
                k += 1
            self._pack(int(doc_id), units, enc, words, out)
        return out

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

    def _pack(self, doc_id: int, units: list[list], enc: dict, words: np.ndarray, out: dict) -> None:
        tok = self.tokenizer
        rng = random.Random(self.cfg.seed * 1_000_003 + doc_id)
        ids_all, rows_all = enc["input_ids"], enc["pinyin_ids"]
        i = 0
        while i < len(units):
            packed = rng.random() < self.cfg.packed_ratio
            group, size = [units[i]], units[i][1] - units[i][0]
            i += 1
            while packed and i < len(units) and size + units[i][1] - units[i][0] <= self.limit:
                group.append(units[i])
                size += units[i][1] - units[i][0]
                i += 1
            # the units of a document are consecutive token ranges: a record is one slice
            first_token, last_token = group[0][0], group[-1][1]
            starts = np.fromiter((u[0] for u in group), dtype=np.int64, count=len(group))
            lengths = np.fromiter((u[1] - u[0] for u in group), dtype=np.int64, count=len(group))
            first_word = words[starts]  # word ids restart in every sentence: renumber per unit
            span = words[starts + lengths - 1] - first_word + 1
            shift = np.concatenate(([0], np.cumsum(span[:-1])))
            n = last_token - first_token
            ids = np.empty(n + 2, dtype=np.int32)
            ids[0], ids[1:-1], ids[-1] = tok.cls_token_id, ids_all[first_token:last_token], tok.sep_token_id
            rows = np.zeros((n + 2, PINYIN_SLOTS), dtype=np.int8)
            rows[1:-1] = rows_all[first_token:last_token]
            word_ids = np.full(n + 2, -1, dtype=np.int32)
            word_ids[1:-1] = words[first_token:last_token] + np.repeat(shift - first_word, lengths)
            out["input_ids"].append(ids)
            out["token_type_ids"].append(np.zeros(n + 2, dtype=np.int8))
            out["pinyin_ids"].append(rows)
            out["word_ids"].append(word_ids)
            out["sentence_starts"].append((1 + starts - first_token).astype(np.int32))
            out["doc_id"].append(doc_id)
            out["_tokens"].append(len(ids) - 2)
            out["_unk"].append(int(np.count_nonzero(ids == tok.unk_token_id)))
            out["_fallback"].append(sum(u[2] for u in group))
            out["_split_words"].append(sum(u[3] for u in group))


def batch_word_ids(texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], offsets: np.ndarray,
                   lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    counts = [len(sp) for sp in spans]
    flat = np.array([x for sp in spans for pair in sp for x in pair], dtype=np.int64).reshape(-1, 2)
    flat += np.repeat(base[:-1], counts)[:, None]
    w_start, w_end = flat[:, 0], flat[:, 1]

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


def record_features():
    from datasets import Features, Sequence, Value

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
        }
    )
