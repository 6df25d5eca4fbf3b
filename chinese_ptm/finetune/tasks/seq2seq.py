"""Generated text (``--task seq2seq``): the pretrained encoder is itself the decoder, UniLM-style.

One sequence ``[CLS] source [SEP] target [SEP]`` (token types 0, then 1) goes through the checkpoint's encoder
with a prefix-LM mask: the source bidirectionally, the target left to right; the MLM head predicts each target
token from the position before it (:class:`~chinese_ptm.modeling.GlyceBertLMHeadModel`, BERT's
``BertPrefixLMHeadModel``). Target tokens read their vocabulary entry's own pinyin in training as they do when
generated (one at a time, before the text around them exists). Dev and test are decoded by beam search
(``task.num_beams``, ``task.length_penalty``, at most ``task.max_target_length`` tokens) and scored by
:func:`~chinese_ptm.finetune.metrics.generation_scores`.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from ...modeling.electra import token_pinyin_table
from ...modeling.load_report import quiet_load_report
from ...modeling.losses import IGNORE_INDEX
from ...text.pinyin import PINYIN_SLOTS
from ..examples import DataError, Seq2SeqExample, row_id, text_field
from ..features import GLYPH_IDS, Encoded
from ..metrics import generation_scores
from ..registry import TaskKind, register_kind
from ..task import CHAR_ACCURACY, SEQ2SEQ
from ..transliteration import (
    SOURCE_SYLLABLES,
    Transliterator,
    ime_examples,
    in_stand_ins,
    is_aligned,
    syllable_stand_ins,
)

logger = logging.getLogger(__name__)
ENCODER_DECODER = "encoder-decoder"
#: the token types of the two segments
SOURCE_TYPE, TARGET_TYPE = 0, 1
#: skipped rows reported with their file and line, at most this many per run
SHOWN_SKIPS = 5


class Seq2SeqKind(TaskKind):
    name = SEQ2SEQ
    user_names = {"seq2seq": False}
    main_metric = CHAR_ACCURACY
    head = "LMHeadModel"
    standard_head_only = True
    presets = {"pd98-ime": ime_examples}
    generates = True
    _shown_skips = 0

    def needed_fields(self, settings) -> list[str]:
        return [settings.source_field]

    def label_field(self, settings) -> str:
        return settings.target_field

    def read_example(self, row, where, index, settings, context) -> Seq2SeqExample | str:
        source = text_field(row, settings.source_field, where)
        target = text_field(row, settings.target_field, where) if context.labelled else None
        empty = "source" if not source.strip() else "target" if target is not None and not target.strip() else ""
        if empty:
            self._show_skip(f"{where}: empty {empty}: skipped")
            return f"empty {empty}"
        if target is not None and len(target) > settings.max_target_length - 1:
            if settings.long_targets == "refuse":
                raise DataError(
                    f"{where}: a target of {len(target)} characters is longer than task.max_target_length "
                    f"({settings.max_target_length} tokens with [SEP]): raise it, or set task.long_targets=truncate"
                )
            context.notes["target cut to task.max_target_length (kept, not skipped)"] += 1
            target = target[: settings.max_target_length - 1]
        return Seq2SeqExample(row_id(row, index), source, target)

    def _show_skip(self, message: str) -> None:
        if self._shown_skips < SHOWN_SKIPS:
            self._shown_skips += 1
            logger.warning(message)

    def head_config(self, task) -> dict:
        return {"is_decoder": True, "prefix_lm": True}

    def build_model(self, task, config, checkpoint_kind: str):
        """task.seq2seq encoder-decoder: the checkpoint as encoder, task.decoder (default: the same) as decoder;
        unilm: None (the LM head class on the checkpoint)."""
        if config.task.seq2seq != ENCODER_DECODER:
            return None
        return encoder_decoder(config.model.path, config.task.decoder or config.model.path, config.model.scratch)

    def saved_model(self, directory, record: dict):
        if record["task_settings"].get("seq2seq") != ENCODER_DECODER:
            return None
        from transformers import EncoderDecoderModel

        return EncoderDecoderModel.from_pretrained(str(directory))

    def finish_model(self, model, tokenizer) -> None:
        """Generated tokens read their vocabulary entry's pinyin (the decoder keeps the table, saved with it);
        a text starts after [CLS] and ends at [SEP] (the generation config, saved with it too)."""
        decoder = getattr(model, "decoder", model)
        if hasattr(decoder, "set_token_pinyin"):
            decoder.set_token_pinyin(token_pinyin_table(tokenizer, decoder.config.pinyin_slots))
        for holder in (model.config, model.generation_config):
            holder.decoder_start_token_id = tokenizer.cls_token_id
            holder.pad_token_id = tokenizer.pad_token_id
        model.generation_config.eos_token_id = tokenizer.sep_token_id
        # saved with it: plain transformers' generate() on the saved model decodes with the cache too, although
        # the Trainer writes config.use_cache=False
        model.generation_config.use_cache = True

    def encode(self, encoder, chunk: list[Seq2SeqExample], start: int, train: bool, out: Encoded) -> None:
        tokenizer, hp = encoder.tokenizer, encoder.hp
        if not out.vocab:
            out.vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
            out.unk_id = tokenizer.unk_token_id
        room = hp.max_length - target_budget(hp) - 3  # source tokens beside [CLS], [SEP], a target and its [SEP]
        sources = tokenizer(
            self._sources(tokenizer, chunk, hp), add_special_tokens=False, truncation=True, max_length=room
        )
        targets = [e.target or "" for e in chunk] if train else None
        target_ids = tokenizer(targets, add_special_tokens=False)["input_ids"] if targets else None
        table = self._pinyin_table(tokenizer) if encoder.with_pinyin else None
        for i in range(len(chunk)):
            feature = self._prompt(tokenizer, sources, i, table)
            if target_ids is not None and hp.seq2seq == ENCODER_DECODER:
                feature = decoder_labels(tokenizer, feature, target_ids[i][: target_budget(hp)])
            elif target_ids is not None:
                feature = self._with_target(tokenizer, feature, target_ids[i][: target_budget(hp)], table)
            if hp.seq2seq == ENCODER_DECODER:
                feature.pop("prefix_lengths")
            out.features.append(feature)
            out.owners.append(start + i)

    def _sources(self, tokenizer, chunk: list[Seq2SeqExample], settings) -> list[str]:
        """The source texts the tokenizer reads: as written, or each syllable as its stand-in character."""
        if settings.source_units != SOURCE_SYLLABLES:
            return [e.source for e in chunk]
        stand_ins = self._per_tokenizer("stand_ins", tokenizer, lambda: syllable_stand_ins(tokenizer.get_vocab()))
        return [in_stand_ins(e.source, stand_ins) for e in chunk]

    def _pinyin_table(self, tokenizer) -> np.ndarray:
        return self._per_tokenizer(
            "pinyin_table", tokenizer, lambda: token_pinyin_table(tokenizer, PINYIN_SLOTS).numpy().astype(np.int8)
        )

    def _per_tokenizer(self, name: str, tokenizer, build):
        """What ``build()`` returns, built once for each tokenizer in turn."""
        cached = self.__dict__.get(name)
        if cached is None or cached[0] is not tokenizer:
            cached = self.__dict__[name] = (tokenizer, build())
        return cached[1]

    def _prompt(self, tokenizer, sources, i: int, table) -> dict[str, np.ndarray]:
        """``[CLS] source [SEP]``, all of it the bidirectional prefix."""
        ids = np.asarray([tokenizer.cls_token_id, *sources["input_ids"][i], tokenizer.sep_token_id], dtype=np.int32)
        feature = {
            "input_ids": ids,
            "token_type_ids": np.full(len(ids), SOURCE_TYPE, dtype=np.int8),
            "attention_mask": np.ones(len(ids), dtype=np.int8),
            "prefix_lengths": np.asarray(len(ids), dtype=np.int64),
        }
        if GLYPH_IDS in sources:  # open glyphs: a source character outside the vocabulary shows its own glyph
            glyphs = [tokenizer.cls_token_id, *sources[GLYPH_IDS][i], tokenizer.sep_token_id]
            feature[GLYPH_IDS] = np.asarray(glyphs, dtype=np.int32)
        if table is not None:
            rows = np.asarray(sources["pinyin_ids"][i], dtype=np.int8).reshape(-1, table.shape[1])
            blank = np.zeros((1, table.shape[1]), dtype=np.int8)  # [CLS] and [SEP] have no reading
            feature["pinyin_ids"] = np.concatenate([blank, rows, blank])
        return feature

    def _with_target(self, tokenizer, prompt: dict, target: list[int], table) -> dict[str, np.ndarray]:
        """The prompt followed by ``target [SEP]``; labels are the tokens themselves (the model shifts them)."""
        tail = np.asarray([*target, tokenizer.sep_token_id], dtype=np.int32)
        ids = np.concatenate([prompt["input_ids"], tail])
        labels = np.full(len(ids), IGNORE_INDEX, dtype=np.int64)
        labels[len(prompt["input_ids"]) :] = tail
        feature = {
            "input_ids": ids,
            "token_type_ids": np.concatenate([prompt["token_type_ids"], np.full(len(tail), TARGET_TYPE, np.int8)]),
            "attention_mask": np.ones(len(ids), dtype=np.int8),
            "prefix_lengths": prompt["prefix_lengths"],
            "labels": labels,
        }
        if table is not None:
            feature["pinyin_ids"] = np.concatenate([prompt["pinyin_ids"], table[tail]])
        if GLYPH_IDS in prompt:  # target tokens are vocabulary entries: their own glyphs
            feature[GLYPH_IDS] = np.concatenate([prompt[GLYPH_IDS], tail])
        return feature

    # -- generation ---------------------------------------------------------------------------------------------
    def prediction_step(self, model, inputs: dict, settings) -> torch.Tensor:
        """Generated token ids (B, L) of a batch of right-padded prompts: a prefix LM continues each prompt (moved
        to the left of its row), an encoder-decoder reads them as they are and starts its decoder at [CLS]."""
        paired = getattr(model.config, "is_encoder_decoder", False)
        prompt = {k: v for k, v in inputs.items() if k != "labels"} if paired else left_padded(inputs)
        if paired:
            prompt.pop("token_type_ids", None)  # the encoder's, all 0: the generic decoding step would slice them
        decoder_config = model.config.decoder if paired else model.config
        fed = 1 if paired else prompt["input_ids"].shape[1]  # the decoder's columns before the first new token
        generated = model.generate(
            **prompt,
            max_new_tokens=max(1, min(settings.max_target_length, decoder_config.max_position_embeddings - fed)),
            num_beams=settings.num_beams,
            length_penalty=settings.length_penalty,
            do_sample=False,
            use_cache=True,  # the same tokens, 3-10x faster; a trained model's config says False (the Trainer's)
        )
        return generated[:, fed:]

    def numpy_outputs(self, output) -> tuple:
        return (output.numpy(),)

    def decode(self, task, output, encoded, examples, settings) -> list[str]:
        ids = output[0] if isinstance(output, (tuple, list)) else output
        return [text_of(row, encoded) for row in np.asarray(ids)]

    def metrics(self, task, examples, predicted) -> dict:
        return generation_scores(predicted, [e.target for e in examples])

    def prediction_row(self, task, example, predicted) -> dict:
        return {"id": example.uid, "source": example.source, "prediction": predicted}

    def file_row(self, task, example) -> dict:
        return {"id": example.uid, "source": example.source, "target": example.target}

    def baselines(self, task, train, target) -> dict:
        """Copying the source; on a transliteration task (one syllable per character, pd98-ime) the input-method
        baselines: the most frequent character per syllable and a bigram HMM."""
        out = {"copy the source": [e.source for e in target.examples]}
        if is_aligned(train.examples):
            model = Transliterator(train.examples)
            out["most frequent character"] = [model.most_frequent(e.source) for e in target.examples]
            out["bigram HMM (Viterbi)"] = [model.viterbi(e.source) for e in target.examples]
        return out


def encoder_decoder(encoder: str, decoder: str, scratch: bool):
    """transformers' EncoderDecoderModel warm-started from two checkpoints (Rothe et al. 2020): the decoder gets
    a causal mask and new cross-attention weights; ``scratch``: the same architecture, random weights."""
    import warnings

    from transformers import EncoderDecoderModel

    # transformers warns at every training step that its loss moved out of the decoder in v4.12 (2021): not news
    warnings.filterwarnings("ignore", message="Version v4.12.0 introduces", category=FutureWarning)
    with quiet_load_report():  # the decoder's cross-attention is new by design: no table of "missing" weights
        model = EncoderDecoderModel.from_encoder_decoder_pretrained(encoder, decoder)
    if scratch:
        model = EncoderDecoderModel(model.config)
    return model


def decoder_labels(tokenizer, prompt: dict, target: list[int]) -> dict[str, np.ndarray]:
    """An encoder-decoder feature: the source for the encoder and ``target [SEP]`` as labels (the model feeds
    the decoder ``[CLS] target``); both sides padded to one width, since one collator pads a batch's features."""
    labels = np.asarray([*target, tokenizer.sep_token_id], dtype=np.int64)
    width = max(len(prompt["input_ids"]), len(labels))
    feature = {}
    for key, value in prompt.items():
        if key == "prefix_lengths":
            feature[key] = value
            continue
        fill = tokenizer.pad_token_id if key in ("input_ids", GLYPH_IDS) else 0
        widths = [(0, width - len(value))] + [(0, 0)] * (value.ndim - 1)
        feature[key] = np.pad(value, widths, constant_values=fill)
    feature["labels"] = np.pad(labels, (0, width - len(labels)), constant_values=IGNORE_INDEX)
    return feature


