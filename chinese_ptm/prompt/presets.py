"""Prompts that come with the presets, and texts to classify from the user's file.  [no torch]

The label words are common two-character words (one [MASK] per character); the templates are the usual
PET/LM-BFF shapes for sentiment, topic and sentence-pair tasks."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..errors import SettingsError
from ..finetune.examples import ClassificationExample, Split, text_field
from ..finetune.files import iter_rows
from ..finetune.task import ACCURACY, CLASSIFICATION, TaskData

SENTIMENT_TEMPLATES = ["{text}。总之，{mask}。", "{text}。我觉得{mask}。", "{mask}！{text}"]
PAIR_TEMPLATES = ["{text}？{mask}，{text_pair}"]
TNEWS_WORDS = {
    "100": "故事",
    "101": "文化",
    "102": "娱乐",
    "103": "体育",
    "104": "财经",
    "106": "房产",
    "107": "汽车",
    "108": "教育",
    "109": "科技",
    "110": "军事",
    "112": "旅游",
    "113": "国际",
    "114": "股票",
    "115": "农业",
    "116": "游戏",
}

PROMPT_PRESETS = {
    "reviews": {"templates": SENTIMENT_TEMPLATES, "verbalizer": {"positive": ["很好"], "negative": ["很差"]}},
    "fewclue:eprstmt": {"templates": SENTIMENT_TEMPLATES, "verbalizer": {"Positive": ["很好"], "Negative": ["很差"]}},
    "fewclue:tnews": {
        "templates": ["这是一条{mask}新闻：{text}", "{text}（{mask}）"],
        "verbalizer": {k: [v] for k, v in TNEWS_WORDS.items()},
    },
    "fewclue:bustm": {"templates": PAIR_TEMPLATES, "verbalizer": {"1": ["是的"], "0": ["不是"]}},
    "fewclue:ocnli": {
        "templates": PAIR_TEMPLATES,
        "verbalizer": {"entailment": ["是的"], "neutral": ["可能"], "contradiction": ["不是"]},
    },
}


def prompt_preset(preset: str) -> dict:
    """The preset's templates and verbaliser (empty for a preset without prompts: give them)."""
    entry = PROMPT_PRESETS.get(preset.lower())
    if entry is None:
        return {}
    inline = ";".join(f"{label}={','.join(words)}" for label, words in entry["verbalizer"].items())
    return {"templates": list(entry["templates"]), "verbalizer": inline}


def input_task(path: str | Path, settings, labels: tuple[str, ...]):
    """The texts of ``path`` (JSON lines, CSV, TSV) as a classification task whose labels are the verbaliser's;
    labelled when the rows carry ``settings.label_field`` (a label the verbaliser lacks is an error)."""

    path = Path(path)
    if not path.is_file():
        raise SettingsError(f"--input {path}: no such file")
    pair = settings.kind == "pair"
    examples, with_labels = [], None
    for where, index, row in iter_rows(path, settings.format, [settings.text_field]):
        has = row.get(settings.label_field) not in (None, "")
        if with_labels is not None and has != with_labels:
            raise SettingsError(f"{where}: some rows have a {settings.label_field!r} and others not; label all or none")
        with_labels = has
        label = None
        if has:
            value = str(row[settings.label_field])
            if value not in labels:
                raise SettingsError(
                    f"{where}: label {value!r} is not in the verbalizer ({', '.join(labels)}); add its label words"
                )
            label = labels.index(value)
        second = text_field(row, settings.text_pair_field, where) if pair else None
        examples.append(
            ClassificationExample(row.get("id", index), text_field(row, settings.text_field, where), second, label)
        )
    if not examples:
        raise SettingsError(f"--input {path}: no rows")
    stand_in = dataclasses.replace(examples[0], label=0)  # zero-shot trains nothing; the runtime wants a train split
    splits = {
        "train": Split("train", [path], [stand_in]),
        "test": Split("test", [path], examples, labelled=bool(with_labels)),
    }
    return TaskData(path.stem, CLASSIFICATION, labels, ACCURACY, splits, source={"input": str(path)})
