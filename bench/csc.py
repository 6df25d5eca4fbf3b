"""Spelling correction on SIGHAN 2015 test: tiny GlyceBERT vs tiny BERT trained the same way, next to copying
the input.

Both models are pretrained by the tiny recipe for the same wall time on the same corpus (``--minutes``; or give
``--glycebert`` and ``--bert`` checkpoints, e.g. the arms of ``bench/learning.py``), then trained with the
``csc-tiny`` recipe on the same synthesised People's Daily pairs for the same steps and seeds, and tested on
SIGHAN 2015 (pycorrector's copy: evaluation only). Prints JSON (and writes it with --out).

    python bench/csc.py --glycebert runs/bench-learning/GlyceBERT/final --bert runs/bench-learning/BERT/final
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pretrained_arms(args) -> dict[str, str]:
    if args.glycebert and args.bert:
        return {"GlyceBERT": args.glycebert, "BERT": args.bert}
    from learning import pretrain, seconds_per_step

    arms = {}
    for name, overrides in {"GlyceBERT": {}, "BERT": {"model.architecture": "bert"}}.items():
        steps = max(int(args.minutes * 60 / seconds_per_step(name, overrides, args.workdir, "chinesebert-tiny")), 10)
        arms[name] = pretrain(name, {**overrides, "training.max_steps": steps}, args.workdir, "chinesebert-tiny")[
            "final_checkpoint"
        ]
    return arms


def correction_run(name: str, checkpoint: str, args) -> dict:
    from chinese_ptm.finetune.config import build_config, read_config_file
    from chinese_ptm.finetune.runner import run
    from chinese_ptm.runtime.config import apply_overrides

    settings = {
        "model.path": checkpoint,
        "output_dir": str(args.workdir / f"csc-{name}"),
        "seeds": args.seeds,
        "task.typo_pairs": args.pairs,
        "training.num_train_epochs": args.epochs,
        "training.disable_tqdm": True,
        "save_model": False,
    }
    result = run(build_config([read_config_file("csc-tiny"), apply_overrides({}, settings)]), progress=False)
    return {
        "model": name,
        "checkpoint": checkpoint,
        "steps": result["steps"],
        "train_seconds_mean": result["train_seconds_mean"],
        "test": result["test"],
        "test_std": result["test_std"],
        "runs": [r["test"] for r in result["runs"]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--glycebert", default=None, help="a tiny GlyceBERT checkpoint (else pretrained here)")
    parser.add_argument("--bert", default=None, help="a tiny BERT checkpoint of the same size (else pretrained here)")
    parser.add_argument("--minutes", type=float, default=4.0, help="pretraining wall time per arm when pretraining")
    parser.add_argument("--pairs", type=int, default=6000, help="synthesised training pairs")
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[1])
    parser.add_argument("--workdir", type=Path, default=Path("runs/bench-csc"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from chinese_ptm.csc.data import sighan15_test
    from chinese_ptm.csc.metrics import flat_scores

    test = sighan15_test()
    rows = [{"model": "copy the input", "test": flat_scores(test.wrong, test.wrong, test.correct)}]
    for name, checkpoint in pretrained_arms(args).items():
        rows.append(correction_run(name, checkpoint, args))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    result = {
        "benchmark": "csc",
        "test": "SIGHAN 2015 (pycorrector copy, 697 usable pairs)",
        "pairs": args.pairs,
        "epochs": args.epochs,
        "seeds": args.seeds,
        "rows": rows,
    }
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
