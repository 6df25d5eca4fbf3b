"""The tokenizer's direct path: the content tokens of single texts, and BERT's single-text template,
truncation and padding, as numpy over a whole batch.  [no torch]

``content_tokens`` finds each text's tokens as the Rust backend would, sending only the runs between
Chinese characters and punctuation through WordPiece; ``Layout`` lays them out as the backend does after
WordPiece: ``[CLS] content [SEP]``, content cut to ``keep`` tokens on the right, padding on the right
to the longest sequence or to ``max_length``, rounded up to ``pad_to_multiple_of``.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from transformers.tokenization_utils_base import PaddingStrategy

from .normalize import CJK_RANGES

if TYPE_CHECKING:
    from tokenizers import Tokenizer


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
        # The Rust backend keeps truncation, padding and special-token settings between calls, and these tables are
        # built from it: one call at a time sets and uses them, or threads sharing a tokenizer get each other's
        # truncation (held by the tokenizer around every call that reaches the backend; re-entrant)
        self.lock = threading.RLock()
        self.one_token_chars: np.ndarray | None = None  # (top + 1,) bool
        self.one_token_ids: np.ndarray | None = None  # (top + 1,) int64, -1 where not one token
        self.run_chars: np.ndarray | None = None  # (top + 1,) bool
        self.added_state: tuple[int, bool] | None = None  # (vocabulary size, only special tokens added)
        # (post-processor state, (cls_id, sep_id) or None)
        self.template: tuple[Any, tuple[int, int] | None] | None = None

    def __reduce__(self):
        return DirectTables, ()

    def bert_template(self, backend, whole: Callable[[], None]) -> tuple[int, int] | None:
        """``(cls_id, sep_id)`` when the Rust ``backend`` writes a single text as ``[CLS] text [SEP]``, all type ids
        0; else None. Checked by encoding one character (after ``whole()`` sets the backend to whole, unpadded
        encodings), once per post-processor; the caller holds ``lock``."""
        processor = backend.post_processor
        state = processor.__getstate__() if processor is not None else None
        if self.template is None or self.template[0] != state:
            whole()
            full = backend.encode("一", add_special_tokens=True)
            bare = backend.encode("一", add_special_tokens=False).ids
            bert = (
                full.ids[1:-1] == bare
                and full.type_ids == [0] * len(full)
                and bool(bare)
                and full.special_tokens_mask == [1] + [0] * len(bare) + [1]
            )
            self.template = (state, (full.ids[0], full.ids[-1]) if bert else None)
        return self.template[1]

    def fill_characters(self, backend, top: int) -> np.ndarray:
        """The one-token characters below ``top``, their ids and the run characters, each candidate checked once
        against the Rust ``backend`` (set to whole, unpadded encodings by the caller, who holds ``lock``)."""
        with self.lock:
            if self.one_token_chars is not None:
                return self.one_token_chars
            candidates = [cp for lo, hi in CJK_RANGES for cp in range(lo, min(hi, top - 1) + 1)]
            candidates += [
                cp
                for cp in range(0x21, min(0x30000, top))
                if unicodedata.category(chr(cp)).startswith("P") or (cp < 0x7F and not chr(cp).isalnum())
            ]
            codes = np.asarray(sorted(set(candidates)), dtype=np.int64)
            text = "".join(map(chr, codes.tolist()))
            hits = np.zeros(len(text) + 1, dtype=np.int64)
            spoiled = np.zeros(len(text) + 1, dtype=bool)
            token_id = np.full(len(text) + 1, -1, dtype=np.int64)
            encoding = backend.encode(text, add_special_tokens=False)
            for (start, end), idx in zip(encoding.offsets, encoding.ids):
                if end - start == 1:
                    hits[start] += 1
                    token_id[start] = idx
                else:
                    spoiled[start : max(end, start + 1)] = True
            good = (hits[:-1] == 1) & ~spoiled[:-1]
            table = np.zeros(top + 1, dtype=bool)
            table[codes[good]] = True
            ids = np.full(top + 1, -1, dtype=np.int64)  # their token ids (the direct path)
            ids[codes[good]] = token_id[:-1][good]
            self.one_token_ids, self.run_chars = ids, run_chars(top) & ~table  # the sentinel slot top is neither
            self.one_token_chars = table  # last: its presence says the others are ready
            return table


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


def check_text(value: Any, name: str, split_into_words: bool) -> None:
    """Reject inputs the Rust backend would fail on deep inside, naming the argument."""
    if isinstance(value, str):
        if split_into_words:
            raise TypeError(f"{name}: with is_split_into_words=True pass a list of words, not a str")
        return
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a str or a list of str, not {type(value).__name__}")
    for i, item in enumerate(value):
        if isinstance(item, str):
            continue
        if split_into_words and isinstance(item, (list, tuple)):
            for j, word in enumerate(item):
                if not isinstance(word, str):
                    raise TypeError(f"{name}[{i}][{j}] must be a str, not {type(word).__name__}")
            continue
        raise TypeError(f"{name}[{i}] must be a str, not {type(item).__name__}")


def run_chars(top: int) -> np.ndarray:
    """Code points below ``top`` (the table has ``top + 1`` slots) that may stand in the runs the direct path
    gives WordPiece on their own: every assigned character but combining marks (BERT's accent stripping folds a
    mark into the character before it, which may be a one-token character) and control, format and private
    characters (its cleaning drops or splits on them). Runs end at one-token characters, which BERT always
    isolates, so a run's words are the words WordPiece would see in the whole text. Built once per process."""
    table = np.zeros(top + 1, dtype=bool)
    table[:0x80] = [chr(c).isprintable() for c in range(0x80)]
    for cp in range(0x80, top):
        table[cp] = unicodedata.category(chr(cp))[0] in "LNSPZ"
    return table


