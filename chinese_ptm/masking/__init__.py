"""Masking for pretraining: unit selection, replacement, pinyin that follows the input, SOP/NSP.

``MaskingCollator`` turns records of ``chinese_ptm.data`` (``input_ids``, ``pinyin_ids``,
``word_ids``, ``sentence_starts``, ``doc_id``) into padded, freshly masked batches:

* units (``units``): whole words (BERT-wwm-ext), single tokens, ChineseBERT's 90/10 mix of the two,
  or MacBERT's n-grams of 1-4 words; ``max(1, round(0.15 * n))`` tokens per sample;
* replacement (``collator``): per unit [MASK] / random token / keep, or for ``"mac"`` a similar word
  / random token / keep; [MASK] gets zero pinyin, a replacement its own reading, a kept token its
  pinyin;
* similar words (``similarity``, ``word2vec``): homophones, near-homophones and look-alike
  characters from the vocabulary's pinyin and glyph tables, or a user's word2vec file;
* sentence tasks (``sentences``): SOP and NSP pairs with their labels.
"""

from .collator import IGNORE_INDEX, MaskingCollator, default_similarity
from .resumable import ResumableMaskingCollator
from .sentences import LABEL_KEYS, NSP, SOP
from .similarity import PinyinGlyphSimilarity, SimilarWordSource, jieba_dictionary
from .units import CHAR, MAC, MIXED, NGRAM, STRATEGIES, WWM, masking_budget
from .word2vec import Word2VecSimilarity, read_word2vec

__all__ = [
    "CHAR",
    "IGNORE_INDEX",
    "LABEL_KEYS",
    "MAC",
    "MIXED",
    "MaskingCollator",
    "NGRAM",
    "NSP",
    "PinyinGlyphSimilarity",
    "ResumableMaskingCollator",
    "SOP",
    "STRATEGIES",
    "SimilarWordSource",
    "WWM",
    "Word2VecSimilarity",
    "default_similarity",
    "jieba_dictionary",
    "masking_budget",
    "read_word2vec",
]
