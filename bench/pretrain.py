"""Training-step throughput of the ChineseBERT recipes next to a plain BERT of the same size.

For the tiny and the base ChineseBERT recipe: tokens/s of a full training step (collated masked
batch from People's Daily records, forward, backward, AdamW step) of GlyceBERT and of transformers'
BertForMaskedLM with the same width, depth and vocabulary, in the same run. Then the tiny recipe
end to end under torchrun with 2 processes vs 1 (CPU, gloo). On a GPU (``--device cuda``) the
base model runs in bf16 at 512 tokens and the model FLOPs utilisation is reported.

    python bench/pretrain.py [--steps N] [--sizes tiny base] [--skip-ddp] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

#: dense bf16 peak of the GPUs this benchmark has been run on (FLOP/s), for MFU
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}


def _records(tokenizer, max_length: int, n: int):
    from chinese_ptm.data import PrepareConfig, prepare_corpus
    from chinese_ptm.data.corpora import peoples_daily_lines

    lines = peoples_daily_lines(1500)
    docs = ["\n".join(lines[i : i + 10]) for i in range(0, len(lines), 10)]
    ds = prepare_corpus(docs, tokenizer, config=PrepareConfig(max_length=max_length, packed_ratio=1.0), progress=False)
    ds = ds.add_column("record_id", list(range(len(ds))))
    return [ds[i % len(ds)] for i in range(n)]


def step_rate(model, batches, steps: int, device, dtype) -> dict:
    model.to(device).train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    tokens = 0
    times = []
    for i in range(steps + 2):
        batch = {k: v.to(device) for k, v in batches[i % len(batches)].items()}
        if "pinyin_ids" not in model.forward.__code__.co_varnames:
            batch.pop("pinyin_ids", None)
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 2:  # two warm-up steps
            times.append(time.perf_counter() - start)
            tokens += int(batch["attention_mask"].sum())
    seconds = sum(times)
    return {"tokens_per_s": tokens / seconds, "step_s": seconds / len(times), "tokens_per_step": tokens / len(times)}


def compare_size(size: str, steps: int, batch_size: int, max_length: int, device, dtype) -> dict:
    from transformers import BertConfig, BertForMaskedLM

    from chinese_ptm.modeling.factory import build_model
    from chinese_ptm.pretrain.recipe import load_recipe
    from chinese_ptm.pretrain.runner import make_collator
    from chinese_ptm.text.tokenization import load_tokenizer

    recipe = load_recipe(
        "chinesebert-tiny" if size == "tiny" else "chinesebert",
        {"data.max_length": max_length, "model.max_position_embeddings": max(512, max_length)},
    )
    tokenizer = load_tokenizer()
    records = _records(tokenizer, max_length, batch_size * 4)
    collator = make_collator(recipe, tokenizer, seed=0)
    batches = [collator(records[i : i + batch_size]) for i in range(0, len(records), batch_size)]
    glyce = build_model(recipe.model, tokenizer, recipe.masking.sentence_task is not None)
    dims = recipe.model.dims()
    bert = BertForMaskedLM(
        BertConfig(
            vocab_size=len(tokenizer),
            max_position_embeddings=recipe.model.max_position_embeddings,
            pad_token_id=tokenizer.pad_token_id,
            **dims,
        )
    )
    ours = step_rate(glyce, batches, steps, device, dtype)
    ref = step_rate(bert, batches, steps, device, dtype)
    out = {
        "recipe": recipe.name,
        "dims": dims,
        "batch": [batch_size, max_length],
        "glycebert": ours,
        "bert": ref,
        "ratio_tokens_per_s_vs_bert": ours["tokens_per_s"] / ref["tokens_per_s"],
        "params": {
            "glycebert_total": sum(p.numel() for p in glyce.parameters()),
            "glycebert_trainable": sum(p.numel() for p in glyce.parameters() if p.requires_grad),
            "bert": sum(p.numel() for p in bert.parameters()),
        },
    }
    if device.type == "cuda":
        name = torch.cuda.get_device_name()
        peak = next((v for k, v in PEAK_BF16.items() if k in name), None)
        flops_per_token = 6 * out["params"]["glycebert_trainable"]  # dense forward + backward
        if peak:
            out["mfu"] = ours["tokens_per_s"] * flops_per_token / peak
            out["gpu"] = name
    del glyce, bert
    return out


def ddp_rate(nproc: int, steps: int, corpus: Path, workdir: Path) -> dict:
    out = workdir / f"ddp{nproc}"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(nproc),
        "--master_port",
        str(29600 + nproc),
        "-m",
        "chinese_ptm.pretrain",
        "chinesebert-tiny",
        "--train-files",
        str(corpus),
        "--output-dir",
        str(out),
        "--max-steps",
        str(steps),
        "--set",
        "data.line_is_document=true",
        "--set",
        "training.report_to=none",
        "--set",
        "training.global_batch_size=32",
        "--set",
        "training.save_steps=100000",
        "--set",
        "data.eval_records=16",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 2) // nproc))}
    # the report times the training loop only (corpus preparation is excluded)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode:
        return {"error": proc.stderr[-2000:]}
    report = json.loads((out / "report.json").read_text())
    return {
        "processes": nproc,
        "tokens_per_s": report["tokens_seen"] / report["seconds_this_run"],
        "seconds": report["seconds_this_run"],
        "tokens": report["tokens_seen"],
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--sizes", nargs="+", default=["tiny", "base"])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--ddp-steps", type=int, default=30)
    parser.add_argument("--skip-ddp", action="store_true")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else None
    if device.type == "cpu":
        torch.set_num_threads(os.cpu_count() or 2)
    result: dict = {
        "benchmark": "pretrain",
        "device": args.device,
        "machine": f"{platform.machine()} {os.cpu_count()} cores"
        + (f", {torch.cuda.get_device_name()}" if device.type == "cuda" else ""),
        "precision": "bf16" if dtype else "fp32",
        "sizes": {},
    }
    for size in args.sizes:
        length = 512 if (device.type == "cuda" and size == "base") else args.max_length
        result["sizes"][size] = compare_size(size, args.steps, args.batch_size, length, device, dtype)
    if not args.skip_ddp and device.type == "cpu":
        from chinese_ptm.data.corpora import peoples_daily_lines

        with tempfile.TemporaryDirectory() as tmp:
            corpus = Path(tmp) / "news.txt"
            corpus.write_text("\n".join(peoples_daily_lines(1500)) + "\n", encoding="utf-8")
            one = ddp_rate(1, args.ddp_steps, corpus, Path(tmp))
            two = ddp_rate(2, args.ddp_steps, corpus, Path(tmp))
        result["ddp"] = {"1_process": one, "2_processes": two}
        if "tokens_per_s" in one and "tokens_per_s" in two:
            result["ddp"]["speedup_2_vs_1"] = two["tokens_per_s"] / one["tokens_per_s"]
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
