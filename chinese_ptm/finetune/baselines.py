"""Trivial baselines that every model is reported next to: majority class, naive Bayes over characters and
character bigrams (classification), and entity-dictionary lookup (tagging). Each task kind says which fit it
(``TaskKind.baselines``); :func:`chinese_ptm.finetune.registry.baselines` scores them.  [no torch]"""

from __future__ import annotations

import math
from collections import Counter

from .examples import Split


def majority(train: Split, test: Split) -> list[int]:
    most = Counter(e.label for e in train.examples).most_common(1)[0][0]
    return [most] * len(test.examples)


def char_features(text: str) -> list[str]:
    """Characters and character bigrams."""
    return list(text) + [text[i : i + 2] for i in range(len(text) - 1)]


def naive_bayes(train: Split, test: Split, alpha: float = 1.0) -> list[int]:
    """Multinomial naive Bayes over characters and character bigrams, add-``alpha`` smoothing."""
    counts: dict[int, Counter] = {}
    docs = Counter()
    for e in train.examples:
        text = e.text_a + ("" if e.text_b is None else "\u3000" + e.text_b)
        counts.setdefault(e.label, Counter()).update(char_features(text))
        docs[e.label] += 1
    vocabulary = set().union(*counts.values())
    totals = {label: sum(c.values()) for label, c in counts.items()}
    priors = {label: math.log(n / len(train.examples)) for label, n in docs.items()}
    predictions = []
    for e in test.examples:
        text = e.text_a + ("" if e.text_b is None else "\u3000" + e.text_b)
        features = [f for f in char_features(text) if f in vocabulary]
        scores = {
            label: priors[label]
            + sum(math.log((counts[label][f] + alpha) / (totals[label] + alpha * len(vocabulary))) for f in features)
            for label in counts
        }
        predictions.append(max(scores, key=scores.get))
    return predictions


def dictionary_tagger(train: Split, test: Split) -> list[list]:
    """Every training entity string found in a test text, longest first, without overlaps, gets the type it
    had most often in training."""
    types: dict[str, Counter] = {}
    for e in train.examples:
        for kind, start, end in e.entities:
            types.setdefault(e.text[start : end + 1], Counter())[kind] += 1
    names = sorted(types, key=len, reverse=True)
    predictions = []
    for e in test.examples:
        taken = [False] * len(e.text)
        found = []
        for name in names:
            start = e.text.find(name)
            while start >= 0:
                end = start + len(name) - 1
                if not any(taken[start : end + 1]):
                    found.append((types[name].most_common(1)[0][0], start, end))
                    taken[start : end + 1] = [True] * len(name)
                start = e.text.find(name, start + 1)
        predictions.append(sorted(found, key=lambda x: x[1]))
    return predictions
