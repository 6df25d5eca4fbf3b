"""Chinese word segmentation behind one protocol: jieba (default), pkuseg, LTP.  [no torch]

A segmenter turns a text into word spans ``[(start, end), ...]`` (character offsets into the text
it was given, covering every non-space character, in order). Segmentation runs on normalised
text (full-width digits and letters folded to ASCII: jieba cuts ``１９９８年`` into single
characters otherwise) and the spans are mapped back to the original text.

Measured on the last 2,000 lines of People's Daily 1998 against its gold segmentation
(``bench/data.py``): jieba precise mode without HMM and with normalisation is the most accurate
jieba setting, hence the default.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import re
from pathlib import Path
from typing import Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import UserError
from .normalize import NormalizedText, codepoints, normalize

Span = tuple[int, int]


@runtime_checkable
class Segmenter(Protocol):
    """Text -> word spans."""

    name: str

    def segment(self, text: str) -> list[Span]:
        """Word spans ``(start, end)`` of ``text`` (whitespace belongs to no word)."""
        ...


class SegmenterError(UserError, ValueError):
    """A segmenter that cannot be built as asked (unknown name, missing dictionary or model)."""


class MissingBackendError(UserError, ImportError):
    """An optional segmentation backend is not installed."""


def _map_back(norm: NormalizedText, spans: Sequence[Span]) -> list[Span]:
    """Spans over ``norm.text`` -> spans over ``norm.original`` (merging words that fold into one
    source character, e.g. the three dots of an ellipsis)."""
    if len(norm.text) == len(norm.original):
        return list(spans)
    out: list[Span] = []
    for start, end in spans:
        s, e = norm.original_span(start, end)
        if out and s < out[-1][1]:
            out[-1] = (out[-1][0], max(e, out[-1][1]))
        elif e > s:
            out.append((s, e))
    return out


def _drop_space(text: str, spans: Sequence[Span]) -> list[Span]:
    return [(s, e) for s, e in spans if not text[s:e].isspace()]


def align_words(text: str, words: Sequence[str]) -> list[Span]:
    """Spans of ``words`` found in order in ``text`` (for backends that drop or change characters).

    A word that cannot be found where expected is skipped; the characters it covered stay
    outside every word (masking treats each of their tokens as a word of its own).
    """
    spans: list[Span] = []
    pos = 0
    for word in words:
        word = word.strip()
        if not word:
            continue
        at = text.find(word, pos)
        if at < 0 or text[pos:at].strip():
            continue
        spans.append((at, at + len(word)))
        pos = at + len(word)
    return spans


class JiebaSegmenter:
    """jieba, precise mode.

    Args:
        hmm: jieba's HMM for words missing from its dictionary (off by default: more accurate on news
            text, see the module docstring).
        user_dicts: jieba user dictionary files (``word [freq] [tag]`` per line).
        normalize_text: segment full-width-folded text (offsets still refer to the input).
        engine: ``auto`` (default): jieba-rs through ``rjieba`` when it is installed and the HMM is off, else
            jieba; ``rust`` or ``python`` to choose. Without the HMM the two cut every sentence of People's Daily
            1998 identically, with and without user dictionaries (``bench/data.py``), and jieba-rs is about
            15 times faster; with the HMM they differ on 0.5% of its sentences, so ``auto`` keeps jieba there.
    """

    name = "jieba"

    def __init__(
        self, hmm: bool = False, user_dicts: Sequence[str] = (), normalize_text: bool = True, engine: str = "auto"
    ):
        if engine not in ("auto", "rust", "python"):
            raise SegmenterError(f"jieba engine {engine!r}: choose auto, rust or python")
        self.hmm = hmm
        self.user_dicts = list(user_dicts)
        self.normalize_text = normalize_text
        self.engine = engine
        self._tokenizer = None
        self._cut = None

    @property
    def active_engine(self) -> str:
        """``rust`` or ``python``: the engine this segmenter cuts with."""
        return "rust" if self._rust_wanted() else "python"

    def _rust_wanted(self) -> bool:
        if self.engine == "python" or (self.engine == "auto" and self.hmm):
            return False
        if importlib.util.find_spec("rjieba") is not None:
            return True
        if self.engine == "rust":
            raise MissingBackendError("jieba engine rust needs the rjieba package: pip install rjieba")
        return False

    def _jieba(self):
        """Python jieba with the user dictionaries (its dictionary also serves ``dictionary()``)."""
        if self._tokenizer is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            self._add_user_words(tokenizer)
            self._tokenizer = tokenizer
        return self._tokenizer

    def _cutter(self):
        """``text -> words`` of the chosen engine, built once per process."""
        if self._cut is None:
            if self._rust_wanted():
                import rjieba

                engine = rjieba.Jieba()
                self._add_user_words(engine)
                hmm = self.hmm
                self._cut = lambda text: engine.cut(text, hmm=hmm)
            else:
                engine = self._jieba()
                self._cut = lambda text: list(engine.cut(text, HMM=self.hmm))
        return self._cut

    def _add_user_words(self, engine) -> None:
        for path in self.user_dicts:
            for word, freq, tag in read_user_dict(path):
                engine.add_word(word, freq, tag)

    def __getstate__(self):  # picklable for datasets.map(num_proc=N): each worker loads jieba itself
        state = dict(self.__dict__)
        state["_tokenizer"] = state["_cut"] = None
        return state

    def segment(self, text: str) -> list[Span]:
        cut = self._cutter()
        norm = normalize(text) if self.normalize_text else None
        source = norm.text if norm is not None else text
        # precise mode returns words that concatenate to the input: spans are running sums
        spans, pos = [], 0
        for word in cut(source):
            spans.append((pos, pos + len(word)))
            pos += len(word)
        if norm is not None:
            spans = _map_back(norm, spans)
        return _drop_space(text, spans)

    def segment_batch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`segment_batch` for jieba: the offsets of all texts in a few numpy passes (the same spans as
        :meth:`segment`; a text that normalisation lengthens, an ellipsis, goes through :meth:`segment`)."""
        cut = self._cutter()
        lengths: list[int] = []
        counts = np.zeros(len(texts), dtype=np.int64)
        slow: dict[int, list[Span]] = {}
        for i, text in enumerate(texts):
            norm = normalize(text) if self.normalize_text else None
            if norm is not None and len(norm.text) != len(text):
                slow[i] = self.segment(text)
                continue
            words = cut(norm.text if norm is not None else text)
            lengths.extend(map(len, words))
            counts[i] = len(words)
        width = np.asarray(lengths, dtype=np.int64)
        end = np.cumsum(width)
        word_base = np.concatenate(([0], np.cumsum(counts)))[:-1]  # first word of each text
        text_base = np.concatenate(([0], end))[word_base]  # characters before each text (fast texts only)
        end -= np.repeat(text_base, counts)
        start = end - width
        fast = "".join(t for i, t in enumerate(texts) if i not in slow)
        space = np.concatenate(([0], np.cumsum(_is_space(fast))))
        at = start + np.repeat(text_base, counts)
        keep = space[at + width] - space[at] != width  # a word of whitespace alone belongs to no word
        counts -= np.bincount(np.repeat(np.arange(len(texts)), counts)[~keep], minlength=len(texts))
        start, end = start[keep], end[keep]
        for i, spans in slow.items():  # few: splice them in at their text's place
            at = int(counts[:i].sum())
            pairs = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
            start, end = np.insert(start, at, pairs[:, 0]), np.insert(end, at, pairs[:, 1])
            counts[i] = len(spans)
        return start, end, counts

    def dictionary(self) -> Mapping[str, int]:
        """jieba's word frequencies (its dictionary and user dictionaries)."""
        return self._jieba().FREQ


