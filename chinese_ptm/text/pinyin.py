"""Pinyin: the 32-symbol alphabet, syllable -> 8 ids, contextual readings, vocab tables.

Readings are exactly ``pypinyin.pinyin(segment, style=TONE3, heteronym=True)[i][0]`` for every
character of ``segment`` (as the original ChineseBERT tokenizer reads them), computed without pypinyin's per-call overhead:

* pypinyin splits a text into runs of Chinese characters (its ``RE_HANS``), cuts each run by forward
  maximum matching over its phrase dictionary, and reads a phrase from that dictionary and any other
  character from its single-character dictionary.
* Most characters read the same in every phrase that contains them, so their reading is a table
  lookup (``ReadingEngine.char_reading``, numpy, the whole batch at once).
* A phrase whose reading differs from its characters' own readings (8.8k of 47k phrases, e.g.
  银行, 行长, 了解, 一个) is *special*. Each special phrase contains a *trigger* bigram; a run that
  contains no trigger bigram cannot be cut into a special phrase and keeps its table readings.
  The few runs that do (about 15% of runs in news text) are cut exactly as pypinyin cuts them.

Everything here is derived from pypinyin's own dictionaries at first use; the tests compare the
result with pypinyin itself on real text and on random strings.
"""

from __future__ import annotations

import logging
import os
import pickle
import threading
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .normalize import codepoints

logger = logging.getLogger(__name__)

#: The 32 pinyin symbols of ChineseBERT: tone digits, then the Latin letters (ü is written ``v``).
ALPHABET = "012345abcdefghijklmnopqrstuvwxyz"
#: Number of id slots per character (the longest TONE3 syllable has 7 symbols).
PINYIN_SLOTS = 8
#: pypinyin version the shipped tables and the reference outputs were made with.
PINNED_PYPINYIN = "0.55.0"
#: What the original tokenizer's ``errors=`` callback gives a character without a reading.
NOT_CHINESE = "not chinese"
#: File names of a vocabulary's pinyin tables (the original ChineseBERT layout keeps them in config/).
PINYIN_MAP_FILE = "pinyin_map.json"
PINYIN2TENSOR_FILE = "pinyin2tensor.json"
ID2PINYIN_FILE = "id2pinyin.json"
PINYIN_META_FILE = "pinyin_meta.json"
TABLES_SUBDIR = "config"

_CHAR2IDX = {c: i for i, c in enumerate(ALPHABET)}
_ZERO_ROW = [0] * PINYIN_SLOTS


def pypinyin_version() -> str:
    import pypinyin

    return pypinyin.__version__


def encode_syllable(syllable: str) -> list[int]:
    """Encode a TONE3 syllable symbol by symbol into ``PINYIN_SLOTS`` ids (left-aligned, zero-padded).

    A symbol outside the alphabet (or a syllable longer than the slots) gives all zeros, as in the
    original tokenizer.
    """
    ids = [0] * PINYIN_SLOTS
    if len(syllable) > PINYIN_SLOTS:
        return ids
    for i, symbol in enumerate(syllable):
        idx = _CHAR2IDX.get(symbol)
        if idx is None:
            return [0] * PINYIN_SLOTS
        ids[i] = idx
    return ids


def decode_syllable(ids: Sequence[int]) -> str:
    """Inverse of :func:`encode_syllable` (zeros are padding)."""
    return "".join(ALPHABET[i] for i in ids if i)


def _with_tone(reading: str) -> str:
    """The table value of a reading: a neutral-tone syllable gets tone ``5`` (``de`` -> ``de5``)."""
    return reading if reading[-1:].isdigit() else reading + "5"


# ---------------------------------------------------------------------------------------------
# Contextual readings
# ---------------------------------------------------------------------------------------------


