"""Corpus preparation: raw text -> documents -> segmented, tokenised, packed records (datasets).

Input: plain text (one sentence or paragraph per line, a blank line between documents) or JSON
lines with a text field (one document per object), one or many files, gzip accepted; or a list of
strings (one document each). Lines are cleaned (control and invisible characters, HTML remnants),
lines that are mostly not text are dropped, identical lines are kept once, paragraphs are split
into sentences. A bad record (invalid UTF-8, NUL bytes, an over-long line, broken JSON) is
skipped and counted, never fatal.

Records (one per training sequence):
``input_ids`` ([CLS] sentences [SEP]), ``token_type_ids``, ``pinyin_ids`` (L x 8), ``word_ids``
(-1 for special tokens, one id per word of the segmentation), ``sentence_starts`` (token position
of each sentence, for SOP/NSP) and ``doc_id``. Packing fills a record with consecutive sentences of
one document up to ``max_length - 3`` tokens (room for the middle [SEP] of a sentence task) and
never splits a word; ``packed_ratio`` of the records are packed, the others hold one sentence
(ChineseBERT: 9:1).

Modules: :mod:`.corpora` (the embedded real data read from installed packages), :mod:`.reading` (files ->
documents, skipping and counting bad records), :mod:`.records` (owner of the record schema), :mod:`.prepare`
(the one-process engine, summaries, staleness), :mod:`.distributed` (the same records on Ray) and :mod:`.cli`
(``chinese-ptm prepare`` and ``chinese-ptm vocab``). Imports: :mod:`chinese_ptm.text` and the core modules.
"""

from .prepare import (
    EMBEDDED_CORPUS_FILE,
    PREPARE_META,
    PrepareConfig,
    ReadStats,
    count_totals,
    embedded_corpus_file,
    format_summary,
    is_prepared,
    iter_documents,
    load_prepared,
    prepare_corpus,
    tokenizer_digest,
)
from .records import RecordBuilder, batch_word_ids, record_features

__all__ = [
    "EMBEDDED_CORPUS_FILE",
    "PREPARE_META",
    "PrepareConfig",
    "ReadStats",
    "RecordBuilder",
    "batch_word_ids",
    "count_totals",
    "embedded_corpus_file",
    "format_summary",
    "is_prepared",
    "iter_documents",
    "load_prepared",
    "prepare_corpus",
    "record_features",
    "tokenizer_digest",
]
