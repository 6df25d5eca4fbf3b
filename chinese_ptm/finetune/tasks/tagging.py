"""Sequence tagging (named entities): a tag per character in BIOS, read from per-character tags (BIO, BIOES)
or entity spans; a long text becomes overlapping windows and each character is tagged from the window where
it has the most context."""

from __future__ import annotations

import numpy as np
from torch import nn
from transformers.modeling_outputs import TokenClassifierOutput

from ...modeling.losses import IGNORE_INDEX, token_loss
from ..baselines import dictionary_tagger
from ..examples import DataError, TaggingExample, check_entity, row_id, text_field
from ..features import Encoded, per_character
from ..metrics import OUTSIDE, bios_labels, bios_to_spans, entity_scores, spans_to_bios
from ..registry import TaskKind, register_kind
from ..rows import maybe_json
from ..task import F1, TAGGING


class TaggingKind(TaskKind):
    name = TAGGING
    user_names = {"tagging": False}
    main_metric = F1
    head = "ForTokenClassification"

    def read_example(self, row, where, index, settings, context) -> TaggingExample:
        text = text_field(row, settings.text_field, where, allow_empty=False)
        entities = []
        if context.labelled:
            value = maybe_json(row.get(settings.label_field))
            if isinstance(value, str):
                value = value.split()
            if not isinstance(value, list):
                raise DataError(f"{where}: missing field '{settings.label_field}' (per-character tags or entity spans)")
            as_tags = all(isinstance(v, str) for v in value)
            entities = (tags_to_entities if as_tags else spans_to_entities)(value, text, where, settings.label_field)
            context.types.update(kind for kind, _, _ in entities)
        return TaggingExample(row_id(row, index), text, entities)

    def finish_task(self, splits, label_names, types):
        """The entity types of the training file, sorted (the label names are the types, not the tags)."""
        return tuple(sorted(types)), 0

    def encode(self, encoder, chunk: list[TaggingExample], start: int, train: bool, out: Encoded) -> None:
        tag_ids = {tag: i for i, tag in enumerate(bios_labels(encoder.task.labels))}
        char_tags = {}
        for sample, feature, first in encoder.char_windows([e.text for e in chunk]):
            example = chunk[sample]
            if train:
                if sample not in char_tags:
                    char_tags[sample] = spans_to_bios(len(example.text), example.entities)
                labels = np.full(len(feature["input_ids"]), IGNORE_INDEX, dtype=np.int64)
                kept = first >= 0
                # a token learns the tag of the first character it covers (a word token covers several)
                tokens, at = np.unique(first[kept], return_index=True)
                labels[tokens] = np.asarray([tag_ids[t] for t, k in zip(char_tags[sample], kept) if k])[at]
                feature["labels"] = labels
            out.features.append(feature)
            out.owners.append(start + sample)
            out.first_tokens.append(first)

    def head_config(self, task) -> dict:
        tags = bios_labels(task.labels)
        return {
            "num_labels": len(tags),
            "id2label": dict(enumerate(tags)),
            "label2id": {t: i for i, t in enumerate(tags)},
        }

    def make_head(self, hidden: int, num_labels: int):
        return "classifier", nn.Linear(hidden, num_labels)

    def head_forward(self, model, inputs: dict, targets: dict):
        logits = model.classifier(model.dropout(model.states(**inputs)))  # (B, T, K)
        return TokenClassifierOutput(loss=token_loss(logits, targets.get("labels")), logits=logits)

    def decode(self, task, output, encoded, examples, settings) -> list[list]:
        return decode_tags(output, encoded, examples, bios_labels(task.labels))

    def metrics(self, task, examples, predicted) -> dict:
        return entity_scores(predicted, [e.entities for e in examples])

    def prediction_row(self, task, example, predicted) -> dict:
        entities = [{"type": k, "start": s, "end": e + 1, "text": example.text[s : e + 1]} for k, s, e in predicted]
        return {"id": example.uid, "entities": entities}

    def file_row(self, task, example) -> dict:
        text = example.text
        spans = [{"start": s, "end": e + 1, "type": k, "text": text[s : e + 1]} for k, s, e in example.entities]
        return {"id": example.uid, "text": text, "label": spans}

    def baselines(self, task, train, target) -> dict:
        return {"entity dictionary": dictionary_tagger(train, target)}


