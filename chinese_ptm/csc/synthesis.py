"""Training pairs for spelling correction synthesised from clean text: what a typist might have typed.

Per sentence (deterministic for ``(seed, line number)``, so any slice of a corpus can be made on any machine):

* ``clean_ratio`` of the sentences stay as they are (a corrector must also leave correct text alone);
* otherwise the sentence gets ``max(1, Binomial(n, error_rate))`` typos, ``n`` its Chinese characters, at
  most one per segmented word (a typist's slip rarely hits two characters of one word) and only on
  characters of the model's vocabulary;
* each typo is drawn by kind: phonetic (``mix[0]``; same sound, then same syllable, then near sound, in
  ``phonetic_weights``), look-alike (``mix[1]``) or any vocabulary character (``mix[2]``); a kind that
  has no candidate for the character gives its turn to the next.

The model is then fed the corrupted text, its pinyin and glyphs computed from what was typed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ..text.normalize import is_cjk
from ..text.segmentation import get_segmenter
from .confusion import ConfusionSet

KIND_ORDER = ("phonetic", "look_alike", "random")


@dataclass(frozen=True)
class NoiseSettings:
    error_rate: float = 0.04  # typos per Chinese character in a sentence that has any (SIGHAN: ~1.3 in 27)
    clean_ratio: float = 0.3
    mix: tuple[float, float, float] = (0.7, 0.25, 0.05)  # phonetic, look-alike, random
    phonetic_weights: tuple[float, float, float] = (0.6, 0.3, 0.1)  # same sound, same syllable, near sound
    seed: int = 1

    def __post_init__(self):
        if not 0 <= self.error_rate <= 1 or not 0 <= self.clean_ratio <= 1:
            raise ValueError(
                f"error_rate and clean_ratio must lie in [0, 1], got {self.error_rate}, {self.clean_ratio}"
            )
        for name in ("mix", "phonetic_weights"):
            weights = getattr(self, name)
            if len(weights) != 3 or min(weights) < 0 or sum(weights) <= 0:
                raise ValueError(f"{name} must be three non-negative weights, got {weights}")


class TypoSynthesizer:
    """Corrupts clean sentences with confusion-set typos; counts what it did in ``stats``."""

    def __init__(
        self, confusion: ConfusionSet | None = None, settings: NoiseSettings = NoiseSettings(), segmenter=None
    ):

        self.confusion = confusion or ConfusionSet()
        self.settings = settings
        self.segmenter = segmenter or get_segmenter("jieba")
        self.vocab_chars = sorted(self.confusion.chars)
        self._known = set(self.vocab_chars)
        self.stats: Counter = Counter()

    def corrupt(self, text: str, index: int) -> str:
        """The sentence as typed with slips (the same for the same ``(seed, index)``)."""
        rng = np.random.default_rng([self.settings.seed, index])
        if rng.random() < self.settings.clean_ratio:
            self.stats["clean sentences"] += 1
            return text
        words = [
            [i for i in range(s, e) if is_cjk(text[i]) and text[i] in self._known]
            for s, e in self.segmenter.segment(text)
        ]
        words = [w for w in words if w]
        n_chars = sum(len(w) for w in words)
        if not n_chars:
            self.stats["sentences without Chinese characters"] += 1
            return text
        count = min(max(1, rng.binomial(n_chars, self.settings.error_rate)), len(words))
        chars = list(text)
        for w in rng.choice(len(words), size=count, replace=False):
            position = words[w][rng.integers(len(words[w]))]
            typo, kind = self._typo(text[position], rng)
            if typo is not None:
                chars[position] = typo
                self.stats[kind] += 1
        self.stats["corrupted sentences"] += 1
        return "".join(chars)

    def _typo(self, char: str, rng: np.random.Generator) -> tuple[str | None, str]:
        sets = self.confusion[char]
        phonetic = [
            (sets[k], w)
            for k, w in zip(("same_sound", "same_syllable", "near_sound"), self.settings.phonetic_weights)
            if sets[k] and w > 0
        ]
        options = {
            "phonetic": phonetic,
            "look_alike": [(sets["look_alike"], 1.0)] if sets["look_alike"] else [],
            "random": [(self.vocab_chars, 1.0)],
        }
        weights = np.array([w if options[k] else 0.0 for k, w in zip(KIND_ORDER, self.settings.mix)])
        if weights.sum() <= 0:
            return None, "no candidate"
        kind = KIND_ORDER[rng.choice(3, p=weights / weights.sum())]
        lists, list_weights = zip(*options[kind])
        chosen = lists[rng.choice(len(lists), p=np.array(list_weights) / sum(list_weights))]
        typo = chosen[rng.integers(len(chosen))]
        return (typo, kind) if typo != char else (None, "no candidate")

    def pairs(self, lines: Iterable[str], start: int = 0) -> Iterator[tuple[str, str]]:
        """(typed, correct) for each non-empty line; line numbers (from ``start``) seed the draws."""
        for index, line in enumerate(lines, start):
            line = line.strip()
            if line:
                yield self.corrupt(line, index), line
