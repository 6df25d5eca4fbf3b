"""Smaller models from a bigger one, on the embedded real tasks. A teacher (4 layers x 256, pretrained by the
tiny recipe at the small size for ``--teacher-minutes``, then fine-tuned) and 2-layer students: distilled from
its predictions, distilled with hidden states and attentions too, initialised from the teacher's layers and
fine-tuned without it, and a tiny model pretrained for the same time and fine-tuned directly; with parameters, inference
sentences/s (batch 32, one thread and all threads) and the test metric over seeds. Also the fine-tuning
strategies (chain-thaw, self-distillation, a seed ensemble) against plain fine-tuning of the teacher.

    python bench/distill.py --teacher-minutes 8 --seeds 3 --tasks reviews,pd98-ner
    python bench/distill.py --teacher-minutes 0.2 --seeds 1 --tasks reviews --limit 300   # a smoke run
    python bench/distill.py --checkpoints TEACHER_DIR,TINY_DIR --seeds 2 --tasks reviews   # skip pretraining
    python bench/distill.py --teacher-minutes 4 --seeds 2 --tasks reviews --learning-rate 3e-4

Prints JSON (and writes it with --out).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from learning import pretrain, seconds_per_step, write_result

#: the students: (distill --student, settings); "direct" is a tiny pretrained model fine-tuned without a teacher
STUDENTS = {
    "distilled (predictions)": ("teacher", {"distill.student_layers": 2}),
    "distilled (+ hidden, attention)": (
        "teacher",
        {"distill.student_layers": 2, "distill.hidden_weight": 1.0, "distill.attention_weight": 1.0},
    ),
    "teacher's layers, no teacher": (
        "teacher",
        {"distill.student_layers": 2, "distill.soft_weight": 0.0, "distill.hard_weight": 1.0},
    ),
}
STRATEGIES = {
    "plain": {},
    "chain-thaw": {"method.strategy": "chain_thaw", "training.num_train_epochs": 8},
    "self-distillation (average)": {"method.self_distill": "average"},
    "seed ensemble": {"method.ensemble": "seeds"},
}


def task_config(model: str, task: str, out: Path, seeds: int, settings: dict):
    """A fine-tuning configuration of an embedded task at the demo's budget, with the preset's learning rate and
    pooling unless ``settings`` say otherwise (``chinese-ptm distill`` takes teachers with the standard head only)."""
    from chinese_ptm.apps.demo import DEMO_EVALUATION
    from chinese_ptm.finetune.config import build_config
    from chinese_ptm.finetune.runner import preset_settings
    from chinese_ptm.runtime.config import apply_overrides

    values = {**preset_settings(task), "task.preset": task, "model.path": model, "output_dir": str(out)}
    values |= {**DEMO_EVALUATION, "seeds": list(range(1, seeds + 1)), "training.disable_tqdm": True, **settings}
    return build_config([apply_overrides({}, values)])


def finetune(model: str, task: str, out: Path, seeds: int, settings: dict) -> dict:
    from chinese_ptm.finetune.runner import run

    return run(task_config(model, task, out, seeds, settings), progress=False)


def distilled(teacher: Path, student: str, task: str, out: Path, seeds: int, settings: dict) -> dict:
    from chinese_ptm.distill.build import distillation_builder, load_teachers
    from chinese_ptm.finetune.runner import run

    teach = {"distill.teacher": str(teacher), "distill.student": student, **settings}
    config = task_config(str(teacher), task, out, seeds, teach)
    return run(config, progress=False, build=distillation_builder(load_teachers(config)))


def speed(model_dir: Path, threads: int, sentences: int = 256) -> float:
    """Inference sentences/s of a saved model, batch 32, on ``threads`` threads."""
    import torch

    from chinese_ptm.data.corpora import peoples_daily_lines
    from chinese_ptm.finetune.predict import load_task_model
    from chinese_ptm.runtime.loading import load_tokenizer_for

    model, record, _ = load_task_model(model_dir)
    tokenizer = load_tokenizer_for(model_dir, record["checkpoint_kind"])
    texts = [t[:126] for t in peoples_daily_lines()[:sentences]]
    torch.set_num_threads(threads)
    started = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(texts), 32):
            batch = tokenizer(texts[i : i + 32], padding=True, truncation=True, max_length=128, return_tensors="pt")
            if not record["pinyin"]:
                batch.pop("pinyin_ids", None)
            model(**batch)
    return round(len(texts) / (time.perf_counter() - started), 1)


def summary(results: dict, model_dir: Path, cores: int) -> dict:
    return {
        "test": results.get("test"),
        "test_std": results.get("test_std"),
        "ensemble": results.get("ensemble"),
        "parameters": results.get("total_parameters"),
        "sentences_per_s_1_thread": speed(model_dir, 1),
        f"sentences_per_s_{cores}_threads": speed(model_dir, cores),
    }


def pretrained(args) -> tuple[dict, dict]:
    """The teacher's (small size) and the tiny model's pretraining, each for ``--teacher-minutes``, or the given
    checkpoints."""
    if args.checkpoints:
        teacher, tiny = args.checkpoints.split(",")
        return {"final_checkpoint": teacher}, {"final_checkpoint": tiny}
    sizes = {"teacher pretraining": {"model.size": "small"}, "tiny pretraining": {}}
    per_step = {name: seconds_per_step(name, o, args.workdir, "chinesebert-tiny") for name, o in sizes.items()}
    steps = {name: max(int(args.teacher_minutes * 60 / per_step[name]), 10) for name in sizes}
    base, tiny = (
        pretrain(name, {**o, "training.max_steps": steps[name]}, args.workdir, "chinesebert-tiny")
        for name, o in sizes.items()
    )
    return base, tiny


def main() -> None:
    import os

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teacher-minutes", type=float, default=8.0, help="the teacher's pretraining wall time")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", default="reviews,pd98-ner")
    parser.add_argument("--limit", type=int, default=0, help="at most this many training examples (smoke runs)")
    parser.add_argument("--workdir", type=Path, default=Path("runs/bench-distill"))
    parser.add_argument("--checkpoints", default=None, help="TEACHER_DIR,TINY_DIR: pretrained ones to use instead")
    parser.add_argument("--learning-rate", type=float, default=None, help="fine-tuning rate (default: the preset's)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    # settings every arm gets, after its own
    extra = {"task.max_train_examples": args.limit} if args.limit else {}
    extra |= {"training.learning_rate": args.learning_rate} if args.learning_rate else {}
    base, tiny = pretrained(args)
    result = {"teacher_pretraining": base, "tiny_pretraining": tiny, "tasks": {}}
    for task in args.tasks.split(","):
        arms: dict = {}
        teacher_out = args.workdir / task / "teacher"
        arms["teacher (4 x 256)"] = summary(
            finetune(base["final_checkpoint"], task, teacher_out, 1, extra), teacher_out / "model", cores
        )
        for name, (student, settings) in STUDENTS.items():
            out = args.workdir / task / name.replace(" ", "_")
            arms[name] = summary(
                distilled(teacher_out / "model", student, task, out, args.seeds, {**settings, **extra}),
                out / "model",
                cores,
            )
        direct = args.workdir / task / "direct"
        arms["tiny (2 x 128) fine-tuned directly"] = summary(
            finetune(tiny["final_checkpoint"], task, direct, args.seeds, extra), direct / "model", cores
        )
        for name, settings in STRATEGIES.items():
            out = args.workdir / task / f"strategy-{name.replace(' ', '_')}"
            seeds = max(args.seeds, 2) if "ensemble" in name else args.seeds
            arms[f"teacher fine-tuned: {name}"] = summary(
                finetune(base["final_checkpoint"], task, out, seeds, {**settings, **extra}), out / "model", cores
            )
        result["tasks"][task] = arms
        print(json.dumps({task: arms}, default=str), file=sys.stderr, flush=True)
    write_result(result, args.out)


if __name__ == "__main__":
    main()
