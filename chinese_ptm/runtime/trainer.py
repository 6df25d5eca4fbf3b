"""The Trainer every run uses, the TrainingArguments a run gets, checkpoints and the loss curve.

:class:`ChinesePtmTrainer` is transformers' Trainer with hooks of ours: ``create_optimizer`` builds the
optimizer from parameter groups a runner supplies (layer-wise learning-rate decay, parameters that gradual
unfreezing will wake up later) and can be LAMB; the guards of :mod:`.guards` (preemption, non-finite losses)
and a manifest for every checkpoint (:mod:`.checkpoints`) ride on its callbacks; the training batches carry
their record ids for the guard's message. Everything else (loops, evaluation, metrics, checkpoints, best model,
early stopping, DDP/DeepSpeed/FSDP) is the Trainer's.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any, Callable, cast

import torch
from transformers import Trainer, TrainerCallback

from ..errors import Preempted, SettingsError
from .checkpoints import write_manifest
from .config import TrainingSettings
from .guards import NonFiniteGuard, PreemptionWatch, agreed
from .loading import resolve_bundled_file
from .plan import BatchPlan, plan_batches
from .ranks import is_main_process, world_size

logger = logging.getLogger(__name__)

#: (model, training arguments) -> parameter groups for the optimizer (dicts with "params", maybe "lr")
ParamGroups = Callable[[torch.nn.Module, object], list[dict]]


def default_param_groups(model: torch.nn.Module, args) -> list[dict]:
    """Weight decay on weights, none on biases and LayerNorms (the Trainer's rule), trainable parameters only."""
    decay = set(Trainer.get_decay_parameter_names(None, model))  # type: ignore[arg-type]  # the rule reads no self
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    return [
        {"params": [p for n, p in named if n in decay], "weight_decay": args.weight_decay},
        {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0},
    ]


#: the key under which a training batch carries the dataset indices of its records
RECORD_IDS = "record_ids"


class _WithRecordIds(torch.utils.data.Dataset):
    """A map-style dataset whose items are (index, record): the collator wrapper puts the indices in the batch."""

    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        return index, self.data[index]

    def __getitems__(self, indices):
        getitems = getattr(self.data, "__getitems__", None)
        rows = getitems(indices) if getitems else [self.data[i] for i in indices]
        return list(zip(indices, rows))


class _CollateWithRecordIds:
    def __init__(self, collator):
        self.collator = collator

    def __call__(self, items):
        batch = self.collator([row for _, row in items])
        batch[RECORD_IDS] = torch.tensor([index for index, _ in items])
        return batch


class _Guards(TrainerCallback):
    """The trainer's guards on the Trainer's events: the step a guard names, both guards agreed on by the ranks
    before the optimizer moves, the preemption save after the step, and a manifest after each checkpoint."""

    def __init__(self, trainer: "ChinesePtmTrainer"):
        self.trainer = trainer
        self.last_saved: str | None = None

    def on_step_begin(self, args, state, control, **kwargs):
        self.trainer.nonfinite.step = state.global_step + 1

    def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kwargs):
        # every rank agrees on both guards at once: one all-reduce per step
        watch, guard = self.trainer.preemption, self.trainer.nonfinite
        signum, nonfinite = agreed(watch.local_flag(), guard.local_flag())
        watch.settle(signum)
        guard.settle(nonfinite, optimizer)

    def on_step_end(self, args, state, control, **kwargs):
        # the step's logging and evaluation run as scheduled before the save (an evaluation draws from the RNG
        # whose state the checkpoint keeps); a "best" strategy may cancel a save, so it saves here at once
        if self.trainer.preemption.stopped:
            if args.save_strategy == "best":
                self.trainer.save_and_stop()
            control.should_save = control.should_log = True  # the log carries what the step counted

    def on_save(self, args, state, control, **kwargs):
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.barrier()  # every rank has written its part (RNG states, shards)
        self.last_saved = str(Path(args.output_dir) / f"checkpoint-{state.global_step}")
        if args.should_save and Path(self.last_saved).is_dir():
            write_manifest(self.last_saved)
        if self.trainer.preemption.stopped:  # leave at once: nothing of the end of training may run
            raise Preempted(self.trainer.preemption.signum, self.last_saved)


