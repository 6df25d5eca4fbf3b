"""Pretraining runner: ``chinese-ptm pretrain recipes/<name>.yaml`` (also under torchrun).

One recipe (``chinese_ptm.pretrain.recipe``) describes the model, the data, the masking and the schedule.
The runner prepares the corpus when its prepared records are missing or stale, builds the model
(``chinese_ptm.modeling.factory``: GlyceBERT or BERT, ALBERT's options, ELECTRA's objective), trains it with the
transformers Trainer (DDP under torchrun, DeepSpeed, FSDP, bf16/fp16, accumulation, activation
checkpointing, torch.compile) and resumes from the last complete checkpoint after an
interruption, with the same data order and masking. It logs loss, MLM accuracy, learning rate and
tokens/s (TensorBoard too), evaluates MLM accuracy on a held-out slice, draws the loss curve and
writes ``report.json``.

    chinese-ptm pretrain chinesebert-tiny --max-steps 100
    torchrun --nproc_per_node 8 -m chinese_ptm.pretrain chinesebert --train-files corpus/*.txt
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from transformers import TrainerCallback

from ..masking import ResumableMaskingCollator
from ..masking.ambert import AmbertCollator
from ..modeling.factory import build_model, saved_tokenizer, word_tokenizer
from ..runtime import UserError, is_main_process
from ..runtime.checkpoints import last_good_checkpoint, write_manifest
from ..runtime.flops import mfu, training_flops_per_token
from ..runtime.loading import resolve_bundled_file, transformers_progress
from ..runtime.trainer import (
    ChinesePtmTrainer,
    batch_plan,
    draw_loss_curve,
    on_cpu,
    rank_digests,
    training_arguments,
)
from .corpus import load_run_tokenizer, prepared_dir, prepared_records
from .recipe import Recipe, stage_recipes

logger = logging.getLogger(__name__)

REPORT_FILE = "report.json"
LOSS_CURVE_FILE = "loss_curve.png"
FINAL_DIR = "final"


# ---------------------------------------------------------------------------------------------
# Pieces
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


def make_collator(recipe: Recipe, tokenizer, seed: int, strategy: str | None = None):
    """The run's masking collator; AMBERT's adds the word view of each batch."""
    collator = ResumableMaskingCollator(
        tokenizer,
        strategy=strategy or recipe.masking.strategy,
        mlm_probability=recipe.masking.mlm_probability,
        replace_probs=tuple(recipe.masking.replace_probs),
        sentence_task=recipe.masking.sentence_task,
        max_length=recipe.data.max_length,
        seed=seed,
        return_pinyin=recipe.model.architecture in ("glycebert", "ambert") and recipe.model.use_pinyin,
    )
    if recipe.model.architecture == "ambert":
        return AmbertCollator(collator, word_tokenizer(recipe.model))
    return collator


def mlm_accuracy_counts(outputs, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(correct, total) MLM predictions; logits either (B, T, V) or sparse (N_labelled, V)."""
    logits = getattr(outputs, "logits", None)
    if logits is None:
        logits = outputs.prediction_logits
    picked = labels != -100
    if logits.dim() == 3:
        logits = logits[picked]
    return (logits.argmax(-1) == labels[picked]).sum(), picked.sum()


