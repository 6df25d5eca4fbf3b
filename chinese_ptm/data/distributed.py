"""Corpus preparation on a Ray cluster: the records of :func:`~chinese_ptm.data.prepare_corpus`, in the same
order, as Parquet shards (``chinese-ptm prepare FILES --out DIR --engine ray [--address ADDR]``).

Three passes, the unit of work being one input file (give a large corpus as many files):

1. *read* (Ray Data, one task per file): the file's paragraphs, cleaned and split into sentences, each with its
   deduplication key, written to a Parquet file, and the file's counts of what was skipped;
2. *deduplicate* (the driver): the keys in file order, keeping the first of identical paragraphs as one process
   does, and which documents survive, hence every document's id (only 12-byte keys and counts are read);
3. *build* (Ray Data, one task per file): the file's surviving documents, with their ids, through the same
   :class:`~chinese_ptm.data.records.RecordBuilder`, written as the file's shard of records.

Records depend only on their document and its id, so the shards concatenated in file order are the records of
one process, and the counts add up to its counts. Every task writes its file under a temporary name and renames
it when complete: a task that Ray retries after its worker died writes the same file again, so no record is lost
or duplicated. The staging folder lies beside ``--out``, which must be on a filesystem every node sees.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Sequence

from .prepare import COUNT_COLUMNS, PREPARE_META, SHARD_PATTERN, _replace_dir, _summary, count_totals
from .reading import CorpusError, Deduplicator, Paragraph, PrepareConfig, ReadStats, documents_of, file_paragraphs
from .records import RecordBuilder

PARAGRAPHS_DIR = "paragraphs"
BUILD_BATCH = 64  # documents per RecordBuilder call, as prepare_corpus's datasets.map


def prepare_with_ray(
    files: Sequence[str | Path],
    tokenizer,
    segmenter,
    cfg: PrepareConfig,
    output_dir: str | Path,
    address: str | None = None,
) -> dict:
    """Prepare ``files`` on the Ray cluster at ``address`` (a local one when None and none is running); writes
    the shards and ``prepare_meta.json`` to ``output_dir`` and returns the summary."""
    import ray

    paths = [Path(f).resolve() for f in files]
    for path in paths:
        if not path.is_file():
            raise CorpusError(f"{path}: corpus file not found")
    output_dir = Path(output_dir).resolve()
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.prepare-", dir=output_dir.parent))
    started = time.perf_counter()
    if not ray.is_initialized():
        ray.init(address=address, logging_level="WARNING", log_to_driver=False)
    try:
        read = _run_per_file(
            partial(_read_file, cfg=cfg, staging=str(staging)),
            [{"index": i, "path": str(p)} for i, p in enumerate(paths)],
        )
        stats, plans = _deduplicate(paths, read, staging, cfg)
        built = _run_per_file(
            partial(_build_file, tokenizer=tokenizer, segmenter=segmenter, cfg=cfg, staging=str(staging)), plans
        )
        totals = {name: sum(row["totals"][name] for row in built) for name in built[0]["totals"]}
        _as_given(stats, paths, files)
        summary = _summary(totals, stats, cfg, time.perf_counter() - started, paths, None, tokenizer, segmenter)
        seconds = {name: sum(row["seconds"][name] for row in built) for name in built[0]["seconds"]}
        # task seconds summed over the workers (their Parquet writing is not timed)
        summary["stage_seconds"] = {"read_clean_split": sum(row["seconds"] for row in read), **seconds}
        summary["engine"] = {"name": "ray", "task_cpu_seconds_summed": True, "files": len(paths)}
        complete = staging / "records"
        complete.mkdir(exist_ok=True)
        (complete / PREPARE_META).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _replace_dir(complete, output_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return summary


def _as_given(stats, resolved: list[Path], given: list) -> None:
    """Name the files in skip examples as the user gave them (the local engine does): the workers read them by
    absolute path, which every node of a cluster can open."""
    names = {str(path): str(name) for path, name in zip(resolved, given)}
    for reason, wheres in stats.examples.items():
        stats.examples[reason] = [_renamed(where, names) for where in wheres]


def _renamed(where: str, names: dict[str, str]) -> str:
    path, sep, rest = where.rpartition(":")
    while path and path not in names and ":" in path:  # "file:line (error)" may hold more colons
        path, _, head = path.rpartition(":")
        rest = f"{head}:{rest}"
    return f"{names[path]}{sep}{rest}" if path in names else where


def _run_per_file(function, rows: list[dict]) -> list[dict]:
    """``function`` on every row as its own Ray Data task, results in row order. Ray Data retries a task whose
    worker or node died (its default: without limit); an error of the task itself stops the run."""
    import ray

    if not rows:
        raise CorpusError("no corpus files to prepare")
    _quiet_ray_data()
    dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
    results = dataset.map(function).take_all()
    return sorted(results, key=lambda row: row["index"])


def _quiet_ray_data() -> None:
    """One progress bar per pass and warnings; not Ray Data's INFO lines (plan, executor start, per-operator
    bars), which drown what a preparation says itself."""
    import logging

    import ray

    context = ray.data.DataContext.get_current()
    context.print_on_execution_start = False
    context.enable_operator_progress_bars = False
    context.enable_progress_bars = True
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def _write_atomic(table, path: Path) -> None:
    """Write a Parquet file under a temporary name, then rename it: a reader never sees half a file, and a
    retried task simply writes it again."""
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


# -- pass 1: read ----------------------------------------------------------------------------------------------
def _read_file(row: dict, cfg: PrepareConfig, staging: str) -> dict:
    import pyarrow as pa

    start = time.perf_counter()
    stats = ReadStats()
    paragraphs = list(file_paragraphs(Path(row["path"]), cfg, stats))
    columns = {
        "document": [p.document for p in paragraphs],
        "line": [p.line for p in paragraphs],
        "sentences": [p.sentences for p in paragraphs],
        "chars": [p.chars for p in paragraphs],
        "key": [p.key for p in paragraphs],
        "sentence_count": [len(p.sentences) for p in paragraphs],
    }
    folder = Path(staging) / PARAGRAPHS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomic(pa.table(columns, schema=paragraph_schema()), folder / SHARD_PATTERN.format(row["index"]))
    return {"index": row["index"], "stats": json.dumps(stats.as_dict()), "seconds": time.perf_counter() - start}


def paragraph_schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("document", pa.int64()),
            ("line", pa.int64()),
            ("sentences", pa.list_(pa.string())),
            ("chars", pa.int64()),
            ("key", pa.binary()),
            ("sentence_count", pa.int64()),
        ]
    )


def _paragraphs(staging: Path, index: int, with_text: bool) -> list[Paragraph]:
    """A file's paragraphs from pass 1; without their text (the driver's pass) each sentence is a placeholder."""
    import pyarrow.parquet as pq

    columns = ["document", "line", "chars", "key", "sentences" if with_text else "sentence_count"]
    table = pq.read_table(staging / PARAGRAPHS_DIR / SHARD_PATTERN.format(index), columns=columns).to_pydict()
    sentences = table["sentences"] if with_text else [[""] * n for n in table["sentence_count"]]
    return [
        Paragraph(d, line, s, c, k)
        for d, line, s, c, k in zip(table["document"], table["line"], sentences, table["chars"], table["key"])
    ]


# -- pass 2: deduplicate ---------------------------------------------------------------------------------------
def _deduplicate(paths: list[Path], read: list[dict], staging: Path, cfg: PrepareConfig):
    """The counts of one process and, per file, which paragraphs stay and the id of its first document."""
    stats = ReadStats()
    dedupe = Deduplicator(cfg, stats)
    plans, doc_id = [], 0
    for path, row in zip(paths, read):
        stats.add(json.loads(row["stats"]))
        kept: list[bool] = []

        def keep(paragraph, path=path, kept=kept):
            kept.append(dedupe.keep(paragraph.key, f"{path}:{paragraph.line}"))
            return kept[-1]

        paragraphs = _paragraphs(staging, row["index"], with_text=False)
        first = doc_id
        doc_id += sum(1 for _ in documents_of(paragraphs, stats, keep))
        plans.append({"index": row["index"], "first_doc_id": first, "keep": kept})
    return stats, plans


# -- pass 3: build ---------------------------------------------------------------------------------------------
def _build_file(plan: dict, tokenizer, segmenter, cfg: PrepareConfig, staging: str) -> dict:
    import pyarrow as pa

    staging = Path(staging)
    builder = RecordBuilder(tokenizer, segmenter, cfg)
    keep = iter(plan["keep"])
    documents = list(
        documents_of(_paragraphs(staging, plan["index"], with_text=True), ReadStats(), lambda p: next(keep))
    )
    tables = []
    for start in range(0, len(documents), BUILD_BATCH):
        batch = documents[start : start + BUILD_BATCH]
        ids = list(range(plan["first_doc_id"] + start, plan["first_doc_id"] + start + len(batch)))
        tables.append(builder({"doc_id": ids, "sentences": batch}))
    table = pa.concat_tables(tables) if tables else builder.features.arrow_schema.empty_table()
    totals = count_totals(table)
    folder = staging / "records"
    folder.mkdir(parents=True, exist_ok=True)
    if len(table):  # a file that leaves no record has no shard (readers of Parquet refuse empty files)
        _write_atomic(table.drop_columns(list(COUNT_COLUMNS)), folder / SHARD_PATTERN.format(plan["index"]))
    return {"index": plan["index"], "totals": totals, "seconds": dict(builder.seconds)}
