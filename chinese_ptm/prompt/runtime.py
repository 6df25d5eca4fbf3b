"""Prompts on the fine-tuning runtime: the task's texts put into the template, the MLM wrapped as a
:class:`PromptModel`, K examples per class for few-shot runs."""

from __future__ import annotations

import dataclasses

from ..errors import SettingsError, UserError
from ..finetune.examples import sample_shots
from ..finetune.model import load_checkpoint
from ..finetune.registry import Method, register_method
from ..finetune.task import CLASSIFICATION
from ..runtime.loading import ELECTRA, model_class, reads_pinyin
from .model import PromptModel, label_word_ids
from .template import Template, Verbalizer

__all__ = ["build_prompt_model", "prompt_task", "sample_shots", "templated_task"]


def prompt_parts(method, labels: tuple[str, ...]) -> tuple[Template, Verbalizer]:
    if not method.verbalizer:
        raise SettingsError(
            "method.prompt needs method.verbalizer: label words per label, e.g. "
            "--set verbalizer='positive=很好;negative=很差' or a JSON file"
        )
    return Template(method.prompt), Verbalizer.parse(method.verbalizer, labels)


def _cut(text: str, budget: int) -> str:
    return text[: max(budget, 1)]


def templated_task(task, template: Template, slots: int, max_length: int):
    """The task with every example's text(s) put into the template (the texts cut so that the blank and the
    template's own words always fit in ``max_length`` tokens)."""
    if task.kind != CLASSIFICATION or task.problem_type == "multi_label_classification":
        raise SettingsError(f"method.prompt: task {task.name} is {task.kind}; prompts classify single texts and pairs")
    budget = max_length - 2 - template.overhead() - slots

    def render(example):
        if example.text_b is None:
            text = template.render(_cut(example.text_a, budget), None, slots)
        else:
            first = _cut(example.text_a, max(budget // 2, budget - len(example.text_b)))
            text = template.render(first, _cut(example.text_b, budget - len(first)), slots)
        return dataclasses.replace(example, text_a=text, text_b=None)

    splits = {
        name: dataclasses.replace(split, examples=[render(e) for e in split.examples])
        for name, split in task.splits.items()
    }
    return dataclasses.replace(task, splits=splits, source={**task.source, "template": template.pattern})


def prompt_task(task, method, tokenizer, max_length: int):
    """The templated task, after checking the verbaliser's words against the tokenizer."""
    template, verbalizer = prompt_parts(method, task.labels)
    ids = label_word_ids(tokenizer, verbalizer, template, method.scoring)
    return templated_task(task, template, max(len(w) for row in ids for w in row), max_length)


def build_prompt_model(method, labels: tuple[str, ...], source: str, kind: str, tokenizer, scratch: bool = False):
    """The checkpoint's masked LM (GlyceBERT, BERT or ALBERT) wrapped as a PromptModel."""
    if kind == ELECTRA:
        raise UserError(
            f"{source}: an ELECTRA discriminator has no masked-LM head to score label words with; "
            "prompt a GlyceBERT, BERT or ALBERT checkpoint"
        )
    template, verbalizer = prompt_parts(method, labels)
    ids = label_word_ids(tokenizer, verbalizer, template, method.scoring)
    mlm = load_checkpoint(model_class(kind, "ForMaskedLM"), source, scratch, {})
    pinyin = None
    if reads_pinyin(kind):
        pinyin = [
            [tokenizer(w, add_special_tokens=False)["pinyin_ids"] for w in words] for words in verbalizer.words.values()
        ]
    prompt = {"template": template.pattern, "verbalizer": verbalizer.to_dict()}
    return PromptModel(mlm, ids, tokenizer.mask_token_id, method.scoring, pinyin, prompt)


#: PET on the fine-tuning runtime: ``method.prompt`` (a template) and ``method.verbalizer`` set
PROMPT_METHOD = register_method(Method("prompt", prompt_task, build_prompt_model))
