"""chinese-ptm attention MODEL TEXT: what each layer and head attends to, as one self-contained HTML page
(head, model and neuron views; opens offline, can be mailed) and optionally a PNG figure.

examples:
  chinese-ptm attention runs/demo/pretrain/final "银行行长了解情况" --out view.html
  chinese-ptm attention runs/demo/pretrain/final "他在银行工作" --pair "我们去行走" --layer 1 --head 0
  chinese-ptm attention runs/demo/pretrain/final "银行行长了解情况" --compare-without-pinyin --png heads.png
"""

from __future__ import annotations

import argparse
import sys

from ..errors import UserError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chinese-ptm attention", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a GlyceBERT or BERT checkpoint, the original ChineseBERT release, or a "
                                      "Chinese BERT checkpoint (a directory)")
    parser.add_argument("text", help="the text to look at")
    parser.add_argument("--pair", default=None, help="a second text (sentence-pair input)")
    parser.add_argument("--layer", type=int, default=None, help="layer the views open on (0 = lowest)")
    parser.add_argument("--head", type=int, default=None, help="head the views open on (default: all heads)")
    parser.add_argument("--out", default="attention.html", help="the HTML page to write (default: %(default)s)")
    parser.add_argument("--png", default=None, help="also draw the attention maps into this PNG")
    parser.add_argument("--grid", action="store_true", help="PNG: every layer x head even with --layer")
    parser.add_argument("--compare-without-pinyin", action="store_true",
                        help="also run with the pinyin branch switched off and show the difference per head")
    parser.add_argument("--compare-without-glyph", action="store_true",
                        help="the same for the glyph branch")
    parser.add_argument("--no-neuron", action="store_true", help="leave the query/key vectors out (smaller page)")
    return parser


def main(argv: list[str] | None = None):
    args = _parser().parse_args(argv)
    branches = [b for b, on in (("pinyin", args.compare_without_pinyin), ("glyph", args.compare_without_glyph)) if on]
    try:
        from .view import attention_view

        view = attention_view(args.model, None, args.text, args.pair, layer=args.layer, head=args.head,
                              compare_without=branches, neuron=not args.no_neuron)
        written = [view.save(args.out)]
        if args.png:
            written.append(view.png(args.png, grid=True if args.grid else None))
    except UserError as err:
        print(f"chinese-ptm attention: error: {err}", file=sys.stderr)
        return 1
    _report(view, branches, written)
    return view


def _report(view, branches: list[str], written) -> None:
    capture = view.capture
    print(f"{capture.layers} layers x {capture.heads} heads over {len(capture.tokens)} tokens: "
          + " ".join(capture.labels()))
    for branch in branches:
        heads = ", ".join(f"layer {l} head {h} {share:.3f}" for l, h, share in view.most_changed(branch))
        print(f"without {branch}, the heads that change most (share of attention moved): {heads}")
    for path in written:
        print(f"wrote {path}")
