"""``chinese-ptm csc confusion | synthesize | coverage``: the data side of spelling correction.

    chinese-ptm csc confusion 在 己 做                      # each character's confusion set, by kind
    chinese-ptm csc synthesize --out pairs.tsv --count 50000 # typos into People's Daily (or --corpus FILE ...)
    chinese-ptm csc coverage                                # how many SIGHAN 2015 typos each set explains
"""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import UserError


def _confusion(args) -> None:
    from .confusion import ConfusionSet, pycorrector_sets

    sets = ConfusionSet(extra=pycorrector_sets() if args.with_pycorrector else None)
    for char in "".join(args.chars):
        print(char)
        for kind, chars in sets[char].items():
            print(f"  {kind:<14} {''.join(chars) or '-'}")


def _synthesize(args) -> None:
    from .data import corpus_sentences, peoples_daily_sentences, write_pairs
    from .synthesis import NoiseSettings, TypoSynthesizer

    sentences = corpus_sentences(args.corpus, args.count) if args.corpus else peoples_daily_sentences("train", args.count)
    settings = NoiseSettings(error_rate=args.error_rate, clean_ratio=args.clean_ratio, seed=args.seed)
    synthesizer = TypoSynthesizer(settings=settings)
    pairs = list(synthesizer.pairs(sentences))
    path = write_pairs(args.out, [w for w, _ in pairs], [c for _, c in pairs])
    print(f"wrote {len(pairs)} pairs to {path}; typos by kind: {json.dumps(dict(synthesizer.stats), ensure_ascii=False)}")


def _coverage(args) -> None:
    from .confusion import ConfusionSet, coverage, pycorrector_sets
    from .data import read_pairs, sighan15_test

    pairs = read_pairs(args.pairs) if args.pairs else sighan15_test()
    ours = ConfusionSet()
    published = pycorrector_sets()
    rows = {"ours": coverage(pairs.typos(), ours), "pycorrector": coverage(pairs.typos(), published),
            "ours + pycorrector": coverage(pairs.typos(), ConfusionSet(ours.similarity, extra=published))}
    print(json.dumps(rows, indent=2, ensure_ascii=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chinese-ptm csc", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
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
    args = parser.parse_args(argv)
    try:
        {"confusion": _confusion, "synthesize": _synthesize, "coverage": _coverage}[args.command](args)
    except UserError as err:
        print(f"chinese-ptm csc: error: {err}", file=sys.stderr)
        return 1
    return 0
