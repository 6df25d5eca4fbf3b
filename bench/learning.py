"""Does the tiny recipe learn, and does what it learns pay off? Two measurements on this machine.

``--explore``: variants of the tiny ChineseBERT recipe at a fixed number of steps (learning rate, sequence
length vs batch, dropout, masking, depth vs width, the glyph input scale and the fusion initialisation),
each reported with its held-out MLM accuracy and wall time.

default: pretraining arms (GlyceBERT with glyph + pinyin, BERT, ELECTRA and ALBERT on either trunk: the tiny
recipes) pretrained for the same wall time on the same prepared corpus, then ``chinese-ptm evaluate``d
(pretrained vs scratch, several seeds) on the embedded real tasks.

``--upgrade``: the path of a user with a BERT checkpoint: a tiny BERT, continued for the same time as BERT and
as GlyceBERT (``--init-from``, the fusion starting as the BERT inside).

Every BERT or GlyceBERT arm's held-out MLM is also pooled over 20 maskings of its held-out records
(bench/heldout.py, ``heldout_pooled``), and each later arm compared with the first mask for mask: a run's own
figure is one masking, about a point of noise at 20 minutes.

    python bench/learning.py --explore --steps 600
    python bench/learning.py --explore --steps 1200 --explore-seeds 42,2,3 --variants "shipped recipe,BERT (no glyph or pinyin)"
    python bench/learning.py --minutes 4 --seeds 3 --arms GlyceBERT,BERT,ELECTRA,ALBERT
    python bench/learning.py --minutes 20 --seeds 3 --arms GlyceBERT,BERT,GlyceBERT-no-glyph,GlyceBERT-no-pinyin \
        --tasks reviews,pd98-ner,sighan15 --noise phonetic:0.1
    python bench/learning.py --minutes 20 --seeds 3 --arms GlyceBERT,BERT --pretrain-seed 2 --workdir runs/seed2
    python bench/learning.py --arms BERT --match GlyceBERT:8641 --pretrain-seed 2 --workdir runs/seed2-matched
    python bench/learning.py --upgrade --base-run runs/seed2/BERT --minutes 20 --seeds 3 --pretrain-seed 2 \
        --workdir runs/seed2 --noise phonetic:0.1
    python bench/learning.py --upgrade --base-minutes 10 --minutes 10 --seeds 3 --noise phonetic:0.1

Prints JSON (and writes it with --out).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

#: each variant changes the shipped tiny recipe in one respect (the recipe keeps what measured best)
VARIANTS = {
    "shipped recipe": {},
    "lr 2e-3": {"training.learning_rate": 2e-3},
    "lr 5e-4": {"training.learning_rate": 5e-4},
    "dropout 0.1": {"model.hidden_dropout_prob": 0.1, "model.attention_probs_dropout_prob": 0.1},
    "128 tokens x 32 sequences": {
        "data.max_length": 128,
        "training.global_batch_size": 32,
        "training.micro_batch_size": 32,
    },
    "char masking": {"masking.strategy": "char", "masking.heldout_strategy": "mixed"},
    "raw glyph bitmaps (scale 1)": {"model.glyph_scale": 1.0},
    "random fusion init": {"model.fusion_init": "random"},
    # at 1/255 the glyph features leave glyph_map ~14x the word embedding's norm; under Adam an input's scale is a
    # learning-rate multiplier for the layers after it, so the glyph branch moves the fusion ~14x faster
    "glyph features at the word embedding's scale (1/3570)": {"model.glyph_scale": 1 / 3570},
    "4 layers x 256 (small)": {"model.size": "small"},
    "GlyceBERT without glyphs": {"model.use_glyph": False},
    "GlyceBERT without pinyin": {"model.use_pinyin": False},
    "GlyceBERT without glyphs or pinyin (fusion only)": {"model.use_glyph": False, "model.use_pinyin": False},
    "BERT (no glyph or pinyin)": {"model.architecture": "bert"},
}


def pretrain(name: str, overrides: dict, workdir: Path, recipe: str) -> dict:
    from chinese_ptm.modeling.factory import draws_open_glyphs
    from chinese_ptm.pretrain.recipe import load_recipe
    from chinese_ptm.pretrain.runner import run

    out = workdir / name.replace(" ", "_").replace("/", "-")
    settings = {
        "output_dir": str(out),
        "training.report_to": "none",
        "training.disable_tqdm": True,
        "training.save_steps": 100000,
        **overrides,
    }
    # records fit one length and one tokenizer (its vocabulary, and glyph ids for models that draw open glyphs)
    loaded = load_recipe(recipe, settings)
    model = loaded.model
    tokens = f"{Path(model.tokenizer).name}-" if model.tokenizer else "words-" if model.granularity == "word" else ""
    glyphs = "open" if draws_open_glyphs(model) else "plain"
    prepared = workdir / f"prepared-{overrides.get('data.max_length', 'recipe')}-{tokens}{glyphs}"
    started = time.perf_counter()
    report = run(load_recipe(recipe, {**settings, "data.prepared_dir": str(prepared)}), resume=False)[-1]
    return summary(name, overrides, report, loaded.training.seed) | {"wall_seconds": time.perf_counter() - started}


def summary(name: str, overrides: dict, report: dict, seed: int) -> dict:
    """What the benches keep of a pretraining run's report."""
    return {
        "variant": name,
        "overrides": overrides,
        "pretrain_seed": seed,
        "steps": report["steps"],
        "heldout_mlm_accuracy": report["heldout_mlm_accuracy"],
        "heldout_mlm_loss": report["heldout_mlm_loss"],
        "heldout_word_mlm_accuracy": report.get("heldout_word_mlm_accuracy"),  # AMBERT's word view
        "train_seconds": report["seconds_this_run"],
        "tokens_seen": report["tokens_seen"],
        "loop_seconds_per_step": loop_seconds_per_step(report.get("log_history", [])),
        "final_checkpoint": report["final_checkpoint"],
    }


