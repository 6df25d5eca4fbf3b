"""Pretraining recipes: the typed schema of ``recipes/*.yaml``.  [no torch]

A recipe is a small YAML file that states only what differs from the defaults below (or from the
recipe it ``extends``). Every field has help text (``chinese-ptm pretrain --help-recipe``); an
unknown key is an error naming it; ``--set section.field=value`` overrides any field. The
``training`` section is transformers' TrainingArguments plus a few settings of ours
(:mod:`chinese_ptm.runtime.config`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from ..errors import SettingsError
from ..resources import recipes_dir
from ..runtime.config import (
    TrainingSettings,
    apply_overrides,
    describe_fields,
    fill,
    read_layers,
    setting,
)

#: model sizes (BERT's naming); any field can still be set one by one
SIZES = {
    "tiny": dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512),
    "small": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
    "large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
}


@dataclass
class ModelSection:
    architecture: Literal["glycebert", "bert", "ambert"] = setting(
        "glycebert: char + glyph + pinyin embeddings (ChineseBERT); bert: plain BERT; ambert: one encoder shared by "
        "a character view (GlyceBERT's embedding) and a word view (model.word_tokenizer), MLM on both",
        "glycebert",
    )
    size: Literal["tiny", "small", "base", "large"] = setting("preset of hidden size, layers, heads, FFN width", "base")
    hidden_size: Optional[int] = setting("override the preset's hidden size", None)
    num_hidden_layers: Optional[int] = setting("override the preset's number of layers", None)
    num_attention_heads: Optional[int] = setting("override the preset's attention heads", None)
    intermediate_size: Optional[int] = setting("override the preset's FFN width", None)
    max_position_embeddings: int = setting("position table size (>= data.max_length)", 512)
    use_glyph: bool = setting("glycebert: glyph branch on", True)
    use_pinyin: bool = setting("glycebert: pinyin branch on", True)
    glyph_trainable: bool = setting("glycebert: train the glyph table (original) instead of a frozen buffer", False)
    open_glyphs: bool = setting(
        "glycebert: a character outside the vocabulary keeps its own glyph (drawn in the glyph table's fonts) while "
        "its word embedding is [UNK]'s; false: [UNK]'s glyph, as the original. A GlyceBERT checkpoint keeps its own",
        True,
    )
    glyph_scale: float = setting(
        "glycebert: factor on the 0..255 bitmap values before glyph_map (1: as the original)", 1.0
    )
    fusion_init: Literal["random", "identity"] = setting(
        "glycebert: a new map_fc starts random, or as [I | 0 | 0] (the BERT inside, branches added as it learns); "
        "grown from a BERT checkpoint (model.init_from) always as [I | 0 | 0]",
        "random",
    )
    objective: Literal["mlm", "electra"] = setting(
        "mlm: masked language modelling; electra: replaced-token detection, a small generator fills the masked "
        "positions and the model learns which tokens were replaced",
        "mlm",
    )
    generator_size: float = setting("electra: the generator's width, heads and FFN as a fraction of the model's", 0.25)
    discriminator_weight: float = setting(
        "electra: weight of the replaced-token loss next to the generator's MLM loss (50 in the ELECTRA paper)", 50.0
    )
    embedding_size: Optional[int] = setting(
        "ALBERT's factorised embedding: embeddings this wide (V x E), then mapped to the hidden size; empty: the "
        "hidden size. On architecture bert: transformers' ALBERT (mlm) or ELECTRA (electra)",
        None,
    )
    share_layers: Literal["none", "all", "attention", "ffn"] = setting(
        "ALBERT's cross-layer sharing: every layer is layer 0 (all), or only its attention or FFN block", "none"
    )
    tie_word_embeddings: bool = setting(
        "bert, glycebert (mlm): the MLM decoder is the word embedding matrix, as BERT; false: the decoder has its "
        "own vocabulary x hidden weights (input and output embeddings untied)",
        True,
    )
    hidden_dropout_prob: float = setting("dropout after embeddings and sublayers", 0.1)
    attention_probs_dropout_prob: float = setting("dropout on attention weights", 0.1)
    init_from: Optional[str] = setting(
        "start from this checkpoint: a Chinese BERT directory (BERT-wwm-ext, MacBERT, bert-base-chinese), an "
        "original ChineseBERT directory or one of ours; empty: random initialisation",
        None,
    )
    requires_init: bool = setting("the recipe is defined as continued pretraining: init_from must be set", False)
    tokenizer: Optional[str] = setting("tokenizer directory; default: init_from's, else the bundled vocab/", None)
    word_tokenizer: Optional[str] = setting(
        "ambert: the word view's tokenizer, a word vocabulary built on the records' character vocabulary; "
        "default: the bundled one (vocab/words)",
        None,
    )
    granularity: Literal["char", "word"] = setting(
        "char: a token per Chinese character; word: the words of model.tokenizer's word vocabulary (chinese-ptm "
        "vocab build --granularity word; default: the bundled vocab/words), characters where a word is not in it; "
        "masking units are its cut",
        "char",
    )
    glyph_table: Optional[str] = setting("glyph table (.npz/.npy) for a new glycebert model; default: vocab/'s", None)
    attn_implementation: str = setting("sdpa (default) or eager", "sdpa")

    def dims(self) -> dict:
        dims = dict(SIZES[self.size])
        for name in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"):
            if getattr(self, name) is not None:
                dims[name] = getattr(self, name)
        return dims


@dataclass
class DataSection:
    train_files: list[str] = setting(
        "corpus files (.txt, .jsonl, .gz); empty: People's Daily 1998 (embedded)", factory=list
    )
    prepared_dir: Optional[str] = setting(
        "where prepared records live (default: OUTPUT_DIR/data); prepared again when missing or stale", None
    )
    max_length: int = setting("tokens per record, [CLS] and [SEP]s included", 512)
    packed_ratio: float = setting("share of records packed with several sentences (rest: one sentence)", 0.9)
    line_is_document: bool = setting("one document per line instead of blank-line-separated documents", False)
    text_field: str = setting("text field of JSON-lines corpora", "text")
    segmenter: Literal["jieba", "pkuseg", "ltp"] = setting("word segmentation for whole-word masking", "jieba")
    jieba_hmm: bool = setting("jieba: HMM for unknown words", False)
    jieba_engine: Literal["auto", "rust", "python"] = setting(
        "jieba: auto (jieba-rs without the HMM, where it cuts as jieba does), rust or python", "auto"
    )
    ltp_model: Optional[str] = setting("ltp: local model directory", None)
    num_proc: int = setting("processes for preparation", 1)
    prepare_scope: Literal["shared", "node"] = setting(
        "shared: global rank 0 prepares once for all nodes (prepared_dir on a shared filesystem); node: local "
        "rank 0 of every node prepares its own copy (prepared_dir on node-local disk)",
        "shared",
    )
    prepare_timeout_minutes: float = setting("how long the other ranks wait for preparation", 720.0)
    eval_records: int = setting("records held out (the end of the corpus) for MLM accuracy", 200)


@dataclass
class MaskingSection:
    strategy: Literal["wwm", "char", "mixed", "ngram", "mac"] = setting(
        "wwm: whole words; char; mixed: ChineseBERT's 90% wwm / 10% char per sample; ngram: MacBERT's 1-4 "
        "word spans; mac: ngram with similar-word correction",
        "wwm",
    )
    mlm_probability: float = setting("share of tokens to predict", 0.15)
    replace_probs: list[float] = setting("[MASK or similar word, random, keep]", factory=lambda: [0.8, 0.1, 0.1])
    sentence_task: Optional[Literal["sop", "nsp"]] = setting("sentence-level task; empty: none", None)
    heldout_strategy: Optional[Literal["wwm", "char", "mixed", "ngram", "mac"]] = setting(
        "masking of the held-out records (empty: the training strategy); fix it to compare runs that train with "
        "different masking",
        None,
    )


#: the training defaults of pretraining runs (a recipe states what differs)
PRETRAINING_DEFAULTS = {
    "max_steps": 1000,
    "global_batch_size": 256,
    "micro_batch_size": 32,
    "learning_rate": 1e-4,
    "warmup_steps": 0.01,  # a ratio of max_steps when < 1
    "lr_scheduler_type": "linear",
    "weight_decay": 0.01,
    "adam_epsilon": 1e-6,
    "max_grad_norm": 1.0,
    "seed": 42,
    "logging_steps": 50,
    "save_steps": 1000,
    "save_total_limit": 3,
    "report_to": ["tensorboard"],  # integrations that are not installed are skipped
}


@dataclass
class Stage:
    name: str = setting("stage name (its output folder)", "stage")
    set: dict = setting("fields this stage overrides ('section.field': value)", factory=dict)


@dataclass
class Recipe:
    name: str = setting("recipe name", "custom")
    description: str = setting("one line: what the recipe reproduces", "")
    output_dir: str = setting("where checkpoints, logs and reports go", "runs/pretrain")
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    masking: MaskingSection = field(default_factory=MaskingSection)
    training: TrainingSettings = field(default_factory=lambda: TrainingSettings(PRETRAINING_DEFAULTS))
    stages: list[Stage] = setting("consecutive stages, each with its own schedule, chained by init_from", factory=list)

    def validate(self) -> "Recipe":
        m, d, k, t = self.model, self.data, self.masking, self.training
        problems = []
        if d.max_length > m.max_position_embeddings:
            problems.append(
                f"data.max_length={d.max_length} exceeds model.max_position_embeddings={m.max_position_embeddings}"
            )
        if d.max_length < 8:
            problems.append("data.max_length must be at least 8")
        if not 0 < k.mlm_probability < 1:
            problems.append(f"masking.mlm_probability={k.mlm_probability} must lie in (0, 1)")
        if len(k.replace_probs) != 3 or abs(sum(k.replace_probs) - 1) > 1e-6 or min(k.replace_probs) < 0:
            problems.append(f"masking.replace_probs={k.replace_probs} must be three probabilities summing to 1")
        if not t.global_batch_size or t.global_batch_size < 1 or t.micro_batch_size < 1:
            problems.append("training.global_batch_size and training.micro_batch_size must be at least 1")
        if t.bf16 and t.fp16:
            problems.append("training.bf16 and training.fp16 are exclusive")
        if t.max_steps < 1:
            problems.append("training.max_steps must be at least 1")
        if m.embedding_size is not None and not 1 <= m.embedding_size <= m.dims()["hidden_size"]:
            problems.append(f"model.embedding_size={m.embedding_size} must lie between 1 and the hidden size")
        if m.objective == "electra" and k.sentence_task is not None:
            problems.append("model.objective=electra has no sentence task: set masking.sentence_task to null")
        if not 0 < m.generator_size <= 1:
            problems.append(f"model.generator_size={m.generator_size} must lie in (0, 1]")
        dims = m.dims()
        if dims["hidden_size"] % dims["num_attention_heads"]:
            problems.append(
                f"hidden size {dims['hidden_size']} is not a multiple of {dims['num_attention_heads']} heads"
            )
        if problems:
            raise RecipeError(f"recipe {self.name!r}: " + "; ".join(problems))
        return self

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out = {k: (v.to_dict() if isinstance(v, TrainingSettings) else v) for k, v in out.items()}
        return {
            k: (
                dataclasses.asdict(v)
                if dataclasses.is_dataclass(v)
                else [dataclasses.asdict(x) for x in v]
                if k == "stages"
                else v
            )
            for k, v in out.items()
        }


class RecipeError(SettingsError):
    """A recipe that does not load or validate; the message names the file and the field."""


def bundled_recipe_names() -> list[str]:
    """The names of the recipes shipped with the package."""
    return sorted(p.stem for p in recipes_dir().glob("*.yaml"))


def resolve_recipe_path(name_or_path: str | Path, beside: Path | None = None) -> Path:
    """A recipe file: a path, a name next to ``beside`` (for ``extends``), or a bundled recipe's name."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    root = recipes_dir()
    candidates = [root / f"{name_or_path}.yaml", root / str(name_or_path)]
    if beside is not None:
        candidates.insert(0, beside.parent / f"{name_or_path}.yaml")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise RecipeError(f"{name_or_path}: no such recipe file (bundled recipes: {', '.join(bundled_recipe_names())})")


