"""ELECTRA-style pretraining: replaced-token detection with a small generator, on either trunk.

A generator (BERT layers at a fraction of the discriminator's width, on the discriminator's own embeddings
projected down) fills the masked positions with samples of its MLM distribution; the discriminator reads the
filled text and predicts for every token whether it was replaced. A sample equal to the original token is not
"replaced". loss = generator MLM loss + ``discriminator_weight`` x discriminator loss (50 in the ELECTRA paper);
the discriminator's gradient does not flow through the sampling.

- :class:`GlyceBertForReplacedTokenDetection`: the discriminator is a GlyceBERT (``self.bert``). The replaced
  tokens carry their own pinyin and glyphs: the glyph branch looks glyphs up by id, and the pinyin of a sampled
  token comes from ``token_pinyin``, a (V, P) table of each vocabulary entry's reading (the tokenizer's reading
  of the token on its own). The checkpoint loads into every GlyceBERT head, the generator left out.
- :class:`ElectraForReplacedTokenDetection`: the discriminator is transformers' ``ElectraModel`` with the
  discriminator head of ``ElectraForPreTraining`` under the same names, so the checkpoint is an ELECTRA
  discriminator for ``ElectraFor*`` heads (and HFL's Chinese ELECTRA discriminators load here).

transformers has the generator (``ElectraForMaskedLM``) and the discriminator (``ElectraForPreTraining``) as
separate models and no training of the pair; the pair here shares the embeddings as the paper does, and the
generator is plain ``BertEncoder`` layers so that it is the same on both trunks.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
from transformers.activations import ACT2FN
from transformers.masking_utils import create_bidirectional_mask
from transformers.models.bert.modeling_bert import BertEncoder
from transformers.models.electra.modeling_electra import (
    ElectraDiscriminatorPredictions,
    ElectraModel,
    ElectraPreTrainedModel,
)
from transformers.utils import ModelOutput

from .configuration_glycebert import GlyceBertConfig
from .losses import detection_loss
from .modeling_glycebert import IGNORE_INDEX, GlyceBertModel, GlyceBertPreTrainedModel, masked_lm_logits_and_loss
from .sharing import SharedLayersMixin
from .sparse_bert import mark_architecture


@dataclass
class ReplacedTokenDetectionOutput(ModelOutput):
    """``logits``: the generator's MLM logits at the masked positions (N, V), first so that MLM metrics read
    them; ``discriminator_logits`` (B, T); ``replaced`` (B, T): 1 where the discriminator's input differs."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    discriminator_logits: torch.Tensor | None = None
    replaced: torch.Tensor | None = None
    generator_loss: torch.Tensor | None = None
    discriminator_loss: torch.Tensor | None = None


def generator_config(config, fraction: float):
    """The generator's dimensions: width, heads and FFN at ``fraction`` of the discriminator's, same depth."""
    small = copy.deepcopy(config)
    heads = max(1, round(config.num_attention_heads * fraction))
    head_size = max(1, round(config.hidden_size * fraction / heads))
    small.num_attention_heads, small.hidden_size = heads, heads * head_size
    small.intermediate_size = max(1, round(config.intermediate_size * fraction))
    return small


def embedding_width(config) -> int:
    """E: the width of the shared embeddings (ALBERT/ELECTRA ``embedding_size``, else the hidden size)."""
    return getattr(config, "embedding_size", None) or config.hidden_size


