"""Train-step time of GlyceBertForPreTraining against transformers' BertForMaskedLM of the same size.

The other pretraining families run the same batch: ELECTRA-style GlyceBERT and ELECTRA on the BERT trunk
(generator at 1/4 width + discriminator, no sentence head), transformers' ALBERT (sparse MLM + SOP) and GlyceBERT
with ALBERT's options (factorised embedding 128, all layers shared), each as a ratio to BERT and with its
parameter count.
Both models get the same batch (default 8 x 128, base width 768 / 12 heads / 3072, vocab 21,128, MLM labels at
15% of the positions). GlyceBERT runs its glyph and pinyin branches, the sparse MLM head (logits only at the
labelled positions) and a sentence-order head; BERT computes full (B, T, V) logits as it does. A step is forward
+ backward; steps of the two models alternate, after warm-up. Reported: the ratio of median step times (the
headline), the ratio of the fastest steps and the median of per-round ratios (robust on a shared machine).
Prints JSON.

    python bench/families.py --layers 4 12 --steps 5
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
from transformers import AlbertConfig, BertConfig, BertForMaskedLM, ElectraConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from chinese_ptm.modeling import GlyceBertConfig, GlyceBertForPreTraining  # noqa: E402
from chinese_ptm.modeling.electra import (  # noqa: E402
    ElectraForReplacedTokenDetection,
    GlyceBertForReplacedTokenDetection,
)
from chinese_ptm.modeling.sparse_bert import SparseAlbertForPreTraining  # noqa: E402

IGNORE_INDEX = -100
PINYIN = GlyceBertConfig()  # the pinyin alphabet and slots of the default configuration


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, nargs="+", default=[4, 12], help="encoder depths to measure")
    parser.add_argument("--steps", type=int, default=8, help="measured steps per model (median reported)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured steps per model first")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--intermediate", type=int, default=3072)
    parser.add_argument("--vocab", type=int, default=21128)
    parser.add_argument("--mask-prob", type=float, default=0.15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--extra",
        action="store_true",
        help="also time GlyceBERT with a trainable glyph table and with full (dense) MLM logits",
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def sizes(args, layers: int) -> dict:
    return dict(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        num_hidden_layers=layers,
        num_attention_heads=args.heads,
        intermediate_size=args.intermediate,
        max_position_embeddings=max(512, args.seq_len),
    )


def parameter_counts(model: torch.nn.Module) -> dict:
    return {
        "total": sum(p.numel() for p in model.parameters()),
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "buffers": sum(b.numel() for name, b in model.named_buffers() if "glyph" in name),
    }


def make_batch(args, generator: torch.Generator) -> dict[str, torch.Tensor]:
    shape = (args.batch, args.seq_len)
    input_ids = torch.randint(1, args.vocab, shape, generator=generator)
    labelled = torch.rand(shape, generator=generator) < args.mask_prob
    labels = torch.where(labelled, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    return {
        "input_ids": input_ids,
        "attention_mask": torch.ones(shape, dtype=torch.long),
        "token_type_ids": (torch.arange(args.seq_len) >= args.seq_len // 2).long().expand(shape).contiguous(),
        "labels": labels,
        "pinyin_ids": torch.randint(0, PINYIN.pinyin_vocab_size, (*shape, PINYIN.pinyin_slots), generator=generator),
        "sentence_order_label": torch.randint(0, 2, (args.batch,), generator=generator),
    }


def train_step(model, inputs: dict) -> float:
    start = time.perf_counter()
    loss = model(**inputs).loss
    loss.backward()
    elapsed = time.perf_counter() - start
    model.zero_grad(set_to_none=True)
    return elapsed


#: the other families' rows (ratio to BERT and parameters of each)
FAMILIES = ("glycebert_electra", "electra_bert_trunk", "albert", "glycebert_albert")


def other_families(args, layers: int, batch: dict, glycebert) -> dict:
    """ELECTRA on the BERT trunk, transformers' ALBERT (E 128, one shared layer group, SOP) and GlyceBERT with
    ALBERT's options, each with its inputs."""
    plain = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids", "labels")}
    electra = ElectraForReplacedTokenDetection(
        ElectraConfig(**sizes(args, layers), embedding_size=args.hidden, generator_size=0.25)
    ).train()
    albert = SparseAlbertForPreTraining(
        AlbertConfig(**sizes(args, layers), embedding_size=128, num_hidden_groups=1, hidden_act="gelu")
    ).train()
    shared = GlyceBertForPreTraining(
        GlyceBertConfig(**sizes(args, layers), embedding_size=128, share_layers="all")
    ).train()
    shared.load_glyph_table(glycebert.bert.embeddings.glyph_embeddings.embedding.weight)
    return {
        "electra_bert_trunk": (electra, plain),
        "albert": (albert, {**plain, "sentence_order_label": batch["sentence_order_label"]}),
        "glycebert_albert": (shared, batch),
    }


