"""``GlyceBertWordTokenizer``: words as tokens, characters where a word is not in the vocabulary.  [no torch]

A word vocabulary is a character vocabulary with multi-character Chinese words appended (``chinese-ptm vocab
build --granularity word``), so every character keeps the id it has in the character vocabulary. A text is cut
by the segmenter the vocabulary was built with (its settings and user dictionary are saved with the tokenizer,
so training and inference cut the same); a word in the vocabulary becomes one token, any other word its
characters (runs of Latin letters and digits go through WordPiece, as in the character tokenizer). Offsets point
into the original text.

Readings and glyphs of a word token: its pinyin ids are its first character's reading in context (the 8 slots
hold one syllable); its glyph row in a glyph table is the mean of its characters' bitmaps (``glyph.table``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

from ..errors import UserError
from .normalize import is_cjk
from .segmentation import JiebaSegmenter, SegmenterError
from .token_batch import check_text
from .token_readings import Segments
from .tokenization import TOKENIZER_CLASSES, GlyceBertTokenizer

#: the segmenter's user dictionary, saved beside vocab.txt (one file: the dictionaries it was built with, joined)
SEGMENTER_DICT_FILE = "segmenter_dict.txt"
#: marks a word vocabulary in its vocab_meta.json
WORD_GRANULARITY = "word"


def is_chinese_word(token: str) -> bool:
    """A vocabulary entry that is a word: two or more Chinese characters."""
    return len(token) > 1 and all(map(is_cjk, token))


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class GlyceBertWordTokenizer(GlyceBertTokenizer):
    """The tokenizer of word-level models: the interface of :class:`GlyceBertTokenizer` (batches, pairs, padding,
    truncation, offsets, ``pinyin_ids``, ``glyph_ids``, ``save_pretrained``, ``AutoTokenizer``, pickling).

    Args (besides GlyceBertTokenizer's):
        segmenter_dict_file: jieba user dictionary the vocabulary was built with (saved as ``segmenter_dict.txt``).
        segmenter_dict_sha256: its sha256, recorded when saved: a missing or different file is refused.
        segmenter_hmm: jieba's HMM for words outside its dictionary (as when the vocabulary was built).
    """

    vocab_files_names = {**GlyceBertTokenizer.vocab_files_names, "segmenter_dict_file": SEGMENTER_DICT_FILE}
    _cuts_words = True
    _auto_class = None  # it segments with chinese_ptm: loaded through chinese_ptm, not as code copied beside weights

    def __init__(
        self,
        vocab_file: str | None = None,
        vocab: dict[str, int] | str | None = None,
        segmenter_dict_file: str | None = None,
        segmenter_dict_sha256: str | None = None,
        segmenter_hmm: bool = False,
        **kwargs,
    ):
        kwargs["tokenize_chinese_chars"] = False  # words arrive whole from the cut; characters as pieces of their own
        super().__init__(vocab_file=vocab_file, vocab=vocab, **kwargs)
        where = kwargs.get("name_or_path") or vocab_file or "the tokenizer"
        _check_dictionary(where, segmenter_dict_file, segmenter_dict_sha256)
        if segmenter_dict_file and not segmenter_dict_sha256:
            segmenter_dict_sha256 = file_sha256(segmenter_dict_file)
        self.segmenter_dict_file = segmenter_dict_file
        self.init_kwargs.update(segmenter_hmm=bool(segmenter_hmm), segmenter_dict_sha256=segmenter_dict_sha256)
        self.segmenter = JiebaSegmenter(
            hmm=segmenter_hmm, user_dicts=[segmenter_dict_file] if segmenter_dict_file else []
        )
        self.words = frozenset(t for t in self.get_vocab() if is_chinese_word(t))
        self._disable_aligned_path = self._disable_direct_path = True  # both assume one token per character

    def cut(self, text: str) -> list[str]:
        """``text`` as the backend reads it: vocabulary words whole, other words as their characters (a run of
        non-Chinese characters stays together for WordPiece), and the whitespace between; the pieces join to
        ``text``."""
        pieces: list[str] = []
        at = 0
        for start, end in self.segmenter.segment(text):
            if start > at:
                pieces.append(text[at:start])
            word = text[start:end]
            pieces.extend([word] if word in self.words else _characters(word))
            at = end
        if at < len(text):
            pieces.append(text[at:])
        return pieces

    def _encode_plus_locked(self, text, text_pair=None, **kwargs):
        if kwargs.get("is_split_into_words"):
            raise ValueError(
                "GlyceBertWordTokenizer cuts texts into words itself: pass the texts, not is_split_into_words "
                "(offset_mapping then says which characters each token covers)"
            )
        check_text(text, "text", False)
        if text_pair is not None:
            check_text(text_pair, "text_pair", False)
        batched = isinstance(text, (list, tuple))
        cut_a = [self.cut(t) for t in text] if batched else self.cut(text)
        cut_b = None
        if text_pair is not None and (batched or text_pair):
            cut_b = [self.cut(t) for t in text_pair] if batched else self.cut(text_pair)
        if batched and not cut_a:
            cut_a = [[]]  # transformers reads an empty batch of words as one text
        return super()._encode_plus_locked(cut_a, cut_b, **{**kwargs, "is_split_into_words": True})

    def _segments_of(self, texts: list[str]) -> Segments:
        return Segments([self.cut(t) for t in texts], None, True, self.normalize_text, cut=True)

    def save_pretrained(self, save_directory, *args, **kwargs):
        if (
            self.segmenter_dict_file
            and Path(self.segmenter_dict_file).resolve() != (Path(save_directory) / SEGMENTER_DICT_FILE).resolve()
        ):
            Path(save_directory).mkdir(parents=True, exist_ok=True)
            data = Path(self.segmenter_dict_file).read_bytes()
            (Path(save_directory) / SEGMENTER_DICT_FILE).write_bytes(data)
        return super().save_pretrained(save_directory, *args, **kwargs)


TOKENIZER_CLASSES[GlyceBertWordTokenizer.__name__] = GlyceBertWordTokenizer


def _characters(word: str) -> list[str]:
    """A word outside the vocabulary as pieces: each Chinese character alone, other runs kept whole."""
    if not any(map(is_cjk, word)):
        return [word]
    pieces: list[str] = []
    for char in word:
        if pieces and not is_cjk(char) and not is_cjk(pieces[-1][-1]):
            pieces[-1] += char
        else:
            pieces.append(char)
    return pieces


def _check_dictionary(where, path: str | None, recorded: str | None) -> None:
    """The user dictionary the tokenizer was saved with must be the one it cuts with."""
    if recorded and (not path or not Path(path).is_file()):
        raise SegmenterError(
            f"{where}: saved with a segmenter user dictionary ({SEGMENTER_DICT_FILE}, sha256 {recorded[:12]}...) that "
            "is not there; copy it back beside vocab.txt, or texts would be cut unlike the training data"
        )
    if recorded and path and file_sha256(path) != recorded:
        raise SegmenterError(
            f"{path}: not the segmenter user dictionary this tokenizer was saved with (sha256 differs); restore it, "
            "or texts would be cut unlike the training data"
        )


def count_words(lines, segmenter) -> tuple[Counter, int]:
    """Occurrences of each multi-character Chinese word of ``lines`` as ``segmenter`` cuts them, and the number
    of non-empty lines."""
    counts: Counter = Counter()
    read = 0
    for line in lines:
        if not line.strip():
            continue
        read += 1
        counts.update(w for s, e in segmenter.segment(line) if is_chinese_word(w := line[s:e]))
    return counts, read


def build_word_vocab(
    lines, base_tokens: list[str], size: int, min_count: int, where: str, segmenter: JiebaSegmenter
) -> tuple[list[str], dict, list[tuple[str, int]]]:
    """``base_tokens`` (a character vocabulary) + the ``size`` most frequent multi-character words of ``lines``
    seen at least ``min_count`` times. Returns the tokens, a summary (coverage: the share of the tokens of the
    corpus's words that fall back to characters) and the kept words with their counts."""
    if size < 1 or min_count < 1:
        raise UserError(f"--size {size} / --min-count {min_count}: both must be at least 1")
    counts, read = count_words(lines, segmenter)
    known = set(base_tokens)
    kept = [(w, c) for w, c in counts.most_common() if c >= min_count and w not in known][:size]
    if not kept:
        raise UserError(
            f"{where}: no multi-character Chinese word occurs {min_count} times or more in its {read} non-empty "
            "lines; give a larger Chinese corpus or lower --min-count"
        )
    chosen = {w for w, _ in kept}
    whole = sum(c for w, c in counts.items() if w in chosen)
    fallback = sum(c * len(w) for w, c in counts.items() if w not in chosen)
    summary = {
        "granularity": WORD_GRANULARITY,
        "size": len(base_tokens) + len(kept),
        "base_size": len(base_tokens),
        "words": len(kept),
        "min_count": min_count,
        "least_frequent_kept": kept[-1][1],
        "corpus_lines": read,
        "distinct_words": len(counts),
        "word_occurrences": sum(counts.values()),
        "word_occurrences_whole": round(whole / max(sum(counts.values()), 1), 4),
        "fallback_token_share": round(fallback / max(whole + fallback, 1), 4),
        "segmenter": {"name": segmenter.name, "hmm": segmenter.hmm, "user_dicts": segmenter.user_dicts},
    }
    return base_tokens + [w for w, _ in kept], summary, kept
