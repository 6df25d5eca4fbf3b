"""Zero-shot classification with templates: every template scores the labelled splits through the fine-tuning
runtime (same data, encoding, model wrapper and Trainer as few-shot runs, without training); several templates
are ensembled by averaging their label probabilities."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from ..finetune.examples import ClassificationExample, Split
from ..finetune.features import PaddingCollator, logits_of
from ..finetune.runner import FinetuneTrainer, build_model, finetuning_arguments, load_task, prepare, task_metrics
from ..runtime.ranks import is_main_process

RESULTS_FILE = "zero_shot.json"


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


def template_probabilities(config, task=None, progress: bool = False) -> tuple[dict[str, np.ndarray], object]:
    """{split: (N, labels) probabilities} of ``config``'s template, and the prepared (templated) task."""

    prepared = prepare(config, task, progress=progress)
    model, _, _ = build_model(config, prepared)
    # nothing trains: the Trainer only gathers the scores
    args = finetuning_arguments(
        config,
        Path(config.output_dir) / "trainer",
        config.seeds[0],
        prepared.task,
        eval_strategy="no",
        save_strategy="no",
        load_best_model_at_end=False,
    )
    trainer = FinetuneTrainer(model=model, args=args, data_collator=PaddingCollator(prepared.tokenizer.pad_token_id))
    out = {}
    for name, encoded in prepared.encoded.items():
        if name != "train":
            out[name] = _softmax(np.asarray(logits_of(trainer.outputs_for(encoded.features)), dtype=np.float64))
    return out, prepared


CONTENT_FREE = "content-free"


def with_content_free(task):
    """The task plus a split of one empty text: what a template alone makes the model say (scored in the same
    pass as the other splits)."""

    pair = any(e.text_b is not None for e in task.splits["train"].examples)
    empty = Split(
        CONTENT_FREE, [], [ClassificationExample(CONTENT_FREE, "", "" if pair else None, None)], labelled=False
    )
    return dataclasses.replace(task, splits={**task.splits, CONTENT_FREE: empty})


def zero_shot(config, templates: list[str], task=None, calibrate: bool = False, progress: bool = False) -> dict:
    """Accuracy of each template and of their ensemble on the labelled dev/test splits; writes zero_shot.json
    and the ensemble's predictions to the output folder. With ``calibrate``, each template's label probabilities
    are divided by those it gives an empty text (contextual calibration: the template's own bias removed)."""

    task = original = task or load_task(config)
    scored = with_content_free(task) if calibrate else task
    rows, summed, prepared = [], {}, None
    for template in templates:
        config.method.prompt = template
        probabilities, prepared = template_probabilities(config, scored, progress)
        if calibrate:
            bias = probabilities.pop(CONTENT_FREE)[0]
            probabilities = {n: p / bias / (p / bias).sum(-1, keepdims=True) for n, p in probabilities.items()}
        row = {"template": template}
        for name, p in probabilities.items():
            if prepared.task.splits[name].labelled:
                row[name] = task_metrics(prepared.task, p.argmax(-1).tolist(), prepared.task.splits[name])
            summed[name] = summed.get(name, 0.0) + p
        rows.append(row)
    task = prepared.task
    ensemble = {"template": f"ensemble of {len(templates)}"}
    labelled = [name for name in summed if task.splits[name].labelled]
    for name in labelled:
        ensemble[name] = task_metrics(task, summed[name].argmax(-1).tolist(), task.splits[name])
    results = {
        "task": task.name,
        "labels": list(task.labels),
        "model": str(config.model.path),
        "verbalizer": config.method.verbalizer,
        "scoring": config.method.scoring,
        "calibrated": calibrate,
        "examples": {n: len(task.splits[n].examples) for n in summed},
        "labelled": labelled,
        "templates": rows,
        "ensemble": ensemble if len(templates) > 1 else None,
        "majority": {n: _majority(task.splits[n]) for n in labelled},
    }
    if is_main_process():
        _write(config, original, summed, results)
    return results


def _majority(split) -> float:
    labels = [e.label for e in split.examples]
    return 100.0 * max(labels.count(label) for label in set(labels)) / len(labels)


def _write(config, task, summed: dict, results: dict) -> None:
    """Each split's predictions: the input row's id and text(s) as read (``task`` before templating), the
    template(s) apart, the label and the label probabilities (averaged over templates)."""
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    templates = [row["template"] for row in results["templates"]]
    for name, total in summed.items():
        rows = [
            {
                "id": e.uid,
                "text": e.text_a,
                **({"text_pair": e.text_b} if e.text_b is not None else {}),
                "template": templates[0] if len(templates) == 1 else templates,
                "label": task.labels[int(p.argmax())],
                "probabilities": dict(zip(task.labels, np.round(p / len(templates), 4).tolist())),
            }
            for e, p in zip(task.splits[name].examples, total)
        ]
        (out / f"predictions_{name}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
    (out / RESULTS_FILE).write_text(
        json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )


def describe(results: dict) -> str:
    """The table printed by ``chinese-ptm prompt``."""
    splits = results["labelled"]
    if not splits:
        return f"{results['task']}: no labels in the input, so no accuracy; predictions in the output folder"
    how = f"{results['scoring']} scoring of label words" + (", calibrated" if results["calibrated"] else "")
    lines = [f"{results['task']}: zero-shot accuracy ({how})", "  ".join(f"{s:>6}" for s in splits) + "  template"]
    for row in results["templates"] + ([results["ensemble"]] if results["ensemble"] else []):
        lines.append("  ".join(f"{row[s]['accuracy']:6.2f}" for s in splits) + f"  {row['template']}")
    lines.append("  ".join(f"{results['majority'][s]:6.2f}" for s in splits) + "  majority class")
    return "\n".join(lines)
