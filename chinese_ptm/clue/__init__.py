"""CLUE fine-tuning: the task table, readers for the official file formats, metrics, submission files.

``chinese-ptm finetune clue TASK|all --model DIR --data-dir DIR`` fine-tunes a GlyceBERT, original ChineseBERT
or Chinese BERT checkpoint on a CLUE task with the transformers Trainer, evaluates it on dev with the task's
metric and writes the submission file CLUE expects (``tnews11_predict.json`` ...) and ``results.json``.

    from chinese_ptm.clue import run_task
    results = run_task("tnews", "ckpt/", "CLUEdatasets/tnews_public", "runs/tnews", settings={"epochs": "2"})
"""

from .cli import main
from .metrics import (
    accuracy,
    answer_units,
    bios_labels,
    bios_to_spans,
    cmrc_scores,
    entity_scores,
    exact_match,
    span_f1,
    spans_to_bios,
)
from .readers import read_split
from .runner import model_kind, run_all, run_task
from .tasks import TASKS, ClueDataError, HyperParams, TaskSpec, get_task

__all__ = [
    "TASKS",
    "ClueDataError",
    "HyperParams",
    "TaskSpec",
    "accuracy",
    "answer_units",
    "bios_labels",
    "bios_to_spans",
    "cmrc_scores",
    "entity_scores",
    "exact_match",
    "get_task",
    "main",
    "model_kind",
    "read_split",
    "run_all",
    "run_task",
    "span_f1",
    "spans_to_bios",
]
