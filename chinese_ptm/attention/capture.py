"""What a model attends to, for one text or pair: attention weights of every layer and head, and the query
and key vectors behind them, captured with forward hooks on the model's own attention modules.

bertviz's neuron view needs its own patched BERT classes; hooks need nothing of the kind, so the same code
serves GlyceBERT, transformers' BERT and every head class on top of either. SDPA (the default) returns no
weights: the model runs eager attention for the call and gets its own implementation back afterwards.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..errors import UserError
from ..text.pinyin import contextual_pinyin, decode_syllable

logger = logging.getLogger(__name__)

#: input branches of GlyceBERT that a comparison can switch off (the module whose output is zeroed)
BRANCHES = {"pinyin": "pinyin_embeddings", "glyph": "glyph_map"}


@dataclass
class AttentionCapture:
    """One forward pass seen from inside. Arrays are float32 numpy: ``attention`` (L, H, T, T) with rows =
    attending (query) tokens; ``queries`` and ``keys`` (L, H, T, d) before scaling; ``without`` maps a switched-off
    branch to the attention of the same text without it."""

    tokens: list[str]
    readings: list[str | None]
    attention: np.ndarray
    queries: np.ndarray
    keys: np.ndarray
    pair_start: int | None = None  # index of the first token of the second text
    truncated: bool = False
    without: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def layers(self) -> int:
        return self.attention.shape[0]

    @property
    def heads(self) -> int:
        return self.attention.shape[1]

    def labels(self) -> list[str]:
        """Token labels for views: the character and, where it has one, its reading (``行 hang2``)."""
        return [f"{t} {r}" if r else t for t, r in zip(self.tokens, self.readings)]

    def check_position(self, layer: int | None, head: int | None) -> None:
        """A layer or head outside the model: one line naming the option and the valid range."""
        for option, value, count in (("--layer", layer, self.layers), ("--head", head, self.heads)):
            if value is not None and not 0 <= value < count:
                raise UserError(f"{option} {value}: out of range; this model has {count} (0 to {count - 1})")


def self_attention_modules(model: nn.Module) -> list[nn.Module]:
    """The self-attention modules of the encoder, bottom to top: any module with ``query`` and ``key``
    projections and a head size (BERT's and therefore GlyceBERT's ``BertSelfAttention``)."""
    found = [
        m
        for m in model.modules()
        if isinstance(getattr(m, "query", None), nn.Linear)
        and isinstance(getattr(m, "key", None), nn.Linear)
        and hasattr(m, "attention_head_size")
    ]
    if not found:
        raise UserError(f"{type(model).__name__}: no BERT self-attention layers found, so no attention weights to show")
    return found


@contextlib.contextmanager
def eager_attention(model: nn.Module):
    """Run ``model`` with eager attention (the only implementation that returns weights), then restore it."""
    before = model.config._attn_implementation
    if before != "eager":
        model.set_attn_implementation("eager")
    try:
        yield model
    finally:
        if before != "eager":
            model.set_attn_implementation(before)


@contextlib.contextmanager
def branch_switched_off(model: nn.Module, branch: str):
    """GlyceBERT with the ``pinyin`` or ``glyph`` branch's output replaced by zeros (the fusion layer then sees
    only the other inputs), for as long as the block runs."""
    module = branch_module(model, branch)
    handle = module.register_forward_hook(lambda _m, _inputs, output: torch.zeros_like(output))
    try:
        yield model
    finally:
        handle.remove()


def branch_module(model: nn.Module, branch: str) -> nn.Module:
    if branch not in BRANCHES:
        raise UserError(f"--compare-without {branch}: expected one of {', '.join(BRANCHES)}")
    embeddings = getattr(model.base_model, "embeddings", None)
    module = getattr(embeddings, BRANCHES[branch], None)
    if module is None:
        raise UserError(
            f"--compare-without {branch}: {type(model).__name__} has no {branch} branch "
            "(a BERT checkpoint, or a GlyceBERT built without it)"
        )
    return module


def _hooks(modules: list[nn.Module], store: dict) -> list:
    """Record each layer's query/key projections and the weights its forward returns."""
    handles = []
    for index, module in enumerate(modules):

        def keep(name, i=index):
            return lambda _m, _inputs, output: store.setdefault(name, {}).__setitem__(i, output)

        handles.append(module.query.register_forward_hook(keep("queries")))
        handles.append(module.key.register_forward_hook(keep("keys")))
        handles.append(module.register_forward_hook(keep("attention")))
    return handles