def earlier_run(run_dir: Path) -> dict:
    """A finished BERT pretraining run of this bench (its ``report.json``), to continue on the upgrade path."""
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    if report["architecture"] != "bert":
        raise SystemExit(f"--base-run {run_dir}: a {report['architecture']} run; the upgrade path starts from BERT")
    seed = report["recipe_config"]["training"]["seed"]
    # the report names its checkpoint relative to where that run was started; it lies in the run's own folder
    report["final_checkpoint"] = str(run_dir / Path(report["final_checkpoint"]).name)
    return summary(f"earlier run {run_dir}", {}, report, seed) | {"wall_seconds": report["seconds_this_run"]}


def seconds_per_step(name: str, overrides: dict, workdir: Path, recipe: str, steps: int = 150) -> float:
    """Calibration: the training loop's seconds per step of an arm, the median over the logging windows of one
    ``steps``-step run (10 steps each, the first two dropped). A median ignores what a window pays once (the first
    batches' kernels, the open glyphs drawn the first time a character appears, a moment of other work); the
    difference of a short and a long run that this replaced read a 1-second hiccup in the short run as 20% of a
    step, and gave BERT 14% more steps than equal time in one 20-minute comparison."""
    settings = {"training.max_steps": steps, "training.warmup_steps": 1, "training.eval_steps": None}
    result = pretrain(f"calibrate {name}", {**overrides, **settings, "training.logging_steps": 10}, workdir, recipe)
    if result["loop_seconds_per_step"] is None:
        raise RuntimeError(f"calibrating {name}: {steps} steps logged too few windows to time")
    return result["loop_seconds_per_step"]


