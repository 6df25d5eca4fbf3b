"""Sequence-level kinds: single-label classification (one text or a pair), regression and multi-label
classification. One feature per example; the head reads the pooled first token."""

from __future__ import annotations

import numpy as np
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

from ...modeling.losses import sequence_loss
from ..baselines import majority, naive_bayes
from ..examples import ClassificationExample, row_id, text_field
from ..features import Encoded, sequence_feature
from ..metrics import accuracy, macro_f1, multilabel_scores, regression_scores
from ..registry import TaskKind, register_kind
from ..rows import CLASS, CLASSES, NUMBER
from ..task import ACCURACY, CLASSIFICATION, MICRO_F1, MULTILABEL, PEARSON, REGRESSION


class ClassificationKind(TaskKind):
    """One class per text or text pair."""

    name = CLASSIFICATION
    user_names = {"single": False, "pair": True}
    main_metric = ACCURACY
    #: what the label cell holds
    value_type = CLASS

    def read_example(self, row, where, index, settings, context) -> ClassificationExample:
        text_a = text_field(row, settings.text_field, where, allow_empty=False)
        pair = self.user_names.get(settings.kind, False)
        text_b = text_field(row, settings.text_pair_field, where, allow_empty=False) if pair else None
        label = context.labels.read(row, where, self.value_type) if context.labelled else None
        return ClassificationExample(row_id(row, index), text_a, text_b, label)

    def label_array(self, label, task) -> np.ndarray:
        return np.asarray(label, dtype=np.int64)

    def encode(self, encoder, chunk: list[ClassificationExample], start: int, train: bool, out: Encoded) -> None:
        first = [e.text_a for e in chunk]
        second = [e.text_b for e in chunk] if chunk[0].text_b is not None else None
        enc = encoder.tokenizer(first, second, truncation=True, max_length=encoder.hp.max_length)
        for i, example in enumerate(chunk):
            feature = sequence_feature(enc, i, encoder.with_pinyin)
            if train:
                feature["labels"] = self.label_array(example.label, encoder.task)
            out.features.append(feature)
            out.owners.append(start + i)

    def head_config(self, task) -> dict:
        return {
            "num_labels": len(task.labels),
            "id2label": dict(enumerate(task.labels)),
            "label2id": {label: i for i, label in enumerate(task.labels)},
            "problem_type": task.problem_type,
        }

    def make_head(self, hidden: int, num_labels: int):
        return "classifier", nn.Linear(hidden, num_labels)

    def head_forward(self, model, inputs: dict, targets: dict):
        states = model.states(**inputs)
        logits = model.classifier(model.dropout(model.pool(states, inputs["attention_mask"])))  # (B, K)
        loss = sequence_loss(logits, targets.get("labels"), model.problem_type)
        return SequenceClassifierOutput(loss=loss, logits=logits)

    def decode(self, task, output, encoded, examples, settings) -> list:
        return np.asarray(output).argmax(-1).tolist()

    def metrics(self, task, examples, predicted) -> dict:
        gold = [e.label for e in examples]
        return {"accuracy": accuracy(predicted, gold), "macro_f1": macro_f1(predicted, gold, len(task.labels))}

    def prediction_row(self, task, example, predicted) -> dict:
        return {"id": example.uid, "label": task.labels[predicted]}

    def file_row(self, task, example) -> dict:
        row = {"id": example.uid, "text": example.text_a, "label": task.labels[example.label]}
        return row if example.text_b is None else {**row, "text_pair": example.text_b}

    def baselines(self, task, train, target) -> dict:
        return {"majority class": majority(train, target), "naive Bayes (chars + bigrams)": naive_bayes(train, target)}


class RegressionKind(ClassificationKind):
    """A number per text or pair (Pearson and Spearman correlation, mean squared error)."""

    name = REGRESSION
    user_names = {"regression": False}
    main_metric = PEARSON
    value_type = NUMBER

    def label_array(self, label, task) -> np.ndarray:
        return np.asarray(label, dtype=np.float32)

    def head_config(self, task) -> dict:
        return {"num_labels": 1, "problem_type": task.problem_type}

    def decode(self, task, output, encoded, examples, settings) -> list:
        return np.asarray(output, dtype=np.float64).reshape(-1).tolist()

    def metrics(self, task, examples, predicted) -> dict:
        return regression_scores(predicted, [e.label for e in examples])

    def prediction_row(self, task, example, predicted) -> dict:
        return {"id": example.uid, "value": predicted}

    def baselines(self, task, train, target) -> dict:
        return {}


class MultilabelKind(ClassificationKind):
    """Any number of classes per text (labels ``a|b`` in CSV/TSV cells or JSON lists); a class is predicted when
    its probability passes ``task.threshold``."""

    name = MULTILABEL
    user_names = {"multilabel": False}
    main_metric = MICRO_F1
    value_type = CLASSES

    def label_array(self, label, task) -> np.ndarray:
        hot = np.zeros(len(task.labels), dtype=np.float32)
        hot[list(label)] = 1.0
        return hot

    def decode(self, task, output, encoded, examples, settings) -> list:
        probabilities = 1.0 / (1.0 + np.exp(-np.asarray(output, dtype=np.float64)))
        return [np.flatnonzero(row > settings.threshold).tolist() for row in probabilities]

    def metrics(self, task, examples, predicted) -> dict:
        return multilabel_scores(predicted, [e.label for e in examples])

    def prediction_row(self, task, example, predicted) -> dict:
        return {"id": example.uid, "labels": [task.labels[k] for k in predicted]}

    def baselines(self, task, train, target) -> dict:
        return {}


for _kind in (ClassificationKind(), RegressionKind(), MultilabelKind()):
    register_kind(_kind)