class ChinesePtmTrainer(Trainer):
    """The Trainer with our optimizer hook (parameter groups from the runner, AdamW or LAMB) and guards: a
    preemption signal saves and stops (:class:`~chinese_ptm.errors.Preempted`), a non-finite loss stops the run
    or, with ``nonfinite_skips``, skips up to that many steps in a row. A model with ``checkpoint_state_dict``
    (one that trains beside fixed teachers) says what its checkpoints hold."""

    def _save(self, output_dir=None, state_dict=None):
        if state_dict is None and hasattr(self.model, "checkpoint_state_dict"):
            state_dict = self.model.checkpoint_state_dict()
        return super()._save(output_dir, state_dict)

    def __init__(
        self,
        *args,
        optimizer_name: str = "adamw",
        param_groups: ParamGroups | None = None,
        nonfinite_skips: int = 0,
        **kwargs,
    ):
        self.optimizer_name = optimizer_name
        self.param_groups = param_groups
        self.nonfinite = NonFiniteGuard(nonfinite_skips)
        self.preemption = PreemptionWatch()
        super().__init__(*args, **kwargs)
        self.guards = _Guards(self)
        self.add_callback(self.guards)

    def train(self, *args, **kwargs):
        with self.preemption:
            return super().train(*args, **kwargs)

    def _issue_warnings_after_load(self, load_result) -> None:
        """After loading a checkpoint (the best one, a resumed one): weights tied to others are not saved, so
        their absence is what is intended (they are tied again, silently); anything else is named in one line."""
        tied = set(getattr(self.model, "all_tied_weights_keys", None) or ())
        missing = [k for k in load_result.missing_keys if k not in tied]
        if len(missing) < len(load_result.missing_keys):
            cast(Any, self.model).tie_weights()
        if missing:
            logger.warning(f"the checkpoint lacks {len(missing)} weights, left as initialised: {missing}")
        if load_result.unexpected_keys:
            logger.warning(f"the checkpoint holds weights this model does not use: {load_result.unexpected_keys}")

    def save_and_stop(self):
        """Save a complete checkpoint of this step (every rank) and leave the training loop (:class:`_Guards`
        raises :class:`Preempted` once the manifest is written)."""
        self._save_checkpoint(self.model_wrapped, trial=None)
        self.guards.on_save(self.args, self.state, self.control)

    def get_train_dataloader(self):
        if not isinstance(self.train_dataset, torch.utils.data.IterableDataset):
            data, collator = self.train_dataset, self.data_collator
            self.train_dataset, self.data_collator = _WithRecordIds(data), _CollateWithRecordIds(collator)
            try:
                return super().get_train_dataloader()
            finally:
                self.train_dataset, self.data_collator = data, collator
        return super().get_train_dataloader()

    def log(self, logs: dict, *args, **kwargs):
        if self.nonfinite.skipped_steps and ("loss" in logs or "train_loss" in logs):
            logs["skipped_steps"] = len(self.nonfinite.skipped_steps)  # so far, of non-finite losses
        super().log(logs, *args, **kwargs)

    def training_step(self, model, inputs, num_items_in_batch=None):
        record_ids = inputs.pop(RECORD_IDS, None)
        loss = super().training_step(model, inputs, num_items_in_batch)
        self.nonfinite.observe(loss, record_ids)
        return loss

    def create_optimizer(self, model=None):
        if self.optimizer is not None:
            return self.optimizer
        if self.optimizer_name == "adamw" and self.param_groups is None:
            return super().create_optimizer(model)
        model = model if model is not None else self.model
        groups = (self.param_groups or default_param_groups)(model, self.args)
        groups = [g for g in groups if g["params"]]
        a = self.args
        if self.optimizer_name == "lamb":
            try:
                from pytorch_optimizer import Lamb
            except ImportError:
                raise SettingsError(
                    "training.optimizer=lamb needs pytorch_optimizer: pip install pytorch_optimizer"
                ) from None
            self.optimizer = Lamb(groups, lr=a.learning_rate, betas=(a.adam_beta1, a.adam_beta2), eps=a.adam_epsilon)
        else:
            self.optimizer = torch.optim.AdamW(
                groups, lr=a.learning_rate, betas=(a.adam_beta1, a.adam_beta2), eps=a.adam_epsilon
            )
        return self.optimizer