def loop_seconds_per_step(history: list[dict]) -> float | None:
    """A run's seconds per training step, the median over its logging windows after the first two (a window's
    time is its tokens over its logged tokens/s); None for a run of fewer than four windows."""
    windows = [(row["step"], row["tokens_seen"], row["tokens_per_s"]) for row in history if "loss" in row]
    per_step = [
        (tokens - tokens_before) / rate / (step - step_before)
        for (step_before, tokens_before, _), (step, tokens, rate) in zip(windows, windows[1:])
        if rate > 0 and step > step_before
    ][1:]
    return statistics.median(per_step) if len(per_step) >= 2 else None


def explore(args) -> dict:
    """Each variant at ``args.steps``, once per seed of ``--explore-seeds`` (the recipe's own seed is 42)."""
    rows = []
    seeds = [int(seed) for seed in args.explore_seeds.split(",")]
    for name in args.variants.split(",") if args.variants else VARIANTS:
        for seed in seeds:
            overrides = {**VARIANTS[name], "training.max_steps": args.steps, "training.seed": seed}
            label = name if len(seeds) == 1 else f"{name} seed {seed}"
            rows.append(pretrain(label, overrides, args.workdir, args.recipe) | {"seed": seed})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return {"mode": "explore", "recipe": args.recipe, "steps": args.steps, "seeds": seeds, "rows": rows}


#: the pretraining arms compared at equal wall time: (tiny recipe, overrides); each shipped tiny recipe keeps
#: the data, schedule and batch of chinesebert-tiny, so the arms differ in the model and objective only
ARMS = {
    "GlyceBERT": ("chinesebert-tiny", {}),
    "BERT": ("chinesebert-tiny", {"model.architecture": "bert"}),
    "GlyceBERT-no-glyph": ("chinesebert-tiny", {"model.use_glyph": False}),
    "GlyceBERT-no-pinyin": ("chinesebert-tiny", {"model.use_pinyin": False}),
    # BERT plus the fusion layer: what the two ablations above share
    "GlyceBERT-fusion-only": ("chinesebert-tiny", {"model.use_glyph": False, "model.use_pinyin": False}),
    # BERT with the decoder untied from the word embedding: whether the fusion layer's gain is the untying
    "BERT-untied": ("chinesebert-tiny", {"model.architecture": "bert", "model.tie_word_embeddings": False}),
    "ELECTRA": ("electra-tiny", {}),
    "ELECTRA-BERT": ("electra-tiny", {"model.architecture": "bert"}),
    "ALBERT": ("albert-tiny", {}),
    "GlyceBERT-ALBERT": ("albert-tiny", {"model.architecture": "glycebert"}),
}


#: arms whose fine-tuned architecture is another arm's: its from-scratch baseline is that arm's (an ELECTRA
#: discriminator is the GlyceBERT / BERT encoder it trains)
SAME_SCRATCH = {"ELECTRA": "GlyceBERT", "ELECTRA-BERT": "BERT"}


def equal_time_arm(name: str, recipe: str, overrides: dict, args, scratch: bool, per_step: float, seconds=None) -> dict:
    """One arm: pretrained for ``seconds`` (default ``args.minutes``) of its own training loop (steps from its
    calibration, ``per_step`` seconds), then evaluated on ``args.tasks`` (clean and, with ``args.noise``, noisy)
    over ``args.seeds``."""
    from chinese_ptm.apps.demo import DEMO_EVALUATION
    from chinese_ptm.apps.evaluate import run as evaluate

    steps = max(int((seconds or args.minutes * 60) / per_step), 10)
    arm = pretrain(name, {**overrides, "training.max_steps": steps}, args.workdir, recipe)
    arm["recipe"], arm["seconds_per_step"] = recipe, per_step
    if recipe == "chinesebert-tiny":  # BERT and GlyceBERT masked LMs: the held-out figure over many maskings
        arm["heldout_pooled"] = pooled_heldout(arm["final_checkpoint"])
    arm["evaluation"] = evaluate(
        arm["final_checkpoint"],
        tasks=args.tasks.split(","),
        seeds=list(range(1, args.seeds + 1)),
        scratch=scratch,
        overrides=DEMO_EVALUATION if args.budget == "demo" else {},
        output_dir=args.workdir / f"evaluate-{name}",
        progress=False,
        noise=args.noise,
    )["tasks"]
    print(json.dumps({k: v for k, v in arm.items() if k != "evaluation"}), file=sys.stderr, flush=True)
    return arm