def replaced_token_counts(outputs, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(right, judged) replaced/original calls of an ELECTRA discriminator over the real tokens; (0, 0) else.
    The MLM accuracy an ELECTRA run logs is its generator's."""
    scores = getattr(outputs, "discriminator_logits", None)
    if scores is None:
        zero = attention_mask.new_zeros(())
        return zero, zero
    active = attention_mask.bool()
    return ((scores > 0).float() == outputs.replaced)[active].sum(), active.sum()


def mlm_example_stats(logits, labels: torch.Tensor) -> torch.Tensor:
    """Per example: (masked tokens, correct predictions, summed negative log-likelihood), shape (B, 3); for AMBERT
    the word view's three after the character view's, (B, 6). Per-example rows keep the Trainer's gathering and
    truncation to the dataset length exact."""
    word_view = None
    if isinstance(labels, (tuple, list)) and len(labels) > 1 and labels[1].dim() == 2:  # (labels, word_labels)
        word_view = _view_stats(logits[1], labels[1])
    if isinstance(logits, (tuple, list)):
        logits = logits[0]  # (MLM logits, sentence-task logits) or (logits, word_logits)
    if isinstance(labels, (tuple, list)):
        labels = labels[0]  # (MLM labels, sentence label) or (labels, word_labels)
    stats = _view_stats(logits, labels)
    return stats if word_view is None else torch.cat([stats, word_view], dim=1)


def _view_stats(logits, labels: torch.Tensor) -> torch.Tensor:
    picked = labels != -100  # (B, T)
    if logits.dim() == 3:
        logits = logits[picked]  # (B, T, V) -> (N, V)
    targets = labels[picked]  # (N,)
    rows = picked.nonzero()[:, 0]  # example of each masked position
    nll = torch.nn.functional.cross_entropy(logits.float(), targets, reduction="none")
    stats = torch.zeros(labels.shape[0], 3, dtype=torch.float32, device=labels.device)
    stats[:, 0] = picked.sum(1).float()
    stats[:, 1].index_add_(0, rows, (logits.argmax(-1) == targets).float())
    stats[:, 2].index_add_(0, rows, nll)
    return stats


def mlm_metrics(prediction) -> dict:
    """Held-out MLM accuracy and loss over all masked positions (the Trainer's compute_metrics)."""
    stats = np.asarray(prediction.predictions, dtype=np.float64)
    stats = stats.reshape(-1, stats.shape[-1])  # (records, 3), AMBERT (records, 6)
    metrics = {"records": len(stats)}
    for prefix, view in zip(("", "word_"), np.split(stats, stats.shape[1] // 3, axis=1)):
        masked = max(view[:, 0].sum(), 1.0)
        metrics[f"{prefix}mlm_accuracy"] = view[:, 1].sum() / masked
        metrics[f"{prefix}mlm_loss"] = view[:, 2].sum() / masked
        metrics[f"{prefix}masked_tokens"] = int(view[:, 0].sum())
    return metrics


#: outputs of the pretraining models that held-out metrics do not read
NOT_FOR_METRICS = (
    "mlm_loss",
    "sentence_loss",
    "generator_loss",
    "discriminator_loss",
    "discriminator_logits",
    "replaced",
    "char_loss",
    "word_loss",
    "hidden_states",
    "attentions",
)


class PretrainTrainer(ChinesePtmTrainer):
    """Logs MLM accuracy, tokens/s and tokens seen with the loss; evaluates on the held-out records with
    their own collator (fixed masks) under the ``heldout_`` prefix."""

    def __init__(self, *args, heldout_collator=None, **kwargs):
        super().__init__(*args, preprocess_logits_for_metrics=mlm_example_stats, compute_metrics=mlm_metrics, **kwargs)
        self.model_accepts_loss_kwargs = False  # plain per-batch mean losses, as BERT
        self.heldout_collator = heldout_collator
        self._counts = None
        self._window_start = time.perf_counter()
        self.tokens_seen = 0
        # model FLOPs per trained token, for the MFU logged with tokens/s (at the records' length)
        seq_len = getattr(self.data_collator, "max_length", None) or 512
        self.flops_per_token = training_flops_per_token(self.model, seq_len)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**inputs)
        with torch.no_grad():
            correct, total = mlm_accuracy_counts(outputs, inputs["labels"])
            detected, judged = replaced_token_counts(outputs, inputs["attention_mask"])
            step = torch.stack(
                [
                    correct.float(),
                    total.float(),
                    inputs["attention_mask"].sum().float(),
                    detected.float(),
                    judged.float(),
                ]
            )
            self._counts = step if self._counts is None else self._counts + step
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def log(self, logs: dict, *args, **kwargs):
        if ("loss" in logs or "train_loss" in logs) and self._counts is not None:  # the last window too
            counts = self._counts
            if self.args.world_size > 1 and torch.distributed.is_initialized():
                counts = counts.clone()
                torch.distributed.all_reduce(counts)
            correct, total, tokens, detected, judged = counts.tolist()
            now = time.perf_counter()
            self.tokens_seen += int(tokens)
            if judged:  # ELECTRA: the discriminator's replaced/original calls over all tokens
                logs["replaced_token_accuracy"] = round(detected / judged, 4)
            tokens_per_s = tokens / max(now - self._window_start, 1e-9)
            logs.update(
                mlm_accuracy=round(correct / max(total, 1), 4),
                tokens_per_s=round(tokens_per_s, 1),
                tokens_seen=self.tokens_seen,
            )
            utilisation = mfu(tokens_per_s, self.flops_per_token, self.args.world_size)
            if utilisation is not None:  # on GPUs whose peak is known
                logs["mfu"] = round(utilisation, 4)
            self._counts, self._window_start = None, now
        super().log(logs, *args, **kwargs)

    def get_eval_dataloader(self, eval_dataset=None):
        self.heldout_collator.set_epoch(0)  # the same masks at every evaluation
        training_collator, self.data_collator = self.data_collator, self.heldout_collator
        try:
            return super().get_eval_dataloader(eval_dataset)
        finally:
            self.data_collator = training_collator

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "heldout"):
        # the MLM logits must come first among the outputs the metrics see (a pretraining output also holds
        # its partial losses and, for ELECTRA, the discriminator's view)
        ignore_keys = ignore_keys or list(NOT_FOR_METRICS)
        return super().evaluate(eval_dataset, ignore_keys, metric_key_prefix="heldout")


class EpochCallback(TrainerCallback):
    """Tells the training collator the epoch: masks differ between epochs and match after a resume."""

    def __init__(self, collator):
        self.collator = collator

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.collator.set_epoch(int(state.epoch or 0))


def pretraining_arguments(recipe: Recipe):
    """The recipe's TrainingArguments; held-out evaluation every ``training.eval_steps`` when set."""
    t = recipe.training
    evaluation = {"eval_strategy": "steps"} if t.eval_steps and "eval_strategy" not in t.values else {}
    # the labels the collator gives (next_sentence_label for SOP too): a head whose forward takes both sentence
    # labels would otherwise be evaluated without labels, the Trainer waiting for both
    sentence = ["next_sentence_label"] if recipe.masking.sentence_task else []
    words = ["word_labels"] if recipe.model.architecture == "ambert" else []  # AMBERT's word view
    return training_arguments(t, recipe.output_dir, label_names=["labels", *sentence, *words], **evaluation)


def _trainer(recipe: Recipe, model, args, tokenizer, train, heldout) -> "PretrainTrainer":
    collator = make_collator(recipe, tokenizer, recipe.training.seed)
    return PretrainTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=heldout,
        data_collator=collator,
        processing_class=saved_tokenizer(recipe.model, tokenizer),
        callbacks=[EpochCallback(collator)],
        optimizer_name=recipe.training.optimizer,
        nonfinite_skips=recipe.training.nonfinite_skips,
        heldout_collator=make_collator(recipe, tokenizer, recipe.training.seed + 1, recipe.masking.heldout_strategy),
    )


