"""Metrics of every task kind: accuracy and macro F1, Pearson/Spearman, multi-label F1, CMRC 2018 EM/F1,
entity F1, with BIOS tag conversion.  [no torch]

CMRC 2018 EM/F1 are the official evaluation's (v5 of the CMRC 2018 script, which the CLUE baselines ship):
its Chinese-character test, its punctuation list, nltk's word tokenizer for other runs, EM on the stripped
strings, F1 by the longest common run of segments. Entity F1 is CLUENER 2020's (its baseline's
``SeqEntityScore``): micro precision/recall/F1 over exact (type, start, end) matches, and per gold type.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Mapping, Sequence

OUTSIDE = "O"
BEGIN, INSIDE, SINGLE = "B", "I", "S"


def accuracy(predictions: Sequence, references: Sequence) -> float:
    """Share of equal items, x 100 (0 for empty input)."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if not references:
        return 0.0
    return 100.0 * sum(p == r for p, r in zip(predictions, references)) / len(references)


def macro_f1(predictions: Sequence[int], references: Sequence[int], num_labels: int) -> float:
    """Unweighted mean over labels of per-label F1, x 100 (labels absent from both count as 0)."""
    scores = []
    for label in range(num_labels):
        hits = sum(p == r == label for p, r in zip(predictions, references))
        predicted = sum(p == label for p in predictions)
        gold = sum(r == label for r in references)
        scores.append(2 * hits / (predicted + gold) if predicted + gold else 0.0)
    return 100.0 * sum(scores) / max(num_labels, 1)


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2.0  # ties share their mean rank
        i = j + 1
    return ranks


def _pearson(x: Sequence[float], y: Sequence[float]) -> float:
    n = len(x)
    if n < 2:
        return 0.0
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / (sxx * syy) ** 0.5 if sxx > 0 and syy > 0 else 0.0


def regression_scores(predictions: Sequence[float], references: Sequence[float]) -> dict:
    """Pearson and Spearman correlation (x 100) and mean squared error."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    mse = sum((p - r) ** 2 for p, r in zip(predictions, references)) / max(len(references), 1)
    return {
        "pearson": 100.0 * _pearson(predictions, references),
        "spearman": 100.0 * _pearson(_ranks(predictions), _ranks(references)),
        "mse": mse,
    }


def multilabel_scores(predictions: Sequence[Iterable[int]], references: Sequence[Iterable[int]]) -> dict:
    """Micro F1, macro F1 over the labels seen, and exact-set accuracy (x 100)."""
    hits, predicted, gold = Counter(), Counter(), Counter()
    exact = 0
    for pred, ref in zip(predictions, references):
        pred, ref = set(pred), set(ref)
        exact += pred == ref
        predicted.update(pred)
        gold.update(ref)
        hits.update(pred & ref)
    total_hits, total_pred, total_gold = sum(hits.values()), sum(predicted.values()), sum(gold.values())
    micro = 2 * total_hits / (total_pred + total_gold) if total_pred + total_gold else 0.0
    labels = set(gold) | set(predicted)
    macro = sum(2 * hits[k] / (predicted[k] + gold[k]) for k in labels) / max(len(labels), 1)
    return {
        "micro_f1": 100.0 * micro,
        "macro_f1": 100.0 * macro,
        "exact_match": 100.0 * exact / max(len(references), 1),
    }


# ---------------------------------------------------------------------------------------------
# CMRC 2018: the official evaluation (v5), as the CMRC 2018 and CLUE baselines ship it
# ---------------------------------------------------------------------------------------------

#: the official script's punctuation list, quirks kept: '……' is one two-character entry, so a single '…'
#: is never removed, and '’' is listed without '‘'. Other punctuation (ASCII , . " ( ) % ! ? ...) stays.
CMRC_PUNCTUATION = frozenset(
    [
        "-",
        ":",
        "_",
        "*",
        "^",
        "/",
        "\\",
        "~",
        "`",
        "+",
        "=",
        "，",
        "。",
        "：",
        "？",
        "！",
        "“",
        "”",
        "；",
        "’",
        "《",
        "》",
        "……",
        "·",
        "、",
        "「",
        "」",
        "（",
        "）",
        "－",
        "～",
        "『",
        "』",
    ]
)
_CMRC_CHINESE = re.compile("[\u4e00-\u9fa5]")  # the script's test: the URO block only


def _word_tokens(run: str) -> list[str]:
    """nltk's word tokenizer on one run of non-Chinese characters. ``preserve_line``: an answer is one span, and
    the Punkt sentence splitter the official call runs first needs data that would have to be downloaded; the
    two differ only on a run that holds a sentence end followed by more text (``"end. Next"``)."""
    from nltk.tokenize import word_tokenize

    return word_tokenize(run, preserve_line=True)


def cmrc_segments(text: str, drop_punctuation: bool = False) -> list[str]:
    """The official segmentation: lower case, stripped; each Chinese character (and each listed punctuation
    mark, unless dropped) is a segment; runs of other characters are split by nltk's word tokenizer."""
    segments: list[str] = []
    run = ""
    for char in str(text).lower().strip():
        if drop_punctuation and char in CMRC_PUNCTUATION:
            continue  # the run goes on: "iphone-7" is one run "iphone7"
        if _CMRC_CHINESE.match(char) or char in CMRC_PUNCTUATION:
            if run:
                segments.extend(_word_tokens(run))
                run = ""
            segments.append(char)
        else:
            run += char
    if run:
        segments.extend(_word_tokens(run))
    return segments


