"""``TwoViewTokenizer``: the tokenizer of AMBERT models, a text as characters and as words.  [no torch]

A call returns the character tokenizer's output (``input_ids``, ``pinyin_ids`` ...) and the word tokenizer's under
``word_`` names (``word_input_ids``, ``word_token_type_ids``, ``word_attention_mask``), each view truncated and padded
as asked. Saved as the character tokenizer's files with the word tokenizer's in ``word_tokenizer/``. Anything else
(special ids, vocabulary, decoding) is the character tokenizer's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .tokenization import load_tokenizer

#: the folder of a saved TwoViewTokenizer that holds the word view's tokenizer
WORD_TOKENIZER_DIR = "word_tokenizer"
#: the word view's keys in a call's output, by the key the word tokenizer gives
WORD_VIEW_KEYS = {
    "input_ids": "word_input_ids",
    "token_type_ids": "word_token_type_ids",
    "attention_mask": "word_attention_mask",
}


class TwoViewTokenizer:
    """A character tokenizer and a word tokenizer over one vocabulary's characters (module docstring)."""

    def __init__(self, chars, words):
        self.chars, self.words = chars, words

    @classmethod
    def from_pretrained(cls, directory: str | Path, **kwargs) -> "TwoViewTokenizer":
        return cls(load_tokenizer(directory, **kwargs), load_tokenizer(Path(directory) / WORD_TOKENIZER_DIR))

    @staticmethod
    def is_saved_in(directory: str | Path) -> bool:
        return (Path(directory) / WORD_TOKENIZER_DIR / "tokenizer_config.json").is_file()

    def save_pretrained(self, directory, *args, **kwargs) -> tuple[str, ...]:
        files = self.chars.save_pretrained(directory, *args, **kwargs)
        return tuple(files) + tuple(self.words.save_pretrained(Path(directory) / WORD_TOKENIZER_DIR))

    def __len__(self) -> int:
        return len(self.chars)

    def __getattr__(self, name: str) -> Any:
        if name in ("chars", "words"):  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.chars, name)

    def __call__(self, text, text_pair=None, **kwargs):
        """Both views of the texts (pairs) with the same options; for per-character input
        (``is_split_into_words``) see :meth:`word_index`."""
        out = self.chars(text, text_pair, **kwargs)
        if kwargs.get("is_split_into_words"):
            return out  # the word view of a character window: word_view_of_span
        kwargs.pop("return_offsets_mapping", None)
        words = self.words(text, text_pair, **kwargs)
        for key, name in WORD_VIEW_KEYS.items():
            if key in words:
                out[name] = words[key]
        return out

    def word_view_of_span(self, text: str, token_of_char: np.ndarray, length: int) -> dict[str, np.ndarray]:
        """The word view of the characters a tagging window covers (``token_of_char``: each character's token in
        the window, -1 outside it) and ``word_index``: for each of the window's ``length`` tokens, the word token
        covering its character (-1 at specials)."""
        inside = np.flatnonzero(token_of_char >= 0)
        word_index = np.full(length, -1, dtype=np.int64)
        if not len(inside):
            encoded = self.words("")
            ids = np.asarray(encoded["input_ids"], dtype=np.int64)
        else:
            start, end = int(inside[0]), int(inside[-1]) + 1
            encoded = self.words(text[start:end], return_offsets_mapping=True)
            ids = np.asarray(encoded["input_ids"], dtype=np.int64)
            word_of_char = np.full(end - start, -1, dtype=np.int64)
            for token, (a, b) in enumerate(encoded["offset_mapping"]):
                word_of_char[a:b] = token
            word_index[token_of_char[inside]] = word_of_char[inside - start]
        return {
            "word_input_ids": ids.astype(np.int32),
            "word_token_type_ids": np.zeros(len(ids), dtype=np.int8),
            "word_attention_mask": np.ones(len(ids), dtype=np.int8),
            "word_index": word_index,
        }
