"""Readers for the CLUE data files in their official formats.  [no torch]

Each reader turns one split of one task into examples of four shapes (classification, multiple choice,
span extraction, tagging). Bad input raises :class:`DataError` naming the file, the line (or the JSON
path) and the field; rows the CLUE baselines leave out (an NLI label ``-``) are skipped and counted.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from .clue import TaskSpec, candidate_names, find_split_files, resolve_task_dir
from .examples import (
    PAD_CHOICE,
    ChoiceExample,
    ClassificationExample,
    DataError,
    Entity,
    SpanExample,
    Split,
    TaggingExample,
    check_entity,
    check_span_answer,
    iter_json_lines,
    list_field,
    load_json,
    row_id,
    strings_field,
    text_field,
)
from .metrics import spans_to_bios
from .task import CLASSIFICATION, TaskData

#: ChID blanks in a passage
IDIOM_TAG = re.compile(r"#idiom\d+#")
#: what the other blanks of a ChID passage become (BERT's mask token: one token, no reading)
OTHER_BLANK = "[MASK]"
#: markers around the two spans of a CLUEWSC2020 text: the noun phrase and the pronoun
WSC_NOUN_MARKERS = ("_", "_")
WSC_PRONOUN_MARKERS = ("[", "]")
#: how many allowed labels an unknown-label error lists
_LABELS_SHOWN = 12

_SKIP = object()


def _label(spec: TaskSpec, row: dict, where: str, skipped: Counter):
    """The label index of a row, or ``_SKIP`` for a label the baselines skip."""
    name = spec.label_field
    value = row.get(name)
    if value is None and spec.label_fallback:
        name, value = spec.label_fallback, row.get(spec.label_fallback)
    if value is None:
        raise DataError(f"{where}: missing field '{spec.label_field}' (training and dev rows need a label)")
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = str(value).strip()
    if text in spec.skip_labels:
        skipped[f"label {text!r}"] += 1
        return _SKIP
    if text not in spec.labels:
        shown = ", ".join(spec.labels[:_LABELS_SHOWN]) + (" ..." if len(spec.labels) > _LABELS_SHOWN else "")
        raise DataError(f"{where}: field '{name}': unknown label {text!r} for {spec.name} (expected one of {shown})")
    return spec.labels.index(text)


# ---------------------------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------------------------


def mark_wsc_text(text: str, target: Any, where: str) -> str:
    """The CLUEWSC2020 text with the noun phrase in ``_ _`` and the pronoun in ``[ ]``; each span is
    checked against the text at its index."""
    if not isinstance(target, dict):
        raise DataError(f"{where}: missing field 'target' (an object with span1_index ... span2_text)")
    inserts: list[tuple[int, int, str]] = []  # (position, 0 = opening / 1 = closing, marker)
    for number, (opening, closing) in ((1, WSC_NOUN_MARKERS), (2, WSC_PRONOUN_MARKERS)):
        index_key, text_key = f"span{number}_index", f"span{number}_text"
        span = text_field(target, text_key, f"{where}: target")
        index = target.get(index_key)
        if not isinstance(index, int) or isinstance(index, bool):
            raise DataError(f"{where}: field 'target.{index_key}' must be an integer")
        if text[index : index + len(span)] != span:
            raise DataError(
                f"{where}: field 'target.{index_key}': {text_key} {span!r} does not occur at {index} "
                f"(the text there reads {text[index : index + len(span)]!r})"
            )
        inserts += [(index, 0, opening), (index + len(span), 1, closing)]
    chars = list(text)
    # right to left so earlier positions stay valid; at one position closings end up before openings
    for position, _, marker in sorted(inserts, key=lambda item: (-item[0], item[1])):
        chars.insert(position, marker)
    return "".join(chars)


def _read_classification(spec: TaskSpec, files: list[Path], split: Split, labelled: bool) -> None:
    for path in files:
        for line, index, row in iter_json_lines(path):
            where = f"{path}:{line}"
            if spec.format == "wsc":
                text_a, text_b = mark_wsc_text(text_field(row, "text", where), row.get("target"), where), None
            elif spec.format == "csl":
                keywords = strings_field(row.get("keyword"), "keyword", where) if "keyword" in row else None
                if keywords is None:
                    raise DataError(f"{where}: missing field 'keyword'")
                text_a, text_b = " ".join(keywords), text_field(row, "abst", where)
            else:
                text_a = text_field(row, spec.fields[0], where)
                text_b = text_field(row, spec.fields[1], where) if len(spec.fields) > 1 else None
            label = None
            if labelled:
                label = _label(spec, row, where, split.skipped)
                if label is _SKIP:
                    continue
            split.examples.append(ClassificationExample(row_id(row, index), text_a, text_b, label))


# ---------------------------------------------------------------------------------------------
# Multiple choice
# ---------------------------------------------------------------------------------------------


def _units(text: str) -> list[str]:
    """A passage as units: one per character, the other blanks one ``OTHER_BLANK`` unit each."""
    units: list[str] = []
    position = 0
    for match in IDIOM_TAG.finditer(text):
        units.extend(text[position : match.start()])
        units.append(OTHER_BLANK)
        position = match.end()
    units.extend(text[position:])
    return units


def chid_window(left: str, right: str, budget: int) -> tuple[str, str]:
    """At most ``budget`` units around a blank, split evenly (a short side leaves its share to the other)."""
    left_units, right_units = _units(left), _units(right)
    keep_left = min(len(left_units), max(budget // 2, budget - len(right_units)))
    keep_right = min(len(right_units), budget - keep_left)
    return "".join(left_units[len(left_units) - keep_left :]), "".join(right_units[:keep_right])


def _pad_choices(pairs: list, spec: TaskSpec, where: str, make_pad) -> list:
    if len(pairs) > spec.num_choices:
        raise DataError(f"{where}: {len(pairs)} choices; {spec.name} allows at most {spec.num_choices}")
    if not pairs:
        raise DataError(f"{where}: no choices")
    return pairs + [make_pad() for _ in range(spec.num_choices - len(pairs))]


def _read_chid(spec: TaskSpec, files: list[Path], split: Split, labelled: bool, settings) -> None:
    for path in files:
        answers: dict = {}
        answer_path = path.with_name(path.stem + "_answer.json")
        if labelled:
            if not answer_path.is_file():
                raise DataError(f"{answer_path}: missing (the answers of {path.name}); ChID keeps them apart")
            answers = load_json(answer_path)
            if not isinstance(answers, dict):
                raise DataError(f'{answer_path}: expected one JSON object {{"#idiom...#": index}}')
        for line, _, row in iter_json_lines(path):
            where = f"{path}:{line}"
            candidates = strings_field(row.get("candidates"), "candidates", where) if "candidates" in row else None
            if not candidates:
                raise DataError(f"{where}: missing field 'candidates' (the idioms to choose from)")
            if "content" not in row:
                raise DataError(f"{where}: missing field 'content'")
            passages = strings_field(row["content"], "content", where)
            budget = max(settings.max_length - 2 - max(len(c) for c in candidates), 2)
            for passage in passages:
                for match in IDIOM_TAG.finditer(passage):
                    tag = match.group()
                    left, right = chid_window(passage[: match.start()], passage[match.end() :], budget)
                    pairs = [(left + candidate + right, None) for candidate in candidates]
                    pairs = _pad_choices(pairs, spec, where, lambda: (left + OTHER_BLANK + right, None))
                    label = None
                    if labelled:
                        if tag not in answers:
                            raise DataError(f"{answer_path}: no answer for {tag} (blank of {where})")
                        label = answers[tag]
                        if not isinstance(label, int) or not 0 <= label < len(candidates):
                            raise DataError(
                                f"{answer_path}: field '{tag}': answer {label!r} is not an index of the "
                                f"{len(candidates)} candidates at {where}"
                            )
                    split.examples.append(ChoiceExample(tag, pairs, len(candidates), label))


def _read_c3(spec: TaskSpec, files: list[Path], split: Split, labelled: bool) -> None:
    for path in files:
        data = load_json(path)
        if not isinstance(data, list):
            raise DataError(f"{path}: expected a JSON array of [context, questions, id] items")
        for i, item in enumerate(data):
            where = f"{path}: item {i}"
            if not isinstance(item, list) or len(item) < 2:
                raise DataError(f"{where}: expected [context, questions, id]")
            context = "\n".join(strings_field(item[0], "context", where))
            if not isinstance(item[1], list):
                raise DataError(f"{where}: the questions (second element) must be a list")
            for j, question in enumerate(item[1]):
                q_where = f"{where}, question {j}"
                if not isinstance(question, dict):
                    raise DataError(f"{q_where}: expected an object with question, choice, answer")
                text = text_field(question, "question", q_where)
                choices = strings_field(list_field(question, "choice", q_where), "choice", q_where)
                pairs = [(context, f"{text} {choice}") for choice in choices]
                pairs = _pad_choices(pairs, spec, q_where, lambda: (context, f"{text} {PAD_CHOICE}"))
                label = None
                if labelled:
                    answer = question.get("answer")
                    if isinstance(answer, int) and not isinstance(answer, bool) and 0 <= answer < len(choices):
                        label = answer
                    elif isinstance(answer, str) and answer in choices:
                        label = choices.index(answer)
                    else:
                        raise DataError(f"{q_where}: field 'answer': {answer!r} is not one of the choices {choices}")
                uid = question.get("id", len(split.examples))
                split.examples.append(ChoiceExample(uid, pairs, len(choices), label))


# ---------------------------------------------------------------------------------------------
# Span extraction and tagging
# ---------------------------------------------------------------------------------------------


def read_cmrc(files: list[Path], split: Split, labelled: bool, training: bool) -> None:
    seen: dict[str, str] = {}
    for path in files:
        data = load_json(path)
        for a, article in enumerate(list_field(data, "data", str(path))):
            for p, paragraph in enumerate(list_field(article, "paragraphs", f"{path}: data[{a}]")):
                p_where = f"{path}: data[{a}].paragraphs[{p}]"
                context = text_field(paragraph, "context", p_where)
                for q, qa in enumerate(list_field(paragraph, "qas", p_where)):
                    where = f"{p_where}.qas[{q}]"
                    if not isinstance(qa, dict) or "id" not in qa:
                        raise DataError(f"{where}: missing field 'id'")
                    qid = str(qa["id"])
                    where = f"{where} (id {qid})"
                    if qid in seen:
                        raise DataError(f"{where}: duplicate question id (first at {seen[qid]})")
                    seen[qid] = where
                    question = text_field(qa, "question", where)
                    answers, start = [], None
                    if labelled:
                        raw = list_field(qa, "answers", where)
                        if not raw:
                            raise DataError(f"{where}: field 'answers' is empty")
                        for k, answer in enumerate(raw):
                            if not isinstance(answer, dict):
                                raise DataError(f"{where}: field 'answers[{k}]' must be an object")
                            answers.append(text_field(answer, "text", f"{where}: answers[{k}]"))
                        if training:
                            start = check_span_answer(context, answers[0], raw[0].get("answer_start"), where)
                    split.examples.append(SpanExample(qid, question, context, answers, start))


def _read_cluener(spec: TaskSpec, files: list[Path], split: Split, labelled: bool) -> None:
    for path in files:
        for line, index, row in iter_json_lines(path):
            where = f"{path}:{line}"
            text = text_field(row, "text", where)
            entities: list[Entity] = []
            if labelled:
                label = row.get("label")
                if label is None:
                    label = {}  # a sentence without entities may come without a label
                if not isinstance(label, dict):
                    raise DataError(f"{where}: field 'label' must be an object {{type: {{entity: [[start, end]]}}}}")
                for kind, mentions in label.items():
                    if kind not in spec.labels:
                        raise DataError(
                            f"{where}: field 'label': unknown entity type {kind!r} (expected one of {', '.join(spec.labels)})"
                        )
                    if not isinstance(mentions, dict):
                        raise DataError(f"{where}: field 'label.{kind}' must be an object {{entity: [[start, end]]}}")
                    for entity, spans in mentions.items():
                        field_name = f"label.{kind}.{entity}"
                        if not isinstance(spans, list):
                            raise DataError(f"{where}: field '{field_name}' must be a list of [start, end]")
                        for span in spans:
                            if not isinstance(span, list) or len(span) != 2:
                                raise DataError(f"{where}: field '{field_name}': {span!r} is not [start, end]")
                            check_entity(text, span[0], span[1], where, field_name, entity)
                            entities.append((kind, span[0], span[1]))
                try:
                    spans_to_bios(len(text), entities)
                except ValueError as err:
                    raise DataError(f"{where}: field 'label': {err}") from None
            split.examples.append(TaggingExample(row_id(row, index), text, sorted(entities, key=lambda e: e[1:])))


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def read_split(spec: TaskSpec, directory: str | Path, split_name: str, settings) -> Split | None:
    """Read one split (``train``, ``dev``, ``test``) of a task folder; a missing test split gives None."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: no such directory (the {spec.name} data folder, e.g. {spec.folder}/)")
    files = find_split_files(spec, directory, split_name)
    if files is None:
        if split_name == "test":
            return None
        raise DataError(
            f"{directory}: no {split_name} file for {spec.name} (looked for {candidate_names(spec, split_name)})"
        )
    labelled = split_name != "test" or spec.test_labelled
    split = Split(split_name, files, labelled=labelled)
    if spec.kind == CLASSIFICATION:
        _read_classification(spec, files, split, labelled)
    elif spec.format == "chid":
        _read_chid(spec, files, split, labelled, settings)
    elif spec.format == "c3":
        _read_c3(spec, files, split, labelled)
    elif spec.format == "cmrc":
        read_cmrc(files, split, labelled, training=split_name == "train")
    elif spec.format == "cluener":
        _read_cluener(spec, files, split, labelled)
    else:  # pragma: no cover - the task table only names the formats above
        raise AssertionError(f"{spec.name}: no reader for format {spec.format!r}")
    if settings.limit > 0:
        split.examples = split.examples[: settings.limit]
    if labelled and not split.examples:
        raise DataError(f"{', '.join(map(str, files))}: no usable {split_name} examples")
    return split


def load_clue_task(spec: TaskSpec, data_dir: str | Path, settings) -> TaskData:
    """The task's train, dev and (when present) test splits as a :class:`TaskData`."""

    directory = resolve_task_dir(spec, data_dir)
    splits = {name: read_split(spec, directory, name, settings) for name in ("train", "dev", "test")}
    return TaskData(
        spec.name,
        spec.kind,
        spec.labels,
        spec.metric,
        {k: v for k, v in splits.items() if v},
        num_choices=spec.num_choices,
        clue=spec,
        source={"data_dir": str(directory)},
    )
