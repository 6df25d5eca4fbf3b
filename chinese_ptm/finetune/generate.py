"""``chinese-ptm generate MODEL "text" ...``: text from a fine-tuned seq2seq model or a pretrained one.

A model saved by ``chinese-ptm finetune --task seq2seq`` (or ``--preset pd98-ime``) reads each text as a source
and generates its target (beam search: ``--num-beams``, ``--length-penalty``, ``--max-new-tokens``). Any other
checkpoint of ours, BERT's or GlyceBERT's (a pretraining checkpoint), is used as a left-to-right decoder that
continues the text: what an MLM-pretrained encoder does as a decoder before it is fine-tuned for it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from ..modeling.electra import token_pinyin_table
from ..runtime.loading import checkpoint_kind, load_pretrained, load_tokenizer_for, model_class, reads_pinyin
from .examples import Seq2SeqExample, Split
from .predict import Predictor
from .saving import TASK_FILE
from .task import SEQ2SEQ


def generate_targets(model_dir: str | Path, sources: list[str], overrides: dict | None = None) -> list[str]:
    """The targets a fine-tuned seq2seq model generates for ``sources``."""
    predictor = Predictor(model_dir, overrides)
    if predictor.task.kind != SEQ2SEQ:
        raise UserError(
            f"{model_dir}: a {predictor.task.kind} model, not a seq2seq one (it generates nothing): use "
            f"`chinese-ptm predict --model {model_dir} --input FILE`"
        )
    split = Split("test", [], [Seq2SeqExample(i, text, None) for i, text in enumerate(sources)], labelled=False)
    return predictor.decoded(split)


def continue_texts(model_dir: str | Path, texts: list[str], num_beams: int, max_new_tokens: int) -> list[str]:
    """Continuations of ``texts`` by a pretrained checkpoint used as a left-to-right decoder."""
    import torch

    kind = checkpoint_kind(model_dir)
    tokenizer = load_tokenizer_for(model_dir, kind)
    model = load_pretrained(model_class(kind, "LMHeadModel"), model_dir, is_decoder=True).eval()
    if reads_pinyin(kind):
        model.set_token_pinyin(token_pinyin_table(tokenizer, model.config.pinyin_slots))
    out = []
    for text in texts:
        batch = tokenizer([text], return_tensors="pt")
        prompt = {k: v[:, :-1] for k, v in batch.items() if k in ("input_ids", "attention_mask", "pinyin_ids")}
        with torch.no_grad():
            ids = model.generate(
                **prompt,
                max_new_tokens=max_new_tokens,
                num_beams=num_beams,
                do_sample=False,
                use_cache=True,  # a pretraining checkpoint's config says False (the Trainer's setting)
                eos_token_id=tokenizer.sep_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
        out.append(tokenizer.decode(ids[0, prompt["input_ids"].shape[1] :], skip_special_tokens=True).replace(" ", ""))
    return out


def add_parser(subparsers, name: str = "generate", help_: str | None = None) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help=help_, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", help="a model from chinese-ptm finetune --task seq2seq, or a pretrained checkpoint")
    parser.add_argument("texts", nargs="+", help="sources (seq2seq model) or beginnings of text (checkpoint)")
    parser.add_argument("--num-beams", type=int, default=None, help="beams (default: the model's task.num_beams)")
    parser.add_argument("--length-penalty", type=float, default=None, help="beam search's length penalty")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="tokens generated at most")
    parser.set_defaults(run=run)
    return parser


def run(args) -> int:
    if (Path(args.model) / TASK_FILE).is_file():
        overrides = {
            "task.num_beams": args.num_beams,
            "task.length_penalty": args.length_penalty,
            "task.max_target_length": args.max_new_tokens,
        }
        texts = generate_targets(args.model, args.texts, {k: v for k, v in overrides.items() if v is not None})
    else:
        texts = continue_texts(args.model, args.texts, args.num_beams or 1, args.max_new_tokens or 32)
    for source, text in zip(args.texts, texts):
        print(f"{source}\t{text}")
    return 0