def _resume_point(trainer: "PretrainTrainer", out: Path, resume: bool) -> str | None:
    """The last complete checkpoint to resume from (and the tokens counted up to it), or None."""
    checkpoint = last_good_checkpoint(out) if resume else None
    if checkpoint and is_main_process():
        print(f"resuming from {checkpoint}")
    if checkpoint:
        history = json.loads((Path(checkpoint) / "trainer_state.json").read_text()).get("log_history", [])
        trainer.tokens_seen = max([h.get("tokens_seen", 0) for h in history] or [0])
    return checkpoint


def run_stage(recipe: Recipe, resume: bool = True, build=None) -> dict:
    """Train one stage; returns its report (also written to OUTPUT_DIR/report.json)."""
    from transformers import set_seed

    if recipe.model.requires_init and not recipe.model.init_from:
        raise UserError(
            f"recipe {recipe.name!r} continues pretraining from a checkpoint: set "
            "--set model.init_from=DIR (a Chinese BERT checkpoint such as bert-base-chinese)"
        )
    out = Path(recipe.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    args = pretraining_arguments(recipe)
    set_seed(recipe.training.seed)
    tokenizer = load_run_tokenizer(recipe)
    train, heldout, data_summary = prepared_records(recipe, tokenizer)
    # build: what makes the model, as build_model does (a capability above the runner, distillation, brings its own)
    model = (build or build_model)(recipe.model, tokenizer, recipe.masking.sentence_task is not None)
    trainer = _trainer(recipe, model, args, tokenizer, train, heldout)
    checkpoint = _resume_point(trainer, out, resume)
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=checkpoint)
    seconds = time.perf_counter() - started
    metrics = trainer.evaluate()
    digests = rank_digests(trainer.model)
    save_final_model(trainer, out / FINAL_DIR)
    if not trainer.is_world_process_zero():
        return {}
    saved_tokenizer(recipe.model, tokenizer).save_pretrained(str(out / FINAL_DIR))
    write_manifest(out / FINAL_DIR)
    curve = draw_loss_curve(trainer.state.log_history, out / LOSS_CURVE_FILE, recipe.name, "heldout_mlm_loss")
    report = {
        "recipe": recipe.name,
        "description": recipe.description,
        "architecture": recipe.model.architecture,
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": trainer.state.global_step,
        "tokens_seen": trainer.tokens_seen,
        "train_loss": result.training_loss,
        "seconds_this_run": seconds,
        "resumed_from": checkpoint,
        "skipped_steps": trainer.nonfinite.skipped_steps,
        **{k: v for k, v in metrics.items() if k.startswith("heldout_")},
        "final_checkpoint": str(out / FINAL_DIR),
        "loss_curve": str(curve) if curve else None,
        "data": {k: data_summary.get(k) for k in ("documents", "sentences", "records", "tokens", "unk_rate")},
        "world_size": args.world_size,
        "rank_weight_digests": digests,
        "recipe_config": recipe.to_dict(),
        "log_history": trainer.state.log_history,
    }
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report


