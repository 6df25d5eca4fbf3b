"""One fine-tuning run: a task, a checkpoint, a method, several seeds.

The data are read and encoded once; every seed then builds the model, applies the method (what trains, at
which rate, LoRA or adapters), trains with the Trainer (evaluation on dev every epoch or every N steps, the
best checkpoint kept by the task's main metric, early stopping), evaluates dev and test and predicts.
``results.json`` holds every run and the mean and standard deviation over seeds; the best run's model,
predictions (and for CLUE tasks the submission file) are written beside it.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import SettingsError
from ..runtime.checkpoints import last_good_checkpoint
from ..runtime.config import apply_overrides
from ..runtime.loading import (
    check_vocab_size,
    checkpoint_kind,
    load_tokenizer_for,
    reads_pinyin,
    transformers_progress,
)
from ..runtime.ranks import is_main_process, world_size
from ..runtime.trainer import ChinesePtmTrainer, training_arguments, weights_digest
from . import registry
from .clue import DEV_PREFIX, get_task, submission, write_submission
from .clue_readers import load_clue_task
from .config import FINETUNING_DEFAULTS, FinetuneConfig, build_config
from .embedded import PRESETS, load_embedded_task
from .examples import Split, sample_shots
from .features import (
    FEATURE_INDEX,
    Encoded,
    Encoder,
    FeatureDataset,
    PaddingCollator,
    decode,
    in_feature_order,
)
from .files import load_file_task
from .model import build_task_model, count_parameters
from .predict import prediction_rows
from .registry import task_metrics
from .saving import save_task_model
from .strategies import (
    add_adapters,
    apply_lora,
    apply_strategy,
    average_last_checkpoints,
    early_stopping,
    with_self_distillation,
)
from .task import TaskData

RESULTS_FILE = "results.json"
MODEL_DIR = "model"
TRAINER_DIR = "trainer"
SETTINGS_STAMP = "settings.sha256"  # in TRAINER_DIR: the settings its checkpoints were trained with
SEED_RESULT = "seed_result.pkl"  # a finished seed's results, kept until the whole run has written its outputs


class FinetuneTrainer(ChinesePtmTrainer):
    """Takes each feature's position off the batch before the model sees it and hands it back as the label, so
    that predictions are decoded against the examples they belong to, whatever the gathering order. A task kind
    that generates (seq2seq) gives its generated ids in place of the logits."""

    def __init__(self, *args, task_kind=None, task_settings=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.task_kind, self.task_settings = task_kind, task_settings

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        index = inputs.pop(FEATURE_INDEX, None)
        if self.task_kind is not None and self.task_kind.generates:
            inputs = self._prepare_inputs(inputs)
            with torch.no_grad():
                generated = self.task_kind.prediction_step(
                    self.accelerator.unwrap_model(model), inputs, self.task_settings
                )
            return None, generated, index
        loss, logits, _ = super().prediction_step(model, inputs, False, ignore_keys=ignore_keys)
        return loss, logits, index

    def outputs_for(self, features: list[dict]):
        """The model's outputs for ``features``, in their order (no metrics: they belong to the dev set)."""
        compute_metrics, self.compute_metrics = self.compute_metrics, None
        try:
            output = self.predict(FeatureDataset(features))
        finally:
            self.compute_metrics = compute_metrics
        return in_feature_order(output.predictions, output.label_ids)


# ---------------------------------------------------------------------------------------------
# tasks and configurations
# ---------------------------------------------------------------------------------------------


def preset_settings(preset: str) -> dict:
    """The settings a preset brings (``section.field``: value)."""
    if preset in PRESETS:
        return dict(PRESETS[preset])
    if preset.startswith(("clue:", "fewclue:")):
        return dict(get_task(preset).settings)
    raise SettingsError(
        f"task.preset {preset!r}: not an embedded task ({', '.join(PRESETS)}), clue:<task> nor fewclue:<task>"
    )


