"""The task kinds the runtime scores itself, registered like any other, and the look-ups the runtime uses: a kind
registered by a capability above (``correction``, by :mod:`chinese_ptm.csc`) is found the same way."""

from __future__ import annotations

from typing import Any

from .examples import Split
from .metrics import accuracy, cmrc_scores, entity_scores, macro_f1, multilabel_scores, regression_scores
from .registry import KINDS, TaskKind, kind, preset_loader, register_kind
from .tasks import CLASSIFICATION, MULTILABEL, MULTIPLE_CHOICE, REGRESSION, SPAN, TAGGING, TaskData

__all__ = ["KINDS", "kind", "preset_loader", "task_metrics"]


def _classification(examples: list, predicted: Any) -> dict:
    return {"accuracy": accuracy(predicted, [e.label for e in examples])}


register_kind(TaskKind(CLASSIFICATION, _classification))
register_kind(TaskKind(MULTIPLE_CHOICE, _classification))
register_kind(
    TaskKind(REGRESSION, lambda examples, predicted: regression_scores(predicted, [e.label for e in examples]))
)
register_kind(
    TaskKind(MULTILABEL, lambda examples, predicted: multilabel_scores(predicted, [e.label for e in examples]))
)
register_kind(TaskKind(SPAN, lambda examples, predicted: cmrc_scores(predicted, {e.uid: e.answers for e in examples})))
register_kind(TaskKind(TAGGING, lambda examples, predicted: entity_scores(predicted, [e.entities for e in examples])))


def task_metrics(task: TaskData, predicted: Any, split: Split) -> dict:
    """The task's metrics on a labelled split (x 100 where they are rates); ``score`` is the main one."""
    examples = split.examples
    metrics = kind(task.kind).metrics(examples, predicted)
    if task.kind == CLASSIFICATION:  # macro F1 needs the number of classes, which only the task knows
        metrics["macro_f1"] = macro_f1(predicted, [e.label for e in examples], len(task.labels))
    return {"score": metrics[task.metric], **metrics}
