"""Held-out MLM accuracy of finished pretraining runs, pooled over many mask draws.

A run's own held-out figure masks its held-out records once: at the tiny recipe's 200 records about 1,350
masked tokens, whose sampling error alone is about 1.2 points. This bench masks the same records again with
other seeds (the run's held-out masking strategy, the run's collator) and pools the draws, so that runs which
share their held-out records (the arms of one pretraining seed in bench/learning.py, whose records are packed
by that seed) are compared with the masking's noise averaged out. Draw 0 is the run's own masks, so its figure
equals the run's report. The records stay the same; a larger held-out set needs a new run
(``data.eval_records``).

    python bench/heldout.py runs/seed2/GlyceBERT runs/seed2-matched/BERT --draws 20 --out heldout.json

Every run after the first that shares the first's held-out records is also compared with it draw by draw (the
same masked tokens), which leaves less noise than two pooled figures.

Each run folder is one written by ``chinese-ptm pretrain`` (its report.json and final/); relative paths in its
report (the prepared records) are read from where that run was started, found from the folder itself.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import statistics
import tempfile
from pathlib import Path

from transformers import PrinterCallback, ProgressCallback

from chinese_ptm.modeling.factory import checkpoint_kind, load_pretrained, model_class
from chinese_ptm.pretrain.corpus import load_run_tokenizer, prepared_records
from chinese_ptm.pretrain.recipe import load_recipe
from chinese_ptm.pretrain.runner import REPORT_FILE, PretrainTrainer, make_collator, pretraining_arguments
from chinese_ptm.runtime.loading import transformers_progress

SECTIONS = ("model", "data", "masking", "training")
#: seeds of the extra draws: far from the runs' own (training seed + 1), which are small numbers
DRAW_SEED_BASE = 100_000
#: maskings per run: ~40 s at the tiny size; their mean's masking error is a quarter of one masking's
DEFAULT_DRAWS = 20


def started_in(run_dir: Path, output_dir: str) -> Path:
    """The folder a run was started from: ``run_dir`` less the trailing ``output_dir`` its recipe names."""
    parts = Path(output_dir).parts
    if Path(output_dir).is_absolute() or tuple(run_dir.parts[-len(parts) :]) != parts:
        return Path.cwd()
    return run_dir.parents[len(parts) - 1]


def run_recipe(run_dir: Path):
    """The recipe a run trained with, rebuilt from its report, paths made to work from here."""
    report_path = run_dir / REPORT_FILE
    if not report_path.is_file():
        raise SystemExit(f"{run_dir}: no {REPORT_FILE}; pass the folder of a finished `chinese-ptm pretrain` run")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    config = report["recipe_config"]
    root = started_in(run_dir.resolve(), config["output_dir"])
    settings = {f"{section}.{key}": value for section in SECTIONS for key, value in config[section].items()}
    prepared = settings.get("data.prepared_dir")
    if prepared and not Path(prepared).is_absolute():
        settings["data.prepared_dir"] = str(root / prepared)
    settings["output_dir"] = tempfile.mkdtemp(prefix="heldout-")  # nothing of the run is written over
    settings["training.report_to"] = "none"
    return load_recipe(report["recipe"], settings), report


def heldout_draws(run_dir: Path, draws: int) -> dict:
    """Held-out MLM accuracy of ``run_dir``'s final model under ``draws`` maskings of its held-out records."""
    recipe, report = run_recipe(run_dir)
    tokenizer = load_run_tokenizer(recipe)
    _, heldout, _ = prepared_records(recipe, tokenizer)
    final = run_dir / "final"
    model = load_pretrained(model_class(checkpoint_kind(final), "ForMaskedLM"), final)
    strategy = recipe.masking.heldout_strategy
    seeds = [recipe.training.seed + 1] + [DRAW_SEED_BASE + k for k in range(1, draws)]
    collators = [make_collator(recipe, tokenizer, seed, strategy) for seed in seeds]
    trainer = PretrainTrainer(
        model=model,
        args=pretraining_arguments(recipe),
        eval_dataset=heldout,
        data_collator=collators[0],
        heldout_collator=collators[0],
    )
    for quiet in (PrinterCallback, ProgressCallback):  # one summary line per run instead of a dict per draw
        trainer.remove_callback(quiet)
    accuracy, masked = [], []
    for collator in collators:
        trainer.heldout_collator = collator
        metrics = trainer.evaluate()
        accuracy.append(metrics["heldout_mlm_accuracy"])
        masked.append(metrics["heldout_masked_tokens"])
    pooled = sum(a * n for a, n in zip(accuracy, masked)) / sum(masked)
    spread = statistics.stdev(accuracy) if len(accuracy) > 1 else None
    return {
        "run": str(run_dir),
        "architecture": report["architecture"],
        "steps": report["steps"],
        "reported_heldout_mlm_accuracy": report["heldout_mlm_accuracy"],
        "records": len(heldout),
        "records_sha256": hashlib.sha256(
            json.dumps([list(map(int, ids)) for ids in heldout["input_ids"]]).encode()
        ).hexdigest(),
        "draws": accuracy,
        "masked_tokens": masked,
        "pooled_accuracy": pooled,
        "draws_std": spread,  # how much one masking moves the figure: the error of a run's own report
        # the error left in the pooled figure by the masking (the records are the same in every draw)
        "pooled_standard_error": spread / math.sqrt(len(accuracy)) if spread is not None else None,
    }


def paired_difference(run: dict, reference: dict) -> dict | None:
    """``run`` less ``reference``, draw by draw: both masked alike (same records, same seeds), so the two models'
    differences on the same masked tokens, averaged; None for runs with other records."""
    if run["records_sha256"] != reference["records_sha256"] or len(run["draws"]) < 2:
        return None
    gaps = [a - b for a, b in zip(run["draws"], reference["draws"])]
    return {
        "against": reference["run"],
        "mean": statistics.mean(gaps),
        "standard_error": statistics.stdev(gaps) / math.sqrt(len(gaps)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="folders of finished pretraining runs")
    parser.add_argument(
        "--draws", type=int, default=DEFAULT_DRAWS, help="maskings of the held-out records (the first: the run's own)"
    )
    parser.add_argument("--out", type=Path, help="write the results here as JSON")
    args = parser.parse_args()
    if args.draws < 1:
        parser.error("--draws must be at least 1")
    with transformers_progress(False):  # no loading bars between the result lines
        results = [heldout_draws(run, args.draws) for run in args.runs]
    for r in results[1:]:
        r["paired_difference"] = paired_difference(r, results[0])
    for r in results:
        pooled = f"{len(r['draws'])} draws pooled {r['pooled_accuracy']:.2%}"
        if r["draws_std"] is not None:
            pooled += f" +- {r['pooled_standard_error']:.2%} (one draw's std {r['draws_std']:.2%})"
        print(
            f"{r['run']}: {r['architecture']}, {r['steps']} steps; own masks {r['draws'][0]:.2%} "
            f"(report {r['reported_heldout_mlm_accuracy']:.2%}); {pooled}"
        )
        if r.get("paired_difference"):
            gap = r["paired_difference"]
            print(f"  against {gap['against']}, same masks: {gap['mean']:+.2%} +- {gap['standard_error']:.2%}")
    text = json.dumps({"draws": args.draws, "runs": results}, indent=2)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)


if __name__ == "__main__":
    main()