def load_task(config: FinetuneConfig) -> TaskData:
    """The task the configuration names: an embedded task, a CLUE task or the user's files."""
    preset = config.task.preset
    if preset in PRESETS:
        return load_embedded_task(preset, config.task)
    if preset and preset.startswith(("clue:", "fewclue:")):
        if not config.task.data_dir:
            raise SettingsError("a CLUE task needs its data: --data-dir DIR (the task's folder or its parent)")
        return load_clue_task(get_task(preset), config.task.data_dir, config.task)
    return load_file_task(config.task)


def run_preset(preset: str, model: str, overrides: dict[str, Any] | None = None, **sections) -> dict:
    """Python entry point: fine-tune ``model`` on a preset (``reviews``, ``pd98-ner``, ``clue:tnews``)."""

    layer = apply_overrides({}, {**preset_settings(preset), "task.preset": preset, "model.path": str(model)})
    return run(build_config([layer, sections], overrides))


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------


@dataclass
class Prepared:
    """What every seed shares: the task, its encoded splits, the tokenizer and the checkpoint's kind."""

    task: TaskData
    encoded: dict[str, Encoded]
    tokenizer: Any
    kind: str
    with_pinyin: bool
    positions: int


def prepare(config: FinetuneConfig, task: TaskData | None = None, progress: bool = True) -> Prepared:
    from transformers import AutoConfig

    source = config.model.path
    kind = checkpoint_kind(source)
    tokenizer = load_tokenizer_for(source, kind, config.model.tokenizer)
    model_config = AutoConfig.from_pretrained(source) if kind != "chinesebert" else None
    positions = model_config.max_position_embeddings if model_config is not None else _json_positions(source)
    config.task.max_length = min(config.task.max_length, positions)
    task = task or load_task(config)
    if config.task.max_train_examples > 0:
        task.splits["train"].examples = task.splits["train"].examples[: config.task.max_train_examples]
    if config.method.prompt:
        task = registry.method("prompt").prepare_task(task, config.method, tokenizer, config.task.max_length)
    with_pinyin = reads_pinyin(kind) and bool(getattr(model_config, "use_pinyin", True))
    encoder = Encoder(task, tokenizer, config.task, with_pinyin, progress=progress and is_main_process())
    encoded = {
        name: encoder.encode(split.examples, train=name == "train", desc=f"{task.name} {name}")
        for name, split in task.splits.items()
    }
    return Prepared(task, encoded, tokenizer, kind, with_pinyin, positions)


def _json_positions(source: str) -> int:
    return int(json.loads((Path(source) / "config.json").read_text()).get("max_position_embeddings", 512))


# ---------------------------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------------------------


def metrics_function(task: TaskData, encoded: Encoded, split: Split, settings):
    """The Trainer's compute_metrics for ``split``: decode in feature order, then the task's metrics."""

    def compute(prediction) -> dict:
        outputs = in_feature_order(prediction.predictions, prediction.label_ids)
        scores = task_metrics(task, decode(task, outputs, encoded, split, settings), split)
        return {k: v for k, v in scores.items() if isinstance(v, (int, float))}

    return compute


# ---------------------------------------------------------------------------------------------
# one seed
# ---------------------------------------------------------------------------------------------


def build_model(config: FinetuneConfig, prepared: Prepared):
    """The task model with the method applied: (model, callbacks, parameter groups or None)."""
    method = config.method
    if method.prompt:
        model = registry.method("prompt").build_model(
            method,
            prepared.task.labels,
            config.model.path,
            prepared.kind,
            prepared.tokenizer,
            scratch=config.model.scratch,
        )
        check_vocab_size(model.mlm, prepared.tokenizer, config.model.path, config.model.tokenizer or config.model.path)
        return model, [], None
    task_kind = registry.kind(prepared.task.kind)
    model = task_kind.build_model(prepared.task, config, prepared.kind) or build_task_model(
        prepared.task, config.model.path, prepared.kind, method, scratch=config.model.scratch
    )
    task_kind.finish_model(model, prepared.tokenizer)
    check_vocab_size(
        getattr(model, "encoder", None) or getattr(model, "base_model", model),  # an encoder-decoder's encoder
        prepared.tokenizer,
        config.model.path,
        config.model.tokenizer or config.model.path,
    )
    if method.peft == "lora":
        return apply_lora(model, method, method.pooling), [], None
    if method.peft == "adapters":
        add_adapters(model, method.adapter_size, method.pooling)
        return model, [], None
    callbacks, groups = apply_strategy(model, method, world_size())
    model, groups = with_self_distillation(model, method, callbacks, groups)
    return model, callbacks, groups


