"""Pretraining runner: ``chinese-ptm pretrain recipes/<name>.yaml`` (also under torchrun).

One recipe (``chinese_ptm.recipe``) describes the model, the data, the masking and the schedule.
The runner prepares the corpus when its prepared records are missing or stale, builds the model
(GlyceBERT or plain BERT; from scratch or ``init_from`` a checkpoint), trains it with the
transformers Trainer (DDP under torchrun, DeepSpeed, FSDP, bf16/fp16, accumulation, activation
checkpointing, torch.compile) and resumes from the last complete checkpoint after an
interruption, with the same data order and masking. It logs loss, MLM accuracy, learning rate and
tokens/s (TensorBoard too), evaluates MLM accuracy on a held-out slice, draws the loss curve and
writes ``report.json``.

    chinese-ptm pretrain chinesebert-tiny --max-steps 100
    torchrun --nproc_per_node 8 -m chinese_ptm.pretrain chinesebert --train-files corpus/*.txt
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .cli import parse_sets
from .masking import MaskingCollator
from .recipe import Recipe, RecipeError, load_recipe, recipe_help, stage_recipes

logger = logging.getLogger(__name__)

REPORT_FILE = "report.json"
LOSS_CURVE_FILE = "loss_curve.png"
FINAL_DIR = "final"
DATA_DIR = "data"


# ---------------------------------------------------------------------------------------------
# Pieces
# ---------------------------------------------------------------------------------------------


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def load_run_tokenizer(recipe: Recipe):
    from .tokenization import GlyceBertTokenizer, load_tokenizer

    source = recipe.model.tokenizer
    if source is None and recipe.model.init_from and (Path(recipe.model.init_from) / "vocab.txt").is_file():
        source = recipe.model.init_from
    return GlyceBertTokenizer.from_pretrained(source) if source else load_tokenizer()


def train_files(recipe: Recipe, work_dir: Path) -> tuple[list[str], bool]:
    """The corpus files and whether each line is a document (the embedded corpus: yes)."""
    if recipe.data.train_files:
        missing = [f for f in recipe.data.train_files if not Path(f).is_file()]
        if missing:
            raise FileNotFoundError(f"data.train_files: {missing[0]}: no such file")
        return list(recipe.data.train_files), recipe.data.line_is_document
    from .data import peoples_daily_lines_file

    return [str(peoples_daily_lines_file(work_dir))], True


def prepared_records(recipe: Recipe, tokenizer, args) -> tuple[Any, Any, dict]:
    """(train, held-out) datasets; preparation runs on the main process when missing or stale."""
    import datasets

    from .data import PREPARE_META, PrepareConfig, is_prepared, prepare_corpus
    from .segmentation import get_segmenter

    out = Path(recipe.output_dir)
    prepared = Path(recipe.data.prepared_dir) if recipe.data.prepared_dir else out / DATA_DIR
    files, per_line = train_files(recipe, prepared.parent / "_corpus")
    cfg = PrepareConfig(max_length=recipe.data.max_length, packed_ratio=recipe.data.packed_ratio,
                        text_field=recipe.data.text_field, line_is_document=per_line, seed=recipe.training.seed)
    with args.main_process_first(desc="corpus preparation"):
        if not is_prepared(prepared, files, tokenizer, cfg):
            options = {}
            if recipe.data.segmenter == "jieba":
                options = {"hmm": recipe.data.jieba_hmm}
            elif recipe.data.segmenter == "ltp":
                options = {"model_path": recipe.data.ltp_model}
            segmenter = get_segmenter(recipe.data.segmenter, **options)
            prepare_corpus(files, tokenizer, segmenter=segmenter, config=cfg, num_proc=recipe.data.num_proc,
                           output_dir=prepared, progress=is_main_process())
        records = datasets.load_from_disk(str(prepared))
        summary = json.loads((prepared / PREPARE_META).read_text(encoding="utf-8"))
    n_eval = min(recipe.data.eval_records, max(len(records) // 10, 1))
    if len(records) < 2:
        raise ValueError(f"{prepared}: only {len(records)} records; the corpus is too small to train on")
    records = records.add_column("record_id", np.arange(len(records)))
    train = records.select(range(len(records) - n_eval))
    heldout = records.select(range(len(records) - n_eval, len(records)))
    return train, heldout, summary


def build_model(recipe: Recipe, tokenizer):
    """The model of the recipe: GlyceBERT or BERT, pretraining head with a sentence task, else MLM."""
    m = recipe.model
    with_sentence = recipe.masking.sentence_task is not None
    if m.architecture == "bert":
        from transformers import BertConfig, BertForMaskedLM, BertForPreTraining

        cls = BertForPreTraining if with_sentence else BertForMaskedLM
        if m.init_from:
            return cls.from_pretrained(m.init_from, attn_implementation=m.attn_implementation)
        config = BertConfig(vocab_size=len(tokenizer), max_position_embeddings=m.max_position_embeddings,
                            pad_token_id=tokenizer.pad_token_id, **m.dims())
        config._attn_implementation = m.attn_implementation
        return cls(config)

    from .modeling import GlyceBertConfig, GlyceBertForMaskedLM, GlyceBertForPreTraining

    cls = GlyceBertForPreTraining if with_sentence else GlyceBertForMaskedLM
    branches = dict(use_glyph=m.use_glyph, use_pinyin=m.use_pinyin, glyph_trainable=m.glyph_trainable)

    def glyph_table():
        from .glyph import load_glyph_table

        table = load_glyph_table(m.glyph_table) if m.glyph_table else load_glyph_table(_vocab_dir(tokenizer))
        if table.shape[0] != len(tokenizer):
            raise ValueError(f"glyph table has {table.shape[0]} rows, the tokenizer {len(tokenizer)} tokens: "
                             "build a table for this vocab with `chinese-ptm glyphs build --vocab ...`")
        return table

    if m.init_from:
        model = cls.from_pretrained(m.init_from, attn_implementation=m.attn_implementation, **branches)
        glyphs = model.base_model.embeddings.glyph_embeddings
        if glyphs is not None and not glyphs.embedding.weight.any():  # a BERT checkpoint brings no glyphs
            model.load_glyph_table(glyph_table())
        return model
    table = glyph_table() if m.use_glyph else None
    config = GlyceBertConfig(
        vocab_size=len(tokenizer), max_position_embeddings=m.max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id, num_fonts=table.shape[1] if table is not None else 3,
        glyph_size=table.shape[2] if table is not None else 24, **branches, **m.dims(),
    )
    config._attn_implementation = m.attn_implementation
    model = cls(config)
    if table is not None:
        model.load_glyph_table(table)
    return model


def _vocab_dir(tokenizer) -> str:
    from . import DEFAULT_VOCAB_DIR

    return str(Path(tokenizer.vocab_file).parent) if getattr(tokenizer, "vocab_file", None) else str(DEFAULT_VOCAB_DIR)


def _batch_seed(records) -> int:
    ids = np.asarray([int(r.get("record_id", -1)) for r in records], dtype=np.int64)
    return int.from_bytes(hashlib.blake2b(ids.tobytes(), digest_size=8).digest(), "little")


class PretrainCollator(MaskingCollator):
    """The masking collator with resumable randomness: each batch draws from a generator seeded by
    (seed, epoch, the batch's record ids), so a run resumed from a checkpoint masks every later
    batch exactly as the uninterrupted run would. The sentence label is named for the models
    (``next_sentence_label`` for NSP and SOP alike: 1 = random next / swapped)."""

    def generator(self) -> np.random.Generator:
        return self._batch_rng

    def __call__(self, records):
        seed = np.random.SeedSequence([int(self.seed), int(self._epoch), _batch_seed(records)])
        self._batch_rng = np.random.default_rng(seed)
        out = super().__call__(records)
        if "sentence_order_label" in out:
            out["next_sentence_label"] = out.pop("sentence_order_label")
        return out


def make_collator(recipe: Recipe, tokenizer, seed: int) -> PretrainCollator:
    return PretrainCollator(
        tokenizer,
        strategy=recipe.masking.strategy,
        mlm_probability=recipe.masking.mlm_probability,
        replace_probs=tuple(recipe.masking.replace_probs),
        sentence_task=recipe.masking.sentence_task,
        max_length=recipe.data.max_length,
        seed=seed,
        return_pinyin=recipe.model.architecture == "glycebert" and recipe.model.use_pinyin,
    )


def mlm_accuracy_counts(outputs, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(correct, total) MLM predictions; logits either (B, T, V) or sparse (N_labelled, V)."""
    logits = getattr(outputs, "logits", None)
    if logits is None:
        logits = outputs.prediction_logits
    picked = labels != -100
    targets = labels[picked]
    if logits.dim() == 3:
        logits = logits[picked]
    correct = (logits.argmax(-1) == targets).sum()
    return correct, picked.sum()


def heldout_mlm_accuracy(model, dataset, collator, batch_size: int, device) -> dict:
    """MLM loss and accuracy on the held-out records with fixed masks (same every evaluation)."""
    was_training = model.training
    model.eval()
    collator.set_epoch(0)
    correct = total = 0
    loss_sum = 0.0
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            batch = collator([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
            batch = {k: v.to(device) for k, v in batch.items()}
            outputs = model(**batch)
            c, t = mlm_accuracy_counts(outputs, batch["labels"])
            correct += int(c)
            total += int(t)
            mlm = getattr(outputs, "mlm_loss", None)
            loss_sum += float(mlm if mlm is not None else outputs.loss) * int(t)
    model.train(was_training)
    return {"heldout_mlm_accuracy": correct / max(total, 1), "heldout_mlm_loss": loss_sum / max(total, 1),
            "heldout_masked_tokens": total, "heldout_records": len(dataset)}


def weights_digest(model) -> str:
    """sha256 over the model's state dict (names and bytes): equal digests mean equal weights."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def rank_digests(model) -> list[str]:
    """Every rank's :func:`weights_digest` (one entry when not distributed)."""
    digest = weights_digest(model)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        gathered: list = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(gathered, digest)
        return gathered
    return [digest]


def last_complete_checkpoint(output_dir: Path) -> str | None:
    """The newest checkpoint whose files are all there (a run killed while saving leaves a partial one)."""
    if not output_dir.is_dir():
        return None
    found = []
    for path in output_dir.glob("checkpoint-*"):
        try:
            step = int(path.name.split("-")[-1])
        except ValueError:
            continue
        weights = any((path / f).exists() for f in ("model.safetensors", "pytorch_model.bin",
                                                     "model.safetensors.index.json"))
        deepspeed_state = any(path.glob("global_step*"))
        if (path / "trainer_state.json").is_file() and (weights or deepspeed_state):
            found.append((step, path))
    return str(max(found)[1]) if found else None


def _make_trainer_class():
    from transformers import Trainer, TrainerCallback

    class PretrainTrainer(Trainer):
        """Trainer that also logs MLM accuracy, tokens/s and tokens seen."""

        def __init__(self, *args, heldout=None, heldout_collator=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.model_accepts_loss_kwargs = False  # plain per-batch mean losses, as BERT
            self._counts = None
            self._window_start = time.perf_counter()
            self.tokens_seen = 0
            self.heldout, self.heldout_collator = heldout, heldout_collator
            self._pending_heldout = None

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            outputs = model(**inputs)
            loss = outputs.loss
            with torch.no_grad():
                correct, total = mlm_accuracy_counts(outputs, inputs["labels"])
                tokens = inputs["attention_mask"].sum()
                step = torch.stack([correct.float(), total.float(), tokens.float()])
                self._counts = step if self._counts is None else self._counts + step
            return (loss, outputs) if return_outputs else loss

        def log(self, logs: dict, *args, **kwargs):
            if self._pending_heldout:
                logs.update(self._pending_heldout)
                self._pending_heldout = None
            if "loss" in logs and self._counts is not None:
                counts = self._counts
                if self.args.world_size > 1 and torch.distributed.is_initialized():
                    counts = counts.clone()
                    torch.distributed.all_reduce(counts)
                correct, total, tokens = counts.tolist()
                now = time.perf_counter()
                self.tokens_seen += int(tokens)
                logs["mlm_accuracy"] = round(correct / max(total, 1), 4)
                logs["tokens_per_s"] = round(tokens / max(now - self._window_start, 1e-9), 1)
                logs["tokens_seen"] = self.tokens_seen
                self._counts = None
                self._window_start = now
            super().log(logs, *args, **kwargs)

        def evaluate_heldout(self, log_now: bool = True) -> dict:
            """Held-out MLM loss and accuracy; logged now, or with the step's training log."""
            metrics = heldout_mlm_accuracy(self.model, self.heldout, self.heldout_collator,
                                           self.args.per_device_eval_batch_size, self.args.device)
            self._pending_heldout = {k: v for k, v in metrics.items() if k.startswith("heldout_mlm")}
            if log_now:
                self.log({})
            return metrics

    class EpochAndEvalCallback(TrainerCallback):
        """Tells the collator the epoch (masks differ between epochs, and match after a resume) and
        runs the held-out evaluation every ``eval_every`` steps."""

        def __init__(self, collator, trainer_ref, eval_every):
            self.collator, self.trainer_ref, self.eval_every = collator, trainer_ref, eval_every

        def on_epoch_begin(self, args, state, control, **kwargs):
            self.collator.set_epoch(int(state.epoch or 0))

        def on_step_end(self, args, state, control, **kwargs):
            if self.eval_every and state.global_step % self.eval_every == 0 and state.global_step < state.max_steps:
                self.trainer_ref[0].evaluate_heldout(log_now=False)
                control.should_log = True  # the metrics go out with this step's training log
            return control

    return PretrainTrainer, EpochAndEvalCallback


def training_arguments(recipe: Recipe):
    from transformers import TrainingArguments

    t = recipe.training
    world = world_size()
    per_step = t.per_device_train_batch_size * world
    if t.global_batch_size % per_step:
        raise RecipeError(f"training.global_batch_size={t.global_batch_size} is not a multiple of "
                          f"per_device_train_batch_size x world size = {per_step}")
    cpu = t.use_cpu or not torch.cuda.is_available()
    warmup = int(t.warmup_steps) if t.warmup_steps >= 1 else float(t.warmup_steps)
    options = dict(
        output_dir=recipe.output_dir,
        max_steps=t.max_steps,
        per_device_train_batch_size=t.per_device_train_batch_size,
        per_device_eval_batch_size=t.per_device_train_batch_size,
        gradient_accumulation_steps=t.global_batch_size // per_step,
        learning_rate=t.learning_rate,
        warmup_steps=warmup,
        lr_scheduler_type=t.lr_scheduler_type,
        weight_decay=t.weight_decay,
        adam_beta1=t.adam_beta1,
        adam_beta2=t.adam_beta2,
        adam_epsilon=t.adam_epsilon,
        max_grad_norm=t.max_grad_norm,
        seed=t.seed,
        data_seed=t.seed,
        logging_steps=t.logging_steps,
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        bf16=t.bf16 and not cpu,  # recipes for GPUs ask for bf16; a CPU run stays in float32
        fp16=t.fp16 and not cpu,
        activation_checkpointing=t.gradient_checkpointing,
        torch_compile=t.torch_compile,
        deepspeed=t.deepspeed,
        dataloader_num_workers=t.dataloader_num_workers,
        remove_unused_columns=False,  # the collator needs word_ids, sentence_starts, doc_id, record_id
        report_to=[r for r in t.report_to if r != "none"] or "none",
        use_cpu=cpu,
        disable_tqdm=not is_main_process(),
    )
    # TensorBoard event files go to OUTPUT_DIR/logs
    os.environ.setdefault("TENSORBOARD_LOGGING_DIR", str(Path(recipe.output_dir) / "logs"))
    if t.fsdp:
        options["fsdp"] = t.fsdp
        if t.fsdp_config:
            options["fsdp_config"] = t.fsdp_config
    if cpu and world > 1:
        options["ddp_backend"] = "gloo"
    return TrainingArguments(**options)


def _optimizer(recipe: Recipe, model, args):
    if recipe.training.optimizer != "lamb":
        return None
    try:
        from pytorch_optimizer import Lamb
    except ImportError:
        raise ImportError("training.optimizer=lamb needs pytorch_optimizer: pip install pytorch_optimizer") from None
    from transformers import Trainer

    decay = set(Trainer.get_decay_parameter_names(None, model))
    groups = [
        {"params": [p for n, p in model.named_parameters() if p.requires_grad and n in decay],
         "weight_decay": args.weight_decay},
        {"params": [p for n, p in model.named_parameters() if p.requires_grad and n not in decay], "weight_decay": 0.0},
    ]
    return Lamb(groups, lr=args.learning_rate, betas=(args.adam_beta1, args.adam_beta2), eps=args.adam_epsilon)


def draw_loss_curve(log_history: list[dict], path: Path, title: str) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.warning("matplotlib is not installed: no loss curve (pip install 'chinese_ptm[demo]')")
        return None
    train = [(h["step"], h["loss"]) for h in log_history if "loss" in h and "step" in h]
    heldout = [(h["step"], h["heldout_mlm_loss"]) for h in log_history if "heldout_mlm_loss" in h]
    acc = [(h["step"], h["mlm_accuracy"]) for h in log_history if "mlm_accuracy" in h]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if train:
        ax.plot(*zip(*train), label="training loss", color="tab:blue")
    if heldout:
        ax.plot(*zip(*heldout), "o-", label="held-out MLM loss", color="tab:orange")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    if acc:
        ax2 = ax.twinx()
        ax2.plot(*zip(*acc), label="training MLM accuracy", color="tab:green", alpha=0.6)
        ax2.set_ylabel("MLM accuracy")
        ax2.set_ylim(0, 1)
        lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
        ax.legend(lines, labels, loc="upper right")
    else:
        ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


def run_stage(recipe: Recipe, resume: bool = True) -> dict:
    """Train one stage; returns its report (also written to OUTPUT_DIR/report.json)."""
    from transformers import set_seed

    if recipe.model.requires_init and not recipe.model.init_from:
        raise RecipeError(f"recipe {recipe.name!r} continues pretraining from a checkpoint: set "
                          "--set model.init_from=DIR (a Chinese BERT checkpoint such as bert-base-chinese)")
    out = Path(recipe.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    args = training_arguments(recipe)
    set_seed(recipe.training.seed)
    tokenizer = load_run_tokenizer(recipe)
    train, heldout, data_summary = prepared_records(recipe, tokenizer, args)
    model = build_model(recipe, tokenizer)
    if recipe.training.gradient_checkpointing:
        model.config.use_cache = False
    collator = make_collator(recipe, tokenizer, recipe.training.seed)
    heldout_collator = make_collator(recipe, tokenizer, recipe.training.seed + 1)
    Trainer, Callback = _make_trainer_class()
    holder: list = []
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train,
        data_collator=collator,
        processing_class=tokenizer,
        optimizers=(_optimizer(recipe, model, args), None),
        callbacks=[Callback(collator, holder, recipe.training.eval_steps)],
        heldout=heldout,
        heldout_collator=heldout_collator,
    )
    holder.append(trainer)
    checkpoint = last_complete_checkpoint(out) if resume else None
    if checkpoint and is_main_process():
        print(f"resuming from {checkpoint}")
    if checkpoint:
        history = json.loads((Path(checkpoint) / "trainer_state.json").read_text()).get("log_history", [])
        trainer.tokens_seen = max([h.get("tokens_seen", 0) for h in history] or [0])
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=checkpoint)
    seconds = time.perf_counter() - started
    metrics = trainer.evaluate_heldout()
    digests = rank_digests(trainer.model)
    final = out / FINAL_DIR
    trainer.save_model(str(final))
    report = {}
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(final))
        curve = draw_loss_curve(trainer.state.log_history, out / LOSS_CURVE_FILE, f"{recipe.name}")
        params = sum(p.numel() for p in model.parameters())
        report = {
            "recipe": recipe.name,
            "description": recipe.description,
            "architecture": recipe.model.architecture,
            "parameters": params,
            "steps": trainer.state.global_step,
            "tokens_seen": trainer.tokens_seen,
            "train_loss": result.training_loss,
            "seconds_this_run": seconds,
            "resumed_from": checkpoint,
            **metrics,
            "final_checkpoint": str(final),
            "loss_curve": str(curve) if curve else None,
            "data": {k: data_summary.get(k) for k in ("documents", "sentences", "records", "tokens", "unk_rate")},
            "world_size": args.world_size,
            "rank_weight_digests": digests,
            "recipe_config": recipe.to_dict(),
        }
        (out / REPORT_FILE).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report


def run(recipe: Recipe, resume: bool = True) -> list[dict]:
    return [run_stage(stage, resume=resume) for stage in stage_recipes(recipe)]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chinese-ptm pretrain", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", nargs="?", help="recipe name (recipes/<name>.yaml) or path")
    parser.add_argument("--train-files", nargs="+", default=None, help="corpus files (data.train_files)")
    parser.add_argument("--output-dir", default=None, help="output directory (output_dir)")
    parser.add_argument("--max-steps", type=int, default=None, help="optimizer steps (training.max_steps)")
    parser.add_argument("--init-from", default=None, help="checkpoint to start from (model.init_from)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any recipe field, e.g. --set training.learning_rate=5e-4 (repeatable)")
    parser.add_argument("--no-resume", action="store_true", help="start over even if checkpoints exist")
    parser.add_argument("--help-recipe", action="store_true", help="list every recipe field with its help")
    return parser


def main(argv: list[str] | None = None):
    args = build_parser().parse_args(argv)
    if args.help_recipe:
        print(recipe_help())
        return 0
    if not args.recipe:
        build_parser().print_usage()
        return 2
    try:
        overrides = parse_sets(args.set, "--set training.learning_rate=5e-4")
        if args.train_files:
            overrides["data.train_files"] = args.train_files
        if args.output_dir:
            overrides["output_dir"] = args.output_dir
        if args.max_steps is not None:
            overrides["training.max_steps"] = args.max_steps
        if args.init_from:
            overrides["model.init_from"] = args.init_from
        recipe = load_recipe(args.recipe, overrides)
        reports = run(recipe, resume=not args.no_resume)
    except (RecipeError, FileNotFoundError, ValueError, ImportError) as err:
        print(f"chinese-ptm pretrain: error: {err}", file=sys.stderr)
        return 1
    if is_main_process():
        for report in reports:
            print(f"{report['recipe']}: {report['steps']} steps, {report['tokens_seen']} tokens, held-out MLM "
                  f"accuracy {report['heldout_mlm_accuracy']:.4f}, loss curve {report['loss_curve']}")
    return reports


if __name__ == "__main__":
    result = main()
    sys.exit(result if isinstance(result, int) else 0)
