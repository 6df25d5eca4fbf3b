"""Build the shipped font subsets (the top-level ``fonts/``) from open-licence source fonts.

Every character of the given vocabularies (single-character tokens and characters inside longer
tokens), printable ASCII and every character of the named Unicode ranges (``--ranges``) that the
source font has is kept; everything else is dropped. The shipped subsets keep the characters of the
bundled vocabulary and of the standard 21,128-entry Chinese BERT vocabulary (the one Google's and
HFL's Chinese checkpoints use), so that glyph tables for those checkpoints have no blank characters,
and the whole of CJK Unified Ideographs and Extension A (``--ranges cjk,ext-a``, the default), so
that characters outside those vocabularies can be drawn too. A rerun on the same inputs gives
byte-identical files:

* hinting is dropped (TrueType instructions and CFF hints), so 24 px renderings do not depend on a
  hinting engine; this choice is fixed, never a flag;
* OpenType layout features are dropped (glyph tables are rendered one character at a time);
* ``head.modified`` is kept from the source font instead of being set to the current time;
* the family names are replaced (the OFL reserves the original names for unmodified fonts).

Usage::

    chinese-ptm glyphs subset --vocab BUNDLED --vocab path/to/bert-base-chinese/vocab.txt --out DIR
    chinese-ptm glyphs subset --vocab my/vocab.txt --ranges none --serif /path/NotoSerifCJK-Regular.ttc:2 --out DIR

It writes the subsets, one ``<name>.OFL.txt`` licence beside each, and ``fonts.toml`` (sources,
vocabularies with their digests and coverage, ranges with what each source lacks of them). Source
fonts come from the Debian packages ``fonts-noto-cjk`` and ``fonts-lxgw-wenkai``
(``apt-get install fonts-noto-cjk fonts-lxgw-wenkai``).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fontTools import subset as ft_subset
from fontTools.ttLib import TTFont

from ..resources import vocab_dir
from ..text.normalize import is_cjk as is_cjk_char
from .fonts import MANIFEST_NAME, GlyphFileNotFoundError, GlyphValueError, open_ttfont, sha256_file
from .manifest import CodePoint, write_manifest
from .table import VOCAB_NAME, read_vocab, vocab_characters

#: ``--vocab BUNDLED`` stands for the bundled vocabulary
BUNDLED_VOCAB = "BUNDLED"
#: Printable ASCII, always kept so that the fonts can label contact sheets.
ASCII_PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))
#: Name-table entries copied from the source (copyright, version, designers, URLs, licence).
KEPT_NAME_IDS = (0, 5, 8, 9, 11, 12, 13, 14)
#: Name-table IDs rewritten with the subset's own names.
FAMILY_ID, SUBFAMILY_ID, UNIQUE_ID, FULL_NAME_ID, PS_NAME_ID, DESCRIPTION_ID = 1, 2, 3, 4, 6, 10
#: Windows / Unicode BMP / en-US: the one name-table record set the subsets keep.
WINDOWS_EN = (3, 1, 0x409)
MAC_ROMAN_EN = (1, 0, 0)
#: Tables of no use for single-glyph rendering.
DROPPED_TABLES = ("BASE", "GDEF", "GPOS", "GSUB", "JSTF", "DSIG", "vhea", "vmtx", "VORG", "gasp")


@dataclass(frozen=True)
class UnicodeRange:
    """A Unicode block that ``--ranges`` keeps whole (every character of it the source font has)."""

    name: str  # as given to --ranges and recorded in fonts.toml
    first: int
    last: int  # inclusive
    block: str  # the Unicode block's own name

    def codepoints(self) -> range:
        return range(self.first, self.last + 1)


#: The ranges ``--ranges`` knows, by name. Kept whole so that characters outside every vocabulary
#: (rare names, classical text) still get glyphs when a table is built for a larger vocabulary.
UNICODE_RANGES = {
    r.name: r
    for r in (
        UnicodeRange("cjk", 0x4E00, 0x9FFF, "CJK Unified Ideographs"),
        UnicodeRange("ext-a", 0x3400, 0x4DBF, "CJK Unified Ideographs Extension A"),
    )
}
#: What the shipped subsets keep beyond their vocabularies.
DEFAULT_RANGES = ("cjk", "ext-a")
#: ``--ranges none``: the vocabularies and ASCII only.
NO_RANGES = "none"

SUBSET_OPTIONS_TEXT = (
    "fontTools.subset.Options(hinting=False, layout_features=[], name_IDs=[*], name_languages=[0x409], "
    "glyph_names=False, notdef_outline=True, drop_tables+=" + ",".join(DROPPED_TABLES) + "); "
    "names rewritten; head.modified kept from the source"
)


@dataclass(frozen=True)
class SourceFont:
    """One shipped font: where it comes from and what the subset is called."""

    style: str  # serif / kai / sans
    out_name: str  # file name of the subset in fonts/
    family: str  # family name written into the subset
    package: str  # Debian package that provides the source font
    path: str  # source font file (Debian path)
    face_index: int  # face in a .ttc collection (0 for a plain .ttf/.otf)
    source_family: str  # family name expected in the source face
    description: str  # one line for the manifest


SOURCES = (
    SourceFont(
        style="serif",
        out_name="ptm-serif-sc.otf",
        family="PTM Serif SC",
        package="fonts-noto-cjk",
        path="/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
        face_index=2,
        source_family="Noto Serif CJK SC",
        description="Song/Ming-style serif",
    ),
    SourceFont(
        style="kai",
        out_name="ptm-kai.ttf",
        family="PTM Kai",
        package="fonts-lxgw-wenkai",
        path="/usr/share/fonts/truetype/lxgw-wenkai/LXGWWenKai-Regular.ttf",
        face_index=0,
        source_family="LXGW WenKai",
        description="Kai (regular script) with brush-written strokes",
    ),
    SourceFont(
        style="sans",
        out_name="ptm-sans-sc.otf",
        family="PTM Sans SC",
        package="fonts-noto-cjk",
        path="/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        face_index=2,
        source_family="Noto Sans CJK SC",
        description="Hei-style sans serif",
    ),
)


def dpkg_version(package: str) -> str:
    """The installed version of a Debian package, or '' when dpkg does not know it."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=False
        )
    except OSError:
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def owning_package(path: Path) -> str:
    """The Debian package that installed ``path``, or '' (a user-provided font)."""
    try:
        out = subprocess.run(["dpkg", "-S", str(path)], capture_output=True, text=True, check=False)
    except OSError:
        return ""
    if out.returncode != 0 or ":" not in out.stdout:
        return ""
    return out.stdout.split(":", 1)[0].strip()


