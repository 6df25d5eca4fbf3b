"""chinese-ptm prompt MODEL: zero-shot classification by filling a blank with the MLM head.

examples:
  chinese-ptm prompt runs/demo/pretrain/final --preset reviews \\
      --template "{text}。总之，{mask}。" --template "{mask}！{text}" --verbalizer "positive=很好;negative=很差"
  chinese-ptm prompt ckpt/ --input texts.jsonl --template "这是一条{mask}新闻：{text}" --verbalizer labels.json
  chinese-ptm prompt ckpt/ --preset fewclue:eprstmt --data-dir FewCLUE/datasets   # the preset's own prompts

Few-shot training (PET) runs on the fine-tuning runtime:
  chinese-ptm finetune data --preset reviews --model ckpt/ --set prompt="{text}。总之，{mask}。" \\
      --set verbalizer="positive=很好;negative=很差" --set shots=16 --seeds 3
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from ..finetune.config import build_config
from ..finetune.runner import preset_settings
from ..runtime.config import apply_overrides, parse_sets
from .presets import input_task, prompt_preset
from .template import Verbalizer
from .zero_shot import describe, zero_shot

DEFAULT_OUTPUT_DIR = "runs/prompt"


def add_parser(subparsers, name: str = "prompt", help_: str | None = None) -> argparse.ArgumentParser:
    """``chinese-ptm prompt MODEL``."""
    parser = subparsers.add_parser(
        name, help=help_, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", help="checkpoint: GlyceBERT or BERT (ours), the original ChineseBERT, a Chinese BERT")
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--preset", help="reviews (embedded), or a FewCLUE task: fewclue:eprstmt, fewclue:tnews ...")
    data.add_argument("--input", help="texts to classify (.jsonl, .csv, .tsv); with labels, accuracy is reported")
    parser.add_argument("--data-dir", default=None, help="FewCLUE presets: the task's folder or the one holding it")
    parser.add_argument(
        "--template",
        action="append",
        default=[],
        help="a template with {text} ({text_pair}) and {mask} or [MASK]...; repeat to ensemble",
    )
    parser.add_argument("--verbalizer", default=None, help="label words: a JSON file, JSON, or 'pos=很好;neg=很差'")
    parser.add_argument(
        "--scoring",
        default=None,
        choices=("mean", "joint", "autoregressive"),
        help="score of multi-character label words (default: mean)",
    )
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="divide each template's label probabilities by those of an empty text (its bias)",
    )
    parser.add_argument("--text-field", default=None, help="--input: field of the text (default: text)")
    parser.add_argument("--text-pair-field", default=None, help="--input: field of the second text (pairs)")
    parser.add_argument("--label-field", default=None, help="--input: field of the label, if any (default: label)")
    parser.add_argument("--output-dir", default=None, help=f"where results go (default {DEFAULT_OUTPUT_DIR}/<task>)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="any fine-tuning setting")
    parser.set_defaults(run=run)
    return parser


def config_of(args):
    """The fine-tuning configuration the zero-shot run stands on (the preset's prompts as defaults)."""

    defaults = prompt_preset(args.preset) if args.preset else {}
    templates = args.template or defaults.get("templates", [])
    if not templates:
        raise UserError("give one or more --template (with {text} and {mask})")
    verbalizer = args.verbalizer or defaults.get("verbalizer")
    name = (args.preset or Path(args.input).stem).replace(":", "-")
    base = {
        "model.path": args.model,
        "method.verbalizer": verbalizer,
        "method.prompt": templates[0],
        "method.scoring": args.scoring,
        "output_dir": args.output_dir or f"{DEFAULT_OUTPUT_DIR}/{name}",
        "task.max_train_examples": 1,
        "training.disable_tqdm": True,
        "training.report_to": "none",
    }
    if args.preset:
        base.update({**preset_settings(args.preset), "task.preset": args.preset, "task.data_dir": args.data_dir})
    else:
        kind = "pair" if args.text_pair_field else "single"
        base.update(
            {
                "task.kind": kind,
                "task.train": args.input,
                "task.dev": args.input,
                "task.test": None,
                "task.text_field": args.text_field,
                "task.text_pair_field": args.text_pair_field,
                "task.label_field": args.label_field,
            }
        )
    layer = apply_overrides({}, {k: v for k, v in base.items() if v is not None})
    config = build_config([layer], parse_sets(args.set))
    task = None
    if args.input:
        if not verbalizer:
            raise UserError("give --verbalizer: the label words of each label")
        task = input_task(args.input, config.task, Verbalizer.parse(verbalizer).labels)
    return config, templates, task


def run(args: argparse.Namespace) -> int:
    """``chinese-ptm prompt``: classify, print the table and where the results went; exit status 0."""

    config, templates, task = config_of(args)
    results = zero_shot(config, templates, task, calibrate=args.calibrate)
    print(describe(results))
    print(f"wrote {Path(config.output_dir) / 'zero_shot.json'}")
    return 0
