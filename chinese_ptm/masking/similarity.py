"""Similar words for MacBERT-style replacement ("MLM as correction").

A source is anything with ``similar(word, rng) -> str | None``: a word of the same length that
resembles ``word``, or ``None`` when it knows none (the collator then draws a random word).

:class:`PinyinGlyphSimilarity` (the default) is built from this project's own tables: homophones
(same syllable and tone, from every reading of every vocabulary character), near-homophones (same
syllable, another tone), visually similar characters (cosine of the glyph bitmaps), and, for longer
words, dictionary words read the same way or made by swapping one character for a similar one.
:class:`~chinese_ptm.masking.word2vec.Word2VecSimilarity` reads a user's word2vec file instead.
"""

from __future__ import annotations

import logging
import time
from typing import Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from chinese_ptm import glyph
from chinese_ptm.text.normalize import is_cjk
from chinese_ptm.text.pinyin import ALPHABET, reading_engine
from chinese_ptm.text.tokenization import load_tokenizer

logger = logging.getLogger(__name__)

#: Characters kept per kind of similarity (the most frequent first).
DEFAULT_MAX_CANDIDATES = 12
#: Least cosine similarity of two glyph bitmaps for the characters to count as look-alikes.
DEFAULT_MIN_GLYPH_SIMILARITY = 0.6
#: How often each kind is drawn when several apply: homophone, near-homophone, look-alike.
DEFAULT_KIND_WEIGHTS = (0.5, 0.25, 0.25)
KINDS = ("homophone", "near_homophone", "glyph")
#: Query rows per matrix product when finding look-alikes (bounds memory at rows x characters).
GLYPH_BLOCK = 1024
#: Words whose candidates are remembered before the cache starts over.
WORD_CACHE_SIZE = 500_000
#: Base of the integer key of a pinyin row (one digit per slot, as many values as symbols).
_PINYIN_BASE = len(ALPHABET)
#: Ids of the tone digits in the pinyin alphabet.
_TONE_IDS = tuple(ALPHABET.index(d) for d in "12345")
#: Multiplier of the polynomial hash of a word's readings.
_HASH_MULTIPLIER = np.uint64(1_000_003)


@runtime_checkable
class SimilarWordSource(Protocol):
    """Gives a similar word of the same length, or ``None``."""

    def similar(self, word: str, rng: np.random.Generator) -> str | None:  # pragma: no cover - protocol
        ...


def jieba_dictionary() -> Mapping[str, int]:
    """jieba's dictionary, word -> frequency (loads jieba on first use, about a second).

    jieba also stores every prefix of its words with frequency 0; only entries above 0 are words.
    """
    import jieba

    jieba.dt.initialize()
    return jieba.dt.FREQ


def _vocab_tokens(tokenizer) -> list[str]:
    if hasattr(tokenizer, "ordered_vocab"):
        return list(tokenizer.ordered_vocab())
    vocab = tokenizer.get_vocab()
    tokens = [""] * (max(vocab.values()) + 1)
    for token, idx in vocab.items():
        tokens[idx] = token
    return tokens


def _pinyin_key(row: Sequence[int], toneless: bool) -> int:
    key = 0
    for slot, symbol in enumerate(row):
        if toneless and symbol in _TONE_IDS:
            symbol = 0
        key += int(symbol) * _PINYIN_BASE**slot
    return key


