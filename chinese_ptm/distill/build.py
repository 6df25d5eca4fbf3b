"""Building a distillation run: the teachers (fine-tuned models of the task), the student (the teacher's own
layers, a size of its family, or a checkpoint), the layer map, and the teachers' logits cached once."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import torch

from ..errors import UserError
from ..finetune.config import MethodSection
from ..finetune.features import PaddingCollator
from ..finetune.model import TaskModel, build_task_model
from ..finetune.predict import load_task_model
from ..finetune.strategies import apply_strategy
from ..modeling.factory import checkpoint_kind, reads_pinyin
from ..pretrain.recipe import SIZES
from ..runtime.ranks import world_size
from .model import TEACHER_LOGITS, DistillationModel, DistillationProgress

#: the saved forms a teacher may take: a whole model (transformers' head class, or our head on chosen layers and
#: pooling); adapters and prompts are not students' material
DISTILLABLE = ("standard", "task_model")
_LAYER_KEY = re.compile(r"^(.*\.encoder\.layer\.)(\d+)(\..*)$")


def load_teachers(config) -> list:
    """The fine-tuned teachers (the first, then ``distill.teachers``), each with its task record. A student made
    of the first teacher (its layers, or its family at a size) reads the layers and pooling the teacher reads:
    the configuration's method takes them, so that the saved student is read back the same way."""
    paths = [config.distill.teacher, *config.distill.teachers]
    if not paths[0]:
        raise UserError("distill: give the teacher, a fine-tuned model directory (--teacher DIR)")
    teachers = [load_task_model(path)[:2] for path in paths]
    if config.distill.student == "teacher" or config.distill.student in SIZES:
        for name in ("layers", "pooling"):
            setattr(config.method, name, _teachers_reading(config, name, teachers[0][1]["method"][name], paths[0]))
    return teachers


def _teachers_reading(config, name: str, teacher_value: str, path: str) -> str:
    """The teacher's ``method.<name>``; a different one asked for explicitly (not the default) is refused rather
    than silently dropped: a student made of the teacher keeps the teacher's head and reads what it reads."""
    asked = getattr(config.method, name)
    default = MethodSection.__dataclass_fields__[name].default
    if asked not in (default, teacher_value):
        raise UserError(
            f"method.{name}={asked}: a student made of the teacher {path} reads what the teacher reads "
            f"({name} {teacher_value}); leave method.{name} out, or give a pretrained checkpoint as distill.student"
        )
    return teacher_value


def check_teachers(teachers: list, paths: list[str], task) -> None:
    """Every teacher predicts the task's labels from the same vocabulary."""
    first_vocab = _vocab(paths[0])
    for (model, record), path in zip(teachers, paths):
        if record["format"] not in DISTILLABLE:
            raise UserError(
                f"teacher {path}: saved as {record['format']} (peft or prompt); distil from a model fine-tuned "
                "whole (any method.layers and pooling)"
            )
        if tuple(record["labels"]) != tuple(task.labels) or record["kind"] != task.kind:
            raise UserError(
                f"teacher {path}: trained for {record['kind']} with labels {record['labels']}, the task is "
                f"{task.kind} with {list(task.labels)}: distil a teacher of this task"
            )
        if _vocab(path) != first_vocab:
            raise UserError(f"teachers {paths[0]} and {path} read different vocabularies: use teachers of one")


def _vocab(directory) -> list[str]:
    path = Path(directory) / "vocab.txt"
    return path.read_text(encoding="utf-8").splitlines() if path.is_file() else []


def make_student(config, prepared, teacher):
    """The student (``distill.student``) as the task's model, and its checkpoint kind."""
    d = config.distill
    if d.student == "teacher":
        return from_teacher_layers(teacher, d.student_layers, d.student_init), prepared.kind
    if d.student in SIZES:
        return _at_size(teacher, SIZES[d.student]), prepared.kind
    source = Path(d.student)
    if not source.is_dir():
        raise UserError(
            f"distill.student {d.student!r}: give teacher, a size ({', '.join(SIZES)}) or a checkpoint directory"
        )
    if _vocab(source) != _vocab(config.distill.teacher):
        raise UserError(
            f"student {source} and teacher {config.distill.teacher} read different vocabularies; a student must "
            "read the teacher's tokens (give a student checkpoint on the teacher's vocabulary)"
        )
    kind = checkpoint_kind(source)
    return build_task_model(prepared.task, str(source), kind, config.method), kind


def from_teacher_layers(teacher, layers: int, init: str):
    """The teacher's class and shape with ``layers`` layers: its first ones, every k-th, or random weights."""
    total = teacher.config.num_hidden_layers
    if layers > total:
        raise UserError(f"distill.student_layers={layers}: the teacher has {total} layers")
    config = copy.deepcopy(teacher.config)
    config.num_hidden_layers = layers
    student = _empty_like(teacher, config)
    if init == "random":
        _copy_glyphs(teacher, student)
        return student
    chosen = list(range(layers)) if init == "first" else [round((j + 1) * total / layers) - 1 for j in range(layers)]
    state = {}
    for key, value in teacher.state_dict().items():
        match = _LAYER_KEY.match(key)
        if key == "mix.weights":  # a scalar mix's weight of the embedding output, then one per kept layer
            state[key] = value[[0, *(c + 1 for c in chosen)]]
        elif match is None:
            state[key] = value
        elif int(match.group(2)) in chosen:
            state[f"{match.group(1)}{chosen.index(int(match.group(2)))}{match.group(3)}"] = value
    student.load_state_dict(state, strict=True)
    return student


