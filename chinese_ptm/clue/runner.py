"""Fine-tuning runs: checkpoint kinds, the Trainer, dev evaluation, submission files and results.

A run reads a task's train/dev/test files, fine-tunes the checkpoint with the transformers Trainer (so DDP
under torchrun, DeepSpeed, bf16/fp16 come with it), evaluates on dev with the task's metric, predicts the test
file and writes the submission file CLUE expects plus ``results.json``.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from .features import (
    Encoded,
    Encoder,
    FeatureDataset,
    PaddingCollator,
    decode_choices,
    decode_classification,
    decode_spans,
    decode_tags,
    entities_to_label,
    logits_of,
)
from .metrics import accuracy, bios_labels, cmrc_scores, entity_scores
from ..runtime.ranks import is_main_process, world_size
from .readers import Split, read_split
from .tasks import (
    CLASSIFICATION,
    EM_F1,
    MULTIPLE_CHOICE,
    SPAN,
    TAGGING,
    TASKS,
    ClueDataError,
    HyperParams,
    TaskSpec,
    get_task,
    looks_like_task_dir,
    parse_hyperparams,
    task_dir,
)

RESULTS_FILE = "results.json"
SUMMARY_FILE = "summary.json"
SUBMISSION_DIR = "submission"
MODEL_DIR = "model"
TRAINER_DIR = "trainer"
DEV_PREFIX = "dev_"  # dev predictions are written as dev_<submission name>

#: checkpoint kinds
GLYCEBERT = "glycebert"  # ours (config model_type "glycebert")
CHINESEBERT = "chinesebert"  # the original ChineseBERT release (chinese_ptm.modeling.bert_format.CHINESEBERT)
BERT = "bert"  # Chinese BERT checkpoints: BERT-wwm-ext, MacBERT ... (chinese_ptm.modeling.bert_format.BERT)

#: head class per task kind: (GlyceBERT class in chinese_ptm.modeling, BERT class in transformers)
HEADS = {
    CLASSIFICATION: ("GlyceBertForSequenceClassification", "BertForSequenceClassification"),
    MULTIPLE_CHOICE: ("GlyceBertForMultipleChoice", "BertForMultipleChoice"),
    SPAN: ("GlyceBertForQuestionAnswering", "BertForQuestionAnswering"),
    TAGGING: ("GlyceBertForTokenClassification", "BertForTokenClassification"),
}


# ---------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------


def model_kind(path: str | Path) -> str:
    """``glycebert`` (ours), ``chinesebert`` (original release) or ``bert`` (Chinese BERT checkpoint).

    A ``model_type: bert`` directory is ChineseBERT when its weights hold glyph or pinyin embeddings, else a
    plain BERT checkpoint, whatever tokenizer files lie next to it (see ``checkpoint_kind``).
    """
    from ..modeling.bert_format import checkpoint_kind

    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"--model {path}: no such directory")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{path}: no config.json; point --model at a checkpoint directory")
    with open(config_file, encoding="utf-8") as handle:
        model_type = json.load(handle).get("model_type", BERT)
    if model_type == GLYCEBERT:
        return GLYCEBERT
    kind = checkpoint_kind(path) if model_type == BERT else None
    if kind is None:
        raise ValueError(
            f"{config_file}: model_type {model_type!r} is not supported; use a GlyceBERT, original ChineseBERT or "
            "Chinese BERT checkpoint"
        )
    return kind


def load_run_tokenizer(model_dir: str | Path, kind: str, tokenizer_dir: str | Path | None = None):
    """The checkpoint's tokenizer: GlyceBertTokenizer (with pinyin) for GlyceBERT and ChineseBERT, transformers'
    BertTokenizer (without) for Chinese BERT checkpoints."""
    source = Path(tokenizer_dir or model_dir)
    if not (source / "vocab.txt").is_file():
        raise FileNotFoundError(f"{source}: no vocab.txt; pass the tokenizer directory with --tokenizer DIR")
    if kind == BERT:
        from transformers import BertTokenizer

        return BertTokenizer.from_pretrained(str(source))
    from ..tokenization import GlyceBertTokenizer

    return GlyceBertTokenizer.from_pretrained(str(source))


def task_labels(spec: TaskSpec) -> list[str] | None:
    """The label names of the task's head (None for multiple choice and span extraction)."""
    if spec.kind == CLASSIFICATION:
        return list(spec.labels)
    if spec.kind == TAGGING:
        return bios_labels(spec.labels)
    return None


