"""What an encoder needs to generate text: a prefix-LM attention mask and the inputs of each decoding step.

A prefix LM (UniLM's sequence-to-sequence mask) reads ``[CLS] source [SEP] target [SEP]``: every position sees
the whole source (the first ``prefix_lengths`` columns, padding excepted) and the target positions before it; the
source never sees the target. With ``prefix_lengths`` None the mask is plain causal (a decoder).

During generation every new token is fed with (see :class:`GenerationInputs`):

- **pinyin**: the prompt keeps the readings its tokenizer gave it (in context); each generated token gets its
  vocabulary entry's own reading (``token_pinyin``, (V, P), as ELECTRA's replaced tokens do): a token is chosen
  one at a time, before the text around it exists to read it in context;
- **token type**: 1 after a prefix-LM's source (the target segment), else the prompt's last type;
- **position**: the count of real tokens before it (left-padded prompts of a batch continue where each ends);
- **prefix**: the prompt's columns stay bidirectional (prefix LM), so cached and uncached decoding agree.

This file imports only torch and transformers; it is copied beside saved checkpoints with the model file.
"""

from __future__ import annotations

import torch

#: the token type of the target segment after a prefix-LM's source
TARGET_TOKEN_TYPE = 1


def prefix_mask_function(prefix_lengths: torch.Tensor):
    """transformers' mask function (batch, head, query, key) -> allowed: keys before ``prefix_lengths[batch]``
    are visible to every query (OR-ed with the causal rule; padding still applies)."""

    def visible(batch_idx, head_idx, q_idx, kv_idx):
        return kv_idx < prefix_lengths[batch_idx]

    return visible


def positions_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Each column's position: the number of real tokens before it (left padding shifts nothing). (B, L) -> (B, L)"""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


class GenerationInputs:
    """``generate()`` support for a model whose forward takes ``pinyin_ids``, ``token_type_ids``, ``position_ids``
    and ``prefix_lengths``; mixed into the LM heads before transformers' ``GenerationMixin``. The model has a
    ``token_pinyin`` buffer (V, P) and ``config.prefix_lm`` says whether the prompt is a bidirectional source."""

    def generate(self, inputs=None, **kwargs):
        """transformers' generate(), remembering the prompt's length (the source of a prefix LM, and where the
        prompt's own pinyin ends)."""
        prompt = inputs if inputs is not None else kwargs.get("input_ids")
        if prompt is not None:
            kwargs.setdefault("prompt_length", prompt.shape[1])
        return super().generate(inputs, **kwargs)

    def prepare_inputs_for_generation(
        self,
        input_ids,
        pinyin_ids=None,
        token_type_ids=None,
        prompt_length=None,
        attention_mask=None,
        glyph_ids=None,
        **kwargs,
    ):
        kwargs.pop("position_ids", None)
        inputs = super().prepare_inputs_for_generation(input_ids, attention_mask=attention_mask, **kwargs)
        full = input_ids.shape[1]
        fed = inputs["input_ids"].shape[1]  # the columns not yet in the cache
        prompt = prompt_length or full
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        inputs["position_ids"] = positions_from_mask(attention_mask)[:, full - fed :]
        inputs["token_type_ids"] = self._generated_types(input_ids, token_type_ids, prompt)[:, full - fed :]
        pinyin = self._generated_pinyin(input_ids, pinyin_ids, prompt)
        if pinyin is not None:
            inputs["pinyin_ids"] = pinyin[:, full - fed :]
        if glyph_ids is not None:  # the prompt's own glyphs (open glyphs); a generated token is a vocabulary entry
            inputs["glyph_ids"] = torch.cat([glyph_ids[:, :prompt], input_ids[:, prompt:]], dim=1)[:, full - fed :]
        if fed == full and getattr(self.config, "prefix_lm", False):
            # the whole text is fed (no cache yet, or none kept): its prompt columns are the source. A cached
            # step's new tokens come after the source and see every column before them anyway
            inputs["prefix_lengths"] = torch.full((input_ids.shape[0],), prompt, device=input_ids.device)
        return inputs

    def _generated_types(self, input_ids, token_type_ids, prompt: int) -> torch.Tensor:
        """(B, L): the prompt's types, then the target's (prefix LM) or the prompt's last one."""
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids[:, :prompt])
        prompt_types = token_type_ids[:, :prompt]
        generated = input_ids.shape[1] - prompt
        if getattr(self.config, "prefix_lm", False):  # type: ignore[attr-defined]
            after = torch.full_like(input_ids[:, prompt:], TARGET_TOKEN_TYPE)
        else:
            after = prompt_types[:, -1:].expand(-1, generated)
        return torch.cat([prompt_types, after], dim=1)

    def _generated_pinyin(self, input_ids, pinyin_ids, prompt: int) -> torch.Tensor | None:
        """(B, L, P): the prompt's pinyin in context, each generated token's own reading; None without pinyin."""
        table = getattr(self, "token_pinyin", None)
        if table is None or not getattr(self.config, "use_pinyin", False):  # type: ignore[attr-defined]
            return None
        slots = table.shape[1]
        if pinyin_ids is None:
            prompt_pinyin = table[input_ids[:, :prompt]]  # no readings given: each token's own
        else:
            prompt_pinyin = pinyin_ids.reshape(input_ids.shape[0], -1, slots)[:, :prompt]
        return torch.cat([prompt_pinyin, table[input_ids[:, prompt:]]], dim=1)


__all__ = ["GenerationInputs", "TARGET_TOKEN_TYPE", "positions_from_mask", "prefix_mask_function"]
