"""Checkpoints, tokenizers and the checks between them, for every runner.

One place decides what a checkpoint directory is (ours, the original ChineseBERT release, a Chinese BERT,
ALBERT or ELECTRA checkpoint: the weights decide, not the tokenizer files beside them), which model classes
and tokenizer go with it (with pinyin for GlyceBERT and ChineseBERT, transformers' BERT tokenizer for the
others, as the Chinese ALBERT and ELECTRA releases use) and whether the two fit.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from ..errors import UserError
from ..modeling.factory import (  # noqa: F401 - the checkpoint kinds and classes every runner asks this module for
    ALBERT,
    AMBERT,
    BERT,
    CHINESEBERT,
    ELECTRA,
    GLYCEBERT,
    TRANSFORMERS_KINDS,
    check_vocab_size,
    checkpoint_kind,
    load_pretrained,
    model_class,
    reads_pinyin,
)
from ..resources import bundled
from ..text.tokenization import GlyceBertTokenizer, saved_tokenizer_class
from ..text.two_views import TwoViewTokenizer


def load_tokenizer_for(model_dir: str | Path, kind: str, tokenizer_dir: str | Path | None = None):
    """The checkpoint's tokenizer: GlyceBertTokenizer (with pinyin) for GlyceBERT and ChineseBERT, transformers'
    BertTokenizer (without) for Chinese BERT, ALBERT and ELECTRA checkpoints; a saved word tokenizer for any."""
    source = Path(tokenizer_dir or model_dir)
    if not (source / "vocab.txt").is_file():
        raise UserError(f"{source}: no vocab.txt; pass the tokenizer directory with --tokenizer DIR")
    if TwoViewTokenizer.is_saved_in(source):  # AMBERT: characters and words
        return TwoViewTokenizer.from_pretrained(source)
    saved = saved_tokenizer_class(source)
    if saved is GlyceBertTokenizer and not reads_pinyin(kind):  # a word tokenizer serves every kind
        from transformers import BertTokenizer

        return BertTokenizer.from_pretrained(str(source))

    return saved.from_pretrained(str(source))


@contextmanager
def transformers_progress(enabled: bool):
    """transformers' own progress bars (loading weights, writing shards) on or off for a block: a run without
    progress bars (``--no-progress``, ``training.disable_tqdm``) shows none of them either."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    if not enabled:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled and not enabled:
            hf_logging.enable_progress_bar()


def resolve_bundled_file(value: str | Path, folder: str) -> Path:
    """A user-given config file: the path itself when it exists, else a bundled file of ``folder``
    by name (``zero2`` and ``deepspeed/zero2.json`` both find ``recipes/deepspeed/zero2.json``)."""
    path = Path(value)
    if path.is_file():
        return path
    root = bundled(folder)
    name = path.as_posix()
    for prefix in (f"{folder}/", f"chinese_ptm/bundled/{folder}/"):  # the second: where they lived before 0.2
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
    model = load_pretrained(model_class(kind, "Model"), path, **options).eval()
    check_vocab_size(model, tokenizer, str(path), str(path))
    return model, tokenizer
