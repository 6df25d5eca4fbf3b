"""The user's own data: JSON lines, CSV or TSV files (SQuAD-style JSON for span tasks) read as examples.  [no torch]

Fields are named in the task settings (``text_field``, ``text_pair_field``, ``label_field`` ...). Class labels
come from the training file and are kept with the model; a dev or test label the training file lacks, a
missing field, an empty text, a span outside its text, label types that differ between rows or a CSV read
with the wrong delimiter stop with one line naming file, line and field. A test file without labels is read
for prediction only.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterator

from . import kinds
from .clue_readers import _read_cmrc
from .examples import (
    PAD_CHOICE,
    ChoiceExample,
    ClassificationExample,
    CorrectionExample,
    DataError,
    SpanExample,
    Split,
    TaggingExample,
    check_entity,
    check_span_answer,
    iter_json_lines,
    load_json,
    row_id,
    strings_field,
    text_field,
)
from .metrics import bios_to_spans
from .tasks import (
    CLASSIFICATION,
    CORRECTION,
    MAIN_METRIC,
    MULTILABEL,
    MULTIPLE_CHOICE,
    REGRESSION,
    SPAN,
    TAGGING,
    USER_KINDS,
    TaskData,
)

#: separator of several labels in one CSV/TSV cell (multi-label tasks)
LABEL_SEPARATOR = "|"
_SHOWN = 12


def file_format(path: Path, declared: str) -> str:
    if declared != "auto":
        return declared
    suffix = path.suffix.lower()
    return {".csv": "csv", ".tsv": "tsv", ".txt": "tsv"}.get(suffix, "jsonl")


def iter_rows(path: Path, declared: str, needed: list[str]) -> Iterator[tuple[str, int, dict]]:
    """``(where, row_index, row)`` of a data file; CSV/TSV rows are dicts by header."""
    fmt = file_format(path, declared)
    if fmt == "jsonl":
        for line, index, row in iter_json_lines(path):
            yield f"{path}:{line}", index, row
        return
    delimiter = "," if fmt == "csv" else "\t"
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        header = reader.fieldnames or []
        _check_header(path, header, needed, delimiter)
        for index, row in enumerate(reader):
            if None in row:
                raise DataError(
                    f"{path}:{reader.line_num}: more cells than the header's {len(header)}; quote "
                    f"texts that hold {delimiter!r}"
                )
            yield f"{path}:{reader.line_num}", index, row


def _check_header(path: Path, header: list[str], needed: list[str], delimiter: str) -> None:
    other = "\t" if delimiter == "," else ","
    if len(header) == 1 and other in header[0]:
        kind = "tab-separated" if other == "\t" else "comma-separated"
        raise DataError(
            f"{path}:1: the header is one column {header[0]!r}: the file looks {kind}; name it "
            f"{'.tsv' if other == chr(9) else '.csv'} or set task.format={'tsv' if other == chr(9) else 'csv'}"
        )
    missing = [name for name in needed if name not in header]
    if missing:
        raise DataError(
            f"{path}:1: missing field '{missing[0]}' in the header (columns: {', '.join(header)}); "
            "set the task's *_field settings to your column names"
        )


def _maybe_json(value: Any) -> Any:
    """CSV cells holding JSON lists (tags, entities, answers) are read as JSON."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


# ---------------------------------------------------------------------------------------------
# labels
# ---------------------------------------------------------------------------------------------


class LabelReader:
    """Reads the label of each row: learns class names from the training split, checks the others."""

    def __init__(self, kind: str, field: str, labels: tuple[str, ...] | None = None):
        self.kind, self.field = kind, field
        self.labels: list[str] = list(labels or [])
        self.fixed = labels is not None
        self.first_type: tuple[type, str] | None = None

    def read(self, row: dict, where: str) -> Any:
        value = _maybe_json(row.get(self.field))
        if value is None or value == "":
            raise DataError(f"{where}: missing field '{self.field}' (training and dev rows need a label)")
        if self.kind == REGRESSION:
            try:
                return float(value)
            except (TypeError, ValueError):
                raise DataError(f"{where}: field '{self.field}': {value!r} is not a number (regression)") from None
        if self.kind == MULTILABEL:
            names = value if isinstance(value, list) else [v for v in str(value).split(LABEL_SEPARATOR) if v]
            return sorted({self._index(name, where) for name in names})
        return self._index(value, where)

    def _index(self, value: Any, where: str) -> int:
        if isinstance(value, (dict, list)):
            raise DataError(f"{where}: field '{self.field}': {value!r} is not a class label")
        self._check_type(value, where)
        name = str(value).strip()
        if name not in self.labels:
            if self.fixed:
                shown = ", ".join(self.labels[:_SHOWN]) + (" ..." if len(self.labels) > _SHOWN else "")
                raise DataError(
                    f"{where}: field '{self.field}': unknown label {name!r} (the training file has: {shown})"
                )
            self.labels.append(name)
        return self.labels.index(name)

    def _check_type(self, value: Any, where: str) -> None:
        kind = bool if isinstance(value, bool) else type(value)
        if self.first_type is None:
            self.first_type = (kind, where)
        elif self.first_type[0] is not kind:
            raise DataError(
                f"{where}: field '{self.field}': mixed label types ({kind.__name__} here, "
                f"{self.first_type[0].__name__} at {self.first_type[1]})"
            )

    def freeze(self) -> tuple[str, ...]:
        """The class names, in order of first appearance in the training file; later splits may not add any."""
        self.fixed = True
        return tuple(self.labels)


