"""Benchmark of the glyph side; prints JSON.

Measured, each next to a reference run in the same process:

* building a glyph table (characters/s per shipped font and for all fonts) vs a plain pillow draw
  loop (one 24x24 image per character drawn at the origin at 24 px, no coverage check, no centring);
  best of --build-repeats runs each;
* loading the prebuilt table vs loading the same table stored as the original ChineseBERT stores
  it (one raw float64 (V, 24, 24) .npy per font, read from the page cache) and vs rendering it again;
* similar-character queries with the normalised index vs cosine computed from the raw table per
  query.

Usage: ``python bench/glyphs.py [--vocab vocab/vocab.txt] [--table vocab/] [--limit N]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from chinese_ptm import DEFAULT_VOCAB_DIR  # noqa: E402
from chinese_ptm import glyph as g  # noqa: E402

#: The Chinese BERT vocabulary in the shared fixtures, used when vocab/vocab.txt is absent.
FALLBACK_VOCAB = PROJECT_ROOT.parent / "shared" / "fixtures" / "chinesebert_reference" / "tokenizer" / "vocab.txt"
SIZE = g.DEFAULT_SIZE
QUERIES = 200
K = 10


def best_of(fn, repeats: int) -> float:
    """Best wall time of ``repeats`` calls, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def plain_pillow_loop(font: g.Font, chars: list[str]) -> np.ndarray:
    """Reference renderer: a 24x24 image per character, text drawn at (0, 0) with the font at 24 px."""
    pil_font = ImageFont.truetype(str(font.path), SIZE, index=font.index)
    out = np.zeros((len(chars), SIZE, SIZE), dtype=np.uint8)
    for i, char in enumerate(chars):
        image = Image.new("L", (SIZE, SIZE), 0)
        ImageDraw.Draw(image).text((0, 0), char, font=pil_font, fill=255)
        out[i] = np.asarray(image)
    return out


def bench_build(tokens: list[str], fonts: list[g.Font], limit: int | None, repeats: int) -> dict:
    chars = [t for t in tokens if len(t) == 1]
    if limit:
        chars = chars[:limit]
    result = {"characters": len(chars), "per_font": {}}
    for font in fonts:
        covered = [c for c in chars if font.covers(c)]
        ours = best_of(lambda font=font: g.build_glyph_table(chars, [font], progress=False), repeats)
        reference = best_of(lambda font=font, covered=covered: plain_pillow_loop(font, covered), repeats)
        result["per_font"][font.style or font.name] = {
            "chars_per_s": round(len(chars) / ours),
            "reference_plain_pillow_chars_per_s": round(len(covered) / reference),
            "ratio_vs_reference": round((len(chars) / ours) / (len(covered) / reference), 3),
        }
    total = best_of(lambda: g.build_glyph_table(chars, fonts, progress=False), repeats)
    result["all_fonts_chars_per_s"] = round(len(chars) / total)
    result["all_fonts_glyphs_per_s"] = round(len(chars) * len(fonts) / total)
    result["all_fonts_seconds"] = round(total, 3)
    return result


def bench_load(table_dir: Path, repeats: int, build_seconds: float) -> dict:
    table_path = table_dir / g.TABLE_NAME if table_dir.is_dir() else table_dir
    table = g.load_glyph_table(table_path)
    ours = best_of(lambda: g.load_glyph_table(table_path), repeats)
    with tempfile.TemporaryDirectory() as tmp:
        names = [f"font{f}.ttf24.npy" for f in range(table.shape[1])]
        g.save_original_font_arrays(table, tmp, names)
        raw_bytes = sum(p.stat().st_size for p in Path(tmp).iterdir())
        reference = best_of(lambda: g.load_original_font_arrays(tmp), repeats)
        reference_uint8 = best_of(lambda: g.load_original_font_arrays(tmp, dtype=np.uint8), repeats)
    stored = table_path.stat().st_size + g.table.header_path(table_path).stat().st_size
    return {
        "shape": list(table.shape),
        "load_ms": round(ours * 1000, 1),
        "reference_original_float64_npy_ms": round(reference * 1000, 1),
        "reference_original_to_uint8_ms": round(reference_uint8 * 1000, 1),
        "speedup_vs_reference": round(reference / ours, 2),
        "speedup_vs_rendering_again": round(build_seconds / ours, 1),
        "stored_bytes": stored,
        "reference_bytes": raw_bytes,
        "size_ratio_vs_reference": round(stored / raw_bytes, 4),
    }


def bench_similar(table: np.ndarray, tokens: list[str], repeats: int) -> dict:
    start = time.perf_counter()
    index = g.GlyphIndex(table, tokens)
    build = time.perf_counter() - start
    rng = np.random.default_rng(0)
    queries = [index.chars[i] for i in rng.choice(len(index), size=min(QUERIES, len(index)), replace=False)]
    ours = best_of(lambda: [index.similar(c, K) for c in queries], repeats) / len(queries)
    flat = table.reshape(len(tokens), -1)  # (V, F*S*S) uint8
    ids = index.token_ids

    def raw_cosine(char: str) -> np.ndarray:
        rows = flat[ids].astype(np.float32)
        query = flat[tokens.index(char)].astype(np.float32)
        scores = rows @ query / (np.linalg.norm(rows, axis=1) * np.linalg.norm(query))
        return np.argsort(-scores)[1 : K + 1]

    reference = best_of(lambda: [raw_cosine(c) for c in queries[:20]], 1) / 20
    start = time.perf_counter()
    index.top_k(K)
    all_pairs = time.perf_counter() - start
    return {
        "indexed_chars": len(index),
        "index_build_s": round(build, 3),
        "query_ms": round(ours * 1000, 3),
        "reference_raw_cosine_query_ms": round(reference * 1000, 2),
        "speedup_vs_reference": round(reference / ours, 1),
        "all_pairs_top10_s": round(all_pairs, 2),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="glyph benchmark (prints JSON)")
    parser.add_argument("--vocab", type=Path, help="vocab.txt (default: vocab/vocab.txt, else the fixture vocab)")
    parser.add_argument("--table", type=Path, help="prebuilt table or its folder (default: vocab/)")
    parser.add_argument("--limit", type=int, help="render only the first N single-character tokens")
    parser.add_argument("--repeats", type=int, default=5, help="best of N for loads and queries")
    parser.add_argument("--build-repeats", type=int, default=3, help="best of N for table builds")
    args = parser.parse_args(argv)
    default_vocab = DEFAULT_VOCAB_DIR / g.VOCAB_NAME
    vocab = args.vocab or (default_vocab if default_vocab.is_file() else FALLBACK_VOCAB)
    tokens = g.read_vocab(vocab)
    fonts = g.shipped_fonts()
    result = {
        "vocab": g.fonts.display_path(vocab),
        "tokens": len(tokens),
        "fonts": [f"{f.name} ({f.style})" for f in fonts],
        "build": bench_build(tokens, fonts, args.limit, args.build_repeats),
    }
    table_dir = args.table or DEFAULT_VOCAB_DIR
    if (table_dir / g.TABLE_NAME if table_dir.is_dir() else table_dir).is_file():
        result["load"] = bench_load(table_dir, args.repeats, result["build"]["all_fonts_seconds"])
        table = g.load_glyph_table(table_dir)
    else:
        result["load"] = f"no prebuilt table at {table_dir}; run `chinese-ptm glyphs build` first"
        table, _ = g.build_glyph_table(tokens, fonts, progress=False)
    result["similar"] = bench_similar(table, tokens, args.repeats)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return result


if __name__ == "__main__":
    main()
