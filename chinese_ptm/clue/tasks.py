"""The CLUE task table: one :class:`TaskSpec` per task, and the typed fine-tuning hyper-parameters.

Every task is described by data alone (its files, fields, labels, metric, submission file name and default
hyper-parameters); the readers, encoders and writers are chosen by the spec's ``format`` and ``kind``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

#: kinds of model head a task needs
CLASSIFICATION = "classification"
MULTIPLE_CHOICE = "multiple_choice"
SPAN = "span"
TAGGING = "tagging"

#: metric names
ACCURACY = "accuracy"
EM_F1 = "em"  # CMRC 2018 reports EM (main) and F1
ENTITY_F1 = "f1"

TNEWS_LABELS = tuple(str(code) for code in range(100, 117) if code not in (105, 111))
IFLYTEK_LABELS = tuple(str(code) for code in range(119))
NLI_LABELS = ("entailment", "neutral", "contradiction")
CLUENER_TYPES = (
    "address", "book", "company", "game", "government", "movie", "name", "organization", "position", "scene",
)
#: test file names tried in order: CLUE 1.1 ships ``test.json`` (most tasks) or ``test1.1.json`` (C3, ChID)
#: next to the older ``test1.0.json``
TEST_FILES = ("test.json", "test1.1.json", "test1.0.json")


class ClueDataError(ValueError):
    """A CLUE data file that cannot be read as its task's format; the message names file, line and field."""


@dataclass
class HyperParams:
    """Fine-tuning settings of one run; every field can be set with ``--set name=value``."""

    lr: float = 2e-5
    epochs: float = 3.0
    batch_size: int = 16  # per device
    eval_batch_size: int = 0  # per device; 0 = 2 x batch_size
    max_length: int = 128  # capped at the model's max_position_embeddings
    grad_accum: int = 1
    warmup: float = 0.1  # a ratio of the training steps when < 1, else a number of steps
    weight_decay: float = 0.01
    lr_scheduler: str = "linear"
    seed: int = 42
    max_steps: int = -1  # > 0 overrides epochs
    logging_steps: int = 50
    fp16: bool = False  # ignored on CPU
    bf16: bool = False  # ignored on CPU
    limit: int = 0  # use only the first N examples of each split (0 = all): for smoke tests
    # span extraction (CMRC 2018)
    stride: int = 128  # tokens shared by consecutive windows over a long context
    max_query_length: int = 64  # characters of the question kept
    max_answer_length: int = 50  # tokens of a predicted answer at most
    n_best: int = 20  # start and end candidates tried per window

    def replace(self, **changes) -> "HyperParams":
        return dataclasses.replace(self, **changes)


#: accepted spellings of HyperParams fields in ``--set``
HYPERPARAM_ALIASES = {
    "learning_rate": "lr",
    "num_train_epochs": "epochs",
    "num_epochs": "epochs",
    "per_device_train_batch_size": "batch_size",
    "train_batch_size": "batch_size",
    "max_seq_length": "max_length",
    "gradient_accumulation_steps": "grad_accum",
    "warmup_steps": "warmup",
    "warmup_ratio": "warmup",
    "doc_stride": "stride",
}


def parse_hyperparams(values: dict[str, str], base: HyperParams) -> HyperParams:
    """``base`` with ``{name: text}`` applied; unknown names and unparsable values raise ValueError."""
    fields = {f.name: f for f in dataclasses.fields(HyperParams)}
    changes: dict = {}
    for raw_name, text in values.items():
        name = HYPERPARAM_ALIASES.get(raw_name, raw_name)
        if name not in fields:
            raise ValueError(f"--set {raw_name}: unknown setting; known: {', '.join(sorted(fields))}")
        kind = type(getattr(base, name))
        try:
            if kind is bool:
                lowered = text.strip().lower()
                if lowered not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError(text)
                value = lowered in ("1", "true", "yes")
            elif kind is int:
                number = float(text)  # accepts "1e3"
                if not number.is_integer():
                    raise ValueError(text)
                value = int(number)
            else:
                value = kind(text)
        except ValueError:
            raise ValueError(f"--set {raw_name}={text}: expected {kind.__name__}") from None
        changes[name] = value
    return base.replace(**changes)


@dataclass(frozen=True)
class TaskSpec:
    """One CLUE task.

    Attributes:
        name: the task's name on the command line (``tnews``).
        kind: the model head (classification, multiple_choice, span, tagging).
        format: which reader parses its files (``pair``, ``single``, ``wsc``, ``csl``, ``cmrc``, ``chid``, ``c3``,
            ``cluener``).
        folder: the folder name CLUE distributes (``tnews_public``); the bare name is accepted too.
        fields: the text fields of a row, in order.
        labels: label strings (classification) or entity types (tagging).
        label_field: the row field holding the label (``label_fallback``: an older spelling).
        skip_labels: labels whose rows are skipped and counted (OCNLI/CMNLI "-": no annotator majority).
        metric: the dev metric.
        submission: the file CLUE expects.
        train_files / dev_files / test_files: candidate file names, first found wins; an entry that is a tuple
            names files read one after another (C3's d- and m- halves).
        defaults: the task's default hyper-parameters (the CLUE baselines' settings).
    """

    name: str
    kind: str
    format: str
    folder: str
    submission: str
    metric: str
    defaults: HyperParams
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


def _hp(**values) -> HyperParams:
    return HyperParams(**values)


