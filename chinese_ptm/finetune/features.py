"""Examples -> model features (numpy, unpadded), the padding collator, and decoding of model outputs.

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

from .examples import ChoiceExample, ClassificationExample, CorrectionExample, SpanExample, Split, TaggingExample
from .metrics import OUTSIDE, bios_labels, bios_to_spans, spans_to_bios
from .tasks import CLASSIFICATION, CORRECTION, MULTILABEL, MULTIPLE_CHOICE, REGRESSION, SPAN, TAGGING, TaskData

IGNORE_INDEX = -100  # targets cross-entropy skips
ENCODE_CHUNK = 512  # examples per tokenizer call
NO_OFFSET = -1  # context offset of a token outside the context
#: room for [CLS] and two [SEP] in a pair
PAIR_SPECIAL_TOKENS = 3
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
        length = max(f["input_ids"].shape[-1] for f in features)
        if self.pad_to_multiple_of:
            length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        batch: dict[str, torch.Tensor] = {}
        for key in features[0]:
            values = [f[key] for f in features]
            if values[0].dtype.kind == "f":  # regression values, multi-hot label vectors
                batch[key] = torch.as_tensor(np.stack(values), dtype=torch.float32)
                continue
            if values[0].ndim == 0:
                batch[key] = torch.as_tensor(np.stack(values), dtype=torch.long)
                continue
            token_axis = values[0].ndim - 2 if key == "pinyin_ids" else values[0].ndim - 1
            fill = self.pad_token_id if key == "input_ids" else IGNORE_INDEX if key == "labels" else 0
            padded = []
            for value in values:
                widths = [(0, 0)] * value.ndim
                widths[token_axis] = (0, length - value.shape[token_axis])
                padded.append(np.pad(value, widths, constant_values=fill))
            batch[key] = torch.as_tensor(np.stack(padded), dtype=torch.long)
        return batch


def _feature(encoding: dict, i: int, with_pinyin: bool) -> dict[str, np.ndarray]:
    ids = np.asarray(encoding["input_ids"][i], dtype=np.int32)
    feature = {
        "input_ids": ids,
        "token_type_ids": np.asarray(encoding["token_type_ids"][i], dtype=np.int8),
        "attention_mask": np.ones(len(ids), dtype=np.int8),
    }
    if with_pinyin:
        feature["pinyin_ids"] = np.asarray(encoding["pinyin_ids"][i], dtype=np.int8).reshape(len(ids), -1)  # (T, P)
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
        self.tags = bios_labels(task.labels) if task.kind == TAGGING else []

    def encode(self, examples: list, train: bool, desc: str = "encoding") -> Encoded:
        """Features of ``examples``: with targets when ``train``, else with their ``feature_index``."""
        method = {
            MULTIPLE_CHOICE: self._choice,
            SPAN: self._span,
            TAGGING: self._tagging,
            CORRECTION: self._correction,
        }.get(self.task.kind, self._classification)
        out = Encoded()
        for start, chunk in _chunks(examples, desc, self.progress):
            method(chunk, start, train, out)
        if not train:
            for index, feature in enumerate(out.features):
                feature[FEATURE_INDEX] = np.asarray(index, dtype=np.int64)
        return out

    def _label_array(self, label) -> np.ndarray:
        if self.task.kind == REGRESSION:
            return np.asarray(label, dtype=np.float32)
        if self.task.kind == MULTILABEL:
            hot = np.zeros(len(self.task.labels), dtype=np.float32)
            hot[list(label)] = 1.0
            return hot
        return np.asarray(label, dtype=np.int64)

    # -- one method per kind -------------------------------------------------------------------
    def _classification(self, chunk: list[ClassificationExample], start: int, train: bool, out: Encoded) -> None:
        first = [e.text_a for e in chunk]
        second = [e.text_b for e in chunk] if chunk[0].text_b is not None else None
        enc = self.tokenizer(first, second, truncation=True, max_length=self.hp.max_length)
        for i, example in enumerate(chunk):
            feature = _feature(enc, i, self.with_pinyin)
            if train:
                feature["labels"] = self._label_array(example.label)
            out.features.append(feature)
            out.owners.append(start + i)

    def _choice(self, chunk: list[ChoiceExample], start: int, train: bool, out: Encoded) -> None:
        pairs = [pair for example in chunk for pair in example.pairs]
        first = [p[0] for p in pairs]
        second = [p[1] for p in pairs] if pairs[0][1] is not None else None
        enc = self.tokenizer(first, second, truncation=True, max_length=self.hp.max_length)
        row = 0
        for i, example in enumerate(chunk):
            choices = [_feature(enc, row + c, self.with_pinyin) for c in range(len(example.pairs))]
            row += len(example.pairs)
            length = max(len(c["input_ids"]) for c in choices)
            feature = {}
            for key in choices[0]:
                stacked = []
                for choice in choices:
                    widths = [(0, 0)] * choice[key].ndim
                    widths[0] = (0, length - choice[key].shape[0])
                    fill = self.tokenizer.pad_token_id if key == "input_ids" else 0
                    stacked.append(np.pad(choice[key], widths, constant_values=fill))
                feature[key] = np.stack(stacked)  # (C, T) or (C, T, P)
            if train:
                feature["labels"] = np.asarray(example.label, dtype=np.int64)
            out.features.append(feature)
            out.owners.append(start + i)

    def _span(self, chunk: list[SpanExample], start: int, train: bool, out: Encoded) -> None:
        hp = self.hp
        query_chars = max(1, min(hp.max_query_length, hp.max_length // 2 - PAIR_SPECIAL_TOKENS))
        questions = [e.question.strip()[:query_chars] for e in chunk]
        room = hp.max_length - PAIR_SPECIAL_TOKENS - max(len(q) for q in questions)
        if room < 2:
            raise ValueError(f"max_length={hp.max_length} leaves no room for the context; raise it")
        stride = max(0, min(hp.stride, room // 2))
        enc = self.tokenizer(
            questions,
            [e.context for e in chunk],
            truncation="only_second",
            max_length=hp.max_length,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        for w, sample in enumerate(enc["overflow_to_sample_mapping"]):
            example = chunk[sample]
            feature = _feature(enc, w, self.with_pinyin)
            offsets = np.asarray(enc["offset_mapping"][w], dtype=np.int64).reshape(-1, 2)  # (T, 2)
            in_context = (feature["token_type_ids"] == 1) & (offsets[:, 1] > offsets[:, 0])
            context_offsets = np.where(in_context[:, None], offsets, NO_OFFSET)
            if train:
                begin, end = _answer_tokens(context_offsets, example)
                feature["start_positions"] = np.asarray(begin, dtype=np.int64)
                feature["end_positions"] = np.asarray(end, dtype=np.int64)
            out.features.append(feature)
            out.owners.append(start + int(sample))
            out.context_offsets.append(context_offsets)

    def _char_windows(self, texts: list[str]):
        """One token sequence per character of each text (each character a word), long texts as overlapping
        windows (``stride`` tokens shared); yields (window, text index, feature, first token of each char)."""
        stride = max(0, min(self.hp.stride, (self.hp.max_length - 2) // 2))
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
            yield w, int(sample), _feature(enc, w, self.with_pinyin), first

    def _tagging(self, chunk: list[TaggingExample], start: int, train: bool, out: Encoded) -> None:
        """A text longer than ``max_length`` becomes overlapping windows: every character is tagged, from the
        window where it has the most context."""
        tag_ids = {tag: i for i, tag in enumerate(self.tags)}
        char_tags = {}
        for _, sample, feature, first in self._char_windows([e.text for e in chunk]):
            example = chunk[sample]
            if train:
                if sample not in char_tags:
                    char_tags[sample] = spans_to_bios(len(example.text), example.entities)
                labels = np.full(len(feature["input_ids"]), IGNORE_INDEX, dtype=np.int64)
                kept = first >= 0
                labels[first[kept]] = [tag_ids[t] for t, k in zip(char_tags[sample], kept) if k]
                feature["labels"] = labels
            out.features.append(feature)
            out.owners.append(start + sample)
            out.first_tokens.append(first)

    def _correction(self, chunk: list[CorrectionExample], start: int, train: bool, out: Encoded) -> None:
        """Spelling correction: the target at each character's first token is the corrected character's id, or
        the input token where the character is right (a copy); no target for a correction outside the vocabulary."""
        unk = out.unk_id = self.tokenizer.unk_token_id
        if not out.vocab:
            out.vocab = self.tokenizer.convert_ids_to_tokens(list(range(len(self.tokenizer))))
        for _, sample, feature, first in self._char_windows([e.text for e in chunk]):
            example = chunk[sample]
            if train:
                labels = np.full(len(feature["input_ids"]), IGNORE_INDEX, dtype=np.int64)
                for char, token in enumerate(first.tolist()):
                    if token < 0:
                        continue
                    wrong, right = example.text[char], example.target[char]
                    target = (
                        feature["input_ids"][token] if wrong == right else self.tokenizer.convert_tokens_to_ids(right)
                    )
                    labels[token] = target if target != unk or wrong == right else IGNORE_INDEX
                feature["labels"] = labels
            out.features.append(feature)
            out.owners.append(start + sample)
            out.first_tokens.append(first)


def _answer_tokens(context_offsets: np.ndarray, example: SpanExample) -> tuple[int, int]:
    """Start and end token of the answer in one window; (0, 0), the [CLS] token, when it is not inside."""
    begin_char = example.answer_start
    end_char = begin_char + len(example.answers[0])  # exclusive
    inside = np.flatnonzero(context_offsets[:, 0] >= 0)
    if not len(inside):
        return 0, 0
    window_begin, window_end = context_offsets[inside[0], 0], context_offsets[inside[-1], 1]
    if begin_char < window_begin or end_char > window_end:
        return 0, 0
    starts = inside[context_offsets[inside, 1] > begin_char]  # tokens ending after the answer's start
    ends = inside[context_offsets[inside, 0] < end_char]  # tokens starting before the answer's end
    if not len(starts) or not len(ends):
        return 0, 0
    return int(starts[0]), int(ends[-1])


# ---------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------


def decode_classification(logits: np.ndarray) -> list[int]:
    return np.asarray(logits).argmax(-1).tolist()


def decode_choices(logits: np.ndarray, examples: list[ChoiceExample]) -> list[int]:
    """Best real choice of each example (padding choices never win)."""
    scores = np.array(logits, dtype=np.float64)  # (N, C)
    for i, example in enumerate(examples):
        scores[i, example.num_real :] = -np.inf
    return scores.argmax(-1).tolist()


def decode_spans(
    start_logits: np.ndarray, end_logits: np.ndarray, encoded: Encoded, examples: list[SpanExample], hp
) -> dict[str, str]:
    """``{qid: answer}``: over all windows of a question, the context span with the highest start + end score
    (end not before start, at most ``max_answer_length`` tokens); an empty answer when no window has one."""
    best: dict[int, tuple[float, str]] = {}
    for f, owner in enumerate(encoded.owners):
        offsets = encoded.context_offsets[f]
        length = len(offsets)
        starts, ends = np.asarray(start_logits[f][:length]), np.asarray(end_logits[f][:length])
        inside = np.flatnonzero(offsets[:, 0] >= 0)
        if not len(inside):
            continue
        top_starts = inside[np.argsort(-starts[inside], kind="stable")[: hp.n_best]]
        top_ends = inside[np.argsort(-ends[inside], kind="stable")[: hp.n_best]]
        context = examples[owner].context
        for s in top_starts:
            for e in top_ends:
                if e < s or e - s + 1 > hp.max_answer_length:
                    continue
                score = float(starts[s] + ends[e])
                if owner not in best or score > best[owner][0]:
                    best[owner] = (score, context[offsets[s, 0] : offsets[e, 1]])
    return {example.uid: best[i][1] if i in best else "" for i, example in enumerate(examples)}


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


def decode_tags(logits: np.ndarray, encoded: Encoded, examples: list[TaggingExample], tags: list[str]) -> list[list]:
    """Entities of each example from the per-character tags; characters without a token are ``O``."""
    predicted = [np.asarray(window).argmax(-1) for window in logits]  # (F, T)
    best = per_character(predicted, encoded, [len(e.text) for e in examples])
    return [bios_to_spans([tags[int(t)] if t >= 0 else OUTSIDE for t in chars]) for chars in best]


def decode_corrections(
    token_ids: np.ndarray,
    encoded: Encoded,
    examples: list[CorrectionExample],
    detection: np.ndarray | None = None,
    threshold: float = 0.5,
) -> list[str]:
    """The corrected texts: a character is replaced only by a single character the model predicts there (a
    prediction that is a sub-word, a special token or [UNK] keeps what was typed) and, with ``detection``
    probabilities, only where the detection head finds the character wrong (>= ``threshold``): the correction head
    alone rewrites too much. The length never changes."""
    lengths = [len(e.text) for e in examples]
    best = per_character(token_ids, encoded, lengths)
    flagged = per_character(detection, encoded, lengths, 1.0, np.float64) if detection is not None else None
    texts = []
    for index, (example, ids) in enumerate(zip(examples, best)):
        chars = list(example.text)
        for position, token_id in enumerate(ids.tolist()):
            token = encoded.vocab[token_id] if 0 <= token_id < len(encoded.vocab) else None
            if flagged is not None and flagged[index][position] < threshold:
                continue
            if token and len(token) == 1 and token_id != encoded.unk_id and token != chars[position].lower():
                chars[position] = token
        texts.append("".join(chars))
    return texts


def entities_to_label(text: str, entities: list) -> dict[str, dict[str, list[list[int]]]]:
    """CLUENER's label object ``{type: {entity text: [[start, end], ...]}}`` (ends inclusive)."""
    label: dict[str, dict[str, list[list[int]]]] = {}
    for kind, begin, end in entities:
        label.setdefault(kind, {}).setdefault(text[begin : end + 1], []).append([begin, end])
    return label


