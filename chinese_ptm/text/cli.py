"""``chinese-ptm tokenize TEXT ...``: show each text's tokens, ids and readings (a table, or JSON lines)."""

from __future__ import annotations

import argparse
import json
import sys

from .pinyin import decode_syllable
from .tokenization import load_tokenizer


def add_parser(subparsers, name: str = "tokenize", help_: str | None = None) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=help_, description=__doc__)
    parser.add_argument("texts", nargs="*", help="texts to tokenize (default: read lines from stdin)")
    parser.add_argument("--tokenizer", default=None, help="tokenizer directory (default: the shipped vocab/)")
    parser.add_argument("--pair", default=None, help="a second text (pair input)")
    parser.add_argument("--normalize", action="store_true", help="fold full-width forms, quotes, dashes")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    parser.set_defaults(run=run)
    return parser


def tokenize_records(tokenizer, texts: list[str], pair: str | None = None) -> list[dict]:
    """Each text with its tokens, ids and readings (what the command prints)."""
    records = []
    for text in texts:
        enc = tokenizer(text, pair) if pair else tokenizer(text)
        records.append(
            {
                "text": text,
                "tokens": tokenizer.convert_ids_to_tokens(enc["input_ids"]),
                "input_ids": enc["input_ids"],
                "pinyin": [decode_syllable(r) for r in enc["pinyin_ids"]],
            }
        )
    return records


def run(args: argparse.Namespace) -> int:
    tokenizer = load_tokenizer(args.tokenizer, normalize_text=args.normalize)
    texts = args.texts or [line.rstrip("\n") for line in sys.stdin]
    for record in tokenize_records(tokenizer, texts, args.pair):
        if args.json:
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(record["text"])
            print("  ".join(f"{t}/{r}" if r else t for t, r in zip(record["tokens"], record["pinyin"])))
    return 0
