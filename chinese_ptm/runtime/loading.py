"""Checks shared by everything that puts a tokenizer and a model together."""

from __future__ import annotations

from pathlib import Path

from ..resources import BUNDLED, bundled
from .errors import UserError


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
