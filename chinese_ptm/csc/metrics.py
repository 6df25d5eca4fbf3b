"""Spelling-correction scores as the CSC literature reports them (SIGHAN 2015 task; SpellGCN, ReaLiSe, SCOPE).

Inputs are length-preserving triples (source as typed, prediction, target). A position is *wrong* when the
source differs from the target there, *changed* when the prediction differs from the source.

The scorer matched is ReaLiSe's ``metric_core.py`` (Xu et al., 2021), whose sentence- and character-level
figures on SIGHAN 2013-2015 are the ones CSC papers since SpellGCN compare (the SIGHAN 2015 organisers' Java
tool is not distributed with the data). Its inputs are SIGHAN ``.lbl`` lines (the changed positions with their
characters); ours are the strings, from which those lines follow.

Sentence level (the headline figures, on every sentence):

* a sentence is *positive* in the gold when it has a wrong position, *predicted positive* when the model
  changed something;
* detection: a true positive is a gold-positive sentence whose changed positions are exactly its wrong
  positions; correction: a gold-positive sentence whose prediction equals the target;
* precision = true positives / predicted positives, recall = true positives / gold positives, F1 their
  harmonic mean; ``false_positive_rate`` = gold-negative sentences the model changed / gold negatives;
  ``accuracy``: sentences whose changed positions are exactly the wrong ones (none for a correct sentence) /
  sentences; ``correction_accuracy``: sentences whose prediction is the target / sentences.

Character level (ReaLiSe's, after SpellGCN): detection counts changed positions that are wrong; correction counts
changed positions that now hold the target character; precision divides by the changed positions, recall by the
wrong ones (ReaLiSe's tp/fp/fn over each sentence's changed and wrong positions come to the same).
"""

from __future__ import annotations

from collections.abc import Sequence


def _prf(true_positives: int, predicted: int, gold: int) -> dict:
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": 100 * precision, "recall": 100 * recall, "f1": 100 * f1}


def _check_lengths(sources: Sequence[str], predictions: Sequence[str], targets: Sequence[str]) -> None:
    if not len(sources) == len(predictions) == len(targets):
        raise ValueError(f"{len(sources)} sources, {len(predictions)} predictions, {len(targets)} targets")
    for i, (s, p, t) in enumerate(zip(sources, predictions, targets)):
        if not len(s) == len(p) == len(t):
            raise ValueError(f"sentence {i}: lengths {len(s)}, {len(p)}, {len(t)} differ (CSC keeps the length)")


def sentence_scores(sources: Sequence[str], predictions: Sequence[str], targets: Sequence[str]) -> dict:
    """Sentence-level detection and correction precision/recall/F1, false-positive rate, accuracy (in %)."""
    _check_lengths(sources, predictions, targets)
    detected = corrected = predicted = gold = negatives = false_alarms = judged_right = right_outputs = 0
    for source, prediction, target in zip(sources, predictions, targets):
        wrong = {i for i, (s, t) in enumerate(zip(source, target)) if s != t}
        changed = {i for i, (s, p) in enumerate(zip(source, prediction)) if s != p}
        predicted += bool(changed)
        right_outputs += prediction == target
        if wrong:
            gold += 1
            detected += changed == wrong
            corrected += prediction == target
            judged_right += changed == wrong
        else:
            negatives += 1
            false_alarms += bool(changed)
            judged_right += not changed
    n = max(len(sources), 1)
    return {
        "detection": _prf(detected, predicted, gold),
        "correction": _prf(corrected, predicted, gold),
        "false_positive_rate": 100 * false_alarms / negatives if negatives else 0.0,
        "accuracy": 100 * judged_right / n,
        "correction_accuracy": 100 * right_outputs / n,
        "sentences": len(sources),
        "with_errors": gold,
    }


def char_scores(sources: Sequence[str], predictions: Sequence[str], targets: Sequence[str]) -> dict:
    """Character-level detection and correction precision/recall/F1 (in %)."""
    _check_lengths(sources, predictions, targets)
    changed = wrong = hits = fixes = 0
    for source, prediction, target in zip(sources, predictions, targets):
        for s, p, t in zip(source, prediction, target):
            changed += s != p
            wrong += s != t
            hits += s != p and s != t
            fixes += s != p and p == t != s
    return {
        "detection": _prf(hits, changed, wrong),
        "correction": _prf(fixes, changed, wrong),
        "changed": changed,
        "wrong": wrong,
    }


def csc_scores(sources: Sequence[str], predictions: Sequence[str], targets: Sequence[str]) -> dict:
    """Both levels; ``score`` = sentence-level correction F1 (the figure CSC papers lead with)."""
    sentence = sentence_scores(sources, predictions, targets)
    return {
        "score": sentence["correction"]["f1"],
        "sentence": sentence,
        "char": char_scores(sources, predictions, targets),
    }


def flat_scores(sources: Sequence[str], predictions: Sequence[str], targets: Sequence[str]) -> dict:
    """:func:`csc_scores` as one flat dict of numbers (what a Trainer logs and results.json holds)."""
    scores = csc_scores(sources, predictions, targets)
    sentence, char = scores["sentence"], scores["char"]
    flat = {  # the main figure first, then every figure of the scorer
        "correction_f1": sentence["correction"]["f1"],
        "false_positive_rate": sentence["false_positive_rate"],
        "sentence_accuracy": sentence["accuracy"],
    }
    for level, prefix in ((sentence, ""), (char, "char_")):
        for task in ("detection", "correction"):
            for figure in ("precision", "recall", "f1"):
                flat[f"{prefix}{task}_{figure}"] = level[task][figure]
    return flat
