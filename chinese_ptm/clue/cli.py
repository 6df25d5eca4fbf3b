"""``chinese-ptm finetune clue TASK|all --model DIR --data-dir DIR --output-dir DIR ...``."""

from __future__ import annotations

import argparse
import sys

from ..cli import parse_sets
from .readers import ClueDataError
from .runner import is_main_process, run_all, run_task, summary_table
from .tasks import TASKS, HyperParams, get_task

PROG = "chinese-ptm finetune"
BENCHMARK = "clue"
DEFAULT_OUTPUT_DIR = "clue_runs"

EPILOG = """\
examples:
  chinese-ptm finetune clue tnews --model ckpt/ --data-dir CLUEdatasets/tnews_public --output-dir runs/tnews
  chinese-ptm finetune clue cmrc2018 --model ckpt/ --data-dir CLUEdatasets --set max_length=384 --set lr=3e-5
  chinese-ptm finetune clue all --model ckpt/ --data-dir CLUEdatasets --output-dir runs/clue
  torchrun --nproc_per_node 8 -m chinese_ptm.clue clue tnews --model ckpt/ --data-dir CLUEdatasets
  chinese-ptm finetune clue --list          # tasks, files, metrics and default settings

settings (--set NAME=VALUE, repeatable): """ + ", ".join(vars(HyperParams()))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Fine-tune on CLUE tasks, evaluate on dev and write CLUE submission files.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("benchmark", choices=[BENCHMARK], help="the benchmark (clue)")
    parser.add_argument("task", nargs="?", help=f"a task ({', '.join(TASKS)}) or 'all'")
    parser.add_argument("--model", help="checkpoint directory: GlyceBERT, original ChineseBERT or Chinese BERT")
    parser.add_argument("--data-dir", help="the task's folder (e.g. tnews_public/), or the folder holding them")
    parser.add_argument("--output-dir", default=None,
                        help=f"where submissions and results.json go (default {DEFAULT_OUTPUT_DIR}/<task>)")
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting, e.g. --set lr=3e-5 --set epochs=2 (see below)")
    parser.add_argument("--tokenizer", default=None, help="tokenizer directory (default: the --model directory)")
    parser.add_argument("--save-model", action="store_true", help="also save the fine-tuned model in OUTPUT/model")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--list", action="store_true", help="list the tasks and their default settings")
    return parser


def task_table() -> str:
    header = f"{'task':<12} {'kind':<16} {'metric':<9} {'lr':>7} {'epochs':>6} {'batch':>5} {'length':>6}  folder / submission"
    lines = [header, "-" * len(header)]
    for spec in TASKS.values():
        hp = spec.defaults
        lines.append(f"{spec.name:<12} {spec.kind:<16} {spec.metric:<9} {hp.lr:>7.0e} {hp.epochs:>6g} "
                     f"{hp.batch_size:>5} {hp.max_length:>6}  {spec.folder} / {spec.submission}")
    return "\n".join(lines)


def main(argv: list[str] | None = None):
    """Entry point of ``chinese-ptm finetune``; returns the results (a list of dicts) or an exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] != BENCHMARK and not argv[0].startswith("-"):
        argv = [BENCHMARK] + argv  # `python -m chinese_ptm.clue tnews ...`
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        print(task_table())
        return 0
    if not args.task or not args.model or not args.data_dir:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: give a task (or 'all'), --model and --data-dir", file=sys.stderr)
        return 2
    options = dict(settings=None, max_steps=args.max_steps, tokenizer_dir=args.tokenizer,
                   save_model=args.save_model, progress=not args.no_progress)
    try:
        options["settings"] = parse_sets(args.set, "--set lr=3e-5")
        if args.task.lower() == "all":
            results = run_all(args.model, args.data_dir, args.output_dir or DEFAULT_OUTPUT_DIR, **options)
        else:
            spec = get_task(args.task)
            results = [run_task(spec, args.model, args.data_dir, args.output_dir or f"{DEFAULT_OUTPUT_DIR}/{spec.name}",
                                **options)]
    except (ClueDataError, FileNotFoundError, ValueError, ImportError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1
    if is_main_process():
        print(summary_table(results))
    if any("error" in r for r in results):
        return 1
    return results