# ---------------------------------------------------------------------------------------------
# examples of each kind
# ---------------------------------------------------------------------------------------------


def _classification(row: dict, where: str, index: int, s, label) -> ClassificationExample:
    text_a = text_field(row, s.text_field, where, allow_empty=False)
    text_b = text_field(row, s.text_pair_field, where, allow_empty=False) if s.kind == "pair" else None
    return ClassificationExample(row_id(row, index), text_a, text_b, label)


def _tagging(row: dict, where: str, index: int, s, labelled: bool, types: set) -> TaggingExample:
    text = text_field(row, s.text_field, where, allow_empty=False)
    entities = []
    if labelled:
        value = _maybe_json(row.get(s.label_field))
        if isinstance(value, str):
            value = value.split()
        if not isinstance(value, list):
            raise DataError(f"{where}: missing field '{s.label_field}' (per-character tags or entity spans)")
        entities = (
            _tags_to_entities(value, text, where, s.label_field)
            if all(isinstance(v, str) for v in value)
            else _spans_to_entities(value, text, where, s.label_field)
        )
        types.update(kind for kind, _, _ in entities)
    return TaggingExample(row_id(row, index), text, entities)


def _tags_to_entities(tags: list[str], text: str, where: str, field_name: str) -> list:
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


def _spans_to_entities(spans: list, text: str, where: str, field_name: str) -> list:
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


def _span(row: dict, where: str, index: int, s, labelled: bool, training: bool) -> SpanExample:
    context = text_field(row, s.context_field, where, allow_empty=False)
    question = text_field(row, s.question_field, where, allow_empty=False)
    answers, start = [], None
    if labelled:
        raw = _maybe_json(row.get(s.answers_field))
        if isinstance(raw, dict):  # {"text": [...], "answer_start": [...]}
            texts, starts = strings_field(raw.get("text"), f"{s.answers_field}.text", where), raw.get("answer_start")
            starts = starts if isinstance(starts, list) else [starts]
        elif isinstance(raw, list) and raw and all(isinstance(a, dict) for a in raw):
            texts = [text_field(a, "text", f"{where}: {s.answers_field}") for a in raw]
            starts = [a.get("answer_start") for a in raw]
        else:
            raise DataError(f"{where}: missing field '{s.answers_field}' ({{text, answer_start}} lists or objects)")
        if not texts:
            raise DataError(f"{where}: field '{s.answers_field}' is empty")
        answers = texts
        if training:
            start = check_span_answer(context, texts[0], starts[0] if starts else None, where)
    return SpanExample(str(row_id(row, index)), question, context, answers, start)


def _choice(row: dict, where: str, index: int, s, label_reader, labelled: bool) -> ChoiceExample:
    context = text_field(row, s.text_field, where, allow_empty=False)
    question = row.get(s.text_pair_field)
    choices = (
        strings_field(_maybe_json(row.get(s.choices_field)), s.choices_field, where)
        if row.get(s.choices_field) is not None
        else None
    )
    if not choices:
        raise DataError(f"{where}: missing field '{s.choices_field}' (a list of choices)")
    pairs = [(context, f"{question} {c}" if isinstance(question, str) and question else c) for c in choices]
    label = None
    if labelled:
        value = _maybe_json(row.get(s.label_field))
        if isinstance(value, str) and value in choices:
            label = choices.index(value)
        elif isinstance(value, (int, str)) and str(value).lstrip("-").isdigit() and 0 <= int(value) < len(choices):
            label = int(value)
        else:
            raise DataError(f"{where}: field '{s.label_field}': {value!r} is neither a choice nor its index")
    return ChoiceExample(row_id(row, index), pairs, len(choices), label)


# ---------------------------------------------------------------------------------------------
# splits and the task
# ---------------------------------------------------------------------------------------------


