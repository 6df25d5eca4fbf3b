"""Trainer pieces of the pretraining runner: resumable masking, MLM accuracy and throughput logging,
held-out evaluation, checkpoints, TrainingArguments from a recipe, LAMB, the loss curve."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path

import numpy as np
import torch

from .masking import MaskingCollator
from .recipe import Recipe
from .runtime.loading import resolve_bundled_file
from .runtime.plan import BatchPlan, plan_batches
from .runtime.ranks import is_main_process, world_size

logger = logging.getLogger(__name__)


def batch_plan(recipe: Recipe, world: int | None = None) -> BatchPlan:
    """The recipe's global batch spread over ``world`` devices (default: this run's world size)."""
    t = recipe.training
    return plan_batches(t.global_batch_size, world_size() if world is None else world, t.micro_batch_size)


def active_loggers(requested: list[str]) -> list[str]:
    """The requested logging integrations that are installed (the others are skipped, said once)."""
    from transformers.integrations import get_available_reporting_integrations

    wanted = [r for r in requested if r != "none"]
    available = set(get_available_reporting_integrations())
    active = [r for r in wanted if r in available]
    missing = [r for r in wanted if r not in available]
    if is_main_process() and wanted:
        note = f"; not installed, skipped: {', '.join(missing)} (pip install 'chinese_ptm[tensorboard]' adds " \
               "TensorBoard)" if missing else ""
        logger.warning("logging to: %s%s", ", ".join(active) or "the console and report.json only", note)
    return active


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
    plan = batch_plan(recipe, world)
    if plan.warning() and is_main_process():
        logger.warning(plan.warning())
    cpu = t.use_cpu or not torch.cuda.is_available()
    warmup = int(t.warmup_steps) if t.warmup_steps >= 1 else float(t.warmup_steps)
    options = dict(
        output_dir=recipe.output_dir,
        max_steps=t.max_steps,
        per_device_train_batch_size=plan.per_device_batch,
        per_device_eval_batch_size=plan.per_device_batch,
        gradient_accumulation_steps=plan.accumulation,
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
        deepspeed=str(resolve_bundled_file(t.deepspeed, "recipes")) if t.deepspeed else None,
        dataloader_num_workers=t.dataloader_num_workers,
        remove_unused_columns=False,  # the collator needs word_ids, sentence_starts, doc_id, record_id
        report_to=active_loggers(t.report_to) or "none",
        use_cpu=cpu,
        disable_tqdm=not is_main_process(),
    )
    # TensorBoard event files go to OUTPUT_DIR/logs
    os.environ.setdefault("TENSORBOARD_LOGGING_DIR", str(Path(recipe.output_dir) / "logs"))
    if t.fsdp:
        options["fsdp"] = t.fsdp
        if t.fsdp_config:
            options["fsdp_config"] = str(resolve_bundled_file(t.fsdp_config, "recipes"))
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
        logger.warning("matplotlib is not installed: no loss curve (pip install 'chinese_ptm[plots]')")
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