class ReadingEngine:
    """Contextual TONE3 readings identical to pypinyin's, at table speed.

    Readings are interned: ``readings[k]`` is a TONE3 string, index 0 means "no reading" (a
    character pypinyin reports as not Chinese). Build one with :func:`reading_engine`.
    """

    #: windows remembered before the cache starts over
    CACHE_SIZE = 200_000

    def __init__(self) -> None:
        from pypinyin import Style
        from pypinyin.constants import PINYIN_DICT
        from pypinyin.converter import UltimateConverter

        self.pypinyin_version = pypinyin_version()
        self._converter = UltimateConverter()  # the converter pypinyin.pinyin() uses
        self._tone3 = Style.TONE3
        self._converted: dict[tuple[str, str], str] = {}
        self.readings: list[str | None] = [None]
        self._reading_index: dict[str, int] = {}
        # One slot per code point up to the highest one pypinyin knows; code points above it are
        # folded onto the last slot, a sentinel that is neither Chinese nor read.
        top = max(max(PINYIN_DICT), 0x30000) + 1
        self.is_hans = _hans_table(top)
        self.char_reading = np.zeros(top + 1, dtype=np.int32)
        for cp, raw in PINYIN_DICT.items():
            if cp < top and self.is_hans[cp]:
                self.char_reading[cp] = self._first_reading(chr(cp), raw.split(","))
        self._phrase_tables(top)
        del self._converter, self._converted  # needed while building only
        self.max_codepoint = top  # the sentinel slot
        self._cache_at_end: dict[str, np.ndarray] = {}
        self._cache_inside: dict[str, np.ndarray] = {}

    def _intern(self, reading: str) -> int:
        idx = self._reading_index.get(reading)
        if idx is None:
            idx = self._reading_index[reading] = len(self.readings)
            self.readings.append(reading)
        return idx

    def _first_reading(self, han: str, candidates: Iterable[str]) -> int:
        # pypinyin converts every candidate, drops empty ones and duplicates, keeps [''] if none
        # is left; item[0] is therefore the first non-empty converted candidate.
        for raw in candidates:
            key = (han, raw)
            value = self._converted.get(key)
            if value is None:
                value = self._converted[key] = self._converter.convert_style(han, raw, self._tone3, True)
            if value:
                return self._intern(value)
        return self._intern("")

    def _phrase_tables(self, top: int) -> None:
        """Phrases: their readings, the prefix set of pypinyin's maximum-matching cutter, every adjacent pair of
        characters inside a phrase, and the trigger bigram of every phrase that reads differently from its
        characters."""
        from pypinyin.constants import PHRASES_DICT

        self.phrases: dict[str, tuple[int, ...]] = {}
        self.prefixes: set[str] = set()
        self.pairs: set[str] = set()
        triggers: set[int] = set()
        for phrase, items in PHRASES_DICT.items():
            indices = tuple(self._first_reading(han, item) for han, item in zip(phrase, items))
            self.phrases[phrase] = indices
            self.prefixes.update(phrase[:end] for end in range(1, len(phrase) + 1))
            self.pairs.update(phrase[pos : pos + 2] for pos in range(len(phrase) - 1))
            for pos, (han, idx) in enumerate(zip(phrase, indices)):
                cp = ord(han)
                if cp >= top or self.char_reading[cp] != idx:
                    left = pos if pos + 1 < len(phrase) else pos - 1
                    triggers.add(_bigram(ord(phrase[left]), ord(phrase[left + 1])))
                    break
        self.triggers = np.array(sorted(triggers), dtype=np.int64)
        # cheap pre-filter: can this code point start / end a trigger bigram?
        self.trigger_first = np.zeros(top + 1, dtype=bool)
        self.trigger_second = np.zeros(top + 1, dtype=bool)
        self.trigger_first[self.triggers >> 21] = True
        self.trigger_second[self.triggers & 0x1FFFFF] = True

    def __reduce__(self):
        # pickled by reference: a worker process builds (or reuses) its own engine
        return (reading_engine, ())

    # -- exact cutting -------------------------------------------------------------------------
    def cut(self, text: str, ends_run: bool = True) -> list[str]:
        """pypinyin's forward maximum matching (its ``mmseg``) of Chinese characters.

        ``text`` is a whole run of Chinese characters, or a window of one that starts where a
        word must start; ``ends_run`` says whether the window reaches the end of its run (only
        then does pypinyin's end-of-text rule apply: a rest that is a phrase prefix but holds no
        phrase is read character by character).
        """
        prefixes, phrases = self.prefixes, self.phrases
        words: list[str] = []
        i, n = 0, len(text)
        while i < n:
            j, last = i, 0
            while j < n and text[i : j + 1] in prefixes:
                j += 1
                if text[i:j] in phrases:
                    last = j
            if last:
                words.append(text[i:last])
                i = last
            elif j == n and ends_run:
                words.extend(text[i:])
                break
            else:
                words.append(text[i])
                i += 1
        return words

    def window_readings(self, text: str, ends_run: bool = True) -> np.ndarray:
        """Reading indices (int32) of a run, or of a window of one (see :meth:`cut`)."""
        out: list[int] = []
        char_reading, phrases = self.char_reading, self.phrases
        for word in self.cut(text, ends_run):
            got = phrases.get(word)
            if got is not None:
                out.extend(got)
            else:
                out.append(int(char_reading[ord(word)]))
        return np.asarray(out, dtype=np.int32)

    # -- whole texts ---------------------------------------------------------------------------
    def codepoints(self, text: str) -> np.ndarray:
        return np.minimum(codepoints(text), self.max_codepoint).astype(np.int64)

    def readings_of(self, text: str) -> np.ndarray:
        """Reading index of every character of ``text`` (int32, length ``len(text)``; 0 = none)."""
        return self.batch_readings([text])[0]

    def batch_readings(self, texts: Sequence[str]) -> list[np.ndarray]:
        """:meth:`readings_of` for many texts with one pass of numpy over the whole batch."""
        if not texts:
            return []
        out, _ = self.joined_readings(texts)
        bounds = np.cumsum([0] + [len(t) + 1 for t in texts])
        return [out[bounds[k] : bounds[k + 1] - 1] for k in range(len(texts))]

    def joined_readings(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Readings and code points of ``"\n".join(texts)`` (text k starts after k newlines).

        ``"\n"`` is never Chinese, so runs and bigrams cannot cross from one text into the next.
        """
        joined = "\n".join(texts)
        cps = self.codepoints(joined)
        out = self.char_reading[cps]
        if len(cps) > 1:
            first, second = cps[:-1], cps[1:]
            cand = np.flatnonzero(self.trigger_first[first] & self.trigger_second[second])
            if len(cand):
                bigrams = _bigram(first[cand], second[cand])
                pos = np.minimum(np.searchsorted(self.triggers, bigrams), len(self.triggers) - 1)
                hits = cand[self.triggers[pos] == bigrams]
                if len(hits):
                    self._fix_windows(joined, cps, out, hits)
        return out, cps

    def _fix_windows(self, joined: str, cps: np.ndarray, out: np.ndarray, hits: np.ndarray) -> None:
        """Re-read the characters around each trigger bigram exactly.

        A word of pypinyin's cutter is a phrase or one character, so where two neighbours never
        stand side by side in any phrase, a word must end between them. The window around a
        trigger therefore runs from the last such break before it to the first one after it.
        Windows repeat a lot (银行, 一个 ...): their readings are cached.
        """
        pairs, is_hans = self.pairs, self.is_hans
        at_end, inside = self._cache_at_end, self._cache_inside
        if len(at_end) + len(inside) > self.CACHE_SIZE:
            at_end.clear()
            inside.clear()
        n = len(joined)
        done = -1
        for h in hits.tolist():
            if h < done:
                continue
            q = h
            while q and joined[q - 1 : q + 1] in pairs:
                q -= 1
            r = h + 2  # exclusive end
            while r < n and joined[r - 1 : r + 1] in pairs:
                r += 1
            text = joined[q:r]
            if r >= n or not is_hans[cps[r]]:
                got = at_end.get(text)
                if got is None:
                    got = at_end[text] = self.window_readings(text, True)
            else:
                got = inside.get(text)
                if got is None:
                    got = inside[text] = self.window_readings(text, False)
            out[q:r] = got
            done = r

    def clear_cache(self) -> None:
        """Forget the cached window readings (benchmarks start cold with it)."""
        self._cache_at_end.clear()
        self._cache_inside.clear()


def _bigram(a, b):
    return (a << 21) | b


_ENGINE: ReadingEngine | None = None
_ENGINE_LOCK = threading.Lock()


ENGINE_FORMAT = 1


def _engine_cache_path() -> Path:
    from pypinyin.constants import PHRASES_DICT, PINYIN_DICT

    root = Path(os.environ.get("CHINESE_PTM_CACHE", Path.home() / ".cache" / "chinese_ptm"))
    key = f"{pypinyin_version()}-{len(PINYIN_DICT)}-{len(PHRASES_DICT)}-v{ENGINE_FORMAT}"
    return root / f"readings-{key}.pkl"


def _load_or_build_engine() -> ReadingEngine:
    """Build the engine from pypinyin's dictionaries (seconds), or load the cached build (0.2 s).

    The cache file is keyed by pypinyin's version and dictionary sizes; it is only an
    acceleration: a missing, unreadable or unwritable cache just means building.
    """
    path = _engine_cache_path()
    try:
        with path.open("rb") as f:
            state = pickle.load(f)
        engine = ReadingEngine.__new__(ReadingEngine)
        engine.__dict__.update(state)
        engine._cache_at_end, engine._cache_inside = {}, {}
        return engine
    except Exception:  # no cache yet, or one from an incompatible build: build it
        pass
    engine = ReadingEngine()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            pickle.dump({k: v for k, v in engine.__dict__.items() if not k.startswith("_cache")}, f, protocol=5)
        os.replace(tmp, path)
    except OSError:
        pass
    return engine


def reading_engine(rebuild: bool = False) -> ReadingEngine:
    """The process-wide :class:`ReadingEngine`: a snapshot of pypinyin's dictionaries taken at first use
    (``rebuild=True`` after changing them with ``pypinyin.load_phrases_dict``)."""
    global _ENGINE
    if _ENGINE is None or rebuild:
        with _ENGINE_LOCK:
            if _ENGINE is None or rebuild:
                _ENGINE = ReadingEngine() if rebuild else _load_or_build_engine()
    return _ENGINE


def contextual_pinyin(text: str) -> list[str | None]:
    """TONE3 reading of every character of ``text`` in context (``None``: not Chinese)."""
    engine = reading_engine()
    return [engine.readings[i] for i in engine.readings_of(text)]


def _not_chinese(chars: str) -> list[list[str]]:
    """pypinyin's ``errors`` callback: the one reading ``NOT_CHINESE`` for each character without a reading."""
    return [[NOT_CHINESE] for _ in chars]


def pypinyin_readings(text: str) -> list[str | None]:
    """The same readings computed the way the original ChineseBERT tokenizer does (slow reference)."""
    from pypinyin import Style, pinyin

    # pypinyin's stub types ``errors`` as returning str; at run time it also takes the readings of each character
    items = pinyin(text, style=Style.TONE3, heteronym=True, errors=_not_chinese)  # type: ignore[arg-type]
    return [None if item[0] == NOT_CHINESE else item[0] for item in items]


# ---------------------------------------------------------------------------------------------
# A vocabulary's pinyin tables
# ---------------------------------------------------------------------------------------------


def _hans_table(top: int) -> np.ndarray:
    """Which code points pypinyin treats as Chinese (one RE_HANS match per code point), up to ``top``."""
    from pypinyin.constants import RE_HANS

    is_hans = np.zeros(top + 1, dtype=bool)
    for cp in range(0, top):  # the CJK blocks and a few scattered ranges below them
        if RE_HANS.match(chr(cp)):
            is_hans[cp] = True
    return is_hans
