"""GlyceBERT (ChineseBERT) models: configuration, embeddings (glyph, pinyin, fusion), heads, checkpoint loading.

Importing this package registers ``glycebert`` with transformers' Auto classes (AutoConfig, AutoModel and the
AutoModelFor* classes of every head). Checkpoint conversion lives in :mod:`chinese_ptm.modeling.convert`.
"""

import transformers

from .configuration_glycebert import GlyceBertConfig
from .modeling_glycebert import (
    GLYCEBERT_AUTO_MAP,
    GlyceBertForMaskedLM,
    GlyceBertForMultipleChoice,
    GlyceBertForPreTraining,
    GlyceBertForPreTrainingOutput,
    GlyceBertForQuestionAnswering,
    GlyceBertForSequenceClassification,
    GlyceBertForSpellingCorrection,
    GlyceBertForTokenClassification,
    GlyceBertModel,
    GlyceBertPreTrainedModel,
)

from . import modeling_glycebert as _models

# one list of heads: the auto_map written into saved configs ({"AutoModelFor...": "module.Class"})
transformers.AutoConfig.register(GlyceBertConfig.model_type, GlyceBertConfig, exist_ok=True)
for _auto_name, _target in GLYCEBERT_AUTO_MAP.items():
    if _auto_name != "AutoConfig":
        getattr(transformers, _auto_name).register(
            GlyceBertConfig, getattr(_models, _target.rsplit(".", 1)[-1]), exist_ok=True
        )

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
]
