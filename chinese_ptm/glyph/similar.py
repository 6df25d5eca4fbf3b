"""Visually similar characters: cosine similarity of glyph bitmaps (all fonts concatenated)."""

from __future__ import annotations

import numpy as np

from chinese_ptm.text.normalize import is_cjk

from .fonts import GlyphError, GlyphValueError
from .table import glyph_char, read_vocab

#: Rows per matrix product in the all-pairs search (bounds memory: batch x n floats).
DEFAULT_BATCH = 1024
DEFAULT_K = 10


def is_cjk_ideograph(char: str) -> bool:
    """Whether a string is one character that BERT's tokenizer treats as Chinese (chinese_ptm.text.normalize)."""
    return len(char) == 1 and is_cjk(char)


class CharNotIndexedError(GlyphError, KeyError):
    """The query character is not in the index (not in the vocabulary, not CJK, or drawn by no font)."""

    def __str__(self) -> str:  # KeyError would show the message quoted
        return str(self.args[0])


class GlyphIndex:
    """Nearest characters by glyph bitmaps.

    Rows are the single-character tokens of the vocabulary (by default only CJK ideographs) that
    have ink in at least one font; each row is the flattened (F*S*S) bitmap scaled to unit length,
    so one matrix-vector product gives the cosine similarity of a query to every character.
    """

    def __init__(self, table: np.ndarray, vocab, *, cjk_only: bool = True, dtype=np.float32):
        tokens = read_vocab(vocab)
        if table.ndim != 4 or table.shape[0] != len(tokens):
            raise GlyphValueError(
                f"glyph table of shape {table.shape} does not fit a vocabulary of {len(tokens)} tokens; "
                "pass the table built for this vocabulary"
            )
        wanted = [
            i
            for i, t in enumerate(tokens)
            if (c := glyph_char(t)) is not None and (not cjk_only or is_cjk_ideograph(c))
        ]
        vectors = table[wanted].reshape(len(wanted), -1).astype(dtype)  # (n, F*S*S)
        norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))  # (n,)
        keep = norms > 0
        #: token id of each row
        self.token_ids = np.asarray(wanted, dtype=np.int64)[keep]
        #: the character of each row
        self.chars = [tokens[i] for i in self.token_ids]
        #: (n, F*S*S) unit rows
        self.matrix = vectors[keep]
        self.matrix /= norms[keep, None]
        self._row = {c: r for r, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: str) -> bool:
        return char in self._row

    def row(self, char: str) -> int:
        """The row of a character; CharNotIndexedError if it is not indexed."""
        try:
            return self._row[char]
        except KeyError:
            raise CharNotIndexedError(
                f"{char!r} is not in the glyph index (it must be a single-character vocab token with ink"
                " in some font, and a CJK ideograph unless the index was built with cjk_only=False)"
            ) from None

    def scores(self, char: str) -> np.ndarray:
        """Cosine similarity of a character to every indexed character, (n,)."""
        return self.matrix @ self.matrix[self.row(char)]

    def similar(self, char: str, k: int = DEFAULT_K, *, include_self: bool = False) -> list[tuple[str, float]]:
        """The k most similar characters with their cosine similarity, best first."""
        if k < 1:
            raise GlyphValueError(f"k must be at least 1, got {k}")
        scores = self.scores(char)
        if not include_self:
            scores[self.row(char)] = -np.inf
        k = min(k, len(scores) - (0 if include_self else 1))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.lexsort((top, -scores[top]))]  # by score, ties by row: deterministic
        return [(self.chars[r], float(scores[r])) for r in top]

    def top_k(
        self, k: int = DEFAULT_K, *, batch_size: int = DEFAULT_BATCH, include_self: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """All-pairs nearest neighbours: (rows (n, k) int64, scores (n, k) float32), best first.

        Rows index ``self.chars`` / ``self.token_ids``. Computed in batches of ``batch_size``
        queries (one (batch, n) matrix product each).
        """
        n = len(self)
        if not 1 <= k < n:
            raise GlyphValueError(f"k must be between 1 and {n - 1} for an index of {n} characters, got {k}")
        rows = np.empty((n, k), dtype=np.int64)
        scores = np.empty((n, k), dtype=np.float32)
        for start in range(0, n, batch_size):
            stop = min(n, start + batch_size)
            block = self.matrix[start:stop] @ self.matrix.T  # (b, n)
            if not include_self:
                block[np.arange(stop - start), np.arange(start, stop)] = -np.inf
            top = np.argpartition(-block, k - 1, axis=1)[:, :k]  # (b, k), unordered
            top_scores = np.take_along_axis(block, top, axis=1)
            order = np.lexsort((top, -top_scores), axis=1)
            rows[start:stop] = np.take_along_axis(top, order, axis=1)
            scores[start:stop] = np.take_along_axis(top_scores, order, axis=1)
        return rows, scores

    def similar_token_ids(self, k: int = DEFAULT_K) -> dict[int, list[int]]:
        """token id -> the k most similar characters' token ids (for similar-character replacement)."""
        rows, _ = self.top_k(k)
        ids = self.token_ids
        return {int(ids[r]): [int(t) for t in ids[rows[r]]] for r in range(len(ids))}


def similar_chars(
    char: str, table: np.ndarray, vocab, k: int = DEFAULT_K, *, include_self: bool = False
) -> list[tuple[str, float]]:
    """The k characters whose glyphs are most similar to ``char`` (cosine on bitmaps), best first.

    Builds a GlyphIndex each call; for many queries build one GlyphIndex and call ``similar``.
    """
    return GlyphIndex(table, vocab).similar(char, k, include_self=include_self)
