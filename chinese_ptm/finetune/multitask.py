"""Several tasks on one encoder: multi-task fine-tuning (one shared encoder, one head per task, each batch drawn
from one task, in proportion to the tasks' sizes or uniformly) and two-stage fine-tuning (an intermediate
task first, then the target on the encoder it left, with a fresh head).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import SettingsError
from ..runtime.config import apply_overrides
from ..runtime.loading import model_class
from ..runtime.ranks import is_main_process
from ..runtime.trainer import training_arguments
from .config import FinetuneConfig, build_config, read_config_file
from .features import FeatureDataset, PaddingCollator, decode
from .model import ENCODERS, TaskModel, task_model
from .predict import load_task_model
from .runner import RESULTS_FILE, FinetuneTrainer, Prepared, prepare, preset_settings, run, seed_scores, task_metrics
from .saving import save_task_model

TASK_KEY = "task_index"


def task_config(
    name: str, model: str, output_dir: Path, overrides: dict, data_dir: str | None, config_file: str | None
) -> FinetuneConfig:
    """The configuration of one task of a multi-task or two-stage run: a preset or a YAML file of settings."""
    layers = [read_config_file(config_file)] if config_file else []
    if Path(name).suffix in (".yaml", ".yml"):
        layers.append(read_config_file(name))
        base: dict = {}
    else:
        base = {**preset_settings(name), "task.preset": name}
        if name.startswith("clue:"):
            base["task.data_dir"] = data_dir
    base.update({"model.path": model, "output_dir": str(output_dir)})
    return build_config([*layers, apply_overrides({}, base)], overrides)


# ---------------------------------------------------------------------------------------------
# two-stage
# ---------------------------------------------------------------------------------------------


def run_stages(
    tasks: list[str],
    model: str,
    output_dir: str | Path,
    overrides: dict[str, Any],
    data_dir: str | None = None,
    config_file: str | None = None,
    progress: bool = True,
) -> list[dict]:
    """Each task in turn, starting from the encoder the previous one left; the last task is the target (all its
    seeds run, from the same intermediate encoder). Returns one result per stage."""
    if len(tasks) < 2:
        raise SettingsError("--tasks: two-stage fine-tuning needs an intermediate task and a target")
    out, current, results = Path(output_dir), model, []
    for number, name in enumerate(tasks):
        last = number == len(tasks) - 1
        stage_dir = out / f"stage{number + 1}-{Path(name).stem.replace(':', '-')}"
        stage_overrides = dict(overrides) if last else {**overrides, "seeds": (overrides.get("seeds") or [42])[:1]}
        config = task_config(name, current, stage_dir, stage_overrides, data_dir, config_file)
        if not last and config.method.peft == "adapters":
            raise SettingsError(
                "method.peft=adapters: an intermediate stage must leave a plain encoder (use lora or none)"
            )
        config.save_model = True
        result = run(config, progress=progress)
        result["stage"] = number + 1
        results.append(result)
        if not last:
            current = str(save_encoder(stage_dir / "model", stage_dir / "encoder"))
    return results


def save_encoder(model_dir: Path, destination: Path) -> Path:
    """The encoder of a saved fine-tuned model (LoRA merged in), with its tokenizer: the next stage's start."""

    model, _, _ = load_task_model(model_dir)
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    if is_main_process():
        model.bert.save_pretrained(str(destination))
        for item in model_dir.iterdir():  # tokenizer files and pinyin tables
            if (
                item.name.startswith(("vocab", "tokenizer", "special_tokens"))
                or item.name == "config"
                or item.suffix == ".py"
                and item.name.startswith(("tokenization", "pinyin", "text", "vocab"))
            ):
                target = destination / item.name
                shutil.copytree(item, target, dirs_exist_ok=True) if item.is_dir() else shutil.copyfile(item, target)
    return destination


# ---------------------------------------------------------------------------------------------
# multi-task
# ---------------------------------------------------------------------------------------------


class MultiTaskModel(nn.Module):
    """One encoder shared by one :class:`TaskModel` head per task; each batch names its task."""

    def __init__(self, encoder, heads: list[TaskModel]):
        super().__init__()
        self.bert = encoder
        self.config = encoder.config
        self.heads = nn.ModuleList(heads)

    def forward(self, task_index: torch.Tensor, **batch):
        index = int(task_index.reshape(-1)[0])
        return self.heads[index](**batch)