def debian_licence_text(package: str) -> tuple[str, str]:
    """(copyright lines of ``Files: *``, OFL text) from a package's Debian copyright file."""
    copyright_path = Path("/usr/share/doc") / package / "copyright"
    if not copyright_path.is_file():
        return "", ""
    text = copyright_path.read_text(encoding="utf-8")
    # Copyright (and Comment) fields of the "Files: *" paragraph; continuation lines are indented.
    notice_lines: list[str] = []
    match = re.search(r"^Files: \*\n((?:.+\n?)+?)(?:\n|\Z)", text, flags=re.M)
    if match:
        field_name = ""
        for line in match.group(1).splitlines():
            if not line[:1].isspace() and ":" in line:
                field_name, _, line = line.partition(":")
            value = line.strip()
            if field_name == "Copyright" and value:
                notice_lines.append(f"Copyright {value}")
            elif field_name == "Comment" and value:
                notice_lines.append(value)
    notice = "\n".join(notice_lines)
    # The stand-alone licence paragraph for the OFL (named OFL-1.1 or SIL-1.1).
    ofl = ""
    match = re.search(r"^License: (?:OFL|SIL)[-\w.]*\n((?: .*\n?)+)", text, flags=re.M)
    if match:
        body = [line[1:] if line.startswith(" ") else line for line in match.group(1).splitlines()]
        ofl = "\n".join("" if line == "." else line for line in body).strip() + "\n"
    return notice, ofl


def licence_file_text(source: SourceFont, source_path: Path, package: str, version: str, source_font: TTFont) -> str:
    """The licence file written beside a subset: what it was made from, the notice, the OFL."""
    name_table = source_font["name"]
    original_notice = (name_table.getDebugName(0) or "").strip()
    licence_description = (name_table.getDebugName(13) or "").strip()
    deb_notice, ofl = debian_licence_text(package) if package else ("", "")
    parts = [
        f"{source.out_name}: a modified version (subset) of {source.source_family}",
        f"(source file {source_path.name}, face {source.face_index}"
        + (f", Debian package {package} {version}" if package else "")
        + ").",
        f'It is renamed "{source.family}": the original names are reserved by their holders.',
        "",
        "Copyright notice of the original font:",
        original_notice,
    ]
    if deb_notice:
        parts += ["", "As recorded by the Debian package:", deb_notice]
    parts += ["", "Licence of the original font:", licence_description, ""]
    if ofl:
        parts += [ofl]
    else:
        parts += ["SIL Open Font License, Version 1.1: https://openfontlicense.org\n"]
    return "\n".join(parts)


