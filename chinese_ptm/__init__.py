"""chinese_ptm: a Chinese-specific pretraining toolkit (glyph + pinyin inputs, whole-word masking,
GlyceBERT/ChineseBERT, BERT-wwm-ext and MacBERT recipes, CLUE fine-tuning)."""

__version__ = "0.1.0"

# The bundled data (default vocabulary, fonts, recipes) is found through chinese_ptm.resources.

#: public names, imported on first use (``import chinese_ptm`` stays light: no torch, no jieba)
_EXPORTS = {
    "GlyceBertTokenizer": "chinese_ptm.text.tokenization",
    "load_tokenizer": "chinese_ptm.text.tokenization",
    "JiebaSegmenter": "chinese_ptm.text.segmentation",
    "PkusegSegmenter": "chinese_ptm.text.segmentation",
    "LtpSegmenter": "chinese_ptm.text.segmentation",
    "get_segmenter": "chinese_ptm.text.segmentation",
    "prepare_corpus": "chinese_ptm.data",
    "PrepareConfig": "chinese_ptm.data",
    "MaskingCollator": "chinese_ptm.masking",
    "GlyceBertConfig": "chinese_ptm.modeling",
    "GlyceBertModel": "chinese_ptm.modeling",
    "GlyceBertForMaskedLM": "chinese_ptm.modeling",
    "GlyceBertForPreTraining": "chinese_ptm.modeling",
    "GlyceBertForSequenceClassification": "chinese_ptm.modeling",
    "GlyceBertForTokenClassification": "chinese_ptm.modeling",
    "GlyceBertForQuestionAnswering": "chinese_ptm.modeling",
    "GlyceBertForMultipleChoice": "chinese_ptm.modeling",
}
__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'chinese_ptm' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
