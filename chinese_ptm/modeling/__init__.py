"""GlyceBERT (ChineseBERT) models: configuration, embeddings (glyph, pinyin, fusion), heads, checkpoint loading.

Importing this package registers ``glycebert`` with transformers' Auto classes (AutoConfig, AutoModel, the
AutoModelFor* classes of every head, and AutoTokenizer with :class:`~chinese_ptm.text.tokenization.GlyceBertTokenizer`;
AutoTokenizer also finds a saved :class:`~chinese_ptm.text.word_tokenization.GlyceBertWordTokenizer` by name).
The model factory (:mod:`.factory`) is the one place that maps a checkpoint kind or a recipe's model section to a
class. Imports: torch, transformers, :mod:`chinese_ptm.text` (the tokenizer, for AutoTokenizer) and
:mod:`chinese_ptm.glyph` (glyph tables for new models, in the factory only). Checkpoint conversion lives in :mod:`chinese_ptm.modeling.convert`.
"""

import transformers
from transformers.models.auto import tokenization_auto as _tokenization_auto

from ..text.tokenization import GlyceBertTokenizer
from ..text.word_tokenization import GlyceBertWordTokenizer
from . import modeling_glycebert as _models
from .ambert import AMBERT_CLASSES, AmbertConfig
from .configuration_glycebert import GlyceBertConfig
from .modeling_glycebert import (
    GLYCEBERT_AUTO_MAP,
    GlyceBertForMaskedLM,
    GlyceBertForMultipleChoice,
    GlyceBertForNextSentencePrediction,
    GlyceBertForPreTraining,
    GlyceBertForPreTrainingOutput,
    GlyceBertForQuestionAnswering,
    GlyceBertForSequenceClassification,
    GlyceBertForSpellingCorrection,
    GlyceBertForTokenClassification,
    GlyceBertLMHeadModel,
    GlyceBertModel,
    GlyceBertPreTrainedModel,
)

# one list of heads: the auto_map written into saved configs ({"AutoModelFor...": "module.Class"})
transformers.AutoConfig.register(GlyceBertConfig.model_type, GlyceBertConfig, exist_ok=True)
for _auto_name, _target in GLYCEBERT_AUTO_MAP.items():
    if _auto_name != "AutoConfig":
        getattr(transformers, _auto_name).register(
            GlyceBertConfig, getattr(_models, _target.rsplit(".", 1)[-1]), exist_ok=True
        )
transformers.AutoTokenizer.register(GlyceBertConfig, fast_tokenizer_class=GlyceBertTokenizer, exist_ok=True)
# a word tokenizer serves BERT and GlyceBERT configs alike, so it is found by the class name its saved
# tokenizer_config.json gives (the registry AutoTokenizer.register fills), not through a config class
_tokenization_auto.REGISTERED_TOKENIZER_CLASSES.setdefault(GlyceBertWordTokenizer.__name__, GlyceBertWordTokenizer)

transformers.AutoConfig.register(AmbertConfig.model_type, AmbertConfig, exist_ok=True)
for _auto_name, _cls in AMBERT_CLASSES.items():
    getattr(transformers, _auto_name).register(AmbertConfig, _cls, exist_ok=True)

from .auto import AutoModelForSpellingCorrection  # noqa: E402 - after the registration above
from .bert_spelling import BertForSpellingCorrection  # noqa: E402

__all__ = [
    "AutoModelForSpellingCorrection",
    "BertForSpellingCorrection",
    "GLYCEBERT_AUTO_MAP",
    "GlyceBertConfig",
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
]
