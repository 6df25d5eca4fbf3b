"""How much of the model trains, and at which learning rate: feature extraction (frozen encoder), the top k
layers, gradual unfreezing, chain-thaw, layer-wise learning-rate decay; self-distillation; parameter-efficient
LoRA (peft) and Houlsby adapters (ours: no maintained library adds bottleneck adapters to GlyceBERT under
transformers 5).

Every model here keeps its encoder at ``model.bert`` (GlyceBERT's and BERT's heads, :class:`~.model.TaskModel`)
or under its base-model prefix (``albert``, ``electra``): embeddings, layers, pooler; the rest is the head.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import torch
from torch import nn
from transformers import EarlyStoppingCallback, TrainerCallback

from ..errors import SettingsError
from ..modeling.losses import IGNORE_INDEX, PREDICTIONS
from .model import head_modules

ADAPTERS_FILE = "adapters.safetensors"


def encoder_of(model):
    """The encoder of a task model, also inside a peft model (``base_model.model``) or an encoder-decoder
    (``encoder``, a whole pretrained model: the strategies act on it, the decoder trains throughout)."""
    inner = getattr(getattr(model, "base_model", None), "model", None)
    for candidate in (model, inner):
        if candidate is not None and hasattr(candidate, "bert"):
            return candidate.bert
        if candidate is not None and hasattr(getattr(candidate, "encoder", None), "embeddings"):
            return candidate.encoder
        prefix = getattr(candidate, "base_model_prefix", "")
        if prefix and isinstance(getattr(candidate, prefix, None), nn.Module):
            return getattr(candidate, prefix)
    raise TypeError(f"{type(model).__name__} keeps no encoder at .bert or under its base-model prefix")


def encoder_layers(encoder) -> list[nn.Module]:
    """The encoder's distinct layers bottom to top (ALBERT: one per layer group; fully shared, a single one)."""
    if hasattr(encoder.encoder, "albert_layer_groups"):
        return [layer for group in encoder.encoder.albert_layer_groups for layer in group.albert_layers]
    return list(encoder.encoder.layer)


def layer_blocks(model) -> list[nn.Module]:
    """Encoder blocks bottom to top: the embeddings, then every layer."""
    encoder = encoder_of(model)
    return [encoder.embeddings, *encoder_layers(encoder)]


def head_parameters(model, pooling: str) -> list[nn.Parameter]:
    """The task-specific parameters (and BERT's pooler when the head reads it)."""
    params = [p for name in head_modules(model) for p in getattr(model, name).parameters()]
    pooler = getattr(encoder_of(model), "pooler", None)
    if pooling == "pooler" and pooler is not None:
        params += list(pooler.parameters())
    return params


def apply_strategy(model, method, world: int) -> tuple[list, object]:
    """Freeze what the strategy keeps fixed; returns (callbacks, parameter-groups function or None)."""
    blocks = layer_blocks(model)
    callbacks: list = []
    if method.strategy in ("frozen", "top_k", "gradual", "chain_thaw"):
        trainable = {id(p) for p in head_parameters(model, method.pooling)}
        keep = {"frozen": 0, "top_k": method.top_k, "gradual": 1, "chain_thaw": 0}[method.strategy]
        for block in blocks[len(blocks) - keep :] if keep else []:
            trainable |= {id(p) for p in block.parameters()}
        for p in model.parameters():
            p.requires_grad = id(p) in trainable
    if method.strategy in CHANGING:
        if world > 1:
            raise SettingsError(
                f"method.strategy={method.strategy} changes which parameters train during the run, which DDP "
                "cannot follow: run it on one process (or use top_k)"
            )
        head = head_parameters(model, method.pooling)
        callbacks.append(GradualUnfreezing(blocks) if method.strategy == "gradual" else ChainThaw(model, head, blocks))
    groups = None
    if method.layer_lr_decay < 1 or method.head_learning_rate is not None or method.strategy in CHANGING:
        groups = layer_groups(model, method)
    return callbacks, groups


class ChangingStrategy(TrainerCallback):
    """A strategy that changes during the run which parameters train."""

    def settled_epoch(self) -> int:
        """The first epoch (from 0) from which the trained parameters stay the same to the end."""
        raise NotImplementedError


