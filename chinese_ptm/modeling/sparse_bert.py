"""transformers' BERT pretraining models with the MLM head run only at labelled positions while training.

``BertForMaskedLM`` computes (B, T, V) logits for every position although only the ~15% masked ones have a
target; with a 21,128-entry Chinese vocabulary that projection is most of a small model's work (three times the
time of a whole step of the 2-layer tiny recipe). These subclasses keep the weights, the checkpoint format and
the outputs without labels; with labels, ``logits`` are (N_labelled, V) in row-major order of the labelled
positions, as GlyceBERT's. Checkpoints are written as plain ``BertForMaskedLM`` / ``BertForPreTraining``, so
nothing of chinese_ptm is needed to load them.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch.nn.functional as F
from transformers import BertForMaskedLM, BertForPreTraining
from transformers.modeling_outputs import MaskedLMOutput
from transformers.models.bert.modeling_bert import BertForPreTrainingOutput

from .modeling_glycebert import masked_lm_logits_and_loss


class _SavedAsBert:
    """Write the transformers class name into ``config.json``: the checkpoint is BERT's own."""

    saved_as: str

    def save_pretrained(self, save_directory, *args, **kwargs):
        super().save_pretrained(save_directory, *args, **kwargs)
        config_file = Path(save_directory) / "config.json"
        if config_file.is_file():
            config = json.loads(config_file.read_text(encoding="utf-8"))
            config["architectures"] = [self.saved_as]
            config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


class SparseBertForMaskedLM(_SavedAsBert, BertForMaskedLM):
    saved_as = "BertForMaskedLM"

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, **kwargs):
        if labels is None:
            return super().forward(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, **kwargs)
        outputs = self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                            position_ids=position_ids, inputs_embeds=inputs_embeds, return_dict=True, **kwargs)
        logits, loss = masked_lm_logits_and_loss(self.cls.predictions, outputs.last_hidden_state, labels, True)
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                              attentions=outputs.attentions)


class SparseBertForPreTraining(_SavedAsBert, BertForPreTraining):
    saved_as = "BertForPreTraining"

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, next_sentence_label=None, **kwargs):
        if labels is None:
            return super().forward(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                                   next_sentence_label=next_sentence_label, **kwargs)
        outputs = self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                            position_ids=position_ids, inputs_embeds=inputs_embeds, return_dict=True, **kwargs)
        logits, loss = masked_lm_logits_and_loss(self.cls.predictions, outputs.last_hidden_state, labels, True)
        sentence_logits = self.cls.seq_relationship(outputs.pooler_output)  # (B, 2)
        if next_sentence_label is not None:
            loss = loss + F.cross_entropy(sentence_logits.float(), next_sentence_label.reshape(-1))
        return BertForPreTrainingOutput(loss=loss, prediction_logits=logits, seq_relationship_logits=sentence_logits,
                                        hidden_states=outputs.hidden_states, attentions=outputs.attentions)