def finetuning_arguments(config: FinetuneConfig, out: Path, seed: int, task: TaskData, **overrides):
    t = config.training
    forced: dict = {
        "seed": seed,
        "data_seed": seed,
        "label_names": list(registry.kind(task.kind).target_keys),
    }
    if t.eval_strategy == "steps" and t.save_strategy == FINETUNING_DEFAULTS["save_strategy"]:
        forced.update(save_strategy="steps", save_steps=t.eval_steps)  # the best checkpoint needs both
    if config.method.ensemble == "checkpoints":  # the last ones are kept and averaged instead of the best
        # one more: the Trainer also keeps the best checkpoint, which need not be among the last ones
        forced.update(save_total_limit=config.method.ensemble_checkpoints + 1, load_best_model_at_end=False)
    return training_arguments(t, out, **{**forced, **overrides})


def training_features(config: FinetuneConfig, prepared: Prepared, seed: int) -> list[dict]:
    """The training features, or with ``task.shots`` K examples per class drawn with the seed."""
    features = prepared.encoded["train"].features
    if not config.task.shots:
        return features
    if prepared.task.problem_type != "single_label_classification" or len(features) != len(
        prepared.task.splits["train"].examples
    ):
        raise SettingsError("task.shots draws examples per class: single-label classification tasks only")
    labels = [e.label for e in prepared.task.splits["train"].examples]
    return [features[i] for i in sample_shots(labels, config.task.shots, seed)]


def train_one(config: FinetuneConfig, prepared: Prepared, seed: int, out: Path, build=None) -> tuple[dict, Any]:
    """Train and evaluate one seed; returns (its results, the trainer holding the best model). ``build``: what
    makes the model, as :func:`build_model` (the default) does: a capability above the runtime (distillation)
    brings its own."""
    from transformers import set_seed

    set_seed(seed)
    task, encoded = prepared.task, prepared.encoded
    model, callbacks, groups = (build or build_model)(config, prepared)
    trainable, total = count_parameters(model)
    args = finetuning_arguments(config, out / TRAINER_DIR, seed, task)
    if config.method.early_stopping_patience and args.eval_strategy != "no":
        callbacks.append(early_stopping(config.method.early_stopping_patience, callbacks))
    resume_from = _resume_point(config, out / TRAINER_DIR)
    trainer = FinetuneTrainer(
        model=model,
        args=args,
        train_dataset=FeatureDataset(training_features(config, prepared, seed)),
        eval_dataset=FeatureDataset(encoded["dev"].features),
        data_collator=PaddingCollator(prepared.tokenizer.pad_token_id),
        compute_metrics=metrics_function(task, encoded["dev"], task.splits["dev"], config.task),
        callbacks=callbacks,
        param_groups=groups,
        optimizer_name=config.training.optimizer,
        nonfinite_skips=config.training.nonfinite_skips,
        preprocess_logits_for_metrics=registry.kind(task.kind).logits_for_metrics,
        task_kind=registry.kind(task.kind),
        task_settings=config.task,
    )
    started = time.perf_counter()
    train_output = trainer.train(resume_from_checkpoint=resume_from)
    seconds = time.perf_counter() - started
    averaged = average_last_checkpoints(trainer, out / TRAINER_DIR, config.method)  # ensemble checkpoints
    result = {
        "seed": seed,
        "resumed_from": resume_from,
        "skipped_steps": trainer.nonfinite.skipped_steps,
        "weights_digest": weights_digest(trainer.model),  # of the model it ends with (the best checkpoint)
        "steps": int(trainer.state.global_step),
        "epochs": float(trainer.state.epoch or 0.0),
        "train_loss": float(train_output.training_loss),
        "train_seconds": round(seconds, 3),
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "averaged_checkpoints": averaged,
        "trainable_parameters": trainable,
        "total_parameters": total,
        "predicted": {},
    }
    for name in encoded:  # dev, test and any further split a caller added (a noisy copy of test ...)
        if name != "train":
            outputs = trainer.outputs_for(encoded[name].features)
            if config.method.ensemble == "seeds":  # kept for the seeds' average
                result.setdefault("outputs", {})[name] = outputs
            result["predicted"][name] = decode(task, outputs, encoded[name], task.splits[name], config.task)
            if task.splits[name].labelled:
                result[name] = task_metrics(task, result["predicted"][name], task.splits[name])
    result["score"] = result["dev"]["score"]
    return result, trainer


