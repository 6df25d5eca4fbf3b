"""AMBERT's two views of one masked batch: the character batch of the masking collator and, built from it, the word
batch, with the same words masked in both.  [no torch at import]

A word vocabulary begins with the character vocabulary (``vocab build --granularity word``), so the word view is
read off the character records without cutting the text again: each masking unit (a word of the segmentation the
records were prepared with) whose characters form a word of the vocabulary becomes that word's token, any other
unit keeps its character tokens (same ids). A unit masked in the character view is masked in the word view: a
word token gets [MASK], a random word or itself as its first character did, and the word as its label.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from ..errors import UserError
from ..text.word_tokenization import is_chinese_word
from .collator import IGNORE_INDEX, MaskingCollator
from .records import NO_WORD

WORD_KEYS = ("word_input_ids", "word_token_type_ids", "word_attention_mask", "word_labels")


class WordView:
    """Which runs of character ids are words of the word vocabulary, and the ids a word view needs."""

    def __init__(self, char_tokenizer, word_tokenizer):
        chars, words = char_tokenizer.get_vocab(), word_tokenizer.get_vocab()
        differing = [t for t, i in chars.items() if words.get(t) != i]
        if differing:
            raise UserError(
                f"the word vocabulary ({word_tokenizer.name_or_path}) does not begin with the records' character "
                f"vocabulary ({char_tokenizer.name_or_path}): {differing[0]!r} differs; build it with chinese-ptm vocab "
                "build --granularity word --base-vocab CHAR_VOCAB"
            )
        self.words = {
            tuple(chars[c] for c in token): i
            for token, i in words.items()
            if is_chinese_word(token) and all(c in chars for c in token)
        }
        self.size = len(word_tokenizer)
        self.first_word = len(chars)  # random replacements of a word are words
        self.mask_id, self.pad_id = word_tokenizer.mask_token_id, word_tokenizer.pad_token_id

    def row(self, masked, original, labels, types, units, rng) -> list[tuple[int, int, int]]:
        """One row's word view: (input id, label, token type) per token, from its character view (1-D arrays over
        the row's real tokens; ``units`` as the collator's word ids, NO_WORD at specials)."""
        out: list[tuple[int, int, int]] = []
        start, n = 0, len(masked)
        while start < n:
            end = start + 1
            if units[start] != NO_WORD:
                while end < n and units[end] == units[start]:
                    end += 1
            word = self.words.get(tuple(original[start:end].tolist())) if end - start > 1 else None
            if word is None:
                out.extend(zip(masked[start:end].tolist(), labels[start:end].tolist(), types[start:end].tolist()))
            else:
                out.append(self._word_token(word, masked[start], original[start], labels[start:end], types[start], rng))
            start = end
        return out

    def _word_token(self, word: int, shown: int, first: int, labels, token_type: int, rng) -> tuple[int, int, int]:
        if not (labels != IGNORE_INDEX).any():
            return word, IGNORE_INDEX, int(token_type)
        if shown == self.mask_id:
            value = self.mask_id
        elif shown == first:
            value = word  # kept
        else:  # replaced (by a random token, or a similar word): a random word
            value = int(rng.integers(self.first_word, self.size))
        return value, word, int(token_type)


class AmbertCollator:
    """The masking collator's character batch plus its word view (``word_input_ids``, ``word_token_type_ids``,
    ``word_attention_mask``, ``word_labels``). Other attributes are the wrapped collator's."""

    def __init__(self, collator: MaskingCollator, word_tokenizer):
        collator.return_word_ids = True
        self.collator = collator
        self.view = WordView(collator.tokenizer, word_tokenizer)

    def __getattr__(self, name: str) -> Any:
        if name in ("collator", "view"):  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.collator, name)

    def __call__(self, records: Sequence) -> dict[str, torch.Tensor]:
        out = self.collator(records)
        units = out.pop("word_ids").numpy()
        masked, labels = out["input_ids"].numpy(), out["labels"].numpy()
        original = np.where(labels != IGNORE_INDEX, labels, masked)
        types, lengths = out["token_type_ids"].numpy(), out["attention_mask"].numpy().sum(1)
        rng = self.collator.generator()
        rows = [
            self.view.row(masked[b, :n], original[b, :n], labels[b, :n], types[b, :n], units[b, :n], rng)
            for b, n in enumerate(lengths.tolist())
        ]
        out.update(self._pad(rows))
        return out

    def _pad(self, rows: list[list[tuple[int, int, int]]]) -> dict[str, torch.Tensor]:
        longest = max(len(r) for r in rows)
        ids = np.full((len(rows), longest), self.view.pad_id, dtype=np.int64)
        labels = np.full((len(rows), longest), IGNORE_INDEX, dtype=np.int64)
        types = np.zeros((len(rows), longest), dtype=np.int64)
        attention = np.zeros((len(rows), longest), dtype=np.int64)
        for b, row in enumerate(rows):
            if row:
                ids[b, : len(row)], labels[b, : len(row)], types[b, : len(row)] = np.asarray(row).T
                attention[b, : len(row)] = 1
        arrays = (ids, types, attention, labels)
        return {key: torch.from_numpy(array) for key, array in zip(WORD_KEYS, arrays)}
