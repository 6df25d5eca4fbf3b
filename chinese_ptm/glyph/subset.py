"""Build the shipped font subsets (the top-level ``fonts/``) from open-licence source fonts.

Every character of the given vocabularies (single-character tokens and characters inside longer
tokens) plus printable ASCII is kept; everything else is dropped. The shipped subsets keep the
characters of the bundled vocabulary and of the standard 21,128-entry Chinese BERT vocabulary (the
one Google's and HFL's Chinese checkpoints use), so that glyph tables for those checkpoints have no
blank characters. A rerun on the same inputs gives byte-identical files:

* hinting is dropped (TrueType instructions and CFF hints), so 24 px renderings do not depend on a
  hinting engine; this choice is fixed, never a flag;
* OpenType layout features are dropped (glyph tables are rendered one character at a time);
* ``head.modified`` is kept from the source font instead of being set to the current time;
* the family names are replaced (the OFL reserves the original names for unmodified fonts).

Usage::

    chinese-ptm glyphs subset --vocab BUNDLED --vocab path/to/bert-base-chinese/vocab.txt --out DIR
    chinese-ptm glyphs subset --vocab my/vocab.txt --serif /path/NotoSerifCJK-Regular.ttc:2 --out DIR

It writes the subsets, one ``<name>.OFL.txt`` licence beside each, and ``fonts.toml`` (sources,
vocabularies with their digests and coverage). Source fonts come from the Debian packages
``fonts-noto-cjk`` and ``fonts-lxgw-wenkai`` (``apt-get install fonts-noto-cjk fonts-lxgw-wenkai``).
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
from .fonts import MANIFEST_NAME, GlyphFileNotFoundError, open_ttfont, sha256_file
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


def subset_codepoints(vocabs: list[VocabChars]) -> list[int]:
    """Every character the fonts must keep: the vocabularies' characters plus printable ASCII."""
    chars = set(ASCII_PRINTABLE).union(*(v.chars for v in vocabs))
    return sorted(ord(c) for c in chars)


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


def build_subset(source: SourceFont, source_path: Path, face_index: int, codepoints: list[int], out_dir: Path) -> dict:
    """Subset one font; returns its manifest entry."""
    source = SourceFont(**{**source.__dict__, "face_index": face_index})
    font = open_ttfont(source_path, face_index, lazy=False)
    family = font["name"].getDebugName(1) or ""
    if source.source_family and family != source.source_family:
        print(f"  note: {source_path}:{face_index} is {family!r}, expected {source.source_family!r}")
        source = SourceFont(**{**source.__dict__, "source_family": family})
    cmap = font.getBestCmap()
    missing = [cp for cp in codepoints if cp not in cmap]
    options = ft_subset.Options()
    options.hinting = False
    options.layout_features = []
    options.name_IDs = ["*"]
    options.name_languages = [WINDOWS_EN[2]]
    options.glyph_names = False
    options.notdef_outline = True
    options.drop_tables = list(options.drop_tables) + [t for t in DROPPED_TABLES if t not in options.drop_tables]
    subsetter = ft_subset.Subsetter(options=options)
    subsetter.populate(unicodes=[cp for cp in codepoints if cp in cmap])
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
    return {
        "style": source.style,
        "file": source.out_name,
        "family": source.family,
        "face_index": 0,
        "sha256": sha256_file(out_path),
        "bytes": out_path.stat().st_size,
        "glyphs": len(font.getGlyphOrder()),
        "licence": licence_path.name,
        "description": source.description,
        "source_family": source.source_family,
        "source_package": package,
        "source_version": version,
        "source_file": str(source_path),
        "source_face_index": face_index,
        "source_sha256": sha256_file(source_path),
        "missing": "".join(chr(cp) for cp in missing),
    }


def _toml_escape(char: str) -> str:
    return f"\\u{ord(char):04X}" if ord(char) < 0x10000 else f"\\U{ord(char):08X}"


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c.isprintable() else _toml_escape(c) for c in escaped)
    return f'"{escaped}"'


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return _toml_string(str(value))


