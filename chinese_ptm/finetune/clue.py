"""CLUE as presets of the fine-tuning runner: the task table, where each task's files are, the submission
files CLUE expects.  [no torch]

Every task is described by data alone (its files, fields, labels, metric, submission file name and default
settings, those of the CLUE baselines); the readers in :mod:`.clue_readers` are chosen by the spec's ``format``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .examples import DataError, Split
from .features import entities_to_label
from .task import ACCURACY, CLASSIFICATION, EM, F1, MULTIPLE_CHOICE, SPAN, TAGGING

TNEWS_LABELS = tuple(str(code) for code in range(100, 117) if code not in (105, 111))
IFLYTEK_LABELS = tuple(str(code) for code in range(119))
NLI_LABELS = ("entailment", "neutral", "contradiction")
CLUENER_TYPES = (
    "address",
    "book",
    "company",
    "game",
    "government",
    "movie",
    "name",
    "organization",
    "position",
    "scene",
)
#: test file names tried in order: CLUE 1.1 ships ``test.json`` (most tasks) or ``test1.1.json`` (C3, ChID)
#: next to the older ``test1.0.json``
TEST_FILES = ("test.json", "test1.1.json", "test1.0.json")
DEV_PREFIX = "dev_"


@dataclass(frozen=True)
class TaskSpec:
    """One CLUE task.

    Attributes:
        name: the task's name on the command line (``tnews``).
        kind: the model head (classification, multiple_choice, span, tagging).
        format: which reader parses its files (``pair``, ``single``, ``wsc``, ``csl``, ``cmrc``, ``chid``, ``c3``,
            ``cluener``).
        folder: the folder name CLUE distributes (``tnews_public``); the bare name is accepted too.
        submission: the file CLUE expects.
        metric: the dev metric.
        settings: the task's default settings (``section.field``: value), those of the CLUE baselines.
        fields: the text fields of a row, in order.
        labels: label strings (classification) or entity types (tagging).
        label_field: the row field holding the label (``label_fallback``: an older spelling).
        skip_labels: labels whose rows are skipped and counted (OCNLI/CMNLI "-": no annotator majority).
        train_files / dev_files / test_files: candidate file names, first found wins; an entry that is a tuple
            names files read one after another (C3's d- and m- halves).
    """

    name: str
    kind: str
    format: str
    folder: str
    submission: str
    metric: str
    settings: dict
    fields: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    label_field: str = "label"
    label_fallback: str | None = None
    skip_labels: tuple[str, ...] = ()
    train_files: tuple = ("train.json",)
    dev_files: tuple = ("dev.json",)
    test_files: tuple = TEST_FILES
    num_choices: int = 0  # multiple choice: choices per example (shorter lists are padded)
    aliases: tuple[str, ...] = field(default=())
    test_labelled: bool = False  # FewCLUE's test_public.json carries labels


def _baseline(lr: float, epochs: float, batch: int, length: int, warmup: float = 0.1, **task) -> dict:
    return {
        "training.learning_rate": lr,
        "training.num_train_epochs": epochs,
        "training.per_device_train_batch_size": batch,
        "training.warmup_steps": warmup,
        "task.max_length": length,
        **{f"task.{k}": v for k, v in task.items()},
    }


# Defaults follow the CLUE baselines (bert-base-chinese scripts of the CLUE repository; CLUENER2020's
# softmax baseline; the C3/ChID/CMRC2018 PyTorch baselines); CMRC 2018 uses 512 tokens as in its paper.
TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            "afqmc",
            CLASSIFICATION,
            "pair",
            "afqmc_public",
            "afqmc_predict.json",
            ACCURACY,
            _baseline(2e-5, 3, 16, 128),
            fields=("sentence1", "sentence2"),
            labels=("0", "1"),
        ),
        TaskSpec(
            "tnews",
            CLASSIFICATION,
            "single",
            "tnews_public",
            "tnews11_predict.json",
            ACCURACY,
            _baseline(2e-5, 3, 16, 128),
            fields=("sentence",),
            labels=TNEWS_LABELS,
        ),
        TaskSpec(
            "iflytek",
            CLASSIFICATION,
            "single",
            "iflytek_public",
            "iflytek_predict.json",
            ACCURACY,
            _baseline(2e-5, 3, 16, 128),
            fields=("sentence",),
            labels=IFLYTEK_LABELS,
        ),
        TaskSpec(
            "ocnli",
            CLASSIFICATION,
            "pair",
            "ocnli_public",
            "ocnli_50k_predict.json",
            ACCURACY,
            _baseline(3e-5, 2, 16, 128),
            fields=("sentence1", "sentence2"),
            labels=NLI_LABELS,
            skip_labels=("-",),
            train_files=("train.50k.json", "train.json"),
        ),
        TaskSpec(
            "cmnli",
            CLASSIFICATION,
            "pair",
            "cmnli_public",
            "cmnli_predict.json",
            ACCURACY,
            _baseline(3e-5, 2, 16, 128),
            fields=("sentence1", "sentence2"),
            labels=NLI_LABELS,
            label_fallback="gold_label",
            skip_labels=("-",),
        ),
        TaskSpec(
            "cluewsc2020",
            CLASSIFICATION,
            "wsc",
            "cluewsc2020_public",
            "cluewsc11_predict.json",
            ACCURACY,
            _baseline(2e-5, 50, 8, 128),
            fields=("text",),
            labels=("true", "false"),
            aliases=("wsc", "cluewsc"),
        ),
        TaskSpec(
            "csl",
            CLASSIFICATION,
            "csl",
            "csl_public",
            "csl_predict.json",
            ACCURACY,
            _baseline(1e-5, 3, 4, 256),
            fields=("keyword", "abst"),
            labels=("0", "1"),
        ),
        TaskSpec(
            "cmrc2018",
            SPAN,
            "cmrc",
            "cmrc2018_public",
            "cmrc2018_predict.json",
            EM,
            _baseline(3e-5, 2, 32, 512, stride=128),
            aliases=("cmrc",),
        ),
        TaskSpec(
            "chid",
            MULTIPLE_CHOICE,
            "chid",
            "chid_public",
            "chid11_predict.json",
            ACCURACY,
            _baseline(2e-5, 3, 24, 64, warmup=0.06),
            num_choices=10,
        ),
        TaskSpec(
            "c3",
            MULTIPLE_CHOICE,
            "c3",
            "c3_public",
            "c311_predict.json",
            ACCURACY,
            _baseline(2e-5, 8, 16, 512, warmup=0.05),
            train_files=(("d-train.json", "m-train.json"), "train.json"),
            dev_files=(("d-dev.json", "m-dev.json"), "dev.json"),
            test_files=("test1.1.json", "test.json", "test1.0.json", ("d-test.json", "m-test.json")),
            num_choices=4,
        ),
        TaskSpec(
            "cluener",
            TAGGING,
            "cluener",
            "cluener_public",
            "cluener_predict.json",
            F1,
            _baseline(3e-5, 4, 24, 128),
            labels=CLUENER_TYPES,
            aliases=("cluener2020",),
        ),
    )
}


def _fewclue(name: str, format_: str, fields: tuple[str, ...], labels: tuple[str, ...]) -> TaskSpec:
    """A FewCLUE task: CLUE's fields, few-shot files (``train_few_all.json`` or the first of the 5 splits) and a
    labelled public test set."""
    return TaskSpec(
        f"fewclue:{name}",
        CLASSIFICATION,
        format_,
        name,
        f"{name}f_predict.json",
        ACCURACY,
        _baseline(2e-5, 10, 8, 128),
        fields=fields,
        labels=labels,
        train_files=("train_few_all.json", "train_0.json"),
        dev_files=("dev_few_all.json", "dev_0.json"),
        test_files=("test_public.json",),
        test_labelled=True,
    )


#: FewCLUE (few-shot CLUE) tasks that are single-label classification, as presets ``fewclue:NAME``
FEWCLUE_TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        _fewclue("eprstmt", "single", ("sentence",), ("Positive", "Negative")),
        _fewclue("tnews", "single", ("sentence",), TNEWS_LABELS),
        _fewclue("bustm", "pair", ("sentence1", "sentence2"), ("0", "1")),
        _fewclue("ocnli", "pair", ("sentence1", "sentence2"), NLI_LABELS),
    )
}


def get_task(name: str) -> TaskSpec:
    """The spec of a task by name or alias (case-insensitive); ``fewclue:NAME`` names a FewCLUE task."""
    key = name.strip().lower()
    if key.startswith("fewclue:"):
        if key in FEWCLUE_TASKS:
            return FEWCLUE_TASKS[key]
        raise DataError(f"unknown FewCLUE task {name!r}; known: {', '.join(FEWCLUE_TASKS)}")
    key = key.removeprefix("clue:")
    if key in TASKS:
        return TASKS[key]
    for spec in TASKS.values():
        if key in spec.aliases or key == spec.folder:
            return spec
    raise DataError(f"unknown CLUE task {name!r}; known: {', '.join(TASKS)} (or 'all')")


def task_dir(spec: TaskSpec, parent: str | Path) -> Path | None:
    """The task's folder under ``parent`` (``tnews_public``, ``tnews`` or an alias), or None."""
    parent = Path(parent)
    for name in (spec.folder, spec.name, *spec.aliases):
        for candidate in (parent / name, parent / name.upper()):
            if candidate.is_dir():
                return candidate
    return None


def find_split_files(spec: TaskSpec, directory: str | Path, split: str) -> list[Path] | None:
    """The files of one split (``train``, ``dev``, ``test``): the first candidate whose files all exist."""
    directory = Path(directory)
    for candidate in {"train": spec.train_files, "dev": spec.dev_files, "test": spec.test_files}[split]:
        paths = [directory / name for name in (candidate if isinstance(candidate, tuple) else (candidate,))]
        if all(p.is_file() for p in paths):
            return paths
    return None


def candidate_names(spec: TaskSpec, split: str) -> str:
    """The file names tried for a split, for error messages."""
    candidates = {"train": spec.train_files, "dev": spec.dev_files, "test": spec.test_files}[split]
    return " or ".join("+".join(c) if isinstance(c, tuple) else c for c in candidates)


def resolve_task_dir(spec: TaskSpec, data_dir: str | Path) -> Path:
    """``data_dir`` itself when it holds the task's files, else its ``<task>_public`` (or ``<task>``) folder."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"--data-dir {data_dir}: no such directory")
    if find_split_files(spec, data_dir, "train") is not None:
        return data_dir
    return task_dir(spec, data_dir) or data_dir  # reading reports the missing files


def tasks_under(parent: str | Path) -> list[tuple[TaskSpec, Path]]:
    """The tasks whose folder exists under ``parent``, in the task table's order."""
    parent = Path(parent)
    if not parent.is_dir():
        raise DataError(f"--data-dir {parent}: no such directory")
    present = [(spec, d) for spec in TASKS.values() if (d := task_dir(spec, parent)) is not None]
    if not present:
        names = ", ".join(spec.folder for spec in TASKS.values())
        raise DataError(f"{parent}: no CLUE task folder found (looked for {names}, or the bare task names)")
    return present


def submission(spec: TaskSpec, predicted, split: Split) -> list | dict:
    """The submission content: rows (JSON lines) or one object, in the file's order."""

    examples = split.examples
    if spec.kind == CLASSIFICATION:
        return [{"id": e.uid, "label": spec.labels[p]} for e, p in zip(examples, predicted)]
    if spec.format == "chid":
        return {e.uid: int(p) for e, p in zip(examples, predicted)}
    if spec.kind == MULTIPLE_CHOICE:
        return [{"id": e.uid, "label": int(p)} for e, p in zip(examples, predicted)]
    if spec.kind == SPAN:
        return {e.uid: predicted[e.uid] for e in examples}
    return [{"id": e.uid, "label": entities_to_label(e.text, entities)} for e, entities in zip(examples, predicted)]


def write_submission(content: list | dict, path: Path) -> Path:
    """One JSON object, or one JSON line per row (UTF-8, characters as they are)."""
    with open(path, "w", encoding="utf-8") as handle:
        if isinstance(content, dict):
            json.dump(content, handle, ensure_ascii=False)
            handle.write("\n")
        else:
            for row in content:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path
