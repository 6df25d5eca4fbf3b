"""Pinyin-to-character conversion, what an input method does: the ``pd98-ime`` task and its classic baselines.
[no torch]

Each example is a run of 4 to 32 consecutive Chinese characters of People's Daily 1998 (text between
punctuation, digits and Latin letters); the source is its toneless pinyin, one syllable per character separated
by spaces (the readings in context that the tokenizer gives the same text, tones dropped), the target the run
itself. Lines are split as pd98-ner's blocks (:func:`chinese_ptm.data.corpora.peoples_daily_split`): dev and
test lines are not in the default pretraining corpus. Dev keeps its first 500 runs and test its first 2,000
(generation is decoded every epoch).

Baselines, fitted on the training pairs (source syllables aligned one to one with target characters):
``most frequent character`` per syllable, and a ``bigram HMM`` (characters as hidden states emitting their
syllables, add-one smoothed transitions, Viterbi decoding over the 20 characters seen most often with each
syllable).

A model reads a source in syllables (``task.source_units=syllables``, the preset's setting): each syllable is one
token, the vocabulary character that stands for it (:func:`syllable_stand_ins`), so source and target align one
to one. Written in letters, a syllable is 1 to 5 word pieces of a Chinese vocabulary (``zhong`` is
``z ##h ##o ##n ##g``): a 32-character run takes about 90 tokens and the model must first learn to spell.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from pypinyin import Style, pinyin

from ..data.corpora import peoples_daily_lines, peoples_daily_split
from ..text.pinyin import contextual_pinyin
from ..text.segmentation import JiebaSegmenter
from .examples import Seq2SeqExample

RUN = re.compile(r"[\u4e00-\u9fff]{4,32}")
#: examples kept of each evaluation split
SPLIT_CAPS = {"dev": 500, "test": 2000}
START = "<s>"
#: task.source_units' setting for sources of space-separated syllables (the other: "text", as written)
SOURCE_SYLLABLES = "syllables"
UNKNOWN = "\ufffd"  # what a syllable never seen in training turns into
#: characters of each syllable the HMM considers (the most frequent ones): decoding stays fast in pure Python
CANDIDATES = 20


def toneless_pinyin(text: str) -> str:
    """The syllables of a run of Chinese characters, tones dropped (``zhong guo``); a character without a
    reading keeps its place as itself."""
    readings = contextual_pinyin(text)
    return " ".join((r.rstrip("012345") if r else c) for c, r in zip(text, readings))


def syllable_stand_ins(vocab: Iterable[str]) -> dict[str, str]:
    """Toneless syllable -> the vocabulary character that stands for it in a source read in syllables: the most
    frequent (in jieba's dictionary) of the characters whose every reading is that syllable, so that the tokenizer
    reads it so in any context; for a syllable without one, the most frequent character that reads it first. Each
    character has one first reading, so no two syllables share a stand-in."""
    frequency = JiebaSegmenter().dictionary()
    ranked: dict[str, tuple[bool, int, str]] = {}  # syllable -> (only reading, frequency, character)
    for char in vocab:
        if len(char) != 1 or not "\u4e00" <= char <= "\u9fff":
            continue
        readings = [r.rstrip("012345") for r in pinyin(char, style=Style.TONE3, heteronym=True)[0]]
        rank = (len(set(readings)) == 1, frequency.get(char, 0), char)
        ranked[readings[0]] = max(ranked.get(readings[0], rank), rank)
    return {syllable: rank[2] for syllable, rank in ranked.items()}


def in_stand_ins(source: str, stand_ins: dict[str, str]) -> str:
    """A source of space-separated syllables as the characters that stand for them (a syllable without one, or a
    character kept as itself, stays as written, spaced from its neighbours)."""
    return "".join(stand_ins.get(unit) or f" {unit} " for unit in source.split())


def ime_examples(settings=None) -> dict[str, list[Seq2SeqExample]]:
    """The pd98-ime task's splits."""
    out: dict[str, list[Seq2SeqExample]] = {"train": [], "dev": [], "test": []}
    for index, line in enumerate(peoples_daily_lines()):
        split = peoples_daily_split(index)
        for run in RUN.findall(line):
            if len(out[split]) < SPLIT_CAPS.get(split, len(out[split]) + 1):
                out[split].append(Seq2SeqExample(len(out[split]), toneless_pinyin(run), run))
    return out


def is_aligned(examples: list[Seq2SeqExample]) -> bool:
    """Whether every source has one syllable per target character (a transliteration task)."""
    return bool(examples) and all(e.target is not None and len(e.source.split()) == len(e.target) for e in examples)


class Transliterator:
    """Most frequent character per syllable and a bigram HMM, counted on aligned training pairs."""

    def __init__(self, examples: list[Seq2SeqExample]):
        self.emissions: dict[str, Counter] = defaultdict(Counter)  # syllable -> character counts
        self.bigrams: dict[str, Counter] = defaultdict(Counter)  # previous character -> next character counts
        self.vocabulary: set[str] = set()
        for example in examples:
            previous = START
            for syllable, char in zip(example.source.split(), example.target or ""):
                self.emissions[syllable][char] += 1
                self.bigrams[previous][char] += 1
                self.vocabulary.add(char)
                previous = char

    def candidates(self, syllable: str) -> list[str]:
        """The characters seen most often with the syllable; an unseen one yields a stand-in."""
        counts = self.emissions.get(syllable)
        return [c for c, _ in counts.most_common(CANDIDATES)] if counts else [UNKNOWN]

    def most_frequent(self, source: str) -> str:
        return "".join(self.candidates(s)[0] for s in source.split())

    def _emission(self, syllable: str, char: str) -> float:
        """log P(syllable | character), from the character's own counts."""
        counts = self.emissions.get(syllable)
        if not counts or char not in counts:
            return 0.0  # the syllable is unseen: it carries no information about its stand-in
        total = sum(self.emissions[s][char] for s in self._syllables_of(char))
        return math.log(counts[char] / total)

    def _syllables_of(self, char: str) -> list[str]:
        if not hasattr(self, "_readings"):
            self._readings: dict[str, list[str]] = defaultdict(list)
            for syllable, counts in self.emissions.items():
                for c in counts:
                    self._readings[c].append(syllable)
        return self._readings[char]

    def _transition(self, previous: str, char: str) -> float:
        """log P(char | previous), add-one smoothed over the characters seen in training."""
        counts = self.bigrams.get(previous, Counter())
        return math.log((counts[char] + 1) / (sum(counts.values()) + len(self.vocabulary) + 1))

    def viterbi(self, source: str) -> str:
        """The most likely characters under the bigram HMM."""
        best = {START: (0.0, "")}  # last character -> (log probability, text)
        for syllable in source.split():
            step = {}
            for char in self.candidates(syllable):
                emit = self._emission(syllable, char)
                score, text = max((p + self._transition(last, char) + emit, t) for last, (p, t) in best.items())
                step[char] = (score, text + char)
            best = step
        return max(best.values())[1] if best else ""
