"""Fonts: opening font files safely, coverage from the cmap, the shipped fonts' manifest."""

from __future__ import annotations

import hashlib
import struct
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from fontTools.ttLib import TTFont
from PIL import ImageFont

from chinese_ptm.errors import UserError
from chinese_ptm.resources import fonts_dir as bundled_fonts_dir

#: The manifest of the shipped fonts (in ``fonts/``), read with tomllib.
MANIFEST_NAME = "fonts.toml"
#: Magic bytes of a TrueType/OpenType collection (.ttc/.otc).
TTC_MAGIC = b"ttcf"
#: Magic bytes of single-face font files pillow/FreeType and fontTools both read.
FONT_MAGICS = (b"\x00\x01\x00\x00", b"OTTO", b"true", b"typ1", b"wOFF", b"wOF2", TTC_MAGIC)
#: Glyph name fontTools gives the "missing glyph" box; a cmap entry pointing to it is no coverage.
NOTDEF = ".notdef"
#: How to rebuild the shipped fonts (quoted in error messages).
REBUILD_FONTS_HINT = "rebuild them with `chinese-ptm glyphs subset` (see fonts/README.md)"


class GlyphError(UserError):
    """Base class of every error raised by chinese_ptm.glyph (the CLI reports these without a traceback)."""


class GlyphValueError(GlyphError, ValueError):
    """A bad argument or a bad input file."""


class FontError(GlyphValueError):
    """A font file that cannot be used: unreadable, corrupt, wrong face index."""


class GlyphFileNotFoundError(GlyphError, FileNotFoundError):
    """An input file (vocabulary, table, font array) that does not exist."""


class FontNotFoundError(GlyphFileNotFoundError):
    """A font file that does not exist."""


class GlyphMissingError(GlyphError, LookupError):
    """The font has no glyph for a character (it is never drawn as a fallback box)."""

    def __init__(self, char: str, font: Font):
        self.char = char
        self.font = font
        codepoint = f"U+{ord(char):04X}" if len(char) == 1 else repr(char)
        super().__init__(f"{font.name} ({font.path}) has no glyph for {char!r} ({codepoint})")


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def display_path(path: str | Path) -> str:
    """A bundled file as ``fonts/NAME`` (the same in every installation, so that table headers
    built anywhere agree), any other path as given (for headers and messages)."""
    path = Path(path)
    try:
        return path.resolve().relative_to(bundled_fonts_dir().parent.resolve()).as_posix()
    except ValueError:
        return str(path)