def correction_logits(logits: Any, labels: Any = None) -> tuple:
    """The Trainer's ``preprocess_logits_for_metrics`` for correction: (B, T, V) logits -> predicted ids (B, T)
    (what decoding needs; gathering whole vocabularies would take gigabytes), detection probabilities kept."""
    logits, detection = logits if isinstance(logits, (tuple, list)) else (logits, None)
    ids = logits.argmax(-1)
    return (ids,) if detection is None else (ids, torch.sigmoid(detection.float()))


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
    """Model outputs (in feature order) -> label indices (classification, choice), label index lists
    (multi-label), values (regression), {qid: answer} (span) or entities (tagging)."""
    output = logits_of(predictions)
    if task.kind == CLASSIFICATION:
        return decode_classification(output)
    if task.kind == REGRESSION:
        return np.asarray(output, dtype=np.float64).reshape(-1).tolist()
    if task.kind == MULTILABEL:
        probabilities = 1.0 / (1.0 + np.exp(-np.asarray(output, dtype=np.float64)))
        return [np.flatnonzero(row > settings.threshold).tolist() for row in probabilities]
    if task.kind == MULTIPLE_CHOICE:
        return decode_choices(output, split.examples)
    if task.kind == SPAN:
        start_logits, end_logits = output
        return decode_spans(start_logits, end_logits, encoded, split.examples, settings)
    if task.kind == CORRECTION:  # (predicted ids, detection probabilities): see correction_logits
        ids, detection = output if isinstance(output, (tuple, list)) else (output, None)
        return decode_corrections(ids, encoded, split.examples, detection, settings.threshold)
    return decode_tags(output, encoded, split.examples, bios_labels(task.labels))
