"""Saving a fine-tuned model so that ``chinese-ptm predict`` (and transformers, where it can) loads it again.

Next to the weights, ``task.json`` records the task (kind, labels, fields, lengths), the method and the base
checkpoint. The weights take the form of the method:

* ``standard``: transformers' head class (``GlyceBertFor*`` / ``BertFor*``), ``AutoModelFor*`` loads it;
* ``task_model``: the encoder (``save_pretrained``) and ``head.safetensors`` (other layers or pooling);
* ``lora``: peft's adapter files only; loaded onto the base checkpoint as peft does;
* ``adapters``: ``adapters.safetensors`` with only the trained parameters (adapters, LayerNorms, head),
  loaded onto the base checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from ..runtime.checkpoints import write_manifest
from .model import TaskModel, uses_standard_head
from .strategies import WithFixedModels, save_trained_parameters

TASK_FILE = "task.json"
HEAD_FILE = "head.safetensors"


def save_format(model, method, kind: str | None = None) -> str:

    if method.prompt:
        return "prompt"  # the masked LM and prompt.json
    if method.peft == "lora":
        return "lora"
    if method.peft == "adapters":
        return "adapters"
    return "task_model" if isinstance(model, TaskModel) or not uses_standard_head(method, kind) else "standard"


def save_task_model(model, prepared, config, directory: Path) -> Path:
    """Write the model, its tokenizer and ``task.json`` into ``directory`` (replacing what is there); of a model
    trained beside fixed ones (a distillation's student, self-distillation) the trained one alone."""
    from safetensors.torch import save_file

    if isinstance(model, WithFixedModels):
        model = model.trained_model()
    fmt = save_format(model, config.method, prepared.task.kind)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    if fmt in ("standard", "lora", "prompt"):
        model.save_pretrained(str(directory))
    elif fmt == "task_model":
        model.bert.save_pretrained(str(directory))
        head = {n: p.detach().cpu().contiguous() for n, p in model.state_dict().items() if not n.startswith("bert.")}
        save_file(head, str(directory / HEAD_FILE))
    else:
        save_trained_parameters(model, directory, {"adapter_size": config.method.adapter_size})
    prepared.tokenizer.save_pretrained(str(directory))
    if not (directory / "vocab.txt").is_file():  # transformers' BertTokenizer writes no vocab.txt
        source = Path(config.model.tokenizer or config.model.path)
        shutil.copyfile(source / "vocab.txt", directory / "vocab.txt")
    task = prepared.task
    record = {
        "format": fmt,
        "task": task.name,
        "kind": task.kind,
        "labels": list(task.labels),
        "metric": task.metric,
        "num_choices": task.num_choices,
        "checkpoint_kind": prepared.kind,
        "pinyin": prepared.with_pinyin,
        "base_model": str(Path(config.model.path).resolve()),
        "scratch": config.model.scratch,
        "task_settings": dataclasses.asdict(config.task),
        "method": dataclasses.asdict(config.method),
    }
    (directory / TASK_FILE).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_manifest(directory)  # last: a model directory without one was not saved whole
    return directory
