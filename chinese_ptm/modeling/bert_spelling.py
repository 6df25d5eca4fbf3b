"""Spelling correction on a plain BERT checkpoint (BERT-wwm-ext, MacBERT, bert-base-chinese, ours with
``model.architecture=bert``): the same heads and losses as :class:`GlyceBertForSpellingCorrection`, on
transformers' ``BertModel``; the checkpoint also loads as ``BertForMaskedLM``."""

from __future__ import annotations

from transformers import BertModel, BertPreTrainedModel
from transformers.models.bert.modeling_bert import BertOnlyMLMHead

from .modeling_glycebert import SpellingCorrectionHeads, SpellingCorrectionOutput


class BertForSpellingCorrection(SpellingCorrectionHeads, BertPreTrainedModel):
    _tied_weights_keys = {
        "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias",
    }
    _keys_to_ignore_on_load_unexpected = [r"^bert\.pooler\.", r"^cls\.seq_relationship\."]

    def __init__(self, config):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.add_spelling_heads(config, BertOnlyMLMHead(config))
        self.post_init()

    def forward(
        self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, labels=None, **kwargs
    ) -> SpellingCorrectionOutput:
        kwargs.pop("pinyin_ids", None)  # a BERT reads no pinyin (the same batches feed both architectures)
        kwargs.pop("glyph_ids", None)  # nor glyphs
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            return_dict=True,
            **kwargs,
        )
        return self.spelling_outputs(outputs, input_ids, labels)