class EarlyStoppingOnceSettled(EarlyStoppingCallback):
    """Early stopping that counts only the evaluations after ``settled_epoch``: an epoch that trains one block
    alone (chain-thaw) rarely beats the dev score of the one before, and three such epochs stopped runs before
    the whole model had trained (2 of 3 seeds on reviews). With ``settled_epoch`` 0 it is transformers' own."""

    def __init__(self, early_stopping_patience: int = 1, early_stopping_threshold: float = 0.0, settled_epoch=0):
        super().__init__(early_stopping_patience, early_stopping_threshold)
        self.settled_epoch = settled_epoch

    def on_evaluate(self, args, state, control, metrics, **kwargs):
        # an evaluation at the end of epoch e sees state.epoch == e + 1
        if (state.epoch or 0) > self.settled_epoch + 1e-6:
            super().on_evaluate(args, state, control, metrics, **kwargs)

    def state(self) -> dict:
        saved = super().state()
        saved["args"]["settled_epoch"] = self.settled_epoch
        return saved


def early_stopping(patience: int, callbacks: list) -> EarlyStoppingOnceSettled:
    """Early stopping after ``patience`` evaluations without a better dev score, counted once the strategy among
    ``callbacks`` (if any) trains a fixed set of parameters."""
    settled = max((c.settled_epoch() for c in callbacks if isinstance(c, ChangingStrategy)), default=0)
    return EarlyStoppingOnceSettled(patience, settled_epoch=settled)


class GradualUnfreezing(ChangingStrategy):
    """ULMFiT's gradual unfreezing: epoch 0 trains the head and the top layer, each later epoch one more layer
    below (the embeddings last)."""

    def __init__(self, blocks: list[nn.Module]):
        self.blocks = blocks

    def settled_epoch(self) -> int:
        return len(self.blocks) - 1

    def on_epoch_begin(self, args, state, control, **kwargs):
        thawed = min(int(state.epoch or 0) + 1, len(self.blocks))
        for block in self.blocks[len(self.blocks) - thawed :]:
            for p in block.parameters():
                p.requires_grad = True


class ChainThaw(ChangingStrategy):
    """Chain-thaw (DeepMoji, Felbo et al. 2017): epoch 0 trains the head alone, epoch i the i-th block alone (the
    embeddings, then each layer upwards), every later epoch the whole model."""

    def __init__(self, model: nn.Module, head: list[nn.Parameter], blocks: list[nn.Module]):
        self.model, self.head, self.blocks = model, head, blocks

    def phases(self) -> int:
        """Epochs before the whole model trains: the head's and one per block."""
        return 1 + len(self.blocks)

    def settled_epoch(self) -> int:
        return self.phases()

    def on_train_begin(self, args, state, control, **kwargs):
        if args.num_train_epochs < self.phases() + 1 and args.max_steps <= 0:
            raise SettingsError(
                f"method.strategy=chain_thaw trains the head, then each of {len(self.blocks)} blocks alone, then "
                f"everything, an epoch each: give training.num_train_epochs >= {self.phases() + 1}"
            )

    def on_epoch_begin(self, args, state, control, **kwargs):
        epoch = int(state.epoch or 0)
        if epoch >= self.phases():
            trainable = list(self.model.parameters())
        else:
            trainable = self.head if epoch == 0 else list(self.blocks[epoch - 1].parameters())
        chosen = {id(p) for p in trainable}
        for p in self.model.parameters():
            p.requires_grad = id(p) in chosen


class WithFixedModels(nn.Module):
    """A trained model beside fixed ones (teachers): checkpoints hold the trained parts only, and load whole."""

    #: state-dict prefixes of the fixed models
    fixed_prefixes: tuple[str, ...] = ("teacher.",)
    #: the attribute holding the trained model: what is saved, and what runs in evaluation
    trained_attribute = "model"

    def trained_model(self) -> nn.Module:
        return getattr(self, self.trained_attribute)

    def save_pretrained(self, directory, *args, **kwargs):
        return self.trained_model().save_pretrained(directory, *args, **kwargs)

    def checkpoint_state_dict(self) -> dict:
        """The trained parts; of tensors that share memory (a decoder tied to its embeddings) the first name."""
        kept, seen = {}, set()
        for key, value in self.state_dict().items():
            if not key.startswith(self.fixed_prefixes) and (value.numel() == 0 or value.data_ptr() not in seen):
                kept[key] = value
                seen.add(value.data_ptr())
        return kept

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        fixed = {k: v for k, v in self.state_dict().items() if k.startswith(self.fixed_prefixes)}
        return super().load_state_dict({**fixed, **state_dict}, strict, assign)


