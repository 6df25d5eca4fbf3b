"""Configuration of GlyceBERT (ChineseBERT): BERT's fields plus the glyph and pinyin input branches.

This file imports only transformers, huggingface_hub and sharing.py beside it: they are copied next to saved
checkpoints so that they load with ``trust_remote_code=True`` where ``chinese_ptm`` is not installed.
"""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import BertConfig

from .sharing import SHARE_LAYERS


@strict
class GlyceBertConfig(BertConfig):
    r"""Configuration of a GlyceBERT model.

    Every [`BertConfig`] field keeps its meaning (``vocab_size``, ``hidden_size``, ``num_hidden_layers``,
    ``num_attention_heads``, ``intermediate_size``, ``hidden_act``, dropouts, ``max_position_embeddings``,
    ``type_vocab_size``, ``initializer_range``, ``layer_norm_eps``, ``pad_token_id`` ...). The defaults describe
    ChineseBERT-base on the 21,128-entry Chinese BERT vocabulary. Added fields:

    num_fonts (`int`, defaults to 3):
        Fonts per character in the glyph table.
    glyph_size (`int`, defaults to 24):
        Side of one square glyph bitmap in pixels; a token's glyph vector has ``num_fonts * glyph_size**2``
        values (1,728 in the original).
    glyph_trainable (`bool`, defaults to `False`):
        `False` keeps the glyph table a frozen buffer (saved with the weights, no gradient, no optimizer state:
        about 40M fewer trainable parameters at base size); `True` makes it a trainable parameter, as in the
        original ChineseBERT.
    use_glyph (`bool`, defaults to `True`):
        Switch the glyph branch (table + ``glyph_map``) on or off.
    open_glyph_fonts (`list[str]`, *optional*):
        The fonts the glyph table was drawn from (shipped style names or font files): a character outside the
        vocabulary, passed as ``glyph_ids = -code point``, is drawn in them and read by the glyph branch, while its
        word embedding stays [UNK]'s. `None` (default, and the original): it gets [UNK]'s glyph.
    glyph_scale (`float`, defaults to `1.0`):
        Factor on the bitmap values (0..255) before ``glyph_map``. 1.0 feeds them as the original does (its
        checkpoints were trained so); new models do better with ``1/3570`` (the tiny recipes' value): raw values
        put a glyph signal thousands of times larger than the word embedding into the fusion, which drowns the
        characters early in training, and even at ``1/255`` ``glyph_map``'s output starts 14x the word
        embedding's norm, so under Adam the glyph branch moves the fusion 14x faster than the characters.
    fusion_init (`str`, defaults to `"random"`):
        How a new ``map_fc`` starts: ``"random"`` (BERT's initialisation), or ``"identity"``: ``[I | 0 | 0]``, the
        model starts as the BERT it contains and learns how much pinyin and glyph to add.
    pinyin_vocab_size (`int`, defaults to 32):
        Size of the pinyin alphabet: ``0-5`` (tones) and ``a-z``.
    pinyin_slots (`int`, defaults to 8):
        Pinyin symbols per token (left-aligned, zero-padded).
    pinyin_embedding_size (`int`, defaults to 128):
        Width of one pinyin symbol embedding (the channels of the pinyin convolution).
    pinyin_kernel_size (`int`, defaults to 2):
        Width of the pinyin convolution over the slots; max-pooling runs over its
        ``pinyin_slots - pinyin_kernel_size + 1`` outputs.
    use_pinyin (`bool`, defaults to `True`):
        Switch the pinyin branch on or off.
    require_pinyin_ids (`bool`, defaults to `False`):
        With the pinyin branch on, a call without ``pinyin_ids`` runs with zero pinyin and warns once; `True`
        makes it an error instead (for pipelines that must never lose pinyin).
    embedding_size (`int`, *optional*):
        ALBERT's factorised embedding: the word, position, token-type, pinyin and glyph embeddings and their fusion
        are ``embedding_size`` wide (V x E instead of V x H parameters) and one linear map takes the fused
        embedding to ``hidden_size``; MLM heads map back to E so their decoder stays tied to the word embeddings.
        `None` (default): the embeddings are ``hidden_size`` wide, as in ChineseBERT.
    share_layers (`str`, defaults to `"none"`):
        ALBERT's cross-layer sharing: ``"all"`` (every layer is layer 0), ``"attention"`` or ``"ffn"`` (only that
        block of layer 0 is shared), ``"none"``.
    sparse_mlm_logits (`bool`, defaults to `True`):
        When MLM labels are given, compute the prediction head only at labelled positions (``labels != -100``)
        and return logits of shape ``(n_labelled, vocab_size)``. Without labels the logits are always
        ``(batch, seq_len, vocab_size)``. `False` restores full logits with labels too.
    prefix_lm (`bool`, defaults to `False`):
        With ``is_decoder``: the model is a prefix LM (UniLM's sequence-to-sequence mask): the prompt (the source,
        ``prefix_lengths`` columns in training) is read bidirectionally and generated tokens are of token type 1.
        `False`: a plain left-to-right decoder.

    ``is_decoder`` (BERT's field) makes self-attention causal (``GlyceBertLMHeadModel``, generation with a key/value
    cache) and ``add_cross_attention`` adds cross-attention to an encoder's outputs (as the decoder of an
    ``EncoderDecoderModel``).

    The fusion layer ``map_fc`` maps ``E * (1 + use_pinyin + use_glyph)`` inputs to ``E`` (E: ``embedding_width``).
    """

    model_type = "glycebert"

    vocab_size: int = 21128
    num_fonts: int = 3
    glyph_size: int = 24
    glyph_trainable: bool = False
    use_glyph: bool = True
    open_glyph_fonts: list[str] | None = None
    glyph_scale: float = 1.0
    fusion_init: str = "random"
    pinyin_vocab_size: int = 32
    pinyin_slots: int = 8
    pinyin_embedding_size: int = 128
    pinyin_kernel_size: int = 2
    use_pinyin: bool = True
    require_pinyin_ids: bool = False
    sparse_mlm_logits: bool = True
    embedding_size: int | None = None
    share_layers: str = "none"
    prefix_lm: bool = False

    @property
    def glyph_dim(self) -> int:
        """Values in one token's glyph vector: ``num_fonts * glyph_size * glyph_size``."""
        return self.num_fonts * self.glyph_size * self.glyph_size

    @property
    def embedding_width(self) -> int:
        """Width of the embeddings (E): ``embedding_size`` when factorised, else ``hidden_size``."""
        return self.embedding_size or self.hidden_size

    @property
    def fusion_input_size(self) -> int:
        """Input width of ``map_fc``: the word embedding plus each branch that is switched on."""
        return self.embedding_width * (1 + int(self.use_pinyin) + int(self.use_glyph))

    def validate_glycebert(self):
        """Part of the strict validation: the glyph and pinyin settings must describe a buildable model."""
        for name in ("num_fonts", "glyph_size", "pinyin_vocab_size", "pinyin_slots", "pinyin_embedding_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"GlyceBertConfig.{name} must be at least 1, got {getattr(self, name)}.")
        if not 1 <= self.pinyin_kernel_size <= self.pinyin_slots:
            raise ValueError(
                f"GlyceBertConfig.pinyin_kernel_size must be between 1 and pinyin_slots ({self.pinyin_slots}), "
                f"got {self.pinyin_kernel_size}."
            )
        if not self.glyph_scale > 0:
            raise ValueError(f"GlyceBertConfig.glyph_scale must be positive, got {self.glyph_scale}.")
        if self.fusion_init not in ("random", "identity"):
            raise ValueError(f"GlyceBertConfig.fusion_init must be 'random' or 'identity', got {self.fusion_init!r}.")
        if self.embedding_size is not None and self.embedding_size < 1:
            raise ValueError(f"GlyceBertConfig.embedding_size must be at least 1 (or None), got {self.embedding_size}.")
        if self.share_layers not in SHARE_LAYERS:
            raise ValueError(
                f"GlyceBertConfig.share_layers must be one of {', '.join(SHARE_LAYERS)}, got {self.share_layers!r}."
            )
        if self.prefix_lm and not self.is_decoder:
            raise ValueError("GlyceBertConfig.prefix_lm describes a decoder: set is_decoder=True with it.")


__all__ = ["GlyceBertConfig"]
