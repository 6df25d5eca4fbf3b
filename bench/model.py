"""GlyceBERT's cost against plain BERT's: training step (forward + backward) and the encoder's inference forward, both with the
MLM head run only at the masked positions (``SparseBertForMaskedLM`` for BERT, ``GlyceBertForMaskedLM`` with
sparse logits), on the same real batches: People's Daily sentences tokenised by our tokenizer (ids and contextual
pinyin), 15% of the positions labelled. Two sizes: ``demo`` (the tiny recipe's 2 x 128, batch 64 x 64) and
``base`` (BERT-base width 768 / 12 heads / 3072 at the given depth, batch 8 x 128). Steps of the two models
alternate after warm-up; reported are median times and their ratio (and the median of per-round ratios, robust
on a shared machine), for GlyceBERT and for its ablations without glyphs and without pinyin. Prints JSON.

    python bench/model.py                       # both sizes
    python bench/model.py --sizes demo --steps 20
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import transformers
from transformers import BertConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from chinese_ptm.data.corpora import peoples_daily_lines  # noqa: E402
from chinese_ptm.glyph import load_glyph_table  # noqa: E402
from chinese_ptm.modeling import GlyceBertConfig, GlyceBertForMaskedLM  # noqa: E402
from chinese_ptm.modeling.losses import IGNORE_INDEX  # noqa: E402
from chinese_ptm.modeling.sparse_bert import SparseBertForMaskedLM  # noqa: E402
from chinese_ptm.text.tokenization import load_tokenizer  # noqa: E402

SIZES = {
    "demo": dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512, batch=64, seq=64),
    "base": dict(
        hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072, batch=8, seq=128
    ),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["demo", "base"], choices=sorted(SIZES))
    parser.add_argument("--base-layers", type=int, default=12, help="depth of the base-width model")
    parser.add_argument("--steps", type=int, default=10, help="measured steps per model (median reported)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def real_batch(tokenizer, batch: int, seq: int, generator: torch.Generator) -> dict:
    """``batch`` News sentences (People's Daily 1998) cut to ``seq`` tokens, 15% of the real tokens labelled."""
    lines = [line for line in peoples_daily_lines(limit=4000) if len(line) >= seq][: batch * 4]
    picked = [lines[i] for i in torch.randperm(len(lines), generator=generator)[:batch].tolist()]
    enc = tokenizer(picked, max_length=seq, truncation=True, padding="max_length", return_tensors="pt")
    real = enc["attention_mask"].bool() & (enc["input_ids"] >= 104)  # not [PAD] [CLS] [SEP] [MASK]
    labelled = real & (torch.rand(enc["input_ids"].shape, generator=generator) < 0.15)
    labels = torch.where(labelled, enc["input_ids"], torch.full_like(enc["input_ids"], IGNORE_INDEX))
    return {**{k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids", "pinyin_ids")}, "labels": labels}


def models(size: dict, vocab: int, glyphs) -> dict:
    dims = {k: v for k, v in size.items() if k not in ("batch", "seq")}
    common = dict(vocab_size=vocab, max_position_embeddings=512, **dims)
    bert = SparseBertForMaskedLM(BertConfig(**common)).train()
    out = {"bert": bert}
    for name, branches in (("glycebert", {}), ("no_glyph", {"use_glyph": False}), ("no_pinyin", {"use_pinyin": False})):
        model = GlyceBertForMaskedLM(GlyceBertConfig(**common, **branches)).train()
        if model.config.use_glyph:
            model.load_glyph_table(glyphs)
        out[name] = model
    return out


def timed(model, inputs: dict, train: bool) -> float:
    start = time.perf_counter()
    if train:
        model(**inputs).loss.backward()
        model.zero_grad(set_to_none=True)
    else:  # inference as fine-tuned heads and pipelines run it: the encoder's forward
        with torch.no_grad():
            model.base_model(**{k: v for k, v in inputs.items() if k != "labels"})
    return time.perf_counter() - start


def measure(args, name: str, tokenizer, glyphs) -> dict:
    size = dict(SIZES[name])
    if name == "base":
        size["num_hidden_layers"] = args.base_layers
    generator = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    batch = real_batch(tokenizer, size["batch"], size["seq"], generator)
    built = models(size, len(tokenizer), glyphs)
    inputs = {n: batch if n != "bert" else {k: v for k, v in batch.items() if k != "pinyin_ids"} for n in built}
    result = {
        "size": name,
        **size,
        "distinct_tokens": int(batch["input_ids"].unique().numel()),
        "distinct_readings": int(batch["pinyin_ids"].reshape(-1, 8).unique(dim=0).shape[0]),
    }
    for mode in ("step", "forward"):
        for model in built.values():
            model.train(mode == "step")  # inference runs in eval mode (no dropout), as pipelines and predict do
        times: dict[str, list[float]] = {n: [] for n in built}
        for step in range(args.warmup + args.steps):
            for n, model in built.items():  # alternate: drifts of the machine hit every model alike
                elapsed = timed(model, inputs[n], train=mode == "step")
                if step >= args.warmup:
                    times[n].append(elapsed)
        medians = {n: statistics.median(v) for n, v in times.items()}
        result[f"{mode}_median_s"] = {n: round(v, 4) for n, v in medians.items()}
        result[f"{mode}_ratio_to_bert"] = {n: round(medians[n] / medians["bert"], 3) for n in built if n != "bert"}
        paired = [g / b for g, b in zip(times["glycebert"], times["bert"])]
        result[f"{mode}_median_of_per_round_ratios"] = round(statistics.median(paired), 3)
    return result


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    tokenizer = load_tokenizer()
    glyphs = load_glyph_table()
    report = {
        "benchmark": "GlyceBertForMaskedLM vs SparseBertForMaskedLM (both sparse MLM heads), real batches",
        "targets": {"demo step ratio": "<= 1.10", "base step ratio": "<= 1.05"},
        "threads": torch.get_num_threads(),
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
        },
        "results": [measure(args, name, tokenizer, glyphs) for name in args.sizes],
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
