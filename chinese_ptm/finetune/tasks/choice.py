"""Multiple choice: a context and a list of choices, each choice encoded as a pair with the context (and the
question); the head scores each pair and the best real choice wins (padding choices never do)."""

from __future__ import annotations

import numpy as np
from torch import nn
from transformers.modeling_outputs import MultipleChoiceModelOutput

from ...modeling.losses import choice_loss
from ..examples import PAD_CHOICE, ChoiceExample, DataError, row_id, strings_field, text_field
from ..features import PAD_ID_KEYS, Encoded, sequence_feature
from ..metrics import accuracy
from ..registry import TaskKind, register_kind
from ..rows import maybe_json
from ..task import ACCURACY, MULTIPLE_CHOICE


class ChoiceKind(TaskKind):
    name = MULTIPLE_CHOICE
    user_names = {"choice": True}
    main_metric = ACCURACY
    head = "ForMultipleChoice"

    def needed_fields(self, settings) -> list[str]:
        return [settings.text_field, settings.choices_field]

    def read_example(self, row, where, index, settings, context) -> ChoiceExample:
        s = settings
        text = text_field(row, s.text_field, where, allow_empty=False)
        question = row.get(s.text_pair_field)
        raw = row.get(s.choices_field)
        choices = strings_field(maybe_json(raw), s.choices_field, where) if raw is not None else None
        if not choices:
            raise DataError(f"{where}: missing field '{s.choices_field}' (a list of choices)")
        pairs = [(text, f"{question} {c}" if isinstance(question, str) and question else c) for c in choices]
        label = (
            _choice_label(maybe_json(row.get(s.label_field)), choices, where, s.label_field)
            if context.labelled
            else None
        )
        return ChoiceExample(row_id(row, index), pairs, len(choices), label)

    def finish_task(self, splits, label_names, types):
        """Every example gets as many choices as the longest list (padding choices never win)."""
        most = max(e.num_real for split in splits.values() for e in split.examples)
        for split in splits.values():
            for e in split.examples:
                e.pairs = e.pairs + [(e.pairs[0][0], PAD_CHOICE)] * (most - len(e.pairs))
        return label_names, most

    def encode(self, encoder, chunk: list[ChoiceExample], start: int, train: bool, out: Encoded) -> None:
        pairs = [pair for example in chunk for pair in example.pairs]
        second = [p[1] for p in pairs] if pairs[0][1] is not None else None
        enc = encoder.tokenizer([p[0] for p in pairs], second, truncation=True, max_length=encoder.hp.max_length)
        row = 0
        for i, example in enumerate(chunk):
            choices = [sequence_feature(enc, row + c, encoder.with_pinyin) for c in range(len(example.pairs))]
            row += len(example.pairs)
            feature = _stack_choices(choices, encoder.tokenizer.pad_token_id)
            if train:
                feature["labels"] = np.asarray(example.label, dtype=np.int64)
            out.features.append(feature)
            out.owners.append(start + i)

    def make_head(self, hidden: int, num_labels: int):
        return "classifier", nn.Linear(hidden, 1)

    def head_forward(self, model, inputs: dict, targets: dict):
        batch, choices = inputs["input_ids"].shape[:2]
        flat = {k: v.flatten(0, 1) if v is not None else None for k, v in inputs.items()}  # (B*C, T, ...)
        states = model.states(**flat)
        logits = model.classifier(model.dropout(model.pool(states, flat["attention_mask"]))).view(batch, choices)
        return MultipleChoiceModelOutput(loss=choice_loss(logits, targets.get("labels")), logits=logits)

    def decode(self, task, output, encoded, examples, settings) -> list[int]:
        """Best real choice of each example."""
        scores = np.array(output, dtype=np.float64)  # (N, C)
        for i, example in enumerate(examples):
            scores[i, example.num_real :] = -np.inf
        return scores.argmax(-1).tolist()

    def metrics(self, task, examples, predicted) -> dict:
        return {"accuracy": accuracy(predicted, [e.label for e in examples])}

    def prediction_row(self, task, example, predicted) -> dict:
        return {"id": example.uid, "choice": int(predicted)}


def _choice_label(value, choices: list[str], where: str, field_name: str) -> int:
    """The right choice: its text or its index."""
    if isinstance(value, str) and value in choices:
        return choices.index(value)
    if isinstance(value, (int, str)) and str(value).lstrip("-").isdigit() and 0 <= int(value) < len(choices):
        return int(value)
    raise DataError(f"{where}: field '{field_name}': {value!r} is neither a choice nor its index")


def _stack_choices(choices: list[dict], pad_token_id: int) -> dict:
    """Each key's choices padded to the longest and stacked: (C, T) or (C, T, P)."""
    length = max(len(c["input_ids"]) for c in choices)
    feature = {}
    for key in choices[0]:
        stacked = []
        for choice in choices:
            widths = [(0, 0)] * choice[key].ndim
            widths[0] = (0, length - choice[key].shape[0])
            fill = pad_token_id if key in PAD_ID_KEYS else 0
            stacked.append(np.pad(choice[key], widths, constant_values=fill))
        feature[key] = np.stack(stacked)
    return feature


register_kind(ChoiceKind())