def save_final_model(trainer, directory: Path) -> None:
    """The trained model as a checkpoint; a model that trains another inside it (a distillation's student) saves
    that one with its ``save_pretrained``."""
    from transformers import PreTrainedModel

    model = trainer.model
    if isinstance(model, PreTrainedModel) or not hasattr(model, "save_pretrained"):
        trainer.save_model(str(directory))
    elif trainer.is_world_process_zero():
        model.save_pretrained(str(directory))


def run(recipe: Recipe, resume: bool = True, build=None) -> list[dict]:
    """Train every stage of the recipe; returns their reports."""
    with transformers_progress(not recipe.training.disable_tqdm):  # no bars: none of transformers' either
        return [run_stage(stage, resume=resume, build=build) for stage in stage_recipes(recipe)]


#: bytes per trainable parameter under AdamW in fp32: the weight, its gradient and two moments
TRAINING_BYTES_PER_PARAMETER = 16


def model_summary(stage: Recipe, per_device_batch: int) -> dict:
    """The model a stage builds (made on the meta device: no memory, no time): its shape options, objective,
    parameters and a per-device memory estimate (weights, gradients and AdamW moments; activations by
    Korthikanti et al.'s per-layer count, 34 bytes per token and hidden unit plus 5 x heads x length per token,
    halved under bf16/fp16)."""
    m, t = stage.model, stage.training
    if m.init_from:  # its shape is the checkpoint's, read when the run starts: a plan does not load it
        return {"architecture": m.architecture, "objective": m.objective, "init_from": m.init_from}
    with torch.device("meta"):
        model = build_model(m, load_run_tokenizer(stage), stage.masking.sentence_task is not None)
    params = list(model.parameters())
    trainable = sum(p.numel() for p in params if p.requires_grad)
    total = sum(p.numel() for p in params)
    frozen_bytes = sum(b.numel() * b.element_size() for b in model.buffers()) + 4 * (total - trainable)
    dims = m.dims()
    length, hidden, heads = stage.data.max_length, dims["hidden_size"], dims["num_attention_heads"]
    per_layer = per_device_batch * length * (34 * hidden + 5 * heads * length)
    activations = per_layer * dims["num_hidden_layers"] * (1 if (t.bf16 or t.fp16) and not on_cpu(t) else 2)
    weights = TRAINING_BYTES_PER_PARAMETER * trainable + frozen_bytes
    options = ("use_glyph", "use_pinyin", "open_glyphs") if m.architecture != "bert" else ()
    return {
        "architecture": m.architecture,
        "objective": m.objective,
        "granularity": m.granularity,
        **dims,
        "embedding_size": m.embedding_size,
        "share_layers": m.share_layers,
        **{name: getattr(m, name) for name in options},
        "parameters": total,
        "trainable_parameters": trainable,
        "memory_per_device_gib": {
            "weights_gradients_optimizer": round(weights / 2**30, 3),
            "activations_estimate": round(activations / 2**30, 3),
        },
        "init_from": m.init_from,
    }


def describe(recipe: Recipe, world: int | None = None) -> list[dict]:
    """What each stage would run, without running it: the batch plan for the world size, steps, tokens
    per step, warm-up, precision, optimizer and where the data comes from (``--dry-run``)."""
    plans = []
    for stage in stage_recipes(recipe):
        t, d = stage.training, stage.data
        plan = batch_plan(t, world)
        gpu = not on_cpu(t)
        precision = (
            ("bf16" if t.bf16 else "fp16" if t.fp16 else "fp32")
            if gpu
            else "fp32" + (" (no GPU: bf16/fp16 apply on GPUs only)" if t.bf16 or t.fp16 else "")
        )
        plans.append(
            {
                "recipe": stage.name,
                **{k: v for k, v in plan.to_dict().items()},
                "warning": plan.warning(),
                "max_steps": t.max_steps,
                "sequence_length": d.max_length,
                "tokens_per_step": plan.global_batch * d.max_length,
                "tokens_total": plan.global_batch * d.max_length * t.max_steps,
                "warmup_steps": int(t.warmup_steps) if t.warmup_steps >= 1 else math.ceil(t.warmup_steps * t.max_steps),
                "learning_rate": t.learning_rate,
                "lr_scheduler": t.lr_scheduler_type,
                "precision": precision,
                "device": "cuda" if gpu else "cpu",
                "optimizer": t.optimizer,
                "deepspeed": str(resolve_bundled_file(t.deepspeed, "recipes")) if t.deepspeed else None,
                "fsdp": t.fsdp,
                "model": model_summary(stage, plan.per_device_batch),
                "data": {
                    "train_files": d.train_files or ["(embedded) People's Daily 1998"],
                    "prepared_dir": str(prepared_dir(stage)),
                    "prepare_scope": d.prepare_scope,
                    "prepare_timeout_minutes": d.prepare_timeout_minutes,
                },
                "output_dir": stage.output_dir,
            }
        )
    return plans
