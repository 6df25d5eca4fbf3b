"""General (task-agnostic) distillation, TinyBERT's first stage: on the pretraining corpus, through the pretraining
runner (recipes, batch plans, torchrun, resume), a student learns a pretrained teacher's MLM distribution at the
masked positions and, with their weights, its hidden states, attentions and embedding output.

    chinese-ptm distill --general --teacher runs/chinesebert-small/final --recipe chinesebert-tiny
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..finetune.config import DistillSection
from ..modeling.factory import build_model, checkpoint_kind, load_pretrained, model_class
from ..pretrain.recipe import load_recipe
from ..pretrain.runner import run
from ..runtime.config import fill
from .build import from_teacher_layers, layer_pairs
from .model import DistillationModel


def general_builder(teacher_dir: str, student: str, settings: DistillSection):
    """The pretraining runner's model builder: the recipe's model (or the teacher's own layers, ``student``
    teacher) as the student of the teacher's masked-LM checkpoint."""
    kind = checkpoint_kind(teacher_dir, "--teacher")
    teacher = load_pretrained(model_class(kind, "ForMaskedLM"), teacher_dir)

    def build(m, tokenizer, sentence_task: bool):
        if sentence_task:
            raise UserError(
                "distill --general learns the teacher's masked-LM predictions: set masking.sentence_task null"
            )
        _check_vocabulary(teacher_dir, tokenizer)
        if _reads(teacher) and student != "teacher" and not (m.architecture == "glycebert" and m.use_pinyin):
            raise UserError(
                f"teacher {teacher_dir} reads pinyin, which the batches carry for a GlyceBERT student only: set "
                "model.architecture glycebert (or --student teacher)"
            )
        if student == "teacher":
            model = from_teacher_layers(teacher, settings.student_layers, settings.student_init)
        else:
            model = build_model(m, tokenizer)
        if settings.attention_weight > 0:
            for each in (model, teacher):
                each.set_attn_implementation("eager")
        intermediate = settings.hidden_weight > 0 or settings.attention_weight > 0 or settings.embedding_weight > 0
        layers = (model.config.num_hidden_layers, teacher.config.num_hidden_layers)
        pairs = layer_pairs(settings.layer_map, *layers, settings.embedding_weight > 0) if intermediate else []
        return DistillationModel(model, [teacher], settings, pairs, (_reads(model), [_reads(teacher)]))

    return build


def _reads(model) -> bool:
    """Whether a model takes pinyin ids (a GlyceBERT with its pinyin branch)."""
    return bool(getattr(model.config, "use_pinyin", False))


def _check_vocabulary(teacher_dir: str, tokenizer) -> None:
    """The student reads the run's tokens, the teacher must read the same."""
    path = Path(teacher_dir) / "vocab.txt"
    theirs = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    if theirs != list(tokenizer.ordered_vocab()):
        raise UserError(
            f"teacher {teacher_dir} and the run's tokenizer ({tokenizer.name_or_path}) read different vocabularies; "
            "set model.tokenizer to the teacher's directory"
        )


def run_general(recipe: str, teacher_dir: str, student: str, overrides: dict) -> list[dict]:
    """Reports of a general distillation run: ``overrides`` are the recipe's (``section.field``) and the
    distillation's (``distill.field``)."""
    distill = {k.removeprefix("distill."): v for k, v in overrides.items() if k.startswith("distill.")}
    settings = fill(DistillSection(), distill, "--set distill.").validate()
    recipe_settings = {k: v for k, v in overrides.items() if not k.startswith("distill.")}
    loaded = load_recipe(recipe, {"model.tokenizer": teacher_dir, "model.open_glyphs": False, **recipe_settings})
    return run(loaded, build=general_builder(teacher_dir, student, settings))
