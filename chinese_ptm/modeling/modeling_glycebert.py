"""GlyceBERT (ChineseBERT): BERT whose input embedding fuses the word embedding with a pinyin and a glyph branch.

    word:   input_ids (B, T) -> word_embeddings                                       -> (B, T, E)
    pinyin: pinyin_ids (B, T, P) -> Embedding (B, T, P, 128) -> Conv1d over P -> max   -> (B, T, E)
    glyph:  input_ids (B, T) -> glyph table (B, T, F*S*S) -> glyph_map                  -> (B, T, E)
    map_fc(cat[word, pinyin, glyph]) + token type + position embeddings -> LayerNorm -> dropout
    [-> E x H projection when factorised] -> BERT encoder (layers optionally shared) -> heads

E is the hidden size H, as in ChineseBERT, unless ``config.embedding_size`` asks for ALBERT's factorised
embedding; ``config.share_layers`` shares layer 0's parameters across layers as ALBERT does.

The encoder, pooler and prediction heads are transformers' BERT modules, imported and reused as they are, so
state-dict names are those of the original ChineseBERT release. ``pinyin_ids`` follows ``input_ids`` in every
``forward`` and may be given as (B, T, P) or flattened (B, T * P); when the pinyin branch is on and
``pinyin_ids`` is None, every token gets P zeros (the ids of tokens without a reading) and a warning says so once.

This file imports only torch, transformers and its own package; it is copied next to saved checkpoints so they
load with ``trust_remote_code=True`` where ``chinese_ptm`` is not installed.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn
from transformers import initialization as init
from transformers.cache_utils import Cache, DynamicCache, EncoderDecoderCache
from transformers.dynamic_module_utils import custom_object_save
from transformers.generation import GenerationMixin
from transformers.masking_utils import create_bidirectional_mask, create_causal_mask
from transformers.modeling_outputs import (
    BaseModelOutputWithPoolingAndCrossAttentions,
    CausalLMOutputWithCrossAttentions,
    MaskedLMOutput,
    MultipleChoiceModelOutput,
    NextSentencePredictorOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from transformers.modeling_utils import PreTrainedModel
from transformers.models.bert.modeling_bert import (
    BertEncoder,
    BertLayer,
    BertLMPredictionHead,
    BertOnlyMLMHead,
    BertOnlyNSPHead,
    BertPooler,
    BertPreTrainingHeads,
    BertSelfAttention,
)
from transformers.utils import ModelOutput, logging
from transformers.utils.generic import can_return_tuple
from transformers.utils.output_capturing import capture_outputs

from .bert_format import BERT, checkpoint_kind, config_field_names, load_bert_format
from .configuration_glycebert import GlyceBertConfig
from .generation import GenerationInputs, prefix_mask_function
from .losses import (
    IGNORE_INDEX,
    choice_loss,
    detection_loss,
    infer_problem_type,
    sequence_loss,
    span_loss,
    token_loss,
)
from .sharing import layer_ties

try:  # drawing characters outside the vocabulary needs the fonts; a model copied beside a checkpoint runs without
    from chinese_ptm.glyph.open import render_code_points
except ImportError:  # pragma: no cover - exercised where chinese_ptm is not installed
    render_code_points = None  # type: ignore[assignment]

logger = logging.get_logger(__name__)

#: weights of an ELECTRA-style pretraining checkpoint that the encoder and the fine-tuning heads leave out
ELECTRA_PRETRAINING_KEYS = [r"^generator", r"^discriminator_", r"^token_pinyin$"]


# ---------------------------------------------------------------------------------------------------------------
# Embeddings
# ---------------------------------------------------------------------------------------------------------------


class GlyceBertPinyinEmbedding(nn.Module):
    """Pinyin symbols of each token -> one vector: Embedding -> Conv1d over the slots -> max over positions."""

    def __init__(self, config: GlyceBertConfig):
        super().__init__()
        self.embedding = nn.Embedding(config.pinyin_vocab_size, config.pinyin_embedding_size)
        self.conv = nn.Conv1d(
            config.pinyin_embedding_size, config.embedding_width, kernel_size=config.pinyin_kernel_size
        )

    def forward(self, pinyin_ids: torch.Tensor) -> torch.Tensor:
        """(..., P) symbol ids -> (..., H). The convolution is linear in the embedded symbols, so a window's output
        is a sum over the kernel's offsets of one row per symbol: ``table[j] = embedding.weight @ conv.weight[:, :,
        j].T`` (alphabet x H, a few thousand multiply-adds) is looked up instead of embedding every slot and
        convolving (B x T x P x E values through a (k E) x H map). The same function as the original's
        Embedding -> Conv1d -> max; the weights and their names are the original's."""
        kernel = self.conv.kernel_size[0]
        windows = pinyin_ids.shape[-1] - kernel + 1
        tables = torch.einsum("ae,hek->kah", self.embedding.weight, self.conv.weight)  # (k, A, H)
        # window w: sum over j of table[j][symbol at w + j], for all windows at once: (..., W, H)
        summed = nn.functional.embedding(pinyin_ids[..., :windows], tables[0])
        for j in range(1, kernel):
            summed = summed + nn.functional.embedding(pinyin_ids[..., j : j + windows], tables[j])
        if self.conv.bias is not None:
            summed = summed + self.conv.bias
        return summed.amax(dim=-2)  # (..., W, H) -> (..., H): max-pooling over all window positions

    def reference_forward(self, pinyin_ids: torch.Tensor) -> torch.Tensor:
        """The original computation: Embedding -> Conv1d over the slots -> max (for tests and checks)."""
        batch_size, seq_length, slots = pinyin_ids.shape
        symbols = self.embedding(pinyin_ids)  # (B, T, P, E)
        symbols = symbols.view(batch_size * seq_length, slots, -1).transpose(1, 2)  # (B*T, P, E) -> (B*T, E, P)
        windows = self.conv(symbols)  # (B*T, H, P - kernel + 1)
        pooled = windows.amax(dim=-1)  # (B*T, H): max-pooling over all window positions
        return pooled.view(batch_size, seq_length, -1)  # (B*T, H) -> (B, T, H)


class GlyceBertGlyphTable(nn.Module):
    """Holds ``weight``, the (V, F*S*S) glyph table: a Parameter when trainable, else a persistent buffer."""

    def __init__(self, config: GlyceBertConfig):
        super().__init__()
        self._set(torch.zeros(config.vocab_size, config.glyph_dim), config.glyph_trainable)

    def _set(self, table: torch.Tensor, trainable: bool) -> None:
        if trainable:
            self.weight = nn.Parameter(table)
        else:
            self.register_buffer("weight", table, persistent=True)

    @torch.no_grad()
    def resize(self, num_rows: int) -> None:
        """Keep the first rows, add zero rows for new tokens (fill them with ``load_glyph_table``)."""
        old = self.weight
        table = old.new_zeros(num_rows, old.shape[1])  # (V_new, F*S*S)
        keep = min(num_rows, old.shape[0])
        table[:keep] = old[:keep]
        trainable = isinstance(old, nn.Parameter)
        del self.weight
        self._set(table, trainable)


