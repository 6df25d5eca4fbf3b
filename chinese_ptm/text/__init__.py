"""Text input: normalisation, pinyin readings, word segmentation, vocabularies and the tokenizer.  [no torch]

Owns everything between a raw string and ``input_ids`` + ``pinyin_ids``: :mod:`.normalize` (offset-keeping
normalisation, CJK ranges, sentence splitting), :mod:`.pinyin` (contextual readings as 8 slot ids, bit-identical
to the original ChineseBERT tokenizer), :mod:`.segmentation` (jieba, jieba-rs, pkuseg, LTP behind one
interface), :mod:`.vocab` (reading and building vocabularies) and :mod:`.tokenization` (``GlyceBertTokenizer``
with its helpers :mod:`.token_batch` and :mod:`.token_readings`).

Imports: the standard library, numpy, tokenizers/transformers' tokenizer classes, pypinyin and segmenters, and
:mod:`chinese_ptm.errors`. Nothing above this layer. The tokenizer's files are copied beside saved checkpoints
(``trust_remote_code``), so they import each other relatively and reach outside ``text/`` only in ``try`` blocks.
"""

from . import word_tokenization  # noqa: E402, F401 - registers the word tokenizer with load_tokenizer
