"""Checkpoints, tokenizers and the checks between them, for every runner.

One place decides what a checkpoint directory is (ours, the original ChineseBERT release, a Chinese BERT,
ALBERT or ELECTRA checkpoint: the weights decide, not the tokenizer files beside them), which model classes
and tokenizer go with it (with pinyin for GlyceBERT and ChineseBERT, transformers' BERT tokenizer for the
others, as the Chinese ALBERT and ELECTRA releases use) and whether the two fit.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..resources import BUNDLED, bundled
from ..errors import UserError


GLYCEBERT, CHINESEBERT, BERT = "glycebert", "chinesebert", "bert"
ALBERT, ELECTRA = "albert", "electra"
#: checkpoints of transformers' own families (no pinyin), with their class-name prefix
TRANSFORMERS_KINDS = {BERT: "Bert", ALBERT: "Albert", ELECTRA: "Electra"}


def reads_pinyin(kind: str) -> bool:
    """Whether a checkpoint of this kind takes pinyin_ids (GlyceBERT and the original ChineseBERT)."""
    return kind not in TRANSFORMERS_KINDS


def model_class(kind: str, suffix: str):
    """The class for a checkpoint kind and a role: ``suffix`` is ``Model``, ``ForMaskedLM``,
    ``ForSequenceClassification`` ...; transformers' class for BERT, ALBERT and ELECTRA (tying the layers an
    ALBERT-style ``config.share_layers`` names), GlyceBERT's for the rest."""
    if reads_pinyin(kind):
        from .. import modeling

        return getattr(modeling, f"GlyceBert{suffix}")
    import transformers

    from ..modeling import bert_spelling
    from ..modeling.sharing import with_shared_layers

    name = TRANSFORMERS_KINDS[kind] + suffix
    cls = getattr(transformers, name, None) or getattr(bert_spelling, name, None)
    if cls is None:
        raise UserError(f"a {kind} checkpoint has no {suffix} model here; use a GlyceBERT or BERT checkpoint")
    return with_shared_layers(cls)


def checkpoint_kind(path: str | Path, option: str = "--model") -> str:
    """``glycebert`` (ours), ``chinesebert`` (original release), ``bert`` (Chinese BERT checkpoint), ``albert`` or
    ``electra`` (transformers' format: albert_zh and HFL's ELECTRA converted, ours on architecture bert).

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
    if model_type in (GLYCEBERT, ALBERT, ELECTRA):
        return model_type
    kind = weights_kind(path) if model_type == BERT else None
    if kind is None:
        raise UserError(f"{config_file}: model_type {model_type!r} is not supported; use a GlyceBERT, original "
                        "ChineseBERT, Chinese BERT, ALBERT or ELECTRA checkpoint")
    return kind


def load_tokenizer_for(model_dir: str | Path, kind: str, tokenizer_dir: str | Path | None = None):
    """The checkpoint's tokenizer: GlyceBertTokenizer (with pinyin) for GlyceBERT and ChineseBERT, transformers'
    BertTokenizer (without) for Chinese BERT, ALBERT and ELECTRA checkpoints."""
    source = Path(tokenizer_dir or model_dir)
    if not (source / "vocab.txt").is_file():
        raise UserError(f"{source}: no vocab.txt; pass the tokenizer directory with --tokenizer DIR")
    if not reads_pinyin(kind):
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
    transformers' ``BertModel``, ``AlbertModel``, ``ElectraModel`` for theirs; heads are left out) with its
    tokenizer, in eval mode."""
    kind = checkpoint_kind(path, option)
    tokenizer = load_tokenizer_for(path, kind)
    options = {"add_pooling_layer": False} if kind != ELECTRA else {}  # no head, no pooler
    model = model_class(kind, "Model").from_pretrained(str(path), **options).eval()
    check_vocab_size(model, tokenizer, str(path), str(path))
    return model, tokenizer
