"""Records as numpy arrays: reading the fields the collator needs, with clear errors, and truncation."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Any, Mapping

import numpy as np

from chinese_ptm.text.open_glyphs import GLYPH_IDS
from chinese_ptm.text.pinyin import PINYIN_SLOTS

#: Field names of the records made by ``chinese_ptm.data``.
INPUT_IDS = "input_ids"
TOKEN_TYPE_IDS = "token_type_ids"
PINYIN_IDS = "pinyin_ids"
WORD_IDS = "word_ids"
SENTENCE_STARTS = "sentence_starts"
DOC_ID = "doc_id"
#: Word id of special tokens in ``word_ids``.
NO_WORD = -1


@dataclass
class Sample:
    """One sequence being collated (every array has one entry per token)."""

    input_ids: np.ndarray  # (L,) int64
    token_type_ids: np.ndarray  # (L,) int64
    pinyin_ids: np.ndarray | None  # (L, PINYIN_SLOTS) int64, None when the batch carries no pinyin
    word_ids: np.ndarray  # (L,) int64, NO_WORD for specials (every token its own word when absent)
    sentence_starts: np.ndarray  # (S,) int64 token positions, sorted
    doc_id: int | None
    glyph_ids: np.ndarray | None = None  # (L,) int64: the input id, or -code point (open glyphs); None: not asked

    def __len__(self) -> int:
        return len(self.input_ids)


def _int_array(value: Any, index: int, name: str) -> np.ndarray:
    if isinstance(value, list):
        try:
            return np.fromiter(value, dtype=np.int64, count=len(value))
        except (TypeError, ValueError):
            pass  # fall through to the general conversion and its error
    try:
        array = np.asarray(value, dtype=np.int64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"record {index}: {name!r} must be a list of ints ({err})") from None
    if array.ndim != 1:
        raise ValueError(f"record {index}: {name!r} must be a flat list of ints, got shape {array.shape}")
    return array


def _pinyin_array(value: Any, index: int, length: int) -> np.ndarray:
    if isinstance(value, list) and len(value) == length and (not value or len(value[0]) == PINYIN_SLOTS):
        try:
            flat = np.fromiter(chain.from_iterable(value), dtype=np.int64, count=length * PINYIN_SLOTS)
            return flat.reshape(length, PINYIN_SLOTS)  # (L, 8)
        except (TypeError, ValueError):
            pass  # ragged rows: the general conversion reports them
    try:
        array = np.asarray(value, dtype=np.int64)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"record {index}: {PINYIN_IDS!r} must be {length} rows of {PINYIN_SLOTS} ints ({err})"
        ) from None
    if array.ndim == 1 and array.size == length * PINYIN_SLOTS:
        array = array.reshape(length, PINYIN_SLOTS)  # flattened (L*8,) -> (L, 8)
    if array.shape != (length, PINYIN_SLOTS):
        raise ValueError(
            f"record {index}: {PINYIN_IDS!r} has shape {array.shape}, expected ({length}, {PINYIN_SLOTS}) "
            f"(one row of {PINYIN_SLOTS} ids per input id)"
        )
    return array


def _read_pinyin(record: Mapping[str, Any], index: int, length: int) -> np.ndarray:
    if PINYIN_IDS not in record:
        raise ValueError(
            f"record {index}: no {PINYIN_IDS!r} field; make records with chinese_ptm.data, or set "
            "return_pinyin=False for a model without pinyin input"
        )
    return _pinyin_array(record[PINYIN_IDS], index, length)


def load_sample(
    record: Mapping[str, Any],
    index: int,
    *,
    with_pinyin: bool,
    need_words: bool,
    need_doc: bool,
    with_glyphs: bool = False,
) -> Sample:
    """Read one record; ``index`` (its place in the batch) names it in errors.

    Without ``word_ids`` every token is its own word; without ``sentence_starts`` the record is
    one sentence starting at position 1.
    """
    if not isinstance(record, Mapping):
        raise TypeError(f"record {index}: expected a dict of fields, got {type(record).__name__}")
    if INPUT_IDS not in record:
        raise ValueError(f"record {index}: no {INPUT_IDS!r} field (fields: {sorted(record)})")
    ids = _int_array(record[INPUT_IDS], index, INPUT_IDS)
    length = len(ids)

    def field(name: str) -> np.ndarray:
        array = _int_array(record[name], index, name)
        if len(array) != length:
            raise ValueError(f"record {index}: {name!r} has {len(array)} entries but {INPUT_IDS!r} has {length}")
        return array

    types = field(TOKEN_TYPE_IDS) if TOKEN_TYPE_IDS in record else np.zeros(length, dtype=np.int64)
    pinyin = _read_pinyin(record, index, length) if with_pinyin else None
    if WORD_IDS in record:
        words = field(WORD_IDS)
    elif need_words:
        raise ValueError(
            f"record {index}: no {WORD_IDS!r} field, which word-level masking needs; make records with "
            "chinese_ptm.data (it segments words) or use strategy='char'"
        )
    else:
        words = np.arange(length, dtype=np.int64)
    if SENTENCE_STARTS in record:
        starts = _int_array(record[SENTENCE_STARTS], index, SENTENCE_STARTS)
    else:
        starts = np.ones(1, dtype=np.int64)
    doc = record.get(DOC_ID)
    if doc is None and need_doc:
        raise ValueError(f"record {index}: no {DOC_ID!r} field, which next sentence prediction needs")
    glyphs = None
    if with_glyphs:
        if GLYPH_IDS not in record:
            raise ValueError(
                f"record {index}: no {GLYPH_IDS!r} field, which a tokenizer with open_glyphs needs; prepare the "
                "records again with this tokenizer (chinese_ptm.data)"
            )
        glyphs = field(GLYPH_IDS)
    return Sample(ids, types, pinyin, words, starts, None if doc is None else int(doc), glyphs)


def truncate(sample: Sample, max_length: int) -> Sample:
    """Cut a sample to ``max_length`` tokens, keeping its last token (the closing [SEP])."""
    if len(sample) <= max_length:
        return sample
    keep = np.concatenate((np.arange(max_length - 1), [len(sample) - 1]))
    return Sample(
        sample.input_ids[keep],
        sample.token_type_ids[keep],
        None if sample.pinyin_ids is None else sample.pinyin_ids[keep],
        sample.word_ids[keep],
        sample.sentence_starts[sample.sentence_starts < max_length - 1],
        sample.doc_id,
        None if sample.glyph_ids is None else sample.glyph_ids[keep],
    )
