"""``chinese-ptm pretrain RECIPE``: train a recipe, print its plan (``--dry-run``) or its fields."""

from __future__ import annotations

import argparse
import json

from ..runtime.config import parse_sets
from ..runtime.ranks import is_main_process
from .recipe import Recipe, bundled_recipe_names, load_recipe, recipe_help
from .runner import __doc__ as RUNNER_DOC
from .runner import describe, run


def add_parser(subparsers, name: str = "pretrain", help_: str | None = None) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help=help_, description=RUNNER_DOC, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "recipe", nargs="?", help=f"a bundled recipe by name ({', '.join(bundled_recipe_names())}) or a recipe file"
    )
    parser.add_argument("--train-files", nargs="+", default=None, help="corpus files (data.train_files)")
    parser.add_argument("--output-dir", default=None, help="output directory (output_dir)")
    parser.add_argument("--max-steps", type=int, default=None, help="optimizer steps (training.max_steps)")
    parser.add_argument("--init-from", default=None, help="checkpoint to start from (model.init_from)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any recipe field, e.g. --set training.learning_rate=5e-4 (repeatable)",
    )
    parser.add_argument("--no-resume", action="store_true", help="start over even if checkpoints exist")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the resolved plan of every stage as JSON for this world size and exit",
    )
    parser.add_argument("--help-recipe", action="store_true", help="list every recipe field with its help")
    parser.set_defaults(run=run_command, parser=parser)
    return parser


def recipe_from_args(args: argparse.Namespace) -> Recipe:
    """The recipe named on the command line with its shortcuts and ``--set`` overrides applied."""

    overrides = parse_sets(args.set, "--set training.learning_rate=5e-4")
    shortcuts = {
        "data.train_files": args.train_files,
        "output_dir": args.output_dir,
        "training.max_steps": args.max_steps,
        "model.init_from": args.init_from,
    }
    overrides.update({k: v for k, v in shortcuts.items() if v is not None})
    return load_recipe(args.recipe, overrides)


def run_command(args: argparse.Namespace) -> int:
    """Exit status 0; a user error is printed in one line by the command line (status 1); 2 for usage."""
    if args.help_recipe:
        print(recipe_help())
        return 0
    if not args.recipe:
        args.parser.print_usage()
        return 2
    recipe = recipe_from_args(args)
    if args.dry_run:
        if is_main_process():
            print(json.dumps(describe(recipe), indent=2, ensure_ascii=False))
        return 0
    reports = run(recipe, resume=not args.no_resume)
    if is_main_process():
        for report in reports:
            print(
                f"{report['recipe']}: {report['steps']} steps, {report['tokens_seen']} tokens, held-out MLM "
                f"accuracy {report['heldout_mlm_accuracy']:.4f}, loss curve {report['loss_curve']}"
            )
    return 0
