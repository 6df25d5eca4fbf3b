"""transformers' BERT and ALBERT pretraining models with the MLM head run only at labelled positions while
training.

``BertForMaskedLM`` computes (B, T, V) logits for every position although only the ~15% masked ones have a
target; with a 21,128-entry Chinese vocabulary that projection is most of a small model's work (three times the
time of a whole step of the 2-layer tiny recipe). These subclasses keep the weights, the checkpoint format and
the outputs without labels; with labels, ``logits`` are (N_labelled, V) in row-major order of the labelled
positions, as GlyceBERT's. Checkpoints are written as plain ``BertForMaskedLM`` / ``AlbertForPreTraining`` ...,
so nothing of chinese_ptm is needed to load them (except ALBERT sharing only attention or only the FFN, which
transformers' ALBERT cannot express: ``config.share_layers`` records it and chinese_ptm's loaders tie it again).
"""

from __future__ import annotations

import json
from pathlib import Path

from transformers import AlbertForMaskedLM, AlbertForPreTraining, BertForMaskedLM, BertForPreTraining
from transformers.modeling_outputs import MaskedLMOutput
from transformers.models.albert.modeling_albert import AlbertForPreTrainingOutput
from transformers.models.bert.modeling_bert import BertForPreTrainingOutput

from .losses import choice_loss
from .modeling_glycebert import masked_lm_logits_and_loss
from .sharing import SharedLayersMixin


def mark_architecture(save_directory, name: str) -> None:
    """Write ``name`` as the architecture in ``config.json``: the checkpoint is that transformers class's own."""
    config_file = Path(save_directory) / "config.json"
    if config_file.is_file():
        config = json.loads(config_file.read_text(encoding="utf-8"))
        config["architectures"] = [name]
        config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def mlm_head(model):
    """The MLM prediction head (hidden states -> vocabulary logits) of a masked-LM model: ``cls.predictions`` in
    BERT's and GlyceBERT's classes, ``predictions`` in ALBERT's."""
    return model.cls.predictions if hasattr(model, "cls") else model.predictions


class _Sparse:
    """The forward pass with labels: the encoder, then the MLM head at the labelled positions only (and the
    sentence head on the pooled output, for the pretraining classes); without labels, the class's own."""

    saved_as: str
    sentence_head: str | None = None  # attribute of the sentence head (None: MLM only)

    def save_pretrained(self, save_directory, *args, **kwargs):
        super().save_pretrained(save_directory, *args, **kwargs)
        mark_architecture(save_directory, self.saved_as)

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        labels=None,
        next_sentence_label=None,
        sentence_order_label=None,
        **kwargs,
    ):
        sentence_label = next_sentence_label if next_sentence_label is not None else sentence_order_label
        if labels is None:
            if self.sentence_head is not None and sentence_label is not None:
                kwargs[self.sentence_label_name] = sentence_label
            return super().forward(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, **kwargs)
        outputs = self.base_model(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            return_dict=True,
            **kwargs,
        )
        logits, loss = masked_lm_logits_and_loss(mlm_head(self), outputs.last_hidden_state, labels, True)
        if self.sentence_head is None:
            return MaskedLMOutput(
                loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
            )
        sentence_logits = self.get_submodule(self.sentence_head)(outputs.pooler_output)  # (B, 2)
        if sentence_label is not None:  # NSP or SOP, whichever label the collator gave
            loss = loss + choice_loss(sentence_logits, sentence_label)
        return self.pretraining_output(
            loss=loss,
            prediction_logits=logits,
            sentence_logits=sentence_logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


class SparseBertForMaskedLM(_Sparse, BertForMaskedLM):
    saved_as = "BertForMaskedLM"


class SparseBertForPreTraining(_Sparse, BertForPreTraining):
    saved_as, sentence_head, sentence_label_name = "BertForPreTraining", "cls.seq_relationship", "next_sentence_label"

    @staticmethod
    def pretraining_output(sentence_logits, **fields):
        return BertForPreTrainingOutput(seq_relationship_logits=sentence_logits, **fields)


# SharedLayersMixin computes _tied_weights_keys (a property) where transformers declares a class attribute
class SparseAlbertForMaskedLM(_Sparse, SharedLayersMixin, AlbertForMaskedLM):  # type: ignore[override]
    saved_as, shared_layout = "AlbertForMaskedLM", "albert"


class SparseAlbertForPreTraining(_Sparse, SharedLayersMixin, AlbertForPreTraining):  # type: ignore[override]
    """ALBERT's MLM + sentence-order prediction (1 = segments swapped; the collator's ``next_sentence_label``)."""

    saved_as, shared_layout = "AlbertForPreTraining", "albert"
    sentence_head, sentence_label_name = "sop_classifier", "sentence_order_label"

    @staticmethod
    def pretraining_output(sentence_logits, **fields):
        return AlbertForPreTrainingOutput(sop_logits=sentence_logits, **fields)
