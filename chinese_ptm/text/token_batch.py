"""BERT's single-text template, truncation and padding as numpy over a whole batch.  [no torch]

The tokenizer's direct path finds the content tokens of single texts itself (see
``GlyceBertTokenizer._encode_direct``); this module lays them out as the Rust backend does after
WordPiece: ``[CLS] content [SEP]``, content cut to ``keep`` tokens on the right, padding on the right
to the longest sequence or to ``max_length``, rounded up to ``pad_to_multiple_of``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import numpy as np
from transformers.tokenization_utils_base import PaddingStrategy


def positions_in_rows(lengths: np.ndarray) -> np.ndarray:
    """For rows of ``lengths`` items laid end to end, each item's position within its row (0, 1, ... per row)."""
    return np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)


def split_rows(flat: list, lengths) -> list[list]:
    """A flat Python list cut into consecutive rows of ``lengths`` items."""
    out, pos = [], 0
    for n in lengths:
        out.append(flat[pos : pos + n])
        pos += n
    return out


class DirectTables:
    """What the direct path derives from a tokenizer on first use: the one-token characters and their ids, the run
    characters, whether tokens were added, the template. Pickled empty and rebuilt where used, so that a
    tokenizer's pickled bytes do not depend on whether it was called (``datasets`` fingerprints a ``map`` by
    them) and workers are not sent megabytes of tables."""

    def __init__(self) -> None:
        self.one_token_chars: np.ndarray | None = None  # (top + 1,) bool
        self.one_token_ids: np.ndarray | None = None  # (top + 1,) int64, -1 where not one token
        self.run_chars: np.ndarray | None = None  # (top + 1,) bool
        self.added_state: tuple[int, bool] | None = None  # (vocabulary size, only special tokens added)
        # (post-processor state, (cls_id, sep_id) or None)
        self.template: tuple[Any, tuple[int, int] | None] | None = None

    def __reduce__(self):
        return DirectTables, ()


class LazyEncodings(Sequence):
    """The backend's ``Encoding`` objects of a batch, computed on first use.

    Most callers only read the ids; ``word_ids()``, ``tokens()``, ``char_to_token()`` and friends read
    these, so they are made by the backend (with the call's own truncation and padding) when first asked
    for. Pickling stores the computed list, as for a plain batch.
    """

    def __init__(self, count: int, compute: Callable[[], list]):
        self._count, self._compute = count, compute
        self._items: list | None = None

    def _materialise(self) -> list:
        if self._items is None:
            self._items = self._compute()
        return self._items

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):
        return self._materialise()[index]

    def __reduce__(self):
        return list, (self._materialise(),)


def padded_lengths(
    kept: np.ndarray, padding: PaddingStrategy, max_length: int | None, multiple: int | None
) -> np.ndarray:
    """Final length of each sequence: content kept + [CLS] + [SEP], padded as the backend pads."""
    used = kept + 2
    if padding == PaddingStrategy.DO_NOT_PAD:
        return used
    if padding == PaddingStrategy.LONGEST:
        target = int(used.max())
    else:
        assert max_length is not None  # padding to max_length: transformers resolves it (model_max_length) first
        target = int(max_length)
    if multiple and target % multiple:
        target += multiple - target % multiple
    return np.maximum(used, target)


class Layout:
    """Where the content tokens, [CLS], [SEP] and padding of each sequence stand in the flat batch."""

    def __init__(self, kept: np.ndarray, full: np.ndarray):
        self.kept, self.full = kept, full
        start = np.cumsum(full) - full  # each sequence's first slot
        self.total = int(full.sum())
        self.content = np.repeat(start, kept) + 1 + positions_in_rows(kept)
        self.cls, self.sep = start, start + kept + 1
        slot = np.arange(self.total) - np.repeat(start, full)
        self.real = slot < np.repeat(kept + 2, full)

    def column(self, content_values: np.ndarray, special, pad, dtype=np.int64) -> np.ndarray:
        """One flat column: ``content_values`` at the content slots, ``special`` at [CLS]/[SEP], ``pad`` elsewhere."""
        shape = (self.total,) + content_values.shape[1:]
        out = np.full(shape, pad, dtype=dtype)
        out[self.real] = special
        out[self.content] = content_values
        return out

    def rows(self, flat: np.ndarray) -> np.ndarray | None:
        """The batch as a (B, L, ...) array when every sequence has the same length, else None."""
        if len(self.full) and (self.full == self.full[0]).all():
            return flat.reshape((len(self.full), int(self.full[0])) + flat.shape[1:])
        return None

    def lists(self, flat: list) -> list[list]:
        """A flat Python list cut into one list per sequence."""
        return split_rows(flat, self.full.tolist())