def _heads(projection: torch.Tensor, heads: int) -> np.ndarray:
    """(1, T, H*d) -> (H, T, d)"""
    _, length, width = projection.shape
    return projection[0].reshape(length, heads, width // heads).transpose(0, 1).float().numpy()


@torch.no_grad()
def run_captured(model: nn.Module, inputs: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One forward pass of a batch of one: attention (L, H, T, T), queries and keys (L, H, T, d)."""
    modules = self_attention_modules(model)
    store: dict = {}
    handles = _hooks(modules, store)
    was_training = model.training
    model.eval()
    try:
        with eager_attention(model):
            model(**inputs)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    weights = [store["attention"][i][1] for i in range(len(modules))]
    if any(w is None for w in weights):
        raise UserError(f"{type(model).__name__}: its attention returned no weights even in eager mode")
    heads = modules[0].num_attention_heads
    attention = np.stack([w[0].float().numpy() for w in weights])
    queries = np.stack([_heads(store["queries"][i], heads) for i in range(len(modules))])
    keys = np.stack([_heads(store["keys"][i], heads) for i in range(len(modules))])
    return attention, queries, keys


def _positions(model: nn.Module) -> int:
    return int(getattr(model.config, "max_position_embeddings", 512))


def encode(model: nn.Module, tokenizer, text: str, text_pair: str | None = None) -> tuple[dict, bool]:
    """The model's inputs for one text (or pair), cut to the model's positions; whether they were cut."""
    for option, value in (("TEXT", text), ("--pair", text_pair)):
        if value is not None and not value.strip():
            raise UserError(f"{option}: empty; give the text whose attention to show")
    limit = _positions(model)
    inputs = tokenizer(text, text_pair, return_tensors="pt")
    truncated = inputs["input_ids"].shape[1] > limit
    if truncated:  # encode again, cut: the tokenizer decides which side of a pair gives way
        full = inputs["input_ids"].shape[1]
        inputs = tokenizer(text, text_pair, truncation=True, max_length=limit, return_tensors="pt")
        logger.warning(
            "the text has %d tokens, more than the model's %d positions: showing the first %d", full, limit, limit
        )
    if getattr(model.config, "model_type", None) != "glycebert":
        inputs.pop("pinyin_ids", None)  # BERT reads no pinyin (a GlyceBERT tokenizer on a BERT model)
    return dict(inputs), truncated


def token_readings(tokenizer, inputs: dict, texts: list[str]) -> list[str | None]:
    """Each token's pinyin: the pinyin the model read (GlyceBERT), or the contextual reading of the character
    a one-character token stands for (a BERT tokenizer gives no pinyin)."""
    ids = inputs["input_ids"][0].tolist()
    if "pinyin_ids" in inputs:
        return [decode_syllable(row) or None for row in inputs["pinyin_ids"][0].reshape(len(ids), -1).tolist()]

    readings: list[str | None] = []
    chars = [(c, r) for text in texts for c, r in zip(text, contextual_pinyin(text))]
    cursor = 0
    for token in tokenizer.convert_ids_to_tokens(ids):
        found = next((i for i in range(cursor, len(chars)) if chars[i][0] == token), None) if len(token) == 1 else None
        readings.append(chars[found][1] if found is not None else None)
        cursor = found + 1 if found is not None else cursor
    return readings


def capture_attention(
    model: nn.Module, tokenizer, text: str, text_pair: str | None = None, compare_without: tuple[str, ...] = ()
) -> AttentionCapture:
    """Attention, queries and keys of ``model`` on ``text`` (and ``text_pair``); with ``compare_without``
    (``pinyin``, ``glyph``) also the attention when that GlyceBERT branch is switched off."""
    for branch in compare_without:
        branch_module(model, branch)  # fail before the forward passes
    inputs, truncated = encode(model, tokenizer, text, text_pair)
    attention, queries, keys = run_captured(model, inputs)
    ids = inputs["input_ids"][0].tolist()
    sep = tokenizer.sep_token_id
    pair_start = ids.index(sep) + 1 if text_pair is not None and sep in ids[:-1] else None
    capture = AttentionCapture(
        tokens=tokenizer.convert_ids_to_tokens(ids),
        readings=token_readings(tokenizer, inputs, [text, text_pair or ""]),
        attention=attention,
        queries=queries,
        keys=keys,
        pair_start=pair_start,
        truncated=truncated,
    )
    for branch in compare_without:
        with branch_switched_off(model, branch):
            capture.without[branch] = run_captured(model, inputs)[0]
    return capture
