"""Where the bundled data lives: the default vocabulary (with its pinyin tables and prebuilt glyph
table), the open-licence font subsets and the recipes with their DeepSpeed/FSDP configs.  [no torch]

Everything is package data of ``chinese_ptm`` (``chinese_ptm/bundled/``) and is found through
``importlib.resources``, so an installed wheel works exactly like a source checkout. The files are
read by path (tokenizers, pillow and ``from_pretrained`` want real files): wheels are unpacked on
install, so the package's files are always on disk.

This module imports nothing of its own package: the tokenizer code saved next to checkpoints may
carry it where ``chinese_ptm`` is not installed (then only :func:`bundled` fails, with a clear
message).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: the package whose data this is (fixed: the tokenizer code copied next to a checkpoint runs in
#: another package, where ``__package__`` would name that one)
PACKAGE = "chinese_ptm"
BUNDLED = "bundled"


def bundled(*parts: str) -> Path:
    """The path of a bundled file or folder, e.g. ``bundled("vocab")``, ``bundled("recipes", "fsdp.json")``."""
    try:
        root = resources.files(PACKAGE) / BUNDLED
    except ModuleNotFoundError:
        raise FileNotFoundError(
            f"the bundled data of {PACKAGE} is needed here ({'/'.join(parts)}): pip install chinese_ptm"
        ) from None
    path = Path(str(root.joinpath(*parts)))
    if not path.exists():
        raise FileNotFoundError(f"bundled file missing from the installed {PACKAGE}: {path}; reinstall the package")
    return path


def vocab_dir() -> Path:
    """The default vocabulary folder: ``vocab.txt``, ``config/`` pinyin tables, ``glyphs.npz``."""
    return bundled("vocab")


def fonts_dir() -> Path:
    """The shipped font subsets with ``fonts.toml`` and their licences."""
    return bundled("fonts")


def recipes_dir() -> Path:
    """The pretraining recipes (``*.yaml``) and their ``deepspeed/*.json`` and ``fsdp.json``."""
    return bundled("recipes")
