"""``chinese-ptm glyphs subset``: Unicode ranges kept whole (``--ranges``) and the shipped subsets' coverage."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont

from chinese_ptm import glyph as g
from chinese_ptm.cli import main
from chinese_ptm.glyph import subset
from chinese_ptm.resources import fonts_dir

#: a tiny source font: two CJK Unified Ideographs, one Extension A character, one of neither range, ASCII 'A'
TINY_CHARS = "一丁㐀。A"


def make_source_font(path: Path, chars: str = TINY_CHARS) -> Path:
    """A TrueType font with one square glyph per character (fontTools' FontBuilder)."""
    names = {c: f"uni{ord(c):04X}" for c in chars}
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder([".notdef", *names.values()])
    builder.setupCharacterMap({ord(c): name for c, name in names.items()})
    outlines = {}
    for name in [".notdef", *names.values()]:
        pen = TTGlyphPen(None)
        pen.moveTo((100, 0))
        for point in ((100, 800), (900, 800), (900, 0)):
            pen.lineTo(point)
        pen.closePath()
        outlines[name] = pen.glyph()
    builder.setupGlyf(outlines)
    builder.setupHorizontalMetrics({name: (1000, 100) for name in outlines})
    builder.setupHorizontalHeader(ascent=880, descent=-120)
    builder.setupNameTable({"familyName": "Tiny Source", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    builder.save(path)
    return path


def test_parse_ranges_names_order_and_none():
    cjk, ext_a = subset.UNICODE_RANGES["cjk"], subset.UNICODE_RANGES["ext-a"]
    assert (cjk.first, cjk.last, len(cjk.codepoints())) == (0x4E00, 0x9FFF, 20992)
    assert (ext_a.first, ext_a.last, len(ext_a.codepoints())) == (0x3400, 0x4DBF, 6592)
    assert subset.parse_ranges("cjk,ext-a") == (cjk, ext_a) == subset.parse_ranges(subset.DEFAULT_RANGES)
    assert subset.parse_ranges(" ext-a , cjk,cjk") == (ext_a, cjk)  # given order, duplicates once
    assert subset.parse_ranges("none") == subset.parse_ranges("") == ()


def test_unknown_range_is_a_one_line_error_naming_the_known_ones(tmp_path, capsys):
    with pytest.raises(g.GlyphValueError, match=r"unknown range 'ext-b'; the known ranges are cjk, ext-a"):
        subset.parse_ranges("cjk,ext-b")
    out = tmp_path / "out"
    assert main(["glyphs", "subset", "--vocab", "BUNDLED", "--ranges", "cjk,ext-b", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'ext-b'" in err and "cjk, ext-a" in err
    assert not out.exists()  # rejected before any font work


def test_build_subset_keeps_whole_ranges_and_records_what_the_source_lacks(tmp_path):
    source_path = make_source_font(tmp_path / "tiny.ttf")
    source = dataclasses.replace(subset.SOURCES[1], path=str(source_path), source_family="Tiny Source")
    ranges = subset.parse_ranges("cjk,ext-a")
    out = tmp_path / "out"
    out.mkdir()
    entry = subset.build_subset(source, source_path, 0, [ord("A"), ord("B")], out, ranges)
    kept = set(TTFont(out / source.out_name).getBestCmap())
    assert kept == {ord(c) for c in "一丁㐀A"}  # "。" is in no range and no vocabulary
    assert entry["missing"] == "B"  # a required character the source lacks; range gaps are only counted
    assert entry["range_lacks"] == {"cjk": 20992 - 2, "ext-a": 6592 - 1}
    manifest = out / g.MANIFEST_NAME
    subset.write_fonts_toml(manifest, [entry], [], 2 + 20992 + 6592, "chinese-ptm glyphs subset ...", ranges)
    written = tomllib.loads(manifest.read_text(encoding="utf-8"))
    assert written["subset"]["ranges"] == ["cjk", "ext-a"]
    assert written["subset"]["range"][1] == {
        "name": "ext-a",
        "block": "CJK Unified Ideographs Extension A",
        "first": 0x3400,
        "last": 0x4DBF,
        "characters": 6592,
        "source_lacks": {"kai": 6591},
    }
    assert "range_lacks" not in written["font"][0]


@pytest.mark.fonts
def test_shipped_fonts_cover_every_range_character_their_source_has():
    """Characters outside every vocabulary get glyphs too: each shipped font keeps every character of
    CJK Unified Ideographs and Extension A that its source font has (fonts.toml records what it lacks)."""
    manifest_path = fonts_dir() / g.MANIFEST_NAME
    if not manifest_path.is_file():
        pytest.skip("shipped fonts absent")
    manifest = tomllib.loads(manifest_path.read_text(encoding="utf-8"))
    assert manifest["subset"]["ranges"] == list(subset.DEFAULT_RANGES)
    assert "--ranges cjk,ext-a" in manifest["subset"]["command"]
    for entry in manifest["font"]:
        cmap = TTFont(fonts_dir() / entry["file"], lazy=True).getBestCmap()  # the subset has only source characters
        for recorded in manifest["subset"]["range"]:
            known = subset.UNICODE_RANGES[recorded["name"]]
            assert (recorded["first"], recorded["last"]) == (known.first, known.last)
            have = sum(cp in cmap for cp in known.codepoints())
            expected = recorded["characters"] - recorded["source_lacks"][entry["style"]]
            assert have == expected, f"{entry['file']} keeps {have} of {recorded['name']}, its source has {expected}"
        assert sum(0x4E00 <= cp <= 0x9FFF for cp in cmap) > 20900  # all but the newest few (Unicode 10+)
