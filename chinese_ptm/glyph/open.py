"""Glyphs of characters outside a vocabulary ("open glyphs"): drawn on demand in the fonts a glyph table was
drawn from, exactly as the table draws its own characters, so that the model sees a rare character's own shape
while its word embedding stays [UNK]'s."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from .fonts import Font, FontNotFoundError, load_manifest, resolve_fonts
from .render import check_size, font_pixel_size, render_covered
from .table import read_glyph_header


@lru_cache(maxsize=8)
def _fonts(specs: tuple[str, ...]) -> tuple[Font, ...]:
    return tuple(resolve_fonts(list(specs)))


def render_code_points(code_points: list[int], fonts: list[str], size: int) -> np.ndarray:
    """(N, F, size, size) uint8 bitmaps of ``code_points`` in each of ``fonts`` (shipped style names or font
    files); zeros where a font lacks the character, as in a glyph table."""
    drawn = _fonts(tuple(fonts))
    size = check_size(size)
    pixel_size = font_pixel_size(size)
    out = np.zeros((len(code_points), len(drawn), size, size), dtype=np.uint8)
    for i, point in enumerate(code_points):
        char = chr(point)
        for f, font in enumerate(drawn):
            if font.covers(char):
                out[i, f] = render_covered(char, font, size, pixel_size)[0]
    return out


def table_fonts(path_or_vocab_dir: str | Path | None = None) -> list[str]:
    """The fonts a stored glyph table was drawn from, named as ``open_glyph_fonts`` names them: the shipped
    style where the table's font is the shipped file (same sha256), else the font file itself (``FILE:FACE``).
    Open glyphs must be drawn in the same fonts as the table, or a rare character would look unlike the rest."""
    shipped = {entry["style"]: entry["sha256"] for entry in load_manifest()["font"]}
    header = read_glyph_header(path_or_vocab_dir)
    names = []
    for entry in header["fonts"]:
        if shipped.get(entry.get("style")) == entry["sha256"]:
            names.append(entry["style"])
        elif Path(entry["file"]).is_file():
            names.append(f"{entry['file']}:{entry.get('face_index', 0)}")
        else:
            raise FontNotFoundError(
                f"the glyph table {path_or_vocab_dir or 'vocab/'} was drawn in {entry['name']} ({entry['file']}), "
                "which is not here: open glyphs are drawn in the table's own fonts; put the font back or set "
                "model.open_glyphs: false"
            )
    return names
