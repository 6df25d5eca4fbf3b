"""The user's own data: JSON lines, CSV or TSV files (SQuAD-style JSON for span tasks) read as examples.  [no torch]

Fields are named in the task settings (``text_field``, ``text_pair_field``, ``label_field`` ...). Class labels
come from the training file and are kept with the model; a dev or test label the training file lacks, a
missing field, an empty text, a span outside its text, label types that differ between rows or a CSV read
with the wrong delimiter stop with one line naming file, line and field. A test file without labels is read
for prediction only.
"""

from __future__ import annotations

from pathlib import Path

from . import registry
from .examples import DataError, Split
from .rows import LabelReader, RowContext, iter_rows
from .task import TaskData


def _has_labels(path: Path, s, kind: registry.TaskKind) -> bool:
    """Whether a test file carries labels: every row, or none (prediction only); a mix is an error."""
    field_name = kind.label_field(s)
    first_without = first_with = None
    for where, _, row in iter_rows(path, s.format, kind.needed_fields(s)):
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
    """One split of the user's file: the kind's own format when it has one and the file is of it, else rows."""
    if not path.is_file():
        raise DataError(f"--{name} {path}: no such file")
    task_kind = registry.kind(kind)
    split = Split(name, [path])
    if not task_kind.read_file(path, split, s):  # a format of the kind's own (pairs files) says itself
        split.labelled = labelled = name != "test" or _has_labels(path, s, task_kind)
        context = RowContext(labels, types, labelled, training=name == "train")
        for where, index, row in iter_rows(path, s.format, task_kind.needed_fields(s)):
            example = task_kind.read_example(row, where, index, s, context)
            if isinstance(example, str):  # a row skipped for this reason (correction pairs of different length)
                split.skipped[example] += 1
            else:
                split.examples.append(example)
        split.skipped.update(context.notes)
    if s.limit > 0:
        split.examples = split.examples[: s.limit]
    if not split.examples:
        raise DataError(f"{path}: no examples")
    return split


def load_file_task(s, name: str = "data") -> TaskData:
    """The task of the settings' own files (``train``, ``dev``, optional ``test``)."""
    kind = registry.user_kind(s.kind)
    labels, types = LabelReader(s.label_field), set()
    splits = {"train": read_file_split(Path(s.train), "train", s, kind.name, labels, types)}
    label_names = labels.freeze()
    train_types = set(types)
    for split_name in ("dev", "test"):
        if getattr(s, split_name):
            path = Path(getattr(s, split_name))
            splits[split_name] = read_file_split(path, split_name, s, kind.name, labels, types)
    unknown = types - train_types
    if unknown:
        raise DataError(f"{s.dev or s.test}: entity type {sorted(unknown)[0]!r} does not occur in {s.train}")
    label_names, num_choices = kind.finish_task(splits, label_names, train_types)
    files = {k: str(getattr(s, k)) for k in ("train", "dev", "test") if getattr(s, k)}
    return TaskData(name, kind.name, label_names, kind.main_metric, splits, num_choices=num_choices, source=files)
