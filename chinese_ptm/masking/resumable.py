"""The masking collator of pretraining runs: randomness that survives a resume.  [no torch at import]"""

from __future__ import annotations

import hashlib

import numpy as np

from .collator import MaskingCollator


def _batch_seed(records) -> int:
    ids = np.asarray([int(r.get("record_id", -1)) for r in records], dtype=np.int64)
    return int.from_bytes(hashlib.blake2b(ids.tobytes(), digest_size=8).digest(), "little")


class ResumableMaskingCollator(MaskingCollator):
    """The masking collator with resumable randomness: each batch draws from a generator seeded by
    (seed, epoch, the batch's record ids), so a run resumed from a checkpoint masks every later
    batch exactly as the uninterrupted run would. The sentence label is named for the models
    (``next_sentence_label`` for NSP and SOP alike: 1 = random next / swapped)."""

    def generator(self) -> np.random.Generator:
        return self._batch_rng

    def __call__(self, records):
        seed = np.random.SeedSequence([int(self.seed), int(self._epoch), _batch_seed(records)])
        self._batch_rng = np.random.default_rng(seed)
        out = super().__call__(records)
        if "sentence_order_label" in out:
            out["next_sentence_label"] = out.pop("sentence_order_label")
        return out
