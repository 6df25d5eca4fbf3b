"""The model a fine-tuning run trains: a checkpoint's encoder with the task's head, fed by the layers and
pooling the method asks for.

With the default method (top layer, BERT's pooler) the model is transformers' own head class for the task
(``GlyceBertFor*``, ``BertFor*``, ``AlbertFor*``, ``ElectraFor*``), saved as such and loadable with ``AutoModelFor*``. Other layer choices
(the embedding output, an ELMo-style scalar mix of all layers) and poolings ([CLS], mean) use
:class:`TaskModel`: the same encoder, under the same attribute name ``bert``, with our head. Either way the
strategy code finds the encoder's embeddings, layers and pooler at the same places.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import UserError
from ..modeling.factory import AMBERT
from ..runtime.loading import load_pretrained, model_class
from . import registry
from .task import TaskData

#: the encoder class after the family's prefix (GlyceBertModel, BertModel, AlbertModel, ElectraModel)
ENCODERS = "Model"


def uses_standard_head(method, kind: str) -> bool:
    """Whether the task model is transformers' head class itself: the default method, and always for kinds with
    nothing to pool (spelling correction)."""
    return registry.kind(kind).standard_head_only or (method.layers == "top" and method.pooling == "pooler")


def head_config(task: TaskData) -> dict:
    """Config fields the head needs: label names (kept with the model) and the loss."""
    return {k: v for k, v in registry.kind(task.kind).head_config(task).items() if v is not None}


def head_class(checkpoint_kind: str, task: TaskData):
    """transformers' head class of the task on a checkpoint family (``GlyceBertForTokenClassification`` ...)."""
    return model_class(checkpoint_kind, registry.kind(task.kind).head)


def build_task_model(task: TaskData, source: str, kind: str, method, scratch: bool = False):
    """The task's model on the checkpoint ``source`` (random weights of the same shape when ``scratch``)."""
    options = head_config(task)
    if kind == AMBERT:  # how its heads combine the two views
        options |= {"combine": method.combine, "agreement_weight": method.agreement_weight}
    if uses_standard_head(method, task.kind):
        return load_checkpoint(head_class(kind, task), source, scratch, options)
    if kind == AMBERT:
        raise UserError("AMBERT fine-tunes with its own heads: method.layers top and method.pooling pooler")
    encoder = load_checkpoint(model_class(kind, ENCODERS), source, scratch, {})
    return task_model(encoder, task, method)


def task_model(encoder, task: TaskData, method) -> TaskModel:
    """:class:`TaskModel` of the task on ``encoder``, fed by the method's layers and pooling."""
    options = head_config(task)
    return TaskModel(
        encoder, task.kind, options.get("num_labels", 1), options.get("problem_type"), method.layers, method.pooling
    )


def head_fields_config(cls, source: str, fields: dict):
    """The checkpoint's config with the head's fields set, those its config class does not declare too (a BERT
    checkpoint has no ``prefix_lm``: passed to ``from_pretrained`` it would reach the model's constructor)."""
    config, undeclared = cls.config_class.from_pretrained(source, return_unused_kwargs=True, **fields)
    for name, value in undeclared.items():
        setattr(config, name, value)
    return config


def load_checkpoint(cls, source: str, scratch: bool, options: dict):
    """``cls`` from the checkpoint ``source``, or with ``scratch`` the same architecture freshly initialised
    (the glyph table, input data rather than weights, kept)."""
    config = head_fields_config(cls, source, options)
    if not scratch:
        return load_pretrained(cls, source, ignore_mismatched_sizes=True, config=config)
    pretrained = load_pretrained(cls, source, config=config)
    model = cls(pretrained.config)  # same architecture and size, fresh initialisation
    glyphs = getattr(getattr(pretrained.base_model, "embeddings", None), "glyph_embeddings", None)
    if glyphs is not None:  # glyph bitmaps are input data, not learned weights: keep them
        model.load_glyph_table(glyphs.embedding.weight.detach().clone())
    return model


# ---------------------------------------------------------------------------------------------
# TaskModel: any layers, any pooling
# ---------------------------------------------------------------------------------------------


class ScalarMix(nn.Module):
    """ELMo's scalar mix: ``gamma * sum_k softmax(w)_k * h_k`` over the embedding output and every layer."""

    def __init__(self, n_layers: int):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(n_layers))
        self.gamma = nn.Parameter(torch.ones(()))

    def forward(self, hidden_states: tuple[torch.Tensor, ...]) -> torch.Tensor:
        weights = torch.softmax(self.weights, dim=0)
        stacked = torch.stack(hidden_states, dim=0)  # (L+1, B, T, H)
        return self.gamma * torch.einsum("l,lbth->bth", weights, stacked)


