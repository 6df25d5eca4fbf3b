"""``chinese-ptm <command> ...``: one command line over every subcommand.

Each subcommand has a function ``add_parser(subparsers, name, help)`` that adds its parser and sets ``run`` as its
default, and a ``run(args) -> int`` returning the exit status. Only the named command's module is imported (``chinese-ptm
tokenize`` does not load torch). :func:`main` is the one place that turns a :class:`~chinese_ptm.errors.UserError`
into one line on stderr and exit status 1, and that closes a torchrun process group; any other exception is a
bug of ours and keeps its traceback. Library functions return results; they never print an exit status.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys

from .errors import PREEMPTED_EXIT_STATUS, Preempted, UserError
from .runtime.ranks import finish_distributed, is_main_process

#: subcommand -> (``module:function`` adding its parser, one-line help)
COMMANDS = {
    "demo": ("chinese_ptm.apps.demo:add_parser", "run the main job on the embedded default corpus"),
    "vocab": ("chinese_ptm.data.cli:add_vocab_parser", "build the default vocabulary and its pinyin tables"),
    "tokenize": ("chinese_ptm.text.cli:add_parser", "tokenize text and show input_ids and pinyin"),
    "glyphs": ("chinese_ptm.glyph.cli:add_parser", "build glyph tables, draw contact sheets"),
    "prepare": ("chinese_ptm.data.cli:add_prepare_parser", "clean, segment, tokenise and pack a corpus into records"),
    "pretrain": ("chinese_ptm.pretrain.cli:add_parser", "pretrain with a recipe (recipes/*.yaml), also under torchrun"),
    "finetune": (
        "chinese_ptm.finetune.cli:add_parser",
        "fine-tune on your data, the embedded tasks or CLUE (several seeds, strategies)",
    ),
    "predict": ("chinese_ptm.finetune.cli:add_predict_parser", "predict a file with a fine-tuned model"),
    "generate": ("chinese_ptm.finetune.generate:add_parser", "text from a seq2seq model (or a checkpoint as decoder)"),
    "distill": (
        "chinese_ptm.distill.cli:add_parser",
        "a smaller student from a fine-tuned teacher (soft labels, layers)",
    ),
    "evaluate": (
        "chinese_ptm.apps.evaluate:add_parser",
        "a checkpoint against training from scratch on the embedded real tasks",
    ),
    "correct": (
        "chinese_ptm.csc.cli:add_correct_parser",
        "spelling correction of texts with a model from finetune csc",
    ),
    "csc": ("chinese_ptm.csc.cli:add_parser", "confusion sets, typo synthesis and their coverage of SIGHAN 2015"),
    "prompt": (
        "chinese_ptm.prompt.cli:add_parser",
        "zero-shot classification with templates and label words (MLM head)",
    ),
    "attention": (
        "chinese_ptm.attention.cli:add_parser",
        "attention views (head, model, neuron) as one offline HTML page, PNG",
    ),
    "convert": ("chinese_ptm.modeling.convert:add_parser", "convert checkpoints (original ChineseBERT, Chinese BERT)"),
}


def _usage() -> str:
    lines = ["usage: chinese-ptm <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run `chinese-ptm <command> --help` for a command's options."]
    return "\n".join(lines)


def build_parser(name: str) -> argparse.ArgumentParser:
    """The parser of ``chinese-ptm`` holding the subcommand ``name`` (its module imported, its parser added)."""
    parser = argparse.ArgumentParser(prog="chinese-ptm", usage="chinese-ptm <command> [options]")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>", prog="chinese-ptm")
    target, help_ = COMMANDS[name]
    module, function = target.split(":")
    getattr(importlib.import_module(module), function)(subparsers, name, help_)
    return parser


def _close_process_group() -> None:
    """Wait for every rank, then close a torchrun process group (once, here, for every command)."""
    if "torch" in sys.modules:
        finish_distributed()


def main(argv: list[str] | None = None) -> int:
    try:
        return _run_command(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:  # the reader left (`chinese-ptm --help | head`): stop quietly, as shell tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit flush must not fail again
        return 128 + signal.SIGPIPE


def _run_command(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv[0] not in COMMANDS:
        print(f"chinese-ptm: unknown command {argv[0]!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    args = build_parser(argv[0]).parse_args(argv)
    try:
        status = args.run(args)
    except UserError as err:
        print(f"chinese-ptm {argv[0]}: error: {err}", file=sys.stderr)
        status = 1
    except Preempted as stop:  # every rank stops here; one says so
        if is_main_process():
            print(f"chinese-ptm {argv[0]}: preempted: {stop}", file=sys.stderr)
        status = PREEMPTED_EXIT_STATUS
    _close_process_group()
    return status


if __name__ == "__main__":
    sys.exit(main())
