"""``chinese-ptm <subcommand> ...``: dispatch to the modules' ``main(argv)``."""

from __future__ import annotations

import importlib
import sys

#: subcommand -> (module, one-line help)
COMMANDS = {
    "demo": ("chinese_ptm.demo", "run the main job on the embedded default corpus"),
    "vocab": ("chinese_ptm.vocab", "build the default vocabulary and its pinyin tables"),
    "tokenize": ("chinese_ptm.tokenization", "tokenize text and show input_ids and pinyin"),
    "glyphs": ("chinese_ptm.glyph", "build glyph tables, draw contact sheets"),
    "prepare": ("chinese_ptm.data", "clean, segment, tokenise and pack a corpus into records"),
    "pretrain": ("chinese_ptm.pretrain", "pretrain with a recipe (recipes/*.yaml), also under torchrun"),
    "finetune": ("chinese_ptm.finetune.cli", "fine-tune on your data, the embedded tasks or CLUE (several seeds, strategies)"),
    "predict": ("chinese_ptm.finetune.predict", "predict a file with a fine-tuned model"),
    "evaluate": ("chinese_ptm.evaluate", "a checkpoint against training from scratch on the embedded real tasks"),
    "correct": ("chinese_ptm.csc.correct", "spelling correction of texts with a model from finetune csc"),
    "csc": ("chinese_ptm.csc.cli", "confusion sets, typo synthesis and their coverage of SIGHAN 2015"),
    "prompt": ("chinese_ptm.prompt.cli", "zero-shot classification with templates and label words (MLM head)"),
    "attention": ("chinese_ptm.attention.cli", "attention views (head, model, neuron) as one offline HTML page, PNG"),
    "convert": ("chinese_ptm.modeling.convert", "convert checkpoints (original ChineseBERT, Chinese BERT)"),
}


def parse_sets(values: list[str], example: str = "--set name=value") -> dict[str, str]:
    """``["a.b=1", "c=x"]`` -> ``{"a.b": "1", "c": "x"}`` (the ``--set`` options of several commands)."""
    settings = {}
    for item in values:
        if "=" not in item:
            from .errors import SettingsError

            raise SettingsError(f"--set {item!r}: expected NAME=VALUE, e.g. {example}")
        name, value = item.split("=", 1)
        settings[name.strip()] = value.strip()
    return settings


def _usage() -> str:
    lines = ["usage: chinese-ptm <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run `chinese-ptm <command> --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"chinese-ptm: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    result = module.main(rest)
    # modules' main() return their results (for tests); the process exits 0 unless given a code
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


if __name__ == "__main__":
    sys.exit(main())
