"""PromptModel: a masked language model that classifies by scoring label words in the template's blank.

Its inputs are templated texts whose blank holds as many [MASK] slots as the longest label word; a shorter word
is scored on an input with its own number of slots (the extra [MASK] tokens are taken out), so words of any
length compete fairly. Scores of a label word ``w = t1..tn`` (log-probabilities from the MLM head):

* ``mean``: the mean over its slots of log p(t_i), all slots masked (one pass per word length; the default);
* ``joint``: their sum, the joint probability with one [MASK] per character (words of one length only: sums of
  different lengths are not comparable);
* ``autoregressive``: PET's left-to-right filling: t_i is scored with t_1..t_{i-1} already in their slots
  (n passes per word, at evaluation; training uses ``mean``), averaged over the word.

A label's score is the log of the mean probability of its words. Training is PET's: cross-entropy over the
labels' scores. The model saves as its masked LM plus ``prompt.json`` (template, verbaliser, scoring).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

from ..errors import SettingsError
from ..modeling.losses import choice_loss
from ..modeling.sparse_bert import mlm_head
from ..text.open_glyphs import GLYPH_IDS
from .template import Template, Verbalizer

SCORINGS = ("mean", "joint", "autoregressive")
PROMPT_FILE = "prompt.json"


def label_word_ids(tokenizer, verbalizer: Verbalizer, template: Template | None = None, scoring: str = "mean"):
    """Token ids of every label word ([label][word] -> ids), checked: no [UNK], lengths the template and the
    scoring rule can take."""
    ids = []
    for label, words in verbalizer.words.items():
        row = []
        for word in words:
            tokens = tokenizer(word, add_special_tokens=False)["input_ids"]
            if not tokens or tokenizer.unk_token_id in tokens:
                raise SettingsError(
                    f"verbalizer: label word {word!r} of label {label!r} has characters outside the "
                    "vocabulary ([UNK]); choose another word"
                )
            row.append(tokens)
        ids.append(row)
    lengths = {len(w) for row in ids for w in row}
    fixed = template.fixed_slots if template is not None else None
    if fixed is not None and lengths != {fixed}:
        raise SettingsError(
            f"template {template.pattern!r} has {fixed} [MASK] slot(s) but label words have "
            f"{sorted(lengths)} tokens; write {{mask}} for a blank as long as each word"
        )
    if scoring == "joint" and len(lengths) > 1:
        raise SettingsError(
            f"scoring=joint needs label words of one length (they have {sorted(lengths)} tokens): "
            "choose words of equal length, or scoring=mean"
        )
    if scoring not in SCORINGS:
        raise SettingsError(f"scoring={scoring!r}: expected one of {', '.join(SCORINGS)}")
    return ids


class PromptModel(nn.Module):
    def __init__(
        self,
        mlm: nn.Module,
        word_ids: list[list[list[int]]],
        mask_token_id: int,
        scoring: str = "mean",
        word_pinyin: list[list[list[list[int]]]] | None = None,
        prompt: dict | None = None,
    ):
        super().__init__()
        self.mlm, self.word_ids, self.mask_token_id, self.scoring = mlm, word_ids, mask_token_id, scoring
        self.word_pinyin = word_pinyin  # the readings a filled slot carries (autoregressive, GlyceBERT)
        self.prompt = prompt or {}
        self.config = mlm.config
        self.max_slots = max(len(w) for row in word_ids for w in row)

    # -- inputs with fewer slots or filled slots ----------------------------------------------------------------
    def checkpoint_state_dict(self) -> dict:
        """What a Trainer checkpoint holds: copies, since the masked LM ties its decoder to the embeddings and
        safetensors refuses shared storage (the best checkpoint loads back into the tied parameters)."""
        return {k: v.detach().clone() for k, v in self.state_dict().items()}

    def _slots(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(B, S) positions of the [MASK] slots of each row."""
        masked = input_ids == self.mask_token_id
        if not bool((masked.sum(-1) == self.max_slots).all()):
            raise ValueError(f"every input needs the template's {self.max_slots} [MASK] slots")
        return masked.nonzero()[:, 1].reshape(input_ids.shape[0], self.max_slots)

    def _shorter(self, inputs: dict, slots: torch.Tensor, length: int) -> tuple[dict, torch.Tensor]:
        """The inputs with only the first ``length`` slots (the others removed, the rows padded at the end)."""
        if length == self.max_slots:
            return inputs, slots
        ids = inputs["input_ids"]
        batch, width = ids.shape
        keep = torch.ones_like(ids, dtype=torch.bool)
        keep.scatter_(1, slots[:, length:], False)
        order = torch.sort((~keep).to(torch.int8), dim=1, stable=True).indices  # kept positions first, in order
        out = {}
        for key, value in inputs.items():
            shaped = value.reshape(batch, width, -1)
            gathered = torch.gather(shaped, 1, order[:, :, None].expand_as(shaped)).reshape(value.shape)
            out[key] = gathered
        out["attention_mask"] = out["attention_mask"] * keep.gather(1, order).to(out["attention_mask"].dtype)
        return out, slots[:, :length]

    def _log_probs(self, inputs: dict, slots: torch.Tensor) -> torch.Tensor:
        """(B, n, V) log-probabilities at the slots: the MLM head runs at the slots only (the vocabulary
        projection at every position would cost more than the encoder)."""
        hidden = self.mlm.base_model(**inputs).last_hidden_state  # (B, T, H)
        picked = torch.gather(hidden, 1, slots[:, :, None].expand(-1, -1, hidden.shape[-1]))  # (B, n, H)
        return mlm_head(self.mlm)(picked).float().log_softmax(-1)

    # -- scores -----------------------------------------------------------------------------------------------
    def word_scores(self, inputs: dict) -> list[list[torch.Tensor]]:
        """[label][word] -> (B,) score of each label word."""
        slots = self._slots(inputs["input_ids"])
        by_length = {}
        for length in sorted({len(w) for row in self.word_ids for w in row}):
            short, short_slots = self._shorter(inputs, slots, length)
            by_length[length] = (short, short_slots, self._log_probs(short, short_slots))
        rule = self.scoring if not self.training else "mean"
        scores = []
        for l, row in enumerate(self.word_ids):
            scores.append([self._word_score(by_length[len(w)], w, l, k, rule) for k, w in enumerate(row)])
        return scores

    def _word_score(self, prepared, word: list[int], label: int, index: int, rule: str) -> torch.Tensor:
        inputs, slots, log_probs = prepared
        ids = torch.tensor(word, device=log_probs.device)
        per_slot = log_probs[:, torch.arange(len(word)), ids]  # (B, n)
        if rule == "joint":
            return per_slot.sum(-1)
        if rule == "mean" or len(word) == 1:
            return per_slot.mean(-1)
        total = per_slot[:, 0]
        for step in range(1, len(word)):  # fill t_1..t_step, score t_{step+1}
            filled = {k: v.clone() for k, v in inputs.items()}
            rows = torch.arange(slots.shape[0], device=slots.device)
            for i in range(step):
                filled["input_ids"][rows, slots[:, i]] = word[i]
                if GLYPH_IDS in filled:  # a filled slot shows the glyph of what it holds, not [MASK]'s
                    filled[GLYPH_IDS][rows, slots[:, i]] = word[i]
                if "pinyin_ids" in filled and self.word_pinyin is not None:
                    shaped = filled["pinyin_ids"].view(slots.shape[0], filled["input_ids"].shape[1], -1)
                    shaped[rows, slots[:, i]] = torch.tensor(self.word_pinyin[label][index][i], device=slots.device)
            total = total + self._log_probs(filled, slots)[:, step, word[step]]
        return total / len(word)

    def forward(self, input_ids, attention_mask=None, labels=None, **inputs) -> SequenceClassifierOutput:
        inputs = {
            "input_ids": input_ids,
            "attention_mask": attention_mask if attention_mask is not None else torch.ones_like(input_ids),
            **{k: v for k, v in inputs.items() if v is not None},
        }
        words = self.word_scores(inputs)
        scores = torch.stack([torch.logsumexp(torch.stack(row, -1), -1) - math.log(len(row)) for row in words], -1)
        loss = choice_loss(scores, labels)
        return SequenceClassifierOutput(loss=loss, logits=scores)

    # -- saving -----------------------------------------------------------------------------------------------
    def save_pretrained(self, directory: str, **kwargs) -> None:
        self.mlm.save_pretrained(directory, **kwargs)
        record = {**self.prompt, "scoring": self.scoring}
        (Path(directory) / PROMPT_FILE).write_text(
            json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