def pooled_heldout(final_checkpoint: str) -> dict:
    """bench/heldout.py on the run: its held-out records masked DEFAULT_DRAWS times (a run's own figure is one
    masking of ~1,350 tokens, whose noise is about a point)."""
    from heldout import DEFAULT_DRAWS, heldout_draws

    return heldout_draws(Path(final_checkpoint).parent, DEFAULT_DRAWS)


def paired_heldout(arms: dict) -> None:
    """Each arm's pooled held-out figure against the first arm's, mask for mask, where they share records."""
    from heldout import paired_difference

    pooled = [arm["heldout_pooled"] for arm in arms.values() if "heldout_pooled" in arm]
    for later in pooled[1:]:
        later["paired_difference"] = paired_difference(later, pooled[0])


def seeded(args) -> dict:
    """The pretraining seed (weights, masking, data order, packing) where ``--pretrain-seed`` sets one; the
    recipes' own is 42. Short pretraining runs move by up to 3 points with it, so arms are compared per seed."""
    return {} if args.pretrain_seed is None else {"training.seed": args.pretrain_seed}


def compare(args, arms: dict | None = None) -> dict:
    """The arms named by ``args.arms`` (of ``arms``, default ARMS) at equal wall time; each arm's scratch twin
    too unless ``args.baseline`` is ``none``."""
    arms = arms or ARMS
    out = {"mode": "compare", "minutes": args.minutes, "seeds": args.seeds, "evaluation_budget": args.budget}
    out["baseline"] = getattr(args, "baseline", "scratch")
    out |= {"tasks": args.tasks, "noise": args.noise, "arms": {}}
    names = args.arms.split(",")
    arms = {name: (recipe, overrides | seeded(args)) for name, (recipe, overrides) in arms.items()}
    # every arm calibrated back to back before any long run: work that shares the machine later slows the runs
    # down but cannot change the step counts that equal time gives each arm
    reference, reference_steps = args.match or (None, 0)
    timed = names + ([reference] if reference and reference not in names else [])
    per_step = {name: seconds_per_step(name, arms[name][1], args.workdir, arms[name][0]) for name in timed}
    out["seconds_per_step"] = per_step
    # --match: the time that ARM's STEPS take (an arm of an earlier run) instead of --minutes
    seconds = reference_steps * per_step[reference] if reference else None
    out["matched"] = {"arm": reference, "steps": reference_steps, "seconds": seconds} if reference else None
    for name in names:
        recipe, overrides = arms[name]
        scratch = SAME_SCRATCH.get(name) not in out["arms"] and out["baseline"] == "scratch"
        arm = out["arms"][name] = equal_time_arm(name, recipe, overrides, args, scratch, per_step[name], seconds)
        if name in SAME_SCRATCH and not scratch and out["baseline"] == "scratch":
            arm["scratch_from_arm"] = SAME_SCRATCH[name]
    paired_heldout(out["arms"])
    return out


