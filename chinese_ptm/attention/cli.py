"""chinese-ptm attention MODEL TEXT: what each layer and head attends to, as one self-contained HTML page
(head, model and neuron views; opens offline, can be mailed) and optionally a PNG figure.

examples:
  chinese-ptm attention runs/demo/pretrain/final "银行行长了解情况" --out view.html
  chinese-ptm attention runs/demo/pretrain/final "他在银行工作" --pair "我们去行走" --layer 1 --head 0
  chinese-ptm attention runs/demo/pretrain/final "银行行长了解情况" --compare-without-pinyin --png heads.png
"""

from __future__ import annotations

import argparse

from .view import attention_view


def add_parser(subparsers, name: str = "attention", help_: str | None = None) -> argparse.ArgumentParser:
    """``chinese-ptm attention MODEL TEXT``."""
    parser = subparsers.add_parser(
        name, help=help_, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "model",
        help="a GlyceBERT or BERT checkpoint, the original ChineseBERT release, or a "
        "Chinese BERT checkpoint (a directory)",
    )
    parser.add_argument("text", help="the text to look at")
    parser.add_argument("--pair", default=None, help="a second text (sentence-pair input)")
    parser.add_argument("--layer", type=int, default=None, help="layer the views open on (0 = lowest)")
    parser.add_argument("--head", type=int, default=None, help="head the views open on (default: all heads)")
    parser.add_argument("--out", default="attention.html", help="the HTML page to write (default: %(default)s)")
    parser.add_argument("--png", default=None, help="also draw the attention maps into this PNG")
    parser.add_argument("--grid", action="store_true", help="PNG: every layer x head even with --layer")
    parser.add_argument(
        "--compare-without-pinyin",
        action="store_true",
        help="also run with the pinyin branch switched off and show the difference per head",
    )
    parser.add_argument("--compare-without-glyph", action="store_true", help="the same for the glyph branch")
    parser.add_argument("--no-neuron", action="store_true", help="leave the query/key vectors out (smaller page)")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """``chinese-ptm attention``: write the page (and the PNG), print what changed; exit status 0."""

    branches = [b for b, on in (("pinyin", args.compare_without_pinyin), ("glyph", args.compare_without_glyph)) if on]
    view = attention_view(
        args.model,
        None,
        args.text,
        args.pair,
        layer=args.layer,
        head=args.head,
        compare_without=branches,
        neuron=not args.no_neuron,
    )
    written = [view.save(args.out)]
    if args.png:
        written.append(view.png(args.png, grid=True if args.grid else None))
    _report(view, branches, written)
    return 0


def _report(view, branches: list[str], written) -> None:
    capture = view.capture
    print(
        f"{capture.layers} layers x {capture.heads} heads over {len(capture.tokens)} tokens: "
        + " ".join(capture.labels())
    )
    for branch in branches:
        heads = ", ".join(f"layer {l} head {h} {share:.3f}" for l, h, share in view.most_changed(branch))
        print(f"without {branch}, the heads that change most (share of attention moved): {heads}")
    for path in written:
        print(f"wrote {path}")
