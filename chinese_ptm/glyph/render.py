"""Rendering one character to a size x size grayscale mask, centred on its ink box."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .fonts import Font, GlyphMissingError, GlyphValueError, parse_font_spec

#: Side of a glyph bitmap in the original ChineseBERT tables.
DEFAULT_SIZE = 24
#: Below this a glyph bitmap carries too little detail to be useful.
MIN_SIZE = 8
#: Font pixel size relative to the bitmap side: 22 px for 24 x 24 leaves every ideograph's ink inside.
FONT_SCALE = 22 / 24
#: Side of the scratch canvas in ems: room for ink well outside the em box.
CANVAS_EMS = 4
#: Where the baseline goes on the scratch canvas: this many ems below its centre (CJK ink sits
#: between about 0.12 em below and 0.88 em above the baseline).
BASELINE_BELOW_CENTRE = 0.38
#: Blank pixels around the layout box on the fallback canvas for oversized glyphs.
CANVAS_MARGIN = 4
#: Redraws of an oversized glyph with ever larger margins before its ink is taken as it is.
MAX_REDRAWS = 3
#: Ink value of a drawn glyph (pillow draws coverage 0..255).
FULL_INK = 255


def check_size(size: int) -> int:
    """The bitmap side, validated (an int >= MIN_SIZE)."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise GlyphValueError(f"glyph size must be an integer number of pixels, got {size!r}")
    if size < MIN_SIZE:
        raise GlyphValueError(f"glyph size {size} is too small: use at least {MIN_SIZE} pixels (24 is the default)")
    return int(size)


def font_pixel_size(size: int) -> int:
    """The font size in pixels used for a size x size bitmap (22 for 24)."""
    return max(1, round(size * FONT_SCALE))


def ink_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, left, bottom, right) of the non-zero pixels, bottom/right exclusive; None if blank."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def ink_offset(mask: np.ndarray) -> tuple[float, float]:
    """(dy, dx): how far the ink box's centre lies from the bitmap's centre, in pixels."""
    box = ink_box(mask)
    if box is None:
        return 0.0, 0.0
    top, left, bottom, right = box
    return (top + bottom) / 2 - mask.shape[0] / 2, (left + right) / 2 - mask.shape[1] / 2


def _crop_ink(canvas: Image.Image) -> tuple[np.ndarray | None, bool]:
    """(ink crop or None when blank, whether the ink touches the canvas edge)."""
    box = canvas.getbbox()
    if box is None:
        return None, False
    touches_edge = box[0] == 0 or box[1] == 0 or box[2] == canvas.width or box[3] == canvas.height
    return np.asarray(canvas.crop(box)), touches_edge


def _draw_ink(char: str, pil_font: ImageFont.FreeTypeFont, pixel_size: int) -> np.ndarray | None:
    """The character's ink, cropped to its ink box (uint8), or None when it draws nothing.

    Fast path: draw on a square canvas of CANVAS_EMS em with the baseline placed so that a glyph
    of the usual em box lands in the middle. Ink that reaches the canvas edge (an unusually large
    glyph) is redrawn on a canvas sized from the font's layout box.
    """
    side = CANVAS_EMS * pixel_size
    canvas = Image.new("L", (side, side), 0)
    origin = (side // 2 - pixel_size // 2, side // 2 + round(pixel_size * BASELINE_BELOW_CENTRE))
    ImageDraw.Draw(canvas).text(origin, char, font=pil_font, fill=FULL_INK, anchor="ls")
    ink, touches_edge = _crop_ink(canvas)
    if touches_edge:
        left, top, right, bottom = pil_font.getbbox(char)
        margin = CANVAS_MARGIN
        for _ in range(MAX_REDRAWS):
            width, height = right - left + 2 * margin, bottom - top + 2 * margin
            canvas = Image.new("L", (width, height), 0)
            ImageDraw.Draw(canvas).text((margin - left, margin - top), char, font=pil_font, fill=FULL_INK)
            ink, touches_edge = _crop_ink(canvas)
            if not touches_edge:
                break
            margin = 4 * max(margin, pixel_size)  # the layout box underestimated the ink: more room
    return ink


def place_centred(ink: np.ndarray | None, size: int) -> tuple[np.ndarray, bool]:
    """Put an ink crop into a size x size bitmap, centred; returns (bitmap, clipped).

    Ink larger than the bitmap keeps its central size x size part (``clipped`` is then True).
    """
    out = np.zeros((size, size), dtype=np.uint8)
    if ink is None:
        return out, False
    height, width = ink.shape
    clipped = height > size or width > size
    if clipped:
        cy, cx = max(0, (height - size) // 2), max(0, (width - size) // 2)
        ink = ink[cy : cy + size, cx : cx + size]
        height, width = ink.shape
    y0, x0 = (size - height) // 2, (size - width) // 2
    out[y0 : y0 + height, x0 : x0 + width] = ink
    return out, clipped


def render_covered(char: str, font: Font, size: int, pixel_size: int) -> tuple[np.ndarray, bool]:
    """Render a character the caller knows the font covers; returns (bitmap, clipped)."""
    return place_centred(_draw_ink(char, font.pil_font(pixel_size), pixel_size), size)


def render(char: str, font: Font | str | Path, size: int = DEFAULT_SIZE, *, font_size: int | None = None) -> np.ndarray:
    """A (size, size) uint8 grayscale mask (0 = empty, 255 = full ink) of one character.

    The glyph is drawn at ``font_size`` pixels (default ``round(size * 22 / 24)``) and centred on its
    ink box. ``font`` is a Font, a font path (``path.ttc:2`` picks a face) or a shipped style name.
    Raises GlyphMissingError when the font has no glyph for the character (never draws a fallback).
    """
    size = check_size(size)
    font = parse_font_spec(font)
    if not isinstance(char, str) or len(char) != 1:
        raise GlyphValueError(f"render draws exactly one character, got {char!r}")
    if not font.covers(char):
        raise GlyphMissingError(char, font)
    pixel_size = font_pixel_size(size) if font_size is None else check_size(font_size)
    return render_covered(char, font, size, pixel_size)[0]
