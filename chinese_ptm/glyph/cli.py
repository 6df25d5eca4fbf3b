"""``chinese-ptm glyphs build | sheet | similar | coverage | subset``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from chinese_ptm.resources import vocab_dir
from chinese_ptm.text.normalize import is_cjk

from . import subset
from .fonts import load_manifest, resolve_fonts
from .render import DEFAULT_SIZE
from .sheet import DEFAULT_SCALE, write_contact_sheet
from .similar import DEFAULT_K, GlyphIndex
from .subset import SOURCES, build_subsets
from .table import (
    TABLE_NAME,
    VOCAB_NAME,
    CoverageReport,
    GlyphTableNotFoundError,
    build_glyph_table,
    coverage_report,
    load_glyph_table,
    read_vocab,
    save_glyph_table,
    table_vocab_path,
)

FONT_HELP = (
    "fonts, in table order: a shipped style (serif, kai, sans), a font file, or FILE.ttc:FACE for one "
    "face of a collection (default: the shipped fonts serif kai sans)"
)


def _add_font_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--font", "--fonts", dest="fonts", action="extend", nargs="+", metavar="FONT", help=FONT_HELP)


def _build(args: argparse.Namespace) -> dict:
    vocab = args.vocab if args.vocab is not None else vocab_dir() / VOCAB_NAME
    out = args.out if args.out is not None else (vocab.parent if vocab.is_file() else vocab) / TABLE_NAME
    fonts = resolve_fonts(args.fonts)
    start = time.perf_counter()
    table, report = build_glyph_table(vocab, fonts, size=args.size, progress=not args.quiet)
    seconds = time.perf_counter() - start
    header = save_glyph_table(table, vocab, fonts, out, report)
    print(report.summary())
    drawn = sum(f.rendered for f in report.fonts)
    print(
        f"built {tuple(table.shape)} in {seconds:.1f} s ({drawn / max(seconds, 1e-9):,.0f} glyphs/s); "
        f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) and {out.with_suffix('.json').name}"
    )
    if args.report:
        args.report.write_text(json.dumps(header["coverage"], ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"coverage report: {args.report}")
    return header


def _coverage(args: argparse.Namespace) -> list[CoverageReport]:
    reports = []
    for vocab in args.vocab or [vocab_dir() / VOCAB_NAME]:
        reports.append(coverage_report(vocab, args.fonts, size=DEFAULT_SIZE))
        print(f"{vocab}: {reports[-1].summary(limit=10**9)}")
    if args.fonts is None:  # what the shipped subsets were cut for, as recorded when they were built
        for entry in load_manifest()["subset"].get("vocabulary", []):
            missing = entry["missing_in_some_font"]
            cjk = sum(is_cjk(c) for c in missing)
            state = f"{cjk} Chinese characters and {len(missing) - cjk} other symbols missing in some font"
            print(
                f"shipped subsets keep {entry['name']} ({entry['tokens']} tokens, {entry['characters']} characters, "
                f"{entry['cjk_characters']} Chinese; sha256 {entry['sha256'][:12]}): {state}"
            )
    return reports


def _sheet(args: argparse.Namespace) -> Path:
    out = write_contact_sheet("".join(args.chars), args.out, args.fonts, size=args.size, scale=args.scale)
    print(f"wrote {out}")
    return out


def _similar(args: argparse.Namespace) -> dict[str, list[tuple[str, float]]]:
    vocab = args.vocab if args.vocab is not None else table_vocab_path(args.table)
    if vocab is None:
        raise GlyphTableNotFoundError("the table's vocab.txt was not found beside it; pass --vocab path/to/vocab.txt")
    table = load_glyph_table(args.table, vocab=vocab)
    index = GlyphIndex(table, read_vocab(vocab))
    result = {}
    for char in "".join(args.chars):
        if char.isspace():
            continue
        result[char] = index.similar(char, args.k)
        print(f"{char}  " + "  ".join(f"{c} {score:.3f}" for c, score in result[char]))
    return result


def _subset(args: argparse.Namespace) -> dict:
    sources = {source.style: getattr(args, source.style) for source in SOURCES}
    return build_subsets(args.vocab, args.out, sources, ranges=args.ranges)


def _add_build_and_sheet(commands) -> None:
    """``glyphs build`` and ``glyphs sheet``."""
    build = commands.add_parser("build", help="render a glyph table for a vocabulary and store it")
    build.add_argument("--vocab", type=Path, default=None, help="vocab.txt (default: the bundled vocabulary)")
    _add_font_option(build)
    build.add_argument("--size", type=int, default=DEFAULT_SIZE, help="bitmap side in pixels (default 24)")
    build.add_argument(
        "--out", type=Path, help=f"table file (default: {TABLE_NAME} beside the vocab; its .json header beside it)"
    )
    build.add_argument("--report", type=Path, help="also write the coverage report as JSON here")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(glyphs_action=_build)

    sheet = commands.add_parser("sheet", help="draw characters in every font into a PNG contact sheet")
    sheet.add_argument("chars", nargs="+", help="the characters to draw, e.g. 中文字形")
    sheet.add_argument("--out", type=Path, default=Path("sheet.png"), help="PNG file (default: sheet.png)")
    _add_font_option(sheet)
    sheet.add_argument("--size", type=int, default=DEFAULT_SIZE, help="bitmap side in pixels (default 24)")
    sheet.add_argument("--scale", type=int, default=DEFAULT_SCALE, help="magnification of the large copy (default 4)")
    sheet.set_defaults(glyphs_action=_sheet)


def _add_similar_and_coverage(commands) -> None:
    """``glyphs similar`` and ``glyphs coverage``."""
    similar = commands.add_parser("similar", help="characters with the most similar glyphs (cosine on bitmaps)")
    similar.add_argument("chars", nargs="+", help="query characters")
    similar.add_argument("-k", type=int, default=DEFAULT_K, help="neighbours per character (default 10)")
    similar.add_argument("--table", type=Path, help="a stored table or a vocab folder (default: vocab/)")
    similar.add_argument("--vocab", type=Path, help="the table's vocab.txt (default: the one named in its header)")
    similar.set_defaults(glyphs_action=_similar)

    coverage = commands.add_parser("coverage", help="list the vocabulary characters each font lacks")
    coverage.add_argument(
        "--vocab",
        type=Path,
        action="append",
        help="vocab.txt, repeatable (default: the bundled vocabulary); e.g. a BERT checkpoint's",
    )
    _add_font_option(coverage)
    coverage.set_defaults(glyphs_action=_coverage)


def _add_subset(commands) -> None:
    """``glyphs subset``: the shipped font subsets."""
    cut = commands.add_parser(
        "subset",
        help="cut the shipped font subsets from open-licence source fonts",
        description=subset.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cut.add_argument(
        "--vocab",
        action="append",
        required=True,
        metavar="VOCAB",
        help=f"vocab.txt whose characters to keep, as PATH or NAME=PATH (repeatable; {subset.BUNDLED_VOCAB} "
        "= the bundled vocabulary)",
    )
    known = ", ".join(f"{r.name} (U+{r.first:04X}..U+{r.last:04X})" for r in subset.UNICODE_RANGES.values())
    cut.add_argument(
        "--ranges",
        default=",".join(subset.DEFAULT_RANGES),
        metavar="NAMES",
        help=f"Unicode ranges to keep whole as well, comma-separated: {known}, or {subset.NO_RANGES} "
        f"(default: {','.join(subset.DEFAULT_RANGES)}; what a source font lacks is recorded in fonts.toml)",
    )
    cut.add_argument(
        "--out", type=Path, required=True, help="output folder (the shipped fonts live in the top-level fonts/)"
    )
    for source in subset.SOURCES:
        cut.add_argument(
            f"--{source.style}",
            metavar="PATH[:FACE]",
            help=f"source font for the {source.style} subset (default: {source.path}:{source.face_index})",
        )
    cut.set_defaults(glyphs_action=_subset)


def add_parser(subparsers, name: str = "glyphs", help_: str | None = None) -> argparse.ArgumentParser:
    """``chinese-ptm glyphs build | sheet | similar | coverage | subset``."""

    parser = subparsers.add_parser(name, help=help_, description="Glyph tables and contact sheets.")
    parser.set_defaults(run=run)
    commands = parser.add_subparsers(
        dest="glyphs_command", required=True, metavar="{build,sheet,similar,coverage,subset}"
    )

    _add_build_and_sheet(commands)
    _add_similar_and_coverage(commands)
    _add_subset(commands)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run one ``chinese-ptm glyphs`` subcommand (it prints what it did); exit status 0."""
    args.glyphs_action(args)
    return 0
