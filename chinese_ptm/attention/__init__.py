"""Attention views of GlyceBERT and BERT models: capture with hooks, self-contained HTML pages (head, model,
neuron and difference views), matplotlib figures, ``chinese-ptm attention``."""

from .capture import AttentionCapture, capture_attention
from .view import AttentionView, attention_view

__all__ = ["AttentionCapture", "AttentionView", "attention_view", "capture_attention"]
