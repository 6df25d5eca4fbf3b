"""``chinese-ptm finetune data | clue | multitask | stages | export`` (also ``python -m chinese_ptm.finetune``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import SettingsError
from ..runtime.config import apply_overrides, parse_sets
from ..runtime.ranks import is_main_process
from . import predict as predict_module
from .clue import get_task
from .clue_runs import run_clue_all, run_clue_task, summary_table, task_table
from .config import build_config, read_config_file, settings_help
from .embedded import export
from .multitask import run_multitask, run_stages
from .predict import predict
from .runner import preset_settings, run

DEFAULT_OUTPUT_DIR = "runs/finetune"

EPILOG = """\
examples:
  chinese-ptm finetune data --preset reviews --model runs/cb/final --seeds 3
  chinese-ptm finetune data --task pair --train t.jsonl --dev d.jsonl --test e.jsonl --model ckpt/ \\
      --text-field sentence1 --text-pair-field sentence2 --set strategy=frozen --set pooling=mean
  chinese-ptm finetune data --preset pd98-ner --model ckpt/ --set peft=lora --set training.learning_rate=5e-4
  chinese-ptm finetune clue tnews --model ckpt/ --data-dir CLUEdatasets --output-dir runs/tnews
  chinese-ptm finetune clue all --model ckpt/ --data-dir CLUEdatasets --output-dir runs/clue
  chinese-ptm finetune multitask --tasks reviews,pd98-ner --model ckpt/ --set sampling=proportional
  chinese-ptm finetune stages --tasks reviews,pd98-ner --model ckpt/      # intermediate task, then the target
  chinese-ptm finetune csc --model ckpt/ --real-pairs sighan_train.tsv       # spelling correction, SIGHAN 2015 test
  chinese-ptm finetune export reviews --out data/reviews                   # the embedded task as JSON lines
  torchrun --nproc_per_node 8 -m chinese_ptm.finetune clue tnews --model ckpt/ --data-dir CLUEdatasets

