"""``chinese-ptm evaluate MODEL``: does a checkpoint beat training from scratch on real tasks, and by how much?

Fine-tunes MODEL on the embedded real tasks (``reviews`` sentiment, ``pd98-ner``; ``sighan15`` spelling
correction with the csc extra), and with ``--baseline
scratch`` the same architecture and size with random weights, on the same data, steps, learning rate and
seeds; reports the test metric (mean +- std over seeds) of both, their difference, and the trivial baselines
(majority class, naive Bayes over characters and bigrams, an entity dictionary, copying the input) trained on
the same examples.
Works for our GlyceBERT, BERT and AMBERT checkpoints (characters or words), the original ChineseBERT release and
Chinese BERT checkpoints.

    chinese-ptm evaluate runs/chinesebert-tiny/final --seeds 3 --baseline scratch
    chinese-ptm evaluate chinese-macbert-base --tasks reviews --set training.learning_rate=2e-5

With ``--noise phonetic:0.1,visual:0.05`` a copy of each test set with typos (same-sound and look-alike
characters from the confusion sets, seeded) is scored beside the clean one, for both arms and the baselines; the
test examples holding a character rare in the training texts are always reported as a subset of their own, and
so are those holding a Chinese character outside the model's vocabulary (``unk``: [UNK] to its word embedding).

Writes ``OUTPUT_DIR/evaluation.json`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from ..csc.noise import NoiseSpec, TestNoise, rare_split, unknown_split
from ..finetune import runner as finetune_runner
from ..finetune.cli import parse_seeds
from ..finetune.config import build_config, learning_rate_for
from ..finetune.registry import baselines
from ..finetune.runner import load_task, prepare, preset_settings
from ..finetune.task import CLASSIFICATION, TAGGING, TaskData
from ..runtime.config import apply_overrides, parse_sets
from ..runtime.loading import AMBERT, checkpoint_kind, load_tokenizer_for
from ..runtime.ranks import is_main_process

DEFAULT_TASKS = ("reviews", "pd98-ner")
#: the fine-tuning budget of an evaluation (a small model on two CPU cores: minutes per run); --set changes it.
#: Mean pooling: a model pretrained with MLM alone has no trained pooler or [CLS] (BERT's pooler learns from NSP)
EVALUATION_SETTINGS = {
    "training.num_train_epochs": 3,
    "training.per_device_train_batch_size": 32,
    "training.warmup_steps": 0.1,
    "training.logging_steps": 1000,
    "task.max_length": 128,
    "task.max_train_examples": 4000,
    "method.pooling": "mean",
    "save_model": False,
}


def kind_settings(model: str | Path) -> dict:
    """Where a checkpoint family needs other evaluation settings: AMBERT has its own heads only (each view's [CLS]
    through the pooler, the two combined), so mean pooling does not apply to it."""
    return {"method.pooling": "pooler"} if checkpoint_kind(model) == AMBERT else {}


def default_learning_rate(model: str | Path) -> float:
    """The fine-tuning rate by the model's width, BERT-base and up at 5e-5 (a rate these short runs need)."""
    return learning_rate_for(model, 5e-5)


def evaluate_task(
    task: str,
    model: str | Path,
    out: Path,
    seeds: list[int],
    scratch: bool,
    overrides: dict,
    progress: bool,
    noise: NoiseSpec | None = None,
) -> dict:
    """Fine-tune ``model`` (and its scratch twin) on one embedded task; returns both results and the baselines."""

    def config_for(kind: str):
        settings = {
            **preset_settings(task),
            "task.preset": task,
            "model.path": str(model),
            "seeds": seeds,
            "output_dir": str(out / task / kind),
            "model.scratch": kind == "scratch",
            "training.learning_rate": default_learning_rate(model),
            **EVALUATION_SETTINGS,
            **kind_settings(model),
        }
        if not progress:
            settings["training.disable_tqdm"] = True
        return build_config([apply_overrides({}, settings)], overrides)

    pretrained_config = config_for("pretrained")
    data = load_task(pretrained_config)
    noise_report = add_test_variants(data, noise, vocabulary(model))
    prepared = prepare(pretrained_config, task=data, progress=progress)
    row: dict[str, Any] = {
        "task": task,
        "metric": data.metric,
        "pretrained": finetune_runner.run(pretrained_config, prepared, progress),
    }
    if scratch:
        row["scratch"] = finetune_runner.run(config_for("scratch"), prepared, progress)
    row["baselines"] = {name: scores["score"] for name, scores in baselines(data).items()}
    row["variants"] = {
        name: {
            "examples": len(data.splits[name].examples),
            "baselines": {b: scores["score"] for b, scores in baselines(data, name).items()},
        }
        for name in data.splits
        if name not in ("train", "dev", "test")
    }
    if noise_report:
        row["noise"] = noise_report
    return row


