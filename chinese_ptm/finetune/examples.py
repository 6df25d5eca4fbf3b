"""Examples of the task shapes, splits, and the checked access to JSON rows every reader uses.  [no torch]

Readers of CLUE files, of the user's own files and of the embedded tasks all produce these examples; bad input
raises :class:`DataError` naming the file, the line (or JSON path) and the field.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..data.encoding import open_text, read_text
from ..errors import UserError
from .metrics import Entity  # noqa: F401 - re-exported: (type, first character, last character inclusive)

#: text of a padding choice when an example has fewer choices than the model sees ("invalid answer")
PAD_CHOICE = "无效答案"


class DataError(UserError, ValueError):
    """A data file that cannot be read as its task's format; the message names file, line and field."""


@dataclass
class ClassificationExample:
    """Single texts and pairs: ``label`` is a label index (classification), a float (regression), a list of
    label indices (multi-label) or None (unlabelled test rows)."""

    uid: Any  # the id written to predictions and submissions
    text_a: str
    text_b: str | None
    label: Any


@dataclass
class ChoiceExample:
    uid: Any
    pairs: list[tuple[str, str | None]]  # one (first, second) text pair per choice, padded to num_choices
    num_real: int  # choices before padding
    label: int | None


@dataclass
class SpanExample:
    uid: str  # the question id
    question: str
    context: str
    answers: list[str]  # gold answer texts (train: one; dev: several; test: none)
    answer_start: int | None  # character offset of answers[0] in the context (training)


@dataclass
class TaggingExample:
    uid: Any
    text: str
    entities: list[Entity]  # (type, start, end inclusive), characters


@dataclass
class CorrectionExample:
    uid: Any
    text: str  # as typed
    target: str | None  # the same text corrected (same length), None for unlabelled rows


@dataclass
class Seq2SeqExample:
    uid: Any
    source: str
    target: str | None  # None for unlabelled rows


@dataclass
class Split:
    """One split of a task: its examples, the files read and what was skipped (reason -> count)."""

    name: str
    files: list[Path]
    examples: list = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    labelled: bool = True


# ---------------------------------------------------------------------------------------------
# checked access
# ---------------------------------------------------------------------------------------------


def iter_json_lines(path: Path) -> Iterator[tuple[int, int, dict]]:
    """``(line_number, row_index, object)`` of a JSON-lines file; blank lines are ignored."""
    row = 0
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(
                    f"{path}:{number}: malformed JSON line ({err.msg} at column {err.colno}); "
                    "each line must be one JSON object"
                ) from None
            if not isinstance(value, dict):
                raise DataError(f"{path}:{number}: expected a JSON object, got {type(value).__name__}")
            yield number, row, value
            row += 1


def load_json(path: Path) -> Any:
    """A whole-file JSON document (CMRC 2018 / SQuAD, C3, ChID answers)."""
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{err.lineno}: malformed JSON ({err.msg} at column {err.colno})") from None


def text_field(row: dict, name: str, where: str, allow_empty: bool = True) -> str:
    if name not in row or row[name] is None:
        raise DataError(f"{where}: missing field '{name}'")
    value = row[name]
    if not isinstance(value, str):
        raise DataError(f"{where}: field '{name}' must be a string, not {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise DataError(f"{where}: field '{name}' is empty")
    return value


def list_field(container: dict, name: str, where: str) -> list:
    if not isinstance(container, dict) or name not in container:
        raise DataError(f"{where}: missing field '{name}'")
    value = container[name]
    if not isinstance(value, list):
        raise DataError(f"{where}: field '{name}' must be a list, not {type(value).__name__}")
    return value


def strings_field(value: Any, name: str, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{where}: field '{name}' must be a list of strings")
    return value


def row_id(row: dict, index: int) -> Any:
    """The id a prediction row carries: the row's ``id`` (or ``idx``), else its index in the file."""
    for key in ("id", "idx"):
        if key in row and row[key] is not None:
            return row[key]
    return index


def check_entity(text: str, start: Any, end: Any, where: str, field_name: str, surface: str | None = None) -> None:
    """An entity span ``[start, end]`` (end inclusive) must lie inside the text (and read ``surface``)."""
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
        raise DataError(f"{where}: field '{field_name}': [{start!r}, {end!r}] is not [start, end]")
    if not 0 <= start <= end < len(text):
        raise DataError(
            f"{where}: field '{field_name}': span [{start}, {end}] lies outside the text "
            f"({len(text)} characters; ends are inclusive)"
        )
    if surface is not None and text[start : end + 1] != surface:
        raise DataError(
            f"{where}: field '{field_name}': the text at [{start}, {end}] reads "
            f"{text[start : end + 1]!r}, not {surface!r}"
        )


def check_span_answer(context: str, answer: str, start: Any, where: str) -> int:
    """A training answer must occur at its ``answer_start``."""
    if not isinstance(start, int) or isinstance(start, bool):
        raise DataError(f"{where}: field 'answers[0].answer_start' must be an integer")
    found = context[start : start + len(answer)]
    if found != answer or start < 0:
        raise DataError(
            f"{where}: field 'answers[0].answer_start': answer {answer!r} does not occur at {start} "
            f"(the context there reads {found!r})"
        )
    return start


def sample_shots(labels: list[int], shots: int, seed: int) -> list[int]:
    """Indices of ``shots`` examples per class (all of a class that has fewer), drawn with ``seed``, in their
    original order: the same seed draws the same examples."""
    by_class: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        by_class.setdefault(label, []).append(index)
    rng = random.Random(seed)
    chosen = [i for label in sorted(by_class) for i in rng.sample(by_class[label], min(shots, len(by_class[label])))]
    return sorted(chosen)
