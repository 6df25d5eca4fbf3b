"""The names of task kinds and metrics, and :class:`TaskData`: what a fine-tuning run trains and evaluates on.  [no torch]"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .examples import Split

#: kinds of model head
CLASSIFICATION = "classification"
REGRESSION = "regression"
MULTILABEL = "multilabel"
MULTIPLE_CHOICE = "multiple_choice"
SPAN = "span"
TAGGING = "tagging"
CORRECTION = "correction"  # spelling correction: the right character at every position
SEQ2SEQ = "seq2seq"  # a generated text

#: metric names (x 100 except pearson/spearman/mse)
ACCURACY = "accuracy"
EM = "em"  # CMRC 2018 reports EM (main) and F1
F1 = "f1"
PEARSON = "pearson"
MICRO_F1 = "micro_f1"
CORRECTION_F1 = "correction_f1"  # sentence-level correction F1 (chinese_ptm.csc.metrics)
CHAR_ACCURACY = "char_accuracy"  # generated text: characters right at their position (finetune.metrics)


@dataclass
class TaskData:
    """A task ready to run: its kind, label names, main metric and read splits (``train``, ``dev``, ``test``).

    ``labels`` are class names (classification, multi-label), entity types (tagging) or empty. ``clue`` is the
    CLUE task spec when the task is a CLUE preset (its submission files are written too).
    """

    name: str
    kind: str
    labels: tuple[str, ...]
    metric: str
    splits: dict[str, Split]
    num_choices: int = 0
    clue: Any = None
    source: dict = field(default_factory=dict)  # where the data came from, for results.json

    @property
    def num_labels(self) -> int:
        if self.kind == REGRESSION:
            return 1
        if self.kind == MULTIPLE_CHOICE:
            return 1
        return len(self.labels)

    @property
    def problem_type(self) -> str | None:
        return {
            CLASSIFICATION: "single_label_classification",
            REGRESSION: "regression",
            MULTILABEL: "multi_label_classification",
        }.get(self.kind)