class GeneratorHead(nn.Module):
    """Generator hidden (H_g) -> the embedding width (E) -> vocabulary, the decoder tied to the word embeddings."""

    def __init__(self, small, config):
        super().__init__()
        width = embedding_width(config)
        self.dense = nn.Linear(small.hidden_size, width)
        self.activation = ACT2FN[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(width, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(width, config.vocab_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.LayerNorm(self.activation(self.dense(hidden))))


class ReplacedTokenDetection:
    """The generator, the sampling and the two losses, mixed into a trunk class that supplies ``embed`` (the
    shared embeddings, (B, T, E)), ``discriminate`` (per-token scores (B, T)) and, with pinyin, ``token_pinyin``."""

    embed: Callable[..., torch.Tensor]  # (input_ids, pinyin_ids, token_type_ids) -> (B, T, E)
    discriminate: Callable[..., torch.Tensor]  # (input_ids, pinyin_ids, attention_mask, token_type_ids) -> (B, T)

    def add_generator(self, config) -> None:
        self.discriminator_weight = getattr(config, "discriminator_weight", 50.0)
        self.generator_config = generator_config(config, getattr(config, "generator_size", 0.25))
        self.generator_project = nn.Linear(embedding_width(config), self.generator_config.hidden_size)
        self.generator = BertEncoder(self.generator_config)
        self.generator_head = GeneratorHead(self.generator_config, config)

    def get_output_embeddings(self):
        return self.generator_head.decoder

    def set_output_embeddings(self, new_embeddings):
        self.generator_head.decoder = new_embeddings

    def _generate(self, input_ids, pinyin_ids, attention_mask, token_type_ids, labels):
        hidden = self.generator_project(self.embed(input_ids, pinyin_ids, token_type_ids))  # (B, T, E) -> (B, T, H_g)
        mask = create_bidirectional_mask(
            config=self.generator_config, inputs_embeds=hidden, attention_mask=attention_mask
        )
        hidden = self.generator(hidden, attention_mask=mask).last_hidden_state
        return masked_lm_logits_and_loss(self.generator_head, hidden, labels, sparse=True)  # (N, V), loss

    @torch.no_grad()
    def _replace(self, input_ids, pinyin_ids, labels, logits):
        """The discriminator's input: every masked position holds a sample of the generator (with its pinyin)."""
        masked = labels != IGNORE_INDEX  # (B, T)
        sampled = torch.multinomial(logits.float().softmax(-1), 1).squeeze(-1)  # (N,)
        replaced_ids = input_ids.clone()
        replaced_ids[masked] = sampled
        replaced_pinyin = None
        if pinyin_ids is not None:
            batch, length = input_ids.shape
            replaced_pinyin = pinyin_ids.reshape(batch, length, -1).clone()
            replaced_pinyin[masked] = self.token_pinyin[sampled]
        replaced = torch.zeros_like(input_ids, dtype=torch.float)
        replaced[masked] = (sampled != labels[masked]).float()
        return replaced_ids, replaced_pinyin, replaced

    def forward(
        self, input_ids=None, pinyin_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs
    ) -> ReplacedTokenDetectionOutput:
        if labels is None:
            raise ValueError("replaced-token detection trains on masked input: pass labels (-100 where not masked)")
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        logits, generator_loss = self._generate(input_ids, pinyin_ids, attention_mask, token_type_ids, labels)
        replaced_ids, replaced_pinyin, replaced = self._replace(input_ids, pinyin_ids, labels, logits)
        scores = self.discriminate(replaced_ids, replaced_pinyin, attention_mask, token_type_ids)  # (B, T)
        active = attention_mask.bool()
        discriminator_loss = detection_loss(scores[active], replaced[active])
        loss = generator_loss + self.discriminator_weight * discriminator_loss
        return ReplacedTokenDetectionOutput(
            loss=loss,
            logits=logits,
            discriminator_logits=scores,
            replaced=replaced,
            generator_loss=generator_loss.detach(),
            discriminator_loss=discriminator_loss.detach(),
        )


class GlyceBertForReplacedTokenDetection(ReplacedTokenDetection, GlyceBertPreTrainedModel):
    _tied_weights_keys = {"generator_head.decoder.weight": "bert.embeddings.word_embeddings.weight"}
    _keys_to_ignore_on_load_missing = [r"^token_pinyin$"]
    token_pinyin: torch.Tensor  # a buffer (V, P)

    def __init__(self, config: GlyceBertConfig):
        super().__init__(config)
        self.bert = GlyceBertModel(config, add_pooling_layer=False)
        self.add_generator(config)
        self.discriminator_predictions = ElectraDiscriminatorPredictions(config)
        self.register_buffer("token_pinyin", torch.zeros(config.vocab_size, config.pinyin_slots, dtype=torch.long))
        self.post_init()

    @torch.no_grad()
    def set_token_pinyin(self, table) -> None:
        """(V, P) pinyin ids of every vocabulary entry read on its own (zeros: no reading)."""
        self.token_pinyin.copy_(torch.as_tensor(table, dtype=torch.long).reshape(self.token_pinyin.shape))

    def embed(self, input_ids, pinyin_ids, token_type_ids):
        return self.bert.embeddings(input_ids=input_ids, pinyin_ids=pinyin_ids, token_type_ids=token_type_ids)

    def forward(
        self, input_ids=None, pinyin_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs
    ) -> ReplacedTokenDetectionOutput:
        if pinyin_ids is None and input_ids is not None:  # the pinyin of replaced tokens needs a pinyin tensor
            pinyin_ids = torch.zeros(
                *input_ids.shape, self.config.pinyin_slots, dtype=torch.long, device=input_ids.device
            )
        return super().forward(input_ids, pinyin_ids, attention_mask, token_type_ids, labels, **kwargs)

    def discriminate(self, input_ids, pinyin_ids, attention_mask, token_type_ids):
        hidden = self.bert(input_ids, pinyin_ids, attention_mask, token_type_ids, return_dict=True).last_hidden_state
        return self.discriminator_predictions(hidden)  # (B, T)


# SharedLayersMixin computes _tied_weights_keys (a property) where transformers declares a class attribute
class ElectraForReplacedTokenDetection(  # type: ignore[override]
    ReplacedTokenDetection, SharedLayersMixin, ElectraPreTrainedModel
):
    """ELECTRA on the BERT trunk: transformers' ``ElectraModel`` (``config.embedding_size`` factorises the
    embedding) and ``ElectraForPreTraining``'s discriminator head; reads no pinyin."""

    extra_ties = {"generator_head.decoder.weight": "electra.embeddings.word_embeddings.weight"}

    def __init__(self, config):
        super().__init__(config)
        self.electra = ElectraModel(config)
        self.add_generator(config)
        self.discriminator_predictions = ElectraDiscriminatorPredictions(config)
        self.post_init()

    def embed(self, input_ids, pinyin_ids, token_type_ids):
        return self.electra.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)  # (B, T, E)

    # ELECTRA's positional order (input_ids, attention_mask, token_type_ids); pinyin_ids accepted and not read
    def forward(  # type: ignore[override]
        self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, pinyin_ids=None, **kwargs
    ) -> ReplacedTokenDetectionOutput:
        return super().forward(input_ids, None, attention_mask, token_type_ids, labels, **kwargs)

    def discriminate(self, input_ids, pinyin_ids, attention_mask, token_type_ids):
        hidden = self.electra(
            input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, return_dict=True
        ).last_hidden_state
        return self.discriminator_predictions(hidden)  # (B, T)

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Saved as an ELECTRA discriminator (``ElectraForPreTraining``), the generator's weights alongside."""
        super().save_pretrained(save_directory, *args, **kwargs)
        mark_architecture(save_directory, "ElectraForPreTraining")


def token_pinyin_table(tokenizer, slots: int) -> torch.Tensor:
    """(V, P): each vocabulary entry's pinyin ids when read on its own (the reading a sampled token carries)."""
    vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    encoded = tokenizer(vocab, add_special_tokens=False)
    table = torch.zeros(len(vocab), slots, dtype=torch.long)
    for index, (ids, rows) in enumerate(zip(encoded["input_ids"], encoded["pinyin_ids"])):
        if len(ids) == 1 and ids[0] == index:  # the entry tokenises to itself
            table[index] = torch.tensor(rows[0])
    return table
