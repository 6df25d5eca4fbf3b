"""The typed configuration of a fine-tuning run: task, model, method, training.  [no torch]

``chinese-ptm finetune`` builds it from a preset (the embedded tasks, the CLUE tasks), an optional YAML file
and ``--set`` overrides (``--set strategy=frozen``, ``--set training.learning_rate=3e-5``); the ``training``
section is transformers' TrainingArguments (see :mod:`chinese_ptm.runtime.config`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from ..errors import SettingsError, UserError
from ..runtime.config import TrainingSettings, apply_overrides, describe_fields, fill, merge, read_layers, setting
from ..runtime.loading import resolve_bundled_file

#: the training defaults of fine-tuning runs (BERT's: lr 2e-5, 3 epochs, 10% warm-up; for models up to width 512 the
#: rate goes by width, :data:`SMALL_MODEL_RATES`); evaluation on dev every epoch, the best epoch kept by the task's
#: main metric
FINETUNING_DEFAULTS = {
    "learning_rate": 2e-5,
    "num_train_epochs": 3,
    "per_device_train_batch_size": 16,
    "per_device_eval_batch_size": 32,
    "warmup_steps": 0.1,
    "weight_decay": 0.01,
    "logging_steps": 50,
    "eval_strategy": "epoch",
    "save_strategy": "epoch",
    "save_total_limit": 1,
    "load_best_model_at_end": True,
    "metric_for_best_model": "score",
    "greater_is_better": True,
    "report_to": [],
    "seed": 42,
    "ddp_find_unused_parameters": False,
}

#: learning rate by model width where none is set: small models need (and tolerate) larger rates than BERT-base's
#: (at 2e-5 a 2 x 128 or 4 x 256 model stays below naive Bayes on reviews); at width 256 (4 x 256, reviews, 2 seeds)
#: 1e-3 gave 77.3 +- 1.3 and once collapsed to the majority class, 3e-4 gave 80.4 +- 0.6
SMALL_MODEL_RATES = ((128, 1e-3), (512, 3e-4))


def learning_rate_for(model: str | Path | None, base: float) -> float:
    """1e-3 up to hidden size 128, 3e-4 up to 512, else ``base`` (a BERT-base rate), as is a model without a local
    ``config.json`` (a hub name: its size is unknown here)."""
    path = Path(model) / "config.json" if model else None
    if path is None or not path.is_file():
        return base
    hidden = json.loads(path.read_text(encoding="utf-8")).get("hidden_size", 768)
    return next((rate for width, rate in SMALL_MODEL_RATES if hidden <= width), base)


@dataclass
class TaskSection:
    preset: Optional[str] = setting(
        "an embedded task (reviews, pd98-ner, sighan15) or a CLUE task (clue:tnews ...; with data_dir); empty: own files",
        None,
    )
    kind: Optional[
        Literal["single", "pair", "tagging", "span", "choice", "regression", "multilabel", "correction", "seq2seq"]
    ] = setting("what the task is (own files)", None)
    train: Optional[str] = setting("training file (.jsonl, .json, .csv, .tsv)", None)
    dev: Optional[str] = setting("development file: evaluated every epoch, picks the best checkpoint", None)
    test: Optional[str] = setting("test file: predictions, and metrics when it has labels", None)
    data_dir: Optional[str] = setting("CLUE: the task's folder, or the folder holding it", None)
    format: Literal["auto", "jsonl", "csv", "tsv", "pairs"] = setting(
        "file format; auto: by file name; pairs: wrong<TAB>correct lines without a header (SIGHAN, correction "
        "tasks; a .tsv correction file without the text field in its first line is read so)",
        "auto",
    )
    text_field: str = setting("field of the (first) text", "text")
    text_pair_field: str = setting("pair tasks: field of the second text", "text_pair")
    label_field: str = setting("field of the label (tagging: per-character tags or entity spans)", "label")
    question_field: str = setting("span tasks: field of the question", "question")
    context_field: str = setting("span tasks: field of the context", "context")
    answers_field: str = setting("span tasks: field of the answers (SQuAD/CMRC style)", "answers")
    choices_field: str = setting("choice tasks: field of the choices", "choices")
    source_field: str = setting("seq2seq: field of the source text", "source")
    target_field: str = setting("seq2seq: field of the target text", "target")
    max_length: int = setting("tokens per input (capped at the model's positions)", 128)
    max_target_length: int = setting("seq2seq: tokens of a target (and of a generated text) at most", 64)
    long_targets: Literal["truncate", "refuse"] = setting(
        "seq2seq: a target longer than max_target_length is cut (and counted) or stops the run", "truncate"
    )
    source_units: Literal["text", "syllables"] = setting(
        "seq2seq: the source as written, or space-separated toneless pinyin syllables, each read as one token (the "
        "character whose only reading it is stands for it; the pd98-ime preset's)",
        "text",
    )
    seq2seq: Literal["unilm", "encoder-decoder"] = setting(
        "seq2seq: unilm (the checkpoint's encoder generates, prefix-LM mask) or encoder-decoder (transformers' "
        "EncoderDecoderModel warm-started from the checkpoint and task.decoder, cross-attention added)",
        "unilm",
    )
    decoder: Optional[str] = setting("seq2seq encoder-decoder: the decoder's checkpoint (default: the model's)", None)
    num_beams: int = setting("seq2seq: beams of the beam search (1: greedy)", 4)
    length_penalty: float = setting("seq2seq: beam search's length penalty (> 1 favours longer texts)", 1.0)
    stride: int = setting("span tasks: tokens shared by consecutive windows over a long context", 128)
    max_query_length: int = setting("span tasks: characters of the question kept", 64)
    max_answer_length: int = setting("span tasks: tokens of a predicted answer at most", 50)
    n_best: int = setting("span tasks: start and end candidates tried per window", 20)
    threshold: float = setting(
        "multi-label: probability above which a label is predicted; correction: detection "
        "probability from which a character is corrected",
        0.5,
    )
    limit: int = setting("use only the first N examples of each split (0: all)", 0)
    max_train_examples: int = setting("use only the first N training examples (0: all); dev and test stay whole", 0)
    shots: int = setting("few-shot: train on K examples per class, drawn anew with each seed (0: all)", 0)
    typo_corpus: list[str] = setting(
        "sighan15: clean text files (one sentence or paragraph per line) to synthesise "
        "training typos into; empty: People's Daily (pretraining part)",
        factory=list,
    )
    typo_pairs: int = setting("sighan15: synthesised training pairs", 10_000)
    typo_seed: int = setting("sighan15: seed of the synthesis (pairs are deterministic for it)", 1)
    real_pairs: list[str] = setting(
        "sighan15: files of real wrong<TAB>correct pairs mixed into the training data", factory=list
    )


@dataclass
class ModelChoice:
    path: Optional[str] = setting(
        "checkpoint: ours (GlyceBERT or BERT), the original ChineseBERT, a Chinese BERT", None
    )
    tokenizer: Optional[str] = setting("tokenizer directory (default: the checkpoint's)", None)
    scratch: bool = setting(
        "same architecture and size, random weights (the baseline of `chinese-ptm evaluate`)", False
    )


@dataclass
class MethodSection:
    strategy: Literal["full", "frozen", "top_k", "gradual", "chain_thaw"] = setting(
        "full: every weight trains; frozen: feature extraction, only the head trains; top_k: the top layers and "
        "the head; gradual: top layer first, one more layer per epoch (ULMFiT); chain_thaw: the head for an "
        "epoch, then each block alone for an epoch (embeddings first), then everything (DeepMoji's chain-thaw)",
        "full",
    )
    top_k: int = setting("strategy=top_k: how many top layers train", 2)
    layers: Literal["top", "embeddings", "scalar_mix"] = setting(
        "which layers feed the head: the top layer, the embedding output, or all layers mixed by learned "
        "softmax weights times a scale (ELMo)",
        "top",
    )
    pooling: Literal["pooler", "cls", "mean"] = setting(
        "sentence tasks: BERT's pooler over [CLS], [CLS] itself, or the mean over tokens", "pooler"
    )
    combine: Literal["combo", "hybrid"] = setting(
        "AMBERT: each view encoded alone, a classifier per view and one over both plus their agreement (combo), or "
        "one pass over both views (hybrid)",
        "combo",
    )
    agreement_weight: float = setting("AMBERT combo: weight of the two views' agreement term", 1.0)
    layer_lr_decay: float = setting("learning rate x this per layer below the top (1: off; 0.9-0.95 usual)", 1.0)
    head_learning_rate: Optional[float] = setting("learning rate of the head (default: the training rate)", None)
    peft: Literal["none", "lora", "adapters"] = setting(
        "parameter-efficient fine-tuning: LoRA (peft) or Houlsby bottleneck adapters; the base stays fixed", "none"
    )
    lora_r: int = setting("LoRA rank", 8)
    lora_alpha: int = setting("LoRA scaling alpha", 16)
    lora_dropout: float = setting("LoRA dropout", 0.1)
    lora_targets: list[str] = setting("LoRA target modules (attention projections)", factory=lambda: ["query", "value"])
    adapter_size: int = setting("adapter bottleneck width", 64)
    prompt: Optional[str] = setting(
        "classify by filling a blank with the MLM head (PET): a template with {text} ({text_pair}) and {mask} or "
        "[MASK]..., e.g. '{text}。总之，{mask}。'",
        None,
    )
    verbalizer: Optional[str] = setting(
        "prompt: label words per label: a JSON file, JSON, or 'positive=很好,不错;negative=很差'", None
    )
    scoring: Literal["mean", "joint", "autoregressive"] = setting(
        "prompt: score of a multi-character label word: mean log-probability of its characters, their sum (joint), "
        "or PET's left-to-right filling (autoregressive; evaluation only, training uses mean)",
        "mean",
    )
    early_stopping_patience: Optional[int] = setting(
        "stop after this many evaluations without improvement (empty: never); gradual and chain_thaw count them "
        "once the whole model trains",
        3,
    )
    ensemble: Literal["none", "seeds", "checkpoints"] = setting(
        "self-ensembles: seeds: also score the seeds' outputs averaged (results.json: ensemble); checkpoints: each "
        "run ends with the average of the weights of its last ensemble_checkpoints checkpoints (not the best one)",
        "none",
    )
    ensemble_checkpoints: int = setting("ensemble checkpoints: how many of the last checkpoints are averaged", 3)
    self_distill: Literal["none", "average", "previous_epoch"] = setting(
        "self-distillation (BERT-SDA): the model also learns the outputs of its own running average of weights "
        "(average) or of itself at the end of the previous epoch (previous_epoch)",
        "none",
    )
    self_distill_weight: float = setting("self-distillation: weight of the MSE to the teacher's outputs", 1.0)
    self_distill_decay: float = setting("self_distill average: the running average's decay per step", 0.99)


@dataclass
class DistillSection:
    teacher: Optional[str] = setting(
        "a fine-tuned model (chinese-ptm finetune's OUTPUT_DIR/model) whose predictions the student learns", None
    )
    teachers: list[str] = setting("more teachers of the same task: their soft labels are averaged", factory=list)
    student: str = setting(
        "teacher: the teacher's own layers (student_layers, student_init); tiny, small, base, large: that size of "
        "the teacher's family, random weights; or a checkpoint directory on the teacher's vocabulary",
        "teacher",
    )
    student_layers: int = setting("student teacher: how many of the teacher's layers the student keeps", 2)
    student_init: Literal["first", "every", "random"] = setting(
        "student teacher: its first layers, every k-th layer (evenly spread, the top one included), or the "
        "teacher's shape at student_layers with random weights",
        "every",
    )
    temperature: float = setting("softmax temperature of the soft targets (> 0)", 4.0)
    temperature_final: Optional[float] = setting(
        "anneal the temperature linearly to this by the last step (empty: constant)", None
    )
    soft_weight: float = setting("weight of the cross-entropy against the teachers' soft labels (times T^2)", 1.0)
    hard_weight: float = setting("weight of the student's own loss on the gold labels", 0.5)
    hidden_weight: float = setting(
        "weight of the hidden-state MSE of mapped layers (a learned projection where the widths differ)", 0.0
    )
    attention_weight: float = setting("weight of the attention-distribution KL of mapped layers", 0.0)
    embedding_weight: float = setting("weight of the embedding-output MSE (projected where the widths differ)", 0.0)
    layer_map: str = setting(
        "which teacher layer each student layer learns from: uniform (student i <- teacher i*Lt/Ls), last (the "
        "teacher's top layers), or pairs 'student:teacher', e.g. '1:2,2:4'",
        "uniform",
    )
    cache_teacher: bool = setting(
        "compute the teachers' logits once before training (not with hidden, attention or embedding losses, which "
        "need the teachers' states at every step)",
        True,
    )

    def validate(self) -> "DistillSection":
        for name in ("temperature", "temperature_final"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise SettingsError(f"distill.{name}={value}: a temperature must be > 0")
        if self.student_layers < 1:
            raise SettingsError(f"distill.student_layers={self.student_layers}: keep at least one layer")
        return self


@dataclass
class FinetuneConfig:
    task: TaskSection = field(default_factory=TaskSection)
    model: ModelChoice = field(default_factory=ModelChoice)
    method: MethodSection = field(default_factory=MethodSection)
    distill: DistillSection = field(default_factory=DistillSection)
    training: TrainingSettings = field(default_factory=lambda: TrainingSettings(FINETUNING_DEFAULTS))
    seeds: list[int] = setting(
        "one run per seed; results.json holds each run and the mean and std", factory=lambda: [42]
    )
    output_dir: str = setting("where results.json, predictions, submissions and the model go", "runs/finetune")
    save_model: bool = setting("save the best run's model (and tokenizer) in OUTPUT_DIR/model", True)

    def validate(self) -> "FinetuneConfig":
        t, m = self.task, self.method
        if not self.model.path:
            raise SettingsError("model.path: give the checkpoint to fine-tune (--model DIR)")
        if not t.preset and not (t.kind and t.train and t.dev):
            raise SettingsError("task: give a preset (--preset reviews) or --task KIND --train FILE --dev FILE")
        if m.peft != "none" and m.strategy != "full":
            raise SettingsError(f"method.peft={m.peft} trains its own parameters: leave method.strategy=full")
        if not 0 < m.layer_lr_decay <= 1:
            raise SettingsError(f"method.layer_lr_decay={m.layer_lr_decay} must lie in (0, 1]")
        if m.prompt and (m.peft != "none" or m.strategy != "full" or m.layers != "top" or m.pooling != "pooler"):
            raise SettingsError(
                "method.prompt trains the masked LM itself (PET): leave strategy, layers, pooling "
                "and peft at their defaults"
            )
        if not self.seeds:
            raise SettingsError("seeds: give at least one seed")
        teacher = "distill" if self.distill.teacher else "method.self_distill" if m.self_distill != "none" else None
        if teacher and (m.peft != "none" or m.prompt):  # a model beside a teacher trains (and is saved) whole
            raise SettingsError(f"{teacher} trains the whole model: leave method.peft and method.prompt as they are")
        self.distill.validate()
        return self

    def to_dict(self) -> dict:
        import dataclasses

        out = {name: dataclasses.asdict(getattr(self, name)) for name in ("task", "model", "method", "distill")}
        return {
            **out,
            "training": self.training.to_dict(),
            "seeds": list(self.seeds),
            "output_dir": self.output_dir,
            "save_model": self.save_model,
        }


def build_config(
    layers: list[dict], overrides: dict[str, Any] | None = None, where: str = "settings"
) -> FinetuneConfig:
    """Layers of settings (a preset's, a file's, the command line's) merged in order, then ``--set`` overrides."""
    data: dict = {}
    for layer in layers:
        data = merge(data, layer)
    data = apply_overrides(data, overrides or {}, schema=FinetuneConfig)
    config = fill(FinetuneConfig(), data, where)
    if "learning_rate" not in (data.get("training") or {}):  # no layer set it: the model's width decides
        rate = learning_rate_for(config.model.path, FINETUNING_DEFAULTS["learning_rate"])
        config.training.update({"learning_rate": rate}, "training defaults")
    return config.validate()


def read_config_file(path: str | Path) -> dict:
    """A YAML settings file (may ``extends`` another, by path relative to it), or a bundled one by name
    (``csc``, ``csc-tiny``: ``recipes/finetune/``)."""

    path = Path(path)
    if not path.is_file():
        try:
            path = resolve_bundled_file(str(path), "recipes/finetune")
        except UserError:
            raise SettingsError(f"--config {path}: no such file, nor a bundled fine-tuning recipe") from None
    return read_layers(
        path, lambda name, child: (child.parent / name) if (child.parent / name).is_file() else Path(name)
    )


def settings_help() -> str:
    return describe_fields(FinetuneConfig)
