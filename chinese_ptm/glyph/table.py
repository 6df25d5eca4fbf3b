"""Glyph tables: (V, F, S, S) uint8 renderings of every single-character vocab token in F fonts.

Also the vocabulary reader shared by the glyph code, the coverage report, the prebuilt table
store (``vocab/glyphs.npz`` + ``vocab/glyphs.json``) and the original ChineseBERT font arrays.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import PIL
from PIL import features
from tqdm.auto import tqdm

from chinese_ptm.resources import vocab_dir
from chinese_ptm.text.normalize import is_cjk
from chinese_ptm.text.vocab import VOCAB_FILE as VOCAB_NAME
from chinese_ptm.text.vocab import VocabError  # noqa: F401 - re-exported as chinese_ptm.glyph.VocabError
from chinese_ptm.text.vocab import read_vocab_tokens as read_vocab

from .fonts import (
    Font,
    GlyphFileNotFoundError,
    GlyphValueError,
    display_path,
    resolve_fonts,
)
from .render import (
    DEFAULT_SIZE,
    FONT_SCALE,
    check_size,
    font_pixel_size,
    render_covered,
)

#: File names of the prebuilt table and its header inside a vocab folder.
TABLE_NAME = "glyphs.npz"
HEADER_SUFFIX = ".json"
#: Identifies our header files; bump TABLE_FORMAT_VERSION when the stored layout changes.
TABLE_FORMAT = "chinese_ptm glyph table"
TABLE_FORMAT_VERSION = 1
#: How to regenerate a stale table (quoted in error messages).
REBUILD_HINT = "rebuild with `chinese-ptm glyphs build`"
#: Zip entry time of stored tables: fixed, so that rebuilding gives the same file bytes.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
#: Progress-bar updates every this many glyphs (updating per glyph costs more than rendering).
PROGRESS_CHUNK = 512
#: The original ChineseBERT stores each font as ``config/<font file name>24.npy``.
ORIGINAL_ARRAY_GLOB = "*.npy"
#: macOS resource-fork files that shadow real ones in archives made on a Mac.
RESOURCE_FORK_PREFIX = "._"


class GlyphTableError(GlyphValueError):
    """A stored glyph table that does not fit (other vocabulary, bad header, bad shapes)."""


class GlyphTableNotFoundError(GlyphFileNotFoundError):
    """No stored glyph table where one was expected."""


# --------------------------------------------------------------------------------------------------
# vocabulary


def vocab_digest(tokens: list[str]) -> str:
    """sha256 of the token list (independent of line endings), as stored in table headers."""
    return hashlib.sha256(("\n".join(tokens) + "\n").encode("utf-8")).hexdigest()


def glyph_char(token: str) -> str | None:
    """The character a token is drawn as: single-character tokens only ([CLS], ##x, 'ab' get none)."""
    return token if len(token) == 1 else None


def glyph_parts(token: str) -> str:
    """The characters whose bitmaps make a token's glyph: the character of a one-character token, each character
    of a word of a word vocabulary (its glyph is their mean), else none ([CLS], ##x, 'ab')."""
    return token if len(token) == 1 or (len(token) > 1 and all(map(is_cjk, token))) else ""


def vocab_characters(tokens: list[str]) -> list[str]:
    """Every distinct character in the vocabulary (single-character tokens and characters inside
    longer tokens, without the ``##`` continuation prefix), sorted by code point."""
    chars: set[str] = set()
    for token in tokens:
        chars.update(token[2:] if token.startswith("##") and len(token) > 2 else token)
    return sorted(chars)


# --------------------------------------------------------------------------------------------------
# coverage report


def _short(chars: list[str], limit: int) -> str:
    text = "".join(chars[:limit])
    return text + (f" ... (+{len(chars) - limit})" if len(chars) > limit else "")


@dataclass
class FontCoverage:
    """What one font drew for a vocabulary."""

    name: str
    style: str | None
    file: str
    rendered: int = 0
    missing: list[str] = field(default_factory=list)  # no glyph in the font: zeros in the table
    blank: list[str] = field(default_factory=list)  # a glyph without ink (spaces): zeros
    clipped: list[str] = field(default_factory=list)  # ink larger than the bitmap: centre kept


@dataclass
class CoverageReport:
    """Per-font coverage of the single-character tokens of a vocabulary."""

    size: int
    n_tokens: int
    n_chars: int
    fonts: list[FontCoverage]

    @property
    def complete(self) -> bool:
        """True when every font has a glyph for every single-character token."""
        return all(not font.missing for font in self.fonts)

    def missing(self, font: str | int) -> list[str]:
        """The characters missing from a font (by name or position)."""
        if isinstance(font, int):
            return self.fonts[font].missing
        for entry in self.fonts:
            if entry.name == font:
                return entry.missing
        raise KeyError(f"no font named {font!r} in this report; it has {[f.name for f in self.fonts]}")

    def summary(self, limit: int = 80) -> str:
        """A few human-readable lines."""
        lines = [f"{self.n_tokens} tokens, {self.n_chars} single-character tokens, {self.size}x{self.size} bitmaps"]
        for font in self.fonts:
            cjk_missing = sum(is_cjk(c) for c in font.missing)
            lines.append(
                f"  {font.name} ({font.style or font.file}): {font.rendered} drawn, {len(font.missing)} missing"
                + (f" ({cjk_missing} Chinese characters): {_short(font.missing, limit)}" if font.missing else "")
            )
            if font.blank:
                lines.append(f"    {len(font.blank)} without ink: {[c for c in font.blank[:limit]]}")
            if font.clipped:
                lines.append(f"    {len(font.clipped)} clipped to the bitmap: {_short(font.clipped, limit)}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """A JSON-ready dict (character lists joined into strings)."""
        out = asdict(self)
        for font in out["fonts"]:
            for key in ("missing", "blank", "clipped"):
                font[key] = "".join(font[key])
        return out


# --------------------------------------------------------------------------------------------------
# building


def build_glyph_table(
    vocab: str | Path | list[str],
    fonts=None,
    size: int = DEFAULT_SIZE,
    progress: bool = True,
    *,
    font_size: int | None = None,
) -> tuple[np.ndarray, CoverageReport]:
    """Render every single-character token of ``vocab`` in every font (a word of a word vocabulary: the mean of
    its characters' bitmaps).

    Returns ``(table, report)``: table is (V, F, size, size) uint8 (0 = no ink, 255 = full ink) with
    zeros for special tokens, ``##`` pieces, other multi-character tokens and characters a font lacks;
    report lists per font what is missing. ``fonts``: None (the shipped fonts), or Font objects,
    paths (``path.ttc:2``) or shipped style names. Deterministic: same fonts and vocab, same bytes.
    """
    tokens = read_vocab(vocab)
    fonts = resolve_fonts(fonts)
    size = check_size(size)
    pixel_size = font_pixel_size(size) if font_size is None else check_size(font_size)
    char_ids = [(i, c) for i, t in enumerate(tokens) if (c := glyph_char(t)) is not None]
    words = [(i, parts) for i, t in enumerate(tokens) if len(parts := glyph_parts(t)) > 1]
    drawn = list(dict.fromkeys([c for _, c in char_ids] + [c for _, parts in words for c in parts]))  # vocab order
    table = np.zeros((len(tokens), len(fonts), size, size), dtype=np.uint8)  # (V, F, S, S)
    report = CoverageReport(size=size, n_tokens=len(tokens), n_chars=len(char_ids), fonts=[])
    with tqdm(total=len(fonts) * len(drawn), disable=not progress, unit="glyph", leave=False) as bar:
        for f, font in enumerate(fonts):
            bar.set_description(f"glyphs {font.name}")
            coverage = FontCoverage(name=font.name, style=font.style, file=display_path(font.path))
            bitmaps = _draw(drawn, font, size, pixel_size, coverage, bar)  # char -> (S, S)
            for token_id, char in char_ids:
                if char in bitmaps:
                    table[token_id, f] = bitmaps[char]
            blank = np.zeros((size, size), dtype=np.uint8)
            for token_id, parts in words:  # a word's glyph: the mean of its characters' bitmaps
                stack = np.stack([bitmaps.get(c, blank) for c in parts]).astype(np.float32)
                table[token_id, f] = np.rint(stack.mean(axis=0)).astype(np.uint8)
            report.fonts.append(coverage)
    return table, report


def _draw(chars: list[str], font, size: int, pixel_size: int, coverage: "FontCoverage", bar) -> dict:
    """Each of ``chars`` the font covers, rendered; what it lacks, clips or draws blank goes to ``coverage``."""
    bitmaps = {}
    for n, char in enumerate(chars, start=1):
        if not font.covers(char):
            coverage.missing.append(char)
        else:
            bitmap, clipped = render_covered(char, font, size, pixel_size)
            bitmaps[char] = bitmap
            coverage.rendered += 1
            if clipped:
                coverage.clipped.append(char)
            if not bitmap.any():
                coverage.blank.append(char)
        if n % PROGRESS_CHUNK == 0:
            bar.update(PROGRESS_CHUNK)
    bar.update(len(chars) % PROGRESS_CHUNK)
    return bitmaps


def coverage_report(vocab: str | Path | list[str], fonts=None, size: int = DEFAULT_SIZE) -> CoverageReport:
    """Which single-character tokens each font lacks, from the cmaps alone (nothing is rendered)."""
    tokens = read_vocab(vocab)
    fonts = resolve_fonts(fonts)
    chars = [c for t in tokens if (c := glyph_char(t)) is not None]
    report = CoverageReport(size=check_size(size), n_tokens=len(tokens), n_chars=len(chars), fonts=[])
    for font in fonts:
        missing = font.missing(chars)
        report.fonts.append(
            FontCoverage(font.name, font.style, display_path(font.path), len(chars) - len(missing), missing)
        )
    return report


# --------------------------------------------------------------------------------------------------
# storing and loading prebuilt tables


def table_digest(table: np.ndarray) -> str:
    """sha256 of a table's bytes (C order), recorded in the header."""
    return hashlib.sha256(np.ascontiguousarray(table).tobytes()).hexdigest()


def header_path(table_path: str | Path) -> Path:
    """``glyphs.npz`` -> ``glyphs.json`` (the header beside a table)."""
    return Path(table_path).with_suffix(HEADER_SUFFIX)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """A deflate-compressed .npz (readable by np.load) whose bytes depend only on the arrays.

    np.savez_compressed stamps each entry with the current time; here every entry gets
    ZIP_DATE_TIME. The file is written beside ``path`` and moved into place.
    """
    partial = path.with_name(path.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            entry = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(entry, "w", force_zip64=True) as handle:
                np.lib.format.write_array(handle, np.ascontiguousarray(array), allow_pickle=False)
    os.replace(partial, path)


def save_glyph_table(
    table: np.ndarray,
    vocab: str | Path | list[str],
    fonts: list[Font],
    path: str | Path,
    report: CoverageReport | None = None,
) -> dict:
    """Store a table compactly: the rows that have ink (ids + bitmaps, full 8-bit grayscale,
    deflate-compressed ``.npz``) and a JSON header (fonts + sha256, size, vocab sha256, coverage).

    Returns the header. The vocab file name is recorded when ``vocab`` is a path.
    """
    tokens = read_vocab(vocab)
    if table.ndim != 4 or table.shape[0] != len(tokens) or table.shape[1] != len(fonts) or table.dtype != np.uint8:
        raise GlyphTableError(
            f"table of shape {table.shape} ({table.dtype}) does not fit {len(tokens)} tokens x {len(fonts)} fonts "
            "of uint8 bitmaps"
        )
    path = Path(path)
    if path.suffix != ".npz":
        raise GlyphValueError(f"glyph tables are stored as .npz files, got {path}; use e.g. vocab/{TABLE_NAME}")
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = np.flatnonzero(table.reshape(len(tokens), -1).any(axis=1)).astype(np.int32)  # (N,) rows with ink
    write_npz(path, {"ids": ids, "glyphs": table[ids]})  # glyphs: (N, F, S, S)
    vocab_file = ""  # relative to the table's folder, so that both can move together
    if not isinstance(vocab, (list, tuple)):
        vocab_path = Path(vocab) / VOCAB_NAME if Path(vocab).is_dir() else Path(vocab)
        vocab_file = Path(os.path.relpath(vocab_path.resolve(), path.parent.resolve())).as_posix()
    header = {
        "format": TABLE_FORMAT,
        "format_version": TABLE_FORMAT_VERSION,
        "shape": list(table.shape),
        "dtype": "uint8",
        "values": "grayscale ink coverage 0..255 (full 8 bits, not quantised)",
        "size": int(table.shape[2]),
        "font_px": font_pixel_size(int(table.shape[2])),
        "font_scale": FONT_SCALE,
        "placement": "centred on the ink box; ink larger than the bitmap keeps its centre",
        "storage": "npz (deflate): ids int32 (N,) = token ids with ink, glyphs uint8 (N, F, S, S); other rows are 0",
        "vocab": {"file": vocab_file, "tokens": len(tokens), "sha256": vocab_digest(tokens)},
        "fonts": [font.describe() for font in fonts],
        "renderer": {
            "pillow": PIL.__version__,
            "freetype": features.version("freetype2"),
            "layout": "basic",
        },
        "table_sha256": table_digest(table),
        "coverage": report.to_dict() if report is not None else None,
    }
    header_path(path).write_text(json.dumps(header, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return header


def _table_paths(path_or_vocab_dir: str | Path | None) -> tuple[Path, Path]:
    target = Path(path_or_vocab_dir) if path_or_vocab_dir is not None else vocab_dir()
    table_path = target / TABLE_NAME if target.is_dir() or target.suffix == "" else target
    if not table_path.is_file():
        raise GlyphTableNotFoundError(
            f"no glyph table at {table_path}; build one with `chinese-ptm glyphs build --out {table_path}`"
        )
    head = header_path(table_path)
    if not head.is_file():
        raise GlyphTableNotFoundError(f"glyph table header {head} is missing; {REBUILD_HINT}")
    return table_path, head


def read_glyph_header(path_or_vocab_dir: str | Path | None = None) -> dict:
    """The JSON header of a stored table (a table path or a vocab folder; default: vocab/)."""
    _, head = _table_paths(path_or_vocab_dir)
    try:
        header = json.loads(head.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise GlyphTableError(f"{head} is not a valid header ({error}); {REBUILD_HINT}") from None
    if header.get("format") != TABLE_FORMAT or header.get("format_version") != TABLE_FORMAT_VERSION:
        raise GlyphTableError(f"{head} is not a version-{TABLE_FORMAT_VERSION} glyph table header; {REBUILD_HINT}")
    return header


def table_for_vocab(vocab_folder: str | Path) -> Path:
    """The glyph table of the vocabulary in ``vocab_folder``: the one stored beside it; else the bundled table when
    it was built for the same vocabulary (a checkpoint saved without glyphs, such as a BERT's, that kept the
    bundled vocabulary: what the upgrade path to GlyceBERT starts from)."""
    folder = Path(vocab_folder)
    if (folder / TABLE_NAME).is_file():
        return folder / TABLE_NAME
    vocab_file = folder / VOCAB_NAME
    if vocab_file.is_file() and read_glyph_header()["vocab"]["sha256"] == vocab_digest(read_vocab(vocab_file)):
        return vocab_dir() / TABLE_NAME
    raise GlyphTableNotFoundError(
        f"no glyph table beside the vocabulary {folder}, and it is not the bundled vocabulary; build one with "
        f"`chinese-ptm glyphs build --vocab {vocab_file} --out {folder / TABLE_NAME}` or set model.glyph_table"
    )


def table_vocab_path(path_or_vocab_dir: str | Path | None = None) -> Path | None:
    """The vocab file a stored table was built for (from its header), or None if it is not there."""
    table_path, _ = _table_paths(path_or_vocab_dir)
    name = read_glyph_header(table_path)["vocab"].get("file")
    candidate = table_path.parent / name if name else None
    return candidate if candidate is not None and candidate.is_file() else None


def load_glyph_table(
    path_or_vocab_dir: str | Path | None = None,
    vocab: str | Path | list[str] | None = None,
    *,
    check_vocab: bool = True,
) -> np.ndarray:
    """Load a stored table as (V, F, S, S) uint8 (default: the prebuilt table of vocab/).

    The vocabulary is checked against the header: ``vocab`` when given, else the vocab file named
    in the header (when present). A mismatch raises GlyphTableError telling how to rebuild.
    """
    table_path, _ = _table_paths(path_or_vocab_dir)
    header = read_glyph_header(table_path)
    if check_vocab:
        if vocab is None:
            vocab = table_vocab_path(table_path)
        if vocab is not None:
            tokens = read_vocab(vocab)
            if vocab_digest(tokens) != header["vocab"]["sha256"]:
                given_list = isinstance(vocab, (list, tuple))
                shown = "the given token list" if given_list else str(vocab)
                raise GlyphTableError(
                    f"{table_path} was built for another vocabulary ({header['vocab']['tokens']} tokens) than "
                    f"{shown} ({len(tokens)} tokens); the vocabulary changed: {REBUILD_HINT} "
                    f"--vocab {'VOCAB' if given_list else shown} --out {table_path}"
                )
    shape = tuple(header["shape"])  # (V, F, S, S)
    try:
        with np.load(table_path) as stored:
            ids, glyphs = stored["ids"], stored["glyphs"]
    except (OSError, ValueError, KeyError) as error:
        raise GlyphTableError(f"cannot read {table_path} ({error}); {REBUILD_HINT}") from None
    if glyphs.shape[1:] != shape[1:] or len(ids) != len(glyphs) or (len(ids) and ids.max() >= shape[0]):
        raise GlyphTableError(f"{table_path} does not match its header (shape {shape}); {REBUILD_HINT}")
    table = np.zeros(shape, dtype=np.uint8)
    table[ids] = glyphs
    return table


# --------------------------------------------------------------------------------------------------
# the original ChineseBERT font arrays


def original_array_paths(config_dir: str | Path) -> list[Path]:
    """The font arrays of a ChineseBERT ``config/`` folder, sorted by name, ``._*`` files skipped."""
    config_dir = Path(config_dir)
    if not config_dir.is_dir():
        raise GlyphFileNotFoundError(
            f"ChineseBERT config folder not found: {config_dir} (pass the checkpoint's config/)"
        )
    paths = sorted(
        p for p in config_dir.glob(ORIGINAL_ARRAY_GLOB) if p.is_file() and not p.name.startswith(RESOURCE_FORK_PREFIX)
    )
    if not paths:
        raise GlyphFileNotFoundError(
            f"no font arrays (*.npy) in {config_dir}; a ChineseBERT config/ holds one per font"
        )
    return paths


def load_original_font_arrays(config_dir: str | Path, dtype=None, *, return_names: bool = False):
    """The original ChineseBERT glyph arrays stacked as (V, F, 24, 24).

    Each ``config/*.npy`` holds one font as (V, 24, 24) float64 (values 0..255); files are taken in
    sorted name order (the original's order), macOS ``._*`` files are ignored. ``dtype`` converts
    (e.g. ``np.uint8``); by default the stored dtype is kept. ``return_names`` also returns the file
    names in table order.
    """
    paths = original_array_paths(config_dir)
    arrays = []
    for path in paths:
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise GlyphTableError(
                f"cannot read font array {path} ({error}); it must be a .npy of shape (V, 24, 24)"
            ) from None
        if array.ndim != 3 or array.shape[1] != array.shape[2]:
            raise GlyphTableError(f"font array {path} has shape {array.shape}; expected (V, S, S) e.g. (V, 24, 24)")
        arrays.append(array)
    shapes = {p.name: a.shape for p, a in zip(paths, arrays)}
    if len(set(shapes.values())) > 1:
        raise GlyphTableError(
            f"font arrays in {config_dir} differ in shape: {shapes}; every font needs one (V, 24, 24) bitmap per token"
        )
    table = np.stack(arrays, axis=1)  # F x (V, S, S) -> (V, F, S, S)
    if dtype is not None:
        table = table.astype(dtype)
    return (table, [p.name for p in paths]) if return_names else table


def save_original_font_arrays(table: np.ndarray, config_dir: str | Path, names: list[str]) -> list[Path]:
    """Write a (V, F, S, S) table as the original's per-font float64 (V, S, S) ``.npy`` files.

    ``names`` gives one file name per font; their sorted order must be the table order, because
    the original reads the files sorted.
    """
    if table.ndim != 4 or len(names) != table.shape[1]:
        raise GlyphValueError(f"need one name per font: table {table.shape}, names {names}")
    if list(names) != sorted(names):
        raise GlyphValueError(f"names {names} are not in sorted order; the original loads font arrays sorted by name")
    config_dir = Path(config_dir)
    config_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for f, name in enumerate(names):
        path = config_dir / (name if name.endswith(".npy") else name + ".npy")
        np.save(path, table[:, f].astype(np.float64))  # (V, S, S) float64 like the original
        paths.append(path)
    return paths
