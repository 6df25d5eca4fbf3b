"""Pretraining: the recipe schema (:mod:`.recipe`), the runner with its Trainer subclass and metrics
(:mod:`.runner`) and the ``chinese-ptm pretrain`` command (:mod:`.cli`).

A recipe's YAML becomes a :class:`~.recipe.Recipe`; the runner asks :mod:`chinese_ptm.data` for prepared records,
:mod:`chinese_ptm.masking` for the collator, :mod:`chinese_ptm.modeling.factory` for the model and
:mod:`chinese_ptm.runtime` for the Trainer. Imports: those layers; never :mod:`chinese_ptm.finetune` or above.
``python -m chinese_ptm.pretrain RECIPE`` (what torchrun starts) is ``chinese-ptm pretrain RECIPE``.
"""