def measure(args, layers: int) -> dict:
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    batch = make_batch(args, generator)
    bert_inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids", "labels")}

    bert = BertForMaskedLM(BertConfig(**sizes(args, layers))).train()
    models = {"bert_for_masked_lm": (bert, bert_inputs)}
    glycebert = GlyceBertForPreTraining(GlyceBertConfig(**sizes(args, layers))).train()
    config = glycebert.config
    table_shape = (config.vocab_size, config.num_fonts, config.glyph_size, config.glyph_size)
    glycebert.load_glyph_table(torch.randint(0, 256, table_shape, dtype=torch.uint8, generator=generator))
    models["glycebert_pretraining"] = (glycebert, batch)
    electra = GlyceBertForReplacedTokenDetection(GlyceBertConfig(**sizes(args, layers), generator_size=0.25)).train()
    electra.load_glyph_table(glycebert.bert.embeddings.glyph_embeddings.embedding.weight)
    models["glycebert_electra"] = (electra, {k: v for k, v in batch.items() if k != "sentence_order_label"})
    models.update(other_families(args, layers, batch, glycebert))
    if args.extra:
        trainable = GlyceBertForPreTraining(GlyceBertConfig(**sizes(args, layers), glyph_trainable=True)).train()
        dense = GlyceBertForPreTraining(GlyceBertConfig(**sizes(args, layers), sparse_mlm_logits=False)).train()
        models["glycebert_trainable_glyph"] = (trainable, batch)
        models["glycebert_dense_logits"] = (dense, batch)

    times: dict[str, list[float]] = {name: [] for name in models}
    for step in range(args.warmup + args.steps):
        for name, (model, inputs) in models.items():  # alternate, so drifts of the machine hit every model alike
            elapsed = train_step(model, inputs)
            if step >= args.warmup:
                times[name].append(elapsed)
    medians = {name: statistics.median(values) for name, values in times.items()}
    fastest = {name: min(values) for name, values in times.items()}
    # each measured round runs every model once: per-round ratios cancel slow drifts of a shared machine
    paired = [ours / bert for ours, bert in zip(times["glycebert_pretraining"], times["bert_for_masked_lm"])]

    with torch.device("meta"):  # parameter counts of the other glyph setting, without allocating it
        other = GlyceBertForPreTraining(GlyceBertConfig(**sizes(args, layers), glyph_trainable=True))
    result = {
        "layers": layers,
        "median_step_s": {name: round(value, 4) for name, value in medians.items()},
        "ratio_glycebert_to_bert": round(medians["glycebert_pretraining"] / medians["bert_for_masked_lm"], 3),
        "ratio_of_fastest_steps": round(fastest["glycebert_pretraining"] / fastest["bert_for_masked_lm"], 3),
        "median_of_per_round_ratios": round(statistics.median(paired), 3),
        "fastest_step_s": {name: round(value, 4) for name, value in fastest.items()},
        "step_s": {name: [round(v, 4) for v in values] for name, values in times.items()},
        "labelled_positions": int((batch["labels"] != IGNORE_INDEX).sum()),
        "parameters": {
            "bert_for_masked_lm": parameter_counts(bert),
            "glycebert_frozen_glyph": parameter_counts(glycebert),
            "glycebert_trainable_glyph": parameter_counts(other),
            **{name: parameter_counts(models[name][0]) for name in FAMILIES},
        },
    }
    for name in ("glycebert_trainable_glyph", "glycebert_dense_logits", *FAMILIES):
        if name in medians:
            result[f"ratio_{name}_to_bert"] = round(medians[name] / medians["bert_for_masked_lm"], 3)
    return result


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    report = {
        "benchmark": "train step (forward + backward): GlyceBertForPreTraining (sparse MLM + SOP) vs BertForMaskedLM",
        "target": "ratio_glycebert_to_bert <= 1.0",
        "settings": {
            "batch": args.batch,
            "seq_len": args.seq_len,
            "hidden": args.hidden,
            "heads": args.heads,
            "intermediate": args.intermediate,
            "vocab": args.vocab,
            "mask_prob": args.mask_prob,
            "warmup": args.warmup,
            "steps": args.steps,
            "threads": torch.get_num_threads(),
        },
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": platform.python_version(),
        },
        "results": [measure(args, layers) for layers in args.layers],
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