def read_user_dict(path: str | Path) -> list[tuple[str, int | None, str | None]]:
    """``(word, freq or None, tag or None)`` of a jieba user dictionary: ``word [freq] [tag]`` per line, as jieba
    reads it (a word may hold spaces; a trailing number is the frequency, a trailing lowercase word the tag)."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise SegmenterError(f"{path}: jieba user dictionary not found") from None
    entries = []
    for number, line in enumerate(raw.removeprefix(b"\xef\xbb\xbf").split(b"\n"), start=1):
        try:
            text = line.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise SegmenterError(f"{path}:{number}: not UTF-8; save the user dictionary as UTF-8") from None
        if not text:
            continue
        match = _USER_DICT_LINE.match(text)
        assert match is not None  # a non-empty line without "\n" always matches
        word, freq, tag = match.group(1).strip(), match.group(2), match.group(3)
        entries.append((word, int(freq) if freq else None, tag.strip() if tag else None))
    return entries


_USER_DICT_LINE = re.compile(r"^(.+?)( [0-9]+)?( [a-z]+)?$", re.U)  # jieba's own reading of a line


class PkusegSegmenter:
    """pkuseg with its default (news) model; drops whitespace, so offsets are re-aligned."""

    name = "pkuseg"

    def __init__(self, model_name: str = "default", user_dict: str | None = "default", normalize_text: bool = True):
        try:
            pkuseg = importlib.import_module("pkuseg")
        except ImportError:
            raise MissingBackendError(
                "the pkuseg backend needs the pkuseg package: pip install numpy Cython && "
                "pip install --no-build-isolation pkuseg (it ships its default model)"
            ) from None
        self._seg = pkuseg.pkuseg(model_name=model_name, user_dict=user_dict)
        self.normalize_text = normalize_text

    def segment(self, text: str) -> list[Span]:
        norm = normalize(text) if self.normalize_text else None
        source = norm.text if norm is not None else text
        spans = align_words(source, self._seg.cut(source))
        return _map_back(norm, spans) if norm is not None else spans


class LtpSegmenter:
    """LTP word segmentation from a local model directory (LTP downloads nothing here)."""

    name = "ltp"

    def __init__(self, model_path: str, normalize_text: bool = True):
        try:
            ltp = importlib.import_module("ltp")
        except ImportError:
            raise MissingBackendError("the ltp backend needs the ltp package: pip install ltp") from None

        if not Path(model_path).exists():
            raise SegmenterError(f"{model_path}: LTP model not found; pass a local LTP model directory")
        self._ltp = ltp.LTP(model_path)
        self.normalize_text = normalize_text

    def segment(self, text: str) -> list[Span]:
        norm = normalize(text) if self.normalize_text else None
        source = norm.text if norm is not None else text
        words = self._ltp.pipeline([source], tasks=["cws"]).cws[0]
        spans = align_words(source, words)
        return _map_back(norm, spans) if norm is not None else spans


def segment_batch(segmenter: Segmenter, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The word spans of many texts: ``(starts, ends, counts)``, flat int64 arrays of every word's offsets in its
    own text, in order, and the number of words of each text. Uses the segmenter's own ``segment_batch`` when it
    has one (jieba: a few numpy passes), else :meth:`Segmenter.segment` text by text."""
    fast = getattr(segmenter, "segment_batch", None)
    if fast is not None:
        return fast(texts)
    spans = [segmenter.segment(t) for t in texts]
    counts = np.fromiter(map(len, spans), dtype=np.int64, count=len(spans))
    flat = np.array([x for sp in spans for pair in sp for x in pair], dtype=np.int64).reshape(-1, 2)
    return flat[:, 0], flat[:, 1], counts


