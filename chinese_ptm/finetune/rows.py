"""Rows of the user's files: JSON lines, CSV or TSV read as dicts, and the labels in them.  [no torch]

A missing field, a CSV read with the wrong delimiter, an unknown label or label types that differ between rows
stop with one line naming file, line and field.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..data.encoding import open_text
from .examples import DataError, iter_json_lines

#: what a label cell holds: one class, a number (regression), several classes (multi-label)
CLASS, NUMBER, CLASSES = "class", "number", "classes"
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
    with open_text(path) as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        try:
            yield from _csv_rows(path, reader, needed, delimiter)
        except csv.Error as err:  # e.g. a quote never closed runs a cell past the field limit
            raise DataError(
                f"{path}:{reader.line_num}: unreadable {fmt.upper()} ({err}); check the quotes of this row"
            ) from None


def _csv_rows(path: Path, reader: csv.DictReader, needed: list[str], delimiter: str):
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


def maybe_json(value: Any) -> Any:
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

    def __init__(self, field: str, labels: tuple[str, ...] | None = None):
        self.field = field
        self.labels: list[str] = list(labels or [])
        self.fixed = labels is not None
        self.first_type: tuple[type, str] | None = None

    def read(self, row: dict, where: str, value_type: str = CLASS) -> Any:
        """The row's label as ``value_type``: a class index, a number or a sorted list of class indices."""
        value = maybe_json(row.get(self.field))
        if value is None or value == "":
            raise DataError(f"{where}: missing field '{self.field}' (training and dev rows need a label)")
        if value_type == NUMBER:
            try:
                return float(value)
            except (TypeError, ValueError):
                raise DataError(f"{where}: field '{self.field}': {value!r} is not a number (regression)") from None
        if value_type == CLASSES:
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


@dataclass
class RowContext:
    """What reading one row needs besides the row: the split's label reader, the entity types seen so far,
    whether the split carries labels, and whether it is the training split."""

    labels: LabelReader
    types: set = field(default_factory=set)
    labelled: bool = True
    training: bool = False
    notes: Counter = field(default_factory=Counter)  # rows kept but changed (reason -> count), reported as skips are
