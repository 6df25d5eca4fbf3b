"""Spelling correction as a fine-tuning task kind: what the ``correction`` kind adds to the fine-tuning runtime.

Registered (through the ``chinese_ptm.finetune`` entry points) when the runtime first needs it: the scorer of
:mod:`.metrics`, SIGHAN-style ``wrong<TAB>correct`` files as a format of their own, and the ``sighan15`` preset
(synthesised training pairs, SIGHAN 2015 test).
"""

from __future__ import annotations

from pathlib import Path

from ..finetune.examples import CorrectionExample, Split
from ..finetune.registry import TaskKind, register_kind
from ..finetune.tasks import CORRECTION
from .data import Pairs, read_pairs, sighan15_splits
from .metrics import flat_scores


def correction_metrics(examples: list[CorrectionExample], predicted: list[str]) -> dict:
    return flat_scores([e.text for e in examples], predicted, [e.target for e in examples])


def is_pairs_file(path: Path, settings) -> bool:
    """SIGHAN-style ``wrong<TAB>correct`` lines: declared, or a .tsv whose first line is not a header."""
    if settings.format == "pairs":
        return True
    if settings.format != "auto" or path.suffix != ".tsv" or not path.is_file():
        return False
    with open(path, encoding="utf-8-sig") as handle:
        return settings.text_field not in handle.readline().rstrip("\r\n").split("\t")


def _examples(pairs: Pairs) -> list[CorrectionExample]:
    return [CorrectionExample(i, w, c) for i, (w, c) in enumerate(zip(pairs.wrong, pairs.correct))]


def read_pairs_file(path: Path, split: Split, settings) -> bool:
    """Read a pairs file into ``split`` (skipped lines counted); False when ``path`` is not one."""
    if not is_pairs_file(path, settings):
        return False
    pairs = read_pairs(path)
    split.examples = _examples(pairs)
    split.skipped.update(pairs.skipped)
    return True


def sighan15_examples(settings=None) -> dict[str, list[CorrectionExample]]:
    """The sighan15 task's splits (synthesised training pairs, SIGHAN 2015 test); needs the csc extra."""
    return {name: _examples(pairs) for name, pairs in sighan15_splits(settings).items()}


CORRECTION_KIND = register_kind(
    TaskKind(CORRECTION, correction_metrics, read_pairs_file, {"sighan15": sighan15_examples})
)