def build_model(spec: TaskSpec, model_dir: str | Path, kind: str):
    """The task's head on the checkpoint (a head of another size in the checkpoint is replaced)."""
    glyce_name, bert_name = HEADS[spec.kind]
    if kind == BERT:
        import transformers

        cls = getattr(transformers, bert_name)
    else:
        from .. import modeling

        cls = getattr(modeling, glyce_name)
    kwargs: dict[str, Any] = {}
    labels = task_labels(spec)
    if labels:
        kwargs = dict(num_labels=len(labels), id2label=dict(enumerate(labels)),
                      label2id={label: i for i, label in enumerate(labels)})
    return cls.from_pretrained(str(model_dir), ignore_mismatched_sizes=True, **kwargs)


def check_pairing(model, tokenizer, model_dir, tokenizer_dir) -> None:
    """The tokenizer must index the model's embedding table (see runtime.loading)."""
    from ..runtime.loading import check_vocab_size

    check_vocab_size(model, tokenizer, str(model_dir), str(tokenizer_dir or model_dir))


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def training_arguments(hp: HyperParams, output_dir: Path, progress: bool = True):
    """TrainingArguments as the pretraining runner builds them: CPU when there is no GPU (gloo under torchrun),
    no column dropping (our collator gets exactly the model inputs, pinyin_ids included), no checkpoints."""
    import torch
    from transformers import TrainingArguments

    cpu = not torch.cuda.is_available()
    options = dict(
        output_dir=str(output_dir / TRAINER_DIR),
        num_train_epochs=hp.epochs,
        max_steps=hp.max_steps,
        per_device_train_batch_size=hp.batch_size,
        per_device_eval_batch_size=hp.eval_batch_size or 2 * hp.batch_size,
        gradient_accumulation_steps=hp.grad_accum,
        learning_rate=hp.lr,
        warmup_steps=int(hp.warmup) if hp.warmup >= 1 else float(hp.warmup),
        weight_decay=hp.weight_decay,
        lr_scheduler_type=hp.lr_scheduler,
        seed=hp.seed,
        data_seed=hp.seed,
        logging_steps=hp.logging_steps,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        remove_unused_columns=False,
        ddp_find_unused_parameters=False,  # every head uses all of its parameters
        use_cpu=cpu,
        fp16=hp.fp16 and not cpu,
        bf16=hp.bf16 and not cpu,
        disable_tqdm=not (progress and is_main_process()),
    )
    if cpu and world_size() > 1:
        options["ddp_backend"] = "gloo"
    return TrainingArguments(**options)


def decode(spec: TaskSpec, predictions: Any, encoded: Encoded, split: Split, hp: HyperParams) -> Any:
    """Model outputs -> label indices (classification, choice), {qid: answer} (span) or entities (tagging)."""
    output = logits_of(predictions)
    if spec.kind == CLASSIFICATION:
        return decode_classification(output)
    if spec.kind == MULTIPLE_CHOICE:
        return decode_choices(output, split.examples)
    if spec.kind == SPAN:
        start_logits, end_logits = output
        return decode_spans(start_logits, end_logits, encoded, split.examples, hp)
    return decode_tags(output, encoded, split.examples, bios_labels(spec.labels))


def evaluate(spec: TaskSpec, predicted: Any, split: Split) -> dict:
    """The task's dev metric(s), x 100."""
    if spec.kind in (CLASSIFICATION, MULTIPLE_CHOICE):
        return {"accuracy": accuracy(predicted, [e.label for e in split.examples])}
    if spec.kind == SPAN:
        return cmrc_scores(predicted, {e.uid: e.answers for e in split.examples})
    return entity_scores(predicted, [e.entities for e in split.examples])


def submission(spec: TaskSpec, predicted: Any, split: Split) -> list | dict:
    """The submission content: rows (JSON lines) or one object, in the file's order."""
    examples = split.examples
    if spec.kind == CLASSIFICATION:
        return [{"id": e.uid, "label": spec.labels[p]} for e, p in zip(examples, predicted)]
    if spec.format == "chid":
        return {e.uid: int(p) for e, p in zip(examples, predicted)}
    if spec.kind == MULTIPLE_CHOICE:
        return [{"id": e.uid, "label": int(p)} for e, p in zip(examples, predicted)]
    if spec.kind == SPAN:
        return {e.uid: predicted[e.uid] for e in examples}
    return [{"id": e.uid, "label": entities_to_label(e.text, entities)} for e, entities in zip(examples, predicted)]


