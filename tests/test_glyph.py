"""Tests of chinese_ptm.glyph: fonts, rendering, glyph tables, original arrays, similarity, CLI."""

from __future__ import annotations

import json
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont
from PIL import Image

from chinese_ptm import glyph as g
from chinese_ptm.cli import main
from chinese_ptm.resources import fonts_dir, vocab_dir

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
ORIGINAL_CONFIG = FIXTURES / "chinesebert_reference" / "tiny_checkpoint" / "config"
SHIPPED_STYLES = ("serif", "kai", "sans")
#: A Unicode Extension B ideograph and a private-use code point: no shipped font has either.
EXT_B_CHAR = "\U00020001"
PRIVATE_USE_CHAR = "\ue000"
SMALL_VOCAB = [
    "[PAD]",
    "[unused1]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "中",
    "文",
    "字",
    "形",
    "日",
    "曰",
    "目",
    "田",
    "白",
    "旦",
    "人",
    "大",
    "永",
    "的",
    "王",
    "玉",
    "，",
    "。",
    "A",
    "z",
    "7",
    "##文",
    "##s",
    "中文",
    "the",
    PRIVATE_USE_CHAR,
]
MAX_CENTRE_OFFSET = 1.0


def shipped_fonts_or_skip() -> list[g.Font]:
    try:
        return g.shipped_fonts()
    except g.GlyphFileNotFoundError as error:
        pytest.skip(f"shipped fonts absent ({error})")


@pytest.fixture(scope="module")
def fonts() -> list[g.Font]:
    return shipped_fonts_or_skip()


@pytest.fixture(scope="module")
def small_table(fonts):
    return g.build_glyph_table(SMALL_VOCAB, fonts, progress=False)


# --------------------------------------------------------------------------------------------------
# a tiny font made on the fly (no shipped files needed)


def _rect(pen: TTGlyphPen, x0: int, y0: int, x1: int, y1: int) -> None:
    pen.moveTo((x0, y0))
    pen.lineTo((x0, y1))
    pen.lineTo((x1, y1))
    pen.lineTo((x1, y0))
    pen.closePath()


#: char -> rectangles (font units, em 1000): a box, a bar, and a stroke far left of centre.
TINY_GLYPHS = {
    "口": [(100, 0, 900, 80), (100, 720, 900, 800), (100, 0, 180, 800), (820, 0, 900, 800)],
    "一": [(50, 360, 950, 440)],
    "丨": [(80, -50, 160, 800)],
    "大": [(-2000, -2000, 3000, 3000)],  # five ems wide: larger than any bitmap
}


