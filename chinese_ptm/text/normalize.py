"""Text utilities: character classes and offset-keeping normalisation.  [no torch]"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

#: Code point ranges BERT's tokenizer isolates as Chinese characters (one token each).
CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def is_cjk(char: str) -> bool:
    """True for a character BERT's tokenizer treats as a Chinese character."""
    cp = ord(char)
    return any(lo <= cp <= hi for lo, hi in CJK_RANGES)


def replace_lone_surrogates(text: str) -> str:
    """Replace unpaired UTF-16 surrogates (not encodable as UTF-8) by U+FFFD, one for one."""
    return _LONE_SURROGATE.sub("\ufffd", text) if _LONE_SURROGATE.search(text) else text


# Normalisation: what Chinese text writes with characters the standard BERT vocabulary lacks.
_SINGLE = {
    "\u3000": " ",  # ideographic space
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',  # curly double quotes
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",  # curly single quotes
    "\u2014": "-",
    "\u2015": "-",
    "\u2013": "-",
    "\u2012": "-",
    "\u2010": "-",
    "\u2011": "-",  # dashes
    "\u2212": "-",  # minus sign
}
_EXPAND = {"\u2026": "...", "\u22ef": "..."}  # ellipses
for _cp in range(0xFF01, 0xFF5F):  # full-width ASCII variants
    _SINGLE[chr(_cp)] = chr(_cp - 0xFEE0)
_NORMALISE_RE = re.compile("[" + "".join(re.escape(c) for c in list(_SINGLE) + list(_EXPAND)) + "]")
_SINGLE_TABLE = str.maketrans(_SINGLE)


@dataclass(frozen=True)
class NormalizedText:
    """A normalised text and, for each of its characters, the index of its source character."""

    text: str
    source_index: np.ndarray  # (len(text),) int64
    original: str

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that ``text[start:end]`` came from."""
        if end <= start:
            pos = int(self.source_index[start]) if start < len(self.text) else len(self.original)
            return pos, pos
        return int(self.source_index[start]), int(self.source_index[end - 1]) + 1


def codepoints(text: str) -> np.ndarray:
    """The code points of ``text`` (uint32; lone surrogates kept as they are), without a Python loop."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def normalize(text: str) -> NormalizedText:
    """Fold full-width ASCII, the ideographic space, curly quotes, dashes and ellipses to ASCII.

    With the standard 21,128-entry Chinese BERT vocabulary about 1% of the tokens of news text are
    [UNK], mostly “ ” — … ‘ ’; this opt-in normalisation removes them. Offsets are kept: every
    character of the result knows its source character (an ellipsis becomes three dots that all
    point back to it). Chinese characters are never changed, so their readings are unaffected.
    """
    if not _NORMALISE_RE.search(text):
        return NormalizedText(text, np.arange(len(text), dtype=np.int64), text)
    if not any(c in text for c in _EXPAND):  # one character for one: the offsets stay as they are
        return NormalizedText(text.translate(_SINGLE_TABLE), np.arange(len(text), dtype=np.int64), text)
    pieces: list[str] = []
    index: list[int] = []
    last = 0
    for m in _NORMALISE_RE.finditer(text):
        pos = m.start()
        if pos > last:
            pieces.append(text[last:pos])
            index.extend(range(last, pos))
        char = m.group()
        repl = _EXPAND.get(char) or char.translate(_SINGLE_TABLE)
        pieces.append(repl)
        index.extend([pos] * len(repl))
        last = pos + 1
    pieces.append(text[last:])
    index.extend(range(last, len(text)))
    return NormalizedText("".join(pieces), np.asarray(index, dtype=np.int64), text)


# Cleaning and sentence splitting --------------------------------------------------------------

_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_HTML_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>|<!--.*?-->")
_HTML_ENTITY = re.compile(r"&(?:[a-zA-Z]{2,8}|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_SPACES = re.compile(r"[ \t\u3000\u00a0]+")
#: sentence ends: 。！？ and their ASCII/full-width variants, with closing quotes/brackets after them
_SENTENCE = re.compile(r"[^。！？!?；;…]*?(?:[。！？!?]+|……|…|[；;])[”’」』）)\]】〕》\"']*|[^。！？!?；;…]+$", re.S)


def clean_text(line: str) -> str:
    """Remove control and invisible characters and HTML remnants; squeeze spaces."""
    import html

    if "&" in line:
        line = html.unescape(line) if _HTML_ENTITY.search(line) else line
    if "<" in line:
        line = _HTML_TAG.sub("", line)
    line = _INVISIBLE.sub("", line)
    line = _CONTROL.sub("", line)
    return _SPACES.sub(" ", line).strip()


def text_ratio(line: str) -> float:
    """Share of characters that are letters, digits or Chinese characters (not symbols/punctuation)."""
    if not line:
        return 0.0
    return sum(1 for c in line if c.isalnum()) / len(line)


def split_sentences(text: str) -> list[str]:
    """Split on 。！？!? ； and ellipses, keeping closing quotes and brackets with their sentence."""
    out = []
    for m in _SENTENCE.finditer(text):
        sentence = m.group().strip()
        if sentence:
            out.append(sentence)
    return out