def settings_digest(config: FinetuneConfig) -> str:
    return hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True, default=str).encode()).hexdigest()


def _resume_point(config: FinetuneConfig, trainer_dir: Path) -> str | None:
    """The checkpoint a preempted run of these same settings left (None: start afresh; checkpoints of other
    settings are removed, never resumed)."""
    stamp, digest = trainer_dir / SETTINGS_STAMP, settings_digest(config)
    if stamp.is_file() and stamp.read_text().strip() != digest and is_main_process():
        shutil.rmtree(trainer_dir, ignore_errors=True)
    checkpoint = last_good_checkpoint(trainer_dir) if stamp.is_file() else None
    if is_main_process():
        trainer_dir.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest + "\n")
    if checkpoint and is_main_process():
        print(f"resuming from {checkpoint}")
    return checkpoint


def _finished_seed(config: FinetuneConfig, seed_dir: Path) -> dict | None:
    """A seed that a preempted run of the same settings finished: its results (trained again otherwise)."""
    path = seed_dir / SEED_RESULT
    if not path.is_file():
        return None
    digest, result = pickle.loads(path.read_bytes())
    return result if digest == settings_digest(config) else None


# ---------------------------------------------------------------------------------------------
# several seeds
# ---------------------------------------------------------------------------------------------


def _mean_std(runs: list[dict], split: str) -> tuple[dict, dict]:
    if not all(split in r for r in runs):
        return {}, {}
    keys = [k for k, v in runs[0][split].items() if isinstance(v, (int, float))]
    values = {k: [r[split][k] for r in runs] for k in keys}
    return (
        {k: statistics.fmean(v) for k, v in values.items()},
        {k: statistics.stdev(v) if len(v) > 1 else 0.0 for k, v in values.items()},
    )


def run(config: FinetuneConfig, prepared: Prepared | None = None, progress: bool = True, build=None) -> dict:
    """Fine-tune with every seed of the configuration; returns the results (also in OUTPUT_DIR/results.json).
    ``build``: the model builder of each seed (see :func:`train_one`)."""
    with transformers_progress(progress and not config.training.disable_tqdm):
        return _run_seeds(config, prepared, progress, build)


def _run_seeds(config: FinetuneConfig, prepared: Prepared | None, progress: bool, build) -> dict:
    started = time.perf_counter()
    prepared = prepared or prepare(config, progress=progress)
    out = Path(config.output_dir)
    runs, best = [], None
    seed_dirs = {seed: out / f"seed-{seed}" if len(config.seeds) > 1 else out for seed in config.seeds}
    for seed, seed_dir in seed_dirs.items():
        result = _finished_seed(config, seed_dir)  # when resuming: the best of these is saved already
        if result is None:
            result, trainer = train_one(config, prepared, seed, seed_dir, build)
            if (best is None or result["score"] > best["score"]) and config.save_model and is_main_process():
                save_task_model(trainer.model, prepared, config, out / MODEL_DIR)
            if is_main_process():
                (seed_dir / SEED_RESULT).write_bytes(pickle.dumps((settings_digest(config), result)))
            shutil.rmtree(seed_dir / TRAINER_DIR, ignore_errors=True)  # checkpoints: the best one is loaded already
            del trainer
        if best is None or result["score"] > best["score"]:
            best = result
        runs.append(result)
    results = _summary(config, prepared, runs, best)
    results["ensemble"] = seed_ensemble(config, prepared, runs)
    if is_main_process():
        _write_outputs(config, prepared, best, results, out)
        results["seconds"] = round(time.perf_counter() - started, 3)
        (out / RESULTS_FILE).write_text(
            json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
        )
        for seed_dir in seed_dirs.values():  # the run is whole: a rerun trains again
            (seed_dir / SEED_RESULT).unlink(missing_ok=True)
    return results