def cmrc_strip(text: str) -> str:
    """What EM compares: lower case, stripped, the listed punctuation removed (inner spaces stay)."""
    return "".join(char for char in str(text).lower().strip() if char not in CMRC_PUNCTUATION)


def longest_common_run(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest contiguous run of segments shared by ``a`` and ``b`` (a substring, not a
    subsequence)."""
    best = 0
    previous = [0] * (len(b) + 1)
    for item in a:
        current = [0] * (len(b) + 1)
        for j, other in enumerate(b, start=1):
            if item == other:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


def exact_match(prediction: str, gold: str) -> bool:
    return cmrc_strip(prediction) == cmrc_strip(gold)


def span_f1(prediction: str, gold: str) -> float:
    """F1 over segments (punctuation dropped), the overlap being their longest common run."""
    pred_segments, gold_segments = cmrc_segments(prediction, True), cmrc_segments(gold, True)
    overlap = longest_common_run(gold_segments, pred_segments)
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(pred_segments), overlap / len(gold_segments)
    return 2 * precision * recall / (precision + recall)


def cmrc_scores(predictions: Mapping[str, str], references: Mapping[str, Sequence[str]]) -> dict:
    """EM and F1 (x 100) of ``{qid: answer}`` against ``{qid: [gold answers]}``, the best gold answer per
    question, averaged over all questions; an unanswered question scores 0 (counted in ``missing``)."""
    em = f1 = 0.0
    missing = 0
    for qid, golds in references.items():
        if qid not in predictions:
            missing += 1
            continue
        prediction = str(predictions[qid])
        em += max((float(exact_match(prediction, g)) for g in golds), default=0.0)
        f1 += max((span_f1(prediction, g) for g in golds), default=0.0)
    total = len(references)
    return {
        "em": 100.0 * em / total if total else 0.0,
        "f1": 100.0 * f1 / total if total else 0.0,
        "questions": total,
        "missing": missing,
    }


# ---------------------------------------------------------------------------------------------
# Entities (CLUENER 2020)
# ---------------------------------------------------------------------------------------------

Entity = tuple[str, int, int]  # (type, start, end inclusive) in characters


def bios_labels(types: Iterable[str]) -> list[str]:
    """``["O", "B-t", "I-t", "S-t", ...]`` for the entity types, in the given order."""
    return [OUTSIDE] + [f"{prefix}-{kind}" for kind in types for prefix in (BEGIN, INSIDE, SINGLE)]


def spans_to_bios(length: int, entities: Iterable[Entity]) -> list[str]:
    """Character tags of a text of ``length`` characters: ``S-t`` for a one-character entity, else ``B-t``
    then ``I-t`` up to and including the end. Raises ValueError on a span outside the text or overlapping
    another."""
    tags = [OUTSIDE] * length
    for kind, start, end in sorted(entities, key=lambda e: (e[1], e[2])):
        if not 0 <= start <= end < length:
            raise ValueError(f"entity {kind} [{start}, {end}] lies outside a text of {length} characters")
        if any(tag != OUTSIDE for tag in tags[start : end + 1]):
            raise ValueError(f"entity {kind} [{start}, {end}] overlaps another entity")
        if start == end:
            tags[start] = f"{SINGLE}-{kind}"
        else:
            tags[start] = f"{BEGIN}-{kind}"
            for i in range(start + 1, end + 1):
                tags[i] = f"{INSIDE}-{kind}"
    return tags


def bios_to_spans(tags: Sequence[str]) -> list[Entity]:
    """Entities of a tag sequence. ``B-t`` opens an entity that following ``I-t`` extend; ``S-t`` is a
    one-character entity; an ``I`` that continues nothing (or another type) is ignored, as is anything
    that is not a well-formed tag."""
    entities: list[Entity] = []
    open_kind: str | None = None
    open_start = 0

    def close(end: int) -> None:
        nonlocal open_kind
        if open_kind is not None:
            entities.append((open_kind, open_start, end))
        open_kind = None

    for i, tag in enumerate(tags):
        prefix, _, kind = tag.partition("-")
        if prefix == INSIDE and kind and kind == open_kind:
            continue
        close(i - 1)
        if prefix == BEGIN and kind:
            open_kind, open_start = kind, i
        elif prefix == SINGLE and kind:
            entities.append((kind, i, i))
    close(len(tags) - 1)
    return entities


def entity_scores(predictions: Sequence[Iterable[Entity]], references: Sequence[Iterable[Entity]]) -> dict:
    """Micro precision, recall and F1 (x 100) over exact (type, start, end) matches, and the three per gold
    type (CLUENER 2020's ``SeqEntityScore``: a predicted entity is right when the gold holds it exactly)."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    hits, predicted, gold = Counter(), Counter(), Counter()
    for pred, ref in zip(predictions, references):
        pred, ref = set(pred), set(ref)
        for kind, *_ in pred:
            predicted[kind] += 1
        for kind, *_ in ref:
            gold[kind] += 1
        for kind, *_ in pred & ref:
            hits[kind] += 1

    def prf(h: int, p: int, g: int) -> tuple[float, float, float]:
        precision = h / p if p else 0.0
        recall = h / g if g else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return 100 * precision, 100 * recall, 100 * f1

    precision, recall, f1 = prf(sum(hits.values()), sum(predicted.values()), sum(gold.values()))
    per_type = {
        kind: dict(zip(("precision", "recall", "f1"), prf(hits[kind], predicted[kind], gold[kind])))
        for kind in sorted(gold)
    }  # the gold types, as CLUENER's scorer lists them
    return {"f1": f1, "precision": precision, "recall": recall, "per_type": per_type}


# ---------------------------------------------------------------------------------------------
# generated text (seq2seq)
# ---------------------------------------------------------------------------------------------


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (one row of the dynamic programme at a time)."""
    row = [0] * (len(b) + 1)
    for x in a:
        previous = 0  # row[j - 1] of the line above
        for j, y in enumerate(b, start=1):
            previous, row[j] = row[j], previous + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


def generation_scores(predictions: Sequence[str], references: Sequence[str]) -> dict:
    """Scores of generated texts against one reference each, x 100:

    - ``char_accuracy``: characters equal at the same position over the longer of the two texts, summed over
      texts (a missing or extra character counts as wrong; the usual figure where lengths agree);
    - ``exact_match``: share of texts generated exactly;
    - ``bleu``: corpus BLEU by sacrebleu with its Chinese tokenizer (``tokenize="zh"``);
    - ``rouge_l``: character-level ROUGE-L F1 (longest common subsequence), averaged over texts.
    """
    import sacrebleu

    right = sum(sum(p == r for p, r in zip(pred, ref)) for pred, ref in zip(predictions, references))
    longest = sum(max(len(p), len(r)) for p, r in zip(predictions, references))
    rouge = []
    for pred, ref in zip(predictions, references):
        common = lcs_length(pred, ref)
        rouge.append(0.0 if common == 0 else 2 * common / (len(pred) + len(ref)))
    bleu = sacrebleu.corpus_bleu(list(predictions), [list(references)], tokenize="zh").score
    n = max(len(references), 1)
    return {
        "char_accuracy": 100.0 * right / max(longest, 1),
        "exact_match": 100.0 * sum(p == r for p, r in zip(predictions, references)) / n,
        "bleu": float(bleu),
        "rouge_l": 100.0 * sum(rouge) / n,
    }