def count_faces(path: Path) -> int:
    """Number of faces in a font file (1 unless it is a collection); FontError if it is no font."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError as error:
        raise FontError(f"cannot read font file {path}: {error.strerror or error}") from None
    if head[:4] == TTC_MAGIC:
        if len(head) < 12:
            raise FontError(f"{path} is a truncated font collection; replace the file")
        return struct.unpack(">I", head[8:12])[0]
    if head[:4] not in FONT_MAGICS:
        raise FontError(
            f"{path} is not a TrueType/OpenType font (it starts with {head[:4]!r}); pass a .ttf, .otf or .ttc file"
        )
    return 1


def open_ttfont(path: str | Path, index: int = 0, lazy: bool | None = True) -> TTFont:
    """Open one face of a font file with fontTools; clear errors instead of deep tracebacks."""
    path = Path(path)
    if not path.is_file():
        raise FontNotFoundError(f"font file not found: {path} (check the path, or pass another font)")
    faces = count_faces(path)
    if not 0 <= index < faces:
        where = f"a collection of {faces} faces (0..{faces - 1})" if faces > 1 else "a single-face font (use index 0)"
        raise FontError(f"face index {index} is out of range for {path}: it is {where}")
    try:
        font = TTFont(path, fontNumber=index if faces > 1 else -1, lazy=lazy)
        font["cmap"]  # force-read the tables rendering relies on
        font["name"]
    except Exception as error:  # fontTools raises many kinds of errors on corrupt files
        raise FontError(
            f"cannot read font {path} (face {index}): {type(error).__name__}: {error}; "
            "the file is corrupt or not a font"
        ) from None
    return font


@dataclass(eq=False)
class Font:
    """One face of a font file: its cmap coverage (fontTools) and pillow renderers per pixel size.

    ``name`` defaults to the family name stored in the font; ``style`` is a free label (the shipped
    fonts use serif / kai / sans).
    """

    path: Path
    index: int = 0
    name: str | None = None
    style: str | None = None
    codepoints: frozenset[int] = field(init=False, repr=False)
    family: str = field(init=False, repr=False)
    _pil: dict = field(init=False, repr=False, default_factory=dict)
    _sha256: str | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if isinstance(self.index, bool) or not isinstance(self.index, int):
            raise FontError(f"face index must be an integer, got {self.index!r} for {self.path}")
        font = open_ttfont(self.path, self.index)
        try:
            cmap = font.getBestCmap() or {}
            self.codepoints = frozenset(cp for cp, glyph in cmap.items() if glyph != NOTDEF)
            self.family = font["name"].getDebugName(1) or self.path.stem
        except Exception as error:
            raise FontError(f"cannot read the character map of {self.path}: {error}; the file is corrupt") from None
        finally:
            font.close()
        if not self.codepoints:
            raise FontError(f"{self.path} (face {self.index}) maps no Unicode characters; pass a Unicode font")
        if self.name is None:
            self.name = self.family

    @classmethod
    def from_spec(cls, spec: str | Path) -> Font:
        """A font from ``path``, ``path:FACE`` (a face of a .ttc) or a shipped style name (serif, kai, sans)."""
        return parse_font_spec(spec)

    def covers(self, char: str) -> bool:
        """Whether the font maps this character to a real glyph."""
        return len(char) == 1 and ord(char) in self.codepoints

    def missing(self, chars) -> list[str]:
        """The characters of ``chars`` the font has no glyph for, in order."""
        return [c for c in chars if not self.covers(c)]

    def pil_font(self, pixel_size: int) -> ImageFont.FreeTypeFont:
        """The pillow font at this pixel size (loaded once, basic layout so renderings are stable)."""
        if pixel_size not in self._pil:
            try:
                self._pil[pixel_size] = ImageFont.truetype(
                    str(self.path), pixel_size, index=self.index, layout_engine=ImageFont.Layout.BASIC
                )
            except OSError as error:
                raise FontError(f"pillow cannot load {self.path} (face {self.index}): {error}") from None
        return self._pil[pixel_size]

    @property
    def sha256(self) -> str:
        """Hex sha256 of the font file (computed once)."""
        if self._sha256 is None:
            self._sha256 = sha256_file(self.path)
        return self._sha256

    def describe(self) -> dict:
        """What a glyph-table header records about this font."""
        return {
            "name": self.name,
            "style": self.style,
            "file": display_path(self.path),
            "face_index": self.index,
            "sha256": self.sha256,
        }

    def __repr__(self) -> str:
        return f"Font({self.name!r}, {display_path(self.path)}:{self.index}, style={self.style!r})"


def load_manifest(fonts_dir: str | Path | None = None) -> dict:
    """The parsed ``fonts.toml`` of a fonts folder (default: the shipped ``fonts/``)."""
    fonts_dir = Path(fonts_dir) if fonts_dir is not None else bundled_fonts_dir()
    path = fonts_dir / MANIFEST_NAME
    if not path.is_file():
        raise FontNotFoundError(f"font manifest not found: {path}; {REBUILD_FONTS_HINT}")
    try:
        with open(path, "rb") as handle:
            manifest = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise FontError(f"{path} is not valid TOML ({error}); {REBUILD_FONTS_HINT}") from None
    if not manifest.get("font"):
        raise FontError(f"{path} lists no [[font]] entries; {REBUILD_FONTS_HINT}")
    return manifest


def shipped_fonts(styles: list[str] | tuple[str, ...] | None = None, fonts_dir: str | Path | None = None) -> list[Font]:
    """The shipped fonts in manifest order (the glyph-table order), optionally only some styles."""
    fonts_dir = Path(fonts_dir) if fonts_dir is not None else bundled_fonts_dir()
    entries = load_manifest(fonts_dir)["font"]
    by_style = {entry["style"]: entry for entry in entries}
    if styles is not None:
        unknown = [s for s in styles if s not in by_style]
        if unknown:
            raise FontError(
                f"no shipped font with style {', '.join(map(repr, unknown))}: the shipped styles are "
                f"{', '.join(by_style)}; to use a font file, pass its path (FILE.ttc:FACE for a collection)"
            )
        entries = [by_style[s] for s in styles]
    fonts = []
    for entry in entries:
        path = fonts_dir / entry["file"]
        if not path.is_file():
            raise FontNotFoundError(f"shipped font missing: {path}; {REBUILD_FONTS_HINT}")
        fonts.append(Font(path, int(entry.get("face_index", 0)), name=entry.get("family"), style=entry["style"]))
    return fonts


def parse_font_spec(spec: str | Path | Font) -> Font:
    """``serif`` / ``kai`` / ``sans`` (shipped), ``path/to/font.ttf`` or ``path/to/font.ttc:2``."""
    if isinstance(spec, Font):
        return spec
    text = str(spec)
    if isinstance(spec, str) and "/" not in text and "\\" not in text and "." not in text and ":" not in text:
        return shipped_fonts([text])[0]
    path, sep, index = text.rpartition(":")
    if sep and path and index.isdigit():
        return Font(Path(path), int(index))
    return Font(Path(text))


def resolve_fonts(fonts=None) -> list[Font]:
    """A list of Font from None (the shipped fonts), Font objects, specs or paths."""
    if fonts is None:
        return shipped_fonts()
    if isinstance(fonts, (str, Path, Font)):
        fonts = [fonts]
    resolved = [parse_font_spec(f) for f in fonts]
    if not resolved:
        raise GlyphValueError("no fonts given; pass at least one font (or none for the shipped fonts)")
    return resolved