@dataclass(frozen=True)
class VocabChars:
    """The characters one vocabulary needs from the fonts."""

    label: str  # as shown in the manifest (bundled: ``vocab/vocab.txt``)
    sha256: str  # of the vocab file's bytes
    tokens: int
    chars: frozenset[str]


def read_vocab_chars(spec: str | Path) -> VocabChars:
    """``BUNDLED``, ``PATH`` or ``NAME=PATH`` (a ``vocab.txt``) -> the characters of its tokens."""
    label, _, given = str(spec).rpartition("=")
    bundled = given == BUNDLED_VOCAB
    path = vocab_dir() / VOCAB_NAME if bundled else Path(given)
    if not path.is_file():
        raise FileNotFoundError(f"--vocab {spec}: no such vocabulary file (give a vocab.txt, or {BUNDLED_VOCAB})")
    tokens = read_vocab(path)
    label = label or ("the bundled vocabulary" if bundled else str(path))
    return VocabChars(label, sha256_file(path), len(tokens), frozenset(vocab_characters(tokens)))


def parse_ranges(spec: str | list[str] | tuple[str, ...]) -> tuple[UnicodeRange, ...]:
    """``cjk,ext-a`` (or a list of names; ``none`` or empty: no range) -> the named ranges."""
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [name.strip() for name in names if name.strip() and name.strip() != NO_RANGES]
    unknown = [name for name in names if name not in UNICODE_RANGES]
    if unknown:
        raise GlyphValueError(
            f"--ranges: unknown range {unknown[0]!r}; the known ranges are {', '.join(UNICODE_RANGES)} "
            f"(comma-separated, or {NO_RANGES})"
        )
    return tuple(UNICODE_RANGES[name] for name in dict.fromkeys(names))


def subset_codepoints(vocabs: list[VocabChars], ranges: tuple[UnicodeRange, ...] = ()) -> list[int]:
    """Every character asked for: the vocabularies' characters, printable ASCII and the ranges' code points
    (a range character the source lacks is simply not kept; a vocabulary character it lacks is reported)."""
    chars = set(ASCII_PRINTABLE).union(*(v.chars for v in vocabs))
    return sorted({ord(c) for c in chars}.union(*(r.codepoints() for r in ranges)))


def rename(font: TTFont, source: SourceFont, source_path: Path) -> None:
    """Replace the family names (name table and CFF) with the subset's own."""
    name_table = font["name"]
    kept = {}
    for name_id in KEPT_NAME_IDS:
        value = name_table.getDebugName(name_id)
        if value:
            kept[name_id] = value
    ps_name = source.family.replace(" ", "") + "-Regular"
    version = (kept.get(5) or "").replace("Version ", "").split(";")[0]
    new_names = {
        **kept,
        FAMILY_ID: source.family,
        SUBFAMILY_ID: "Regular",
        UNIQUE_ID: f"{version};{ps_name};chinese_ptm subset",
        FULL_NAME_ID: f"{source.family} Regular",
        PS_NAME_ID: ps_name,
        DESCRIPTION_ID: (
            f"Subset of {source.source_family} ({source_path.name}, face {source.face_index}) "
            "made by `chinese-ptm glyphs subset` for glyph tables; hinting and layout removed."
        ),
    }
    name_table.names = []
    for name_id, value in sorted(new_names.items()):
        name_table.setName(value, name_id, *WINDOWS_EN)
        if name_id in (FAMILY_ID, SUBFAMILY_ID, FULL_NAME_ID, PS_NAME_ID):
            name_table.setName(value, name_id, *MAC_ROMAN_EN)
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [ps_name]
        top = cff.topDictIndex[0]
        top.FullName = f"{source.family} Regular"
        top.FamilyName = source.family
        if hasattr(top, "FDArray"):
            for index, fd in enumerate(top.FDArray):
                if hasattr(fd, "FontName"):
                    fd.FontName = f"{ps_name}-{index}"


