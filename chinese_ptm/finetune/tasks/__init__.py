"""The built-in task kinds, one module each: what a row is, how it becomes features, which head reads them,
how outputs are decoded, scored and written. Importing the package registers them (the runtime finds it
through the ``chinese_ptm.finetune`` entry points, like spelling correction's kind in :mod:`chinese_ptm.csc`).
"""

from . import choice, classification, seq2seq, span, tagging

__all__ = ["choice", "classification", "seq2seq", "span", "tagging"]
