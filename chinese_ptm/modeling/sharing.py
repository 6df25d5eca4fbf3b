"""ALBERT's cross-layer parameter sharing, for every trunk, as transformers' tied weights.

Layer ``i > 0`` holds the very parameters of layer 0 for the parts ``share_layers`` names (``all``: the whole
layer; ``attention``: self-attention with its output projection and LayerNorm; ``ffn``: the feed-forward block
with its LayerNorm). The ties are declared through ``_tied_weights_keys`` (target -> source patterns), so
transformers itself ties them at construction and after loading, keeps one optimizer entry per shared
tensor, writes each shared tensor once and reads checkpoints written so. This file imports only torch and the
standard library: it travels with saved GlyceBERT checkpoints for ``trust_remote_code``.
"""

from __future__ import annotations

import re
from typing import Any

SHARE_LAYERS = ("none", "all", "attention", "ffn")

#: where one layer's parameters live, per layer layout (``{i}``: the layer's index)
_LAYER_PATHS = {
    "bert": r"encoder\.layer\.{i}\.",  # BertEncoder: GlyceBERT, BERT, ELECTRA
    "albert": r"encoder\.albert_layer_groups\.{i}\.albert_layers\.0\.",  # ALBERT, one layer per group
}
#: the sub-modules each mode shares, per layout ("" = the whole layer)
_SHARED_PARTS = {
    "bert": {"all": ("",), "attention": ("attention.",), "ffn": ("intermediate.", "output.")},
    # ALBERT shares everything natively (``num_hidden_groups=1``: one layer group run L times)
    "albert": {"all": (), "attention": ("attention.",), "ffn": ("ffn.", "ffn_output.", "full_layer_layer_norm.")},
}


def check_share_layers(value: str) -> None:
    if value not in SHARE_LAYERS:
        raise ValueError(f"share_layers must be one of {', '.join(SHARE_LAYERS)}, got {value!r}")


def layer_ties(mode: str, layout: str = "bert", prefix: str = "") -> dict[str, str]:
    """``{target pattern: source pattern}`` tying the shared parts of every layer above the first to layer 0's.

    transformers expands the patterns against the parameter names in sorted order; each layer's names sort
    together and in the same order as layer 0's, so target and source pair up name by name."""
    check_share_layers(mode)
    if mode == "none":
        return {}
    path = _LAYER_PATHS[layout]
    prefix = re.escape(prefix)
    return {
        prefix + path.format(i=r"(?!0\.)\d+") + re.escape(part): prefix + path.format(i="0") + re.escape(part)
        for part in _SHARED_PARTS[layout][mode]
    }


def class_ties(model) -> dict[str, str]:
    """The ties a transformers class declares itself (its decoder tied to the word embeddings ...)."""
    for klass in type(model).__mro__:
        value = klass.__dict__.get("_tied_weights_keys")
        if isinstance(value, dict):
            return dict(value)
    return {}


class SharedLayersMixin:
    """For a transformers model class: the class's own ties plus the layer ties of ``config.share_layers``,
    found under the model's base-model prefix (``albert.`` in ``AlbertForMaskedLM``; none in the base model)."""

    # supplied by the transformers model class this mixes into
    config: Any
    base_model_prefix: str
    shared_layout = "bert"
    extra_ties: dict[str, str] = {}  # a class's own ties (a dict ``_tied_weights_keys`` would hide this property)

    @property
    def _tied_weights_keys(self) -> dict[str, str]:
        mode = getattr(self.config, "share_layers", "none") or "none"
        prefix = "" if not hasattr(self, self.base_model_prefix) else f"{self.base_model_prefix}."
        return {**class_ties(self), **self.extra_ties, **layer_ties(mode, self.shared_layout, prefix)}


def with_shared_layers(cls):
    """A transformers model class that also ties the layers ``config.share_layers`` names (saved under the
    same class name, so its checkpoints still say what they are)."""
    if issubclass(cls, SharedLayersMixin):
        return cls
    layout = "albert" if cls.base_model_prefix == "albert" else "bert"
    return type(cls.__name__, (SharedLayersMixin, cls), {"shared_layout": layout, "__module__": __name__})
