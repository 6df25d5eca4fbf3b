"""GlyceBERT against BERT on a GPU: training tokens/s and model FLOPs utilisation (MFU) at base size, sequence
lengths 128 and 512, bf16 autocast, SDPA attention, with and without ``torch.compile``. Both models use the MLM
head at the masked positions only (``SparseBertForMaskedLM``, ``GlyceBertForMaskedLM``); batches are random ids
with pinyin rows drawn from a few hundred readings (as real text holds) and 15% of positions labelled. MFU counts
6 N + 12 L H T FLOPs per token (``chinese_ptm.runtime.flops``) against the card's bf16 peak. Prints JSON.

    python bench/gpu.py                          # on a machine with a CUDA GPU
    python bench/gpu.py --device cpu --layers 2 --hidden 128 --heads 2 --intermediate 512 --lengths 64 --steps 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from transformers import BertConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from chinese_ptm.modeling import GlyceBertConfig, GlyceBertForMaskedLM  # noqa: E402
from chinese_ptm.modeling.losses import IGNORE_INDEX  # noqa: E402
from chinese_ptm.modeling.sparse_bert import SparseBertForMaskedLM  # noqa: E402
from chinese_ptm.runtime.flops import mfu, peak_flops, training_flops_per_token  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--tokens-per-batch", type=int, default=32768, help="batch size = this / length")
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--intermediate", type=int, default=3072)
    parser.add_argument("--vocab", type=int, default=21128)
    parser.add_argument("--readings", type=int, default=400, help="distinct pinyin rows in a batch")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    return parser.parse_args(argv)


def batch(args, length: int, device) -> dict:
    size = max(1, args.tokens_per_batch // length)
    ids = torch.randint(104, args.vocab, (size, length), device=device)
    table = torch.randint(1, 32, (args.readings, 8), device=device)
    table[:, 6:] = 0
    pinyin = table[torch.randint(0, args.readings, (size, length), device=device)]
    labels = torch.where(torch.rand(size, length, device=device) < 0.15, ids, torch.full_like(ids, IGNORE_INDEX))
    mask = torch.ones_like(ids)
    return {"input_ids": ids, "attention_mask": mask, "pinyin_ids": pinyin, "labels": labels}


def build(args, name: str, device):
    common = dict(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        intermediate_size=args.intermediate,
        max_position_embeddings=512,
    )
    if name == "bert":
        model = SparseBertForMaskedLM(BertConfig(**common, attn_implementation="sdpa"))
    else:
        model = GlyceBertForMaskedLM(GlyceBertConfig(**common, attn_implementation="sdpa"))
    return model.to(device).train()


def run(model, inputs: dict, args, device) -> float:
    """Median seconds of a bf16 training step (forward, backward, AdamW)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda")
    times = []
    for step in range(args.warmup + args.steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = model(**inputs).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= args.warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(args, length: int, device) -> list[dict]:
    rows = []
    inputs = batch(args, length, device)
    for name in ("bert", "glycebert"):
        for compiled in (False, True) if not args.no_compile else (False,):
            model = build(args, name, device)
            flops = training_flops_per_token(model, length)
            runner = torch.compile(model) if compiled else model
            feed = inputs if name == "glycebert" else {k: v for k, v in inputs.items() if k != "pinyin_ids"}
            seconds = run(runner, feed, args, device)
            tokens_per_s = inputs["attention_mask"].sum().item() / seconds
            utilisation = mfu(tokens_per_s, flops)
            rows.append(
                {
                    "model": name,
                    "length": length,
                    "compiled": compiled,
                    "step_s": round(seconds, 4),
                    "tokens_per_s": round(tokens_per_s),
                    "mfu": round(utilisation, 4) if utilisation else None,
                }
            )
            del model, runner
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return rows


def main(argv=None) -> dict:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("bench/gpu.py: no CUDA GPU here; run it where one is, or pass --device cpu for a smoke test")
    rows = [row for length in args.lengths for row in measure(args, length, device)]
    for row in rows:  # GlyceBERT's throughput as a share of BERT's in the same setting
        if row["model"] == "glycebert":
            bert = next(
                r
                for r in rows
                if r["model"] == "bert" and r["length"] == row["length"] and r["compiled"] == row["compiled"]
            )
            row["tokens_per_s_vs_bert"] = round(row["tokens_per_s"] / bert["tokens_per_s"], 3)
    report = {
        "benchmark": "training tokens/s and MFU, bf16, SDPA: GlyceBERT vs BERT",
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "peak_bf16_flops": peak_flops(device) if device.type == "cuda" else None,
        "torch": torch.__version__,
        "rows": rows,
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