# Defaults follow the CLUE baselines (bert-base-chinese scripts of the CLUE repository; CLUENER2020's
# softmax baseline; the C3/ChID/CMRC2018 PyTorch baselines); CMRC 2018 uses 512 tokens as in its paper.
TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec("afqmc", CLASSIFICATION, "pair", "afqmc_public", "afqmc_predict.json", ACCURACY,
                 _hp(lr=2e-5, epochs=3, batch_size=16, max_length=128),
                 fields=("sentence1", "sentence2"), labels=("0", "1")),
        TaskSpec("tnews", CLASSIFICATION, "single", "tnews_public", "tnews11_predict.json", ACCURACY,
                 _hp(lr=2e-5, epochs=3, batch_size=16, max_length=128),
                 fields=("sentence",), labels=TNEWS_LABELS),
        TaskSpec("iflytek", CLASSIFICATION, "single", "iflytek_public", "iflytek_predict.json", ACCURACY,
                 _hp(lr=2e-5, epochs=3, batch_size=16, max_length=128),
                 fields=("sentence",), labels=IFLYTEK_LABELS),
        TaskSpec("ocnli", CLASSIFICATION, "pair", "ocnli_public", "ocnli_50k_predict.json", ACCURACY,
                 _hp(lr=3e-5, epochs=2, batch_size=16, max_length=128),
                 fields=("sentence1", "sentence2"), labels=NLI_LABELS, skip_labels=("-",),
                 train_files=("train.50k.json", "train.json")),
        TaskSpec("cmnli", CLASSIFICATION, "pair", "cmnli_public", "cmnli_predict.json", ACCURACY,
                 _hp(lr=3e-5, epochs=2, batch_size=16, max_length=128),
                 fields=("sentence1", "sentence2"), labels=NLI_LABELS, label_fallback="gold_label",
                 skip_labels=("-",)),
        TaskSpec("cluewsc2020", CLASSIFICATION, "wsc", "cluewsc2020_public", "cluewsc11_predict.json", ACCURACY,
                 _hp(lr=2e-5, epochs=50, batch_size=8, max_length=128),
                 fields=("text",), labels=("true", "false"), aliases=("wsc", "cluewsc")),
        TaskSpec("csl", CLASSIFICATION, "csl", "csl_public", "csl_predict.json", ACCURACY,
                 _hp(lr=1e-5, epochs=3, batch_size=4, max_length=256),
                 fields=("keyword", "abst"), labels=("0", "1")),
        TaskSpec("cmrc2018", SPAN, "cmrc", "cmrc2018_public", "cmrc2018_predict.json", EM_F1,
                 _hp(lr=3e-5, epochs=2, batch_size=32, max_length=512, stride=128, warmup=0.1),
                 aliases=("cmrc",)),
        TaskSpec("chid", MULTIPLE_CHOICE, "chid", "chid_public", "chid11_predict.json", ACCURACY,
                 _hp(lr=2e-5, epochs=3, batch_size=24, max_length=64, warmup=0.06),
                 num_choices=10),
        TaskSpec("c3", MULTIPLE_CHOICE, "c3", "c3_public", "c311_predict.json", ACCURACY,
                 _hp(lr=2e-5, epochs=8, batch_size=16, max_length=512, warmup=0.05),
                 train_files=(("d-train.json", "m-train.json"), "train.json"),
                 dev_files=(("d-dev.json", "m-dev.json"), "dev.json"),
                 test_files=("test1.1.json", "test.json", "test1.0.json", ("d-test.json", "m-test.json")),
                 num_choices=4),
        TaskSpec("cluener", TAGGING, "cluener", "cluener_public", "cluener_predict.json", ENTITY_F1,
                 _hp(lr=3e-5, epochs=4, batch_size=24, max_length=128),
                 labels=CLUENER_TYPES, aliases=("cluener2020",)),
    )
}


def get_task(name: str) -> TaskSpec:
    """The spec of a task by name or alias (case-insensitive)."""
    key = name.strip().lower()
    if key in TASKS:
        return TASKS[key]
    for spec in TASKS.values():
        if key in spec.aliases or key == spec.folder:
            return spec
    raise ValueError(f"unknown CLUE task {name!r}; known: {', '.join(TASKS)} (or 'all')")


def task_dir(spec: TaskSpec, parent: str | Path) -> Path | None:
    """The task's folder under ``parent`` (``tnews_public``, ``tnews`` or an alias), or None."""
    parent = Path(parent)
    for name in (spec.folder, spec.name, *spec.aliases):
        for candidate in (parent / name, parent / name.upper()):
            if candidate.is_dir():
                return candidate
    return None


def looks_like_task_dir(spec: TaskSpec, directory: str | Path) -> bool:
    """Whether ``directory`` itself holds the task's training file(s)."""
    return find_split_files(spec, directory, "train") is not None


def find_split_files(spec: TaskSpec, directory: str | Path, split: str) -> list[Path] | None:
    """The files of one split (``train``, ``dev``, ``test``): the first candidate whose files all exist."""
    directory = Path(directory)
    candidates = {"train": spec.train_files, "dev": spec.dev_files, "test": spec.test_files}[split]
    for candidate in candidates:
        names = candidate if isinstance(candidate, tuple) else (candidate,)
        paths = [directory / name for name in names]
        if all(p.is_file() for p in paths):
            return paths
    return None


def candidate_names(spec: TaskSpec, split: str) -> str:
    """The file names tried for a split, for error messages."""
    candidates = {"train": spec.train_files, "dev": spec.dev_files, "test": spec.test_files}[split]
    return " or ".join("+".join(c) if isinstance(c, tuple) else c for c in candidates)