class GlyceBertGlyphEmbedding(nn.Module):
    """The glyph bitmaps of every vocabulary entry, ``embedding.weight`` of shape (V, F*S*S), looked up by token id.

    With ``config.glyph_trainable`` the table is a Parameter (as in the original); otherwise a persistent buffer:
    saved and loaded with the weights, never trained. It starts as zeros: fill it with ``load_table`` or load it
    from a checkpoint.
    """

    def __init__(self, config: GlyceBertConfig):
        super().__init__()
        self.num_fonts, self.glyph_size = config.num_fonts, config.glyph_size
        self.embedding = GlyceBertGlyphTable(config)
        self.open_fonts = list(config.open_glyph_fonts or [])
        self.open = bool(self.open_fonts) and render_code_points is not None
        self._open_rows: dict[int, torch.Tensor] = {}  # code point -> (F*S*S,) uint8, rendered once per process
        if self.open_fonts and render_code_points is None:
            logger.warning(
                "config.open_glyph_fonts needs chinese_ptm to render glyphs: characters outside the "
                "vocabulary get [UNK]'s glyph (install chinese_ptm to draw their own)."
            )

    def forward(self, keys: torch.Tensor, vocab_size: int | None = None) -> torch.Tensor:
        """Bitmaps of token ids (B, T) -> (B, T, F*S*S); a negative key (an open glyph, see
        ``GlyceBertEmbeddings._token_keys``) is the bitmap of its character, rendered from ``open_glyph_fonts``."""
        if vocab_size is None or not bool((keys < 0).any()):
            return F.embedding(keys, self.embedding.weight)
        open_keys = keys < 0
        points = (-1 - keys[open_keys]) // vocab_size  # the code points of the open positions
        rows = F.embedding(keys.clamp(min=0), self.embedding.weight)  # (..., F*S*S)
        rows[open_keys] = self.open_bitmaps(points).to(rows.dtype)
        return rows

    def open_bitmaps(self, code_points: torch.Tensor) -> torch.Tensor:
        """(N,) code points -> (N, F*S*S) bitmaps in the table's fonts and size, cached per process."""
        wanted = sorted(set(code_points.tolist()) - set(self._open_rows))
        if wanted:
            bitmaps = render_code_points(wanted, self.open_fonts, self.glyph_size)  # (n, F, S, S) uint8
            for point, bitmap in zip(wanted, torch.from_numpy(bitmaps).reshape(len(wanted), -1)):
                self._open_rows[point] = bitmap
        stacked = torch.stack([self._open_rows[p] for p in code_points.tolist()])  # (N, F*S*S)
        return stacked.to(self.embedding.weight.device)

    @torch.no_grad()
    def load_table(self, table) -> None:
        """Copy a glyph table in: numpy or torch, (V, F, S, S) or (V, F*S*S), uint8 or float; values as they are."""
        table = torch.as_tensor(table)
        weight = self.embedding.weight
        fonts_shape = (self.num_fonts, self.glyph_size, self.glyph_size)
        if table.dim() == 4 and tuple(table.shape[1:]) != fonts_shape:
            raise ValueError(
                f"glyph table of shape {tuple(table.shape)}: expected (vocab, {', '.join(map(str, fonts_shape))})."
            )
        if table.dim() not in (2, 4) or table.shape[0] != weight.shape[0] or table[0].numel() != weight.shape[1]:
            raise ValueError(
                f"glyph table of shape {tuple(table.shape)} does not fit the model: expected ({weight.shape[0]}, "
                f"{', '.join(map(str, fonts_shape))}) or ({weight.shape[0]}, {weight.shape[1]}) "
                "(vocab_size, num_fonts, glyph_size, glyph_size)."
            )
        weight.copy_(table.reshape(weight.shape[0], -1).to(weight.dtype))  # (V, F, S, S) -> (V, F*S*S)


