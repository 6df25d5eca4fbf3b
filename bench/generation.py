"""Generation on pd98-ime (pinyin -> characters, People's Daily 1998): UniLM-style fine-tuning of a tiny GlyceBERT
and a tiny BERT, each pretrained for the same wall time by the chinesebert-tiny recipe, against the same
architectures from scratch and the input-method baselines (most frequent character per syllable, bigram HMM);
character accuracy, sentence accuracy (exact match), BLEU and ROUGE-L on the 2,000 test runs over seeds; and
decoding speed (generated tokens/s, batch 32, one thread) with and without the key/value cache, greedy and beam 4.

    python bench/generation.py --minutes 4 --seeds 3 --train-examples 40000 --epochs 1
    python bench/generation.py --steps 1200 --seeds 3                 # equal steps instead of equal time
    python bench/generation.py --checkpoints GlyceBERT=DIR,BERT=DIR   # skip pretraining
    python bench/generation.py --minutes 0.2 --seeds 1 --train-examples 300 --epochs 1   # a smoke run

Prints JSON (and writes it with --out).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from distill import finetune
from learning import ARMS, pretrain, seconds_per_step, write_result

TASK = "pd98-ime"


def pretrained_checkpoints(args) -> dict[str, str]:
    """GlyceBERT and BERT pretrained for ``--minutes`` each (calibrated back to back first), or the given ones."""
    if args.checkpoints:
        return dict(item.split("=", 1) for item in args.checkpoints.split(","))
    names = ("GlyceBERT", "BERT")
    if args.steps:  # the same steps for both (GlyceBERT's step costs about 1.1x BERT's): no calibration to disturb
        per_step = {name: 60.0 * args.minutes / args.steps for name in names}
    else:
        per_step = {name: seconds_per_step(name, ARMS[name][1], args.workdir, ARMS[name][0]) for name in names}
    out = {}
    for name in names:
        recipe, overrides = ARMS[name]
        steps = args.steps or max(int(args.minutes * 60 / per_step[name]), 10)
        report = pretrain(name, {**overrides, "training.max_steps": steps}, args.workdir, recipe)
        out[name] = report["final_checkpoint"]
        print(json.dumps({name: {"steps": steps, "seconds_per_step": per_step[name]}}), file=sys.stderr, flush=True)
    return out


def baselines() -> dict:
    from chinese_ptm.finetune.metrics import generation_scores
    from chinese_ptm.finetune.transliteration import Transliterator, ime_examples

    splits = ime_examples()
    model = Transliterator(splits["train"])
    references = [e.target for e in splits["test"]]
    return {
        name: generation_scores([decode(e.source) for e in splits["test"]], references)
        for name, decode in (("most frequent character", model.most_frequent), ("bigram HMM", model.viterbi))
    }


def decoding_speed(model_dir: Path, sources: list[str]) -> dict:
    """Generated tokens/s (batch 32, one thread, 32 tokens each) with and without the cache, greedy and beam 4."""
    import torch

    from chinese_ptm.finetune.examples import Seq2SeqExample
    from chinese_ptm.finetune.features import Encoder, PaddingCollator
    from chinese_ptm.finetune.predict import Predictor
    from chinese_ptm.finetune.tasks.seq2seq import left_padded

    torch.set_num_threads(1)
    predictor = Predictor(model_dir)
    model, tokenizer = predictor.model, predictor.tokenizer
    examples = [Seq2SeqExample(i, source, None) for i, source in enumerate(sources[:32])]
    encoder = Encoder(predictor.task, tokenizer, predictor.settings, predictor.record["pinyin"], progress=False)
    features = [{k: v for k, v in f.items() if k != "feature_index"} for f in encoder.encode(examples, False).features]
    batch = left_padded(PaddingCollator(tokenizer.pad_token_id)(features))  # the prompts as predict reads them
    out = {}
    for beams in (1, 4):
        for cache in (True, False):
            started = time.perf_counter()
            with torch.no_grad():
                model.generate(**batch, max_new_tokens=32, min_new_tokens=32, num_beams=beams, use_cache=cache)
            seconds = time.perf_counter() - started
            out[f"{'greedy' if beams == 1 else 'beam 4'}, {'cache' if cache else 'no cache'}"] = round(
                32 * 32 / seconds
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=4.0, help="pretraining wall time of each architecture")
    parser.add_argument("--steps", type=int, default=0, help="pretraining steps of each instead of equal time")
    parser.add_argument("--checkpoints", default=None, help="GlyceBERT=DIR,BERT=DIR: pretrained ones to use instead")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--train-examples", type=int, default=20000, help="training pairs (of 113,369)")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--beams", type=int, default=4, help="beams of the test decoding")
    # tiny models learn the task far faster than at BERT-base's 2e-5: GlyceBERT pretrained, 400 steps (syllables as
    # tokens): test char accuracy 12.8 at 1e-3; loss after 150 steps 5.57 at 1e-3, 5.96 at 3e-4, 7.0 at 2e-5
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--baseline", choices=["scratch", "none"], default="scratch", help="fine-tune scratch twins")
    parser.add_argument("--workdir", type=Path, default=Path("runs/bench-generation"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    settings = {
        "task.max_train_examples": args.train_examples,
        "training.num_train_epochs": args.epochs,
        "training.per_device_train_batch_size": 32,
        "task.num_beams": args.beams,
        "training.learning_rate": args.learning_rate,
    }
    result: dict = {"task": TASK, "settings": settings, "baselines": baselines(), "arms": {}}
    print(json.dumps(result["baselines"]), file=sys.stderr, flush=True)
    sources = None
    for name, checkpoint in pretrained_checkpoints(args).items():
        for scratch in (False, True) if args.baseline == "scratch" else (False,):
            label = f"{name} {'from scratch' if scratch else 'pretrained'}"
            out = args.workdir / label.replace(" ", "_")
            started = time.perf_counter()
            run = finetune(checkpoint, TASK, out, args.seeds, {**settings, "model.scratch": scratch})
            arm = {k: run.get(k) for k in ("test", "test_std", "total_parameters")}
            arm["seconds"] = round(time.perf_counter() - started, 1)
            if not scratch:
                from chinese_ptm.finetune.transliteration import ime_examples

                sources = sources or [e.source for e in ime_examples()["test"]]
                arm["decoding_tokens_per_s"] = decoding_speed(out / "model", sources)
            result["arms"][label] = arm
            print(json.dumps({label: arm}, default=str), file=sys.stderr, flush=True)
    write_result(result, args.out)


if __name__ == "__main__":
    main()
