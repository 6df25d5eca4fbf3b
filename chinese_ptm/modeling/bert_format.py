"""Reading BERT-format checkpoint directories into GlyceBERT.

Two kinds of directories have a ``config.json`` with ``"model_type": "bert"``:

- ``"chinesebert"``: the original ChineseBERT release (``pytorch_model.bin`` with glyph and pinyin weights,
  ``config/pinyin_map.json`` ...). Its state-dict names already are GlyceBERT's; the glyph and pinyin sizes are
  read from the weights.
- ``"bert"``: a Chinese BERT checkpoint (bert-base-chinese, BERT-wwm-ext, MacBERT ...). Its weights fill
  GlyceBERT's trunk; the glyph, pinyin and fusion weights are new, and ``map_fc`` starts as ``[I | 0 | 0]``
  (bias 0) so the fused embedding equals the word embedding and the model starts as the BERT it came from.

Imports only torch, safetensors and the configuration (this file travels with saved checkpoints).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from .configuration_glycebert import GlyceBertConfig

CHINESEBERT = "chinesebert"
BERT = "bert"

_EMBEDDINGS = "bert.embeddings."
_GLYPH_TABLE = _EMBEDDINGS + "glyph_embeddings.embedding.weight"
_PINYIN_EMBEDDING = _EMBEDDINGS + "pinyin_embeddings.embedding.weight"
_PINYIN_CONV = _EMBEDDINGS + "pinyin_embeddings.conv.weight"
_MAP_FC = _EMBEDDINGS + "map_fc."
_BERT_TOP_LEVEL = ("embeddings.", "encoder.", "pooler.")
# buffers of transformers' BertEmbeddings that older checkpoints saved; GlyceBERT rebuilds them
_DROPPED_SUFFIXES = ("embeddings.position_ids", "embeddings.token_type_ids")
# keys of BertConfig files that describe the checkpoint, not GlyceBertConfig fields
_IGNORED_CONFIG_KEYS = ("model_type", "architectures", "transformers_version", "directionality")


def checkpoint_kind(path: str | Path) -> str | None:
    """``"chinesebert"``, ``"bert"`` or None (not a local BERT-format directory)."""
    path = Path(path)
    config_file = path / "config.json"
    if not config_file.is_file():
        return None
    with open(config_file, encoding="utf-8") as f:
        model_type = json.load(f).get("model_type", "bert")
    if model_type != "bert":
        return None
    # the weights decide: a plain BERT saved next to a pinyin-aware tokenizer has config/pinyin_map.json too
    try:
        names = _weight_names(path)
    except FileNotFoundError:
        return CHINESEBERT if (path / "config" / "pinyin_map.json").is_file() else BERT
    if any(".glyph_embeddings." in n or ".pinyin_embeddings." in n for n in names):
        return CHINESEBERT
    return BERT


def weight_files(path: Path) -> list[Path]:
    """The weight files of a directory: safetensors preferred (single or sharded), else pytorch_model.bin."""
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = path / index_name
        if index.is_file():
            with open(index, encoding="utf-8") as f:
                shards = sorted(set(json.load(f)["weight_map"].values()))
            return [path / shard for shard in shards]
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (path / name).is_file():
            return [path / name]
    raise FileNotFoundError(
        f"{path} has a config.json but no model.safetensors or pytorch_model.bin: "
        "point at the directory that holds the checkpoint's weights."
    )


def _weight_names(path: Path) -> list[str]:
    files = weight_files(path)
    if all(f.suffix == ".safetensors" for f in files):
        from safetensors import safe_open

        names = []
        for f in files:
            with safe_open(str(f), framework="pt") as handle:
                names.extend(handle.keys())
        return names
    return list(read_state_dict(path))


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of a checkpoint directory (``.bin`` files are read with ``weights_only=True``)."""
    state_dict: dict[str, torch.Tensor] = {}
    for f in weight_files(Path(path)):
        if f.suffix == ".safetensors":
            state_dict.update(load_file(str(f)))
        else:
            state_dict.update(torch.load(f, map_location="cpu", weights_only=True))
    return state_dict


