"""Test-time noise: the test texts with a share of their Chinese characters typed wrong, as a user of a pinyin
or stroke input method would type them, to measure what a model keeps under typos (``chinese-ptm evaluate
--noise phonetic:0.1,visual:0.05``).

Each Chinese character the confusion sets know is replaced, independently and with a seeded generator, by a
same-sound or near-sound character (``phonetic``: same syllable and tone, same syllable, fuzzy initials and
finals) or a look-alike one (``visual``: glyph bitmaps of cosine >= 0.6) with the given probabilities. A
replacement is one character for one, so labels that are character spans (entities) keep their offsets; the
model reads the typed character's own reading and glyph, as it would in the field. Also here: the subset of
test examples that hold a rare character (seen at most ``rare_max_count`` times in the training texts), and
those that hold a character outside the model's vocabulary.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import SettingsError
from ..finetune.examples import Split
from ..finetune.task import TaskData
from ..text.normalize import is_cjk
from .confusion import PHONETIC, ConfusionSet

#: noise kinds a user names -> the confusion kinds they draw from
NOISE_KINDS = {"phonetic": PHONETIC, "visual": ("look_alike",)}
#: the text fields of the examples that noise may change (labels and spans stay as they are)
TEXT_FIELDS = ("text_a", "text_b", "text")


@dataclass(frozen=True)
class NoiseSpec:
    """Share of the Chinese characters replaced per kind, e.g. ``{"phonetic": 0.1, "visual": 0.05}``."""

    shares: dict[str, float]

    @classmethod
    def parse(cls, value: str) -> NoiseSpec:
        """``phonetic:0.1,visual:0.05`` -> a spec; a one-line error naming the part that is wrong."""
        shares: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in value.split(","))):
            kind, _, share = part.partition(":")
            if kind not in NOISE_KINDS:
                raise SettingsError(f"--noise {part!r}: the kinds are {', '.join(NOISE_KINDS)}, e.g. phonetic:0.1")
            try:
                shares[kind] = float(share)
            except ValueError:
                raise SettingsError(f"--noise {part!r}: give a share after the colon, e.g. {kind}:0.1") from None
            if not 0 < shares[kind] < 1:
                raise SettingsError(f"--noise {part!r}: the share of characters must lie between 0 and 1")
        if not shares or sum(shares.values()) >= 1:
            raise SettingsError(f"--noise {value!r}: name one or more kinds whose shares sum below 1")
        return cls(shares)

    def __str__(self) -> str:
        return ",".join(f"{kind}:{share:g}" for kind, share in self.shares.items())


class TestNoise:
    """Replaces characters of texts as :class:`NoiseSpec` says; the same seed gives the same typos."""

    __test__ = False  # not a pytest class

    def __init__(self, spec: NoiseSpec, confusion: ConfusionSet | None = None, seed: int = 1):
        self.spec, self.seed = spec, seed
        self.confusion = confusion or ConfusionSet()
        self.replaced: Counter[str] = Counter()  # per kind, for the report
        self.characters = 0  # Chinese characters seen

    def text(self, text: str, rng: np.random.Generator) -> str:
        chars = list(text)
        for i, char in enumerate(chars):
            if not is_cjk(char):
                continue
            self.characters += 1
            draw, start = rng.random(), 0.0
            for kind, share in self.spec.shares.items():
                if start <= draw < start + share:
                    candidates = [c for k in NOISE_KINDS[kind] for c in self.confusion[char].get(k, ())]
                    if candidates:
                        chars[i] = candidates[rng.integers(len(candidates))]
                        self.replaced[kind] += 1
                    break
                start += share
        return "".join(chars)

    def split(self, split: Split, name: str) -> Split:
        """A copy of ``split`` whose examples' texts carry the noise (each example its own seeded draws)."""
        examples = []
        for index, example in enumerate(split.examples):
            rng = np.random.default_rng([self.seed, index])
            changed = {f: self.text(getattr(example, f), rng) for f in TEXT_FIELDS if getattr(example, f, None)}
            examples.append(dataclasses.replace(example, **changed))
        return dataclasses.replace(split, name=name, examples=examples)

    def report(self) -> dict:
        return {
            "spec": str(self.spec),
            "seed": self.seed,
            "chinese_characters": self.characters,
            "replaced": dict(self.replaced),
            "replaced_share": round(sum(self.replaced.values()) / max(self.characters, 1), 4),
        }


def rare_split(task: TaskData, name: str = "test_rare", rare_max_count: int = 2, split: str = "test") -> Split:
    """The examples of ``split`` holding a Chinese character seen at most ``rare_max_count`` times in the training
    texts (names, places, informal writing: where a glyph or a reading tells the model what the word does not)."""
    counts: Counter[str] = Counter()
    for example in task.splits["train"].examples:
        for field in TEXT_FIELDS:
            counts.update(c for c in getattr(example, field, None) or "" if is_cjk(c))
    return examples_holding(task.splits[split], name, lambda c: counts[c] <= rare_max_count)


def unknown_split(task: TaskData, vocab, name: str = "test_unk", split: str = "test") -> Split:
    """The examples of ``split`` holding a Chinese character outside the model's vocabulary ``vocab`` (a
    container of tokens): [UNK] to the word embedding, its own glyph to a model with open glyphs."""
    return examples_holding(task.splits[split], name, lambda c: c not in vocab)


def examples_holding(source: Split, name: str, chosen: Callable[[str], bool]) -> Split:
    """The examples of ``source`` with a Chinese character for which ``chosen`` holds, as a split called ``name``."""

    def holds(example) -> bool:
        return any(is_cjk(c) and chosen(c) for f in TEXT_FIELDS for c in getattr(example, f, None) or "")

    return dataclasses.replace(source, name=name, examples=[e for e in source.examples if holds(e)])
