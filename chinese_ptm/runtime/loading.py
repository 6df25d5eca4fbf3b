"""Checkpoints, tokenizers and the checks between them, for every runner.

One place decides what a checkpoint directory is (ours, the original ChineseBERT release or a Chinese
BERT checkpoint: the weights decide, not the tokenizer files beside them), which tokenizer goes with it
(with pinyin for GlyceBERT and ChineseBERT, transformers' BERT tokenizer for BERT) and whether the two fit.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..resources import BUNDLED, bundled
from ..errors import UserError


GLYCEBERT, CHINESEBERT, BERT = "glycebert", "chinesebert", "bert"


def checkpoint_kind(path: str | Path, option: str = "--model") -> str:
    """``glycebert`` (ours), ``chinesebert`` (original release) or ``bert`` (Chinese BERT checkpoint).

    A ``model_type: bert`` directory is ChineseBERT when its weights hold glyph or pinyin embeddings, else a
    plain BERT checkpoint, whatever tokenizer files lie next to it.
    """
    from ..modeling.bert_format import checkpoint_kind as weights_kind

    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{option} {path}: no such directory")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise UserError(f"{path}: no config.json; point {option} at a checkpoint directory")
    with open(config_file, encoding="utf-8") as handle:
        model_type = json.load(handle).get("model_type", BERT)
    if model_type == GLYCEBERT:
        return GLYCEBERT
    kind = weights_kind(path) if model_type == BERT else None
    if kind is None:
        raise UserError(f"{config_file}: model_type {model_type!r} is not supported; use a GlyceBERT, original "
                        "ChineseBERT or Chinese BERT checkpoint")
    return kind


def load_tokenizer_for(model_dir: str | Path, kind: str, tokenizer_dir: str | Path | None = None):
    """The checkpoint's tokenizer: GlyceBertTokenizer (with pinyin) for GlyceBERT and ChineseBERT, transformers'
    BertTokenizer (without) for Chinese BERT checkpoints."""
    source = Path(tokenizer_dir or model_dir)
    if not (source / "vocab.txt").is_file():
        raise UserError(f"{source}: no vocab.txt; pass the tokenizer directory with --tokenizer DIR")
    if kind == BERT:
        from transformers import BertTokenizer

        return BertTokenizer.from_pretrained(str(source))
    from ..tokenization import GlyceBertTokenizer

    return GlyceBertTokenizer.from_pretrained(str(source))


def check_vocab_size(model, tokenizer, model_source: str, tokenizer_source: str) -> None:
    """A model whose embedding table has another size than the tokenizer's vocabulary would train and
    predict on ids that mean other tokens: stop, naming both."""
    model_size = model.config.vocab_size
    tokens = len(tokenizer)
    if model_size != tokens:
        raise UserError(
            f"vocabulary mismatch: the model {model_source} has vocab_size {model_size}, the tokenizer "
            f"{tokenizer_source} has {tokens} tokens; use the checkpoint's own tokenizer (a vocab.txt beside its "
            "weights, or model.tokenizer / --tokenizer pointing at it), or start from scratch with this tokenizer"
        )


def resolve_bundled_file(value: str | Path, folder: str) -> Path:
    """A user-given config file: the path itself when it exists, else a bundled file of ``folder``
    by name (``zero2`` and ``deepspeed/zero2.json`` both find ``recipes/deepspeed/zero2.json``)."""
    path = Path(value)
    if path.is_file():
        return path
    root = bundled(folder)
    name = path.as_posix()
    for prefix in (f"{folder}/", f"chinese_ptm/{BUNDLED}/{folder}/"):
        name = name.removeprefix(prefix)
    candidates = [root / name, root / f"{name}.json", root / f"{name}.yaml"]
    candidates += sorted(p for p in root.rglob(f"{Path(name).name}*") if p.is_file() and p.stem == Path(name).stem)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    known = ", ".join(sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()))
    raise UserError(f"{value}: no such file, nor a bundled one (bundled {folder}: {known})")


def load_encoder(path: str | Path, option: str = "MODEL"):
    """The encoder of any checkpoint (``GlyceBertModel`` for ours and the original ChineseBERT release,
    transformers' ``BertModel`` for Chinese BERT checkpoints; heads are left out) with its tokenizer, in eval mode."""
    kind = checkpoint_kind(path, option)
    tokenizer = load_tokenizer_for(path, kind)
    if kind == BERT:
        from transformers import BertModel as encoder_class
    else:
        from ..modeling import GlyceBertModel as encoder_class
    model = encoder_class.from_pretrained(str(path), add_pooling_layer=False).eval()  # no head, no pooler
    check_vocab_size(model, tokenizer, str(path), str(path))
    return model, tokenizer