def seed_ensemble(config: FinetuneConfig, prepared: Prepared, runs: list[dict]) -> dict | None:
    """``method.ensemble seeds``: the seeds' outputs averaged, decoded and scored on every labelled split."""
    if config.method.ensemble != "seeds" or len(runs) < 2:
        return None
    scores = {}
    for name, split in prepared.task.splits.items():
        if name == "train" or not split.labelled or not all(name in r.get("outputs", {}) for r in runs):
            continue
        outputs = [r["outputs"][name] for r in runs]
        if isinstance(outputs[0], (tuple, list)):  # span tasks: (start, end)
            averaged: Any = type(outputs[0])(np.mean([o[i] for o in outputs], axis=0) for i in range(len(outputs[0])))
        else:
            averaged = np.mean(outputs, axis=0)
        predicted = decode(prepared.task, averaged, prepared.encoded[name], split, config.task)
        scores[name] = task_metrics(prepared.task, predicted, split)
    return scores


def seed_scores(runs: list[dict]) -> dict:
    """The main score and every dev/test metric as mean and standard deviation over the seeds' runs."""
    dev, dev_std = _mean_std(runs, "dev")
    test, test_std = _mean_std(runs, "test")
    return {
        "score": dev["score"],
        "score_std": dev_std["score"],
        "dev": dev,
        "dev_std": dev_std,
        "test": test or None,
        "test_std": test_std or None,
    }


def _summary(config: FinetuneConfig, prepared: Prepared, runs: list[dict], best: dict) -> dict:
    task = prepared.task
    return {
        "task": task.name,
        "kind": task.kind,
        "metric": task.metric,
        "labels": list(task.labels),
        "model": str(config.model.path),
        "model_kind": prepared.kind,
        "pinyin": prepared.with_pinyin,
        "scratch": config.model.scratch,
        "method": config.to_dict()["method"],
        "seeds": list(config.seeds),
        **seed_scores(runs),
        "best_seed": best["seed"],
        "steps": best["steps"],
        "epochs": best["epochs"],
        "world_size": world_size(),
        "trainable_parameters": best["trainable_parameters"],
        "total_parameters": best["total_parameters"],
        "train_seconds_mean": statistics.fmean(r["train_seconds"] for r in runs),
        "runs": [{k: v for k, v in r.items() if k not in ("predicted", "outputs")} for r in runs],
        "examples": {name: len(split.examples) for name, split in task.splits.items()},
        "features": {name: len(e.features) for name, e in prepared.encoded.items()},
        "skipped": {name: dict(split.skipped) for name, split in task.splits.items() if split.skipped},
        "data": task.source,
        "settings": config.to_dict(),
        "submission": None,
        "predictions": {},
        "saved_model": str(Path(config.output_dir) / MODEL_DIR) if config.save_model else None,
    }


def _write_outputs(config: FinetuneConfig, prepared: Prepared, best: dict, results: dict, out: Path) -> None:
    """The best run's predictions: JSON lines per split, and CLUE's submission files for CLUE tasks."""

    task = prepared.task
    out.mkdir(parents=True, exist_ok=True)
    for name, predicted in best["predicted"].items():
        split = task.splits[name]
        if task.clue is not None and name in ("dev", "test"):
            path = out / ((DEV_PREFIX if name == "dev" else "") + task.clue.submission)
            write_submission(submission(task.clue, predicted, split), path)
            if name == "test":
                results["submission"] = str(path)
        path = out / f"predictions_{name}.jsonl"
        rows = prediction_rows(task, predicted, split)
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        results["predictions"][name] = str(path)


def describe_score(results: dict) -> str:
    """``82.10 +- 0.45`` (the mean and standard deviation over seeds)."""
    return (
        f"{results['score']:.2f} +- {results['score_std']:.2f}"
        if len(results["seeds"]) > 1
        else f"{results['score']:.2f}"
    )