def _raw(path: Path) -> dict:
    data = read_layers(path, lambda name, child: resolve_recipe_path(name, child))
    data.pop("name", None)
    data["name"] = _own_name(path)
    return data


def _own_name(path: Path) -> str:
    import yaml

    try:
        own = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        own = {}
    return (own.get("name") if isinstance(own, dict) else None) or path.stem


def _build(data: dict, where: str) -> "Recipe":
    try:
        return fill(Recipe(), data, where).validate()
    except RecipeError:
        raise
    except SettingsError as err:
        raise RecipeError(str(err)) from None


def load_recipe(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> Recipe:
    """Load, merge (``extends``), override and validate a recipe."""
    path = resolve_recipe_path(name_or_path)
    try:
        data = apply_overrides(_raw(path), overrides or {}, schema=Recipe)
    except SettingsError as err:
        raise RecipeError(str(err)) from None
    recipe = _build(data, str(path))
    recipe.raw = data
    recipe.overrides = dict(overrides or {})  # they win over stage settings too
    return recipe


def stage_recipes(recipe: Recipe) -> list[Recipe]:
    """The recipe as a list of single-stage recipes, each stage writing to OUTPUT_DIR/<stage name>
    and starting from the previous stage's final checkpoint."""
    if not recipe.stages:
        return [recipe]
    out = []
    base = {k: v for k, v in getattr(recipe, "raw", recipe.to_dict()).items() if k != "stages"}
    previous = None
    for stage in recipe.stages:
        command_line = {k: v for k, v in getattr(recipe, "overrides", {}).items() if k != "output_dir"}
        data = apply_overrides(apply_overrides(base, stage.set, Recipe), command_line, Recipe)
        data["output_dir"] = str(Path(recipe.output_dir) / stage.name)
        data["name"] = f"{recipe.name}/{stage.name}"
        if previous is not None:
            data.setdefault("model", {})["init_from"] = str(Path(previous) / "final")
        out.append(_build(data, f"{recipe.name} stage {stage.name}"))
        previous = data["output_dir"]
    return out


def recipe_help() -> str:
    return describe_fields(Recipe)
