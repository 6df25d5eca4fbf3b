"""Fine-tuning on any data, with the classic strategies, on the runtime shared with pretraining.

``chinese-ptm finetune data`` (own files or the embedded tasks ``reviews`` and ``pd98-ner``), ``finetune clue``
(the CLUE tasks as presets of the same runner), ``finetune multitask`` and ``finetune stages`` (two-stage),
``chinese-ptm predict`` for a saved model. From Python::

    from chinese_ptm.finetune import run_preset
    results = run_preset("reviews", model="runs/chinesebert-tiny/final", overrides={"strategy": "frozen"})
"""

_EXPORTS = {
    "FinetuneConfig": "chinese_ptm.finetune.config",
    "build_config": "chinese_ptm.finetune.config",
    "run": "chinese_ptm.finetune.runner",
    "run_preset": "chinese_ptm.finetune.runner",
    "load_task": "chinese_ptm.finetune.runner",
    "predict": "chinese_ptm.finetune.predict",
    "main": "chinese_ptm.finetune.cli",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'chinese_ptm.finetune' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