def write_submission(content: list | dict, path: Path) -> Path:
    """One JSON object, or one JSON line per row (UTF-8, characters as they are)."""
    with open(path, "w", encoding="utf-8") as handle:
        if isinstance(content, dict):
            json.dump(content, handle, ensure_ascii=False)
            handle.write("\n")
        else:
            for row in content:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def resolve_task_dir(spec: TaskSpec, data_dir: str | Path) -> Path:
    """``data_dir`` itself when it holds the task's files, else its ``<task>_public`` (or ``<task>``) folder."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"--data-dir {data_dir}: no such directory")
    if looks_like_task_dir(spec, data_dir):
        return data_dir
    return task_dir(spec, data_dir) or data_dir  # reading reports the missing files


def main_score(spec: TaskSpec, metrics: dict) -> float:
    return metrics[spec.metric]


def run_task(
    task: str | TaskSpec,
    model: str | Path,
    data_dir: str | Path,
    output_dir: str | Path,
    settings: dict[str, str] | None = None,
    max_steps: int | None = None,
    tokenizer_dir: str | Path | None = None,
    save_model: bool = False,
    progress: bool = True,
    tokenizer: Any = None,
) -> dict:
    """Fine-tune ``model`` on one task, evaluate on dev, write the test submission and ``results.json``.

    Args:
        task: a task name (``tnews``) or spec.
        model: a checkpoint directory (GlyceBERT, original ChineseBERT or Chinese BERT).
        data_dir: the task's folder, or a folder holding ``<task>_public``.
        output_dir: where the submission, ``dev_<submission>``, ``results.json`` (and ``model/``) go.
        settings: ``{name: value}`` hyper-parameter overrides (see :class:`HyperParams`).
        max_steps: stop after this many optimizer steps.
        tokenizer_dir: the tokenizer when the checkpoint directory has no vocab.txt.
        save_model: also save the fine-tuned model and tokenizer in ``output_dir/model``.
        tokenizer: an already loaded tokenizer of this checkpoint (``all`` loads it once).

    Returns the results dict (also written to ``output_dir/results.json`` by the main process).
    """
    from transformers import Trainer, set_seed

    spec = get_task(task) if isinstance(task, str) else task
    started = time.perf_counter()
    hp = parse_hyperparams(settings or {}, spec.defaults)
    if max_steps is not None:
        hp = hp.replace(max_steps=max_steps)
    kind = model_kind(model)
    directory = resolve_task_dir(spec, data_dir)
    out = Path(output_dir)
    main = is_main_process()
    if tokenizer is None:
        tokenizer = load_run_tokenizer(model, kind, tokenizer_dir)

    set_seed(hp.seed)
    network = build_model(spec, model, kind)
    check_pairing(network, tokenizer, model, tokenizer_dir)
    positions = network.config.max_position_embeddings
    if hp.max_length > positions:
        hp = hp.replace(max_length=positions)
    with_pinyin = kind != BERT and bool(getattr(network.config, "use_pinyin", False))

    splits = {name: read_split(spec, directory, name, hp) for name in ("train", "dev", "test")}
    encoder = Encoder(spec, tokenizer, hp, with_pinyin, progress=progress and main)
    encoded = {
        name: encoder.encode(split.examples, train=name == "train", desc=f"{spec.name} {name}")
        for name, split in splits.items() if split is not None
    }

    trainer = Trainer(
        model=network,
        args=training_arguments(hp, out, progress),
        train_dataset=FeatureDataset(encoded["train"].features),
        data_collator=PaddingCollator(tokenizer.pad_token_id),
        processing_class=tokenizer,
    )
    train_started = time.perf_counter()
    train_result = trainer.train()
    train_seconds = time.perf_counter() - train_started

    predicted = {}
    for name in ("dev", "test"):
        if name in encoded and encoded[name].features:
            output = trainer.predict(FeatureDataset(encoded[name].features)).predictions
            predicted[name] = decode(spec, output, encoded[name], splits[name], hp)
    metrics = evaluate(spec, predicted["dev"], splits["dev"])

    results = {
        "task": spec.name,
        "metric": spec.metric,
        "score": main_score(spec, metrics),
        "dev": metrics,
        "model": str(model),
        "model_kind": kind,
        "pinyin": with_pinyin,
        "epochs": float(trainer.state.epoch or 0.0),
        "steps": int(trainer.state.global_step),
        "train_loss": float(train_result.training_loss),
        "train_seconds": round(train_seconds, 3),
        "seconds": None,
        "world_size": int(trainer.args.world_size),
        "data_dir": str(directory),
        "files": {name: [str(f) for f in split.files] for name, split in splits.items() if split is not None},
        "examples": {name: len(split.examples) for name, split in splits.items() if split is not None},
        "features": {name: len(e.features) for name, e in encoded.items()},
        "skipped": {name: dict(split.skipped) for name, split in splits.items() if split is not None and split.skipped},
        "hyperparameters": dict(vars(hp)),
        "submission": None,
    }
    if trainer.is_world_process_zero():
        out.mkdir(parents=True, exist_ok=True)
        write_submission(submission(spec, predicted["dev"], splits["dev"]), out / (DEV_PREFIX + spec.submission))
        if "test" in predicted:
            results["submission"] = str(write_submission(submission(spec, predicted["test"], splits["test"]),
                                                         out / spec.submission))
        if save_model:
            _save(trainer, tokenizer, model, tokenizer_dir, out / MODEL_DIR)
        results["seconds"] = round(time.perf_counter() - started, 3)
        (out / RESULTS_FILE).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    else:
        results["seconds"] = round(time.perf_counter() - started, 3)
    return results


def _save(trainer, tokenizer, model_dir, tokenizer_dir, destination: Path) -> None:
    trainer.save_model(str(destination))
    tokenizer.save_pretrained(str(destination))
    vocab = destination / "vocab.txt"
    if not vocab.is_file():  # transformers' BertTokenizer writes no vocab.txt
        shutil.copyfile(Path(tokenizer_dir or model_dir) / "vocab.txt", vocab)


# ---------------------------------------------------------------------------------------------
# Several tasks
# ---------------------------------------------------------------------------------------------


def tasks_under(parent: str | Path) -> list[tuple[TaskSpec, Path]]:
    """The tasks whose folder exists under ``parent``, in the task table's order."""
    parent = Path(parent)
    if not parent.is_dir():
        raise FileNotFoundError(f"--data-dir {parent}: no such directory")
    found = [(spec, task_dir(spec, parent)) for spec in TASKS.values()]
    present = [(spec, directory) for spec, directory in found if directory is not None]
    if not present:
        names = ", ".join(spec.folder for spec in TASKS.values())
        raise ClueDataError(f"{parent}: no CLUE task folder found (looked for {names}, or the bare task names)")
    return present


