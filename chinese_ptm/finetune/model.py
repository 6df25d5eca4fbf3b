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
from transformers.modeling_outputs import (
    MultipleChoiceModelOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)

from ..modeling.losses import choice_loss, sequence_loss, span_loss, token_loss
from ..runtime.loading import model_class
from .metrics import bios_labels
from .tasks import CLASSIFICATION, CORRECTION, MULTILABEL, MULTIPLE_CHOICE, REGRESSION, SPAN, TAGGING, TaskData

#: head class per task kind, after the family's prefix (GlyceBert..., Bert..., Albert..., Electra...)
HEADS = {
    CLASSIFICATION: "ForSequenceClassification",
    REGRESSION: "ForSequenceClassification",
    MULTILABEL: "ForSequenceClassification",
    MULTIPLE_CHOICE: "ForMultipleChoice",
    SPAN: "ForQuestionAnswering",
    TAGGING: "ForTokenClassification",
    CORRECTION: "ForSpellingCorrection",  # GlyceBERT's, and ours on transformers' BertModel
}
ENCODERS = "Model"


def uses_standard_head(method, kind: str | None = None) -> bool:
    """Whether the task model is the head class itself: the default method, and always for correction (a
    vocabulary prediction per character: there is no pooling to choose)."""
    return kind == CORRECTION or (method.layers == "top" and method.pooling == "pooler")


def head_config(task: TaskData) -> dict:
    """Config fields the head needs: label names (kept with the model) and the loss."""
    options: dict = {}
    if task.kind in (CLASSIFICATION, MULTILABEL, TAGGING):
        labels = task.labels if task.kind != TAGGING else _tag_names(task.labels)
        options.update(
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
        )
    if task.kind == REGRESSION:
        options["num_labels"] = 1
    if task.problem_type:
        options["problem_type"] = task.problem_type
    return options


def _tag_names(types) -> list[str]:

    return bios_labels(types)


def build_task_model(task: TaskData, source: str, kind: str, method, scratch: bool = False):
    """The task's model on the checkpoint ``source`` (random weights of the same shape when ``scratch``)."""
    options = head_config(task)
    if uses_standard_head(method, task.kind):
        cls = model_class(kind, HEADS[task.kind])
        return load_checkpoint(cls, source, scratch, options)
    encoder = load_checkpoint(model_class(kind, ENCODERS), source, scratch, {})
    return TaskModel(
        encoder, task.kind, options.get("num_labels", 1), options.get("problem_type"), method.layers, method.pooling
    )


def load_checkpoint(cls, source: str, scratch: bool, options: dict):
    """``cls`` from the checkpoint ``source``, or with ``scratch`` the same architecture freshly initialised
    (the glyph table, input data rather than weights, kept)."""
    if not scratch:
        return cls.from_pretrained(source, ignore_mismatched_sizes=True, **options)
    pretrained = cls.from_pretrained(source, **options) if options else cls.from_pretrained(source)
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
        self.representation = Representation(layers, pooling)
        hidden = encoder.config.hidden_size
        self.mix = ScalarMix(encoder.config.num_hidden_layers + 1) if layers == "scalar_mix" else None
        self.dropout = nn.Dropout(encoder.config.hidden_dropout_prob)
        if kind == SPAN:
            self.qa_outputs = nn.Linear(hidden, 2)
        else:
            self.classifier = nn.Linear(hidden, 1 if kind == MULTIPLE_CHOICE else num_labels)
        for module in [m for m in (getattr(self, "classifier", None), getattr(self, "qa_outputs", None)) if m]:
            module.weight.data.normal_(0.0, encoder.config.initializer_range)
            module.bias.data.zero_()

    def _states(self, input_ids, attention_mask, token_type_ids, pinyin_ids) -> torch.Tensor:
        extra = {"pinyin_ids": pinyin_ids} if pinyin_ids is not None else {}
        wanted = self.representation.layers != "top"
        out = self.bert(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            output_hidden_states=wanted,
            **extra,
        )
        if self.representation.layers == "embeddings":
            return out.hidden_states[0]  # (B, T, H)
        if self.mix is not None:
            return self.mix(out.hidden_states)  # (B, T, H)
        return out.last_hidden_state  # (B, T, H)

    def _pool(self, states: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        pooling = self.representation.pooling
        if pooling == "mean":
            mask = attention_mask if attention_mask is not None else torch.ones(states.shape[:2], device=states.device)
            mask = mask.unsqueeze(-1).to(states.dtype)  # (B, T, 1)
            return (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (B, H)
        if pooling == "pooler" and getattr(self.bert, "pooler", None) is not None:
            return pooler_output(self.bert, states)  # dense + tanh over the first token: (B, H)
        return states[:, 0]  # [CLS]: (B, H)

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        pinyin_ids=None,
        labels=None,
        start_positions=None,
        end_positions=None,
        **kwargs,
    ):
        if self.kind == MULTIPLE_CHOICE:
            return self._choices(input_ids, attention_mask, token_type_ids, pinyin_ids, labels)
        states = self._states(input_ids, attention_mask, token_type_ids, pinyin_ids)
        if self.kind == SPAN:
            start, end = self.qa_outputs(states).split(1, dim=-1)  # (B, T, 1) each
            start, end = start.squeeze(-1).contiguous(), end.squeeze(-1).contiguous()  # (B, T)
            loss = span_loss(start, end, start_positions, end_positions)
            return QuestionAnsweringModelOutput(loss=loss, start_logits=start, end_logits=end)
        if self.kind == TAGGING:
            logits = self.classifier(self.dropout(states))  # (B, T, K)
            return TokenClassifierOutput(loss=token_loss(logits, labels), logits=logits)
        logits = self.classifier(self.dropout(self._pool(states, attention_mask)))  # (B, K)
        return SequenceClassifierOutput(loss=sequence_loss(logits, labels, self.problem_type), logits=logits)

    def _choices(self, input_ids, attention_mask, token_type_ids, pinyin_ids, labels):
        batch, choices = input_ids.shape[:2]
        flat = [
            t.flatten(0, 1) if t is not None else None for t in (input_ids, attention_mask, token_type_ids, pinyin_ids)
        ]  # (B*C, T, ...)
        states = self._states(*flat)
        logits = self.classifier(self.dropout(self._pool(states, flat[1]))).view(batch, choices)  # (B, C)
        return MultipleChoiceModelOutput(loss=choice_loss(logits, labels), logits=logits)


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
    """(trainable, total) parameters."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)
