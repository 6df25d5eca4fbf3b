"""Examples -> model features (numpy, unpadded), the padding collator, and decoding of model outputs: what is
the same for every task kind (each kind's own steps are in :mod:`chinese_ptm.finetune.tasks`).

Features hold ``input_ids``, ``token_type_ids``, ``attention_mask``, ``pinyin_ids`` (GlyceBERT only) and,
for training, the targets (``labels`` or ``start_positions``/``end_positions``); features to predict on carry
their position (``feature_index``), which the trainer takes off before the model sees the batch. What decoding needs besides
the logits (which example a window belongs to, where context tokens sit in the context, which token starts
each character) is kept next to the features, never passed to the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..modeling.losses import IGNORE_INDEX
from ..text.open_glyphs import GLYPH_IDS
from . import registry
from .examples import Split
from .task import TaskData

ENCODE_CHUNK = 512  # examples per tokenizer call
NO_OFFSET = -1  # context offset of a token outside the context
#: room for [CLS] and two [SEP] in a pair
PAIR_SPECIAL_TOKENS = 3
#: AMBERT's word view (its own length) and each character's word token (the characters' length, -1 = none)
WORD_INPUT_IDS, WORD_INDEX = "word_input_ids", "word_index"
#: keys padded with the pad token's id (padding shows the pad token's glyph; the word vocabulary shares [PAD])
PAD_ID_KEYS = ("input_ids", GLYPH_IDS, WORD_INPUT_IDS)
#: the position of a feature in its split (predictions are put back in this order)
FEATURE_INDEX = "feature_index"


@dataclass
class Encoded:
    """Features of one split and what decoding needs."""

    features: list[dict[str, np.ndarray]] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)  # example index of each feature
    context_offsets: list[np.ndarray] = field(default_factory=list)  # span: (T, 2) offsets, -1 outside the context
    first_tokens: list[np.ndarray] = field(default_factory=list)  # tagging: (n_chars,) token of each char, -1 none
    vocab: list[str] = field(default_factory=list)  # correction: the token of each id (predicted ids -> chars)
    unk_id: int = -1


class FeatureDataset(torch.utils.data.Dataset):
    """A list of feature dicts as a map-style dataset."""

    def __init__(self, features: list[dict[str, np.ndarray]]):
        self.features = features

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return self.features[index]


class PaddingCollator:
    """Pads features to the longest in the batch (token axis) and stacks them as long tensors.

    ``input_ids`` take the pad id, ``labels`` of token tasks -100, everything else 0; ``pinyin_ids`` are
    padded with rows of zeros. Multiple-choice features (C, T) pad T.
    """

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None):
        self.pad_token_id = pad_token_id
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, features: Sequence[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
        lengths = {view: self._longest(features, key) for view, key in (("", "input_ids"), ("word_", WORD_INPUT_IDS))}
        batch: dict[str, torch.Tensor] = {}
        for key in features[0]:
            length = lengths["word_" if key.startswith("word_") and key != WORD_INDEX else ""]
            values = [f[key] for f in features]
            if values[0].dtype.kind == "f" and values[0].ndim < 2:  # regression values, multi-hot labels, logits
                batch[key] = torch.as_tensor(np.stack(values), dtype=torch.float32)
                continue
            if values[0].dtype.kind == "f":  # per-token values (a teacher's logits of a tagging task): pad tokens
                widths = [[(0, length - v.shape[0])] + [(0, 0)] * (v.ndim - 1) for v in values]
                batch[key] = torch.as_tensor(np.stack([np.pad(v, w) for v, w in zip(values, widths)]))
                continue
            if values[0].ndim == 0:
                batch[key] = torch.as_tensor(np.stack(values), dtype=torch.long)
                continue
            token_axis = values[0].ndim - 2 if key == "pinyin_ids" else values[0].ndim - 1
            fill = self.pad_token_id if key in PAD_ID_KEYS else IGNORE_INDEX if key == "labels" else 0
            fill = -1 if key == WORD_INDEX else fill
            padded = []
            for value in values:
                widths = [(0, 0)] * value.ndim
                widths[token_axis] = (0, length - value.shape[token_axis])
                padded.append(np.pad(value, widths, constant_values=fill))
            batch[key] = torch.as_tensor(np.stack(padded), dtype=torch.long)
        return batch

    def _longest(self, features: Sequence[dict[str, np.ndarray]], key: str) -> int:
        """The padded length of one view: its longest sequence, rounded up to ``pad_to_multiple_of``."""
        length = max((f[key].shape[-1] for f in features if key in f), default=0)
        if self.pad_to_multiple_of:
            length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        return length


def sequence_feature(encoding: dict, i: int, with_pinyin: bool) -> dict[str, np.ndarray]:
    ids = np.asarray(encoding["input_ids"][i], dtype=np.int32)
    feature = {
        "input_ids": ids,
        "token_type_ids": np.asarray(encoding["token_type_ids"][i], dtype=np.int8),
        "attention_mask": np.ones(len(ids), dtype=np.int8),
    }
    if with_pinyin:
        feature["pinyin_ids"] = np.asarray(encoding["pinyin_ids"][i], dtype=np.int8).reshape(len(ids), -1)  # (T, P)
    if GLYPH_IDS in encoding:  # a tokenizer with open glyphs: -code point where an [UNK] shows its character
        feature[GLYPH_IDS] = np.asarray(encoding[GLYPH_IDS][i], dtype=np.int32)
    if WORD_INPUT_IDS in encoding:  # AMBERT's word view (TwoViewTokenizer)
        words = np.asarray(encoding[WORD_INPUT_IDS][i], dtype=np.int32)
        feature[WORD_INPUT_IDS] = words
        feature["word_token_type_ids"] = np.asarray(encoding["word_token_type_ids"][i], dtype=np.int8)
        feature["word_attention_mask"] = np.ones(len(words), dtype=np.int8)
    return feature


def _chunks(items: list, desc: str, progress: bool):
    bar = tqdm(total=len(items), desc=desc, unit="ex", disable=not progress, leave=False)
    for start in range(0, len(items), ENCODE_CHUNK):
        chunk = items[start : start + ENCODE_CHUNK]
        yield start, chunk
        bar.update(len(chunk))
    bar.close()


class Encoder:
    """Turns a task's examples into features with one tokenizer.

    Args:
        task: the task (kind, labels).
        tokenizer: a GlyceBertTokenizer (pinyin) or a transformers BertTokenizer.
        settings: the task settings (``max_length`` already capped at the model's positions, span windows).
        with_pinyin: keep ``pinyin_ids`` (GlyceBERT with its pinyin branch).
    """

    def __init__(self, task: TaskData, tokenizer, settings, with_pinyin: bool, progress: bool = True):
        self.task, self.tokenizer, self.hp = task, tokenizer, settings
        self.with_pinyin = with_pinyin
        self.progress = progress

    def encode(self, examples: list, train: bool, desc: str = "encoding") -> Encoded:
        """Features of ``examples``: with targets when ``train``, else with their ``feature_index``."""
        kind = registry.kind(self.task.kind)
        out = Encoded()
        for start, chunk in _chunks(examples, desc, self.progress):
            kind.encode(self, chunk, start, train, out)
        if not train:
            for index, feature in enumerate(out.features):
                feature[FEATURE_INDEX] = np.asarray(index, dtype=np.int64)
        return out

    def char_windows(self, texts: list[str]):
        """One token sequence per character of each text (each character a word), long texts as overlapping
        windows (``stride`` tokens shared); yields (text index, feature, the token of each char). A word
        tokenizer keeps its words: every character of a word has the word's token."""
        stride = max(0, min(self.hp.stride, (self.hp.max_length - 2) // 2))
        if getattr(self.tokenizer, "_cuts_words", False):
            yield from self._word_windows(texts, stride)
            return
        enc = self.tokenizer(
            [list(t) for t in texts],
            is_split_into_words=True,
            truncation=True,
            max_length=self.hp.max_length,
            stride=stride,
            return_overflowing_tokens=True,
        )
        for w, sample in enumerate(enc["overflow_to_sample_mapping"]):
            first = np.full(len(texts[sample]), NO_OFFSET, dtype=np.int64)  # this window's token of each character
            for token, char in enumerate(enc.word_ids(w)):
                if char is not None and first[char] == NO_OFFSET:
                    first[char] = token
            feature = sequence_feature(enc, w, self.with_pinyin)
            if hasattr(self.tokenizer, "word_view_of_span"):  # AMBERT: the words of this window, each char's word
                feature |= self.tokenizer.word_view_of_span(texts[sample], first, len(feature["input_ids"]))
            yield int(sample), feature, first

    def _word_windows(self, texts: list[str], stride: int):
        """:meth:`char_windows` for a word tokenizer: each character's token is the one whose offsets cover it."""
        enc = self.tokenizer(
            texts,
            truncation=True,
            max_length=self.hp.max_length,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        for w, sample in enumerate(enc["overflow_to_sample_mapping"]):
            token_of = np.full(len(texts[sample]), NO_OFFSET, dtype=np.int64)
            for token, (start, end) in enumerate(enc["offset_mapping"][w]):
                token_of[start:end] = token  # special tokens cover nothing
            yield int(sample), sequence_feature(enc, w, self.with_pinyin), token_of


# ---------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------


def per_character(
    token_values: Any, encoded: Encoded, lengths: list[int], empty=-1, dtype=np.int64
) -> list[np.ndarray]:
    """Each character's value from its first token, in the window where that token is farthest from the window's
    edges (most context on both sides); ``empty`` for characters without a token. ``token_values``: (F, T)."""
    best = [np.full(n, empty, dtype=dtype) for n in lengths]
    margin = [np.full(n, -1, dtype=np.int64) for n in lengths]
    for f, owner in enumerate(encoded.owners):
        first = encoded.first_tokens[f]
        values = np.asarray(token_values[f])  # (T,)
        inside = first >= 0
        room = np.where(inside, np.minimum(first, first.max(initial=0) - first + 1), -1)
        better = inside & (room > margin[owner])
        best[owner][better] = values[first[better]]
        margin[owner][better] = room[better]
    return best


def entities_to_label(text: str, entities: list) -> dict[str, dict[str, list[list[int]]]]:
    """CLUENER's label object ``{type: {entity text: [[start, end], ...]}}`` (ends inclusive)."""
    label: dict[str, dict[str, list[list[int]]]] = {}
    for kind, begin, end in entities:
        label.setdefault(kind, {}).setdefault(text[begin : end + 1], []).append([begin, end])
    return label


def logits_of(predictions: Any) -> Any:
    """Trainer's predictions: the logits array, or the (start, end) pair of span models."""
    if isinstance(predictions, (tuple, list)) and len(predictions) == 1:
        return predictions[0]
    return predictions


def in_feature_order(predictions: Any, feature_index: np.ndarray) -> Any:
    """Predictions put back in feature order (``feature_index`` of each row, as gathered by the Trainer)."""
    order = np.argsort(np.asarray(feature_index).reshape(-1), kind="stable")
    if isinstance(predictions, (tuple, list)):
        return type(predictions)(in_feature_order(p, feature_index) for p in predictions)
    return np.asarray(predictions)[order]


def decode(task: TaskData, predictions: Any, encoded: Encoded, split: Split, settings) -> Any:
    """Model outputs (in feature order) -> the task kind's predictions: label indices (classification, choice),
    label index lists (multi-label), values (regression), {qid: answer} (span), entities (tagging) ..."""
    return registry.kind(task.kind).decode(task, logits_of(predictions), encoded, split.examples, settings)