def upgrade(args) -> dict:
    """The path of a user with a BERT checkpoint: a tiny BERT pretrained for ``args.base_minutes``, then
    continued for ``args.minutes`` as BERT and, from the same checkpoint, as GlyceBERT (``--init-from``: the
    fusion starts as the BERT inside). Both continuations are evaluated like the compare arms."""
    bert = {"model.architecture": "bert"} | seeded(args)
    if args.base_run:
        base = earlier_run(args.base_run)
    else:
        per_step = seconds_per_step("upgrade base BERT", bert, args.workdir, "chinesebert-tiny")
        steps = max(int(args.base_minutes * 60 / per_step), 10)
        base = pretrain("upgrade base BERT", {**bert, "training.max_steps": steps}, args.workdir, "chinesebert-tiny")
    out = {"mode": "upgrade", "base_minutes": None if args.base_run else args.base_minutes, "base": base}
    out |= {"minutes": args.minutes, "seeds": args.seeds, "tasks": args.tasks, "noise": args.noise, "arms": {}}
    start = {"model.init_from": base["final_checkpoint"], "training.warmup_steps": 10} | seeded(args)
    continuations = {"BERT continued": {"model.architecture": "bert"}, "GlyceBERT grown from BERT": {}}
    per_step = {
        name: seconds_per_step(name, {**start, **overrides}, args.workdir, "chinesebert-tiny")
        for name, overrides in continuations.items()
    }
    for name, overrides in continuations.items():
        arm = equal_time_arm(name, "chinesebert-tiny", {**start, **overrides}, args, False, per_step[name])
        out["arms"][name] = arm
    paired_heldout(out["arms"])
    return out


def arm_steps(text: str) -> tuple[str, int]:
    """``--match ARM:STEPS`` as (arm, steps)."""
    arm, _, steps = text.partition(":")
    if arm not in ARMS or not steps.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: give ARM:STEPS, ARM one of {', '.join(ARMS)}, e.g. GlyceBERT:8641")
    return arm, int(steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--explore", action="store_true", help="the recipe variants at a fixed number of steps")
    parser.add_argument("--variants", default=None, help="comma-separated names of VARIANTS (default: all)")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--explore-seeds", default="42", help="explore: comma-separated seeds of each variant")
    parser.add_argument("--minutes", type=float, default=4.0, help="compare: pretraining wall time of each arm")
    parser.add_argument("--seeds", type=int, default=3, help="fine-tuning seeds of each evaluation")
    parser.add_argument("--pretrain-seed", type=int, default=None, help="compare/upgrade: pretraining seed (42)")
    parser.add_argument(
        "--budget",
        choices=["full", "demo"],
        default="full",
        help="compare: fine-tuning budget of the evaluation (demo: 3,000 examples, 2 epochs, batch 16)",
    )
    parser.add_argument("--arms", default="GlyceBERT,BERT", help=f"compare: comma-separated, of {', '.join(ARMS)}")
    parser.add_argument(
        "--match",
        type=arm_steps,
        default=None,
        metavar="ARM:STEPS",
        help="compare: pretrain each arm for the time STEPS of ARM take (calibrated here), e.g. an earlier run's arm",
    )
    parser.add_argument("--tasks", default="reviews,pd98-ner", help="evaluation tasks (reviews, pd98-ner, sighan15)")
    parser.add_argument("--noise", default=None, help="evaluation test-time noise, e.g. phonetic:0.1")
    parser.add_argument(
        "--baseline", choices=["scratch", "none"], default="scratch", help="compare: fine-tune each arm's scratch twin"
    )
    parser.add_argument("--upgrade", action="store_true", help="a tiny BERT continued as BERT vs as GlyceBERT")
    parser.add_argument("--base-minutes", type=float, default=4.0, help="upgrade: the base BERT's pretraining time")
    parser.add_argument(
        "--base-run", type=Path, default=None, help="upgrade: continue this finished BERT run (e.g. a compare arm's)"
    )
    parser.add_argument("--recipe", default="chinesebert-tiny", help="explore: the recipe the variants change")
    parser.add_argument("--workdir", type=Path, default=Path("runs/bench-learning"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    result = explore(args) if args.explore else upgrade(args) if args.upgrade else compare(args)
    write_result(result, args.out)


def write_result(result: dict, out: Path | None) -> None:
    """A bench's result as JSON: printed, and written to ``out`` when given."""
    text = json.dumps(result, indent=2, ensure_ascii=False, default=str)
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
