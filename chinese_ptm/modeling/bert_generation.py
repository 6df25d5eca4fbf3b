"""Generation on a plain BERT checkpoint (``model.architecture=bert``, BERT-wwm-ext, MacBERT): transformers'
``BertLMHeadModel`` with what :class:`~.modeling_glycebert.GlyceBertLMHeadModel` adds, a prefix-LM mask
(``config.prefix_lm``, UniLM) and the decoding inputs of :mod:`.generation`. BERT reads no pinyin."""

from __future__ import annotations

from transformers import BertLMHeadModel, BertModel
from transformers.masking_utils import create_causal_mask
from transformers.modeling_outputs import CausalLMOutputWithCrossAttentions

from .generation import GenerationInputs, prefix_mask_function
from .modeling_glycebert import next_token_logits_and_loss


class BertPrefixLMModel(BertModel):
    """BertModel whose causal self-attention mask lets every position see the first ``prefix_lengths`` columns."""

    _prefix_lengths = None  # (B,), set by the head for the duration of one forward

    def _create_attention_masks(self, attention_mask, encoder_attention_mask, embedding_output, **kwargs):
        self_mask, cross_mask = super()._create_attention_masks(
            attention_mask=attention_mask,
            encoder_attention_mask=encoder_attention_mask,
            embedding_output=embedding_output,
            **kwargs,
        )
        if self._prefix_lengths is None or not self.config.is_decoder:
            return self_mask, cross_mask
        prefix = prefix_mask_function(self._prefix_lengths.to(embedding_output.device))
        self_mask = create_causal_mask(
            config=self.config,
            inputs_embeds=embedding_output,
            attention_mask=attention_mask,
            cache=kwargs.get("cache"),
            or_mask_function=prefix,
        )
        return self_mask, cross_mask


class BertPrefixLMHeadModel(GenerationInputs, BertLMHeadModel):
    """BERT as a decoder or a UniLM-style prefix LM (``config.prefix_lm``); ``labels`` as BertLMHeadModel's (the
    next token's loss, shifted inside). Saved with architecture ``BertLMHeadModel``: plain transformers loads the
    weights (without the prefix mask)."""

    def __init__(self, config):
        config.loss_type = "ForCausalLM"  # transformers' shifted next-token loss (named, so it is not guessed)
        super().__init__(config)
        self.bert = BertPrefixLMModel(config, add_pooling_layer=False)
        self.post_init()

    def forward(self, *args, prefix_lengths=None, **kwargs):
        self.bert._prefix_lengths = prefix_lengths
        try:
            if args or kwargs.get("labels") is None:
                return super().forward(*args, **kwargs)
            return self._next_token_loss(**kwargs)
        finally:
            self.bert._prefix_lengths = None

    def _next_token_loss(self, labels, **kwargs) -> CausalLMOutputWithCrossAttentions:
        """With labels the head runs only where a next token is labelled (logits (N, V)), as GlyceBERT's: at every
        position (BertLMHeadModel's way) it is most of a small model's step with a 21,128-entry vocabulary."""
        for unused in ("cache", "use_cache", "logits_to_keep"):
            kwargs.pop(unused, None)
        outputs = self.bert(use_cache=False, return_dict=True, **kwargs)
        logits, loss = next_token_logits_and_loss(self.cls.predictions, outputs.last_hidden_state, labels, sparse=True)
        return CausalLMOutputWithCrossAttentions(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
