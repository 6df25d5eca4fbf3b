"""AMBERT (Zhang and Li 2020, "AMBERT: A Pre-trained Language Model with Multi-Grained Tokenization"): one
Transformer encoder shared by two views of a text, its characters and its words, each with embeddings of its own.

The character view is GlyceBERT's embedding (word + pinyin + glyph, fused; with both branches off it is BERT's plus
the fusion layer); the word view is BERT's embedding over a word vocabulary (``chinese-ptm vocab build
--granularity word``). Pretraining runs MLM on both views of the same text, the same words masked in both
(:class:`~chinese_ptm.masking.ambert.AmbertCollator`); the loss is the sum.

Fine-tuning heads combine the views (``config.combine``):

* ``combo``: each view is encoded on its own; a classifier reads each view's representation and one reads both
  (concatenated); the loss is the sum of the three cross-entropies plus ``agreement_weight`` times the squared
  distance between the two views' predicted distributions (the agreement term), and the prediction is the joint
  classifier's. Given one view only (inference), the head predicts from that view.
* ``hybrid``: one encoder pass over both views at once (the word tokens follow the characters, each view with its
  own positions), so the two attend to each other; the classifier reads the concatenated representations.

Token classification labels characters: each character position reads its own state and the state of the word
token covering it (``word_index``, -1 where none).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import initialization as init
from transformers.masking_utils import create_bidirectional_mask
from transformers.modeling_outputs import SequenceClassifierOutput, TokenClassifierOutput
from transformers.modeling_utils import PreTrainedModel
from transformers.models.bert.modeling_bert import BertEmbeddings
from transformers.utils import ModelOutput

from .configuration_glycebert import GlyceBertConfig
from .losses import IGNORE_INDEX, token_loss
from .modeling_glycebert import (
    GlyceBertModel,
    GlyceBertPreTrainedModel,
    _num_labels,
    masked_lm_logits_and_loss,
    mlm_prediction_head,
)

COMBINES = ("combo", "hybrid")


@strict
class AmbertConfig(GlyceBertConfig):
    r"""GlyceBERT's fields (the character view and the shared encoder) and the word view's:

    word_vocab_size (`int`): entries of the word vocabulary.
    word_pad_token_id (`int`, defaults to 0): its padding id.
    combine (`str`, defaults to `"combo"`): how fine-tuning heads combine the views (module docstring).
    agreement_weight (`float`, defaults to 1.0): weight of the agreement term of ``combo``.
    """

    model_type = "ambert"

    word_vocab_size: int = 30000
    word_pad_token_id: int = 0
    combine: str = "combo"
    agreement_weight: float = 1.0

    def validate_ambert(self):
        if self.combine not in COMBINES:
            raise ValueError(f"AmbertConfig.combine must be one of {', '.join(COMBINES)}, got {self.combine!r}.")
        if self.embedding_size is not None or self.share_layers != "none":
            raise ValueError("AMBERT has BERT's embeddings and layers: set embedding_size=None, share_layers='none'.")

    def word_view(self) -> GlyceBertConfig:
        """The config of the word view's embedding and MLM head: the word vocabulary, the same widths."""
        view = copy.deepcopy(self)
        view.vocab_size, view.pad_token_id = self.word_vocab_size, self.word_pad_token_id
        return view


@dataclass
class AmbertModelOutput(ModelOutput):
    """Each view's token states (B, T, H) and pooled [CLS] (B, H); None for a view not given."""

    last_hidden_state: torch.Tensor | None = None
    pooler_output: torch.Tensor | None = None
    word_last_hidden_state: torch.Tensor | None = None
    word_pooler_output: torch.Tensor | None = None


class AmbertPreTrainedModel(GlyceBertPreTrainedModel):
    config: AmbertConfig
    config_class = AmbertConfig

    def save_pretrained(self, save_directory, is_main_process: bool = True, **kwargs):  # type: ignore[override]
        """Weights and config only: AMBERT loads through chinese_ptm (no code copied beside it)."""
        self.config.auto_map = {}
        PreTrainedModel.save_pretrained(self, save_directory, is_main_process=is_main_process, **kwargs)

    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, BertEmbeddings):
            init.copy_(module.position_ids, torch.arange(module.position_ids.shape[-1]).expand((1, -1)))
            init.zeros_(module.token_type_ids)


