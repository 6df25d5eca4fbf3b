"""``chinese-ptm predict --model DIR --input FILE``: a saved fine-tuned model on new data.

The model directory is one written by ``chinese-ptm finetune`` (``OUTPUT_DIR/model``): ``task.json`` says
how to rebuild the model and read the input (the fields it was trained with; ``--set task.text_field=...``
changes them). The input is read like a test file: labels are optional, and when present the task's
metrics are printed. Predictions are JSON lines: the row's id and the prediction (label, labels, value,
answer, choice or entities with their text and character offsets, end exclusive).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import SettingsError, UserError
from ..runtime.config import fill
from ..runtime.loading import load_pretrained, load_tokenizer_for, model_class
from . import registry
from .config import TaskSection
from .examples import Split
from .features import Encoder, PaddingCollator, decode, logits_of
from .files import read_file_split
from .model import ENCODERS, build_task_model, head_class, task_model
from .registry import task_metrics
from .rows import LabelReader
from .saving import HEAD_FILE, TASK_FILE
from .strategies import add_adapters, load_trained_parameters
from .task import TaskData


def prediction_rows(task: TaskData, predicted: Any, split: Split) -> list[dict]:
    """One JSON-ready row per example."""
    kind = registry.kind(task.kind)
    return [
        kind.prediction_row(task, example, kind.prediction_of(predicted, i, example))
        for i, example in enumerate(split.examples)
    ]


def read_task_record(directory: Path) -> dict:
    path = directory / TASK_FILE
    if not path.is_file():
        raise UserError(
            f"--model {directory}: no {TASK_FILE}; give a model saved by `chinese-ptm finetune` (OUTPUT_DIR/model)"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def load_task_model(directory: str | Path):
    """(model, record) of a saved fine-tuned model, ready to predict."""
    from types import SimpleNamespace

    directory = Path(directory)
    record = read_task_record(directory)
    task = TaskData(
        record["task"],
        record["kind"],
        tuple(record["labels"]),
        record["metric"],
        {},
        num_choices=record.get("num_choices", 0),
    )
    method = SimpleNamespace(**record["method"])
    kind = record["checkpoint_kind"]
    fmt = record["format"]
    if fmt in ("lora", "adapters") and record.get("scratch"):
        raise SettingsError(f"{directory}: trained on a randomly initialised base, which cannot be rebuilt")
    if fmt == "standard":
        model = registry.kind(task.kind).saved_model(directory, record) or load_pretrained(
            head_class(kind, task), directory
        )
    elif fmt == "prompt":
        model = registry.method("prompt").build_model(
            method, task.labels, str(directory), kind, load_tokenizer_for(directory, kind)
        )
    elif fmt == "task_model":
        from safetensors.torch import load_file

        model = task_model(load_pretrained(model_class(kind, ENCODERS), directory), task, method)
        model.load_state_dict(load_file(str(directory / HEAD_FILE)), strict=False)
    else:
        base = build_task_model(task, record["base_model"], kind, method)
        if fmt == "lora":
            from peft import PeftModel

            model = PeftModel.from_pretrained(base, str(directory))
        else:
            add_adapters(base, method.adapter_size, method.pooling)
            load_trained_parameters(base, directory)
            model = base
    return model.eval(), record, task


class Predictor:
    """A saved fine-tuned model ready for in-memory examples: ``predictor.decoded(split)``."""

    def __init__(self, model_dir: str | Path, overrides: dict[str, Any] | None = None, batch_size: int = 32):

        self.model, self.record, self.task = load_task_model(model_dir)
        settings = fill(
            TaskSection(),
            {
                k: v
                for k, v in self.record["task_settings"].items()
                if k in {f for f in TaskSection.__dataclass_fields__}
            },
            "task.json",
        )
        self.settings = fill(settings, {k.removeprefix("task."): v for k, v in (overrides or {}).items()}, "--set")
        self.settings.kind = self.settings.kind or _user_kind(self.task)
        self.tokenizer = load_tokenizer_for(model_dir, self.record["checkpoint_kind"])
        self.batch_size = batch_size

    def decoded(self, split: Split) -> Any:
        """The task's predictions for the examples of ``split`` (labels, entities, corrected texts ...)."""
        import torch

        encoded = Encoder(self.task, self.tokenizer, self.settings, self.record["pinyin"], progress=False).encode(
            self._model_input(split).examples, train=False
        )
        collate = PaddingCollator(self.tokenizer.pad_token_id)
        kind = registry.kind(self.task.kind)
        outputs = []
        with torch.no_grad():
            for start in range(0, len(encoded.features), self.batch_size):
                batch = collate(
                    [
                        {k: v for k, v in f.items() if k != "feature_index"}
                        for f in encoded.features[start : start + self.batch_size]
                    ]
                )
                output = (
                    kind.prediction_step(self.model, batch, self.settings) if kind.generates else self.model(**batch)
                )
                outputs.append(kind.numpy_outputs(output))
        predictions = tuple(_concat([o[i] for o in outputs]) for i in range(len(outputs[0])))
        return decode(self.task, logits_of(predictions), encoded, split, self.settings)

    def _model_input(self, split: Split) -> Split:
        """The split as the model reads it: put into the template for prompt models."""
        method = self.record["method"]
        if not method.get("prompt"):
            return split
        from dataclasses import replace
        from types import SimpleNamespace

        view = replace(self.task, splits={split.name: split})
        return (
            registry.method("prompt")
            .prepare_task(view, SimpleNamespace(**method), self.tokenizer, self.settings.max_length)
            .splits[split.name]
        )


def predict(
    model_dir: str | Path,
    input_file: str | Path,
    output: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    batch_size: int = 32,
) -> dict:
    """Predict ``input_file`` with a saved model; returns {"predictions": rows, "metrics": ... or None}."""

    predictor = Predictor(model_dir, overrides, batch_size)
    task, settings = predictor.task, predictor.settings
    labels = LabelReader(settings.label_field, task.labels)  # class labels: those the model was trained with
    split = read_file_split(Path(input_file), "test", settings, task.kind, labels, set())
    predicted = predictor.decoded(split)
    rows = prediction_rows(task, predicted, split)
    metrics = task_metrics(task, predicted, split) if split.labelled else None
    if output is not None:
        Path(output).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return {"predictions": rows, "metrics": metrics}


def _user_kind(task: TaskData) -> str:
    """The first name users give the task's kind (``single`` for classification)."""
    return next(iter(registry.kind(task.kind).user_names))


def _concat(arrays: list):
    import numpy as np

    if arrays[0].ndim == 1 or all(a.shape[1:] == arrays[0].shape[1:] for a in arrays):
        return np.concatenate(arrays)
    width = max(a.shape[1] for a in arrays)  # token tasks: batches of different lengths
    fill = -1 if arrays[0].dtype.kind == "i" else -1e4  # padding never wins (ids: no token)
    padded = [
        np.pad(a, [(0, 0), (0, width - a.shape[1])] + [(0, 0)] * (a.ndim - 2), constant_values=fill) for a in arrays
    ]
    return np.concatenate(padded)
