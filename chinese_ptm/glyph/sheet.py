"""Contact sheets: the bitmaps of some characters in every font, as a PNG for people to look at."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .fonts import (
    Font,
    FontError,
    FontNotFoundError,
    GlyphValueError,
    display_path,
    resolve_fonts,
    shipped_fonts,
)
from .render import DEFAULT_SIZE, check_size, font_pixel_size, render_covered

#: Nearest-neighbour magnification of the large copy of each bitmap.
DEFAULT_SCALE = 4
#: Spacing and text sizes of the sheet, in pixels.
PAD = 10
LABEL_PX = 15
HEADER_CHAR_PX = 24
SMALL_LABEL_PX = 12
#: Colours (RGB).
BACKGROUND = (255, 255, 255)
TEXT = (20, 20, 20)
MUTED = (110, 110, 110)
FRAME = (190, 190, 190)
MISSING_FILL = (255, 232, 232)
MISSING_TEXT = (190, 30, 30)
HEADER_FILL = (242, 242, 242)
#: The shipped style whose font labels the sheet (it covers Latin and CJK).
LABEL_STYLE = "sans"
#: Most characters one sheet shows (wider sheets are unreadable).
MAX_CHARS = 64


def _shipped_label_font() -> Font | None:
    """The shipped sans font (it has Latin and CJK), or None when the fonts are not installed."""
    try:
        return shipped_fonts([LABEL_STYLE])[0]
    except (FontNotFoundError, FontError):
        return None


def _pil_label_font(font: Font | None, px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """``font`` at ``px`` pixels, or pillow's built-in font."""
    return font.pil_font(px) if font is not None else ImageFont.load_default(px)


def _text_width(draw: ImageDraw.ImageDraw, text: str, font) -> int:
    left, _, right, _ = draw.textbbox((0, 0), text, font=font)
    return right - left


def _bitmap_image(mask: np.ndarray, scale: int) -> Image.Image:
    """Dark ink on white, magnified ``scale`` times with nearest-neighbour sampling."""
    image = Image.fromarray(255 - mask, mode="L")
    if scale != 1:
        image = image.resize((mask.shape[1] * scale, mask.shape[0] * scale), Image.Resampling.NEAREST)
    return image.convert("RGB")


def contact_sheet(
    chars: str,
    fonts=None,
    size: int = DEFAULT_SIZE,
    scale: int = DEFAULT_SCALE,
) -> Image.Image:
    """An RGB image: one row per font (labelled), one column per character (labelled with the
    character and its code point); each cell shows the size x size bitmap magnified ``scale``
    times and at its real size. A character the font lacks gets a red "missing" cell.
    """
    size, chars = _checked(chars, size, scale)
    fonts: list[Font] = resolve_fonts(fonts)
    pixel_size = font_pixel_size(size)
    label_font = _shipped_label_font()
    label = _pil_label_font(label_font, LABEL_PX)
    small = _pil_label_font(label_font, SMALL_LABEL_PX)
    header_char = _pil_label_font(label_font, HEADER_CHAR_PX)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    big = size * scale
    cell_w = PAD + big + PAD + size + PAD
    cell_h = PAD + big + PAD
    row_titles = [
        (font.name, (f"{font.style}, " if font.style else "") + f"{display_path(font.path)}:{font.index}")
        for font in fonts
    ]
    label_w = PAD + max(max(_text_width(measure, a, label), _text_width(measure, b, small)) for a, b in row_titles)
    label_w += PAD
    title = f"{size}x{size} bitmaps (font {pixel_size} px, centred on the ink box), shown x{scale} and at real size"
    title_h = PAD + LABEL_PX + PAD
    header_h = PAD + HEADER_CHAR_PX + 6 + SMALL_LABEL_PX + PAD
    width = max(label_w + cell_w * len(chars), PAD + _text_width(measure, title, small) + PAD)
    height = title_h + header_h + cell_h * len(fonts) + PAD

    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    draw.text((PAD, PAD), title, font=small, fill=MUTED)
    draw.rectangle((0, title_h, width - 1, title_h + header_h - 1), fill=HEADER_FILL)
    for column, char in enumerate(chars):
        x = label_w + column * cell_w + PAD
        if label_font is not None and label_font.covers(char):
            draw.text((x, title_h + PAD), char, font=header_char, fill=TEXT)
        draw.text((x, title_h + PAD + HEADER_CHAR_PX + 6), f"U+{ord(char):04X}", font=small, fill=MUTED)
    for row, (font, (name, detail)) in enumerate(zip(fonts, row_titles)):
        y = title_h + header_h + row * cell_h
        if row:
            draw.line((0, y, width, y), fill=FRAME)
        draw.text((PAD, y + PAD), name, font=label, fill=TEXT)
        draw.text((PAD, y + PAD + LABEL_PX + 6), detail, font=small, fill=MUTED)
        for column, char in enumerate(chars):
            _draw_cell(sheet, draw, char, font, (label_w + column * cell_w + PAD, y + PAD), size, scale, small)
    return sheet


def _checked(chars: str, size: int, scale: int) -> tuple[int, list[str]]:
    """The size, and the characters to draw (each once, no spaces), or a one-line error."""
    size = check_size(size)
    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= 16:
        raise GlyphValueError(f"scale must be an integer from 1 to 16, got {scale!r}")
    chars = [c for c in dict.fromkeys(chars) if not c.isspace()]
    if not chars:
        raise GlyphValueError("no characters to draw; pass some, e.g. `chinese-ptm glyphs sheet 中文字形`")
    if len(chars) > MAX_CHARS:
        raise GlyphValueError(f"{len(chars)} characters are too many for one sheet; pass at most {MAX_CHARS}")
    return size, chars


def _draw_cell(sheet, draw, char: str, font: Font, corner: tuple[int, int], size: int, scale: int, small) -> None:
    """One character in one font: magnified and at real size, or a red "missing" cell."""
    x, top = corner
    big = size * scale
    if not font.covers(char):
        draw.rectangle((x, top, x + big - 1, top + big - 1), fill=MISSING_FILL, outline=FRAME)
        draw.text((x + big // 2, top + big // 2), "missing", font=small, fill=MISSING_TEXT, anchor="mm")
        return
    mask, _ = render_covered(char, font, size, font_pixel_size(size))
    sheet.paste(_bitmap_image(mask, scale), (x, top))
    sheet.paste(_bitmap_image(mask, 1), (x + big + PAD, top + big - size))
    draw.rectangle((x - 1, top - 1, x + big, top + big), outline=FRAME)
    draw.rectangle((x + big + PAD - 1, top + big - size - 1, x + big + PAD + size, top + big), outline=FRAME)


def write_contact_sheet(
    chars: str, out: str | Path, fonts=None, size: int = DEFAULT_SIZE, scale: int = DEFAULT_SCALE
) -> Path:
    """Draw a contact sheet and save it as PNG; returns the path."""
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise GlyphValueError(f"contact sheets are PNG files; got {out} (use e.g. --out sheet.png)")
    image = contact_sheet(chars, fonts, size=size, scale=scale)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out, optimize=True)
    return out
