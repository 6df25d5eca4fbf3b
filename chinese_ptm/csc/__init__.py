"""Chinese spelling correction (CSC): confusion sets, training-pair synthesis, SIGHAN data and metrics, the
correction model heads (``GlyceBertForSpellingCorrection``, ``BertForSpellingCorrection``) and
``chinese-ptm correct``."""

from .correct import Change, Correction, SpellingCorrector

__all__ = ["Change", "Correction", "SpellingCorrector"]
