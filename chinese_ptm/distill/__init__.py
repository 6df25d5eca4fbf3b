"""Knowledge distillation on the fine-tuning runtime: a student learns a fine-tuned teacher's predictions (and,
optionally, its hidden states and attentions) on the task's data; ``chinese-ptm distill``.

Imports: :mod:`chinese_ptm.finetune` (the runtime, its settings and task kinds), :mod:`chinese_ptm.modeling`,
:mod:`chinese_ptm.pretrain` (model sizes). Nothing below imports it.
"""