def run_all(model: str | Path, data_dir: str | Path, output_dir: str | Path, **kwargs) -> list[dict]:
    """Run every task whose folder exists under ``data_dir``; a task that fails is reported and the others
    still run. Writes ``summary.json`` and copies every submission file into ``output_dir/submission``."""
    present = tasks_under(data_dir)
    kind = model_kind(model)
    if kwargs.get("tokenizer") is None:
        kwargs["tokenizer"] = load_run_tokenizer(model, kind, kwargs.get("tokenizer_dir"))
    out = Path(output_dir)
    results = []
    for spec, directory in present:
        if is_main_process():
            print(f"== {spec.name} ({directory})", flush=True)
        try:
            results.append(run_task(spec, model, directory, out / spec.name, **kwargs))
        except (ClueDataError, FileNotFoundError, ValueError) as err:
            print(f"chinese-ptm finetune: error: {spec.name}: {err}", file=sys.stderr, flush=True)
            results.append({"task": spec.name, "error": str(err)})
    if is_main_process():
        out.mkdir(parents=True, exist_ok=True)
        gathered = out / SUBMISSION_DIR
        gathered.mkdir(exist_ok=True)
        for result in results:
            if result.get("submission"):
                shutil.copyfile(result["submission"], gathered / Path(result["submission"]).name)
        (out / SUMMARY_FILE).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return results


def summary_table(results: list[dict]) -> str:
    """A fixed-width table: task, metric, dev score(s), steps, epochs, seconds, submission file."""
    header = f"{'task':<12} {'metric':<9} {'dev':>13} {'steps':>7} {'epochs':>7} {'seconds':>8}  submission"
    lines = [header, "-" * len(header)]
    for result in results:
        if "error" in result:
            lines.append(f"{result['task']:<12} failed: {result['error']}")
            continue
        dev = result["dev"]
        if result["metric"] == EM_F1:
            metric, score = "em / f1", f"{dev['em']:.2f} / {dev['f1']:.2f}"
        else:
            metric, score = result["metric"], f"{result['score']:.2f}"
        name = Path(result["submission"]).name if result.get("submission") else "-"
        lines.append(f"{result['task']:<12} {metric:<9} {score:>13} {result['steps']:>7} {result['epochs']:>7.2f} "
                     f"{result['seconds']:>8.1f}  {name}")
    return "\n".join(lines)