def _subset_options() -> ft_subset.Options:
    """The fixed fontTools options (SUBSET_OPTIONS_TEXT): no hints, no layout, plain names."""
    options = ft_subset.Options()
    options.hinting = False
    options.layout_features = []
    options.name_IDs = ["*"]
    options.name_languages = [WINDOWS_EN[2]]
    options.glyph_names = False
    options.notdef_outline = True
    options.drop_tables = list(options.drop_tables) + [t for t in DROPPED_TABLES if t not in options.drop_tables]
    return options


def _open_source(source: SourceFont, source_path: Path, face_index: int) -> tuple[SourceFont, TTFont]:
    """The source face, and ``source`` with the face and family it really has."""
    source = SourceFont(**{**source.__dict__, "face_index": face_index})
    font = open_ttfont(source_path, face_index, lazy=False)
    family = font["name"].getDebugName(1) or ""
    if source.source_family and family != source.source_family:
        print(f"  note: {source_path}:{face_index} is {family!r}, expected {source.source_family!r}")
        source = SourceFont(**{**source.__dict__, "source_family": family})
    return source, font


def build_subset(
    source: SourceFont,
    source_path: Path,
    face_index: int,
    codepoints: list[int],
    out_dir: Path,
    ranges: tuple[UnicodeRange, ...] = (),
) -> dict:
    """Subset one font to ``codepoints`` (reported when the source lacks one) plus whatever the source has
    of ``ranges``; returns its manifest entry, with ``range_lacks`` (range name -> characters lacking)."""
    source, font = _open_source(source, source_path, face_index)
    cmap = font.getBestCmap()
    missing = [cp for cp in codepoints if cp not in cmap]
    range_lacks = {r.name: sum(cp not in cmap for cp in r.codepoints()) for r in ranges}
    kept = set(codepoints).union(*(r.codepoints() for r in ranges)).intersection(cmap)
    subsetter = ft_subset.Subsetter(options=_subset_options())
    subsetter.populate(unicodes=sorted(kept))
    subsetter.subset(font)
    package = owning_package(source_path)
    version = dpkg_version(package) if package else ""
    licence_text = licence_file_text(source, source_path, package, version, open_ttfont(source_path, face_index))
    rename(font, source, source_path)
    font.recalcTimestamp = False  # keep head.modified: reruns are byte-identical
    out_path = out_dir / source.out_name
    font.save(out_path)
    licence_path = out_path.with_name(Path(source.out_name).stem + ".OFL.txt")
    licence_path.write_text(licence_text, encoding="utf-8")
    entry = _font_entry(source, source_path, out_path, len(font.getGlyphOrder()), licence_path.name, package, version)
    return {**entry, "missing": "".join(chr(cp) for cp in missing), "range_lacks": range_lacks}


def _font_entry(
    source: SourceFont, source_path: Path, out_path: Path, glyphs: int, licence: str, package: str, version: str
) -> dict:
    """The [[font]] fields of fonts.toml, in their order (``missing`` follows)."""
    return {
        "style": source.style,
        "file": source.out_name,
        "family": source.family,
        "face_index": 0,
        "sha256": sha256_file(out_path),
        "bytes": out_path.stat().st_size,
        "glyphs": glyphs,
        "licence": licence,
        "description": source.description,
        "source_family": source.source_family,
        "source_package": package,
        "source_version": version,
        "source_file": str(source_path),
        "source_face_index": source.face_index,
        "source_sha256": sha256_file(source_path),
    }


def _vocabulary_fields(entries: list[dict], vocab: VocabChars) -> dict:
    missing = sorted({c for entry in entries for c in entry["missing"] if c in vocab.chars})
    return {
        "name": vocab.label,
        "sha256": vocab.sha256,
        "tokens": vocab.tokens,
        "characters": len(vocab.chars),
        "cjk_characters": sum(is_cjk_char(c) for c in vocab.chars),
        "missing_in_some_font": "".join(missing),
    }


def _range_fields(entries: list[dict], r: UnicodeRange) -> dict:
    """A range's bounds and, per font style, how many of its characters the source lacks (the subset
    has all the others)."""
    return {
        "name": r.name,
        "block": r.block,
        "first": CodePoint(r.first),
        "last": CodePoint(r.last),
        "characters": len(r.codepoints()),
        "source_lacks": {entry["style"]: entry["range_lacks"][r.name] for entry in entries},
    }