def vocabulary(model: str | Path) -> set[str]:
    """The tokens of a checkpoint's tokenizer."""
    tokenizer = load_tokenizer_for(model, checkpoint_kind(model))
    return set(tokenizer.get_vocab())


def add_test_variants(data: TaskData, noise: NoiseSpec | None, vocab=None, seed: int = 1) -> dict | None:
    """Add ``test_rare`` (test examples with a character seen at most twice in training), with ``vocab`` (the
    model's tokens) ``test_unk`` (test examples with a character outside it) and, with ``noise``, ``test_noisy``
    (the test texts with typos) to the task's splits; returns the noise's report."""
    for subset in (rare_split(data), unknown_split(data, vocab) if vocab is not None else None):
        if subset is not None and subset.examples:
            data.splits[subset.name] = subset
    if noise is None or data.kind not in (CLASSIFICATION, TAGGING):  # spelling correction brings its own typos
        return None
    typist = TestNoise(noise, seed=seed)
    data.splits["test_noisy"] = typist.split(data.splits["test"], "test_noisy")
    return typist.report()


def summary(row: dict) -> dict:
    """Test metric mean and std of each arm, and the difference of the means."""
    out = {"task": row["task"], "metric": row["metric"]}
    for arm in ("pretrained", "scratch"):
        if arm in row:
            test, std = row[arm]["test"], row[arm]["test_std"]
            out[arm] = {
                "mean": test["score"],
                "std": std["score"],
                "dev_mean": row[arm]["score"],
                "runs": [r["test"]["score"] for r in row[arm]["runs"]],
                # every figure of the task's scorer (spelling correction: detection and correction P/R/F1 at
                # sentence and character level, false positive rate ...), mean and std over seeds
                "figures": {k: v for k, v in test.items() if k != "score" and isinstance(v, (int, float))},
                "figures_std": {k: v for k, v in std.items() if k != "score" and isinstance(v, (int, float))},
            }
    if "scratch" in out:
        out["difference"] = out["pretrained"]["mean"] - out["scratch"]["mean"]
        out["gap_exceeds_both_stds"] = abs(out["difference"]) > max(out["pretrained"]["std"], out["scratch"]["std"])
    out["baselines"] = row["baselines"]
    out["variants"] = {name: variant_summary(row, name) for name in row.get("variants", {})}
    if "noise" in row:
        out["noise"] = row["noise"]
    return out


def variant_summary(row: dict, name: str) -> dict:
    """Mean and std over seeds of each arm on the ``name`` split (noisy or rare test), with its baselines."""
    out = {"examples": row["variants"][name]["examples"], "baselines": row["variants"][name]["baselines"]}
    for arm in ("pretrained", "scratch"):
        if arm in row:
            scores = [r[name]["score"] for r in row[arm]["runs"] if name in r]
            mean = statistics.fmean(scores)
            out[arm] = {"mean": mean, "std": statistics.stdev(scores) if len(scores) > 1 else 0.0, "runs": scores}
    if "scratch" in out:
        out["difference"] = out["pretrained"]["mean"] - out["scratch"]["mean"]
    return out


