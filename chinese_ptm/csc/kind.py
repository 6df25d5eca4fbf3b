"""Spelling correction as a fine-tuning task kind: what the ``correction`` kind adds to the fine-tuning runtime.

Registered (through the ``chinese_ptm.finetune`` entry points) when the runtime first needs it: a target per
character (the corrected character's id, or a copy of the input), the spelling head (detection + correction),
decoding that only replaces what the detector flags, the scorer of :mod:`.metrics`, SIGHAN-style
``wrong<TAB>correct`` files as a format of their own, and the ``sighan15`` preset (synthesised training pairs,
SIGHAN 2015 test).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.encoding import open_text
from ..finetune.examples import CorrectionExample, Split, row_id, text_field
from ..finetune.features import Encoded, per_character
from ..finetune.registry import TaskKind, register_kind
from ..finetune.task import CORRECTION, CORRECTION_F1
from ..modeling.losses import IGNORE_INDEX
from .data import Pairs, read_pairs, sighan15_splits
from .metrics import flat_scores


def correction_metrics(examples: list[CorrectionExample], predicted: list[str]) -> dict:
    return flat_scores([e.text for e in examples], predicted, [e.target for e in examples])


def is_pairs_file(path: Path, settings) -> bool:
    """SIGHAN-style ``wrong<TAB>correct`` lines: declared, or a .tsv whose first line is not a header."""
    if settings.format == "pairs":
        return True
    if settings.format != "auto" or path.suffix != ".tsv" or not path.is_file():
        return False
    with open_text(path) as handle:
        return settings.text_field not in next(handle, "").rstrip("\r\n").split("\t")


def _examples(pairs: Pairs) -> list[CorrectionExample]:
    return [CorrectionExample(i, w, c) for i, (w, c) in enumerate(zip(pairs.wrong, pairs.correct))]


def read_pairs_file(path: Path, split: Split, settings) -> bool:
    """Read a pairs file into ``split`` (skipped lines counted); False when ``path`` is not one."""
    if not is_pairs_file(path, settings):
        return False
    pairs = read_pairs(path)
    split.examples = _examples(pairs)
    split.skipped.update(pairs.skipped)
    return True


def sighan15_examples(settings=None) -> dict[str, list[CorrectionExample]]:
    """The sighan15 task's splits (synthesised training pairs, SIGHAN 2015 test); needs the csc extra."""
    return {name: _examples(pairs) for name, pairs in sighan15_splits(settings).items()}


class CorrectionKind(TaskKind):
    """The right character at every position: a vocabulary prediction per character, so there is no pooling to
    choose and the head is always the spelling head (GlyceBERT's, and ours on transformers' BertModel)."""

    name = CORRECTION
    user_names = {"correction": False}
    main_metric = CORRECTION_F1
    head = "ForSpellingCorrection"
    standard_head_only = True
    presets = {"sighan15": sighan15_examples}

    def read_file(self, path: Path, split: Split, settings) -> bool:
        return read_pairs_file(path, split, settings)

    def read_example(self, row, where, index, settings, context) -> CorrectionExample | str:
        text = text_field(row, settings.text_field, where, allow_empty=False)
        target = text_field(row, settings.label_field, where, allow_empty=False) if context.labelled else None
        if target is not None and len(target) != len(text):
            return "corrected text of another length (spelling correction replaces characters one for one)"
        return CorrectionExample(row_id(row, index), text, target)

    def encode(self, encoder, chunk: list[CorrectionExample], start: int, train: bool, out: Encoded) -> None:
        tokenizer = encoder.tokenizer
        out.unk_id = tokenizer.unk_token_id
        if not out.vocab:
            out.vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        for sample, feature, first in encoder.char_windows([e.text for e in chunk]):
            if train:
                feature["labels"] = correction_targets(chunk[sample], feature["input_ids"], first, tokenizer)
            out.features.append(feature)
            out.owners.append(start + sample)
            out.first_tokens.append(first)

    def logits_for_metrics(self, logits: Any, labels: Any = None) -> tuple:
        return correction_logits(logits, labels)

    def numpy_outputs(self, output) -> tuple:
        """Predicted ids and detection probabilities, as in evaluation."""
        return tuple(x.numpy() for x in correction_logits((output.logits, output.detection_logits)))

    def decode(self, task, output, encoded, examples, settings) -> list[str]:
        ids, detection = output if isinstance(output, (tuple, list)) else (output, None)
        return decode_corrections(ids, encoded, examples, detection, settings.threshold)

    def metrics(self, task, examples, predicted) -> dict:
        return correction_metrics(examples, predicted)

    def prediction_row(self, task, example, predicted) -> dict:
        changes = [
            {"position": p, "from": a, "to": b} for p, (a, b) in enumerate(zip(example.text, predicted)) if a != b
        ]
        return {"id": example.uid, "text": predicted, "changes": changes}

    def file_row(self, task, example) -> dict:
        return {"id": example.uid, "text": example.text, "label": example.target}

    def baselines(self, task, train, target) -> dict:
        """Copying the input: every metric 0 but sentence accuracy (the share without typos)."""
        return {"copy the input": [e.text for e in target.examples]}


def correction_targets(example: CorrectionExample, input_ids: np.ndarray, first: np.ndarray, tokenizer) -> np.ndarray:
    """The target at each character's first token: the corrected character's id, or the input token where the
    character is right (a copy); no target for a correction outside the vocabulary."""
    unk = tokenizer.unk_token_id
    labels = np.full(len(input_ids), IGNORE_INDEX, dtype=np.int64)
    for char, token in enumerate(first.tolist()):
        if token < 0:
            continue
        wrong, right = example.text[char], example.target[char]
        target = input_ids[token] if wrong == right else tokenizer.convert_tokens_to_ids(right)
        labels[token] = target if target != unk or wrong == right else IGNORE_INDEX
    return labels


def correction_logits(logits: Any, labels: Any = None) -> tuple:
    """The Trainer's ``preprocess_logits_for_metrics`` for correction: (B, T, V) logits -> predicted ids (B, T)
    (what decoding needs; gathering whole vocabularies would take gigabytes), detection probabilities kept."""
    logits, detection = logits if isinstance(logits, (tuple, list)) else (logits, None)
    ids = logits.argmax(-1)
    return (ids,) if detection is None else (ids, torch.sigmoid(detection.float()))


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


CORRECTION_KIND = register_kind(CorrectionKind())