def decode_tags(logits, encoded: Encoded, examples: list[TaggingExample], tags: list[str]) -> list[list]:
    """Entities of each example from the per-character tags; characters without a token are ``O``. The
    characters of a word token take the word's tag: it starts (B-, S-) or continues (I-) an entity that then
    covers the whole word."""
    predicted = [np.asarray(window).argmax(-1) for window in logits]  # (F, T)
    lengths = [len(e.text) for e in examples]
    best = per_character(predicted, encoded, lengths)
    # which token (of which window) each character was read from: a run of one token is one word
    tokens = [f * 1_000_000 + np.arange(len(window)) for f, window in enumerate(predicted)]
    source = per_character(tokens, encoded, lengths)
    return [
        bios_to_spans(word_tags([tags[int(t)] if t >= 0 else OUTSIDE for t in chars], at))
        for chars, at in zip(best, source)
    ]


def word_tags(chars: list[str], token_of: np.ndarray) -> list[str]:
    """Per-character BIOS tags where a run of characters read from one token (a word) carries the word's tag on
    each of them: the word's first character keeps it (S- becomes B- when the word goes on), the rest continue
    it (I- of its type, O stays O)."""
    out = list(chars)
    for i in range(1, len(out)):
        if token_of[i] < 0 or token_of[i] != token_of[i - 1]:
            continue
        kind = out[i - 1].partition("-")[2]
        if kind:
            out[i] = f"I-{kind}"
            if out[i - 1].startswith("S-"):
                out[i - 1] = f"B-{kind}"
        else:
            out[i] = OUTSIDE
    return out


def tags_to_entities(tags: list[str], text: str, where: str, field_name: str) -> list:
    """Entities of per-character BIO / BIOES tags."""
    if len(tags) != len(text):
        raise DataError(
            f"{where}: field '{field_name}': {len(tags)} tags for {len(text)} characters (one per character)"
        )
    bios = []
    for i, tag in enumerate(tags):
        prefix, _, kind = tag.partition("-")
        if tag == "O":
            bios.append("O")
        elif prefix in ("B", "I", "S") and kind:
            bios.append(tag)
        elif prefix == "E" and kind:
            bios.append(f"I-{kind}")  # BIOES: an end is inside its entity
        else:
            raise DataError(f"{where}: field '{field_name}': tag {tag!r} at character {i} is not O, B-, I-, E- or S-")
    return bios_to_spans(bios)


def spans_to_entities(spans: list, text: str, where: str, field_name: str) -> list:
    """Entities of ``{start, end, type}`` objects or ``[start, end, type]`` lists (end exclusive)."""
    entities = []
    for k, span in enumerate(spans):
        name = f"{field_name}[{k}]"
        if isinstance(span, dict):
            start, end, kind = span.get("start"), span.get("end"), span.get("type", span.get("label"))
        elif isinstance(span, list) and len(span) == 3:
            start, end, kind = span
        else:
            raise DataError(f"{where}: field '{name}': expected {{start, end, type}} or [start, end, type]")
        if not isinstance(kind, str) or not kind:
            raise DataError(f"{where}: field '{name}': missing entity type")
        if not isinstance(end, int) or isinstance(end, bool):
            raise DataError(f"{where}: field '{name}': end {end!r} is not an integer (end is exclusive)")
        check_entity(text, start, end - 1, where, name, span.get("text") if isinstance(span, dict) else None)
        entities.append((kind, start, end - 1))
    return sorted(entities, key=lambda e: e[1:])


register_kind(TaggingKind())