def _at_size(teacher, dims: dict):
    """The teacher's family at another size, random weights (the glyph table kept: input data, not weights)."""
    config = copy.deepcopy(teacher.config)
    for name, value in dims.items():
        setattr(config, name, value)
    student = _empty_like(teacher, config)
    _copy_glyphs(teacher, student)
    return student


def _empty_like(teacher, config):
    """A model of the teacher's class (a :class:`TaskModel`: with its head, layers and pooling) on ``config``,
    freshly initialised."""
    if not isinstance(teacher, TaskModel):
        return type(teacher)(config)
    layers, pooling = teacher.representation.layers, teacher.representation.pooling
    return TaskModel(
        type(teacher.bert)(config), teacher.kind, teacher.num_labels, teacher.problem_type, layers, pooling
    )


def _encoder(model):
    return model.bert if isinstance(model, TaskModel) else model.base_model


def _copy_glyphs(teacher, student) -> None:
    glyphs = getattr(getattr(_encoder(teacher), "embeddings", None), "glyph_embeddings", None)
    if glyphs is not None:
        _encoder(student).load_glyph_table(glyphs.embedding.weight.detach().clone())


def layer_pairs(layer_map: str, student_layers: int, teacher_layers: int, embeddings: bool) -> list[tuple[int, int]]:
    """(student layer, teacher layer) pairs, layers counted from 1 (0: the embedding output)."""
    if layer_map == "uniform":
        pairs = [(i, round(i * teacher_layers / student_layers)) for i in range(1, student_layers + 1)]
    elif layer_map == "last":
        pairs = [(i, teacher_layers - student_layers + i) for i in range(1, student_layers + 1)]
    else:
        pairs = []
        for item in layer_map.split(","):
            try:
                s, t = (int(x) for x in item.split(":"))
            except ValueError:
                raise UserError(
                    f"distill.layer_map {layer_map!r}: uniform, last, or pairs 'student:teacher' such as '1:2,2:4'"
                ) from None
            if not (1 <= s <= student_layers and 1 <= t <= teacher_layers):
                raise UserError(
                    f"distill.layer_map {item}: the student has layers 1-{student_layers}, the teacher 1-{teacher_layers}"
                )
            pairs.append((s, t))
    return ([(0, 0)] if embeddings else []) + pairs


def cache_teacher_logits(teachers: list, pinyin: list[bool], features: list[dict], pad_id: int, batch: int = 64):
    """Each training feature's logits from every teacher (``teacher_logits_<i>``), computed once."""
    if not features or f"{TEACHER_LOGITS}0" in features[0]:
        return
    collate = PaddingCollator(pad_id)
    targets = ("labels", "start_positions", "end_positions")
    with torch.no_grad():
        for start in range(0, len(features), batch):
            chunk = features[start : start + batch]
            inputs = {k: v for k, v in collate(chunk).items() if k not in targets and not k.startswith(TEACHER_LOGITS)}
            for i, (teacher, reads) in enumerate(zip(teachers, pinyin)):
                given = inputs if reads else {k: v for k, v in inputs.items() if k != "pinyin_ids"}
                logits = teacher(**given).logits.float().numpy()
                for feature, row in zip(chunk, logits):
                    length = len(feature["input_ids"])
                    feature[f"{TEACHER_LOGITS}{i}"] = row[:length] if row.ndim == 2 else row


def distillation_builder(teachers_and_records: list):
    """The runtime's model builder for a distillation run (see ``finetune.runner.train_one``)."""

    def build(config, prepared):
        d = config.distill
        teachers = [copy.deepcopy(model) for model, _ in teachers_and_records]
        student, kind = make_student(config, prepared, teachers[0])
        if d.attention_weight > 0:  # attention weights come from the eager implementation only
            for model in (student, *teachers):
                _encoder(model).set_attn_implementation("eager")
        teacher_pinyin = [reads_pinyin(r["checkpoint_kind"]) and r["pinyin"] for _, r in teachers_and_records]
        student_pinyin = reads_pinyin(kind) and bool(getattr(student.config, "use_pinyin", True))
        intermediate = d.hidden_weight > 0 or d.attention_weight > 0 or d.embedding_weight > 0
        pairs = (
            layer_pairs(
                d.layer_map,
                student.config.num_hidden_layers,
                teachers[0].config.num_hidden_layers,
                d.embedding_weight > 0,
            )
            if intermediate
            else []
        )
        if d.cache_teacher and not intermediate:
            features = prepared.encoded["train"].features
            cache_teacher_logits(teachers, teacher_pinyin, features, prepared.tokenizer.pad_token_id)
        prepared.kind, prepared.with_pinyin = kind, student_pinyin  # what the saved student is and reads
        model = DistillationModel(student, teachers, d, pairs, (student_pinyin, teacher_pinyin))
        callbacks, groups = apply_strategy(student, config.method, world_size())
        return model, [*callbacks, DistillationProgress(model)], groups

    return build
