"""The student and its teachers in one module the fine-tuning (or pretraining) runtime trains: the losses of
knowledge distillation.

In training, the loss is ``hard_weight`` x the student's own loss on the gold labels + ``soft_weight`` x T^2 x the
cross-entropy between the student's and the teachers' predictions at temperature T (the teachers' probabilities
averaged; per position for tagging and span tasks, where a label or the attention mask says a position counts),
+ ``hidden_weight`` x the MSE between mapped hidden states (the student's through a learned projection where the
widths differ), + ``attention_weight`` x the KL divergence between mapped layers' attention distributions
(averaged over heads), + ``embedding_weight`` x the MSE between the embedding outputs. In evaluation and when
saved, it is the student alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import TrainerCallback

from ..finetune.strategies import WithFixedModels
from ..modeling.losses import IGNORE_INDEX, PREDICTIONS

#: a feature's cached logits of teacher i: TEACHER_LOGITS + str(i)
TEACHER_LOGITS = "teacher_logits_"


class DistillationModel(WithFixedModels):
    """``student`` learning from frozen ``teachers`` (the settings' weights; ``pairs``: (student layer, teacher
    layer) of the intermediate losses, 0 = the embedding output). Checkpoints hold the student and the
    projections; the teachers are fixed."""

    fixed_prefixes = ("teachers.",)
    trained_attribute = "student"

    def __init__(self, student, teachers: list, settings, pairs: list[tuple[int, int]], pinyin: tuple[bool, list]):
        super().__init__()
        self.student, self.teachers = student, nn.ModuleList(teachers)
        for teacher in self.teachers:
            teacher.eval().requires_grad_(False)
        self.config = student.config
        self.settings, self.pairs = settings, pairs
        self.student_pinyin, self.teacher_pinyin = pinyin
        width_s, width_t = student.config.hidden_size, teachers[0].config.hidden_size
        wanted = settings.hidden_weight > 0 or settings.embedding_weight > 0
        self.projections = nn.ModuleDict(
            {str(s): nn.Linear(width_s, width_t) for s, _ in pairs} if wanted and width_s != width_t else {}
        )
        self.progress = 0.0  # share of training done (the temperature schedule): DistillationProgress sets it

    def temperature(self) -> float:
        start, end = self.settings.temperature, self.settings.temperature_final
        return start if end is None else start + (end - start) * min(max(self.progress, 0.0), 1.0)

    # -- forward --------------------------------------------------------------------------------------------------
    def forward(self, **batch):
        cached = [batch.pop(k) for k in sorted(k for k in batch if k.startswith(TEACHER_LOGITS))]
        targets = {k: batch[k] for k in ("labels", "start_positions", "end_positions") if k in batch}
        inputs = {k: v for k, v in batch.items() if k not in targets}
        if not self.training:
            return self.student(**_for(inputs, self.student_pinyin), **targets)
        s = self.settings
        states = s.hidden_weight > 0 or s.embedding_weight > 0
        attentions = s.attention_weight > 0
        extra = {"output_hidden_states": True} if states else {}
        extra |= {"output_attentions": True} if attentions else {}
        out = self.student(**_for(inputs, self.student_pinyin), **targets, **extra)
        loss = s.hard_weight * out.loss if s.hard_weight and out.loss is not None else out.logits.new_zeros(())
        teacher_outs = None
        if states or attentions or not cached:
            with torch.no_grad():
                teacher_outs = [  # with the labels: an MLM teacher then predicts the masked positions only
                    t(**_for(inputs, pinyin), **targets, **extra)
                    for t, pinyin in zip(self.teachers, self.teacher_pinyin)
                ]
        mask = _positions(inputs.get("attention_mask"), targets.get("labels"))
        loss = loss + s.soft_weight * self._soft_loss(out, teacher_outs, cached, mask, targets.get("labels"))
        if teacher_outs is not None and (states or attentions):
            loss = loss + self._intermediate_loss(out, teacher_outs[0], inputs.get("attention_mask"))
        out.loss = loss
        return out

    def _soft_loss(self, out, teacher_outs, cached: list, mask, labels) -> torch.Tensor:
        """T^2 x cross-entropy of the student against the teachers' mean probabilities, per output (a teacher's MLM
        logits over every position are read at the labelled ones, where a sparse student predicts)."""
        temperature = self.temperature()
        total = out.logits.new_zeros(()) if getattr(out, "logits", None) is not None else 0.0
        for name in PREDICTIONS:
            student = getattr(out, name, None)
            if student is None:
                continue
            teachers = cached if cached and name == "logits" else [getattr(t, name) for t in teacher_outs]
            teachers = [t[labels != IGNORE_INDEX] if t.dim() == student.dim() + 1 else t for t in teachers]
            soft = torch.stack([F.softmax(t.to(student.dtype) / temperature, dim=-1) for t in teachers]).mean(0)
            per = -(soft * F.log_softmax(student / temperature, dim=-1)).sum(-1)  # (B,) or (B, T)
            weights = mask if per.dim() == 2 and name == "logits" and mask is not None else None
            total = total + _mean(per, weights) * temperature**2
        return total

    def _intermediate_loss(self, out, teacher, attention_mask) -> torch.Tensor:
        s = self.settings
        keep = attention_mask.to(out.logits.dtype) if attention_mask is not None else None
        total = out.logits.new_zeros(())
        for student_layer, teacher_layer in self.pairs:
            weight = s.embedding_weight if student_layer == 0 else s.hidden_weight
            if weight > 0:
                h = out.hidden_states[student_layer]
                h = self.projections[str(student_layer)](h) if self.projections else h
                error = (h - teacher.hidden_states[teacher_layer]).pow(2).mean(-1)  # (B, T)
                total = total + weight * _mean(error, keep)
            if s.attention_weight > 0 and student_layer > 0:
                a_s = out.attentions[student_layer - 1].mean(1)  # (B, T, T): heads averaged
                a_t = teacher.attentions[teacher_layer - 1].mean(1)
                kl = (a_t * (a_t.clamp_min(1e-12).log() - a_s.clamp_min(1e-12).log())).sum(-1)  # (B, T)
                total = total + s.attention_weight * _mean(kl, keep)
        return total


def _for(inputs: dict, pinyin: bool) -> dict:
    """A model's inputs: pinyin ids only for a model that reads them."""
    return inputs if pinyin else {k: v for k, v in inputs.items() if k != "pinyin_ids"}


def _positions(attention_mask, labels):
    """Which positions of a per-token prediction count: labelled ones (tagging), else attended ones."""
    if labels is not None and labels.dim() == 2:
        return (labels != IGNORE_INDEX).float()
    return attention_mask.float() if attention_mask is not None else None


def _mean(values: torch.Tensor, weights) -> torch.Tensor:
    if weights is None:
        return values.mean()
    return (values * weights).sum() / weights.sum().clamp(min=1.0)


class DistillationProgress(TrainerCallback):
    """Tells the model how far training has gone (the temperature schedule)."""

    def __init__(self, model: DistillationModel):
        self.model = model

    def on_step_begin(self, args, state, control, **kwargs):
        self.model.progress = state.global_step / max(state.max_steps, 1)