class SelfDistillation(WithFixedModels):
    """Self-distillation (BERT-SDA, Xu et al. 2020): in training the loss adds ``weight`` x the MSE between the
    model's outputs and those of a teacher made of its own weights (:class:`SelfDistillationTeacher` keeps it
    current); in evaluation and when saved it is the model alone."""

    def __init__(self, model: nn.Module, weight: float):
        super().__init__()
        self.model, self.weight = model, weight
        self.teacher = copy.deepcopy(model).eval().requires_grad_(False)
        self.config = model.config

    def forward(self, **batch):
        out = self.model(**batch)
        if self.training and out.loss is not None:
            with torch.no_grad():
                target = self.teacher(**batch)
            out.loss = out.loss + self.weight * _squared_error(out, target, batch)
        return out


def _squared_error(out, target, batch: dict) -> torch.Tensor:
    """The mean squared error between two models' predictions, summed over the outputs (a span model's start and
    end): per labelled position for tagging, per attended position for spans, per example otherwise."""
    total = 0.0
    labels, mask = batch.get("labels"), batch.get("attention_mask")
    for name in PREDICTIONS:
        mine = getattr(out, name, None)
        if mine is None:
            continue
        error = (mine - getattr(target, name)).pow(2)  # (B, K), (B, T, K) tagging or (B, T) span ends
        if error.dim() == 3 and labels is not None:  # tagging: labelled positions only
            kept = (labels != IGNORE_INDEX).unsqueeze(-1).expand_as(error)
        elif error.dim() == 2 and name != "logits" and mask is not None:
            kept = mask.bool()
        else:
            kept = torch.ones_like(error, dtype=torch.bool)
        kept = kept.to(error.dtype)
        total = total + (error * kept).sum() / kept.sum().clamp(min=1)
    return total


class SelfDistillationTeacher(TrainerCallback):
    """Keeps the self-distillation teacher current: the running average of the weights after every step
    (``average``), or the weights at the end of each epoch (``previous_epoch``)."""

    def __init__(self, model: SelfDistillation, mode: str, decay: float):
        self.model, self.mode, self.decay = model, mode, decay

    @torch.no_grad()
    def on_step_end(self, args, state, control, **kwargs):
        if self.mode == "average":
            for kept, current in zip(self.model.teacher.parameters(), self.model.model.parameters()):
                kept.mul_(self.decay).add_(current.detach(), alpha=1 - self.decay)

    def on_epoch_end(self, args, state, control, **kwargs):
        if self.mode == "previous_epoch":
            self.model.teacher.load_state_dict(self.model.model.state_dict())


def with_self_distillation(model, method, callbacks: list, groups):
    """(model, parameter groups) wrapped for ``method.self_distill`` (unchanged when off): the teacher's callback
    is added, and the groups are the inner model's."""
    if method.self_distill == "none":
        return model, groups
    wrapped = SelfDistillation(model, method.self_distill_weight)
    callbacks.append(SelfDistillationTeacher(wrapped, method.self_distill, method.self_distill_decay))
    return wrapped, (lambda module, args: groups(module.model, args)) if groups is not None else None


def average_last_checkpoints(trainer, directory: Path, method) -> list[str]:
    """``method.ensemble checkpoints``: the model takes the mean of the weights of the run's last
    ``ensemble_checkpoints`` checkpoints (a self-ensemble in weight space); returns their names."""
    if method.ensemble != "checkpoints":
        return []
    from safetensors.torch import load_file

    found = sorted(directory.glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[-1]))
    chosen = [p for p in found if (p / "model.safetensors").is_file()][-method.ensemble_checkpoints :]
    if not chosen:
        return []
    states = [load_file(str(p / "model.safetensors")) for p in chosen]
    averaged = {
        key: torch.stack([s[key].float() for s in states]).mean(0).to(states[0][key].dtype)
        if states[0][key].is_floating_point()
        else states[0][key]
        for key in states[0]
    }
    trainer.model.load_state_dict(averaged, strict=False)
    return [p.name for p in chosen]


#: strategies that change during a run which parameters train (every parameter is in the optimizer from the start)
CHANGING = ("gradual", "chain_thaw")


