"""Confusion sets for Chinese spelling correction: the characters a typist puts in place of another.

Four kinds, from this project's own tables (the pinyin readings of the tokenizer, the glyph bitmaps):

* ``same_sound``: same syllable and tone (在 -> 再), every reading of the character;
* ``same_syllable``: same syllable, another tone (在 -> 灾);
* ``near_sound``: a syllable that differs by a confusion of initials or finals common in Mandarin input
  (z/zh, c/ch, s/sh, n/l, l/r, f/h; an/ang, en/eng, in/ing, ian/iang, uan/uang), any tone (在 -> 债);
* ``look_alike``: glyph bitmaps with a cosine of at least 0.6 in the shipped fonts (己 -> 已).

The first, second and fourth come from :class:`chinese_ptm.masking.PinyinGlyphSimilarity` (the tables behind
MacBERT-style masking); candidates are ordered by jieba's character frequency. pycorrector's published sets
(``same_pinyin.txt``, ``same_stroke.txt`` in its wheel, Apache-2.0) can be read as another source
(:func:`pycorrector_sets`) and merged; :func:`coverage` measures how many real typo pairs a set explains.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..errors import UserError
from ..masking import PinyinGlyphSimilarity
from ..text.pinyin import reading_engine

KINDS = ("same_sound", "same_syllable", "near_sound", "look_alike")
PHONETIC = ("same_sound", "same_syllable", "near_sound")
#: initials and finals that Mandarin speakers (and pinyin input methods' fuzzy modes) confuse
FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"), ("l", "r"), ("f", "h"))
FUZZY_FINALS = (("ang", "an"), ("eng", "en"), ("ing", "in"), ("iang", "ian"), ("uang", "uan"))
INITIALS = (
    "zh",
    "ch",
    "sh",
    "b",
    "p",
    "m",
    "f",
    "d",
    "t",
    "n",
    "l",
    "g",
    "k",
    "h",
    "j",
    "q",
    "x",
    "r",
    "z",
    "c",
    "s",
    "y",
    "w",
)


def split_syllable(syllable: str) -> tuple[str, str]:
    """(initial, final) of a toneless syllable: ``zhong`` -> (``zh``, ``ong``), ``an`` -> (``""``, ``an``)."""
    for initial in INITIALS:
        if syllable.startswith(initial) and len(syllable) > len(initial):
            return initial, syllable[len(initial) :]
    return "", syllable


def fuzzy_syllables(syllable: str, valid: set[str]) -> list[str]:
    """Existing syllables one fuzzy confusion away from ``syllable`` (initial or final, not both)."""
    initial, final = split_syllable(syllable)
    out = []
    for a, b in FUZZY_INITIALS:
        for x, y in ((a, b), (b, a)):
            if initial == x:
                out.append(y + final)
    for a, b in FUZZY_FINALS:
        for x, y in ((a, b), (b, a)):
            if final.endswith(x) and not (x == "an" and final.endswith("ian") and y == "ang"):
                out.append(initial + final[: len(final) - len(x)] + y)
    return [s for s in dict.fromkeys(out) if s in valid and s != syllable]


class ConfusionSet:
    """character -> {kind: [characters]}, built lazily per character from the project's tables.

    Args:
        similarity: a built :class:`~chinese_ptm.masking.PinyinGlyphSimilarity` (default: the bundled
            vocabulary's, about 10 s to build).
        extra: another source to merge in (e.g. :func:`pycorrector_sets`): char -> {kind: [chars]}.
        max_candidates: characters kept per kind.
    """

    def __init__(
        self, similarity=None, extra: Mapping[str, Mapping[str, list[str]]] | None = None, max_candidates: int = 12
    ):

        self.similarity = (similarity or PinyinGlyphSimilarity(max_candidates=max_candidates)).build()
        self.extra = extra or {}
        self.max_candidates = max_candidates
        self._engine = reading_engine()
        self._syllables = {r.rstrip("012345") for r in self._engine.readings if r}
        self._cache: dict[str, dict[str, list[str]]] = {}

    @property
    def chars(self) -> list[str]:
        """The vocabulary characters the set knows."""
        return list(self.similarity.chars)

    def readings(self, char: str) -> list[str]:
        """Every TONE3 reading of a character (pypinyin's heteronyms), primary first."""
        from pypinyin import Style, pinyin

        return [
            r
            for r in pinyin(char, style=Style.TONE3, heteronym=True, neutral_tone_with_five=True)[0]
            if r and r[-1].isdigit()
        ]

    def __getitem__(self, char: str) -> dict[str, list[str]]:
        got = self._cache.get(char)
        if got is None:
            got = self._cache[char] = self._build(char)
        return got

    def _build(self, char: str) -> dict[str, list[str]]:
        sim = self.similarity
        found: dict[str, list[str]] = {kind: [] for kind in KINDS}
        for reading in self.readings(char):
            found["same_sound"] += sim.homophones(char, reading)
            found["same_syllable"] += sim.near_homophones(char, reading)
            for other in fuzzy_syllables(reading.rstrip("012345"), self._syllables):  # every tone of it
                found["near_sound"] += sim.homophones(char, other + "1") + sim.near_homophones(char, other + "1")
        found["look_alike"] = sim.glyph_similar(char)
        found = {
            kind: list(dict.fromkeys(chars))[: self.max_candidates] + list(self.extra.get(char, {}).get(kind, ()))
            for kind, chars in found.items()
        }
        seen = {char}
        for kind in KINDS:  # each character once, under the first (closest) kind
            found[kind] = [c for c in dict.fromkeys(found[kind]) if c not in seen and not seen.add(c)]
        return found

    def kind_of(self, right: str, wrong: str) -> str | None:
        """The kind under which ``wrong`` is a confusion of ``right``, or ``None``."""
        return next((kind for kind, chars in self[right].items() if wrong in chars), None)


def pycorrector_data_dir() -> Path:
    """``pycorrector/data`` of the installed package (found without importing it)."""
    spec = importlib.util.find_spec("pycorrector")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            "pycorrector is not installed: pip install 'chinese_ptm[csc]' (its data files: SIGHAN 2015 "
            "test, confusion sets)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def pycorrector_sets(data_dir: Path | None = None) -> dict[str, dict[str, list[str]]]:
    """pycorrector's sets as char -> {kind: [chars]}: ``same_pinyin.txt`` (same tone -> same_sound, other tone ->
    same_syllable) and ``same_stroke.txt`` (each line a group of look-alikes)."""
    data_dir = data_dir or pycorrector_data_dir()
    out: dict[str, dict[str, list[str]]] = {}
    for line in (data_dir / "same_pinyin.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if line.startswith("#") or len(parts) < 2 or len(parts[0]) != 1:
            continue
        entry = out.setdefault(parts[0], {})
        entry["same_sound"] = list(parts[1])
        entry["same_syllable"] = list(parts[2]) if len(parts) > 2 else []
    for line in (data_dir / "same_stroke.txt").read_text(encoding="utf-8").splitlines():
        group = [c for c in line.split("\t") if len(c) == 1]
        for c in group:
            out.setdefault(c, {}).setdefault("look_alike", []).extend(x for x in group if x != c)
    return out


def coverage(pairs: Iterable[tuple[str, str]], sets: Mapping[str, Mapping[str, list[str]]] | ConfusionSet) -> dict:
    """How many typo pairs (right char, wrong char) a confusion set explains: overall and per kind."""
    by_kind: Counter = Counter()
    total = 0
    for right, wrong in pairs:
        total += 1
        entry = sets[right] if isinstance(sets, ConfusionSet) else sets.get(right, {})
        kind = next((k for k, chars in entry.items() if wrong in chars), None)
        by_kind[kind or "not covered"] += 1
    covered = total - by_kind["not covered"]
    return {
        "pairs": total,
        "covered": covered,
        "coverage": covered / max(total, 1),
        "by_kind": {k: by_kind[k] for k in (*KINDS, "not covered") if by_kind[k]},
    }