def _normalise_names(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop rebuilt buffers, rename TF-era LayerNorm gamma/beta, add the ``bert.`` prefix of a bare BertModel."""
    bare = not any(k.startswith("bert.") for k in state_dict) and any(k.startswith(_BERT_TOP_LEVEL) for k in state_dict)
    out = {}
    for key, value in state_dict.items():
        if key.endswith(_DROPPED_SUFFIXES):
            continue
        if key.endswith(".gamma"):
            key = key[: -len("gamma")] + "weight"
        elif key.endswith(".beta"):
            key = key[: -len("beta")] + "bias"
        if bare and key.startswith(_BERT_TOP_LEVEL):
            key = "bert." + key
        out[key] = value
    return out


def config_field_names() -> set[str]:
    """Keyword arguments that set a GlyceBertConfig attribute (``dtype`` stays a loading argument)."""
    names = {f.name for f in dataclasses.fields(GlyceBertConfig)}
    return (names | {"num_labels"}) - {"dtype", "torch_dtype"}


def load_bert_format(
    path: str | Path, config: GlyceBertConfig | None = None, **config_overrides
) -> tuple[GlyceBertConfig, dict[str, torch.Tensor], list[str]]:
    """Read a BERT-format directory as GlyceBERT: ``(config, state_dict, synthesized_keys)``.

    ``config_overrides`` set GlyceBertConfig fields (``use_glyph=False``, ``num_labels=3`` ...) on top of the
    checkpoint's BertConfig and what its weights imply. ``synthesized_keys`` name the weights this function
    created rather than read (``map_fc`` of a BERT checkpoint).
    """
    path = Path(path)
    kind = checkpoint_kind(path)
    if kind is None:
        raise ValueError(f"{path} is not a BERT-format checkpoint directory (config.json with model_type 'bert').")
    state_dict = _normalise_names(read_state_dict(path))

    if config is None:
        with open(path / "config.json", encoding="utf-8") as f:
            values = {k: v for k, v in json.load(f).items() if k not in _IGNORED_CONFIG_KEYS}
        if values.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(
                f"{path}/config.json has position_embedding_type {values['position_embedding_type']!r}: "
                "GlyceBERT (like transformers' BERT) supports absolute position embeddings only."
            )
        known = config_field_names()
        values = {k: v for k, v in values.items() if k in known}
        glyph_size = config_overrides.get("glyph_size", GlyceBertConfig.glyph_size)  # the field's default
        values.update(_sizes_from_weights(state_dict, glyph_size=glyph_size))
        if kind == BERT:
            values.update(use_glyph=True, use_pinyin=True)
        values.update(config_overrides)
        config = GlyceBertConfig(**values)
    elif config_overrides:
        config = copy.deepcopy(config)
        for key, value in config_overrides.items():
            setattr(config, key, value)

    synthesized: list[str] = []
    if kind == BERT:
        hidden = config.hidden_size
        weight = torch.zeros(hidden, config.fusion_input_size)
        weight[:, :hidden] = torch.eye(hidden)  # map_fc(cat[word, pinyin, glyph]) == word
        state_dict[_MAP_FC + "weight"] = weight
        state_dict[_MAP_FC + "bias"] = torch.zeros(hidden)
        synthesized = [_MAP_FC + "weight", _MAP_FC + "bias"]
    return config, state_dict, synthesized


def _sizes_from_weights(state_dict: dict[str, torch.Tensor], glyph_size: int) -> dict:
    """GlyceBertConfig fields implied by the weights: vocabulary, fonts, pinyin alphabet and widths."""
    sizes: dict = {}
    word = state_dict.get(_EMBEDDINGS + "word_embeddings.weight")
    if word is not None:
        sizes["vocab_size"], sizes["hidden_size"] = word.shape
    glyph = state_dict.get(_GLYPH_TABLE)
    if glyph is not None:
        sizes["use_glyph"] = True
        per_font = glyph_size * glyph_size
        if glyph.shape[1] % per_font:
            raise ValueError(
                f"The glyph table {_GLYPH_TABLE} has width {glyph.shape[1]}, not a multiple of "
                f"glyph_size**2 = {per_font}: pass the checkpoint's glyph_size."
            )
        sizes["num_fonts"] = glyph.shape[1] // per_font
    elif _EMBEDDINGS + "glyph_map.weight" in state_dict:
        raise ValueError(f"The checkpoint has glyph_map weights but no glyph table ({_GLYPH_TABLE}).")
    pinyin = state_dict.get(_PINYIN_EMBEDDING)
    if pinyin is not None:
        sizes["use_pinyin"] = True
        sizes["pinyin_vocab_size"], sizes["pinyin_embedding_size"] = pinyin.shape
        sizes["pinyin_kernel_size"] = state_dict[_PINYIN_CONV].shape[-1]
    if glyph is not None or pinyin is not None:
        # an original checkpoint: which branches exist is read from the weights
        sizes.setdefault("use_glyph", False)
        sizes.setdefault("use_pinyin", False)
    return sizes