def write_fonts_toml(
    path: Path,
    entries: list[dict],
    vocabs: list[VocabChars],
    n_codepoints: int,
    command: str,
    ranges: tuple[UnicodeRange, ...] = (),
) -> None:
    """Write fonts.toml: how the subsets were cut, the vocabularies and ranges they cover, the fonts."""
    subset = {
        "command": command,
        "options": SUBSET_OPTIONS_TEXT,
        "codepoints": n_codepoints,
        "ranges": [r.name for r in ranges],
        "hinting": False,
    }
    tables = [("subset.vocabulary", _vocabulary_fields(entries, v)) for v in vocabs]
    tables += [("subset.range", _range_fields(entries, r)) for r in ranges]
    tables += [("font", {k: v for k, v in entry.items() if k != "range_lacks"}) for entry in entries]
    write_manifest(path, subset, tables)


def _parse_source(spec: str | None, default: SourceFont) -> tuple[Path, int]:
    if spec is None:
        return Path(default.path), default.face_index
    path, _, index = spec.rpartition(":")
    if path and index.isdigit():
        return Path(path), int(index)
    return Path(spec), 0


def _command_line(vocab_specs: list[str], ranges: tuple[UnicodeRange, ...]) -> str:
    """The command as recorded in fonts.toml: vocabulary paths (machine-specific) become VOCAB_TXT."""
    shown = [f"--vocab {v if '=' not in v else v.split('=')[0] + '=VOCAB_TXT'}" for v in vocab_specs]
    shown.append(f"--ranges {','.join(r.name for r in ranges) or NO_RANGES}")
    return "chinese-ptm glyphs subset " + " ".join(shown) + " --out OUT"


def build_subsets(
    vocab_specs: list[str],
    out: Path,
    sources: dict[str, str | None] | None = None,
    ranges: str | list[str] | tuple[str, ...] = DEFAULT_RANGES,
) -> dict:
    """Cut the three subsets for the vocabularies ``vocab_specs`` (PATH, NAME=PATH or BUNDLED) and the
    Unicode ``ranges`` (names of UNICODE_RANGES, e.g. ``"cjk,ext-a"``; ``"none"``) into ``out``.

    ``sources`` maps a style (serif, kai, sans) to its source font as ``PATH[:FACE]`` (default: the Debian
    packages' files). Returns {"fonts": [manifest entries], "manifest": path}.
    """
    out = Path(out)
    unicode_ranges = parse_ranges(ranges)  # before any slow work: a bad name fails at once
    vocabs = [read_vocab_chars(spec) for spec in vocab_specs]
    required = subset_codepoints(vocabs)
    n_codepoints = len(subset_codepoints(vocabs, unicode_ranges))
    for vocab in vocabs:
        print(f"{vocab.label}: {vocab.tokens} tokens, {len(vocab.chars)} characters")
    for r in unicode_ranges:
        print(f"range {r.name}: {r.block}, U+{r.first:04X}..U+{r.last:04X} ({len(r.codepoints())} code points)")
    print(f"{n_codepoints} characters asked for ({len(required)} from the vocabularies and printable ASCII)")
    out.mkdir(parents=True, exist_ok=True)
    entries = [
        _subset_one(source, (sources or {}).get(source.style), out, required, unicode_ranges) for source in SOURCES
    ]
    manifest_path = out / MANIFEST_NAME
    command = _command_line(vocab_specs, unicode_ranges)
    write_fonts_toml(manifest_path, entries, vocabs, n_codepoints, command, unicode_ranges)
    total = sum(entry["bytes"] for entry in entries)
    print(f"wrote {manifest_path}; fonts total {total / 1e6:.2f} MB")
    return {"fonts": entries, "manifest": manifest_path}


def _subset_one(
    source: SourceFont, spec: str | None, out: Path, codepoints: list[int], ranges: tuple[UnicodeRange, ...]
) -> dict:
    path, face = _parse_source(spec, source)
    if not path.is_file():
        raise GlyphFileNotFoundError(
            f"source font not found: {path} (install it: apt-get install {source.package}, "
            f"or pass --{source.style} PATH[:FACE])"
        )
    print(f"{source.style}: {path} face {face} -> {out / source.out_name}")
    entry = build_subset(source, path, face, codepoints, out, ranges)
    missing = entry["missing"]
    lacks = "".join(f"; {name}: {n} characters not in the source" for name, n in entry["range_lacks"].items())
    print(
        f"  {entry['glyphs']} glyphs, {entry['bytes'] / 1e6:.2f} MB, sha256 {entry['sha256'][:12]}; "
        f"{len(missing)} vocabulary/ASCII characters missing from the source"
        + (f": {missing}" if missing else "")
        + lacks
    )
    return entry
