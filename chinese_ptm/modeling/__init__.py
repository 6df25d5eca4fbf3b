"""GlyceBERT (ChineseBERT) models: configuration, embeddings (glyph, pinyin, fusion), heads, checkpoint loading.

Importing this package registers ``glycebert`` with transformers' Auto classes (AutoConfig, AutoModel and the
AutoModelFor* classes of every head). Checkpoint conversion lives in :mod:`chinese_ptm.modeling.convert`.
"""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForMultipleChoice,
    AutoModelForPreTraining,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

from .configuration_glycebert import GlyceBertConfig
from .modeling_glycebert import (
    GLYCEBERT_AUTO_MAP,
    GlyceBertForMaskedLM,
    GlyceBertForMultipleChoice,
    GlyceBertForPreTraining,
    GlyceBertForPreTrainingOutput,
    GlyceBertForQuestionAnswering,
    GlyceBertForSequenceClassification,
    GlyceBertForTokenClassification,
    GlyceBertModel,
    GlyceBertPreTrainedModel,
)

AutoConfig.register(GlyceBertConfig.model_type, GlyceBertConfig, exist_ok=True)
for _auto_class, _model_class in (
    (AutoModel, GlyceBertModel),
    (AutoModelForMaskedLM, GlyceBertForMaskedLM),
    (AutoModelForPreTraining, GlyceBertForPreTraining),
    (AutoModelForSequenceClassification, GlyceBertForSequenceClassification),
    (AutoModelForTokenClassification, GlyceBertForTokenClassification),
    (AutoModelForQuestionAnswering, GlyceBertForQuestionAnswering),
    (AutoModelForMultipleChoice, GlyceBertForMultipleChoice),
):
    _auto_class.register(GlyceBertConfig, _model_class, exist_ok=True)

__all__ = [
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
]