class PinyinGlyphSimilarity:
    """Similar characters and words from pinyin readings, glyph bitmaps and a word dictionary.

    Built on first use (a few seconds for the default vocabulary; ``build_seconds`` tells how
    long). Only characters that are single tokens of the vocabulary and, when the dictionary lists
    single characters, words of the dictionary are offered as replacements, most frequent first.

    Args:
        tokenizer: a :class:`~chinese_ptm.text.tokenization.GlyceBertTokenizer` (its vocabulary and pinyin
            tables); default: the bundled one.
        dictionary: word -> frequency (entries of frequency 0 are ignored); default: jieba's.
        glyph_table: (V, F, S, S) bitmaps of the vocabulary; default: the prebuilt table when it was
            built for this vocabulary; ``False``: no look-alike characters.
        max_candidates: characters kept per kind.
        min_glyph_similarity: least bitmap cosine of look-alikes.
        kind_weights: how often a homophone, near-homophone or look-alike is drawn.
    """

    def __init__(
        self,
        tokenizer=None,
        *,
        dictionary: Mapping[str, int] | None = None,
        glyph_table: np.ndarray | bool | None = None,
        max_candidates: int = DEFAULT_MAX_CANDIDATES,
        min_glyph_similarity: float = DEFAULT_MIN_GLYPH_SIMILARITY,
        kind_weights: Sequence[float] = DEFAULT_KIND_WEIGHTS,
    ):
        if max_candidates < 1:
            raise ValueError(f"max_candidates must be at least 1, got {max_candidates}")
        if len(kind_weights) != len(KINDS) or min(kind_weights) < 0 or sum(kind_weights) <= 0:
            raise ValueError(f"kind_weights must be {len(KINDS)} non-negative weights for {KINDS}, got {kind_weights}")
        self._tokenizer = tokenizer
        self._dictionary = dictionary
        self._jieba = dictionary is None  # jieba's dictionary is reloaded, not pickled
        self._glyph_table = glyph_table
        self.max_candidates = int(max_candidates)
        self.min_glyph_similarity = float(min_glyph_similarity)
        self.kind_weights = np.asarray(kind_weights, dtype=np.float64)
        self._weights = [float(w) for w in kind_weights]
        self.build_seconds: float | None = None
        self._built = False

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        if self._jieba:
            state["_dictionary"] = None
        return state

    @property
    def dictionary(self) -> Mapping[str, int]:
        """The word dictionary (jieba's unless one was given)."""
        if self._dictionary is None:
            self._dictionary = jieba_dictionary()
        return self._dictionary

    # -- building ------------------------------------------------------------------------------
    def build(self) -> "PinyinGlyphSimilarity":
        """Build the tables now (otherwise the first query does); returns ``self``."""
        if self._built:
            return self
        started = time.perf_counter()
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer()
        tokens = _vocab_tokens(self._tokenizer)
        dictionary = self.dictionary
        token_ids = [i for i, t in enumerate(tokens) if len(t) == 1 and is_cjk(t)]
        self.chars = [tokens[i] for i in token_ids]
        self._index = {c: k for k, c in enumerate(self.chars)}
        freq = np.array([max(0, int(dictionary.get(c, 0) or 0)) for c in self.chars], dtype=np.int64)
        self._freq = freq
        # With a dictionary that lists characters, only listed characters are offered.
        self._usable = freq > 0 if freq.any() else np.ones(len(self.chars), dtype=bool)
        self._build_pinyin(token_ids)
        self._build_glyphs(tokens)
        self._build_words()
        self._char_cache: dict[tuple[str, int], tuple[tuple[str, ...], ...]] = {}  # (char, reading key)
        self._word_cache: dict[str, tuple[tuple[str, ...], ...]] = {}
        self._built = True
        self.build_seconds = time.perf_counter() - started
        logger.info("similar-word tables built in %.1f s", self.build_seconds)
        return self

    def _build_pinyin(self, token_ids: list[int]) -> None:
        """Group the characters by reading.

        Every (character, reading) pair gets an integer key for the reading with its tone and one
        without; the pairs are sorted by key, then primary reading before other readings, then
        frequency, so that each group is a slice of one array in the order candidates are offered.
        """
        tables = self._tokenizer.pinyin_tables
        self._pinyin_tables = tables
        pair_char, pair_rank, toned, toneless = [], [], [], []
        self._first_row: dict[int, tuple[int, ...]] = {}
        for k, token_id in enumerate(token_ids):
            rank = 0
            for row in tables.id2pinyin.get(str(token_id), ()):
                if not any(row):
                    continue
                if not rank:
                    self._first_row[k] = tuple(row)
                pair_char.append(k)
                pair_rank.append(min(rank, 1))
                toned.append(_pinyin_key(row, False))
                toneless.append(_pinyin_key(row, True))
                rank += 1
        chars = np.asarray(pair_char, dtype=np.int64)
        ranks = np.asarray(pair_rank, dtype=np.int64)
        usable = self._usable[chars] if len(chars) else np.zeros(0, dtype=bool)
        self._groups: list[dict[int, np.ndarray]] = []
        for keys in (np.asarray(toned, dtype=np.int64), np.asarray(toneless, dtype=np.int64)):
            members, member_keys, member_ranks = chars[usable], keys[usable], ranks[usable]
            order = np.lexsort((members, -self._freq[members], member_ranks, member_keys))
            members, member_keys = members[order], member_keys[order]
            unique, first = np.unique(member_keys, return_index=True)
            bounds = np.append(first, len(member_keys))
            self._groups.append({int(key): members[bounds[g] : bounds[g + 1]] for g, key in enumerate(unique.tolist())})

    def _build_glyphs(self, tokens: list[str]) -> None:
        """Look-alikes of every usable character among the usable characters (exact cosines of the
        glyph module's unit bitmap vectors, in blocks of rows); only the neighbour lists are kept.
        Rare characters (outside the dictionary) get no look-alikes; about 3 s for 7,400 characters."""
        self._glyph: dict[str, tuple[str, ...]] = {}
        table = self._glyph_table
        if table is False:
            return

        if table is None or table is True:
            try:
                table = glyph.load_glyph_table(vocab=tokens)
            except (glyph.GlyphError, OSError) as err:
                logger.warning("no look-alike characters: %s", err)
                return
        index = glyph.GlyphIndex(np.asarray(table), tokens)
        usable = self._usable.tolist()
        columns = np.array(
            [r for r, c in enumerate(index.chars) if c in self._index and usable[self._index[c]]], dtype=np.int64
        )
        k = min(self.max_candidates, len(columns) - 1)
        if k < 1:
            return
        candidates = index.matrix[columns]  # (n, F*S*S) unit rows of the usable characters
        for start in range(0, len(columns), GLYPH_BLOCK):
            rows = columns[start : start + GLYPH_BLOCK]
            block = candidates[start : start + GLYPH_BLOCK] @ candidates.T  # (b, n) cosines
            block[np.arange(len(rows)), np.arange(start, start + len(rows))] = -np.inf  # never itself
            top = np.argpartition(-block, k - 1, axis=1)[:, :k]  # (b, k) unordered
            scores = np.take_along_axis(block, top, axis=1)
            order = np.lexsort((top, -scores), axis=1)  # best first, ties by column
            top = np.take_along_axis(top, order, axis=1)
            scores = np.take_along_axis(scores, order, axis=1)
            for q, row in enumerate(rows.tolist()):
                good = top[q][scores[q] >= self.min_glyph_similarity]
                self._glyph[index.chars[row]] = tuple(index.chars[columns[c]] for c in good.tolist())

    def _build_words(self) -> None:
        """Index the dictionary's words of two or more characters by the hash of their readings
        (with tones, and without), each index sorted by hash, then frequency: the homophone words
        of a word are one slice of it."""
        engine = reading_engine()
        toneless_index: dict[str, int] = {}
        self._toneless_of = np.array(
            [toneless_index.setdefault((r or "").rstrip("012345"), len(toneless_index)) for r in engine.readings],
            dtype=np.int64,
        )  # reading index -> index of the syllable without tone
        self._word_list: list[str] = []
        self._word_index: list[tuple[np.ndarray, np.ndarray]] = []
        dictionary = self.dictionary
        words = [w for w, f in dictionary.items() if len(w) >= 2 and (f or 0) > 0]
        if not words:
            return
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        readings, cps = engine.joined_readings(words)  # words joined by one separator each
        offsets = np.cumsum(lengths) - lengths
        position = np.arange(int(lengths.sum())) - np.repeat(offsets, lengths)
        at = np.repeat(offsets + np.arange(len(words)), lengths) + position  # each character in the joined text
        reading, code = readings[at], cps[at]
        in_vocab = np.zeros(engine.max_codepoint + 1, dtype=bool)
        in_vocab[[min(ord(c), engine.max_codepoint) for c, ok in zip(self.chars, self._usable.tolist()) if ok]] = True
        good = np.logical_and.reduceat(in_vocab[code] & (reading > 0), offsets)
        freq = np.fromiter((dictionary[w] for w in words), dtype=np.int64, count=len(words))
        keep = np.flatnonzero(good)
        self._word_list = words
        for values in (reading, self._toneless_of[reading]):
            hashes = _reading_hashes(values, lengths)[keep]
            order = np.lexsort((keep, -freq[keep], hashes))
            self._word_index.append((hashes[order], keep[order]))

    def _homophone_words(self, word: str, readings: np.ndarray) -> tuple[list[str], list[str]]:
        """Dictionary words read like ``word`` (with its tones; then only its syllables)."""
        if not self._word_index or not readings.all():
            return [], []
        found: list[list[str]] = []
        seen = {word}
        length = np.array([len(word)], dtype=np.int64)
        for kind, values in enumerate((readings, self._toneless_of[readings])):
            hashes, members = self._word_index[kind]
            key = _reading_hashes(values.astype(np.int64), length)[0]
            lo, hi = np.searchsorted(hashes, key, side="left"), np.searchsorted(hashes, key, side="right")
            words = [self._word_list[m] for m in members[lo:hi].tolist()]
            words = [w for w in words if w not in seen and len(w) == len(word)][: self.max_candidates]
            seen.update(words)
            found.append(words)
        return found[0], found[1]

    # -- characters ----------------------------------------------------------------------------
    def _char_candidates(self, char: str, row: Sequence[int] | None = None) -> tuple[tuple[str, ...], ...]:
        """(homophones, near-homophones, look-alikes) of one character read as ``row`` (8 pinyin
        ids; default: its primary reading)."""
        self.build()
        k = self._index.get(char)
        if row is None or not any(row):
            row = self._first_row.get(k) if k is not None else None
        toned = _pinyin_key(row, False) if row is not None else -1
        got = self._char_cache.get((char, toned))
        if got is not None:
            return got
        lists: list[tuple[str, ...]] = []
        seen = {k}
        if row is None:
            lists = [(), ()]
        else:
            for kind, key in enumerate((toned, _pinyin_key(row, True))):
                group = self._groups[kind].get(key, ())
                found = [m for m in group.tolist() if m not in seen] if len(group) else []
                found = found[: self.max_candidates]
                seen.update(found)
                lists.append(tuple(self.chars[m] for m in found))
        lists.append(tuple(c for c in self._glyph.get(char, ()) if self._index.get(c) not in seen))
        result = tuple(lists)
        if len(self._char_cache) >= WORD_CACHE_SIZE:
            self._char_cache.clear()
        self._char_cache[(char, toned)] = result
        return result

    def _reading_row(self, reading: str | None) -> list[int] | None:
        """8 pinyin ids of a TONE3 reading (``None`` stays ``None``)."""
        self.build()
        return None if reading is None else self._pinyin_tables.reading_ids(reading)

    def homophones(self, char: str, reading: str | None = None) -> list[str]:
        """Characters that can be read exactly like ``char`` (syllable and tone), primary readings
        first, then by frequency. ``reading``: the TONE3 reading of ``char`` meant (default: its
        primary reading), e.g. ``homophones("行", "hang2")``."""
        return list(self._char_candidates(char, self._reading_row(reading))[0])

    def near_homophones(self, char: str, reading: str | None = None) -> list[str]:
        """Characters sharing ``char``'s syllable in another tone (homophones excluded)."""
        return list(self._char_candidates(char, self._reading_row(reading))[1])

    def glyph_similar(self, char: str) -> list[str]:
        """Look-alike characters of ``char`` (bitmap cosine at least ``min_glyph_similarity``), best
        first, homophones excluded."""
        return list(self._char_candidates(char)[2])

    # -- words ---------------------------------------------------------------------------------
    def candidates(self, word: str) -> tuple[tuple[str, ...], ...]:
        """Similar words of ``word`` by kind (homophone, near-homophone, look-alike).

        Each character is taken in the reading it has inside ``word`` (银行: hang2). A
        one-character word gets similar characters; a longer word gets the dictionary words read
        like it, then the dictionary words made by replacing one of its characters with a similar one.
        """
        self.build()
        got = self._word_cache.get(word)
        if got is not None:
            return got
        engine = reading_engine()
        readings = engine.readings_of(word)
        rows = self._pinyin_tables.rows(engine)[readings].tolist()  # (n, 8) readings in context
        if len(word) == 1:
            result = self._char_candidates(word, rows[0])
        else:
            dictionary = self.dictionary
            lists: list[list[str]] = [*self._homophone_words(word, readings), []]
            seen = {word, *lists[0], *lists[1]}
            for pos, char in enumerate(word):
                for kind, chars in enumerate(self._char_candidates(char, rows[pos])):
                    for other in chars:
                        candidate = word[:pos] + other + word[pos + 1 :]
                        if candidate not in seen and (dictionary.get(candidate) or 0) > 0:
                            seen.add(candidate)
                            lists[kind].append(candidate)
            result = tuple(tuple(found) for found in lists)
        if len(self._word_cache) >= WORD_CACHE_SIZE:
            self._word_cache.clear()
        self._word_cache[word] = result
        return result

    def similar(self, word: str, rng: np.random.Generator) -> str | None:
        """A similar word of the same length (kind drawn by ``kind_weights``), or ``None``."""
        if not word:
            return None
        lists = self.candidates(word)
        weights = [w if found else 0.0 for w, found in zip(self._weights, lists)]
        total = sum(weights)
        if total <= 0:
            return None
        draw = rng.random() * total  # one draw picks the kind and the member
        for weight, found in zip(weights, lists):
            if draw < weight:
                return found[min(int(draw / weight * len(found)), len(found) - 1)]
            draw -= weight
        last = next(found for found in reversed(lists) if found)
        return last[-1]  # float round-off at the top end


def _reading_hashes(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """One uint64 hash per word of its per-character values (concatenated, ``lengths`` each; > 0)."""
    offsets = np.cumsum(lengths) - lengths
    position = np.arange(len(values)) - np.repeat(offsets, lengths)
    with np.errstate(over="ignore"):
        powers = np.cumprod(np.full(int(lengths.max()), _HASH_MULTIPLIER, dtype=np.uint64))  # wraps around
        mixed = (values.astype(np.uint64) + np.uint64(1)) * powers[position]
        return np.add.reduceat(mixed, offsets) ^ lengths.astype(np.uint64)
