"""``chinese-ptm correct MODEL TEXT ...``: the corrected text and each change with its pinyin.

MODEL is a spelling-correction model saved by ``chinese-ptm finetune csc`` (``OUTPUT_DIR/model``). From Python,
for batches::

    from chinese_ptm.csc import SpellingCorrector
    corrector = SpellingCorrector("runs/finetune/csc/model")
    for result in corrector(["我跟我朋唷打算去法国玩儿", "..."]):
        print(result.corrected, result.changes)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from ..finetune.examples import CorrectionExample, Split
from ..finetune.predict import Predictor
from ..finetune.task import CORRECTION
from ..text.pinyin import contextual_pinyin


@dataclass
class Change:
    position: int
    typed: str
    corrected: str
    typed_pinyin: str | None  # the reading in context (TONE3), None for characters without one
    corrected_pinyin: str | None


@dataclass
class Correction:
    text: str
    corrected: str
    changes: list[Change] = field(default_factory=list)


class SpellingCorrector:
    """Corrects texts with a saved spelling-correction model; ``threshold`` overrides the detection threshold."""

    def __init__(self, model_dir: str | Path, threshold: float | None = None, batch_size: int = 32):

        overrides = {"threshold": threshold} if threshold is not None else None
        self.predictor = Predictor(model_dir, overrides, batch_size)
        if self.predictor.task.kind != CORRECTION:
            raise UserError(
                f"{model_dir}: a {self.predictor.task.kind} model, not a spelling-correction one; "
                "train one with `chinese-ptm finetune csc`"
            )

    def __call__(self, texts: str | list[str]) -> Correction | list[Correction]:

        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        kept = [i for i, t in enumerate(batch) if t.strip()]  # nothing to correct in an empty text
        split = Split("input", [], [CorrectionExample(i, batch[i], None) for i in kept], labelled=False)
        corrected = dict(zip(kept, self.predictor.decoded(split))) if kept else {}
        results = [describe(text, corrected.get(i, text)) for i, text in enumerate(batch)]
        return results[0] if single else results


def describe(text: str, corrected: str) -> Correction:
    """The changes between a text and its correction, each with both readings in context."""

    if corrected == text:
        return Correction(text, corrected)
    before, after = contextual_pinyin(text), contextual_pinyin(corrected)
    changes = [Change(i, a, b, before[i], after[i]) for i, (a, b) in enumerate(zip(text, corrected)) if a != b]
    return Correction(text, corrected, changes)