def table(rows: list[dict]) -> str:
    header = f"{'task':<10} {'metric':<9} {'pretrained':>15} {'scratch':>15} {'difference':>10}  baselines"
    lines = [header, "-" * len(header)]
    for r in rows:
        p = f"{r['pretrained']['mean']:.2f} +- {r['pretrained']['std']:.2f}"
        s = f"{r['scratch']['mean']:.2f} +- {r['scratch']['std']:.2f}" if "scratch" in r else "-"
        d = f"{r['difference']:+.2f}" if "difference" in r else "-"
        b = ", ".join(f"{k} {v:.2f}" for k, v in r["baselines"].items())
        lines.append(f"{r['task']:<10} {r['metric']:<9} {p:>15} {s:>15} {d:>10}  {b}")
        for name, v in r.get("variants", {}).items():
            label = f"  {name.removeprefix('test_')} ({v['examples']})"
            p = f"{v['pretrained']['mean']:.2f} +- {v['pretrained']['std']:.2f}"
            s = f"{v['scratch']['mean']:.2f} +- {v['scratch']['std']:.2f}" if "scratch" in v else "-"
            d = f"{v['difference']:+.2f}" if "difference" in v else "-"
            b = ", ".join(f"{k} {x:.2f}" for k, x in v["baselines"].items())
            lines.append(f"{label:<20} {p:>15} {s:>15} {d:>10}  {b}")
    return "\n".join(lines)


def run(
    model: str | Path,
    tasks=DEFAULT_TASKS,
    seeds: list[int] | None = None,
    scratch: bool = True,
    output_dir: str | Path = "runs/evaluate",
    overrides: dict | None = None,
    progress: bool = True,
    noise: str | NoiseSpec | None = None,
) -> dict:
    """Evaluate ``model``; returns ``{"model", "settings", "tasks": [summaries], "details": [...]}``. ``noise``
    (``phonetic:0.1,visual:0.05``) adds a noisy copy of each test set, scored beside the clean one."""
    out = Path(output_dir)
    spec = NoiseSpec.parse(noise) if isinstance(noise, str) else noise
    details = [
        evaluate_task(t, model, out, seeds or [1], scratch, dict(overrides or {}), progress, spec) for t in tasks
    ]
    report = {
        "model": str(model),
        "seeds": seeds or [1],
        "settings": {
            "training.learning_rate": default_learning_rate(model),
            **EVALUATION_SETTINGS,
            **(overrides or {}),
        },
        "tasks": [summary(d) for d in details],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    return report


def add_parser(subparsers, name: str = "evaluate", help_: str | None = None) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help=help_, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", help="checkpoint directory")
    parser.add_argument("--tasks", default=",".join(DEFAULT_TASKS), help="embedded tasks (reviews, pd98-ner, sighan15)")
    parser.add_argument("--seeds", default="1", help="a list (1,2,3) or a count (3)")
    parser.add_argument(
        "--baseline",
        choices=["scratch", "none"],
        default="scratch",
        help="scratch: also train the same architecture from random weights (default)",
    )
    parser.add_argument("--output-dir", default="runs/evaluate")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="fine-tuning settings for both arms, e.g. --set training.num_train_epochs=3",
    )
    parser.add_argument(
        "--noise",
        default=None,
        metavar="KIND:SHARE,...",
        help="also score a copy of each test set with typos: phonetic (same or near sound) and visual (look-alike) "
        "characters replacing that share of the Chinese characters, e.g. phonetic:0.1,visual:0.05 (seeded)",
    )
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(run=run_command)
    return parser


def run_command(args: argparse.Namespace) -> int:
    """``chinese-ptm evaluate MODEL``: evaluate, print the table (main process); exit status 0."""

    report = run(
        args.model,
        [t.strip() for t in args.tasks.split(",") if t.strip()],
        parse_seeds(args.seeds),
        args.baseline == "scratch",
        args.output_dir,
        parse_sets(args.set),
        not args.no_progress,
        args.noise,
    )
    if is_main_process():
        print(table(report["tasks"]))
        print(f"wrote {Path(args.output_dir) / 'evaluation.json'}")
    return 0
