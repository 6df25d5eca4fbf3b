"""``chinese-ptm convert``: original ChineseBERT and Chinese BERT checkpoints -> GlyceBERT checkpoints.

    chinese-ptm convert chinesebert SRC DST [--glyph-trainable]
    chinese-ptm convert bert SRC DST [--no-glyph] [--no-pinyin] [--glyph-table PATH] [--glyph-trainable]

DST receives ``model.safetensors`` (GlyceBertForPreTraining weights: every head loads from it), a
GlyceBertConfig ``config.json`` whose ``auto_map`` covers every head, the model code (for
``trust_remote_code=True``), ``vocab.txt`` and the pinyin tables ``config/*.json``, so the tokenizer loads
from DST too. Both conversions are also available without converting: ``GlyceBertForMaskedLM.from_pretrained``
(and every other head) reads BERT-format directories directly.
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SettingsError
from .bert_format import BERT, CHINESEBERT, checkpoint_kind
from .modeling_glycebert import GlyceBertForPreTraining

VOCAB_FILE = "vocab.txt"
TABLES_DIR = "config"


@dataclass
class ConversionReport:
    """What a conversion read, created and wrote."""

    kind: str
    source: str
    destination: str
    new_weights: list[str] = field(default_factory=list)  # initialised here, not read from SRC
    glyph_table: str | None = None  # where the glyph table came from
    files: list[str] = field(default_factory=list)  # written to DST
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def read_glyph_table(path: str | Path) -> np.ndarray:
    """A glyph table (V, F, S, S) or (V, F*S*S) from:

    - a ``.npz`` stored by ``chinese-ptm glyphs build`` (with its ``.json`` header), or a folder holding one;
    - a folder of original ChineseBERT font arrays (``*.npy``, one (V, S, S) array per font);
    - a ``.npy`` file, or a ``.npz`` holding a single array.
    """
    path = Path(path)
    if not path.exists():
        raise SettingsError(f"glyph table {path} not found: pass an .npy/.npz file or a folder holding one")
    glyph = _glyph_module()
    if path.is_dir():
        if glyph is not None and (path / glyph.TABLE_NAME).is_file():
            return glyph.load_glyph_table(path)
        if glyph is not None and any(path.glob("*.npy")):
            return glyph.load_original_font_arrays(path)
        raise SettingsError(f"{path} holds no glyph table: expected glyphs.npz or per-font *.npy arrays")
    if path.suffix == ".npz":
        if glyph is not None and path.with_suffix(".json").is_file():
            return glyph.load_glyph_table(path)
        with np.load(path) as stored:
            if len(stored.files) != 1:
                raise SettingsError(
                    f"{path} holds {stored.files}: expected one (V, F, S, S) array, or a table written by "
                    "`chinese-ptm glyphs build` (with its .json header)"
                )
            return stored[stored.files[0]]
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    raise SettingsError(f"glyph table {path}: expected a .npy or .npz file")


def _glyph_module():
    """chinese_ptm.glyph when installed with this package (it is optional for conversion)."""
    try:
        from chinese_ptm import glyph
    except ImportError:
        return None
    return glyph


def _default_glyph_table(vocab_file: Path) -> tuple[np.ndarray | None, str | None]:
    """(table, where it came from) for SRC's vocabulary: the prebuilt table when SRC uses the bundled
    vocabulary, else one rendered from the shipped fonts (which cover every Chinese character of the
    standard Chinese BERT vocabulary; a few seconds); (None, None) without a vocabulary."""
    glyph = _glyph_module()
    if glyph is None or not vocab_file.is_file():
        return None, None
    try:
        return glyph.load_glyph_table(None, vocab=vocab_file), "prebuilt table of the bundled vocabulary"
    except glyph.GlyphTableError:  # another vocabulary: render it
        table, coverage = glyph.build_glyph_table(vocab_file, progress=False)
        missing = sorted({c for font in coverage.fonts for c in font.missing})
        return table, (
            f"rendered from the shipped fonts for {vocab_file} ({coverage.n_chars} characters; "
            f"{len(missing)} symbols missing from some font)"
        )


def _copy_tokenizer_files(source: Path, destination: Path) -> list[str]:
    """vocab.txt and the pinyin tables config/*.json (the original ChineseBERT layout)."""
    copied = []
    if (source / VOCAB_FILE).is_file():
        shutil.copyfile(source / VOCAB_FILE, destination / VOCAB_FILE)
        copied.append(VOCAB_FILE)
    for table in sorted((source / TABLES_DIR).glob("*.json")):
        (destination / TABLES_DIR).mkdir(exist_ok=True)
        shutil.copyfile(table, destination / TABLES_DIR / table.name)
        copied.append(f"{TABLES_DIR}/{table.name}")
    return copied


def _write_pinyin_tables(destination: Path) -> list[str]:
    """Build the pinyin tables of DST's vocab.txt with the tokenizer (when it is installed)."""
    try:
        from chinese_ptm.text.tokenization import GlyceBertTokenizer
    except ImportError:
        return []
    tokenizer = GlyceBertTokenizer(vocab_file=str(destination / VOCAB_FILE))
    written = tokenizer.save_vocabulary(str(destination))
    return sorted(str(Path(p).relative_to(destination)) for p in written)


def _check_paths(kind: str, source: Path, destination: Path) -> None:
    """SRC is a checkpoint of ``kind`` and DST another directory, or a one-line error naming the fix."""
    if not source.is_dir():
        raise SettingsError(
            f"SRC {source}: no such checkpoint directory; give a directory holding config.json (model_type 'bert') "
            "and model.safetensors or pytorch_model.bin."
        )
    found = checkpoint_kind(source)
    if found is None:
        raise SettingsError(
            f"{source} is not a BERT-format checkpoint directory: expected config.json with model_type 'bert' "
            "and model.safetensors or pytorch_model.bin."
        )
    if found != kind:
        hint = "it has glyph/pinyin weights" if found == CHINESEBERT else "it has no glyph/pinyin weights"
        raise SettingsError(f"{source} is not a {kind} checkpoint ({hint}): use `chinese-ptm convert {found} ...`.")
    if destination.resolve() == source.resolve():
        raise SettingsError(f"DST {destination} is SRC: write the converted checkpoint to another directory.")


def _glyph_options(kind, source: Path, report, use_glyph, use_pinyin, glyph_table, glyph_trainable):
    """(config overrides, glyph table or None) of the converted model; notes what was left as zeros."""
    overrides: dict = {"glyph_trainable": glyph_trainable}
    table = None
    if kind == BERT:
        overrides.update(use_glyph=use_glyph, use_pinyin=use_pinyin)
        if glyph_table is not None and not use_glyph:
            raise SettingsError("--glyph-table and --no-glyph contradict each other: drop one of them.")
        if use_glyph:
            if glyph_table is not None:
                table, report.glyph_table = read_glyph_table(glyph_table), str(glyph_table)
            else:
                table, report.glyph_table = _default_glyph_table(source / VOCAB_FILE)
            if table is None:
                report.notes.append(
                    "glyph table left as zeros: pass --glyph-table (see `chinese-ptm glyphs build`), or call "
                    "model.load_glyph_table(table) before training"
                )
            elif table.ndim == 4:  # (V, F, S, S): fonts and size come from the table
                overrides.update(num_fonts=int(table.shape[1]), glyph_size=int(table.shape[2]))
    elif glyph_table is not None:
        raise SettingsError("--glyph-table applies to `convert bert`: a ChineseBERT checkpoint holds its glyph table.")
    return overrides, table


def convert(
    kind: str,
    source: str | Path,
    destination: str | Path,
    *,
    use_glyph: bool = True,
    use_pinyin: bool = True,
    glyph_table: str | Path | None = None,
    glyph_trainable: bool = False,
) -> ConversionReport:
    """Convert a ``chinesebert`` (original release) or ``bert`` (Chinese BERT) directory into DST."""
    source, destination = Path(source), Path(destination)
    _check_paths(kind, source, destination)

    report = ConversionReport(kind=kind, source=str(source), destination=str(destination))
    overrides, table = _glyph_options(kind, source, report, use_glyph, use_pinyin, glyph_table, glyph_trainable)
    model, info = GlyceBertForPreTraining.from_pretrained(source, output_loading_info=True, **overrides)
    if table is not None:
        model.load_glyph_table(table)
    report.new_weights = info["new_keys"]

    destination.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(destination)
    report.files = sorted(str(p.relative_to(destination)) for p in destination.rglob("*") if p.is_file())
    copied = _copy_tokenizer_files(source, destination)
    if VOCAB_FILE not in copied:
        report.notes.append(f"{source} has no {VOCAB_FILE}: copy the checkpoint's vocabulary to DST")
    elif not any(name.startswith(TABLES_DIR + "/") for name in copied):
        copied += _write_pinyin_tables(destination)
    report.files = sorted(set(report.files) | set(copied))
    return report


def add_parser(subparsers, name: str = "convert", help_: str | None = None) -> argparse.ArgumentParser:
    """``chinese-ptm convert chinesebert|bert SRC DST``."""
    parser = subparsers.add_parser(
        name, help=help_, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    kinds = parser.add_subparsers(dest="kind", required=True)
    original = kinds.add_parser("chinesebert", help="an original ChineseBERT directory (pytorch_model.bin + config/)")
    bert = kinds.add_parser("bert", help="a Chinese BERT checkpoint (bert-base-chinese, BERT-wwm-ext, MacBERT ...)")
    for sub in (original, bert):
        sub.add_argument("source", metavar="SRC", help="checkpoint directory (config.json with model_type bert)")
        sub.add_argument("destination", metavar="DST", help="output directory")
        sub.add_argument(
            "--glyph-trainable",
            action="store_true",
            help="make the glyph table a trainable parameter (default: a frozen buffer, as saved)",
        )
    bert.add_argument("--no-glyph", action="store_true", help="no glyph branch")
    bert.add_argument("--no-pinyin", action="store_true", help="no pinyin branch")
    bert.add_argument(
        "--glyph-table",
        metavar="PATH",
        help="glyph table for the vocabulary: .npy/.npz (V, F, S, S) or a folder of ChineseBERT font arrays "
        "(default: the prebuilt table when SRC uses the bundled vocabulary, else one rendered for SRC's vocab.txt "
        "from the shipped fonts)",
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """``chinese-ptm convert``: convert and print the report as JSON; exit status 0."""
    report = convert(
        args.kind,
        args.source,
        args.destination,
        use_glyph=not getattr(args, "no_glyph", False),
        use_pinyin=not getattr(args, "no_pinyin", False),
        glyph_table=getattr(args, "glyph_table", None),
        glyph_trainable=args.glyph_trainable,
    )
    print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    return 0
