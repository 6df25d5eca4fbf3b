"""Corpus preparation (:func:`prepare_corpus`): files or texts -> documents -> segmented, tokenised, packed records;
its summary, staleness check and the embedded default corpus. The package docstring describes the records."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import datasets
import pyarrow.compute as pc

from ..text.segmentation import Segmenter, get_segmenter
from .corpora import peoples_daily_lines, review_splits
from .reading import (
    FORMAT_VERSION,
    PREPARE_META,
    PrepareConfig,
    ReadStats,
    _split_inputs,
    iter_documents,
)
from .records import RecordBuilder


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


def tokenizer_digest(tokenizer, open_glyphs: bool | None = None) -> str:
    """What the records depend on in a tokenizer: its vocabulary and options (open glyphs only when on, so that
    records prepared before the option existed stay valid; ``open_glyphs`` overrides the tokenizer's)."""
    vocab = "\n".join(tokenizer.ordered_vocab())
    if open_glyphs is None:
        open_glyphs = getattr(tokenizer, "open_glyphs", False)
    opened = "|open_glyphs" if open_glyphs else ""
    text = f"{vocab}|{tokenizer.normalize_text}|{tokenizer.do_lower_case}{opened}"
    if getattr(tokenizer, "_cuts_words", False):  # words: also how texts are cut
        text += f"|{type(tokenizer).__name__}|{tokenizer.init_kwargs.get('segmenter_hmm')}"
        text += f"|{tokenizer.init_kwargs.get('segmenter_dict_sha256')}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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
    cfg = config or PrepareConfig(max_length=max_length, **options)
    if getattr(tokenizer, "_cuts_words", False):  # word tokens: the masking units are the cut that made them
        segmenter = tokenizer.segmenter
    segmenter = segmenter or get_segmenter("jieba")
    files, texts = _split_inputs(inputs)
    stats = ReadStats()
    builder = RecordBuilder(tokenizer, segmenter, cfg)
    reading = {"seconds": 0.0}  # reading, cleaning and sentence splitting, for the stage breakdown

    def documents():
        yield from _timed(iter_documents(files, cfg, stats, texts), reading)

    if streaming:
        return _streamed_records(documents, builder, cfg)
    if not progress:
        datasets.disable_progress_bars()
    fp = _fingerprint(
        files, texts, cfg, f"{tokenizer_digest(tokenizer)}|{type(segmenter).__name__}|{vars(segmenter)!r}"
    )
    output_dir, staging = _staging(output_dir)
    cache_dir = cache_dir or staging
    try:
        records, summary = _built_records(documents, builder, cfg, fp, cache_dir, num_proc)
        summary.update(
            _summary(summary.pop("_totals"), stats, cfg, summary.pop("_seconds"), files, texts, tokenizer, segmenter)
        )
        if not (num_proc and num_proc > 1):  # the builder ran here: where the time went
            summary["stage_seconds"] = _stage_seconds(reading["seconds"], builder.seconds, summary["seconds"])
        if output_dir is not None:
            records = _save(records, summary, Path(staging) / "records", output_dir, num_shards)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if not progress:
            datasets.enable_progress_bars()
    records.prepare_summary = summary
    return records


def _staging(output_dir):
    """(the output folder, a staging folder beside it) where records are saved: intermediate Arrow files and the
    saved records live beside the output until it is complete. (None, None) when nothing is saved."""
    if output_dir is None:
        return None, None
    output_dir = Path(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    return output_dir, tempfile.mkdtemp(prefix=f".{output_dir.name}.prepare-", dir=output_dir.parent)


def _document_features():
    return datasets.Features(
        {"doc_id": datasets.Value("int64"), "sentences": datasets.Sequence(datasets.Value("string"))}
    )


def _streamed_records(documents, builder: RecordBuilder, cfg: PrepareConfig):
    """Records built as they are read (``streaming``): no counts, no saving."""
    docs = datasets.IterableDataset.from_generator(documents, features=_document_features())
    records = docs.map(builder.as_columns, batched=True, batch_size=64, remove_columns=["sentences"])
    records = records.remove_columns(list(COUNT_COLUMNS))
    records.prepare_summary = {"streaming": True, "config": asdict(cfg)}
    return records


def _built_records(documents, builder: RecordBuilder, cfg: PrepareConfig, fp: str, cache_dir, num_proc):
    """(records without their count columns, {"_totals": counts, "_seconds": time taken})."""
    started = time.perf_counter()
    # reading is sequential and cheap next to segmentation: it always runs, so its counts are exact
    docs = datasets.Dataset.from_generator(
        documents, features=_document_features(), cache_dir=cache_dir, fingerprint=f"docs-{fp}-{time.time_ns()}"
    )
    records = docs.map(
        builder,
        batched=True,
        batch_size=64,
        num_proc=num_proc if num_proc and num_proc > 1 and len(docs) >= num_proc else None,
        remove_columns=["sentences"],
        features=builder.features,
        new_fingerprint=f"records-{fp}",
        desc="segment, tokenise, pack",
    )
    totals = count_totals(records.data)
    return records.remove_columns(list(COUNT_COLUMNS)), {"_totals": totals, "_seconds": time.perf_counter() - started}


def _timed(documents, seconds: dict):
    """The documents, adding the time spent producing them to ``seconds["seconds"]``."""
    while True:
        start = time.perf_counter()
        document = next(documents, None)
        seconds["seconds"] += time.perf_counter() - start
        if document is None:
            return
        yield document


def _save(records, summary: dict, complete: Path, output_dir: Path, num_shards: int | None):
    """Write the records and their summary beside ``output_dir``, move them into place, and read them back."""
    import datasets

    records.save_to_disk(str(complete), num_shards=num_shards, num_proc=None)
    (complete / PREPARE_META).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _replace_dir(complete, output_dir)
    return datasets.load_from_disk(str(output_dir))


def _replace_dir(complete: Path, output_dir: Path) -> None:
    """Move finished records into place: a reader sees the old records, none, or the new ones
    with their ``prepare_meta.json``, never a half-written folder that looks complete."""
    old = None
    if output_dir.exists():
        old = output_dir.with_name(f".{output_dir.name}.old-{os.getpid()}-{time.time_ns()}")
        os.replace(output_dir, old)
    os.replace(complete, output_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


#: per-record counts the builder adds for the summary (dropped from the saved records)
#: the Parquet shards of ``--engine ray`` (read back in name order: the order of the input files)
SHARD_PATTERN, SHARD_GLOB = "part-{:05d}.parquet", "part-*.parquet"

COUNT_COLUMNS = ("_tokens", "_unk", "_fallback", "_split_words")


def count_totals(table) -> dict:
    """Sums of the count columns of a records table (in Arrow: a Python list per column costs seconds)."""
    return {name: int(pc.sum(table.column(name)).as_py() or 0) for name in COUNT_COLUMNS} | {"records": len(table)}


def _summary(totals: dict, stats: ReadStats, cfg, seconds, files, texts, tokenizer, segmenter) -> dict:
    tokens, records = totals["_tokens"], totals["records"]
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
        "records": records,
        "tokens": tokens,
        "unk_rate": totals["_unk"] / max(tokens, 1),
        "mean_record_length": tokens / records + 2 if records else 0.0,
        "char_masking_fallbacks": totals["_fallback"],
        "words_cut_at_record_end": totals["_split_words"],
        "skipped": dict(stats.skipped),
        "skip_examples": stats.examples,
        "seconds": seconds,
        "chars_per_s": stats.chars / max(seconds, 1e-9),
    }


def _stage_seconds(read: float, built: dict, total: float) -> dict:
    """Seconds per stage of preparation; ``arrow_io_and_other``: writing the Arrow files, datasets' own work."""
    stages = {"read_clean_split": read, **built}
    return {**stages, "arrow_io_and_other": max(total - sum(stages.values()), 0.0)}


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
    if not meta_path.is_file() or not all(Path(f).is_file() for f in files):
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


def load_prepared(directory: str | Path):
    """Prepared records from either engine: a ``save_to_disk`` folder, or the Parquet shards of ``--engine ray``
    (read in name order: the order of the input files)."""
    import datasets

    shards = sorted(Path(directory).glob(SHARD_GLOB))
    if shards:
        return datasets.load_dataset("parquet", data_files=[str(p) for p in shards], split="train")
    return datasets.load_from_disk(str(directory))


EMBEDDED_CORPUS_FILE = "embedded_train.txt"


def embedded_corpus_lines() -> list[str]:
    """The default pretraining corpus: the train texts of the review-sentiment task (no labels), then People's
    Daily 1998 without the NER task's dev and test lines. Nothing a task is tested on; the People's Daily part
    comes last, so the held-out records (the corpus' end) are news, as before reviews were added."""

    return [text for text, _ in review_splits()["train"]] + peoples_daily_lines(splits=("train",))


def embedded_corpus_file(directory: Path) -> Path:
    """The embedded corpus as a plain text file (one paragraph or review per line), written once: its size
    and modification time are part of the prepared records' staleness check."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / EMBEDDED_CORPUS_FILE
    if not path.is_file():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text("\n".join(embedded_corpus_lines()) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    return path
