"""Corpus preparation: raw text -> documents -> segmented, tokenised, packed records (datasets).

Input: plain text (one sentence or paragraph per line, a blank line between documents) or JSON
lines with a text field (one document per object), one or many files, gzip accepted; or a list of
strings (one document each). Lines are cleaned (control and invisible characters, HTML remnants),
lines that are mostly not text are dropped, identical lines are kept once, paragraphs are split
into sentences. A bad record (invalid UTF-8, NUL bytes, an over-long line, broken JSON) is
skipped and counted, never fatal.

Records (one per training sequence, DESIGN.md 3):
``input_ids`` ([CLS] sentences [SEP]), ``token_type_ids``, ``pinyin_ids`` (L x 8), ``word_ids``
(-1 for special tokens, one id per word of the segmentation), ``sentence_starts`` (token position
of each sentence, for SOP/NSP) and ``doc_id``. Packing fills a record with consecutive sentences of
one document up to ``max_length - 3`` tokens (room for the middle [SEP] of a sentence task) and
never splits a word; ``packed_ratio`` of the records are packed, the others hold one sentence
(ChineseBERT: 9:1).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from .pinyin import PINYIN_SLOTS
from .segmentation import Segmenter, get_segmenter, word_ids_for_tokens
from .text import clean_text, split_sentences, text_ratio

PREPARE_META = "prepare_meta.json"
FORMAT_VERSION = 1
JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")
SKIP_EXAMPLES = 3  # examples kept per skip reason for the report


@dataclass
class PrepareConfig:
    """Options of :func:`prepare_corpus` (all recorded in the output's metadata)."""

    max_length: int = 512
    packed_ratio: float = 0.9  # share of packed records; the rest hold one sentence (ChineseBERT 9:1)
    text_field: str = "text"  # the field of a JSON-lines record that holds the text
    min_text_ratio: float = 0.3  # lines whose letters/digits/hanzi are a smaller share are dropped
    max_line_chars: int = 100_000  # longer lines are skipped (counted)
    dedupe: bool = True  # keep identical lines once
    line_is_document: bool = False  # one document per line (instead of blank lines between documents)
    seed: int = 0  # packing choices (packed or single) are drawn per document from this seed

    def __post_init__(self):
        if self.max_length < 8:
            raise ValueError(f"max_length={self.max_length}: needs room for [CLS], [SEP], [SEP] and text (>= 8)")
        if not 0.0 <= self.packed_ratio <= 1.0:
            raise ValueError(f"packed_ratio={self.packed_ratio}: must lie in [0, 1]")
        if not 0.0 <= self.min_text_ratio <= 1.0:
            raise ValueError(f"min_text_ratio={self.min_text_ratio}: must lie in [0, 1]")


@dataclass
class ReadStats:
    """What reading and cleaning saw."""

    files: int = 0
    lines: int = 0
    documents: int = 0
    paragraphs: int = 0
    sentences: int = 0
    chars: int = 0
    skipped: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)

    def skip(self, reason: str, where: str) -> None:
        self.skipped[reason] += 1
        self.examples.setdefault(reason, [])
        if len(self.examples[reason]) < SKIP_EXAMPLES:
            self.examples[reason].append(where)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def _open_binary(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return path.open("rb")


def _is_json_lines(path: Path) -> bool:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    return name.endswith(JSON_SUFFIXES)


def _decode_lines(path: Path, cfg: PrepareConfig, stats: ReadStats) -> Iterator[tuple[int, str | None]]:
    """(line number, text) of a file; ``None`` text for a blank line; bad lines skipped and counted."""
    max_bytes = cfg.max_line_chars * 4
    try:
        handle = _open_binary(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: corpus file not found") from None
    with handle:
        number = 0
        try:
            for number, raw in enumerate(handle, start=1):
                stats.lines += 1
                where = f"{path}:{number}"
                if len(raw) > max_bytes:
                    stats.skip("line_too_long", where)
                    continue
                if b"\x00" in raw:
                    stats.skip("nul_bytes", where)
                    continue
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    stats.skip("invalid_utf8", where)
                    continue
                if len(line) > cfg.max_line_chars:
                    stats.skip("line_too_long", where)
                    continue
                yield number, (line if line.strip() else None)
        except (OSError, EOFError) as err:  # truncated gzip and the like: keep what was read
            stats.skip("unreadable_rest_of_file", f"{path}:{number + 1} ({err})")


class _Cleaner:
    def __init__(self, cfg: PrepareConfig, stats: ReadStats):
        self.cfg, self.stats = cfg, stats
        self.seen: set[bytes] = set()

    def paragraph(self, line: str, where: str) -> list[str]:
        text = clean_text(line)
        if not text:
            self.stats.skip("empty_after_cleaning", where)
            return []
        if text_ratio(text) < self.cfg.min_text_ratio:
            self.stats.skip("mostly_non_text", where)
            return []
        if self.cfg.dedupe:
            key = hashlib.blake2b(text.encode("utf-8"), digest_size=12).digest()
            if key in self.seen:
                self.stats.skip("duplicate_line", where)
                return []
            self.seen.add(key)
        self.stats.paragraphs += 1
        self.stats.chars += len(text)
        return split_sentences(text)


def iter_documents(sources: Sequence[str | Path], cfg: PrepareConfig, stats: ReadStats,
                   texts: Sequence[str] | None = None) -> Iterator[dict]:
    """Documents ``{"doc_id", "sentences"}`` from files (or from ``texts``, one document each)."""
    cleaner = _Cleaner(cfg, stats)
    doc_id = 0

    def emit(sentences: list[str]):
        nonlocal doc_id
        stats.documents += 1
        stats.sentences += len(sentences)
        doc = {"doc_id": doc_id, "sentences": sentences}
        doc_id += 1
        return doc

    if texts is not None:
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                stats.skip("not_a_string", f"texts[{i}]")
                continue
            sentences = [s for line in text.split("\n") for s in cleaner.paragraph(line, f"texts[{i}]")]
            if sentences:
                yield emit(sentences)
        return
    for source in sources:
        path = Path(source)
        stats.files += 1
        if _is_json_lines(path):
            for number, line in _decode_lines(path, cfg, stats):
                if line is None:
                    continue
                where = f"{path}:{number}"
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    stats.skip("bad_json", where)
                    continue
                text = record.get(cfg.text_field) if isinstance(record, dict) else None
                if not isinstance(text, str):
                    stats.skip(f"no_{cfg.text_field}_field", where)
                    continue
                sentences = [s for para in text.split("\n") for s in cleaner.paragraph(para, where)]
                if sentences:
                    yield emit(sentences)
        else:
            current: list[str] = []
            for number, line in _decode_lines(path, cfg, stats):
                if line is None or (cfg.line_is_document and current):  # a document ends
                    if current:
                        yield emit(current)
                        current = []
                    if line is None:
                        continue
                current.extend(cleaner.paragraph(line, f"{path}:{number}"))
            if current:
                yield emit(current)


# ---------------------------------------------------------------------------------------------
# Tokenising, word ids, packing
# ---------------------------------------------------------------------------------------------


class RecordBuilder:
    """Turns batches of documents into packed records (the function given to ``datasets.map``)."""

    def __init__(self, tokenizer, segmenter: Segmenter, cfg: PrepareConfig):
        self.tokenizer = tokenizer
        self.segmenter = segmenter
        self.cfg = cfg
        self.limit = cfg.max_length - 3  # [CLS] A [SEP] B [SEP] once a sentence task splits a record

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_pool"] = None
        return state

    def __call__(self, batch: dict) -> dict:
        sentences = [s for doc in batch["sentences"] for s in doc]
        # WordPiece runs in Rust without the GIL: tokenise in a thread while jieba segments here
        if getattr(self, "_pool", None) is None:
            self._pool = ThreadPoolExecutor(max_workers=1)
        pending = self._pool.submit(self.tokenizer.encode_arrays, sentences)
        spans = [self.segmenter.segment(s) for s in sentences]
        enc = pending.result()
        words, aligned = batch_word_ids(sentences, spans, enc["offsets"], enc["lengths"])
        bounds = np.concatenate(([0], np.cumsum(enc["lengths"])))
        out = {k: [] for k in record_features()}
        k = 0
        for doc_id, doc in zip(batch["doc_id"], batch["sentences"]):
            units = []
            for _ in doc:
                units.extend(self._fit(int(bounds[k]), int(bounds[k + 1]), words, not aligned[k]))
                k += 1
            self._pack(int(doc_id), units, enc, words, out)
        return out

    def _fit(self, start: int, end: int, words: np.ndarray, fallback: bool) -> list[list]:
        """A sentence (tokens start..end) as units of at most ``limit`` tokens, cut between words:
        ``[start, end, fallback, words_cut]``."""
        units = []
        while start < end:
            stop = min(start + self.limit, end)
            cut_word = 0
            if stop < end:
                cut = stop
                while cut > start and words[cut] == words[cut - 1]:
                    cut -= 1
                if cut == start:  # one word longer than a record: cut it (counted)
                    cut_word = 1
                else:
                    stop = cut
            units.append([start, stop, int(fallback), cut_word])
            fallback = False
            start = stop
        return units

    def _pack(self, doc_id: int, units: list[list], enc: dict, words: np.ndarray, out: dict) -> None:
        tok = self.tokenizer
        rng = random.Random(self.cfg.seed * 1_000_003 + doc_id)
        ids_all, rows_all = enc["input_ids"], enc["pinyin_ids"]
        zero_row = np.zeros((1, PINYIN_SLOTS), dtype=np.int8)
        i = 0
        while i < len(units):
            packed = rng.random() < self.cfg.packed_ratio
            group, size = [units[i]], units[i][1] - units[i][0]
            i += 1
            while packed and i < len(units) and size + units[i][1] - units[i][0] <= self.limit:
                group.append(units[i])
                size += units[i][1] - units[i][0]
                i += 1
            index = np.concatenate([np.arange(a, b) for a, b, _, _ in group])
            local = [words[a:b] - words[a] for a, b, _, _ in group]  # each unit's words from 0
            shift = np.cumsum([0] + [int(w[-1]) + 1 for w in local[:-1]])
            word_ids = np.concatenate([[-1]] + [w + s for w, s in zip(local, shift)] + [[-1]])
            ids = np.concatenate(([tok.cls_token_id], ids_all[index], [tok.sep_token_id])).astype(np.int32)
            out["input_ids"].append(ids)
            out["token_type_ids"].append(np.zeros(len(ids), dtype=np.int8))
            out["pinyin_ids"].append(np.concatenate((zero_row, rows_all[index], zero_row)))
            out["word_ids"].append(word_ids.astype(np.int32))
            out["sentence_starts"].append(1 + np.cumsum([0] + [b - a for a, b, _, _ in group[:-1]]).astype(np.int32))
            out["doc_id"].append(doc_id)
            out["_tokens"].append(len(ids) - 2)
            out["_unk"].append(int(np.count_nonzero(ids == tok.unk_token_id)))
            out["_fallback"].append(sum(u[2] for u in group))
            out["_split_words"].append(sum(u[3] for u in group))


def batch_word_ids(texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], offsets: np.ndarray,
                   lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Word ids (from 0 in each text) of the tokens of many texts at once.

    A token belongs to the word that holds its characters; a token outside every word is a word
    of its own. In a text where a token straddles a word boundary every token gets its own id
    (``aligned[k]`` is False: character masking for that text).
    """
    n_text = len(texts)
    base = np.concatenate(([0], np.cumsum([len(t) + 1 for t in texts])))
    owner = np.repeat(np.arange(n_text), lengths)  # text of each token
    starts = offsets[:, 0] + base[owner]
    ends = offsets[:, 1] + base[owner]
    counts = [len(sp) for sp in spans]
    flat = np.array([x for sp in spans for pair in sp for x in pair], dtype=np.int64).reshape(-1, 2)
    flat += np.repeat(base[:-1], counts)[:, None]
    w_start, w_end = flat[:, 0], flat[:, 1]

    def word_of(chars):
        k = np.searchsorted(w_start, chars, side="right") - 1
        ok = (k >= 0) & (chars < w_end[np.maximum(k, 0)]) if len(w_start) else np.zeros(len(chars), bool)
        return np.where(ok, k, -1)

    first, last = word_of(starts), word_of(ends - 1)
    aligned = np.bincount(owner, weights=(first != last), minlength=n_text) == 0
    token = np.arange(len(starts))
    text_first = np.concatenate(([0], np.cumsum(lengths)))[:-1]
    key = np.where((first >= 0) & aligned[owner], first, -1 - token)  # outside words, or fallback: own word
    new_word = np.ones(len(key), dtype=bool)
    new_word[1:] = key[1:] != key[:-1]
    new_word[text_first[lengths > 0]] = True
    count = np.cumsum(new_word)
    before = np.concatenate(([0], count))[text_first]  # words counted before each text
    return count - 1 - np.repeat(before, lengths), aligned


def record_features():
    from datasets import Features, Sequence, Value

    return Features(
        {
            "input_ids": Sequence(Value("int32")),
            "token_type_ids": Sequence(Value("int8")),
            "pinyin_ids": Sequence(Sequence(Value("int8"))),
            "word_ids": Sequence(Value("int32")),
            "sentence_starts": Sequence(Value("int32")),
            "doc_id": Value("int64"),
            "_tokens": Value("int32"),
            "_unk": Value("int32"),
            "_fallback": Value("int32"),
            "_split_words": Value("int32"),
        }
    )


# ---------------------------------------------------------------------------------------------
# The whole pipeline
# ---------------------------------------------------------------------------------------------


def _split_inputs(inputs: Sequence[str | Path] | str) -> tuple[list[Path], list[str] | None]:
    """Files or raw texts? Existing files (or names that look like corpus files) are files."""
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    inputs = list(inputs)
    def is_file(x: str) -> bool:
        try:
            return Path(x).is_file()
        except OSError:  # e.g. a long text is not a valid file name
            return False

    looks_like_file = [
        isinstance(x, Path) or (isinstance(x, str) and "\n" not in x and len(x) < 4096
                                and (x.endswith((".txt", ".gz") + JSON_SUFFIXES) or is_file(x)))
        for x in inputs
    ]
    if inputs and all(looks_like_file):
        files = [Path(x) for x in inputs]
        for f in files:
            if not f.is_file():
                raise FileNotFoundError(f"{f}: corpus file not found")
        return files, None
    if any(looks_like_file):
        bad = next(x for x, f in zip(inputs, looks_like_file) if f)
        raise ValueError(f"inputs mix files ({bad!r}) and raw texts; pass either file paths or texts")
    return [], [str(x) if not isinstance(x, str) else x for x in inputs]


def _fingerprint(files: Sequence[Path], texts: Sequence[str] | None, cfg: PrepareConfig, extra: str) -> str:
    h = hashlib.sha256(f"v{FORMAT_VERSION}|{json.dumps(asdict(cfg), sort_keys=True)}|{extra}".encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    for t in texts or []:
        h.update(hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=16).digest())
    return h.hexdigest()[:32]


def source_manifest(files: Sequence[Path]) -> list[dict]:
    """Path, size and modification time of each input (what staleness checks compare)."""
    return [{"path": str(f.resolve()), "size": f.stat().st_size, "mtime_ns": f.stat().st_mtime_ns} for f in files]


def tokenizer_digest(tokenizer) -> str:
    vocab = "\n".join(tokenizer.ordered_vocab())
    return hashlib.sha256(f"{vocab}|{tokenizer.normalize_text}|{tokenizer.do_lower_case}".encode()).hexdigest()[:16]


def prepare_corpus(
    inputs: Sequence[str | Path] | str,
    tokenizer,
    segmenter: Segmenter | None = None,
    max_length: int = 512,
    num_proc: int | None = None,
    output_dir: str | Path | None = None,
    streaming: bool = False,
    config: PrepareConfig | None = None,
    cache_dir: str | None = None,
    num_shards: int | None = None,
    progress: bool = True,
    **options,
):
    """Prepare records for pretraining; returns a ``datasets.Dataset`` (``IterableDataset`` when
    ``streaming``) whose ``.info.description`` holds nothing and whose summary is in
    ``dataset.prepare_summary`` (also written to ``output_dir/prepare_meta.json``).

    ``inputs``: corpus files (``.txt``, ``.jsonl``, ``.gz``) or raw texts (one document each).
    ``options`` are :class:`PrepareConfig` fields (``packed_ratio``, ``text_field`` ...).
    """
    import datasets

    cfg = config or PrepareConfig(max_length=max_length, **options)
    segmenter = segmenter or get_segmenter("jieba")
    files, texts = _split_inputs(inputs)
    stats = ReadStats()
    builder = RecordBuilder(tokenizer, segmenter, cfg)
    started = time.perf_counter()
    doc_features = datasets.Features(
        {"doc_id": datasets.Value("int64"), "sentences": datasets.Sequence(datasets.Value("string"))}
    )
    if not progress:
        datasets.disable_progress_bars()

    def gen():
        yield from iter_documents(files, cfg, stats, texts)

    if streaming:
        docs = datasets.IterableDataset.from_generator(gen, features=doc_features)
        records = docs.map(builder, batched=True, batch_size=64, remove_columns=["sentences"])
        records = records.remove_columns(["_tokens", "_unk", "_fallback", "_split_words"])
        records.prepare_summary = {"streaming": True, "config": asdict(cfg)}
        return records

    fp = _fingerprint(files, texts, cfg, f"{tokenizer_digest(tokenizer)}|{type(segmenter).__name__}|{vars(segmenter)!r}")
    # reading is sequential and cheap next to segmentation: it always runs, so its counts are exact
    docs = datasets.Dataset.from_generator(gen, features=doc_features, cache_dir=cache_dir,
                                           fingerprint=f"docs-{fp}-{time.time_ns()}")
    records = docs.map(
        builder,
        batched=True,
        batch_size=64,
        num_proc=num_proc if num_proc and num_proc > 1 and len(docs) >= num_proc else None,
        remove_columns=["sentences"],
        features=record_features(),
        new_fingerprint=f"records-{fp}",
        desc="segment, tokenise, pack",
    )
    summary = _summary(records, stats, cfg, time.perf_counter() - started, files, texts, tokenizer, segmenter)
    records = records.remove_columns(["_tokens", "_unk", "_fallback", "_split_words"])
    if output_dir is not None:
        output_dir = Path(output_dir)
        records.save_to_disk(str(output_dir), num_shards=num_shards, num_proc=None)
        (output_dir / PREPARE_META).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if not progress:
        datasets.enable_progress_bars()
    records.prepare_summary = summary
    return records


def _summary(records, stats: ReadStats, cfg, seconds, files, texts, tokenizer, segmenter) -> dict:
    tokens = int(np.sum(records["_tokens"])) if len(records) else 0
    unk = int(np.sum(records["_unk"])) if len(records) else 0
    lengths = np.asarray(records["_tokens"]) + 2 if len(records) else np.zeros(0)
    return {
        "format_version": FORMAT_VERSION,
        "config": asdict(cfg),
        "sources": source_manifest(files) if files else [{"texts": len(texts or [])}],
        "tokenizer": tokenizer_digest(tokenizer),
        "segmenter": getattr(segmenter, "name", type(segmenter).__name__),
        "files": stats.files,
        "lines": stats.lines,
        "documents": stats.documents,
        "paragraphs": stats.paragraphs,
        "sentences": stats.sentences,
        "chars": stats.chars,
        "records": len(records),
        "tokens": tokens,
        "unk_rate": unk / max(tokens, 1),
        "mean_record_length": float(lengths.mean()) if len(lengths) else 0.0,
        "char_masking_fallbacks": int(np.sum(records["_fallback"])) if len(records) else 0,
        "words_cut_at_record_end": int(np.sum(records["_split_words"])) if len(records) else 0,
        "skipped": dict(stats.skipped),
        "skip_examples": stats.examples,
        "seconds": seconds,
        "chars_per_s": stats.chars / max(seconds, 1e-9),
    }


def format_summary(summary: dict) -> str:
    lines = [
        f"{summary['documents']} documents, {summary['sentences']} sentences, {summary['records']} records, "
        f"{summary['tokens']} tokens ([UNK] {summary['unk_rate']:.4%}) in {summary['seconds']:.1f}s "
        f"({summary['chars_per_s']:.0f} chars/s)",
    ]
    if summary.get("char_masking_fallbacks"):
        lines.append(f"{summary['char_masking_fallbacks']} sentences whose tokens straddle words: char masking")
    for reason, count in sorted(summary.get("skipped", {}).items()):
        where = ", ".join(summary.get("skip_examples", {}).get(reason, []))
        lines.append(f"skipped {count} x {reason}" + (f" (e.g. {where})" if where else ""))
    return "\n".join(lines)


def is_prepared(output_dir: str | Path, files: Sequence[str | Path], tokenizer, cfg: PrepareConfig) -> bool:
    """True when ``output_dir`` holds records prepared from these files (same size and mtime),
    this tokenizer and these options: nothing to redo."""
    meta_path = Path(output_dir) / PREPARE_META
    if not meta_path.is_file():
        return False
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return False
    return (
        meta.get("format_version") == FORMAT_VERSION
        and meta.get("config") == asdict(cfg)
        and meta.get("tokenizer") == tokenizer_digest(tokenizer)
        and meta.get("sources") == source_manifest([Path(f) for f in files])
    )


def main(argv: list[str] | None = None) -> dict:
    """``chinese-ptm prepare FILES... --out DIR``."""
    parser = argparse.ArgumentParser(prog="chinese-ptm prepare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", help="corpus files (.txt, .jsonl, .gz); default: People's Daily 1998")
    parser.add_argument("--out", required=True, help="output directory (datasets save_to_disk)")
    parser.add_argument("--tokenizer", default=None, help="tokenizer directory (default: vocab/)")
    parser.add_argument("--segmenter", default="jieba", help="jieba | pkuseg | ltp")
    parser.add_argument("--hmm", action="store_true", help="jieba: use the HMM for unknown words")
    parser.add_argument("--user-dict", action="append", default=[], help="jieba user dictionary (repeatable)")
    parser.add_argument("--ltp-model", default=None, help="ltp: local model directory")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--packed-ratio", type=float, default=0.9)
    parser.add_argument("--text-field", default="text")
    parser.add_argument("--num-proc", type=int, default=1)
    parser.add_argument("--num-shards", type=int, default=None)
    parser.add_argument("--no-dedupe", action="store_true", help="keep repeated identical lines")
    parser.add_argument("--line-is-document", action="store_true",
                        help="one document per line (default: a blank line ends a document)")
    args = parser.parse_args(argv)

    from .tokenization import load_tokenizer

    files = args.files
    line_is_document = args.line_is_document
    if not files:  # the embedded corpus: paragraphs without article boundaries, one document each
        files = [str(peoples_daily_lines_file(Path(args.out).parent / "_corpus"))]
        line_is_document = True
    options = {}
    if args.segmenter == "jieba":
        options = {"hmm": args.hmm, "user_dicts": args.user_dict}
    elif args.segmenter == "ltp":
        options = {"model_path": args.ltp_model}
    try:
        segmenter = get_segmenter(args.segmenter, **options)
        cfg = PrepareConfig(max_length=args.max_length, packed_ratio=args.packed_ratio, text_field=args.text_field,
                            dedupe=not args.no_dedupe, line_is_document=line_is_document)
        ds = prepare_corpus(files, load_tokenizer(args.tokenizer), segmenter=segmenter, config=cfg,
                            num_proc=args.num_proc, output_dir=args.out, num_shards=args.num_shards)
    except (FileNotFoundError, ValueError, ImportError) as err:
        print(f"chinese-ptm prepare: error: {err}", file=sys.stderr)
        return 1
    print(format_summary(ds.prepare_summary))
    print(f"saved {len(ds)} records to {args.out}")
    return ds.prepare_summary


def peoples_daily_lines_file(directory: Path) -> Path:
    """The embedded corpus as a plain text file (one paragraph per line), written once."""
    from .corpora import peoples_daily_lines

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "peoples_daily_1998.txt"
    if not path.is_file():
        tmp = path.with_suffix(".tmp")
        tmp.write_text("\n".join(peoples_daily_lines()) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    return path