class TaskBatches(torch.utils.data.Sampler):
    """Batches of feature indices, each from one task: ``proportional`` shuffles every task's batches together
    (each batch once per epoch, tasks in proportion to their size); ``uniform`` picks a task uniformly at each
    step (smaller tasks are cycled), for as many steps as ``proportional`` has."""

    def __init__(self, offsets: list[int], sizes: list[int], batch_size: int, sampling: str, seed: int):
        self.offsets, self.sizes, self.batch_size = offsets, sizes, batch_size
        self.sampling, self.seed, self.epoch = sampling, seed, 0

    def _task_batches(self, rng, task: int) -> list[list[int]]:
        order = rng.permutation(self.sizes[task]) + self.offsets[task]
        return [order[i : i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size)]

    def __len__(self) -> int:
        return sum(-(-size // self.batch_size) for size in self.sizes)

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        per_task = [self._task_batches(rng, t) for t in range(len(self.sizes))]
        if self.sampling == "proportional":
            batches = [b for task in per_task for b in task]
            yield from (batches[i] for i in rng.permutation(len(batches)))
            return
        cursors = [0] * len(self.sizes)
        for _ in range(len(self)):
            task = int(rng.integers(len(self.sizes)))
            if cursors[task] == len(per_task[task]):
                per_task[task], cursors[task] = self._task_batches(rng, task), 0
            yield per_task[task][cursors[task]]
            cursors[task] += 1


class MultiTaskTrainer(FinetuneTrainer):
    def __init__(self, *args, batches: TaskBatches, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches = batches

    def get_train_dataloader(self):
        loader = torch.utils.data.DataLoader(
            self.train_dataset,
            batch_sampler=self.batches,
            collate_fn=self.data_collator,
            num_workers=self.args.dataloader_num_workers,
        )
        return self.accelerator.prepare(loader)


def run_multitask(
    tasks: list[str],
    model: str,
    output_dir: str | Path,
    overrides: dict[str, Any],
    data_dir: str | None = None,
    config_file: str | None = None,
    progress: bool = True,
) -> list[dict]:
    """Train one encoder on all tasks at once (``sampling``: ``proportional`` by default, or ``uniform``);
    evaluate and save each task's model; one result per task, each with every seed."""
    sampling = overrides.pop("sampling", "proportional")
    if sampling not in ("proportional", "uniform"):
        raise SettingsError(f"--set sampling={sampling}: proportional or uniform")
    out = Path(output_dir)
    configs = [
        task_config(name, model, out / Path(name).stem.replace(":", "-"), overrides, data_dir, config_file)
        for name in tasks
    ]
    first = configs[0]
    prepared = [prepare(config, progress=progress) for config in configs]
    runs: list[list[dict]] = [[] for _ in tasks]
    for seed in first.seeds:
        for i, result in enumerate(_train_multitask(configs, prepared, seed, sampling, out)):
            runs[i].append(result)
    results = []
    for config, prep, task_runs in zip(configs, prepared, runs):
        result = {
            "task": prep.task.name,
            "kind": prep.task.kind,
            "metric": prep.task.metric,
            "seeds": first.seeds,
            "sampling": sampling,
            "tasks": tasks,
            **seed_scores(task_runs),
            "steps": task_runs[0]["steps"],
            "epochs": task_runs[0]["epochs"],
            "runs": task_runs,
            "model": model,
            "submission": None,
            "predictions": {},
            "saved_model": str(Path(config.output_dir) / "model"),
        }
        if is_main_process():
            Path(config.output_dir).mkdir(parents=True, exist_ok=True)
            (Path(config.output_dir) / RESULTS_FILE).write_text(
                json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
            )
        results.append(result)
    return results


def _task_heads(encoder, configs: list[FinetuneConfig], prepared: list[Prepared]) -> list[TaskModel]:
    """One head per task on the shared encoder."""
    return [task_model(encoder, prep.task, config.method) for config, prep in zip(configs, prepared)]


def _evaluate_heads(trainer, configs, prepared, heads, seed: int, seconds: float) -> list[dict]:
    """Each task's dev/test metrics through its own head; the first seed saves the heads."""
    first = configs[0]
    results = []
    for index, (config, prep) in enumerate(zip(configs, prepared)):
        result = {
            "seed": seed,
            "steps": int(trainer.state.global_step),
            "epochs": float(trainer.state.epoch or 0),
            "train_seconds": round(seconds, 3),
        }
        for name, encoded in prep.encoded.items():
            if name == "train":
                continue
            outputs = trainer.outputs_for([{**f, TASK_KEY: np.asarray(index)} for f in encoded.features])
            predicted = decode(prep.task, outputs, encoded, prep.task.splits[name], config.task)
            if prep.task.splits[name].labelled:
                result[name] = task_metrics(prep.task, predicted, prep.task.splits[name])
        result["score"] = result["dev"]["score"]
        results.append(result)
        if is_main_process() and seed == first.seeds[0]:
            _save_head(heads[index], prep, config, Path(config.output_dir) / "model")
    return results


def _train_multitask(
    configs: list[FinetuneConfig], prepared: list[Prepared], seed: int, sampling: str, out: Path
) -> list[dict]:
    from transformers import set_seed

    set_seed(seed)
    first = configs[0]
    kind = prepared[0].kind
    encoder = model_class(kind, ENCODERS).from_pretrained(first.model.path)
    heads = _task_heads(encoder, configs, prepared)
    model = MultiTaskModel(encoder, heads)
    features, offsets, sizes = [], [], []
    for index, prep in enumerate(prepared):
        offsets.append(len(features))
        sizes.append(len(prep.encoded["train"].features))
        features += [{**f, TASK_KEY: np.asarray(index)} for f in prep.encoded["train"].features]
    args = training_arguments(
        first.training,
        out / "trainer",
        seed=seed,
        data_seed=seed,
        eval_strategy="no",
        save_strategy="no",
        load_best_model_at_end=False,
        ddp_find_unused_parameters=True,
    )
    batches = TaskBatches(offsets, sizes, args.per_device_train_batch_size, sampling, seed)
    trainer = MultiTaskTrainer(
        model=model,
        args=args,
        train_dataset=FeatureDataset(features),
        data_collator=PaddingCollator(prepared[0].tokenizer.pad_token_id),
        batches=batches,
        optimizer_name=first.training.optimizer,
    )
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    results = _evaluate_heads(trainer, configs, prepared, heads, seed, seconds)
    shutil.rmtree(out / "trainer", ignore_errors=True)
    return results


def _save_head(head: TaskModel, prepared: Prepared, config: FinetuneConfig, directory: Path) -> None:
    """One task's model (the shared encoder and its head) as ``chinese-ptm predict`` reads it."""

    save_task_model(head, prepared, config, directory)
