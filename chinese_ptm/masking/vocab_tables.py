"""What the collator needs to know about each vocabulary token, as numpy arrays."""

from __future__ import annotations

import re

import numpy as np

from chinese_ptm.text.normalize import is_cjk
from chinese_ptm.text.pinyin import PINYIN_SLOTS, reading_engine
from chinese_ptm.text.pinyin_tables import PinyinTables

#: Reserved placeholder tokens of BERT vocabularies.
UNUSED_TOKEN = re.compile(r"^\[unused\d+\]$")
#: Prefix of WordPiece continuation pieces.
CONTINUATION = "##"
#: Similar words whose ids and readings are remembered before the cache starts over.
WORD_CACHE_SIZE = 200_000


class VocabTables:
    """Per-token facts of a tokenizer's vocabulary.

    * ``unmaskable``: special tokens ([CLS], [SEP], [PAD], [MASK], added specials) are never
      chosen; [UNK] is content (it stands for a character of the text) and may be.
    * Random replacements come from two pools: a token that is one Chinese character is replaced
      by a Chinese-character token; any other token by an *ordinary* token (not special, not
      ``[unusedN]``, not a ``##`` continuation piece), so a random token never glues onto the
      previous one.
    * ``first_reading``: the reading a token gets when its character stands alone (the first row
      of ``id2pinyin``, zeros when it has none): the pinyin of a random replacement.
    """

    def __init__(self, tokenizer, with_pinyin: bool = True):
        size = len(tokenizer)
        tokens = tokenizer.convert_ids_to_tokens(list(range(size)))
        self.size = size
        self.tokens = tokens
        special = np.zeros(size, dtype=bool)
        special_ids = [i for i in tokenizer.all_special_ids if i is not None and i != tokenizer.unk_token_id]
        special[[i for i in special_ids if 0 <= i < size]] = True
        self.unmaskable = special
        unused = np.array([bool(UNUSED_TOKEN.match(t or "")) for t in tokens], dtype=bool)
        self.is_cjk = np.array([t is not None and len(t) == 1 and is_cjk(t) for t in tokens], dtype=bool)
        continuation = np.array([(t or "").startswith(CONTINUATION) for t in tokens], dtype=bool)
        excluded = special | unused
        if tokenizer.unk_token_id is not None:
            excluded[tokenizer.unk_token_id] = True
        self.cjk_pool = np.flatnonzero(self.is_cjk & ~excluded)
        self.general_pool = np.flatnonzero(~excluded & ~continuation)
        if not len(self.general_pool):
            raise ValueError("the tokenizer's vocabulary has no ordinary token to draw random replacements from")
        if not len(self.cjk_pool):
            self.cjk_pool = self.general_pool  # a vocabulary without Chinese characters
        #: token id -> its character when it is one Chinese character, else None
        self.cjk_char: list[str | None] = [t if c else None for t, c in zip(tokens, self.is_cjk.tolist())]
        self.char_to_id = {tokens[i]: int(i) for i in np.flatnonzero(self.is_cjk)}
        self.mask_id = int(tokenizer.mask_token_id)
        self.pad_id = int(tokenizer.pad_token_id)
        self.cls_id = int(tokenizer.cls_token_id)
        self.sep_id = int(tokenizer.sep_token_id)
        self.first_reading = np.zeros((size, PINYIN_SLOTS), dtype=np.int64)  # (V, 8)
        self.pinyin_tables: PinyinTables | None = None
        self._word_cache: dict[str, tuple[np.ndarray, np.ndarray | None] | None] = {}
        if with_pinyin:
            tables = getattr(tokenizer, "pinyin_tables", None)
            if tables is None:
                tables = PinyinTables.build([t or "" for t in tokens])
            for i in range(size):
                rows = tables.id2pinyin.get(str(i))
                if rows:
                    self.first_reading[i] = rows[0]
            self.pinyin_tables = tables

    def random_tokens(self, originals: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One random replacement per original token (Chinese character -> Chinese character)."""
        n = len(originals)
        chinese = self.cjk_pool[rng.integers(len(self.cjk_pool), size=n)]
        other = self.general_pool[rng.integers(len(self.general_pool), size=n)]
        return np.where(self.is_cjk[originals], chinese, other)

    def word_text(self, token_ids: list[int]) -> str | None:
        """The characters of a word made only of Chinese-character tokens, else None."""
        chars = [self.cjk_char[t] for t in token_ids]
        return None if None in chars else "".join(chars)

    def encode_word(self, word: str) -> tuple[np.ndarray, np.ndarray | None] | None:
        """Token ids of a word of Chinese characters (one token each) and their readings in the word
        (the word read on its own, as the tokenizer would read it); None if a character is not a token."""
        if word in self._word_cache:
            return self._word_cache[word]
        ids = [self.char_to_id.get(c) for c in word]
        if None in ids:
            got = None
        else:
            pinyin = None
            if self.pinyin_tables is not None:
                engine = reading_engine()
                pinyin = self.pinyin_tables.rows(engine)[engine.readings_of(word)]  # (n, 8)
            got = (np.asarray(ids, dtype=np.int64), pinyin)
        if len(self._word_cache) >= WORD_CACHE_SIZE:
            self._word_cache.clear()
        self._word_cache[word] = got
        return got
