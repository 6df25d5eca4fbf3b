"""Prompts on the embedded reviews task with a pretrained checkpoint (the demo's, by default).

1. Zero-shot: the reviews preset's 3 templates and their ensemble, for each scoring rule of the two-character
   label words (mean, joint, autoregressive), with and without contextual calibration.
2. Few-shot: PET (the MLM head scores the label words, cross-entropy over labels) against fine-tuning a
   classification head (mean pooling) at K = 8, 16, 32, 64 examples per class, each K drawn anew per seed, the
   same steps and learning rate for both, no dev-set selection (true few-shot: the dev set is not used to pick
   checkpoints), test accuracy mean +- std over seeds.
Next to the majority class. Prints JSON (and writes it with --out).

    python bench/prompt.py --model runs/demo/pretrain/final --seeds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

TEMPLATE = "{text}。总之，{mask}。"


def zero_shot_rows(model: str, workdir: Path) -> list[dict]:
    from chinese_ptm.finetune.config import build_config
    from chinese_ptm.finetune.runner import load_task, preset_settings
    from chinese_ptm.prompt.presets import prompt_preset
    from chinese_ptm.prompt.zero_shot import zero_shot
    from chinese_ptm.runtime.config import apply_overrides

    preset = prompt_preset("reviews")
    rows, task = [], None
    for scoring in ("mean", "joint", "autoregressive"):
        for calibrate in (False, True):
            settings = {
                **preset_settings("reviews"),
                "task.preset": "reviews",
                "model.path": model,
                "method.prompt": preset["templates"][0],
                "method.verbalizer": preset["verbalizer"],
                "method.scoring": scoring,
                "task.max_train_examples": 1,
                "training.disable_tqdm": True,
                "output_dir": str(workdir / f"zero-{scoring}-{calibrate}"),
            }
            config = build_config([apply_overrides({}, settings)])
            task = task or load_task(config)
            started = time.perf_counter()
            result = zero_shot(config, preset["templates"], task, calibrate=calibrate)
            rows.append(
                {
                    "scoring": scoring,
                    "calibrated": calibrate,
                    "seconds": round(time.perf_counter() - started, 1),
                    "templates": {r["template"]: r["test"]["accuracy"] for r in result["templates"]},
                    "ensemble": result["ensemble"]["test"]["accuracy"],
                    "majority": result["majority"]["test"],
                }
            )
            print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    return rows


def few_shot_row(model: str, method: str, shots: int, seeds: list[int], args, workdir: Path) -> dict:
    from chinese_ptm.apps.evaluate import default_learning_rate
    from chinese_ptm.finetune.runner import run_preset

    overrides = {
        "task.shots": shots,
        "task.max_train_examples": args.pool,
        "seeds": seeds,
        "training.max_steps": args.steps,
        "training.learning_rate": default_learning_rate(model),
        "training.per_device_train_batch_size": 16,
        "training.eval_strategy": "no",
        "training.save_strategy": "no",
        "training.load_best_model_at_end": False,
        "training.disable_tqdm": True,
        "save_model": False,
        "output_dir": str(workdir / f"{method}-{shots}"),
    }
    if method == "PET":
        from chinese_ptm.prompt.presets import prompt_preset

        overrides.update({"method.prompt": TEMPLATE, "method.verbalizer": prompt_preset("reviews")["verbalizer"]})
    else:
        overrides["method.pooling"] = "mean"  # an MLM-pretrained model has no trained pooler
    results = run_preset("reviews", model, overrides)
    runs = [r["test"]["accuracy"] for r in results["runs"]]
    return {
        "method": method,
        "shots_per_class": shots,
        "test_mean": statistics.fmean(runs),
        "test_std": statistics.stdev(runs) if len(runs) > 1 else 0.0,
        "runs": runs,
        "seconds_per_run": results["train_seconds_mean"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="runs/demo/pretrain/final")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--shots", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--steps", type=int, default=60, help="optimizer steps of every few-shot run")
    parser.add_argument("--pool", type=int, default=2000, help="training examples the shots are drawn from")
    parser.add_argument("--workdir", type=Path, default=Path("runs/bench-prompt"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--skip-zero-shot", action="store_true")
    args = parser.parse_args()
    seeds = list(range(1, args.seeds + 1))
    result = {
        "benchmark": "prompt",
        "task": "reviews (test, 2,000)",
        "model": args.model,
        "template": TEMPLATE,
        "steps": args.steps,
        "zero_shot": [] if args.skip_zero_shot else zero_shot_rows(args.model, args.workdir),
        "few_shot": [],
    }
    for shots in args.shots:
        for method in ("PET", "classification head"):
            result["few_shot"].append(few_shot_row(args.model, method, shots, seeds, args, args.workdir))
            print(json.dumps(result["few_shot"][-1], ensure_ascii=False), flush=True)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
