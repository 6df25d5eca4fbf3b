"""CLUE tasks through the fine-tuning runner: one task, or every task found under a folder."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..runtime.config import apply_overrides
from ..runtime.ranks import is_main_process
from .clue import TASKS, TaskSpec, get_task, tasks_under
from .config import FinetuneConfig, build_config
from .runner import prepare, preset_settings, run

SUMMARY_FILE = "summary.json"
SUBMISSION_DIR = "submission"


def clue_config(
    spec: TaskSpec,
    model: str | Path,
    data_dir: str | Path,
    output_dir: str | Path,
    overrides: dict[str, Any] | None = None,
    tokenizer_dir: str | Path | None = None,
) -> FinetuneConfig:
    """The task's CLUE-baseline settings, then the caller's overrides."""

    layer = apply_overrides(
        {},
        {
            **preset_settings(f"clue:{spec.name}"),
            "task.preset": f"clue:{spec.name}",
            "task.data_dir": str(data_dir),
            "model.path": str(model),
            "model.tokenizer": str(tokenizer_dir) if tokenizer_dir else None,
            "output_dir": str(output_dir),
        },
    )
    return build_config([layer], overrides)


def run_clue_task(
    task: str | TaskSpec,
    model: str | Path,
    data_dir: str | Path,
    output_dir: str | Path,
    overrides: dict[str, Any] | None = None,
    tokenizer_dir: str | Path | None = None,
    progress: bool = True,
) -> dict:
    """Fine-tune on one CLUE task, evaluate on dev, write the submission file and ``results.json``."""
    spec = get_task(task) if isinstance(task, str) else task
    config = clue_config(spec, model, data_dir, output_dir, overrides, tokenizer_dir)
    return run(config, prepare(config, progress=progress), progress=progress)


def run_clue_all(model: str | Path, data_dir: str | Path, output_dir: str | Path, **kwargs) -> list[dict]:
    """Every task whose folder exists under ``data_dir``; a task with bad data is reported and the others still
    run. Writes ``summary.json`` and gathers the submission files in ``OUTPUT_DIR/submission``."""
    out = Path(output_dir)
    results = []
    for spec, directory in tasks_under(data_dir):
        if is_main_process():
            print(f"== {spec.name} ({directory})", flush=True)
        try:
            results.append(run_clue_task(spec, model, directory, out / spec.name, **kwargs))
        except UserError as err:
            print(f"chinese-ptm finetune: error: {spec.name}: {err}", file=sys.stderr, flush=True)
            results.append({"task": spec.name, "error": str(err)})
    if is_main_process():
        gathered = out / SUBMISSION_DIR
        gathered.mkdir(parents=True, exist_ok=True)
        for result in results:
            if result.get("submission"):
                shutil.copyfile(result["submission"], gathered / Path(result["submission"]).name)
        (out / SUMMARY_FILE).write_text(
            json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
        )
    return results


def summary_table(results: list[dict]) -> str:
    """A fixed-width table: task, metric, dev score(s) (mean +- std over seeds), steps, epochs, seconds, file."""
    header = f"{'task':<12} {'metric':<9} {'dev':>17} {'steps':>7} {'epochs':>7} {'seconds':>8}  output"
    lines = [header, "-" * len(header)]
    for result in results:
        if "error" in result:
            lines.append(f"{result['task']:<12} failed: {result['error']}")
            continue
        dev = result["dev"]
        if result["metric"] == "em":
            metric, score = "em / f1", f"{dev['em']:.2f} / {dev['f1']:.2f}"
        else:
            metric, score = result["metric"], f"{result['score']:.2f}"
            if len(result["seeds"]) > 1:
                score += f" +- {result['score_std']:.2f}"
        name = (
            Path(result["submission"]).name
            if result.get("submission")
            else Path(result["predictions"].get("test", result["predictions"].get("dev", "-"))).name
        )
        lines.append(
            f"{result['task']:<12} {metric:<9} {score:>17} {result['steps']:>7} {result['epochs']:>7.2f} "
            f"{result.get('seconds') or 0:>8.1f}  {name}"
        )
    return "\n".join(lines)


def task_table() -> str:
    """The CLUE tasks with their defaults (``chinese-ptm finetune clue --list``)."""
    header = f"{'task':<12} {'kind':<16} {'metric':<9} {'lr':>7} {'epochs':>6} {'batch':>5} {'length':>6}  folder / submission"
    lines = [header, "-" * len(header)]
    for spec in TASKS.values():
        s = spec.settings
        lines.append(
            f"{spec.name:<12} {spec.kind:<16} {spec.metric:<9} {s['training.learning_rate']:>7.0e} "
            f"{s['training.num_train_epochs']:>6g} {s['training.per_device_train_batch_size']:>5} "
            f"{s['task.max_length']:>6}  {spec.folder} / {spec.submission}"
        )
    return "\n".join(lines)