--set NAME=VALUE sets any setting (`--help-settings` lists them): a bare name when one section has it
(strategy, pooling, layers, peft, max_length ...), else section.name (training.learning_rate, training.num_train_epochs,
any TrainingArguments field). --seeds takes a list (1,2,3) or a count (3 = seeds 1, 2, 3).
"""


def _common(parser: argparse.ArgumentParser, model_required: bool = True) -> None:
    parser.add_argument(
        "--model", required=model_required, help="checkpoint: ours, the original ChineseBERT, a Chinese BERT"
    )
    parser.add_argument("--tokenizer", default=None, help="tokenizer directory (default: the checkpoint's)")
    parser.add_argument("--output-dir", default=None, help=f"where results go (default {DEFAULT_OUTPUT_DIR}/<task>)")
    parser.add_argument(
        "--config", default=None, help="a YAML file of settings (sections task, model, method, training)"
    )
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="any setting (see below)")
    parser.add_argument("--seeds", default=None, help="seeds: a list (1,2,3) or a count (3)")
    parser.add_argument("--max-steps", type=int, default=None, help="stop each run after this many optimizer steps")
    parser.add_argument("--scratch", action="store_true", help="random weights of the same architecture (baseline)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _add_data(commands) -> None:
    """``finetune data``: the user's files or an embedded task."""
    data = commands.add_parser(
        "data",
        help="your own files, or an embedded task (--preset reviews|pd98-ner)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_data_arguments(data)


#: the task settings a run on files takes as options of their own (--text-field ... --target-field)
DATA_FIELD_OPTIONS = ("text-field", "text-pair-field", "label-field", "source-field", "target-field", "format")


def add_data_arguments(parser: argparse.ArgumentParser, model_required: bool = True) -> None:
    """The options of a run on the user's files or an embedded task (``finetune data``, ``distill``)."""
    parser.add_argument("--preset", default=None, help="an embedded task: reviews, pd98-ner, sighan15, pd98-ime")
    parser.add_argument(
        "--task",
        default=None,
        help="single | pair | tagging | span | choice | regression | multilabel | correction | seq2seq",
    )
    for name in ("train", "dev", "test"):
        parser.add_argument(f"--{name}", default=None, help=f"{name} file (.jsonl, .json, .csv, .tsv)")
    for name in DATA_FIELD_OPTIONS:
        parser.add_argument(f"--{name}", default=None, help=f"task.{name.replace('-', '_')}")
    _common(parser, model_required)


def _add_clue(commands) -> None:
    """``finetune clue``: a CLUE task or all of them."""
    clue = commands.add_parser(
        "clue", help="a CLUE task or all of them", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    clue.add_argument("task", nargs="?", help="a task (afqmc, tnews, ... cluener) or 'all'")
    clue.add_argument(
        "--data-dir", default=None, help="the task's folder (e.g. tnews_public/), or the folder holding them"
    )
    clue.add_argument("--list", action="store_true", help="list the tasks and their default settings")
    _common(clue, model_required=False)


def _add_sequential(commands) -> None:
    """``finetune multitask`` and ``finetune stages``."""
    for name, text in (
        ("multitask", "one encoder, one head per task, batches drawn from the tasks"),
        ("stages", "two-stage: each task in turn on the previous encoder, a fresh head each time"),
    ):
        sub = commands.add_parser(name, help=text, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.add_argument(
            "--tasks",
            required=True,
            help="comma-separated presets (reviews, pd98-ner, clue:NAME) or "
            "task YAML files; for stages the last is the target",
        )
        sub.add_argument("--data-dir", default=None, help="CLUE tasks: the folder holding them")
        _common(sub)


def _add_csc(commands) -> None:
    """``finetune csc``: spelling correction."""
    csc = commands.add_parser(
        "csc",
        help="spelling correction: train on synthesised typos (+ real pairs), test on SIGHAN 2015",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    csc.add_argument("--recipe", default="csc", help="csc (base models) or csc-tiny (CPU, tiny models), or a YAML file")
    csc.add_argument(
        "--real-pairs",
        action="append",
        default=[],
        metavar="FILE",
        help="wrong<TAB>correct pairs mixed into the training data (repeatable)",
    )
    csc.add_argument(
        "--typo-corpus",
        action="append",
        default=[],
        metavar="FILE",
        help="clean text to synthesise typos into (default: People's Daily, pretraining part)",
    )
    _common(csc)


def add_parser(subparsers, name: str = "finetune", help_: str | None = None) -> argparse.ArgumentParser:
    """``chinese-ptm finetune data | clue | multitask | stages | csc | export``."""
    parser = subparsers.add_parser(
        name,
        help=help_,
        description="Fine-tune on your data, the embedded tasks or CLUE.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--help-settings", action="store_true", help="list every setting with its default")
    parser.set_defaults(run=run_command, parser=parser)
    commands = parser.add_subparsers(dest="finetune_command", metavar="{data,clue,multitask,stages,csc,export}")
    _add_data(commands)
    _add_clue(commands)
    _add_sequential(commands)
    _add_csc(commands)
    export = commands.add_parser("export", help="write an embedded task as train/dev/test.jsonl")
    export.add_argument("name", help="reviews or pd98-ner")
    export.add_argument("--out", required=True, help="output folder")
    return parser


def add_predict_parser(subparsers, name: str = "predict", help_: str | None = None) -> argparse.ArgumentParser:
    """``chinese-ptm predict --model DIR --input FILE``."""

    parser = subparsers.add_parser(
        name, help=help_, description=predict_module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="a model saved by chinese-ptm finetune (OUTPUT_DIR/model)")
    parser.add_argument(
        "--input", required=True, help="JSON lines, CSV or TSV with the fields the model was trained on"
    )
    parser.add_argument("--output", default=None, help="predictions as JSON lines (default: print them)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="task.FIELD=VALUE",
        help="read the input with other field names, e.g. --set task.text_field=sentence",
    )
    parser.set_defaults(run=run_predict)
    return parser


def parse_seeds(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SettingsError(f"--seeds {text}: expected a list of integers (1,2,3) or a count (3)") from None
    if len(values) == 1 and "," not in text:
        if values[0] < 1:
            raise SettingsError(f"--seeds {text}: a count must be at least 1")
        return list(range(1, values[0] + 1))
    return values


def overrides_of(args: argparse.Namespace) -> dict[str, Any]:
    """``--set`` and the shortcut options as ``section.field`` overrides."""

    values = parse_sets(args.set, "--set strategy=frozen")
    seeds = parse_seeds(args.seeds)
    shortcuts = {
        "seeds": seeds,
        "training.max_steps": args.max_steps,
        "model.tokenizer": args.tokenizer,
        "model.scratch": True if args.scratch else None,
        "training.disable_tqdm": True if args.no_progress else None,
    }
    for name in DATA_FIELD_OPTIONS:
        shortcuts[f"task.{name.replace('-', '_')}"] = getattr(args, name.replace("-", "_"), None)
    values.update({k: v for k, v in shortcuts.items() if v is not None})
    return values


def _run_data(args) -> list[dict]:
    return [run(data_config(args), progress=not args.no_progress)]


def data_config(args: argparse.Namespace, extra: dict | None = None):
    """The configuration of a run on the user's files or an embedded task (``extra``: more base settings)."""
    layers = [read_config_file(args.config)] if args.config else []
    base: dict = {"model.path": args.model, **(extra or {})}
    if args.preset:
        base.update({**preset_settings(args.preset), "task.preset": args.preset})
    else:
        base.update({"task.kind": args.task, "task.train": args.train, "task.dev": args.dev, "task.test": args.test})
    name = args.preset or "data"
    base["output_dir"] = args.output_dir or f"{DEFAULT_OUTPUT_DIR}/{name}"
    return build_config(
        [apply_overrides({}, {k: v for k, v in base.items() if v is not None}), *layers], overrides_of(args)
    )


def _run_csc(args) -> list[dict]:

    base = {"model.path": args.model, "output_dir": args.output_dir or f"{DEFAULT_OUTPUT_DIR}/csc"}
    base.update({k: v for k, v in (("task.real_pairs", args.real_pairs), ("task.typo_corpus", args.typo_corpus)) if v})
    layers = [read_config_file(args.recipe)] + ([read_config_file(args.config)] if args.config else [])
    config = build_config([*layers, apply_overrides({}, base)], overrides_of(args))  # the command line last
    return [run(config, progress=not args.no_progress)]


def _run_clue(args) -> list[dict]:

    if not args.task or not args.model or not args.data_dir:
        raise SettingsError("give a task (or 'all'), --model and --data-dir")
    options = dict(overrides=overrides_of(args), tokenizer_dir=args.tokenizer, progress=not args.no_progress)
    if args.task.lower() == "all":
        return run_clue_all(args.model, args.data_dir, args.output_dir or f"{DEFAULT_OUTPUT_DIR}/clue", **options)
    spec = get_task(args.task)
    return [
        run_clue_task(
            spec, args.model, args.data_dir, args.output_dir or f"{DEFAULT_OUTPUT_DIR}/{spec.name}", **options
        )
    ]


def _run_several(args) -> list[dict]:

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    output = args.output_dir or f"{DEFAULT_OUTPUT_DIR}/{args.finetune_command}"
    runner = run_multitask if args.finetune_command == "multitask" else run_stages
    return runner(
        tasks,
        args.model,
        output,
        overrides_of(args),
        data_dir=args.data_dir,
        config_file=args.config,
        progress=not args.no_progress,
    )


def run_finetune(args: argparse.Namespace) -> list[dict]:
    """The results of ``chinese-ptm finetune data | clue | multitask | stages | csc`` (one per task)."""
    runner = {"data": _run_data, "clue": _run_clue, "csc": _run_csc}.get(args.finetune_command, _run_several)
    return runner(args)


def run_command(args: argparse.Namespace) -> int:
    """Exit status 0, 1 for a failed task (a user error is printed by the command line, status 1), 2 for usage."""
    if args.help_settings:
        print(settings_help())
        return 0
    if args.finetune_command is None:
        args.parser.print_usage(sys.stderr)
        return 2

    if args.finetune_command == "export":
        for path in export(args.name, args.out):
            print(f"wrote {path}")
        return 0
    if args.finetune_command == "clue" and args.list:
        print(task_table())
        return 0
    results = run_finetune(args)
    if is_main_process():
        print(summary_table(results))
        for result in results:
            if "error" not in result and result.get("test"):
                print(f"{result['task']}: test {json.dumps({k: round(v, 2) for k, v in result['test'].items()})}")
    return 1 if any("error" in r for r in results) else 0


def run_predict(args: argparse.Namespace) -> int:
    """``chinese-ptm predict``: print (or write) the predictions, and the metrics of a labelled input; status 0."""

    result = predict(args.model, args.input, args.output, parse_sets(args.set, "--set task.text_field=review"))
    if args.output is None:
        for row in result["predictions"]:
            print(json.dumps(row, ensure_ascii=False))
    else:
        print(f"wrote {len(result['predictions'])} predictions to {args.output}")
    if result["metrics"] is not None:
        print(json.dumps({k: v for k, v in result["metrics"].items() if isinstance(v, (int, float))}), file=sys.stderr)
    return 0
