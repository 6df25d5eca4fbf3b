"""``glyph_ids``: which glyph each token shows. A token shows its own vocabulary entry's glyph (its id), except an
[UNK] made of one character, which shows that character's: ``-code point``. The model draws such a glyph in the
fonts of its glyph table (``GlyceBertConfig.open_glyph_fonts``); its word embedding stays [UNK]'s."""

from __future__ import annotations

import numpy as np

#: The key of glyph ids in the tokenizer's output, fine-tuning features and pretraining records.
GLYPH_IDS = "glyph_ids"


def flat_glyph_ids(
    ids: np.ndarray, spans: np.ndarray, text_of: np.ndarray, texts: list[str], unk_id: int
) -> np.ndarray:
    """``glyph_ids`` of flat tokens: ``ids`` (N,), their character ``spans`` (N, 2) in ``texts[text_of]``."""
    glyphs = ids.astype(np.int64)
    single = (ids == unk_id) & (spans[:, 1] - spans[:, 0] == 1)
    for position in np.flatnonzero(single).tolist():
        glyphs[position] = -ord(texts[text_of[position]][spans[position, 0]])
    return glyphs


def encoding_glyph_ids(encoding, texts_a: list[str], texts_b: list[str] | None, sample: int, unk_id: int) -> list[int]:
    """``glyph_ids`` of one backend encoding of text ``sample`` (and its pair): offsets say which character an
    [UNK] stands for, sequence ids in which text, and for pre-split input (a list of words) word ids in which
    word."""
    glyphs = list(encoding.ids)
    if unk_id not in glyphs:
        return glyphs
    for position, token in enumerate(encoding.ids):
        start, end = encoding.offsets[position]
        if token != unk_id or end - start != 1:
            continue
        text = texts_a[sample] if encoding.sequence_ids[position] != 1 else texts_b[sample]  # type: ignore[index]
        if not isinstance(text, str):  # pre-split words: a token's offsets are within its own word
            text = text[encoding.word_ids[position]]
        glyphs[position] = -ord(text[start])
    return glyphs
