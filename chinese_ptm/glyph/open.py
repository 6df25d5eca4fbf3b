"""Glyphs of characters outside a vocabulary ("open glyphs"): drawn on demand in the fonts a glyph table was
drawn from, exactly as the table draws its own characters, so that the model sees a rare character's own shape
while its word embedding stays [UNK]'s."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .fonts import Font, resolve_fonts
from .render import check_size, font_pixel_size, render_covered


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