def write_manifest(path: Path, entries: list[dict], vocabs: list[VocabChars], n_codepoints: int, command: str) -> None:
    """Write fonts.toml (read back with tomllib by chinese_ptm.glyph)."""
    lines = [
        "# The shipped fonts of chinese_ptm, in glyph-table order (one table plane per font).",
        "# Written by `chinese-ptm glyphs subset`; rerun it instead of editing by hand.",
        "",
        "[subset]",
        f"command = {_toml_string(command)}",
        f"options = {_toml_string(SUBSET_OPTIONS_TEXT)}",
        f"codepoints = {n_codepoints}",
        "hinting = false",
        "",
    ]
    for vocab in vocabs:
        missing = sorted({c for entry in entries for c in entry["missing"] if c in vocab.chars})
        lines += [
            "[[subset.vocabulary]]",
            f"name = {_toml_string(vocab.label)}",
            f"sha256 = {_toml_string(vocab.sha256)}",
            f"tokens = {vocab.tokens}",
            f"characters = {len(vocab.chars)}",
            f"cjk_characters = {sum(is_cjk_char(c) for c in vocab.chars)}",
            f"missing_in_some_font = {_toml_string(''.join(missing))}",
            "",
        ]
    for entry in entries:
        lines.append("[[font]]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in entry.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def _parse_source(spec: str | None, default: SourceFont) -> tuple[Path, int]:
    if spec is None:
        return Path(default.path), default.face_index
    path, _, index = spec.rpartition(":")
    if path and index.isdigit():
        return Path(path), int(index)
    return Path(spec), 0


def build_subsets(vocab_specs: list[str], out: Path, sources: dict[str, str | None] | None = None) -> dict:
    """Cut the three subsets for the vocabularies ``vocab_specs`` (PATH, NAME=PATH or BUNDLED) into ``out``.

    ``sources`` maps a style (serif, kai, sans) to its source font as ``PATH[:FACE]`` (default: the Debian
    packages' files). Returns {"fonts": [manifest entries], "manifest": path}.
    """
    out = Path(out)
    vocabs = [read_vocab_chars(spec) for spec in vocab_specs]
    codepoints = subset_codepoints(vocabs)
    for vocab in vocabs:
        print(f"{vocab.label}: {vocab.tokens} tokens, {len(vocab.chars)} characters")
    print(f"{len(codepoints)} characters to keep (vocabulary characters + printable ASCII)")
    out.mkdir(parents=True, exist_ok=True)
    entries = [_subset_one(source, (sources or {}).get(source.style), out, codepoints) for source in SOURCES]
    shown = [f"--vocab {v if '=' not in v else v.split('=')[0] + '=VOCAB_TXT'}" for v in vocab_specs]
    command = "chinese-ptm glyphs subset " + " ".join(shown) + " --out OUT"
    manifest_path = out / MANIFEST_NAME
    write_manifest(manifest_path, entries, vocabs, len(codepoints), command)
    total = sum(entry["bytes"] for entry in entries)
    print(f"wrote {manifest_path}; fonts total {total / 1e6:.2f} MB")
    return {"fonts": entries, "manifest": manifest_path}


def _subset_one(source: SourceFont, spec: str | None, out: Path, codepoints: list[int]) -> dict:
    path, face = _parse_source(spec, source)
    if not path.is_file():
        raise GlyphFileNotFoundError(
            f"source font not found: {path} (install it: apt-get install {source.package}, "
            f"or pass --{source.style} PATH[:FACE])"
        )
    print(f"{source.style}: {path} face {face} -> {out / source.out_name}")
    entry = build_subset(source, path, face, codepoints, out)
    missing = entry["missing"]
    print(
        f"  {entry['glyphs']} glyphs, {entry['bytes'] / 1e6:.2f} MB, sha256 {entry['sha256'][:12]}; "
        f"{len(missing)} characters missing from the source" + (f": {missing}" if missing else "")
    )
    return entry
