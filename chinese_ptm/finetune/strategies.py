"""How much of the model trains, and at which learning rate: feature extraction (frozen encoder), the top k
layers, gradual unfreezing, layer-wise learning-rate decay; parameter-efficient LoRA (peft) and Houlsby
adapters (ours: no maintained library adds bottleneck adapters to GlyceBERT under transformers 5).

Every model here keeps its encoder at ``model.bert`` (GlyceBERT's and BERT's heads, :class:`~.model.TaskModel`)
or under its base-model prefix (``albert``, ``electra``): embeddings, layers, pooler; the rest is the head.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn
from transformers import TrainerCallback

from ..errors import SettingsError
from .model import head_modules

ADAPTERS_FILE = "adapters.safetensors"


def encoder_of(model):
    """The encoder of a task model, also inside a peft model (``base_model.model``)."""
    inner = getattr(getattr(model, "base_model", None), "model", None)
    for candidate in (model, inner):
        if candidate is not None and hasattr(candidate, "bert"):
            return candidate.bert
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
    if method.strategy in ("frozen", "top_k", "gradual"):
        trainable = {id(p) for p in head_parameters(model, method.pooling)}
        keep = {"frozen": 0, "top_k": method.top_k, "gradual": 1}[method.strategy]
        for block in blocks[len(blocks) - keep :] if keep else []:
            trainable |= {id(p) for p in block.parameters()}
        for p in model.parameters():
            p.requires_grad = id(p) in trainable
    if method.strategy == "gradual":
        if world > 1:
            raise SettingsError(
                "method.strategy=gradual changes which parameters train during the run, which DDP "
                "cannot follow: run it on one process (or use top_k)"
            )
        callbacks.append(GradualUnfreezing(blocks))
    groups = None
    if method.layer_lr_decay < 1 or method.head_learning_rate is not None or method.strategy == "gradual":
        groups = layer_groups(model, method)
    return callbacks, groups


class GradualUnfreezing(TrainerCallback):
    """ULMFiT's gradual unfreezing: epoch 0 trains the head and the top layer, each later epoch one more layer
    below (the embeddings last)."""

    def __init__(self, blocks: list[nn.Module]):
        self.blocks = blocks

    def on_epoch_begin(self, args, state, control, **kwargs):
        thawed = min(int(state.epoch or 0) + 1, len(self.blocks))
        for block in self.blocks[len(self.blocks) - thawed :]:
            for p in block.parameters():
                p.requires_grad = True


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
            if not p.requires_grad and method.strategy != "gradual":
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