def content_tokens(
    backend: Tokenizer, tables: DirectTables, engine: Any, fed: list[str], special_tokens: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ids, spans, lengths)`` of ``fed`` as ``backend.encode_batch`` without special tokens gives them, spans in
    each text; ``backend`` set to return whole, unpadded encodings and ``tables`` filled (``fill_characters``).

    BERT's normaliser and pre-tokenizer split Chinese characters and punctuation off wherever they stand, so each
    one-token character is its own token id (read from ``tables.one_token_ids``); only the runs between them go
    through WordPiece, each on its own. A text holding a character no run may hold (see ``run_chars``: combining
    marks, control and format characters) or a special token's text goes through WordPiece whole."""
    one_token_ids, run_table = tables.one_token_ids, tables.run_chars
    assert one_token_ids is not None and run_table is not None  # filled by the caller
    joined = "".join(t + "\n" for t in fed)
    cps = engine.codepoints(joined)
    base = np.concatenate(([0], np.cumsum([len(t) + 1 for t in fed])))  # text k: joined[base[k]:base[k+1]-1]
    text_of = np.repeat(np.arange(len(fed)), np.diff(base))
    one, run = one_token_ids[cps] >= 0, run_table[cps]
    other = ~(one | run)
    other[base[1:] - 1] = False  # the separators
    whole = np.bincount(text_of[other], minlength=len(fed)) > 0
    for special in (t for t in special_tokens if t in joined):
        whole |= np.fromiter((special in t for t in fed), dtype=bool, count=len(fed))
    direct = ~whole[text_of]
    direct[base[1:] - 1] = False
    one_at = np.flatnonzero(one & direct)
    edges = np.diff(np.concatenate(([0], (run & direct).view(np.int8), [0])))
    run_start, run_end = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    whole_texts = np.flatnonzero(whole)
    encodings = wordpiece(backend, [joined[a:b] for a, b in zip(run_start, run_end)] + [fed[k] for k in whole_texts])
    shift = np.concatenate((run_start, base[whole_texts]))  # where each encoded string starts in joined
    count = np.fromiter(map(len, encodings), dtype=np.int64, count=len(encodings))
    flat = (
        np.fromiter(
            chain.from_iterable(chain.from_iterable(e.offsets for e in encodings)),
            dtype=np.int64,
            count=2 * int(count.sum()),
        ).reshape(-1, 2)
        + np.repeat(shift, count)[:, None]
    )
    piece_ids = np.fromiter(chain.from_iterable(e.ids for e in encodings), dtype=np.int64, count=int(count.sum()))
    ids = np.concatenate((one_token_ids[cps[one_at]], piece_ids))
    spans = np.concatenate((np.stack((one_at, one_at + 1), axis=1), flat))
    order = np.argsort(spans[:, 0], kind="stable")  # tokens in text order: strings never overlap
    ids, spans = ids[order], spans[order]
    owner = np.searchsorted(base, spans[:, 0], side="right") - 1
    return ids, spans - base[owner][:, None], np.bincount(owner, minlength=len(fed))


def wordpiece(backend: Tokenizer, strings: list[str]) -> list:
    """The backend's encodings of strings without special tokens: a few one by one (a batch costs a thread pool
    dispatch of tens of microseconds, which single calls would pay), many as a parallel batch."""
    if len(strings) <= 16:
        return [backend.encode(s, add_special_tokens=False) for s in strings]
    return backend.encode_batch(strings, add_special_tokens=False)
