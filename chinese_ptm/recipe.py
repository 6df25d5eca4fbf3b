"""Pretraining recipes: a typed, validated schema for ``recipes/*.yaml``.  [no torch]

A recipe is a small YAML file that states only what differs from the defaults below (or from the
recipe it ``extends``). Every field has help text (``chinese-ptm pretrain --help-recipe``); an
unknown key is an error naming it. ``--set section.field=value`` overrides any field.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Optional, get_args, get_origin, get_type_hints

import yaml

from .resources import recipes_dir
from .runtime.errors import SettingsError

#: model sizes (BERT's naming); any field can still be set one by one
SIZES = {
    "tiny": dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512),
    "small": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
    "large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
}


def _help(text: str, default=dataclasses.MISSING, factory=dataclasses.MISSING):
    kw = {"metadata": {"help": text}}
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, **kw)
    return field(default=default, **kw)


@dataclass
class ModelSection:
    architecture: Literal["glycebert", "bert"] = _help(
        "glycebert: char + glyph + pinyin embeddings (ChineseBERT); bert: plain BERT", "glycebert")
    size: Literal["tiny", "small", "base", "large"] = _help("preset of hidden size, layers, heads, FFN width", "base")
    hidden_size: Optional[int] = _help("override the preset's hidden size", None)
    num_hidden_layers: Optional[int] = _help("override the preset's number of layers", None)
    num_attention_heads: Optional[int] = _help("override the preset's attention heads", None)
    intermediate_size: Optional[int] = _help("override the preset's FFN width", None)
    max_position_embeddings: int = _help("position table size (>= data.max_length)", 512)
    use_glyph: bool = _help("glycebert: glyph branch on", True)
    use_pinyin: bool = _help("glycebert: pinyin branch on", True)
    glyph_trainable: bool = _help("glycebert: train the glyph table (original) instead of a frozen buffer", False)
    init_from: Optional[str] = _help(
        "start from this checkpoint: a Chinese BERT directory (BERT-wwm-ext, MacBERT, bert-base-chinese), an "
        "original ChineseBERT directory or one of ours; empty: random initialisation", None)
    requires_init: bool = _help("the recipe is defined as continued pretraining: init_from must be set", False)
    tokenizer: Optional[str] = _help("tokenizer directory; default: init_from's, else the bundled vocab/", None)
    glyph_table: Optional[str] = _help("glyph table (.npz/.npy) for a new glycebert model; default: vocab/'s", None)
    attn_implementation: str = _help("sdpa (default) or eager", "sdpa")

    def dims(self) -> dict:
        dims = dict(SIZES[self.size])
        for name in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"):
            if getattr(self, name) is not None:
                dims[name] = getattr(self, name)
        return dims


@dataclass
class DataSection:
    train_files: list[str] = _help("corpus files (.txt, .jsonl, .gz); empty: People's Daily 1998 (embedded)",
                                   factory=list)
    prepared_dir: Optional[str] = _help("where prepared records live (default: OUTPUT_DIR/data); "
                                        "prepared again when missing or stale", None)
    max_length: int = _help("tokens per record, [CLS] and [SEP]s included", 512)
    packed_ratio: float = _help("share of records packed with several sentences (rest: one sentence)", 0.9)
    line_is_document: bool = _help("one document per line instead of blank-line-separated documents", False)
    text_field: str = _help("text field of JSON-lines corpora", "text")
    segmenter: Literal["jieba", "pkuseg", "ltp"] = _help("word segmentation for whole-word masking", "jieba")
    jieba_hmm: bool = _help("jieba: HMM for unknown words", False)
    ltp_model: Optional[str] = _help("ltp: local model directory", None)
    num_proc: int = _help("processes for preparation", 1)
    prepare_scope: Literal["shared", "node"] = _help(
        "shared: global rank 0 prepares once for all nodes (prepared_dir on a shared filesystem); node: local "
        "rank 0 of every node prepares its own copy (prepared_dir on node-local disk)", "shared")
    prepare_timeout_minutes: float = _help("how long the other ranks wait for preparation", 720.0)
    eval_records: int = _help("records held out (the end of the corpus) for MLM accuracy", 200)


@dataclass
class MaskingSection:
    strategy: Literal["wwm", "char", "mixed", "ngram", "mac"] = _help(
        "wwm: whole words; char; mixed: ChineseBERT's 90% wwm / 10% char per sample; ngram: MacBERT's 1-4 "
        "word spans; mac: ngram with similar-word correction", "wwm")
    mlm_probability: float = _help("share of tokens to predict", 0.15)
    replace_probs: list[float] = _help("[MASK or similar word, random, keep]", factory=lambda: [0.8, 0.1, 0.1])
    sentence_task: Optional[Literal["sop", "nsp"]] = _help("sentence-level task; empty: none", None)


@dataclass
class TrainingSection:
    max_steps: int = _help("optimizer steps", 1000)
    global_batch_size: int = _help(
        "sequences per optimizer step over all devices; kept exact when the world size divides it, else the "
        "nearest reachable size is used (with a warning)", 256)
    micro_batch_size: int = _help(
        "most sequences per device per forward pass: the per-device batch is the largest divisor of each device's "
        "share up to this, accumulation makes up the rest (`--dry-run` shows the plan)", 32)
    learning_rate: float = _help("peak learning rate", 1e-4)
    warmup_steps: float = _help("warm-up: steps (>= 1) or a ratio of max_steps (< 1)", 0.01)
    lr_scheduler_type: str = _help("transformers scheduler name", "linear")
    weight_decay: float = _help("decoupled weight decay", 0.01)
    optimizer: Literal["adamw", "lamb"] = _help("adamw (torch) or lamb (pytorch_optimizer)", "adamw")
    adam_beta1: float = _help("beta1", 0.9)
    adam_beta2: float = _help("beta2", 0.999)
    adam_epsilon: float = _help("epsilon", 1e-6)
    max_grad_norm: float = _help("gradient clipping", 1.0)
    seed: int = _help("seed of initialisation, data order and masking", 42)
    logging_steps: int = _help("log every N steps", 50)
    save_steps: int = _help("checkpoint every N steps", 1000)
    save_total_limit: int = _help("checkpoints kept", 3)
    eval_steps: Optional[int] = _help("held-out MLM accuracy every N steps (empty: at the end only)", None)
    bf16: bool = _help("bfloat16 mixed precision", False)
    fp16: bool = _help("float16 mixed precision", False)
    gradient_checkpointing: bool = _help("activation checkpointing", False)
    torch_compile: bool = _help("torch.compile the model", False)
    deepspeed: Optional[str] = _help("DeepSpeed config: a file, or a bundled one by name (zero2, zero3)", None)
    fsdp: Optional[str] = _help("FSDP mode, e.g. 'full_shard auto_wrap'", None)
    fsdp_config: Optional[str] = _help("FSDP config: a file, or the bundled one by name (fsdp)", None)
    dataloader_num_workers: int = _help("DataLoader workers", 0)
    use_cpu: bool = _help("train on the CPU even when a GPU is present", False)
    report_to: list[str] = _help("logging integrations (transformers' names); those not installed are skipped",
                                 factory=lambda: ["tensorboard"])


@dataclass
class Stage:
    name: str = _help("stage name (its output folder)", "stage")
    set: dict = _help("fields this stage overrides ('section.field': value)", factory=dict)


@dataclass
class Recipe:
    name: str = _help("recipe name", "custom")
    description: str = _help("one line: what the recipe reproduces", "")
    output_dir: str = _help("where checkpoints, logs and reports go", "runs/pretrain")
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    masking: MaskingSection = field(default_factory=MaskingSection)
    training: TrainingSection = field(default_factory=TrainingSection)
    stages: list[Stage] = _help("consecutive stages, each with its own schedule, chained by init_from",
                                factory=list)

    def validate(self) -> "Recipe":
        m, d, k, t = self.model, self.data, self.masking, self.training
        problems = []
        if d.max_length > m.max_position_embeddings:
            problems.append(f"data.max_length={d.max_length} exceeds model.max_position_embeddings="
                            f"{m.max_position_embeddings}")
        if d.max_length < 8:
            problems.append("data.max_length must be at least 8")
        if not 0 < k.mlm_probability < 1:
            problems.append(f"masking.mlm_probability={k.mlm_probability} must lie in (0, 1)")
        if len(k.replace_probs) != 3 or abs(sum(k.replace_probs) - 1) > 1e-6 or min(k.replace_probs) < 0:
            problems.append(f"masking.replace_probs={k.replace_probs} must be three probabilities summing to 1")
        if t.global_batch_size < 1 or t.micro_batch_size < 1:
            problems.append("training.global_batch_size and training.micro_batch_size must be at least 1")
        if t.bf16 and t.fp16:
            problems.append("training.bf16 and training.fp16 are exclusive")
        if t.max_steps < 1:
            problems.append("training.max_steps must be at least 1")
        dims = m.dims()
        if dims["hidden_size"] % dims["num_attention_heads"]:
            problems.append(f"hidden size {dims['hidden_size']} is not a multiple of {dims['num_attention_heads']} heads")
        if problems:
            raise RecipeError(f"recipe {self.name!r}: " + "; ".join(problems))
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class RecipeError(SettingsError):
    """A recipe that does not load or validate; the message names the file and the field."""


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = get_origin(hint)
    if origin is Optional or (origin is not None and type(None) in get_args(hint) and origin is not list):
        if value is None or value == "":
            return None
        inner = [a for a in get_args(hint) if a is not type(None)][0]
        return _coerce(value, inner, where)
    if origin is Literal:
        if value not in get_args(hint):
            raise RecipeError(f"{where}: {value!r} is not one of {', '.join(map(repr, get_args(hint)))}")
        return value
    if origin is list:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if not isinstance(value, list):
            raise RecipeError(f"{where}: expected a list, got {value!r}")
        (inner,) = get_args(hint) or (Any,)
        return [_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
    if hint is bool:
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        if not isinstance(value, bool):
            raise RecipeError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint in (int, float):
        if isinstance(value, bool):
            raise RecipeError(f"{where}: expected a number, got {value!r}")
        try:
            number = hint(value) if not isinstance(value, str) else hint(float(value)) if hint is int else hint(value)
        except (TypeError, ValueError):
            raise RecipeError(f"{where}: expected {hint.__name__}, got {value!r}") from None
        if hint is int and float(value) != number:
            raise RecipeError(f"{where}: expected an integer, got {value!r}")
        return number
    if hint is str:
        if not isinstance(value, (str, int, float)):
            raise RecipeError(f"{where}: expected a string, got {value!r}")
        return str(value)
    if hint is dict:
        if not isinstance(value, dict):
            raise RecipeError(f"{where}: expected a mapping, got {value!r}")
        return value
    return value


def _fill(cls, data: dict, where: str):
    if not isinstance(data, dict):
        raise RecipeError(f"{where}: expected a mapping, got {data!r}")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise RecipeError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    obj = cls()
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            value = _fill(hint, value, f"{where}.{name}")
        elif name == "stages":
            value = [_fill(Stage, v, f"{where}.stages[{i}]") for i, v in enumerate(value or [])]
        else:
            value = _coerce(value, hint, f"{where}.{name}")
        setattr(obj, name, value)
    return obj


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "set":
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def bundled_recipe_names() -> list[str]:
    """The names of the recipes shipped with the package."""
    return sorted(p.stem for p in recipes_dir().glob("*.yaml"))


def resolve_recipe_path(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.is_file():
        return path
    root = recipes_dir()
    for candidate in (root / f"{name_or_path}.yaml", root / str(name_or_path)):
        if candidate.is_file():
            return candidate
    available = ", ".join(bundled_recipe_names())
    raise RecipeError(f"{name_or_path}: no such recipe file (bundled recipes: {available})")


def _raw(path: Path, seen: tuple = ()) -> dict:
    if path in seen:
        raise RecipeError(f"{path}: 'extends' loops back to itself")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise RecipeError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe is a mapping of sections")
    own_name = data.pop("name", None) or path.stem
    parent = data.pop("extends", None)
    if parent:
        base_path = resolve_recipe_path(parent if Path(str(parent)).suffix else str(parent))
        if not Path(str(parent)).suffix and (path.parent / f"{parent}.yaml").is_file():
            base_path = path.parent / f"{parent}.yaml"
        data = _merge(_raw(base_path, seen + (path,)), data)
    data["name"] = own_name
    return data


def apply_overrides(data: dict, overrides: dict[str, Any]) -> dict:
    """``{"training.max_steps": 10}`` -> nested update (values from the command line are strings)."""
    data = json.loads(json.dumps(data))
    for key, value in overrides.items():
        parts = key.split(".")
        node = data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise RecipeError(f"--set {key}: {part} is not a section")
        if isinstance(value, str):
            try:
                value = yaml.safe_load(value)
            except yaml.YAMLError:
                pass
        node[parts[-1]] = value
    return data


def load_recipe(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> Recipe:
    """Load, merge (``extends``), override and validate a recipe."""
    path = resolve_recipe_path(name_or_path)
    data = apply_overrides(_raw(path), overrides or {})
    recipe = _fill(Recipe, data, str(path)).validate()
    recipe.overrides = dict(overrides or {})  # they win over stage settings too
    return recipe


def stage_recipes(recipe: Recipe) -> list[Recipe]:
    """The recipe as a list of single-stage recipes, each stage writing to OUTPUT_DIR/<stage name>
    and starting from the previous stage's final checkpoint."""
    if not recipe.stages:
        return [recipe]
    out = []
    base = recipe.to_dict()
    base.pop("stages")
    previous = None
    for stage in recipe.stages:
        command_line = {k: v for k, v in getattr(recipe, "overrides", {}).items() if k != "output_dir"}
        data = apply_overrides(apply_overrides(base, stage.set), command_line)
        data["output_dir"] = str(Path(recipe.output_dir) / stage.name)
        data["name"] = f"{recipe.name}/{stage.name}"
        if previous is not None:
            data["model"]["init_from"] = str(Path(previous) / "final")
        out.append(_fill(Recipe, data, f"{recipe.name} stage {stage.name}").validate())
        previous = data["output_dir"]
    return out


def recipe_help() -> str:
    lines = []
    for section_name, cls in (("model", ModelSection), ("data", DataSection), ("masking", MaskingSection),
                              ("training", TrainingSection)):
        lines.append(f"{section_name}:")
        for f in fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            lines.append(f"  {f.name} = {default!r}: {f.metadata.get('help', '')}")
    return "\n".join(lines)