def distinct_rows(rows: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct rows of ``rows`` (..., P) of small ids (each below ``2**bits``) and, for every row, the index
    of its distinct row: ((R, P), (...)). A row packs into one integer key when P * bits fits 62 bits (8 slots of
    5 bits do), else rows are compared whole."""
    slots = rows.shape[-1]
    if slots * bits > 62:
        distinct, index = torch.unique(rows.reshape(-1, slots), dim=0, return_inverse=True)
        return distinct, index.reshape(rows.shape[:-1])
    shifts = torch.arange(slots, device=rows.device) * bits  # (P,)
    keys, index = torch.unique((rows << shifts).sum(-1), return_inverse=True)  # (R,), (...)
    return (keys.unsqueeze(-1) >> shifts) & ((1 << bits) - 1), index  # (R, 1) -> (R, P)


class GlyceBertEmbeddings(nn.Module):
    """Word, pinyin and glyph embeddings fused by ``map_fc``, plus position and token type embeddings, all
    ``config.embedding_width`` (E) wide: the hidden size, or ALBERT's smaller factorised width. Each branch runs
    once per distinct token or reading of the batch (:meth:`_fused_per_distinct`): BERT's cost, the original's
    values."""

    position_ids: torch.Tensor  # a buffer (1, max_positions)

    def __init__(self, config: GlyceBertConfig):
        super().__init__()
        hidden = config.embedding_width
        self.pinyin_slots = config.pinyin_slots
        self.pinyin_bits = max(1, (config.pinyin_vocab_size - 1).bit_length())  # bits of one slot's symbol id
        self.require_pinyin_ids = config.require_pinyin_ids
        self.glyph_scale = config.glyph_scale
        self._warned_missing_pinyin = False
        self.word_embeddings = nn.Embedding(config.vocab_size, hidden, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, hidden)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, hidden)
        self.pinyin_embeddings = GlyceBertPinyinEmbedding(config) if config.use_pinyin else None
        self.glyph_embeddings = GlyceBertGlyphEmbedding(config) if config.use_glyph else None
        self.glyph_map = nn.Linear(config.glyph_dim, hidden) if config.use_glyph else None
        self.map_fc = nn.Linear(config.fusion_input_size, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.register_buffer(
            "position_ids", torch.arange(config.max_position_embeddings).expand((1, -1)), persistent=False
        )  # (1, max_positions)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        pinyin_ids: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        glyph_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        # GlyceBertModel passes input_ids or inputs_embeds (B, T, E), which replaces the word embedding
        shaped = input_ids if input_ids is not None else inputs_embeds
        batch_size, seq_length = shaped.shape[:2]  # type: ignore[union-attr]
        pinyin_ids = self._pinyin_rows(pinyin_ids, batch_size, seq_length, shaped.device)  # type: ignore[union-attr]
        if self.glyph_embeddings is not None and input_ids is None:
            raise ValueError("The glyph branch looks glyphs up by input_ids: pass them, or set use_glyph=False.")
        keys = self._token_keys(input_ids, glyph_ids)  # (B, T)
        if keys is not None and not torch.compiler.is_compiling():
            fused = self._fused_per_distinct(keys, pinyin_ids)
        else:  # unique() has a data-dependent size: a compiled graph stays whole on the plain path
            fused = self._fused(keys, pinyin_ids, inputs_embeds)

        if position_ids is None:
            position_ids = self.position_ids[:, :seq_length]  # (1, T)
        if token_type_ids is None:
            token_type_ids = torch.zeros(batch_size, seq_length, dtype=torch.long, device=fused.device)
        embeddings = fused + self.token_type_embeddings(token_type_ids) + self.position_embeddings(position_ids)
        embeddings = self.LayerNorm(embeddings)
        return self.dropout(embeddings)  # (B, T, E)

    def _pinyin_rows(self, pinyin_ids, batch_size: int, seq_length: int, device) -> torch.Tensor | None:
        """pinyin_ids as (B, T, P), zeros (with a warning) where the branch is on but none were given."""
        if self.pinyin_embeddings is None:
            return None
        if pinyin_ids is None:
            self._missing_pinyin_ids()
            return torch.zeros(batch_size, seq_length, self.pinyin_slots, dtype=torch.long, device=device)
        if pinyin_ids.numel() != batch_size * seq_length * self.pinyin_slots:
            raise ValueError(
                f"pinyin_ids of shape {tuple(pinyin_ids.shape)} do not fit input of shape "
                f"({batch_size}, {seq_length}): give ({batch_size}, {seq_length}, {self.pinyin_slots}) or "
                f"({batch_size}, {seq_length * self.pinyin_slots})."
            )
        return pinyin_ids.reshape(batch_size, seq_length, self.pinyin_slots)  # (B, T*P) or (B, T, P) -> (B, T, P)

    def _token_keys(self, input_ids, glyph_ids) -> torch.Tensor | None:
        """What the word and glyph branches read at each position: the token id, or where ``glyph_ids`` gives a
        character of its own (< 0) and the model draws open glyphs, ``-1 - (code point * V + token id)``: the
        token's word embedding with that character's glyph."""
        if glyph_ids is None or input_ids is None or self.glyph_embeddings is None or not self.glyph_embeddings.open:
            return input_ids
        glyph_ids = glyph_ids.reshape(input_ids.shape).to(input_ids.device)  # multiple choice: (B, C, T) -> (B*C, T)
        vocab = self.word_embeddings.num_embeddings
        return torch.where(glyph_ids < 0, -1 - (-glyph_ids * vocab + input_ids), input_ids)

    def _has_open_keys(self, keys: torch.Tensor) -> bool:
        """Whether a position shows a character of its own (checked only where the model draws open glyphs: the
        check waits for the device, and a compiled graph would break on it)."""
        glyphs = self.glyph_embeddings
        return glyphs is not None and glyphs.open and bool((keys < 0).any())

    def _fused(self, keys, pinyin_ids, inputs_embeds) -> torch.Tensor:
        """``map_fc(cat[word, pinyin, glyph])`` computed at every position, as the original model writes it."""
        if keys is not None and self._has_open_keys(keys):  # open glyphs: the per-token rows hold them
            return self._fused_per_distinct(keys, pinyin_ids)
        parts = [self.word_embeddings(keys) if keys is not None else inputs_embeds]  # (B, T, E)
        if self.pinyin_embeddings is not None:
            parts.append(self.pinyin_embeddings(pinyin_ids))  # (B, T, P) -> (B, T, E)
        if self.glyph_embeddings is not None:
            parts.append(self._mapped_glyphs(keys))  # (B, T, E)
        return self.map_fc(torch.cat(parts, dim=-1))  # (B, T, k*E) -> (B, T, E), k = 1 + branches switched on

    def _fused_per_distinct(self, input_ids: torch.Tensor, pinyin_ids: torch.Tensor | None) -> torch.Tensor:
        """The same values as :meth:`_fused` at a fraction of the work. ``map_fc`` is linear, so it splits into one
        block per branch: ``W_word word + W_glyph glyph`` depends on the token alone and ``W_pinyin pinyin`` on the
        reading alone. A batch repeats its tokens and readings (a few hundred distinct ones in thousands of
        positions): each block runs once per distinct token or reading, and positions gather the rows."""
        width = self.word_embeddings.embedding_dim
        blocks = list(self.map_fc.weight.split(width, dim=1))  # k x (E, E): word, [pinyin], [glyph]
        if self.training or torch.is_grad_enabled() or self._token_branches_hooked() or self._has_open_keys(input_ids):
            if torch.is_grad_enabled():  # a step may follow that moves the weights unseen (see _vocabulary_rows)
                self._vocabulary_cache = None
            distinct, token_of = torch.unique(input_ids, return_inverse=True)  # (U,), (B, T)
            per_token = self._per_token(distinct, blocks)  # (U, E)
        else:  # inference: the rows of the whole vocabulary, kept until a weight changes
            token_of, per_token = input_ids, self._vocabulary_rows(blocks)  # (B, T), (V, E)
        # embedding(), not rows[index]: the backward of advanced indexing accumulates in a thread-dependent order
        # on CPU (runs stop being reproducible); embedding's backward sums each row in a fixed order
        fused = nn.functional.embedding(token_of, per_token) + self.map_fc.bias  # (U, E) -> (B, T, E)
        if self.pinyin_embeddings is not None:
            assert pinyin_ids is not None  # filled by _pinyin_rows where the branch is on
            readings, reading_of = distinct_rows(pinyin_ids, self.pinyin_bits)  # (R, P), (B, T)
            per_reading = self._per_reading(readings, blocks[1])  # (R, E)
            fused = fused + nn.functional.embedding(reading_of, per_reading)  # (R, E) -> (B, T, E)
        return fused  # (B, T, E)

    def _per_reading(self, readings: torch.Tensor, block: torch.Tensor) -> torch.Tensor:
        """``W_pinyin pinyin`` of each distinct reading (R, P): (R, E)."""
        per_reading = self.pinyin_embeddings(readings)  # type: ignore[misc]  # (R, P) -> (R, E)
        return nn.functional.linear(per_reading, block)

    def _per_token(self, tokens: torch.Tensor, blocks: list[torch.Tensor]) -> torch.Tensor:
        """``W_word word + W_glyph glyph`` of each of ``tokens`` (N,): (N, E); a negative key (see
        :meth:`_token_keys`) is its token's word row with its own character's glyph."""
        words = tokens
        if self.glyph_embeddings is not None and self.glyph_embeddings.open:  # unpack (code point * V + token id)
            packed = (-1 - tokens).clamp(min=0)
            words = torch.where(tokens < 0, packed % self.word_embeddings.num_embeddings, tokens)  # (N,)
        rows = nn.functional.linear(self.word_embeddings(words), blocks[0])  # (N, E)
        if self.glyph_embeddings is not None:
            rows = rows + nn.functional.linear(self._mapped_glyphs(tokens), blocks[-1])  # (N, E)
        return rows

    def _token_branches_hooked(self) -> bool:
        """Whether a hook may change what the token branches give (e.g. a branch switched off to see what it
        does): then nothing cached may stand in for calling them."""
        modules = [m for m in (self.word_embeddings, self.glyph_embeddings, self.glyph_map) if m is not None]
        return any(m._forward_hooks or m._forward_pre_hooks for m in modules) or bool(
            nn.modules.module._global_forward_hooks or nn.modules.module._global_forward_pre_hooks
        )

    #: the inference rows of the vocabulary and the key of the weights they were computed from
    _vocabulary_cache: tuple[tuple, torch.Tensor] | None = None

    def train(self, mode: bool = True):
        self._vocabulary_cache = None  # entering or leaving training: the weights may have moved since (see below)
        return super().train(mode)

    def _load_from_state_dict(self, *args, **kwargs):
        self._vocabulary_cache = None
        return super()._load_from_state_dict(*args, **kwargs)

    def _vocabulary_rows(self, blocks: list[torch.Tensor]) -> torch.Tensor:
        """:meth:`_per_token` of every vocabulary entry, kept between inference calls while the weights it reads
        stay as they are. The in-place version counter alone does not tell: fused AdamW (transformers' default
        optimizer) and writes through ``.data`` move weights without bumping it. So the rows are dropped by
        ``train()``/``eval()``, by every forward that records gradients (training may follow) and by a state-dict
        load; the key (each tensor's identity, version, device and dtype) catches in-place edits and moves. After
        editing weights through ``.data`` in eval mode, call ``eval()`` again."""
        tensors = [self.word_embeddings.weight, self.map_fc.weight]
        if self.glyph_embeddings is not None:
            tensors += [self.glyph_embeddings.embedding.weight, self.glyph_map.weight, self.glyph_map.bias]  # type: ignore[union-attr]
        key = tuple((id(t), t._version, t.device, t.dtype) for t in tensors)
        cached = getattr(self, "_vocabulary_cache", None)
        if cached is None or cached[0] != key:
            every = torch.arange(self.word_embeddings.num_embeddings, device=tensors[0].device)
            cached = self._vocabulary_cache = (key, self._per_token(every, blocks))
        return cached[1]

    def _mapped_glyphs(self, input_ids: torch.Tensor) -> torch.Tensor:
        """``glyph_map`` of each token's bitmaps (scaled by ``config.glyph_scale``): (...) -> (..., E)."""
        # called with the glyph branch on, where glyph_embeddings and glyph_map are set: (...) -> (..., F*S*S)
        opened = self.glyph_embeddings.open  # type: ignore[union-attr]
        glyphs = self.glyph_embeddings(input_ids, self.word_embeddings.num_embeddings if opened else None)  # type: ignore[misc]
        glyphs = glyphs.to(self.glyph_map.weight.dtype)  # type: ignore[union-attr]
        if self.glyph_scale != 1.0:
            glyphs = glyphs * self.glyph_scale
        return self.glyph_map(glyphs)  # type: ignore[misc]

    def _missing_pinyin_ids(self) -> None:
        """Input built by another tokenizer, or a dropped key, would silently run without pinyin: say so once per
        model (raise with ``config.require_pinyin_ids``)."""
        message = (
            "GlyceBERT was called without pinyin_ids although its pinyin branch is on: every token gets zero "
            "pinyin, as if no text were Chinese. Pass the pinyin_ids that GlyceBertTokenizer returns"
        )
        if self.require_pinyin_ids:
            raise ValueError(message + ".")
        if not self._warned_missing_pinyin:
            self._warned_missing_pinyin = True
            logger.warning(message + " (config.require_pinyin_ids=True makes this an error).")


# ---------------------------------------------------------------------------------------------------------------
# Base class: weight init, loading BERT-format directories, saving with code for trust_remote_code
# ---------------------------------------------------------------------------------------------------------------


class GlyceBertPreTrainedModel(PreTrainedModel):
    config: GlyceBertConfig
    config_class = GlyceBertConfig
    base_model_prefix = "bert"
    supports_gradient_checkpointing = True
    _supports_flash_attn = True
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    _no_split_modules = ["GlyceBertEmbeddings", "BertLayer"]
    _can_record_outputs = {"hidden_states": BertLayer, "attentions": BertSelfAttention}
    # the heads average their losses per batch: Trainer scales them for gradient accumulation itself
    accepts_loss_kwargs = False

    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, BertLMPredictionHead):
            init.zeros_(module.bias)
        elif isinstance(module, GlyceBertEmbeddings):
            init.copy_(module.position_ids, torch.arange(module.position_ids.shape[-1]).expand((1, -1)))
            if self.config.fusion_init == "identity":  # start as the BERT inside: [I | 0 | 0]
                hidden = self.config.embedding_width
                init.copy_(module.map_fc.weight, torch.eye(hidden, module.map_fc.weight.shape[1]))
                init.zeros_(module.map_fc.bias)
        elif isinstance(module, GlyceBertGlyphTable):
            init.zeros_(module.weight)

    def post_init(self):
        super().post_init()
        # A frozen glyph table is constant and identical on every rank (it comes with the weights): keep DDP from
        # broadcasting its V x F*S*S values before every forward pass (it would, as it does for every buffer).
        self._ddp_params_and_buffers_to_ignore = [
            name for name, _ in self.named_buffers() if name.endswith("glyph_embeddings.embedding.weight")
        ]

    def resize_token_embeddings(self, new_num_tokens=None, pad_to_multiple_of=None, mean_resizing=True):
        """BERT's resizing, and the glyph table with it (new tokens get blank glyphs)."""
        embeddings = super().resize_token_embeddings(new_num_tokens, pad_to_multiple_of, mean_resizing)
        glyphs = self.base_model.embeddings.glyph_embeddings
        if glyphs is not None and glyphs.embedding.weight.shape[0] != embeddings.num_embeddings:
            glyphs.embedding.resize(embeddings.num_embeddings)
        return embeddings

    def load_glyph_table(self, table) -> None:
        """Fill the glyph table: numpy or torch, (V, F, S, S) or (V, F*S*S), uint8 0..255 or float, used as-is."""
        glyphs = cast(GlyceBertModel, self.base_model).embeddings.glyph_embeddings
        if glyphs is None:
            raise ValueError("This model has no glyph branch (config.use_glyph=False).")
        glyphs.load_table(table)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        """Load a GlyceBERT checkpoint, or a BERT-format directory (``config.json`` with model_type ``bert``):

        - an original ChineseBERT directory (glyph/pinyin weights or ``config/pinyin_map.json``) loads as is;
        - a Chinese BERT checkpoint fills the trunk; the glyph, pinyin and fusion weights are new (logged, and
          listed under ``"new_keys"`` with ``output_loading_info=True``) and ``map_fc`` is ``[I | 0 | 0]``, so the
          model starts as the BERT it came from.

        Keyword arguments naming config fields (``use_glyph=False``, ``glyph_trainable=True``, ``num_labels=3``)
        set them on top of what the directory implies.
        """
        source = pretrained_model_name_or_path
        kind = None
        if isinstance(source, (str, os.PathLike)) and os.path.isdir(source) and not kwargs.get("subfolder"):
            kind = checkpoint_kind(source)
        if kind is None:
            return super().from_pretrained(source, *model_args, **kwargs)

        config = kwargs.pop("config", None)
        if config is not None and not isinstance(config, GlyceBertConfig):
            config = GlyceBertConfig.from_pretrained(config)
        overrides = {key: kwargs.pop(key) for key in list(kwargs) if key in config_field_names()}
        config, state_dict, synthesized = load_bert_format(source, config=config, **overrides)
        want_info = kwargs.pop("output_loading_info", False)
        model, info = super().from_pretrained(
            None, *model_args, config=config, state_dict=state_dict, output_loading_info=True, **kwargs
        )
        model.config.name_or_path = str(source)
        info["new_keys"] = sorted(set(info.get("missing_keys", ())) | set(synthesized))
        if kind == BERT:
            glyph_note = ""
            if config.use_glyph:
                glyph_note = " The glyph table is zeros: fill it with model.load_glyph_table(table)."
            logger.warning(
                f"Loaded the BERT checkpoint {source} into {cls.__name__}. New weights: {info['new_keys']}; "
                f"map_fc starts as [I | 0 | 0], so the fused embedding equals the word embedding.{glyph_note}"
            )
        return (model, info) if want_info else model

    # everything after is_main_process is passed by keyword (through **kwargs), not positionally as transformers allows
    def save_pretrained(self, save_directory, is_main_process: bool = True, **kwargs):  # type: ignore[override]
        """Save weights (safetensors) and config; the config's ``auto_map`` names every head, and this file with
        its relative imports is copied next to them, so the directory loads with ``trust_remote_code=True``."""
        self.config.auto_map = {**(getattr(self.config, "auto_map", None) or {}), **GLYCEBERT_AUTO_MAP}
        super().save_pretrained(save_directory, is_main_process=is_main_process, **kwargs)
        if self.should_save_on_this_rank(is_main_process):
            custom_object_save(self, save_directory)


def masked_lm_logits_and_loss(
    head: nn.Module, sequence_output: torch.Tensor, labels: torch.Tensor | None, sparse: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """MLM logits and loss. With labels and ``sparse``, the head runs only where ``labels != -100``: logits are
    (N_labelled, V) in row-major order of the labelled positions; otherwise logits are (B, T, V)."""
    if labels is None:
        return head(sequence_output), None  # (B, T, H) -> (B, T, V)
    if sparse:
        labelled = labels != IGNORE_INDEX  # (B, T)
        logits = head(sequence_output[labelled])  # (N, H) -> (N, V)
        targets = labels[labelled]  # (N,)
    else:
        logits = head(sequence_output)  # (B, T, V)
        targets = labels
    return logits, token_loss(logits, targets)  # (N, V) or (B, T, V)


def next_token_logits_and_loss(
    head: nn.Module, sequence_output: torch.Tensor, labels: torch.Tensor, sparse: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """A decoder's logits and loss: the hidden state at t predicts label t + 1 (labels shift left by one inside,
    as transformers' causal LMs); ``sparse`` as :func:`masked_lm_logits_and_loss`."""
    shifted = torch.full_like(labels, IGNORE_INDEX)
    shifted[:, :-1] = labels[:, 1:]  # (B, T): the token after each position
    return masked_lm_logits_and_loss(head, sequence_output, shifted, sparse)  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------------------------


class GlyceBertModel(GlyceBertPreTrainedModel):
    """Embeddings (word + pinyin + glyph), BERT encoder and, optionally, BERT's pooler."""

    _keys_to_ignore_on_load_unexpected = [r"^cls\.", *ELECTRA_PRETRAINING_KEYS]

    def __init__(self, config: GlyceBertConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embeddings = GlyceBertEmbeddings(config)
        # ALBERT's factorised embedding: the fused E-wide embedding is mapped to the hidden size (ELECTRA's name)
        width = config.embedding_width
        self.embeddings_project = nn.Linear(width, config.hidden_size) if width != config.hidden_size else None
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        self.post_init()

    # a property computed from the config, where transformers declares a class attribute
    @property
    def _tied_weights_keys(self) -> dict[str, str]:  # type: ignore[override]
        """ALBERT's cross-layer sharing (``config.share_layers``): layer i > 0 holds layer 0's parameters."""
        return layer_ties(getattr(self.config, "share_layers", "none"))

    def get_input_embeddings(self):
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value):
        self.embeddings.word_embeddings = value

    @capture_outputs
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        pinyin_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        glyph_ids: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        use_cache: bool | None = None,
        prefix_lengths: torch.Tensor | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPoolingAndCrossAttentions:
        r"""input_ids (B, T); pinyin_ids (B, T, P) or (B, T*P), zeros when None (with a warning, or an error under
        config.require_pinyin_ids); attention_mask (B, T), 1 = attend; token_type_ids, position_ids (B, T);
        inputs_embeds (B, T, E) replaces the word embedding (the glyph branch still needs input_ids); glyph_ids
        (B, T), optional: ``-code point`` where a character outside the vocabulary is to show its own glyph
        (``config.open_glyph_fonts``), else the token id. As a decoder (``config.is_decoder``): a causal mask, the
        key/value ``cache`` (attention_mask then covers cached and new columns), ``prefix_lengths`` (B,): leading
        columns every position sees (a prefix LM's source), ``encoder_hidden_states`` (B, S, H) and
        ``encoder_attention_mask`` (B, S) for cross-attention. Returns last_hidden_state (B, T, H), pooler_output
        (B, H) and the cache."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Give exactly one of input_ids and inputs_embeds.")
        use_cache = bool(self.config.is_decoder and (use_cache if use_cache is not None else self.config.use_cache))
        if use_cache and cache is None:
            cache = self._new_cache(cross=encoder_hidden_states is not None)
        embedding_output = self._embed(
            input_ids, pinyin_ids, token_type_ids, position_ids, inputs_embeds, glyph_ids, cache
        )
        attention_mask = self._self_attention_mask(attention_mask, embedding_output, cache, prefix_lengths)
        if encoder_attention_mask is not None:  # cross-attention: every source column the mask keeps
            encoder_attention_mask = create_bidirectional_mask(
                self.config, embedding_output, encoder_attention_mask, encoder_hidden_states=encoder_hidden_states
            )
        encoder_outputs = self.encoder(
            embedding_output,
            attention_mask=attention_mask,
            encoder_hidden_states=encoder_hidden_states,
            encoder_attention_mask=encoder_attention_mask,
            cache=cache,
            use_cache=use_cache,
            position_ids=position_ids,
            **kwargs,
        )
        sequence_output = encoder_outputs.last_hidden_state  # (B, T, H)
        pooled_output = self.pooler(sequence_output) if self.pooler is not None else None  # (B, H)
        return BaseModelOutputWithPoolingAndCrossAttentions(
            last_hidden_state=sequence_output, pooler_output=pooled_output, cache=encoder_outputs.cache
        )

    def _embed(self, input_ids, pinyin_ids, token_type_ids, position_ids, inputs_embeds, glyph_ids, cache):
        """The embedding output (B, T, H); with a cache, positions continue after the cached columns."""
        if position_ids is None and cache is not None and cache.get_seq_length():
            past, length = cache.get_seq_length(), (input_ids if input_ids is not None else inputs_embeds).shape[1]
            position_ids = self.embeddings.position_ids[:, past : past + length]
        embedding_output = self.embeddings(
            input_ids=input_ids,
            pinyin_ids=pinyin_ids,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            glyph_ids=glyph_ids,
        )  # (B, T, E)
        if self.embeddings_project is not None:
            embedding_output = self.embeddings_project(embedding_output)  # (B, T, E) -> (B, T, H)
        return embedding_output

    def _new_cache(self, cross: bool) -> Cache:
        """An empty key/value cache; with cross-attention, one for the encoder's keys and values too."""
        if cross:
            return EncoderDecoderCache(DynamicCache(config=self.config), DynamicCache(config=self.config))
        return DynamicCache(config=self.config)

    def _self_attention_mask(self, attention_mask, embedding_output, cache, prefix_lengths):
        """None, (B, 1, T, T + cached) or a backend-specific mask, following config._attn_implementation:
        bidirectional for an encoder; causal for a decoder, with the prefix columns visible to all (prefix LM)."""
        if not self.config.is_decoder:
            if prefix_lengths is not None:
                raise ValueError("prefix_lengths needs a decoder (config.is_decoder=True, prefix_lm=True).")
            return create_bidirectional_mask(
                config=self.config, inputs_embeds=embedding_output, attention_mask=attention_mask
            )
        prefix = (
            prefix_mask_function(prefix_lengths.to(embedding_output.device)) if prefix_lengths is not None else None
        )
        return create_causal_mask(
            config=self.config,
            inputs_embeds=embedding_output,
            attention_mask=attention_mask,
            cache=cache,
            or_mask_function=prefix,
        )


def mlm_prediction_head(config: GlyceBertConfig) -> BertOnlyMLMHead:
    """BERT's MLM head; with a factorised embedding (E < H) its transform maps H -> E, as ALBERT's, so that the
    decoder stays tied to the V x E word embeddings."""
    width = config.embedding_width
    if width == config.hidden_size:
        return BertOnlyMLMHead(config)
    narrow = copy.deepcopy(config)
    narrow.hidden_size = width
    head = BertOnlyMLMHead(narrow)  # LayerNorm and decoder at E
    head.predictions.transform.dense = nn.Linear(config.hidden_size, width)  # H -> E
    return head


_MLM_TIED_WEIGHTS = {
    "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
    "cls.predictions.decoder.bias": "cls.predictions.bias",
}


class MLMHeadOutputs:
    """The output embeddings of a model whose ``cls.predictions`` is BERT's MLM head (tied to the word
    embeddings): what transformers' tying and resizing read and replace."""

    cls: Any  # BertOnlyMLMHead or BertPreTrainingHeads

    def get_output_embeddings(self):
        return self.cls.predictions.decoder

    def set_output_embeddings(self, new_embeddings):
        self.cls.predictions.decoder = new_embeddings
        self.cls.predictions.bias = new_embeddings.bias


class GlyceBertForMaskedLM(MLMHeadOutputs, GlyceBertPreTrainedModel):
    """GlyceBERT with BERT's MLM head (decoder tied to the word embeddings).

    With ``labels`` (B, T), -100 = no target, and ``config.sparse_mlm_logits`` (default), ``logits`` are
    (N_labelled, V): the head runs only at labelled positions (in row-major order), and ``loss`` equals the
    cross-entropy over the full logits. Without labels, ``logits`` are (B, T, V) (inference, fill-mask).
    """

    _tied_weights_keys = dict(_MLM_TIED_WEIGHTS)
    _keys_to_ignore_on_load_unexpected = [r"^bert\.pooler\.", r"^cls\.seq_relationship\.", r"^detector\."]

    def __init__(self, config: GlyceBertConfig):
        super().__init__(config)
        self.bert = GlyceBertModel(config, add_pooling_layer=False)
        self.cls = mlm_prediction_head(config)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        pinyin_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> MaskedLMOutput:
        outputs = self.bert(
            input_ids,
            pinyin_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            return_dict=True,
            **kwargs,
        )
        logits, loss = masked_lm_logits_and_loss(
            self.cls.predictions, outputs.last_hidden_state, labels, self.config.sparse_mlm_logits
        )
        return MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class GlyceBertLMHeadModel(GenerationInputs, MLMHeadOutputs, GlyceBertPreTrainedModel, GenerationMixin):
    """GlyceBERT as a decoder (``config.is_decoder``): BERT's MLM head predicts the next token, so the model
    generates with transformers' ``generate()`` (greedy, beam search, sampling; a key/value cache). With
    ``config.prefix_lm`` it is a UniLM-style sequence-to-sequence model: the prompt ``[CLS] source [SEP]`` is read
    bidirectionally and the target follows left to right; with ``config.add_cross_attention`` it is the decoder of
    an ``EncoderDecoderModel``. Generated tokens read their vocabulary entry's own pinyin (``token_pinyin``, (V, P),
    filled from the tokenizer by the model factory and saved with the weights): see :mod:`.generation`.

    ``labels`` (B, T): the tokens to predict at each position, -100 = none; the loss is that of the *next* token
    (labels shift left by one inside, as transformers' BertLMHeadModel), so labels may simply be ``input_ids``.
    Called without ``pinyin_ids`` (as an ``EncoderDecoderModel`` calls its decoder) once ``token_pinyin`` is
    filled, every token reads its vocabulary entry's own pinyin.
    """

    _tied_weights_keys = dict(_MLM_TIED_WEIGHTS)
    _keys_to_ignore_on_load_unexpected = [r"^bert\.pooler\.", r"^cls\.seq_relationship\.", r"^detector\."]
    _keys_to_ignore_on_load_missing = [r"^token_pinyin$"]
    token_pinyin: torch.Tensor  # a buffer (V, P)

    def __init__(self, config: GlyceBertConfig):
        super().__init__(config)
        if not config.is_decoder:
            logger.warning("GlyceBertLMHeadModel generates left to right: set is_decoder=True in its config.")
        self.bert = GlyceBertModel(config, add_pooling_layer=False)
        self.cls = mlm_prediction_head(config)
        self.register_buffer("token_pinyin", torch.zeros(config.vocab_size, config.pinyin_slots, dtype=torch.long))
        self.post_init()

    def set_token_pinyin(self, table) -> None:
        """Each vocabulary entry's own pinyin ids, (V, P): what a generated token reads."""
        self.token_pinyin.copy_(torch.as_tensor(table, dtype=torch.long).reshape(self.token_pinyin.shape))

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        pinyin_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        cache: Cache | None = None,
        use_cache: bool | None = None,
        prefix_lengths: torch.Tensor | None = None,
        logits_to_keep: int = 0,
        glyph_ids: torch.Tensor | None = None,
        **kwargs,
    ) -> CausalLMOutputWithCrossAttentions:
        if pinyin_ids is None and input_ids is not None and self.config.use_pinyin and bool(self.token_pinyin.any()):
            pinyin_ids = self.token_pinyin[input_ids]  # a decoder's own tokens: their vocabulary readings
        outputs = self.bert(
            input_ids,
            pinyin_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            encoder_hidden_states=encoder_hidden_states,
            encoder_attention_mask=encoder_attention_mask,
            cache=cache,
            use_cache=False if labels is not None else use_cache,
            prefix_lengths=prefix_lengths,
            glyph_ids=glyph_ids,
            return_dict=True,
            **kwargs,
        )
        hidden = outputs.last_hidden_state  # (B, T, H)
        if labels is not None:  # the hidden state at t predicts token t + 1
            return self._next_token_loss(hidden, labels, outputs)
        hidden = hidden[:, -logits_to_keep:] if logits_to_keep else hidden
        return CausalLMOutputWithCrossAttentions(
            logits=self.cls(hidden),
            cache=outputs.cache,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            cross_attentions=outputs.cross_attentions,
        )

    def _next_token_loss(self, hidden, labels, outputs) -> CausalLMOutputWithCrossAttentions:
        """Next-token loss; with ``config.sparse_mlm_logits`` the head runs only where a next token is labelled
        (logits (N, V)), else at every position (B, T, V), as in GlyceBertForMaskedLM."""
        logits, loss = next_token_logits_and_loss(self.cls.predictions, hidden, labels, self.config.sparse_mlm_logits)
        return CausalLMOutputWithCrossAttentions(
            loss=loss,
            logits=logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            cross_attentions=outputs.cross_attentions,
        )


class GlyceBertForNextSentencePrediction(GlyceBertPreTrainedModel):
    """GlyceBERT with BERT's next-sentence head on the pooled output (``cls.seq_relationship``, the name the
    pretraining head gives it, so an NSP-pretrained checkpoint keeps its head). ``labels`` (B,): 0 = the second
    segment follows the first, 1 = it is a random one; logits (B, 2)."""

    _keys_to_ignore_on_load_unexpected = [r"^cls\.predictions\.", r"^detector\.", *ELECTRA_PRETRAINING_KEYS]

    def __init__(self, config: GlyceBertConfig):
        super().__init__(config)
        self.bert = GlyceBertModel(config)
        self.cls = BertOnlyNSPHead(config)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        pinyin_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> NextSentencePredictorOutput:
        outputs = self.bert(
            input_ids,
            pinyin_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            return_dict=True,
            **kwargs,
        )
        logits = self.cls(outputs.pooler_output)  # (B, H) -> (B, 2)
        return NextSentencePredictorOutput(
            loss=choice_loss(logits, labels),
            logits=logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


@dataclass
class SpellingCorrectionOutput(ModelOutput):
    """loss = correction loss + ``config.detection_loss_weight`` x detection loss; logits (B, T, V): the
    character each position should hold; detection_logits (B, T): whether the input is wrong there. (The two
    losses are not separate fields: evaluation gathers every field but ``loss`` across batches.)"""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    detection_logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


def spelling_correction_outputs(
    head: nn.Module,
    detector: nn.Module,
    hidden: torch.Tensor,
    input_ids: torch.Tensor,
    labels: torch.Tensor | None,
    detection_weight: float,
) -> dict:
    """Correction logits from the MLM head at every position, detection logits, and their losses.

    ``labels`` (B, T) hold the correct character at every position (-100: padding and special tokens); a
    position is wrong where its label differs from ``input_ids``, which the detection head learns."""
    logits = head(hidden)  # (B, T, H) -> (B, T, V)
    detection_logits = detector(hidden).squeeze(-1)  # (B, T)
    out = {"logits": logits, "detection_logits": detection_logits}
    if labels is not None:
        labelled = labels != IGNORE_INDEX
        correction = token_loss(logits[labelled], labels[labelled])
        detection = detection_loss(detection_logits[labelled], (labels != input_ids)[labelled])
        out["loss"] = correction + detection_weight * detection
    return out


class SpellingCorrectionHeads(MLMHeadOutputs):
    """The heads of a spelling corrector, shared by GlyceBERT's and BERT's (:mod:`.bert_spelling`): the MLM head
    (``self.cls``, tied to the word embeddings) gives the right character at every position, ``self.detector``
    whether the position is wrong."""

    config: Any  # the model's (supplied by the PreTrainedModel this mixes into)
    cls: BertOnlyMLMHead
    detector: nn.Linear

    def add_spelling_heads(self, config, mlm_head: BertOnlyMLMHead) -> None:
        self.cls = mlm_head
        self.detector = nn.Linear(config.hidden_size, 1)

    def spelling_outputs(self, outputs, input_ids: torch.Tensor | None, labels: torch.Tensor | None):
        """The heads on the encoder's ``outputs``, with their losses when ``labels`` are given."""
        heads = spelling_correction_outputs(
            self.cls.predictions,
            self.detector,
            outputs.last_hidden_state,
            input_ids,  # type: ignore[arg-type]  # None only with inputs_embeds: give no labels then
            labels,
            getattr(self.config, "detection_loss_weight", 0.5),
        )
        return SpellingCorrectionOutput(**heads, hidden_states=outputs.hidden_states, attentions=outputs.attentions)


class GlyceBertForSpellingCorrection(SpellingCorrectionHeads, GlyceBertPreTrainedModel):
    """Chinese spelling correction: for every input position, the character it should hold (BERT's MLM head,
    tied to the word embeddings, so an MLM checkpoint starts as a corrector that copies what it reads well),
    plus a detection head (is this position wrong?) trained alongside with weight
    ``config.detection_loss_weight`` (default 0.5; 0 switches its loss off).

    The model reads what was typed: ``input_ids``, ``pinyin_ids`` and glyphs of the erroneous text. ``labels``
    (B, T): the correct text's ids (-100 where no target). Checkpoints also load as GlyceBertForMaskedLM.
    """

    _tied_weights_keys = dict(_MLM_TIED_WEIGHTS)
    _keys_to_ignore_on_load_unexpected = [r"^bert\.pooler\.", r"^cls\.seq_relationship\.", *ELECTRA_PRETRAINING_KEYS]

    def __init__(self, config: GlyceBertConfig):
        super().__init__(config)
        self.bert = GlyceBertModel(config, add_pooling_layer=False)
        self.add_spelling_heads(config, mlm_prediction_head(config))
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        pinyin_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> SpellingCorrectionOutput:
        outputs = self.bert(
            input_ids, pinyin_ids, attention_mask, token_type_ids, position_ids, return_dict=True, **kwargs
        )
        return self.spelling_outputs(outputs, input_ids, labels)


@dataclass
class GlyceBertForPreTrainingOutput(ModelOutput):
    """loss = mlm_loss + sentence_loss (those whose labels were given); prediction_logits (N_labelled, V) with
    labels and sparse MLM, else (B, T, V); seq_relationship_logits (B, 2)."""

    loss: torch.Tensor | None = None
    mlm_loss: torch.Tensor | None = None
    sentence_loss: torch.Tensor | None = None
    prediction_logits: torch.Tensor | None = None
    seq_relationship_logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class GlyceBertForPreTraining(MLMHeadOutputs, GlyceBertPreTrainedModel):
    """GlyceBERT with BERT's pretraining heads: MLM (sparse as in GlyceBertForMaskedLM) and a two-way sentence
    head on the pooled output, for NSP or SOP.

    ``labels`` (B, T) train the MLM head; the sentence head takes ``next_sentence_label`` (B,) (NSP: 1 = random
    next segment, 0 = the real one) or ``sentence_order_label`` (B,) (SOP: 1 = segments swapped), one of them.
    ``loss`` sums the losses whose labels are given. For MLM-only pretraining
    (ChineseBERT's recipe) under DDP prefer GlyceBertForMaskedLM: here the pooler and sentence head would get
    no gradient.
    """

    _tied_weights_keys = dict(_MLM_TIED_WEIGHTS)

    def __init__(self, config: GlyceBertConfig):
        super().__init__(config)
        self.bert = GlyceBertModel(config)
        self.cls = BertPreTrainingHeads(config)
        self.cls.predictions = mlm_prediction_head(config).predictions  # at E when the embedding is factorised
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        pinyin_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        next_sentence_label: torch.Tensor | None = None,
        sentence_order_label: torch.Tensor | None = None,
        **kwargs,
    ) -> GlyceBertForPreTrainingOutput:
        if next_sentence_label is not None and sentence_order_label is not None:
            raise ValueError("Give next_sentence_label (NSP) or sentence_order_label (SOP), not both.")
        sentence_label = next_sentence_label if next_sentence_label is not None else sentence_order_label
        outputs = self.bert(
            input_ids,
            pinyin_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            return_dict=True,
            **kwargs,
        )
        prediction_logits, mlm_loss = masked_lm_logits_and_loss(
            self.cls.predictions, outputs.last_hidden_state, labels, self.config.sparse_mlm_logits
        )
        sentence_logits = self.cls.seq_relationship(outputs.pooler_output)  # (B, H) -> (B, 2)
        sentence_loss = choice_loss(sentence_logits, sentence_label)
        losses = [x for x in (mlm_loss, sentence_loss) if x is not None]
        return GlyceBertForPreTrainingOutput(
            loss=cast(torch.Tensor, sum(losses)) if losses else None,  # a sum of tensors (never the start 0)
            mlm_loss=mlm_loss,
            sentence_loss=sentence_loss,
            prediction_logits=prediction_logits,
            seq_relationship_logits=sentence_logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


def _num_labels(config: GlyceBertConfig) -> int:
    """``config.num_labels``: None only without ``id2label``, which PretrainedConfig always sets."""
    assert config.num_labels is not None
    return config.num_labels


def _classifier_dropout(config: GlyceBertConfig) -> nn.Dropout:
    rate = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
    return nn.Dropout(rate)


class GlyceBertForSequenceClassification(GlyceBertPreTrainedModel):
    """Classifier (or regressor when ``num_labels == 1``) on the pooled output; logits (B, num_labels).
    Loss as BERT's: ``problem_type`` regression (MSE), single-label (cross-entropy) or multi-label (BCE)."""

    _keys_to_ignore_on_load_unexpected = [r"^cls\.", *ELECTRA_PRETRAINING_KEYS]

    def __init__(self, config: GlyceBertConfig):
        super().__init__(config)
        self.num_labels = _num_labels(config)
        self.bert = GlyceBertModel(config)
        self.dropout = _classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, self.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        pinyin_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        outputs = self.bert(
            input_ids,
            pinyin_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            return_dict=True,
            **kwargs,
        )
        logits = self.classifier(self.dropout(outputs.pooler_output))  # (B, H) -> (B, num_labels)

        if labels is not None and self.config.problem_type is None:  # transformers' rule, remembered in the config
            self.config.problem_type = infer_problem_type(self.num_labels, labels)
        loss = sequence_loss(logits, labels, self.config.problem_type)
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class GlyceBertForTokenClassification(GlyceBertPreTrainedModel):
    """Per-token classifier (NER); logits (B, T, num_labels); labels (B, T), -100 = ignored."""

    _keys_to_ignore_on_load_unexpected = [r"^bert\.pooler\.", r"^cls\.", *ELECTRA_PRETRAINING_KEYS]

    def __init__(self, config: GlyceBertConfig):
        super().__init__(config)
        self.num_labels = _num_labels(config)
        self.bert = GlyceBertModel(config, add_pooling_layer=False)
        self.dropout = _classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, self.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        pinyin_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> TokenClassifierOutput:
        outputs = self.bert(
            input_ids,
            pinyin_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            return_dict=True,
            **kwargs,
        )
        logits = self.classifier(self.dropout(outputs.last_hidden_state))  # (B, T, H) -> (B, T, num_labels)
        loss = token_loss(logits, labels)
        return TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class GlyceBertForQuestionAnswering(GlyceBertPreTrainedModel):
    """Extractive QA (CMRC 2018): start and end logits (B, T); positions outside the input are ignored."""

    _keys_to_ignore_on_load_unexpected = [r"^bert\.pooler\.", r"^cls\.", *ELECTRA_PRETRAINING_KEYS]

    def __init__(self, config: GlyceBertConfig):
        super().__init__(config)
        self.num_labels = _num_labels(config)
        self.bert = GlyceBertModel(config, add_pooling_layer=False)
        self.qa_outputs = nn.Linear(config.hidden_size, self.num_labels)  # num_labels = 2: start, end
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        pinyin_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
        **kwargs,
    ) -> QuestionAnsweringModelOutput:
        outputs = self.bert(
            input_ids,
            pinyin_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            return_dict=True,
            **kwargs,
        )
        logits = self.qa_outputs(outputs.last_hidden_state)  # (B, T, H) -> (B, T, 2)
        start_logits, end_logits = (x.squeeze(-1).contiguous() for x in logits.split(1, dim=-1))  # (B, T) each

        loss = span_loss(start_logits, end_logits, start_positions, end_positions)
        return QuestionAnsweringModelOutput(
            loss=loss,
            start_logits=start_logits,
            end_logits=end_logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


class GlyceBertForMultipleChoice(GlyceBertPreTrainedModel):
    """Multiple choice (C3, ChID): input_ids (B, C, T), pinyin_ids (B, C, T, P) or (B, C, T*P); logits (B, C);
    labels (B,) = index of the right choice."""

    _keys_to_ignore_on_load_unexpected = [r"^cls\.", *ELECTRA_PRETRAINING_KEYS]

    def __init__(self, config: GlyceBertConfig):
        super().__init__(config)
        self.bert = GlyceBertModel(config)
        self.dropout = _classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, 1)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        pinyin_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> MultipleChoiceModelOutput:
        reference = input_ids if input_ids is not None else inputs_embeds
        # neither given fails here (GlyceBertModel would refuse it too)
        batch_size, num_choices, seq_length = reference.shape[:3]  # type: ignore[union-attr]

        def flat(x: torch.Tensor | None) -> torch.Tensor | None:
            # (B, C, T, ...) -> (B*C, T, ...)
            return None if x is None else x.reshape(batch_size * num_choices, seq_length, *x.shape[3:])

        if pinyin_ids is not None:
            # (B, C, T, P) or (B, C, T*P) -> (B*C, T*P)
            pinyin_ids = pinyin_ids.reshape(batch_size * num_choices, -1)
        outputs = self.bert(
            flat(input_ids),
            pinyin_ids,
            flat(attention_mask),
            flat(token_type_ids),
            flat(position_ids),
            flat(inputs_embeds),
            return_dict=True,
            **kwargs,
        )
        logits = self.classifier(self.dropout(outputs.pooler_output))  # (B*C, H) -> (B*C, 1)
        logits = logits.view(batch_size, num_choices)  # (B*C, 1) -> (B, C)
        loss = choice_loss(logits, labels)
        return MultipleChoiceModelOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


# Auto class -> "file.Class": written into every saved config, so that a checkpoint directory (holding a copy
# of this file and its relative imports) loads with plain transformers and trust_remote_code=True.
_MODULE = __name__.rsplit(".", 1)[-1]
GLYCEBERT_AUTO_MAP = {
    "AutoConfig": f"{GlyceBertConfig.__module__.rsplit('.', 1)[-1]}.GlyceBertConfig",
    "AutoModel": f"{_MODULE}.GlyceBertModel",
    "AutoModelForMaskedLM": f"{_MODULE}.GlyceBertForMaskedLM",
    "AutoModelForPreTraining": f"{_MODULE}.GlyceBertForPreTraining",
    "AutoModelForSequenceClassification": f"{_MODULE}.GlyceBertForSequenceClassification",
    "AutoModelForTokenClassification": f"{_MODULE}.GlyceBertForTokenClassification",
    "AutoModelForQuestionAnswering": f"{_MODULE}.GlyceBertForQuestionAnswering",
    "AutoModelForMultipleChoice": f"{_MODULE}.GlyceBertForMultipleChoice",
    "AutoModelForCausalLM": f"{_MODULE}.GlyceBertLMHeadModel",
    "AutoModelForNextSentencePrediction": f"{_MODULE}.GlyceBertForNextSentencePrediction",
}

__all__ = [
    "GlyceBertPreTrainedModel",
    "GlyceBertModel",
    "GlyceBertForMaskedLM",
    "GlyceBertForPreTraining",
    "GlyceBertForPreTrainingOutput",
    "GlyceBertForSequenceClassification",
    "GlyceBertForTokenClassification",
    "GlyceBertForQuestionAnswering",
    "GlyceBertForMultipleChoice",
    "GlyceBertForSpellingCorrection",
    "GlyceBertLMHeadModel",
    "GlyceBertForNextSentencePrediction",
    "SpellingCorrectionOutput",
    "spelling_correction_outputs",
]
