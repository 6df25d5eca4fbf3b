"""Prompt-based classification with the MLM head: templates, verbalisers, scoring of multi-character label
words, zero-shot (``chinese-ptm prompt``) and PET few-shot training on the fine-tuning runtime
(``method.prompt``, ``task.shots``)."""

from .template import Template, Verbalizer

__all__ = ["Template", "Verbalizer"]