def target_budget(settings) -> int:
    """Target tokens kept before their [SEP]: ``max_target_length - 1``, and at most half of what a sequence
    holds besides the three special tokens (the source keeps the rest)."""
    return max(1, min(settings.max_target_length - 1, (settings.max_length - 3) // 2))


def left_padded(inputs: dict) -> dict:
    """The batch's prompt tensors with each row's padding moved to the left (generation appends at the end)."""
    mask = inputs["attention_mask"]
    width = mask.shape[1]
    shift = width - mask.long().sum(1)  # (B,) padding of each row
    order = (torch.arange(width, device=mask.device)[None, :] - shift[:, None]) % width  # (B, T): source column
    out = {}
    for key in ("input_ids", "attention_mask", "token_type_ids", "pinyin_ids", GLYPH_IDS):
        if key in inputs:
            value = inputs[key]
            index = order if value.dim() == 2 else order[..., None].expand_as(value)
            out[key] = value.gather(1, index)
    return out


def text_of(ids: np.ndarray, encoded: Encoded) -> str:
    """Generated ids -> text: up to the first [SEP], special tokens dropped, ``##`` pieces joined, a Latin word
    spaced from the one before; [UNK] becomes U+FFFD (one character, never right)."""
    pieces: list[str] = []
    for token_id in ids.tolist():
        if token_id < 0:  # padding between batches
            continue
        token = encoded.vocab[token_id] if token_id < len(encoded.vocab) else ""
        if token == "[SEP]":
            break
        if token_id == encoded.unk_id:
            pieces.append("\ufffd")
        elif token.startswith("##"):
            pieces.append(token[2:])
        elif not (token.startswith("[") and token.endswith("]")):
            spaced = pieces and token.isascii() and token.isalnum() and pieces[-1][-1:].isascii()
            pieces.append((" " if spaced else "") + token)
    return "".join(pieces)


SEQ2SEQ_KIND = register_kind(Seq2SeqKind())