def make_tiny_font(path: Path, family: str = "Tiny Test", glyphs: dict = TINY_GLYPHS) -> Path:
    """A TrueType font with a few rectangle glyphs (written with fontTools' FontBuilder)."""
    names = [".notdef"] + [f"uni{ord(c):04X}" for c in glyphs]
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({ord(c): f"uni{ord(c):04X}" for c in glyphs})
    outlines, metrics = {}, {}
    for name, rects in [(".notdef", [(100, 0, 900, 800)])] + [(f"uni{ord(c):04X}", r) for c, r in glyphs.items()]:
        pen = TTGlyphPen(None)
        for rect in rects:
            _rect(pen, *rect)
        outlines[name] = pen.glyph()
        metrics[name] = (1000, min(r[0] for r in rects))
    builder.setupGlyf(outlines)
    builder.setupHorizontalMetrics(metrics)
    builder.setupHorizontalHeader(ascent=880, descent=-120)
    builder.setupNameTable({"familyName": family, "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=880, sTypoDescender=-120, usWinAscent=880, usWinDescent=120)
    builder.setupPost()
    builder.save(path)
    return path


@pytest.fixture(scope="module")
def tiny_font(tmp_path_factory) -> Path:
    return make_tiny_font(tmp_path_factory.mktemp("fonts") / "tiny.ttf")


@pytest.fixture(scope="module")
def tiny_collection(tmp_path_factory, tiny_font) -> Path:
    folder = tmp_path_factory.mktemp("ttc")
    other = make_tiny_font(folder / "other.ttf", family="Tiny Other", glyphs={"一": TINY_GLYPHS["一"]})
    collection = TTCollection()
    collection.fonts = [TTFont(tiny_font), TTFont(other)]
    path = folder / "tiny.ttc"
    collection.save(path)
    return path


def write_vocab(path: Path, tokens: list[str], newline: str = "\n") -> Path:
    path.write_bytes((newline.join(tokens) + newline).encode("utf-8"))
    return path


# --------------------------------------------------------------------------------------------------
# rendering


@pytest.mark.fonts
@pytest.mark.parametrize("style", SHIPPED_STYLES)
def test_render_shipped_fonts_centred(style):
    font = next(f for f in shipped_fonts_or_skip() if f.style == style)
    for char in "中永龍，。A7":
        mask = g.render(char, font)
        assert mask.shape == (24, 24) and mask.dtype == np.uint8
        assert mask.max() > 128, f"{char} has no solid ink in {font.name}"
        dy, dx = g.ink_offset(mask)
        assert abs(dy) <= MAX_CENTRE_OFFSET and abs(dx) <= MAX_CENTRE_OFFSET, (char, style, dy, dx)


@pytest.mark.fonts
def test_render_missing_character_raises(fonts):
    for font in fonts:
        for char in (EXT_B_CHAR, PRIVATE_USE_CHAR):
            assert not font.covers(char)
            with pytest.raises(g.GlyphMissingError) as caught:
                g.render(char, font)
            assert f"U+{ord(char):04X}" in str(caught.value) and font.name in str(caught.value)


def test_render_tiny_font_centres_ink_box(tiny_font):
    font = g.Font(tiny_font)
    assert font.family == "Tiny Test" and font.covers("口") and not font.covers("中")
    stroke = g.render("丨", font)  # drawn far left in its em box, centred by its ink box
    assert g.ink_box(stroke) is not None
    assert max(abs(v) for v in g.ink_offset(stroke)) <= MAX_CENTRE_OFFSET
    box = g.render("口", font, size=32)
    assert box.shape == (32, 32) and box.max() == 255
    assert g.render("一", str(tiny_font), size=8).shape == (8, 8)
    with pytest.raises(g.GlyphMissingError):
        g.render("中", font)
    huge = g.render("大", font)  # clipped to its central 24 x 24: all ink
    assert huge.min() == 255
    _, report = g.build_glyph_table(["[PAD]", "大", "口"], [font], progress=False)
    assert report.fonts[0].clipped == ["大"] and report.fonts[0].rendered == 2


def test_render_bad_arguments(tiny_font):
    font = g.Font(tiny_font)
    with pytest.raises(ValueError, match="at least 8"):
        g.render("口", font, size=7)
    with pytest.raises(ValueError, match="exactly one character"):
        g.render("口口", font)
    with pytest.raises(ValueError, match="integer"):
        g.render("口", font, size=24.0)


# --------------------------------------------------------------------------------------------------
# fonts: bad files, faces of collections


def test_font_errors_name_the_file(tmp_path, tiny_font, tiny_collection):
    missing = tmp_path / "nope.ttf"
    with pytest.raises(FileNotFoundError, match="nope.ttf"):
        g.Font(missing)
    garbage = tmp_path / "garbage.ttf"
    garbage.write_bytes(b"this is not a font at all")
    with pytest.raises(ValueError, match="garbage.ttf.*not a TrueType/OpenType font"):
        g.Font(garbage)
    truncated = tmp_path / "truncated.otf"
    truncated.write_bytes(tiny_font.read_bytes()[:200])
    with pytest.raises(g.FontError, match="truncated.otf.*corrupt"):
        g.Font(truncated)
    with pytest.raises(g.FontError, match="face index 1 is out of range.*single-face"):
        g.Font(tiny_font, 1)
    with pytest.raises(g.FontError, match=r"face index 2 is out of range.*2 faces \(0\.\.1\)"):
        g.Font(tiny_collection, 2)


def test_font_collection_faces_and_specs(tiny_collection):
    first, second = g.Font(tiny_collection, 0), g.Font(tiny_collection, 1)
    assert first.family == "Tiny Test" and second.family == "Tiny Other"
    assert second.covers("一") and not second.covers("口")
    spec = g.parse_font_spec(f"{tiny_collection}:1")
    assert spec.index == 1 and spec.family == "Tiny Other"
    assert g.parse_font_spec(str(tiny_collection)).index == 0
    assert np.array_equal(g.render("一", spec), g.render("一", second))


@pytest.mark.fonts
def test_shipped_fonts_manifest_and_licences(fonts):
    manifest = tomllib.loads((fonts_dir() / g.MANIFEST_NAME).read_text(encoding="utf-8"))
    assert [entry["style"] for entry in manifest["font"]] == list(SHIPPED_STYLES)
    assert manifest["subset"]["hinting"] is False
    total = 0
    for entry, font in zip(manifest["font"], fonts):
        assert font.sha256 == entry["sha256"], f"{entry['file']} differs from fonts.toml: rebuild the subsets"
        assert (fonts_dir() / entry["licence"]).is_file()
        assert "SIL OPEN FONT LICENSE" in (fonts_dir() / entry["licence"]).read_text(encoding="utf-8")
        assert font.family.startswith("PTM") and "Noto" not in font.family and "LXGW" not in font.family
        assert entry["source_package"] and entry["source_version"]
        total += font.path.stat().st_size
    assert total < 30_000_000  # three subsets of the vocabularies plus CJK Unified Ideographs and Extension A
    with pytest.raises(g.FontError, match="shipped styles are serif, kai, sans"):
        g.parse_font_spec("gothic")


@pytest.mark.fonts
def test_shipped_fonts_cover_default_vocab_cjk(fonts):
    vocab = vocab_dir() / g.VOCAB_NAME
    manifest = g.load_manifest()
    recorded = [v["sha256"] for v in manifest["subset"]["vocabulary"]]
    assert g.fonts.sha256_file(vocab) in recorded, (
        "the bundled vocab.txt changed since the fonts were subset: run `chinese-ptm glyphs subset` (fonts README)"
    )
    cjk = [t for t in g.read_vocab(vocab) if g.is_cjk_ideograph(t)]
    for font in fonts:
        assert font.missing(cjk) == [], f"{font.name} lacks vocab characters"


@pytest.mark.fonts
@pytest.mark.reference
def test_shipped_fonts_cover_the_standard_chinese_bert_vocab(fonts, capsys):
    """BERT-wwm-ext, MacBERT and bert-base-chinese checkpoints use this vocabulary: converted to GlyceBERT,
    none of their Chinese characters may get a blank glyph."""
    standard = FIXTURES / "chinesebert_reference" / "tokenizer" / g.VOCAB_NAME
    if not standard.is_file():
        pytest.skip("shared fixtures absent")
    cjk = [t for t in g.read_vocab(standard) if g.is_cjk_ideograph(t)]
    assert len(cjk) > 7000
    for font in fonts:
        assert font.missing(cjk) == [], f"{font.name} lacks characters of the standard Chinese BERT vocabulary"
    recorded = {v["sha256"]: v for v in g.load_manifest()["subset"]["vocabulary"]}
    assert g.fonts.sha256_file(standard) in recorded
    assert main(["glyphs", "coverage", "--vocab", str(standard)]) == 0
    out = capsys.readouterr().out
    assert "(0 Chinese characters)" in out and "bert-base-chinese" in out


# --------------------------------------------------------------------------------------------------
# vocabularies


def test_read_vocab_lines(tmp_path):
    crlf = write_vocab(tmp_path / "crlf.txt", ["[PAD]", "中", "\u2028", "##\u2028"], newline="\r\n")
    assert g.read_vocab(crlf) == ["[PAD]", "中", "\u2028", "##\u2028"]  # only \n ends a line
    write_vocab(tmp_path / g.VOCAB_NAME, ["[PAD]", "中"])
    assert g.read_vocab(tmp_path) == ["[PAD]", "中"]  # a folder means its vocab.txt
    empty_line = tmp_path / "empty.txt"
    empty_line.write_text("[PAD]\n中\n\n文\n", encoding="utf-8")
    with pytest.raises(g.VocabError, match=r"empty.txt, line 3: empty token"):
        g.read_vocab(empty_line)
    duplicate = write_vocab(tmp_path / "dup.txt", ["[PAD]", "中", "文", "中"])
    with pytest.raises(ValueError, match=r"dup.txt, line 4: duplicate token '中' \(first at line 2\)"):
        g.read_vocab(duplicate)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("[PAD]\nçé\n".encode("latin-1"))
    with pytest.raises(g.VocabError, match=r"latin1.txt, line 2: not valid UTF-8"):
        g.read_vocab(latin1)
    with pytest.raises(FileNotFoundError, match="absent.txt"):
        g.read_vocab(tmp_path / "absent.txt")
    with pytest.raises(g.VocabError, match="entry 3: duplicate"):
        g.read_vocab(["a", "b", "a"])


# --------------------------------------------------------------------------------------------------
# tables


@pytest.mark.fonts
def test_table_zeros_for_non_characters_and_report(fonts, small_table):
    table, report = small_table
    assert table.shape == (len(SMALL_VOCAB), len(fonts), 24, 24) and table.dtype == np.uint8
    for i, token in enumerate(SMALL_VOCAB):
        if token == "中文":  # a word of a word vocabulary: the mean of its characters
            parts = table[[SMALL_VOCAB.index("中"), SMALL_VOCAB.index("文")]].astype(np.float32)
            assert np.abs(table[i] - parts.mean(axis=0)).max() <= 0.5
        elif len(token) != 1 or token == PRIVATE_USE_CHAR:
            assert not table[i].any(), f"{token!r} should be all zeros"
        else:
            assert table[i].reshape(len(fonts), -1).any(axis=1).all(), f"{token!r} lacks ink in some font"
    for f, font in enumerate(fonts):
        assert np.array_equal(table[SMALL_VOCAB.index("永"), f], g.render("永", font))
        assert report.fonts[f].missing == [PRIVATE_USE_CHAR]
    assert not report.complete and PRIVATE_USE_CHAR in report.summary()
    assert report.n_chars == sum(len(t) == 1 for t in SMALL_VOCAB)


@pytest.mark.fonts
def test_table_rebuild_is_byte_identical_and_round_trips(tmp_path, fonts, small_table):
    table, report = small_table
    again, _ = g.build_glyph_table(SMALL_VOCAB, [g.Font(f.path) for f in fonts], progress=False)
    assert again.tobytes() == table.tobytes()
    vocab = write_vocab(tmp_path / g.VOCAB_NAME, SMALL_VOCAB)
    header = g.save_glyph_table(table, vocab, fonts, tmp_path / g.TABLE_NAME, report)
    assert header["table_sha256"] == g.table_digest(table)
    assert [f["sha256"] for f in header["fonts"]] == [f.sha256 for f in fonts]
    first_bytes = (tmp_path / g.TABLE_NAME).read_bytes()
    g.save_glyph_table(again, vocab, fonts, tmp_path / g.TABLE_NAME, report)
    assert (tmp_path / g.TABLE_NAME).read_bytes() == first_bytes  # the stored file is reproducible too
    loaded = g.load_glyph_table(tmp_path)
    assert loaded.dtype == np.uint8 and np.array_equal(loaded, table)
    assert np.array_equal(g.load_glyph_table(tmp_path / g.TABLE_NAME, vocab=SMALL_VOCAB), table)


def test_table_with_user_font_and_changed_vocab(tmp_path, tiny_collection):
    tokens = ["[PAD]", "口", "一", "丨", "中", "##口"]
    vocab = write_vocab(tmp_path / g.VOCAB_NAME, tokens)
    fonts = [g.Font(tiny_collection, 0), g.Font(tiny_collection, 1)]
    table, report = g.build_glyph_table(vocab, fonts, size=16, progress=False)
    assert table.shape == (6, 2, 16, 16)
    assert report.fonts[0].missing == ["中"] and report.fonts[1].missing == ["口", "丨", "中"]
    assert table[1, 0].any() and not table[1, 1].any() and table[2, 1].any() and not table[5].any()
    g.save_glyph_table(table, vocab, fonts, tmp_path / g.TABLE_NAME, report)
    write_vocab(vocab, tokens + ["新"])
    with pytest.raises(g.GlyphTableError, match="chinese-ptm glyphs build"):
        g.load_glyph_table(tmp_path)
    with pytest.raises(g.GlyphTableNotFoundError, match="glyphs build"):
        g.load_glyph_table(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="at least 8"):
        g.build_glyph_table(vocab, fonts, size=4, progress=False)


@pytest.mark.fonts
def test_prebuilt_table_matches_fresh_rendering(fonts):
    if not (vocab_dir() / g.TABLE_NAME).is_file():
        pytest.skip("no prebuilt glyph table in vocab/")
    start = time.perf_counter()
    table = g.load_glyph_table()
    seconds = time.perf_counter() - start
    header = g.read_glyph_header()
    tokens = g.read_vocab(vocab_dir() / g.VOCAB_NAME)
    assert table.shape == (len(tokens), len(fonts), 24, 24) and seconds < 2.0
    assert [f["sha256"] for f in header["fonts"]] == [f.sha256 for f in fonts], "fonts changed: rebuild the table"
    for char in "中国的龍，A":
        if char in tokens:
            for f, font in enumerate(fonts):
                assert np.array_equal(table[tokens.index(char), f], g.render(char, font)), (char, font.name)
    assert not table[tokens.index("[CLS]")].any()


@pytest.mark.fonts
@pytest.mark.slow
def test_prebuilt_table_rebuilds_byte_identical(fonts):
    if not (vocab_dir() / g.TABLE_NAME).is_file():
        pytest.skip("no prebuilt glyph table in vocab/")
    table, _ = g.build_glyph_table(vocab_dir() / g.VOCAB_NAME, fonts, progress=False)
    assert g.table_digest(table) == g.read_glyph_header()["table_sha256"]


# --------------------------------------------------------------------------------------------------
# the original ChineseBERT font arrays


def test_original_font_arrays_sorted_and_resource_forks_ignored(tmp_path):
    vocab_size = 5
    for name, value in (("ZZ.TTF24.npy", 3.0), ("AA.ttf24.npy", 1.0), ("mm.ttf24.npy", 2.0)):
        np.save(tmp_path / name, np.full((vocab_size, 24, 24), value))
    (tmp_path / "._AA.ttf24.npy").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
    (tmp_path / "pinyin_map.json").write_text("{}")
    table, names = g.load_original_font_arrays(tmp_path, return_names=True)
    assert names == ["AA.ttf24.npy", "ZZ.TTF24.npy", "mm.ttf24.npy"]  # plain sorted() order
    assert table.shape == (vocab_size, 3, 24, 24) and table.dtype == np.float64
    assert table[0, :, 0, 0].tolist() == [1.0, 3.0, 2.0]
    assert g.load_original_font_arrays(tmp_path, dtype=np.uint8).dtype == np.uint8
    out = g.save_original_font_arrays(table.astype(np.uint8), tmp_path / "copy", names)
    assert np.array_equal(g.load_original_font_arrays(tmp_path / "copy"), table) and len(out) == 3


def test_original_font_arrays_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no font arrays"):
        g.load_original_font_arrays(tmp_path)
    with pytest.raises(FileNotFoundError, match="not found"):
        g.load_original_font_arrays(tmp_path / "absent")
    np.save(tmp_path / "a.npy", np.zeros((4, 24, 24)))
    np.save(tmp_path / "b.npy", np.zeros((5, 24, 24)))
    with pytest.raises(g.GlyphTableError, match=r"differ in shape.*a.npy.*\(4, 24, 24\)"):
        g.load_original_font_arrays(tmp_path)
    np.save(tmp_path / "b.npy", np.zeros((4, 24)))
    with pytest.raises(g.GlyphTableError, match=r"b.npy has shape \(4, 24\)"):
        g.load_original_font_arrays(tmp_path)


@pytest.mark.reference
def test_original_font_arrays_fixture():
    if not ORIGINAL_CONFIG.is_dir():
        pytest.skip("../shared/fixtures is absent")
    table, names = g.load_original_font_arrays(ORIGINAL_CONFIG, return_names=True)
    assert names == ["LISHU.ttf24.npy", "STFANGSO.TTF24.npy", "STXINGKA.TTF24.npy"]
    assert table.shape == (256, 3, 24, 24) and table.dtype == np.float64
    assert 0 <= table.min() and table.max() <= 255


# --------------------------------------------------------------------------------------------------
# similarity


@pytest.mark.fonts
def test_similar_characters(small_table):
    table, _ = small_table
    index = g.GlyphIndex(table, SMALL_VOCAB)
    assert "日" in index and "A" not in index and "[CLS]" not in index  # CJK only
    assert index.similar("日", 1, include_self=True)[0][0] == "日"
    neighbours = [c for c, _ in index.similar("日", 3)]
    assert "日" not in neighbours and {"曰", "目"} & set(neighbours[:2])
    assert index.similar("王", 1)[0][0] == "玉"
    rows, scores = index.top_k(3)
    assert rows.shape == (len(index), 3) and np.all(np.diff(scores, axis=1) <= 1e-6)
    row = index.row("日")
    assert [index.chars[r] for r in rows[row]] == neighbours
    self_rows, self_scores = index.top_k(1, include_self=True, batch_size=4)
    assert np.array_equal(self_rows[:, 0], np.arange(len(index))) and np.allclose(self_scores, 1.0, atol=1e-5)
    assert g.similar_chars("王", table, SMALL_VOCAB, k=2)[0][0] == "玉"
    assert index.similar_token_ids(2)[SMALL_VOCAB.index("王")][0] == SMALL_VOCAB.index("玉")
    with pytest.raises(KeyError, match="not in the glyph index"):
        index.similar("A")


# --------------------------------------------------------------------------------------------------
# command line


@pytest.mark.fonts
def test_cli_build_similar_sheet(tmp_path, capsys, fonts):
    vocab = write_vocab(tmp_path / g.VOCAB_NAME, SMALL_VOCAB)
    out = tmp_path / "tables" / "g.npz"
    report = tmp_path / "r.json"
    assert main(["glyphs", "build", "--vocab", str(vocab), "--out", str(out), "--quiet", "--report", str(report)]) == 0
    assert g.read_glyph_header(out)["shape"] == [len(SMALL_VOCAB), 3, 24, 24]
    assert out.is_file() and out.with_suffix(".json").is_file()
    assert json.loads(report.read_text(encoding="utf-8"))["fonts"][0]["missing"] == PRIVATE_USE_CHAR
    capsys.readouterr()
    assert main(["glyphs", "similar", "王", "-k", "2", "--table", str(out), "--vocab", str(vocab)]) == 0
    assert capsys.readouterr().out.split()[:2] == ["王", "玉"]  # the nearest neighbour first
    sheet = tmp_path / "sheet.png"
    assert main(["glyphs", "sheet", "中文字形", "--out", str(sheet), "--font", "serif", "sans"]) == 0
    with Image.open(sheet) as image:
        assert image.format == "PNG" and image.width > 4 * 4 * 24 and image.height > 2 * 4 * 24
    assert main(["glyphs", "coverage", "--vocab", str(vocab), "--fonts", "kai"]) == 0
    assert "1 missing" in capsys.readouterr().out
    assert g.coverage_report(vocab, ["kai"]).missing(0) == [PRIVATE_USE_CHAR]


def test_cli_errors_are_messages(tmp_path, capsys, tiny_font):
    assert main(["glyphs", "build", "--vocab", str(tmp_path / "absent.txt"), "--font", str(tiny_font), "--quiet"]) == 1
    assert "absent.txt" in capsys.readouterr().err
    vocab = write_vocab(tmp_path / "v.txt", ["口", "一"])
    assert main(["glyphs", "build", "--vocab", str(vocab), "--font", f"{tiny_font}:3", "--quiet"]) == 1
    assert "face index 3" in capsys.readouterr().err
    assert main(["glyphs", "sheet", "口", "--out", str(tmp_path / "x.jpg"), "--font", str(tiny_font)]) == 1
    assert "PNG" in capsys.readouterr().err
    assert main(["glyphs", "build", "--vocab", str(vocab), "--font", str(tiny_font), "--size", "6", "--quiet"]) == 1
    assert "at least 8" in capsys.readouterr().err


def test_cli_user_font_table(tmp_path, capsys, tiny_collection):
    vocab = write_vocab(tmp_path / g.VOCAB_NAME, ["[CLS]", "口", "一"])
    faces = [f"{tiny_collection}:0", f"{tiny_collection}:1"]
    assert main(["glyphs", "build", "--vocab", str(vocab), "--font", *faces, "--quiet"]) == 0
    table = g.load_glyph_table(tmp_path)
    assert table.shape == (3, 2, 24, 24) and table[1, 0].any() and not table[1, 1].any()
    header = g.read_glyph_header(tmp_path)
    assert header["shape"] == [3, 2, 24, 24]
    assert [f["face_index"] for f in header["fonts"]] == [0, 1] and header["vocab"]["file"] == g.VOCAB_NAME
    capsys.readouterr()
    assert main(["glyphs", "similar", "口", "-k", "1", "--table", str(tmp_path)]) == 0  # vocab found via the header
    assert capsys.readouterr().out.startswith("口")
    elsewhere = tmp_path / "tables" / "t.npz"
    assert main(["glyphs", "build", "--vocab", str(vocab), "--font", *faces, "--out", str(elsewhere), "--quiet"]) == 0
    assert g.read_glyph_header(elsewhere)["vocab"]["file"] == "../vocab.txt"
    assert g.table_vocab_path(elsewhere).resolve() == vocab.resolve()


def test_the_table_of_a_vocabulary_saved_without_one(tmp_path):
    """A checkpoint's copy of the bundled vocabulary finds the bundled table; another vocabulary without a table
    is refused in one line that says how to build one."""
    same = tmp_path / "same"
    same.mkdir()
    (same / "vocab.txt").write_bytes((vocab_dir() / "vocab.txt").read_bytes())
    assert g.table_for_vocab(same) == vocab_dir() / g.TABLE_NAME
    other = tmp_path / "other"
    other.mkdir()
    (other / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n我\n", encoding="utf-8")
    with pytest.raises(g.GlyphTableNotFoundError, match="chinese-ptm glyphs build --vocab"):
        g.table_for_vocab(other)