#: str.isspace of the Basic Multilingual Plane by code point (no whitespace lies above it)
_SPACE_TABLE = np.array([chr(c).isspace() for c in range(0x10000)] + [False], dtype=bool)


def _is_space(text: str) -> np.ndarray:
    return _SPACE_TABLE[np.minimum(codepoints(text), 0x10000)]


BACKENDS = {"jieba": JiebaSegmenter, "pkuseg": PkusegSegmenter, "ltp": LtpSegmenter}


def get_segmenter(name: str = "jieba", **options) -> Segmenter:
    """A segmenter by backend name (``jieba``, ``pkuseg``, ``ltp``)."""
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise SegmenterError(f"unknown segmenter {name!r}; choose one of {', '.join(BACKENDS)}") from None
    return cls(**options)


def word_ids_for_tokens(spans: Sequence[Span], starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, bool]:
    """Word index of every token from its character span ``[start, end)``.

    Tokens with an empty span (special tokens, padding) get -1; tokens of one word share an id;
    a token outside every word is a word of its own; ids count up from 0 along the sequence.
    Returns ``(word_ids, aligned)``. ``aligned`` is False when a token straddles a word boundary;
    then every token gets its own id (the caller counts a fallback to character masking).
    """
    word_ids = np.full(len(starts), -1, dtype=np.int64)
    live = np.flatnonzero(ends > starts)
    if not len(live):
        return word_ids, True
    s, e = starts[live], ends[live]
    w_start = np.array([a for a, _ in spans], dtype=np.int64)
    w_end = np.array([b for _, b in spans], dtype=np.int64)

    def word_of(chars: np.ndarray) -> np.ndarray:  # index of the word holding each char, -1 if none
        k = np.searchsorted(w_start, chars, side="right") - 1
        ok = (k >= 0) & (chars < w_end[np.maximum(k, 0)]) if len(w_start) else np.zeros(len(chars), bool)
        return np.where(ok, k, -1)

    first, last = word_of(s), word_of(e - 1)
    if (first != last).any():
        word_ids[live] = np.arange(len(live))
        return word_ids, False
    key = np.where(first >= 0, first, -1 - np.arange(len(live)))  # outside words: a key of its own
    new_word = np.concatenate(([True], key[1:] != key[:-1]))
    word_ids[live] = np.cumsum(new_word) - 1
    return word_ids, True


def word_f1(segmenter: Segmenter, gold: Sequence[Sequence[str]]) -> dict:
    """Word precision/recall/F1 of a segmenter against gold-segmented lines (lists of words)."""
    tp = n_pred = n_gold = 0
    for words in gold:
        text = "".join(words)
        gold_spans, pos = set(), 0
        for w in words:
            gold_spans.add((pos, pos + len(w)))
            pos += len(w)
        pred = set(segmenter.segment(text))
        tp += len(pred & gold_spans)
        n_pred += len(pred)
        n_gold += len(gold_spans)
    p = tp / max(n_pred, 1)
    r = tp / max(n_gold, 1)
    return {"precision": p, "recall": r, "f1": 2 * p * r / max(p + r, 1e-12), "lines": len(gold)}
