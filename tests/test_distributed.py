"""Corpus preparation on a local Ray cluster (2 workers): the same records and counts as one process, bad records
skipped and counted alike, a worker killed mid-run retried without a lost or duplicated record, and the shards
read by the pretraining runner's loader."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from chinese_ptm.cli import main  # noqa: E402
from chinese_ptm.data import PrepareConfig, load_prepared, prepare_corpus  # noqa: E402
from chinese_ptm.data.corpora import peoples_daily_lines  # noqa: E402
from chinese_ptm.data.distributed import prepare_with_ray  # noqa: E402
from chinese_ptm.text.segmentation import JiebaSegmenter  # noqa: E402
from chinese_ptm.text.tokenization import load_tokenizer  # noqa: E402

pytestmark = pytest.mark.slow
CONFIG = PrepareConfig(max_length=96, packed_ratio=0.8)
TIMING_KEYS = ("seconds", "chars_per_s", "stage_seconds", "engine")


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    yield
    ray.shutdown()


def write_corpus(directory: Path, files: int, lines_per_file: int) -> list[Path]:
    """Text files of People's Daily paragraphs (documents between blank lines) with duplicates across files and
    bad lines, and a JSON-lines file with a broken and a text-less record."""
    lines = peoples_daily_lines(files * lines_per_file)
    paths = []
    for k in range(files):
        part = lines[k * lines_per_file : (k + 1) * lines_per_file]
        if k == 1:
            part = part[:20] + [lines[3], "", lines[4]] + part[20:]  # repeats lines of file 0
        data = ("\n".join(part[:40]) + "\n\n" + "\n".join(part[40:]) + "\n").encode("utf-8")
        if k == files - 1:
            data += b"\xff\xfe not UTF-8\n" + b"a NUL\x00byte\n" + "\u200b\u200b\n".encode("utf-8")
        paths.append(directory / f"part{k}.txt")
        paths[-1].write_bytes(data)
    records = [{"text": lines[5] + "\n" + "新的一段文字，没有重复。"}, "{broken", {"title": "no text"}]
    paths.append(directory / "extra.jsonl")
    paths[-1].write_text(
        "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records),
        encoding="utf-8",
    )
    return [p.resolve() for p in paths]


def assert_same(single, summary: dict, shards_dir: Path) -> None:
    distributed = load_prepared(shards_dir)
    assert distributed.column_names == single.column_names and len(distributed) == len(single)
    for column in single.column_names:
        assert distributed[column][:] == single[column][:], column
    ours = {k: v for k, v in summary.items() if k not in TIMING_KEYS}
    theirs = {k: v for k, v in single.prepare_summary.items() if k not in TIMING_KEYS}
    assert ours == theirs


def test_ray_records_and_counts_equal_one_process(cluster, tmp_path):
    files = write_corpus(tmp_path, files=3, lines_per_file=120)
    tokenizer, segmenter = load_tokenizer(), JiebaSegmenter()
    single = prepare_corpus(
        files, tokenizer, segmenter=segmenter, config=CONFIG, progress=False, cache_dir=str(tmp_path / "cache")
    )
    summary = prepare_with_ray(files, tokenizer, segmenter, CONFIG, tmp_path / "out")
    assert summary["skipped"]["duplicate_line"] >= 3 and summary["skipped"]["invalid_utf8"] == 1
    assert summary["skipped"]["nul_bytes"] == 1 and summary["skipped"]["bad_json"] == 1
    assert summary["skipped"]["no_text_field"] == 1 and summary["files"] == 4
    assert_same(single, summary, tmp_path / "out")
    assert json.loads((tmp_path / "out" / "prepare_meta.json").read_text())["records"] == len(single)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.prepare-")]  # staging removed


def _kill_a_build_worker(done: threading.Event, killed: list) -> None:
    """SIGKILL the first Ray worker seen building records (its process title names the task)."""
    while not done.is_set() and not killed:
        for pid in os.listdir("/proc"):
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except (OSError, ValueError):
                continue
            if title.startswith("ray::") and "_build_file" in title:
                os.kill(int(pid), signal.SIGKILL)
                killed.append(int(pid))
                return
        time.sleep(0.02)


def test_a_killed_worker_is_retried_without_lost_or_duplicated_records(cluster, tmp_path):
    files = write_corpus(tmp_path, files=6, lines_per_file=150)
    tokenizer, segmenter = load_tokenizer(), JiebaSegmenter()
    single = prepare_corpus(
        files, tokenizer, segmenter=segmenter, config=CONFIG, progress=False, cache_dir=str(tmp_path / "cache")
    )
    done, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_a_build_worker, args=(done, killed))
    killer.start()
    try:
        summary = prepare_with_ray(files, tokenizer, segmenter, CONFIG, tmp_path / "out")
    finally:
        done.set()
        killer.join()
    assert killed, "no worker was building records while the test watched"
    assert_same(single, summary, tmp_path / "out")


def test_cli_and_the_pretraining_loader_read_the_shards(cluster, tmp_path, capsys):
    files = write_corpus(tmp_path, files=2, lines_per_file=60)
    status = main(
        ["prepare", *map(str, files), "--out", str(tmp_path / "shards"), "--engine", "ray", "--max-length", "96"]
    )
    assert status == 0
    summary = {"records": len(load_prepared(tmp_path / "shards"))}
    assert f"saved {summary['records']} records" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "shards").glob("*.parquet")) == [
        f"part-0000{i}.parquet" for i in range(3)
    ]
    from chinese_ptm.pretrain.corpus import prepared_records
    from chinese_ptm.pretrain.recipe import load_recipe

    recipe = load_recipe(
        "chinesebert-tiny",
        {"data.prepared_dir": str(tmp_path / "shards"), "data.max_length": 96, "output_dir": str(tmp_path / "run")},
    )
    train, heldout, meta = prepared_records(recipe, load_tokenizer())
    assert len(train) + len(heldout) == summary["records"] and meta["records"] == summary["records"]


def test_both_engines_name_skipped_lines_as_given_and_ray_data_stays_quiet(cluster, tmp_path, monkeypatch, capfd):
    files = write_corpus(tmp_path, files=3, lines_per_file=60)  # the last file holds lines that are skipped
    monkeypatch.chdir(tmp_path)
    given = [path.name for path in files]  # relative, as a user types them
    tokenizer, segmenter = load_tokenizer(), JiebaSegmenter()
    single = prepare_corpus(
        given, tokenizer, segmenter=segmenter, config=CONFIG, progress=False, cache_dir=str(tmp_path / "cache")
    )
    capfd.readouterr()
    summary = prepare_with_ray(given, tokenizer, segmenter, CONFIG, tmp_path / "out")
    assert summary["skip_examples"] == single.prepare_summary["skip_examples"]
    assert any(where.startswith("part2.txt:") for wheres in summary["skip_examples"].values() for where in wheres)
    printed = capfd.readouterr()
    assert "INFO" not in printed.out + printed.err  # Ray Data's plan and executor lines