def _needed(s, kind: str) -> list[str]:
    if kind == SPAN:
        return [s.context_field, s.question_field]
    if kind == MULTIPLE_CHOICE:
        return [s.text_field, s.choices_field]
    return [s.text_field] + ([s.text_pair_field] if s.kind == "pair" else [])


def _has_labels(path: Path, s, kind: str) -> bool:
    """Whether a test file carries labels: every row, or none (prediction only); a mix is an error."""
    field_name = s.answers_field if kind == SPAN else s.label_field
    first_without = first_with = None
    for where, _, row in iter_rows(path, s.format, _needed(s, kind)):
        if row.get(field_name) not in (None, ""):
            first_with = first_with or where
        else:
            first_without = first_without or where
        if first_with and first_without:
            raise DataError(
                f"{first_without}: missing field '{field_name}' while {first_with} has one: give every "
                "row a label, or none (prediction only)"
            )
    return first_without is None and first_with is not None


def read_file_split(path: Path, name: str, s, kind: str, labels: LabelReader, types: set) -> Split:
    if not path.is_file():
        raise DataError(f"--{name} {path}: no such file")
    labelled = name != "test" or _has_labels(path, s, kind)
    split = Split(name, [path], labelled=labelled)
    reader = kinds.kind(kind).read_file
    if reader is not None and reader(path, split, s):  # a format of the kind's own (correction pairs)
        pass
    elif kind == SPAN and path.suffix == ".json" and _is_squad_document(path):
        _read_cmrc([path], split, labelled, training=name == "train")
    else:
        for where, index, row in iter_rows(path, s.format, _needed(s, kind)):
            example = _example(row, where, index, s, kind, labels, types, labelled, name == "train")
            if isinstance(example, str):  # a row skipped for this reason (correction pairs of different length)
                split.skipped[example] += 1
            else:
                split.examples.append(example)
    if s.limit > 0:
        split.examples = split.examples[: s.limit]
    if not split.examples:
        raise DataError(f"{path}: no examples")
    return split


def _correction(row: dict, where: str, index: int, s, labelled: bool) -> CorrectionExample | str:
    text = text_field(row, s.text_field, where, allow_empty=False)
    target = text_field(row, s.label_field, where, allow_empty=False) if labelled else None
    if target is not None and len(target) != len(text):
        return "corrected text of another length (spelling correction replaces characters one for one)"
    return CorrectionExample(row_id(row, index), text, target)


def _is_squad_document(path: Path) -> bool:
    """A whole-file SQuAD / CMRC 2018 document (``{"data": [...]}``) rather than JSON lines."""
    try:
        document = load_json(path)
    except DataError:
        return False  # JSON lines
    return isinstance(document, dict) and "data" in document


def _example(row, where, index, s, kind, labels, types, labelled, training):
    if kind in (CLASSIFICATION, REGRESSION, MULTILABEL):
        return _classification(row, where, index, s, labels.read(row, where) if labelled else None)
    if kind == TAGGING:
        return _tagging(row, where, index, s, labelled, types)
    if kind == SPAN:
        return _span(row, where, index, s, labelled, training)
    if kind == CORRECTION:
        return _correction(row, where, index, s, labelled)
    return _choice(row, where, index, s, labels, labelled)


def load_file_task(s, name: str = "data") -> TaskData:
    """The task of the settings' own files (``train``, ``dev``, optional ``test``)."""
    kind = USER_KINDS[s.kind]
    labels, types = LabelReader(kind, s.label_field), set()
    splits = {"train": read_file_split(Path(s.train), "train", s, kind, labels, types)}
    label_names = labels.freeze()
    train_types = set(types)
    for split_name in ("dev", "test"):
        if getattr(s, split_name):
            splits[split_name] = read_file_split(Path(getattr(s, split_name)), split_name, s, kind, labels, types)
    unknown = types - train_types
    if unknown:
        raise DataError(f"{s.dev or s.test}: entity type {sorted(unknown)[0]!r} does not occur in {s.train}")
    if kind == TAGGING:
        label_names = tuple(sorted(train_types))
    num_choices = _pad_choices(splits) if kind == MULTIPLE_CHOICE else 0
    files = {k: str(getattr(s, k)) for k in ("train", "dev", "test") if getattr(s, k)}
    return TaskData(name, kind, label_names, MAIN_METRIC[kind], splits, num_choices=num_choices, source=files)


def _pad_choices(splits: dict[str, Split]) -> int:
    """Every example gets as many choices as the longest list (padding choices never win)."""
    most = max(e.num_real for split in splits.values() for e in split.examples)
    for split in splits.values():
        for e in split.examples:
            e.pairs = e.pairs + [(e.pairs[0][0], PAD_CHOICE)] * (most - len(e.pairs))
    return most
