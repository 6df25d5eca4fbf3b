"""What loading a checkpoint into a head left out, said once and only when it matters.

transformers prints a table for every load whose weights differ from the model's: a fine-tuning head on a
pretraining checkpoint (new classifier weights, the MLM and sentence heads unused), a decoder's new
cross-attention, an ELECTRA checkpoint's generator. Those are what is intended, and users read the table as a
broken checkpoint. :func:`quiet_load_report` keeps it back; :func:`report_loading` says in one line what was
left out of the *encoder* (the only thing that is a problem) and nothing otherwise.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

logger = logging.getLogger(__name__)
#: encoder weights that a head may lack by design: BERT's pooler (a checkpoint pretrained without NSP/SOP has
#: none) and a decoder's new cross-attention
NEW_BY_DESIGN = (".pooler.", ".crossattention.")


def _not_the_load_table(record: logging.LogRecord) -> bool:
    return "LOAD REPORT" not in str(record.msg)


@contextmanager
def quiet_load_report():
    """transformers' load table is not printed inside; everything else its loader logs still is. (A filter, not
    a level: the loader runs extra checks, and warns about them, when its logger's level is raised.)"""
    reporter = logging.getLogger("transformers.modeling_utils")
    reporter.addFilter(_not_the_load_table)
    try:
        yield
    finally:
        reporter.removeFilter(_not_the_load_table)


def report_loading(model, info: dict, source) -> None:
    """One warning naming the encoder weights the checkpoint lacked, held unused, or had in another shape; the
    head's new weights and the pretraining heads left out are logged at info level only."""
    prefix = f"{getattr(model, 'base_model_prefix', '')}."

    def encoder_keys(keys) -> list[str]:
        return [k for k in keys if k.startswith(prefix) and not any(part in k for part in NEW_BY_DESIGN)]

    missing = encoder_keys(info.get("missing_keys", ()))
    unused = encoder_keys(info.get("unexpected_keys", ()))
    resized = [k for k, *_ in info.get("mismatched_keys", ())]
    if missing or unused or resized:
        parts = (
            [
                f"{len(missing)} not in it (initialised anew: {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''})"
            ]
            if missing
            else []
        )
        parts += [f"{len(unused)} of its encoder weights unused ({', '.join(unused[:4])})"] if unused else []
        parts += [f"{len(resized)} of another shape, initialised anew ({', '.join(resized[:4])})"] if resized else []
        logger.warning(f"{source} into {type(model).__name__}: {'; '.join(parts)}")
    else:
        logger.info(
            f"{source} into {type(model).__name__}: {len(info.get('missing_keys', ()))} new head weights, "
            f"{len(info.get('unexpected_keys', ()))} weights of other heads left out, as intended"
        )