def batch_plan(settings: TrainingSettings, world: int | None = None) -> BatchPlan | None:
    """The global batch spread over ``world`` devices (default: this run's), or None when the
    settings give per-device batch and accumulation directly."""
    if not settings.global_batch_size:
        return None
    return plan_batches(settings.global_batch_size, world_size() if world is None else world, settings.micro_batch_size)


def active_loggers(requested) -> list[str]:
    """The requested logging integrations that are installed (the others are skipped, said once)."""
    from transformers.integrations import get_available_reporting_integrations

    requested = [requested] if isinstance(requested, str) else list(requested or [])
    wanted = [r for r in requested if r != "none"]
    if wanted == ["all"]:
        wanted = list(get_available_reporting_integrations())
    available = set(get_available_reporting_integrations())
    active = [r for r in wanted if r in available]
    missing = [r for r in wanted if r not in available]
    if is_main_process() and wanted:
        note = (
            f"; not installed, skipped: {', '.join(missing)} (pip install 'chinese_ptm[tensorboard]' adds TensorBoard)"
            if missing
            else ""
        )
        logger.warning("logging to: %s%s", ", ".join(active) or "the console and report.json only", note)
    return active


def on_cpu(settings: TrainingSettings) -> bool:
    return bool(settings.use_cpu) or not torch.cuda.is_available()


def training_arguments(settings: TrainingSettings, output_dir: str | Path, **forced):
    """TrainingArguments for a run: the settings with what the machine and our data need on top
    (CPU without a GPU and gloo under torchrun, bf16/fp16 only on GPUs, no column dropping since our
    collators need their extra columns, the batch plan, installed loggers, bundled configs by name)."""
    cpu = on_cpu(settings)
    plan = batch_plan(settings)
    if plan is not None and plan.warning() and is_main_process():
        logger.warning(plan.warning())
    options = dict(
        output_dir=str(output_dir),
        use_cpu=cpu,
        bf16=bool(settings.bf16) and not cpu,  # recipes for GPUs ask for bf16; a CPU run stays in float32
        fp16=bool(settings.fp16) and not cpu,
        remove_unused_columns=False,
        report_to=active_loggers(settings.report_to) or "none",
        disable_tqdm=bool(settings.disable_tqdm) or not is_main_process(),
    )
    if plan is not None:
        options.update(per_device_train_batch_size=plan.per_device_batch, gradient_accumulation_steps=plan.accumulation)
        if "per_device_eval_batch_size" not in settings.values:
            options["per_device_eval_batch_size"] = plan.per_device_batch
    if settings.deepspeed and isinstance(settings.deepspeed, str):
        options["deepspeed"] = str(resolve_bundled_file(settings.deepspeed, "recipes"))
    if settings.fsdp_config and isinstance(settings.fsdp_config, str):
        options["fsdp_config"] = str(resolve_bundled_file(settings.fsdp_config, "recipes"))
    if cpu and world_size() > 1:
        options["ddp_backend"] = "gloo"
    # TensorBoard event files go to OUTPUT_DIR/logs
    os.environ.setdefault("TENSORBOARD_LOGGING_DIR", str(Path(output_dir) / "logs"))
    return settings.arguments(**{**options, **forced})


# ---------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------


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


def draw_loss_curve(
    log_history: list[dict],
    path: Path,
    title: str,
    heldout_key: str = "heldout_loss",
    accuracy_key: str = "mlm_accuracy",
) -> Path | None:
    """Training loss, held-out loss and an accuracy over steps as a PNG (None without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.warning("matplotlib is not installed: no loss curve (pip install 'chinese_ptm[plots]')")
        return None
    train = [(h["step"], h["loss"]) for h in log_history if "loss" in h and "step" in h]
    heldout = [(h["step"], h[heldout_key]) for h in log_history if heldout_key in h]
    acc = [(h["step"], h[accuracy_key]) for h in log_history if accuracy_key in h]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if train:
        ax.plot(*zip(*train), label="training loss", color="tab:blue")
    if heldout:
        ax.plot(*zip(*heldout), "o-", label="held-out loss", color="tab:orange")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if acc:
        ax2 = ax.twinx()
        ax2.plot(*zip(*acc), label=accuracy_key.replace("_", " "), color="tab:green", alpha=0.6)
        ax2.set_ylabel("accuracy")
        ax2.set_ylim(0, 1)
        more = ax2.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    ax.legend(handles, labels, loc="upper right")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
