"""``chinese-ptm csc confusion | synthesize | coverage``: the data side of spelling correction.

chinese-ptm csc confusion 在 己 做                      # each character's confusion set, by kind
chinese-ptm csc synthesize --out pairs.tsv --count 50000 # typos into People's Daily (or --corpus FILE ...)
chinese-ptm csc coverage                                # how many SIGHAN 2015 typos each set explains
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..data.encoding import read_text
from ..errors import UserError
from . import correct
from .confusion import ConfusionSet, coverage, pycorrector_sets
from .correct import SpellingCorrector
from .data import corpus_sentences, peoples_daily_sentences, read_pairs, sighan15_test, write_pairs
from .synthesis import NoiseSettings, TypoSynthesizer


def _confusion(args) -> None:

    sets = ConfusionSet(extra=pycorrector_sets() if args.with_pycorrector else None)
    for char in "".join(args.chars):
        print(char)
        for kind, chars in sets[char].items():
            print(f"  {kind:<14} {''.join(chars) or '-'}")


def _synthesize(args) -> None:

    sentences = (
        corpus_sentences(args.corpus, args.count) if args.corpus else peoples_daily_sentences("train", args.count)
    )
    settings = NoiseSettings(error_rate=args.error_rate, clean_ratio=args.clean_ratio, seed=args.seed)
    synthesizer = TypoSynthesizer(settings=settings)
    pairs = list(synthesizer.pairs(sentences))
    path = write_pairs(args.out, [w for w, _ in pairs], [c for _, c in pairs])
    print(
        f"wrote {len(pairs)} pairs to {path}; typos by kind: {json.dumps(dict(synthesizer.stats), ensure_ascii=False)}"
    )


def _coverage(args) -> None:

    pairs = read_pairs(args.pairs) if args.pairs else sighan15_test()
    ours = ConfusionSet()
    published = pycorrector_sets()
    rows = {
        "ours": coverage(pairs.typos(), ours),
        "pycorrector": coverage(pairs.typos(), published),
        "ours + pycorrector": coverage(pairs.typos(), ConfusionSet(ours.similarity, extra=published)),
    }
    print(json.dumps(rows, indent=2, ensure_ascii=False))


def add_parser(subparsers, name: str = "csc", help_: str | None = None) -> argparse.ArgumentParser:
    """``chinese-ptm csc confusion | synthesize | coverage``."""
    parser = subparsers.add_parser(
        name, help=help_, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.set_defaults(run=run)
    commands = parser.add_subparsers(dest="csc_command", required=True)
    confusion = commands.add_parser("confusion", help="confusion sets of characters")
    confusion.add_argument("chars", nargs="+")
    confusion.add_argument("--with-pycorrector", action="store_true", help="merge pycorrector's published sets")
    synthesize = commands.add_parser("synthesize", help="wrong<TAB>correct pairs from clean text")
    synthesize.add_argument("--out", required=True)
    synthesize.add_argument("--corpus", action="append", default=[], help="clean text files (default: People's Daily)")
    synthesize.add_argument("--count", type=int, default=10_000, help="sentences")
    synthesize.add_argument("--error-rate", type=float, default=0.04, help="typos per Chinese character")
    synthesize.add_argument("--clean-ratio", type=float, default=0.3, help="sentences left without typos")
    synthesize.add_argument("--seed", type=int, default=1)
    cover = commands.add_parser("coverage", help="typos of a pairs file explained by each confusion set")
    cover.add_argument("--pairs", default=None, help="wrong<TAB>correct file (default: SIGHAN 2015 test)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run one ``chinese-ptm csc`` subcommand (it prints its result); exit status 0."""
    {"confusion": _confusion, "synthesize": _synthesize, "coverage": _coverage}[args.csc_command](args)
    return 0


def add_correct_parser(subparsers, name: str = "correct", help_: str | None = None) -> argparse.ArgumentParser:
    """``chinese-ptm correct MODEL TEXT ...``."""

    parser = subparsers.add_parser(
        name, help=help_, description=correct.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", help="a model saved by chinese-ptm finetune csc (OUTPUT_DIR/model)")
    parser.add_argument("texts", nargs="*", help="texts to correct (default: one per line from --input or stdin)")
    parser.add_argument("--input", default=None, help="a file with one text per line")
    parser.add_argument("--threshold", type=float, default=None, help="detection probability to correct at")
    parser.add_argument("--json", action="store_true", help="one JSON object per text")
    parser.set_defaults(run=run_correct)
    return parser


def run_correct(args: argparse.Namespace) -> int:
    """``chinese-ptm correct``: print each corrected text and its changes (or JSON lines); exit status 0."""
    from dataclasses import asdict

    texts = args.texts or _read_lines(args.input)
    for result in SpellingCorrector(args.model, args.threshold)(texts):
        if args.json:
            print(json.dumps(asdict(result), ensure_ascii=False))
            continue
        print(result.corrected)
        for c in result.changes:
            print(f"  {c.position}: {c.typed} ({c.typed_pinyin}) -> {c.corrected} ({c.corrected_pinyin})")
    return 0


def _read_lines(path: str | None) -> list[str]:
    if path is None:
        return [line.rstrip("\n") for line in sys.stdin]
    if not Path(path).is_file():
        raise UserError(f"--input {path}: no such file")
    return read_text(path).splitlines()