class AmbertModel(GlyceBertModel, AmbertPreTrainedModel):
    """GlyceBERT's embeddings, encoder and pooler (the character view, keys as a GlyceBERT checkpoint's, so one
    starts an AMBERT) and the word view's embeddings (``word_embeddings``), run through the same encoder."""

    config_class = AmbertConfig

    def __init__(self, config: AmbertConfig, add_pooling_layer: bool = True):
        super().__init__(config, add_pooling_layer)
        self.word_embeddings = BertEmbeddings(config.word_view())
        self.post_init()

    def forward(
        self,
        input_ids=None,
        pinyin_ids=None,
        attention_mask=None,
        token_type_ids=None,
        glyph_ids=None,
        word_input_ids=None,
        word_attention_mask=None,
        word_token_type_ids=None,
        **kwargs,
    ) -> AmbertModelOutput:
        """Each view given: ``input_ids`` (B, Tc) with its pinyin/glyph ids and masks, ``word_input_ids`` (B, Tw)
        with its masks; either may be left out."""
        out = AmbertModelOutput()
        if input_ids is not None:
            char = GlyceBertModel.forward(
                self, input_ids, pinyin_ids, attention_mask, token_type_ids, glyph_ids=glyph_ids, **kwargs
            )
            out.last_hidden_state, out.pooler_output = char.last_hidden_state, char.pooler_output
        if word_input_ids is not None:
            embedded = self.word_embeddings(word_input_ids, word_token_type_ids)  # (B, Tw, H)
            states = self._encode(embedded, word_attention_mask)
            out.word_last_hidden_state = states
            out.word_pooler_output = self.pooler(states) if self.pooler is not None else None
        if input_ids is None and word_input_ids is None:
            raise ValueError("AMBERT needs input_ids (characters), word_input_ids (words) or both.")
        return out

    def _encode(self, embedded: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        mask = create_bidirectional_mask(config=self.config, inputs_embeds=embedded, attention_mask=attention_mask)
        return self.encoder(embedded, attention_mask=mask).last_hidden_state

    def joint(self, char_inputs: dict, word_inputs: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """``hybrid``: one pass over both views (characters, then words), each with its own positions; returns
        the character states (B, Tc, H) and the word states (B, Tw, H)."""
        chars = self.embeddings(
            input_ids=char_inputs["input_ids"],
            pinyin_ids=char_inputs.get("pinyin_ids"),
            token_type_ids=char_inputs.get("token_type_ids"),
            glyph_ids=char_inputs.get("glyph_ids"),
        )
        words = self.word_embeddings(word_inputs["word_input_ids"], word_inputs.get("word_token_type_ids"))
        masks = [
            m if m is not None else torch.ones(e.shape[:2], dtype=torch.long, device=e.device)
            for m, e in (
                (char_inputs.get("attention_mask"), chars),
                (word_inputs.get("word_attention_mask"), words),
            )
        ]
        states = self._encode(torch.cat([chars, words], dim=1), torch.cat(masks, dim=1))
        return states[:, : chars.shape[1]], states[:, chars.shape[1] :]


def _views(given: dict) -> tuple[dict, dict]:
    """A head's inputs split into the character view's and the word view's."""
    chars = {k: given.get(k) for k in ("input_ids", "pinyin_ids", "attention_mask", "token_type_ids", "glyph_ids")}
    words = {k: given.get(k) for k in ("word_input_ids", "word_attention_mask", "word_token_type_ids")}
    return chars, words


@dataclass
class AmbertForPreTrainingOutput(ModelOutput):
    """loss = character MLM loss + word MLM loss; logits / word_logits as GlyceBertForMaskedLM's (sparse where
    labelled)."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    word_logits: torch.Tensor | None = None
    char_loss: torch.Tensor | None = None
    word_loss: torch.Tensor | None = None


class AmbertForPreTraining(AmbertPreTrainedModel):
    """MLM on both views; each decoder tied to its view's word embeddings."""

    _tied_weights_keys = {
        "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias",
        "word_cls.predictions.decoder.weight": "bert.word_embeddings.word_embeddings.weight",
        "word_cls.predictions.decoder.bias": "word_cls.predictions.bias",
    }

    def __init__(self, config: AmbertConfig):
        super().__init__(config)
        self.bert = AmbertModel(config, add_pooling_layer=False)
        self.cls = mlm_prediction_head(config)
        self.word_cls = mlm_prediction_head(config.word_view())
        self.post_init()

    def get_output_embeddings(self):
        return self.cls.predictions.decoder

    def forward(
        self,
        input_ids=None,
        pinyin_ids=None,
        attention_mask=None,
        token_type_ids=None,
        glyph_ids=None,
        word_input_ids=None,
        word_attention_mask=None,
        word_token_type_ids=None,
        labels=None,
        word_labels=None,
        **kwargs,
    ) -> AmbertForPreTrainingOutput:
        """Both views' inputs (see AmbertModel) and MLM labels, -100 where none: ``labels`` (B, Tc),
        ``word_labels`` (B, Tw)."""
        chars, words = _views(locals())
        given = {**(chars if chars["input_ids"] is not None else {}), **words}
        out = self.bert(**{k: v for k, v in given.items() if v is not None})
        sparse = self.config.sparse_mlm_logits
        logits = word_logits = char_loss = word_loss = None
        if out.last_hidden_state is not None:
            logits, char_loss = masked_lm_logits_and_loss(self.cls.predictions, out.last_hidden_state, labels, sparse)
        if out.word_last_hidden_state is not None:
            word_logits, word_loss = masked_lm_logits_and_loss(
                self.word_cls.predictions, out.word_last_hidden_state, word_labels, sparse
            )
        losses = [loss for loss in (char_loss, word_loss) if loss is not None]
        return AmbertForPreTrainingOutput(
            loss=sum(losses) if losses else None,  # type: ignore[arg-type]
            logits=logits,
            word_logits=word_logits,
            char_loss=char_loss,
            word_loss=word_loss,
        )


class _CombinedHead(nn.Module):
    """A classifier per view and one over both (``combo``), or over both only (``hybrid``)."""

    def __init__(self, config: AmbertConfig, num_labels: int):
        super().__init__()
        rate = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(rate)
        self.classifier = nn.Linear(config.hidden_size, num_labels)  # the character view
        self.word_classifier = nn.Linear(config.hidden_size, num_labels)
        self.joint_classifier = nn.Linear(2 * config.hidden_size, num_labels)

    def forward(self, char, word, labels, agreement_weight: float, combine: str):
        """Logits (..., K) from (..., H) states of either or both views, and the loss with ``labels``."""
        if char is None or word is None:  # one view at inference (or training on one view)
            head = self.classifier if word is None else self.word_classifier
            logits = head(self.dropout(char if word is None else word))
            return logits, token_loss(logits, labels) if labels is not None else None
        joint = self.joint_classifier(self.dropout(torch.cat([char, word], dim=-1)))
        if labels is None:
            return joint, None
        loss = token_loss(joint, labels)
        if combine == "combo":
            per_char, per_word = self.classifier(self.dropout(char)), self.word_classifier(self.dropout(word))
            loss = loss + token_loss(per_char, labels) + token_loss(per_word, labels)
            loss = loss + agreement_weight * agreement(per_char, per_word, labels)
        return joint, loss


def agreement(a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean squared distance between two views' predicted distributions (..., K) where a label is given."""
    distance = (F.softmax(a, dim=-1) - F.softmax(b, dim=-1)).pow(2).sum(-1)  # (...)
    kept = (labels != IGNORE_INDEX).to(distance.dtype)
    return (distance * kept).sum() / kept.sum().clamp(min=1.0)


class AmbertForSequenceClassification(AmbertPreTrainedModel):
    """Single-label classification of a text or pair from its two views; logits (B, num_labels)."""

    def __init__(self, config: AmbertConfig):
        super().__init__(config)
        self.bert = AmbertModel(config)
        self.head = _CombinedHead(config, _num_labels(config))
        self.post_init()

    def forward(
        self,
        input_ids=None,
        pinyin_ids=None,
        attention_mask=None,
        token_type_ids=None,
        glyph_ids=None,
        word_input_ids=None,
        word_attention_mask=None,
        word_token_type_ids=None,
        labels=None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        chars, words = _views(locals())
        char, word = self._pooled(chars, words)
        logits, loss = self.head(char, word, labels, self.config.agreement_weight, self.config.combine)
        return SequenceClassifierOutput(loss=loss, logits=logits)

    def _pooled(self, chars: dict, words: dict):
        if self.config.combine == "hybrid" and chars["input_ids"] is not None and words["word_input_ids"] is not None:
            char_states, word_states = self.bert.joint(chars, words)
            assert self.bert.pooler is not None  # built with its pooler
            return self.bert.pooler(char_states), word_states[:, 0]  # both [CLS]
        given = {k: v for k, v in {**chars, **words}.items() if v is not None}
        out = self.bert(**given)
        return out.pooler_output, out.word_pooler_output


class AmbertForTokenClassification(AmbertPreTrainedModel):
    """Per-character tags (labels (B, Tc)); a character reads its own state and that of the word token covering
    it, ``word_index`` (B, Tc), -1 where none (specials, padding); logits (B, Tc, num_labels)."""

    def __init__(self, config: AmbertConfig):
        super().__init__(config)
        self.bert = AmbertModel(config, add_pooling_layer=False)
        self.head = _CombinedHead(config, _num_labels(config))
        self.post_init()

    def forward(
        self,
        input_ids=None,
        pinyin_ids=None,
        attention_mask=None,
        token_type_ids=None,
        glyph_ids=None,
        word_input_ids=None,
        word_attention_mask=None,
        word_token_type_ids=None,
        word_index=None,
        labels=None,
        **kwargs,
    ) -> TokenClassifierOutput:
        chars, words = _views(locals())
        if chars["input_ids"] is None:
            raise ValueError("AMBERT tags characters: give input_ids (and word_input_ids with word_index).")
        if words["word_input_ids"] is None:
            states = self.bert(**{k: v for k, v in chars.items() if v is not None}).last_hidden_state
            logits, loss = self.head(states, None, labels, 0.0, self.config.combine)
            return TokenClassifierOutput(loss=loss, logits=logits)
        if word_index is None:
            raise ValueError("AMBERT tagging with both views needs word_index: the word token of each character.")
        if self.config.combine == "hybrid":
            char_states, word_states = self.bert.joint(chars, words)
        else:
            out = self.bert(**{k: v for k, v in {**chars, **words}.items() if v is not None})
            char_states, word_states = out.last_hidden_state, out.word_last_hidden_state
        covering = gather_words(word_states, word_index)  # (B, Tc, H)
        logits, loss = self.head(char_states, covering, labels, self.config.agreement_weight, self.config.combine)
        return TokenClassifierOutput(loss=loss, logits=logits)


def gather_words(word_states: torch.Tensor, word_index: torch.Tensor) -> torch.Tensor:
    """(B, Tw, H) word states at ``word_index`` (B, Tc): (B, Tc, H), zeros where the index is -1."""
    index = word_index.clamp(min=0).unsqueeze(-1).expand(-1, -1, word_states.shape[-1])  # (B, Tc, H)
    gathered = torch.gather(word_states, 1, index)
    return gathered * (word_index >= 0).unsqueeze(-1).to(gathered.dtype)


AMBERT_CLASSES = {
    "AutoModel": AmbertModel,
    "AutoModelForPreTraining": AmbertForPreTraining,
    "AutoModelForSequenceClassification": AmbertForSequenceClassification,
    "AutoModelForTokenClassification": AmbertForTokenClassification,
}
