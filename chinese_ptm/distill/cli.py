"""``chinese-ptm distill --teacher DIR --student teacher|SIZE|DIR [--preset ... | --task ... --train ...]``: a
student fine-tuned on the task's data against a fine-tuned teacher's predictions, with the fine-tuning runtime's
files, seeds, best checkpoint and predictions; ``chinese-ptm predict`` reads the saved student."""

from __future__ import annotations

import argparse
import json

from ..finetune.cli import add_data_arguments, data_config, overrides_of
from ..finetune.clue_runs import summary_table
from ..finetune.runner import run
from ..modeling.factory import checkpoint_kind, reads_pinyin
from ..runtime.ranks import is_main_process
from .build import check_teachers, distillation_builder, load_teachers
from .general import run_general

#: the settings a general distillation takes: its own and the recipe's sections
RECIPE_SECTIONS = ("distill.", "model.", "data.", "masking.", "training.", "output_dir")

EPILOG = """\
examples:
  chinese-ptm distill --teacher runs/finetune/reviews/model --student teacher --preset reviews
  chinese-ptm distill --teacher t/model --student tiny --preset pd98-ner --set distill.temperature=8
  chinese-ptm distill --teacher t/model --student teacher --set distill.student_layers=2 \\
      --set distill.hidden_weight=1 --set distill.attention_weight=1 --preset reviews   # + intermediate layers
  chinese-ptm distill --general --teacher runs/small/final --recipe chinesebert-tiny \\
      --set distill.hidden_weight=1 --output-dir runs/general   # on the pretraining corpus (TinyBERT stage 1)

Every distill.* setting (temperature, soft_weight, hard_weight, layer_map ...) and every finetune setting:
`chinese-ptm finetune --help-settings`.
"""


def add_parser(subparsers, name: str = "distill", help_: str | None = None) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help=help_, description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--teacher", required=True, help="a fine-tuned model of the task (finetune's OUTPUT_DIR/model)")
    parser.add_argument(
        "--student", default="teacher", help="teacher (its layers), tiny|small|base|large, or a checkpoint"
    )
    parser.add_argument(
        "--general", action="store_true", help="task-agnostic: on the pretraining corpus (--recipe), TinyBERT's stage 1"
    )
    parser.add_argument("--recipe", default="chinesebert-tiny", help="--general: the student's pretraining recipe")
    add_data_arguments(parser, model_required=False)
    parser.set_defaults(run=run_command)
    return parser


def run_command(args: argparse.Namespace) -> int:
    if args.general:
        return _run_general(args)
    teacher_settings = {"distill.teacher": args.teacher, "distill.student": args.student}
    config = data_config(args, {"model.path": _data_source(args.teacher, args.student), **teacher_settings})
    teachers = load_teachers(config)
    results = run(config, progress=not args.no_progress, build=_checked(distillation_builder(teachers), teachers))
    if is_main_process():
        print(summary_table([results]))
        if results.get("test"):
            print(f"{results['task']}: test {json.dumps({k: round(v, 2) for k, v in results['test'].items()})}")
    return 0


def _run_general(args: argparse.Namespace) -> int:
    overrides = overrides_of(args) | ({"output_dir": args.output_dir} if args.output_dir else {})
    overrides = {k: v for k, v in overrides.items() if k.startswith(RECIPE_SECTIONS)}
    student = "teacher" if args.student == "teacher" else "recipe"
    for report in run_general(args.recipe, args.teacher, student, overrides):
        if report:  # the main process
            print(f"{args.recipe}: {report['steps']} steps, held-out MLM accuracy {report['heldout_mlm_accuracy']:.4f}")
    return 0


def _data_source(teacher: str, student: str) -> str:
    """Whose tokenizer encodes the data: the teacher's, unless a student checkpoint reads pinyin the teacher's
    tokenizer does not give (both read one vocabulary, checked when the student is built)."""
    from pathlib import Path

    if Path(student).is_dir() and reads_pinyin(checkpoint_kind(student)) and not reads_pinyin(checkpoint_kind(teacher)):
        return student
    return teacher


def _checked(build, teachers):
    """The builder, after the teachers are checked against the task the runtime read."""

    def checked(config, prepared):
        check_teachers(teachers, [config.distill.teacher, *config.distill.teachers], prepared.task)
        return build(config, prepared)

    return checked