def layer_groups(model, method):
    """Parameter groups with layer-wise learning-rate decay: the head (and pooler) at the head rate, the top
    layer at the base rate, each layer below ``layer_lr_decay`` times the one above, the embeddings last. All
    parameters gradual unfreezing will wake up are in the optimizer from the start."""

    def groups(module, args) -> list[dict]:
        from transformers import Trainer

        decay_names = set(Trainer.get_decay_parameter_names(None, module))
        scale: dict[int, float] = {}
        for depth, block in enumerate(reversed(layer_blocks(module))):
            for p in block.parameters():
                scale[id(p)] = method.layer_lr_decay**depth
        head_rate = method.head_learning_rate if method.head_learning_rate is not None else args.learning_rate
        by_key: dict[tuple[float, float], list] = {}
        for name, p in module.named_parameters():
            if not p.requires_grad and method.strategy not in CHANGING:
                continue
            rate = args.learning_rate * scale[id(p)] if id(p) in scale else head_rate
            by_key.setdefault((rate, args.weight_decay if name in decay_names else 0.0), []).append(p)
        return [{"params": params, "lr": rate, "weight_decay": wd} for (rate, wd), params in by_key.items()]

    return groups


# ---------------------------------------------------------------------------------------------
# parameter-efficient fine-tuning
# ---------------------------------------------------------------------------------------------


def apply_lora(model, method, pooling: str):
    """LoRA on the attention projections through peft; the head (and the pooler it reads) trains in full."""
    from peft import LoraConfig, get_peft_model

    saved = head_modules(model) + (["pooler"] if pooling == "pooler" else [])
    config = LoraConfig(
        r=method.lora_r,
        lora_alpha=method.lora_alpha,
        lora_dropout=method.lora_dropout,
        target_modules=list(method.lora_targets),
        modules_to_save=saved,
    )
    return get_peft_model(model, config)


class Adapter(nn.Module):
    """Houlsby et al.'s bottleneck: ``x + up(gelu(down(x)))``, near the identity at the start."""

    def __init__(self, hidden: int, size: int):
        super().__init__()
        self.down = nn.Linear(hidden, size)
        self.up = nn.Linear(size, hidden)
        nn.init.normal_(self.down.weight, std=1e-3)
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(nn.functional.gelu(self.down(x)))


class AdaptedLinear(nn.Module):
    """A sublayer's output projection followed by an adapter (before the residual and LayerNorm)."""

    def __init__(self, dense: nn.Linear, size: int):
        super().__init__()
        self.dense = dense
        self.adapter = Adapter(dense.out_features, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.adapter(self.dense(x))


def add_adapters(model, size: int, pooling: str) -> None:
    """Two adapters per layer (after the attention output and after the feed-forward output, as Houlsby);
    only the adapters, the LayerNorms and the head train."""
    layers = encoder_layers(encoder_of(model))
    if not all(hasattr(layer, "intermediate") for layer in layers):
        raise SettingsError(
            "method.peft=adapters needs BERT-style layers (GlyceBERT, BERT, ELECTRA); ALBERT's "
            "layers are shared: use method.peft=lora"
        )
    for layer in layers:
        layer.attention.output.dense = AdaptedLinear(layer.attention.output.dense, size)
        layer.output.dense = AdaptedLinear(layer.output.dense, size)
    trainable = {id(p) for p in head_parameters(model, pooling)}
    for name, p in model.named_parameters():
        p.requires_grad = id(p) in trainable or ".adapter." in name or "LayerNorm" in name


def save_trained_parameters(model, directory: Path, extra: dict) -> Path:
    """Only the parameters that trained (adapters, LayerNorms, head), with what is needed to rebuild."""
    from safetensors.torch import save_file

    state = {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}
    directory.mkdir(parents=True, exist_ok=True)
    save_file(state, str(directory / ADAPTERS_FILE))
    (directory / "adapters.json").write_text(json.dumps(extra, indent=2) + "\n", encoding="utf-8")
    return directory / ADAPTERS_FILE


def load_trained_parameters(model, directory: Path) -> None:
    from safetensors.torch import load_file

    state = load_file(str(directory / ADAPTERS_FILE))
    missing = set(state) - {n for n, _ in model.named_parameters()}
    if missing:
        raise SettingsError(f"{directory}: parameters {sorted(missing)[:3]} do not fit the base model")
    model.load_state_dict(state, strict=False)
