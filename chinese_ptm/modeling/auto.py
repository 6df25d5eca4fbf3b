"""``AutoModelForSpellingCorrection``: transformers has no Auto class for spelling correction, so this one is
built from its Auto-class factory and holds both heads: a GlyceBERT checkpoint gets
:class:`GlyceBertForSpellingCorrection`, a BERT checkpoint :class:`BertForSpellingCorrection`."""

from __future__ import annotations

from collections import OrderedDict

from transformers import BertConfig
from transformers.models.auto.auto_factory import _BaseAutoModelClass, _LazyAutoMapping
from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

from .bert_spelling import BertForSpellingCorrection
from .configuration_glycebert import GlyceBertConfig
from .modeling_glycebert import GlyceBertForSpellingCorrection


class AutoModelForSpellingCorrection(_BaseAutoModelClass):
    # filled by register(); transformers declares ``_model_mapping = None`` on the base class, typing it None
    _model_mapping = _LazyAutoMapping(CONFIG_MAPPING_NAMES, OrderedDict())  # type: ignore[assignment]


AutoModelForSpellingCorrection.register(GlyceBertConfig, GlyceBertForSpellingCorrection, exist_ok=True)
AutoModelForSpellingCorrection.register(BertConfig, BertForSpellingCorrection, exist_ok=True)
