"""What an attention view costs: capturing weights, queries and keys with hooks against the way bertviz gets
weights (``output_attentions=True`` on an eager model), both next to the plain SDPA forward; page size and build
time. Base-size GlyceBERT and BERT (random weights: the cost does not depend on them), one sentence of
``--tokens`` tokens. Prints JSON.

    python bench/attention.py --tokens 32 128
"""

from __future__ import annotations

import argparse
import json
import time

import torch


def best_of(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def models():
    from transformers import BertConfig, BertModel

    from chinese_ptm.modeling import GlyceBertConfig, GlyceBertModel
    from chinese_ptm.text.tokenization import load_tokenizer

    tokenizer = load_tokenizer()
    torch.manual_seed(0)
    glyce = GlyceBertModel(GlyceBertConfig(vocab_size=len(tokenizer)), add_pooling_layer=False).eval()
    bert = BertModel(BertConfig(vocab_size=len(tokenizer)), add_pooling_layer=False).eval()
    return {"GlyceBERT": glyce, "BERT": bert}, tokenizer


def measure(name: str, model, tokenizer, tokens: int, repeats: int) -> dict:
    from chinese_ptm.attention import AttentionView, capture_attention

    text = ("银行行长了解情况，他们在会上讨论了明年的计划。" * 20)[: tokens - 2]
    inputs = tokenizer(text, return_tensors="pt")
    if name == "BERT":
        inputs.pop("pinyin_ids")

    def forward(implementation: str, weights: bool):
        model.set_attn_implementation(implementation)
        with torch.no_grad():
            return model(**inputs, output_attentions=weights)

    sdpa = best_of(lambda: forward("sdpa", False), repeats)
    eager_weights = best_of(lambda: forward("eager", True), repeats)
    model.set_attn_implementation("sdpa")
    hooks = best_of(lambda: capture_attention(model, tokenizer, text), repeats)
    capture = capture_attention(model, tokenizer, text)
    start = time.perf_counter()
    page = AttentionView(capture, text).html()
    return {
        "model": name,
        "tokens": len(capture.tokens),
        "sdpa_forward_s": round(sdpa, 4),
        "eager_output_attentions_s": round(eager_weights, 4),
        "capture_with_hooks_s": round(hooks, 4),
        "capture_vs_output_attentions": round(hooks / eager_weights, 2),
        "capture_vs_sdpa": round(hooks / sdpa, 2),
        "page_build_s": round(time.perf_counter() - start, 3),
        "page_bytes": len(page.encode("utf-8")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    loaded, tokenizer = models()
    rows = [
        measure(name, model, tokenizer, tokens, args.repeats)
        for tokens in args.tokens
        for name, model in loaded.items()
    ]
    print(json.dumps({"benchmark": "attention", "threads": torch.get_num_threads(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
