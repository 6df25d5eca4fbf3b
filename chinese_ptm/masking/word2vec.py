"""Similar words from a user's word2vec text file (MacBERT's authors drew similar words from word2vec
neighbours; their vectors are not shipped with this project)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: Neighbours kept per word.
DEFAULT_TOP_K = 10
#: Words whose neighbours are remembered before the cache starts over.
NEIGHBOUR_CACHE_SIZE = 500_000


def read_word2vec(path: str | Path, encoding: str = "utf-8") -> tuple[list[str], np.ndarray]:
    """Read a word2vec text file: a header ``N dim``, then ``word v1 ... v_dim`` per line.

    Returns the words and their vectors, (N, dim) float32. A malformed line raises ValueError
    naming the file and the line; a repeated word keeps its first vector.
    """
    path = Path(path)
    words: list[str] = []
    vectors: list[np.ndarray] = []
    seen: set[str] = set()
    try:
        handle = path.open(encoding=encoding)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: word2vec file not found") from None
    with handle:
        try:
            header = handle.readline()
            parts = header.split()
            if len(parts) != 2 or not all(p.isdigit() for p in parts):
                raise ValueError(
                    f"{path}, line 1: expected the header 'N dim' (vector count and size), got {header.strip()[:80]!r}"
                )
            count, dim = int(parts[0]), int(parts[1])
            if dim < 1:
                raise ValueError(f"{path}, line 1: vector size must be at least 1, got {dim}")
            n_vectors = 0
            for number, line in enumerate(handle, start=2):
                fields = line.rstrip("\n").rstrip("\r").split(" ")
                fields = [f for f in fields if f]
                if not fields:
                    continue  # a blank line (some writers end the file with one)
                if len(fields) != dim + 1:
                    raise ValueError(
                        f"{path}, line {number}: expected a word and {dim} numbers, found {len(fields)} fields"
                    )
                try:
                    vector = np.array(fields[1:], dtype=np.float32)
                except ValueError:
                    bad = next(f for f in fields[1:] if not _is_float(f))
                    raise ValueError(f"{path}, line {number}: {bad!r} is not a number (word {fields[0]!r})") from None
                if not np.isfinite(vector).all():
                    raise ValueError(f"{path}, line {number}: the vector of {fields[0]!r} is not finite")
                n_vectors += 1
                if n_vectors > count:
                    raise ValueError(f"{path}, line {number}: more vectors than the {count} the header announces")
                if fields[0] in seen:
                    continue
                seen.add(fields[0])
                words.append(fields[0])
                vectors.append(vector)
        except UnicodeDecodeError as err:
            raise ValueError(
                f"{path}: not {encoding} text ({err.reason}); a binary word2vec file must be converted to the "
                "text format first"
            ) from None
    if n_vectors < count:
        raise ValueError(f"{path}: the header announces {count} vectors but the file holds {n_vectors}")
    matrix = np.stack(vectors) if vectors else np.zeros((0, dim), dtype=np.float32)  # (N, dim)
    return words, matrix


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class Word2VecSimilarity:
    """Nearest words of the same length by cosine similarity, from a word2vec text file.

    Args:
        path: the word2vec text file.
        top_k: neighbours a replacement is drawn from (uniformly).
        min_similarity: neighbours below this cosine are never offered.
        encoding: text encoding of the file.
    """

    def __init__(
        self, path: str | Path, *, top_k: int = DEFAULT_TOP_K, min_similarity: float = -1.0, encoding: str = "utf-8"
    ):
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        self.path = Path(path)
        self.top_k = int(top_k)
        self.min_similarity = float(min_similarity)
        self.words, vectors = read_word2vec(self.path, encoding)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)  # (N, 1)
        self._unit = vectors / np.where(norms > 0, norms, 1)  # (N, dim) unit rows (zero rows stay zero)
        lengths = np.array([len(w) for w in self.words], dtype=np.int64)
        self._by_length = {int(n): np.flatnonzero(lengths == n) for n in np.unique(lengths)}
        self._row = {w: r for r, w in enumerate(self.words)}
        self._cache: dict[str, tuple[str, ...]] = {}

    def neighbours(self, word: str) -> list[str]:
        """The ``top_k`` nearest words of the same length, best first (empty for unknown words)."""
        got = self._cache.get(word)
        if got is not None:
            return list(got)
        row = self._row.get(word)
        if row is None:
            return []
        rows = self._by_length[len(word)]
        scores = self._unit[rows] @ self._unit[row]  # (n,) cosines with the words of this length
        scores[rows == row] = -np.inf
        k = min(self.top_k, len(rows))
        top = np.argpartition(-scores, k - 1)[:k]  # the k best, unordered
        top = top[np.lexsort((rows[top], -scores[top]))]  # best first, ties by file order
        found = tuple(self.words[rows[i]] for i in top.tolist() if scores[i] >= self.min_similarity and rows[i] != row)
        if len(self._cache) >= NEIGHBOUR_CACHE_SIZE:
            self._cache.clear()
        self._cache[word] = found
        return list(found)

    def similar(self, word: str, rng: np.random.Generator) -> str | None:
        """One of the nearest words of the same length, or ``None``."""
        found = self.neighbours(word)
        return found[int(rng.integers(len(found)))] if found else None
