"""Fine-tuning strategies on the two embedded real tasks, with a checkpoint of the tiny pretraining recipe.

For each task (reviews sentiment, People's Daily NER) and each strategy (full fine-tuning, frozen encoder with
[CLS], frozen with a scalar mix of all layers, top-2 layers, gradual unfreezing, LoRA, adapters): trainable
parameters, dev and test metric (mean and std over seeds) and wall time per run, next to the trivial baselines
(majority class and naive Bayes over characters and bigrams; an entity dictionary) on the same test sets.

    python bench/finetune.py                                   # pretrains chinesebert-tiny first (minutes)
    python bench/finetune.py --model runs/chinesebert-tiny/final --seeds 3 --train-examples 3000

Prints JSON (and writes it with --out).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

#: mean pooling unless a strategy says otherwise: an MLM-pretrained model has no trained pooler or [CLS]
STRATEGIES = {
    "full": {"method.strategy": "full"},
    "frozen + [CLS]": {"method.strategy": "frozen", "method.pooling": "cls"},
    "frozen + scalar mix": {"method.strategy": "frozen", "method.layers": "scalar_mix", "method.pooling": "mean"},
    "top-2 layers": {"method.strategy": "top_k", "method.top_k": 2},
    "gradual unfreezing": {"method.strategy": "gradual"},
    "LoRA": {"method.peft": "lora"},
    "adapters": {"method.peft": "adapters"},
}
#: what trains all or many weights gets the evaluation's rate for the model's width (chinese_ptm.apps.evaluate);
#: what trains few parameters gets twice that (the usual practice for heads, LoRA, adapters)
WHOLE_MODEL = ("full", "top-2 layers", "gradual unfreezing")


def learning_rate(name: str, model: Path) -> float:
    from chinese_ptm.apps.evaluate import default_learning_rate

    return default_learning_rate(model) * (1 if name in WHOLE_MODEL else 2)


def pretrained_checkpoint(workdir: Path) -> Path:
    out = workdir / "chinesebert-tiny"
    if not (out / "final" / "config.json").is_file():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "chinese_ptm.pretrain",
                "chinesebert-tiny",
                "--output-dir",
                str(out),
                "--set",
                "training.report_to=none",
            ],
            check=True,
        )
    return out / "final"


def run_strategy(task: str, model: Path, name: str, args, workdir: Path) -> dict:
    from chinese_ptm.finetune.config import build_config
    from chinese_ptm.finetune.runner import preset_settings, run
    from chinese_ptm.runtime.config import apply_overrides

    settings = {
        **preset_settings(task),
        "task.preset": task,
        "model.path": str(model),
        "task.max_length": args.max_length,
        "task.max_train_examples": args.train_examples,
        "training.num_train_epochs": args.epochs,
        "training.per_device_train_batch_size": 32,
        "training.learning_rate": learning_rate(name, model),
        "training.disable_tqdm": True,
        "training.logging_steps": 1000,
        "output_dir": str(workdir / task / name.replace(" ", "_")),
        "seeds": list(range(1, args.seeds + 1)),
        "save_model": False,
        "method.pooling": "mean",
        **STRATEGIES[name],
    }
    started = time.perf_counter()
    results = run(build_config([apply_overrides({}, settings)]), progress=False)
    return {
        "task": task,
        "strategy": name,
        "metric": results["metric"],
        "trainable_parameters": results["trainable_parameters"],
        "total_parameters": results["total_parameters"],
        "dev_mean": results["dev"]["score"],
        "dev_std": results["dev_std"]["score"],
        "test_mean": results["test"]["score"],
        "test_std": results["test_std"]["score"],
        "seconds_per_run": (time.perf_counter() - started) / args.seeds,
        "learning_rate": learning_rate(name, model),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="checkpoint (default: pretrain chinesebert-tiny)")
    parser.add_argument("--workdir", type=Path, default=Path("runs/bench-finetune"))
    parser.add_argument("--tasks", default="reviews,pd98-ner")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--train-examples", type=int, default=3000, help="training examples per task (0: all)")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from chinese_ptm.finetune.embedded import load_embedded_task
    from chinese_ptm.finetune.registry import baselines

    model = args.model or pretrained_checkpoint(args.workdir)
    report = {
        "model": str(model),
        "seeds": args.seeds,
        "epochs": args.epochs,
        "train_examples": args.train_examples,
        "max_length": args.max_length,
        "batch_size": 32,
        "baselines": {},
        "rows": [],
    }
    for task in args.tasks.split(","):
        data = load_embedded_task(task, None)
        if args.train_examples:
            data.splits["train"].examples = data.splits["train"].examples[: args.train_examples]
        report["baselines"][task] = {k: v["score"] for k, v in baselines(data).items()}
        for name in args.strategies.split(","):
            report["rows"].append(run_strategy(task, model, name, args, args.workdir))
            print(json.dumps(report["rows"][-1]), file=sys.stderr, flush=True)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
