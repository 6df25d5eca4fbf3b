"""Spelling-correction pairs: SIGHAN-style TSV files (``wrong<TAB>correct``, one sentence pair per line).

CSC keeps the length: each character of the input is kept or replaced by one character. A line without a
tab, with an empty side or with sides of different length is skipped and counted with its file:line (the
first few are shown), never fatal; a file where no line is usable is an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..data.corpora import peoples_daily_lines
from ..data.encoding import open_text
from ..errors import UserError
from .confusion import pycorrector_data_dir
from .synthesis import NoiseSettings, TypoSynthesizer

SHOWN_PROBLEMS = 5
SIGHAN15_TEST = "sighan2015_test.tsv"


class PairsError(UserError):
    """A pairs file that cannot be used at all."""


@dataclass
class Pairs:
    """Sentence pairs read from a file, with what was skipped and why."""

    wrong: list[str] = field(default_factory=list)
    correct: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # the first SHOWN_PROBLEMS, as file:line: reason

    def __len__(self) -> int:
        return len(self.wrong)

    def skip(self, where: str, reason: str, detail: str = "") -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        if len(self.problems) < SHOWN_PROBLEMS:
            self.problems.append(f"{where}: {reason}{detail}")

    def typos(self) -> list[tuple[str, str]]:
        """Every (correct char, wrong char) substitution in the pairs."""
        return [(c, w) for wrong, right in zip(self.wrong, self.correct) for w, c in zip(wrong, right) if w != c]


def read_pairs(path: str | Path, limit: int | None = None) -> Pairs:
    """Read ``wrong<TAB>correct`` lines (a third column, e.g. an id, is ignored)."""
    path = Path(path)
    if not path.is_file():
        raise PairsError(f"{path}: no such file (expected wrong<TAB>correct lines)")
    pairs = Pairs()
    with open_text(path) as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            where = f"{path}:{number}"
            if not line.strip():
                pairs.skip(where, "empty line")
                continue
            parts = line.split("\t")
            if len(parts) < 2:
                pairs.skip(where, "no tab between the wrong and the correct sentence")
            elif not parts[0] or not parts[1]:
                pairs.skip(where, "an empty side")
            elif len(parts[0]) != len(parts[1]):
                pairs.skip(
                    where,
                    "sides of different length (spelling correction replaces characters one for one)",
                    f": {len(parts[0])} vs {len(parts[1])} characters",
                )
            else:
                pairs.wrong.append(parts[0])
                pairs.correct.append(parts[1])
                if limit is not None and len(pairs) >= limit:
                    break
    if not pairs.wrong:
        shown = "; ".join(pairs.problems) or "the file is empty"
        raise PairsError(f"{path}: no usable wrong<TAB>correct line ({shown})")
    return pairs


def sighan15_test() -> Pairs:
    """SIGHAN 2015 test in the simplified-Chinese form pycorrector ships (707 lines, 10 of them with sides of
    different length, skipped); for evaluation only, never for training."""

    return read_pairs(pycorrector_data_dir() / SIGHAN15_TEST)


def write_pairs(path: str | Path, wrong: list[str], correct: list[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{w}\t{c}\n" for w, c in zip(wrong, correct)), encoding="utf-8")
    return path


#: the embedded sighan15 task: synthesised People's Daily pairs to train on and to choose the checkpoint with
TRAIN_SENTENCES, DEV_SENTENCES = 10_000, 1_000
SENTENCE_END = "。！？；"
SENTENCE_CHARS = (8, 80)  # SIGHAN sentences: 27 characters on average


def sentences_of(lines: Iterable[str], limit: int | None = None) -> list[str]:
    """Sentences (split at 。！？；) of 8 to 80 characters, up to ``limit``."""
    out = []
    for line in lines:
        for sentence in re.findall(f"[^{SENTENCE_END}]+[{SENTENCE_END}]?", line.strip()):
            if SENTENCE_CHARS[0] <= len(sentence.strip()) <= SENTENCE_CHARS[1]:
                out.append(sentence.strip())
                if limit is not None and len(out) >= limit:
                    return out
    return out


def peoples_daily_sentences(split: str, limit: int | None = None) -> list[str]:
    """Sentences of the People's Daily lines of one evaluation split (``train``: the pretraining corpus)."""

    return sentences_of(peoples_daily_lines(splits=(split,)), limit)


def corpus_sentences(files: list[str], limit: int) -> list[str]:
    """Sentences of clean text files (``task.typo_corpus``)."""

    def lines():
        for path in files:
            if not Path(path).is_file():
                raise PairsError(f"{path}: no such file (clean text to synthesise typos into, one line per paragraph)")
            with open_text(path) as f:
                yield from f

    return sentences_of(lines(), limit)


def sighan15_splits(settings=None, synthesizer=None) -> dict[str, Pairs]:
    """``train``: ``settings.typo_pairs`` typos synthesised (``typo_seed``) into People's Daily sentences of the
    pretraining corpus (or ``typo_corpus``), plus the ``real_pairs`` files; ``dev``: synthesised into the NER
    dev lines (picks the checkpoint); ``test``: SIGHAN 2015 test (real typos, never trained on)."""

    count = getattr(settings, "typo_pairs", TRAIN_SENTENCES)
    corpus = list(getattr(settings, "typo_corpus", None) or [])
    synthesizer = synthesizer or TypoSynthesizer(settings=NoiseSettings(seed=getattr(settings, "typo_seed", 1)))
    sources = {
        "train": corpus_sentences(corpus, count) if corpus else peoples_daily_sentences("train", count),
        "dev": peoples_daily_sentences("dev", DEV_SENTENCES),
    }
    out = {}
    for name, start in (("train", 0), ("dev", 10**8)):  # distinct line numbers: distinct draws
        pairs = out[name] = Pairs()
        for wrong, correct in synthesizer.pairs(sources[name], start=start):
            pairs.wrong.append(wrong)
            pairs.correct.append(correct)
    for path in getattr(settings, "real_pairs", None) or []:
        real = read_pairs(path)
        out["train"].wrong += real.wrong
        out["train"].correct += real.correct
    out["test"] = sighan15_test()
    return out
