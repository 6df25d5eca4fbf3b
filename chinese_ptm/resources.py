"""Where the shipped data lives: the default vocabulary (with its pinyin tables and prebuilt glyph table), the
open-licence font subsets and the recipes with their DeepSpeed/FSDP configs.  [no torch]

In a source checkout they are the top-level folders ``vocab/``, ``fonts/`` and ``recipes/`` beside
``chinese_ptm/``. A wheel carries the same folders inside the package, as ``chinese_ptm/_bundled/<folder>``
(``pyproject.toml`` maps them there), found through ``importlib.resources``; so an installed wheel works exactly
like a checkout. The files are read by path (tokenizers, pillow and ``from_pretrained`` want real files): wheels
are unpacked on install, so the package's files are always on disk.

This module imports nothing of its own package: code copied next to a checkpoint may import it where
``chinese_ptm`` is not installed (then only :func:`bundled` fails, with a clear message).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: the package whose data this is (fixed: code copied next to a checkpoint runs in another package)
PACKAGE = "chinese_ptm"
#: the folder inside an installed package that holds the shipped folders
INSTALLED_DIR = "_bundled"
#: the shipped folders (top level of a checkout)
FOLDERS = ("vocab", "fonts", "recipes")


def _root() -> Path:
    """``chinese_ptm/_bundled`` of an installed wheel, else the checkout holding ``chinese_ptm/``."""
    try:
        package = Path(str(resources.files(PACKAGE)))
    except ModuleNotFoundError:
        raise FileNotFoundError(f"the shipped data of {PACKAGE} is needed here: pip install chinese_ptm") from None
    installed = package / INSTALLED_DIR
    return installed if installed.is_dir() else package.parent


def bundled(*parts: str) -> Path:
    """The path of a shipped file or folder, e.g. ``bundled("vocab")``, ``bundled("recipes", "fsdp.json")``."""
    if not parts or Path(parts[0]).parts[0] not in FOLDERS:
        raise ValueError(f"bundled{parts}: the shipped folders are {', '.join(FOLDERS)}")
    path = _root().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"shipped file missing from the installed {PACKAGE}: {path}; reinstall the package")
    return path


def vocab_dir() -> Path:
    """The default vocabulary folder: ``vocab.txt``, ``config/`` pinyin tables, ``glyphs.npz``."""
    return bundled("vocab")


def word_vocab_dir() -> Path:
    """The default word vocabulary (``vocab/words``): the default vocabulary and People's Daily 1998's most frequent
    words (``chinese-ptm vocab build --granularity word``, its defaults); pinyin tables built on loading."""
    return bundled("vocab") / "words"


def fonts_dir() -> Path:
    """The shipped font subsets with ``fonts.toml`` and their licences."""
    return bundled("fonts")


def recipes_dir() -> Path:
    """The pretraining recipes (``*.yaml``) and their ``deepspeed/*.json`` and ``fsdp.json``."""
    return bundled("recipes")