@dataclass
class Representation:
    layers: str
    pooling: str


class TaskModel(nn.Module):
    """An encoder (``GlyceBertModel``, ``BertModel``, ``AlbertModel``, ``ElectraModel``) and a task head fed by
    chosen layers and pooling."""

    def __init__(self, encoder, kind: str, num_labels: int, problem_type: str | None, layers: str, pooling: str):
        super().__init__()
        self.bert = encoder
        self.config = encoder.config
        self.kind, self.num_labels, self.problem_type = kind, num_labels, problem_type
        self.task_kind = registry.kind(kind)
        self.representation = Representation(layers, pooling)
        self._requested, self._encoded = {}, None  # see forward
        self.mix = ScalarMix(encoder.config.num_hidden_layers + 1) if layers == "scalar_mix" else None
        self.dropout = nn.Dropout(encoder.config.hidden_dropout_prob)
        name, head = self.task_kind.make_head(encoder.config.hidden_size, num_labels)
        head.weight.data.normal_(0.0, encoder.config.initializer_range)
        head.bias.data.zero_()
        setattr(self, name, head)

    def states(self, input_ids, attention_mask, token_type_ids, pinyin_ids, glyph_ids=None) -> torch.Tensor:
        """The chosen layers' token states (B, T, H)."""
        extra = {k: v for k, v in (("pinyin_ids", pinyin_ids), ("glyph_ids", glyph_ids)) if v is not None}
        wanted = self.representation.layers != "top" or self._requested.get("output_hidden_states", False)
        out = self.bert(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            output_hidden_states=wanted,
            output_attentions=self._requested.get("output_attentions", False),
            **extra,
        )
        if self._requested:
            self._encoded = out
        if self.representation.layers == "embeddings":
            return out.hidden_states[0]
        if self.mix is not None:
            return self.mix(out.hidden_states)
        return out.last_hidden_state

    def pool(self, states: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """One vector per sequence (B, H) by the chosen pooling."""
        pooling = self.representation.pooling
        if pooling == "mean":
            mask = attention_mask if attention_mask is not None else torch.ones(states.shape[:2], device=states.device)
            mask = mask.unsqueeze(-1).to(states.dtype)  # (B, T, 1)
            return (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        if pooling == "pooler" and getattr(self.bert, "pooler", None) is not None:
            return pooler_output(self.bert, states)  # dense + tanh over the first token
        return states[:, 0]  # [CLS]

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        pinyin_ids=None,
        labels=None,
        start_positions=None,
        end_positions=None,
        glyph_ids=None,
        output_hidden_states=False,
        output_attentions=False,
        **kwargs,
    ):
        inputs = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": token_type_ids,
            "pinyin_ids": pinyin_ids,
            "glyph_ids": glyph_ids,
        }
        targets = {"labels": labels, "start_positions": start_positions, "end_positions": end_positions}
        # the heads call states() themselves (a choice head on flattened inputs): the encoder's extra outputs a
        # caller asks for (a distillation's intermediate losses) are kept there for this call only
        requested = {"output_hidden_states": output_hidden_states, "output_attentions": output_attentions}
        self._requested = {k: True for k, v in requested.items() if v}
        try:
            out = self.task_kind.head_forward(self, inputs, targets)
            if self._requested:
                out["hidden_states"], out["attentions"] = self._encoded.hidden_states, self._encoded.attentions
        finally:
            self._requested, self._encoded = {}, None
        return out


def pooler_output(encoder, states: torch.Tensor) -> torch.Tensor:
    """BERT's pooler (dense + tanh over the first token) of (B, T, H) states; ALBERT keeps the two apart."""
    activation = getattr(encoder, "pooler_activation", None)
    if activation is not None:  # AlbertModel: pooler is the dense layer alone
        return activation(encoder.pooler(states[:, 0]))
    return encoder.pooler(states)


def head_modules(model) -> list[str]:
    """Names of the task-specific modules (what trains when the encoder is frozen)."""
    names = [n for n in ("classifier", "qa_outputs", "mix", "sequence_summary") if getattr(model, n, None) is not None]
    return names


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameters of the model being trained; fixed models beside it (a distillation's
    teachers, a self-distillation's own copy) are not counted: results.json reports the model it saves."""
    fixed = getattr(model, "fixed_prefixes", ())
    params = [p for name, p in model.named_parameters() if not name.startswith(fixed)]
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)
