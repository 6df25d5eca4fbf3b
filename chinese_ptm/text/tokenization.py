"""GlyceBertTokenizer: the transformers BERT tokenizer (Rust backend) plus ``pinyin_ids``.

Every call returns what ``BertTokenizer`` returns and ``pinyin_ids``: 8 ids per token, the
contextual reading of the token's character when the token covers exactly one character of the
input, zeros otherwise. The ids are bit-identical to the original ChineseBERT
tokenizer's; readings of a pair are computed on each side on its own.
"""

from __future__ import annotations

import functools
import json
import sys
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from transformers import BatchEncoding, BertTokenizer
from transformers.tokenization_utils_base import PaddingStrategy, TruncationStrategy

from .open_glyphs import GLYPH_IDS, encoding_glyph_ids, flat_glyph_ids
from .pinyin import PINYIN_SLOTS, reading_engine
from .pinyin_tables import PinyinTables
from .token_batch import (
    DirectTables,
    Layout,
    LazyEncodings,
    check_text,
    content_tokens,
    padded_lengths,
    positions_in_rows,
    split_rows,
)
from .token_readings import Segments
from .vocab import VOCAB_FILE, read_vocab_tokens

if TYPE_CHECKING:
    from tokenizers import Tokenizer

DEFAULT_MAX_LENGTH = 512


def read_vocab(path: str | Path) -> dict[str, int]:
    """``{token: id}`` of a ``vocab.txt`` (id = line number), with clear errors."""
    return {token: idx for idx, token in enumerate(read_vocab_tokens(path))}


class GlyceBertTokenizer(BertTokenizer):
    """BERT WordPiece tokenizer with ChineseBERT pinyin ids.

    Args:
        vocab_file: path of a ``vocab.txt``.
        vocab: a ``{token: id}`` dict (instead of ``vocab_file``).
        pinyin2tensor_file: the vocabulary's ``pinyin2tensor.json`` (its folder holds the other two
            tables); when absent the tables are built from the vocabulary (about a second).
        pinyin_tables: a ready :class:`~chinese_ptm.text.pinyin.PinyinTables`.
        normalize_text: fold full-width forms, curly quotes, dashes and ellipses to ASCII before
            WordPiece (offsets still point into the original text; readings are unchanged).
            Off by default: the original ChineseBERT tokenizer does not do it.
        open_glyphs: also return ``glyph_ids`` (-code point where an [UNK] is one character; off: the original).
    """

    vocab_files_names = {"vocab_file": VOCAB_FILE, "pinyin2tensor_file": "config/pinyin2tensor.json"}
    #: whether the pieces of a call are this tokenizer's own cut of each text (see GlyceBertWordTokenizer)
    _cuts_words = False
    model_input_names = ["input_ids", "token_type_ids", "attention_mask", "pinyin_ids"]
    # the Rust backend, set by TokenizersBackend.__init__ (which declares it ``_tokenizer = None``)
    _tokenizer: Tokenizer  # type: ignore[assignment]

    def __init__(
        self,
        vocab_file: str | None = None,
        vocab: dict[str, int] | str | None = None,
        pinyin2tensor_file: str | None = None,
        pinyin_tables: PinyinTables | None = None,
        normalize_text: bool = False,
        open_glyphs: bool = False,
        **kwargs,
    ):
        if isinstance(vocab, (str, Path)):
            vocab_file, vocab = str(vocab), None
        if vocab is None and vocab_file is not None:
            vocab = read_vocab(vocab_file)
        if vocab is None:
            raise ValueError("GlyceBertTokenizer needs a vocab_file (a vocab.txt) or a vocab dict")
        kwargs.setdefault("model_max_length", DEFAULT_MAX_LENGTH)
        super().__init__(vocab=vocab, **kwargs)
        self.vocab_file = vocab_file
        self.normalize_text = bool(normalize_text)
        self.init_kwargs["normalize_text"] = self.normalize_text
        self.open_glyphs = self.init_kwargs["open_glyphs"] = bool(open_glyphs)  # also return glyph_ids
        if self.open_glyphs:
            self.model_input_names = [*self.model_input_names, GLYPH_IDS]
        if pinyin_tables is None:
            if pinyin2tensor_file is not None and Path(pinyin2tensor_file).is_file():
                pinyin_tables = PinyinTables.load(Path(pinyin2tensor_file).parent)
            else:
                pinyin_tables = PinyinTables.build(self.ordered_vocab())
        self.pinyin_tables = pinyin_tables
        self._engine = reading_engine()
        self._rows = pinyin_tables.rows(self._engine)  # (R, 8) ids of every interned reading
        self._row_lists = self._rows.tolist()
        self._direct = DirectTables()

    # -- the aligned fast path -----------------------------------------------------------------
    def one_token_chars(self) -> np.ndarray:
        """Code points that always become exactly one token spanning just themselves.

        Chinese characters (isolated by BERT's normaliser) and punctuation (split off by its
        pre-tokenizer) qualify; each candidate is checked once against the backend itself. In a
        text made only of such characters, token ``1 + i`` is character ``i``, so no offsets
        have to be read back from the backend.
        """
        table = self._direct.one_token_chars
        if table is None:
            with self._direct.lock:
                self._backend_whole()
                table = self._direct.fill_characters(self._tokenizer, self._engine.max_codepoint)
        return table

    def _only_special_tokens_added(self) -> bool:
        """True when no token was added besides the special ones: an added token made of Chinese characters or
        punctuation would merge several of them, which the fast paths assume never happens."""
        size = self._tokenizer.get_vocab_size(with_added_tokens=True)
        if self._direct.added_state is None or self._direct.added_state[0] != size:
            specials = set(self.all_special_tokens)
            plain_added = [t for t in self.get_added_vocab() if t not in specials]
            self._direct.added_state = (size, not plain_added)
        return self._direct.added_state[1]

    def _aligned_ok(self, kwargs: dict, split: bool, pair: bool) -> int | None:
        """When the fast path applies to this call, the most content tokens a text may keep
        (``sys.maxsize`` without truncation); ``None`` when it does not apply."""
        if split or pair or self.normalize_text or not kwargs.get("add_special_tokens", True):
            return None
        if kwargs.get("return_overflowing_tokens") or getattr(self, "_disable_aligned_path", False):
            return None
        padding = kwargs.get("padding_strategy", PaddingStrategy.DO_NOT_PAD)
        side = kwargs.get("padding_side") or self.padding_side
        if padding != PaddingStrategy.DO_NOT_PAD and side != "right":
            return None
        if not self._only_special_tokens_added():
            return None
        truncation = kwargs.get("truncation_strategy", TruncationStrategy.DO_NOT_TRUNCATE)
        max_length = kwargs.get("max_length")
        if truncation == TruncationStrategy.DO_NOT_TRUNCATE or max_length is None:
            return sys.maxsize
        if self.truncation_side != "right" or max_length < 2:
            return None
        return max_length - 2

    # -- vocabulary and files ------------------------------------------------------------------
    def ordered_vocab(self) -> list[str]:
        """The vocabulary's tokens in id order (without added tokens)."""
        vocab = self._tokenizer.get_vocab(with_added_tokens=False)
        tokens = [""] * len(vocab)
        for token, idx in vocab.items():
            tokens[idx] = token
        return tokens

    # transformers' return type says tuple[str] (one file); every tokenizer returns a tuple of all the files it wrote
    def save_vocabulary(  # type: ignore[override]
        self, save_directory: str, filename_prefix: str | None = None
    ) -> tuple[str, ...]:
        """Write ``vocab.txt`` and the pinyin tables (``config/*.json``, the original layout)."""
        directory = Path(save_directory)
        directory.mkdir(parents=True, exist_ok=True)
        vocab_path = directory / ((filename_prefix + "-" if filename_prefix else "") + VOCAB_FILE)
        vocab_path.write_text("".join(t + "\n" for t in self.ordered_vocab()), encoding="utf-8")
        return (str(vocab_path), *self.pinyin_tables.save(directory))

    def save_pretrained(self, save_directory, *args, **kwargs):
        files = super().save_pretrained(save_directory, *args, **kwargs)
        return tuple(files) + self.save_vocabulary(str(save_directory))

    # -- encoding ------------------------------------------------------------------------------
    def _encode_plus(self, text, text_pair=None, **kwargs):
        with self._direct.lock:  # the backend's settings are shared state: see DirectTables.lock
            return self._encode_plus_locked(text, text_pair, **kwargs)

    def _encode_plus_locked(self, text, text_pair=None, **kwargs):
        split = bool(kwargs.get("is_split_into_words", False))
        check_text(text, "text", split)
        if text_pair is not None:
            check_text(text_pair, "text_pair", split)
        batched = isinstance(text, (list, tuple)) and (
            not split or (len(text) > 0 and isinstance(text[0], (list, tuple)))
        )
        items_a = list(text) if batched else [text]
        items_b = (list(text_pair) if batched else [text_pair]) if text_pair is not None else None
        if not batched and text_pair is not None and not text_pair:
            items_b = None  # transformers treats an empty pair as no pair
        if items_b is not None and len(items_b) != len(items_a):
            raise ValueError(f"text has {len(items_a)} items but text_pair has {len(items_b)}; pass one pair per text")

        want_offsets = bool(kwargs.pop("return_offsets_mapping", False))
        keep = self._aligned_ok(kwargs, split, items_b is not None)
        if keep is not None and items_a and self._direct_call_ok(kwargs):
            return self._call_direct(items_a, batched, keep, want_offsets, kwargs)
        segments = Segments(items_a, items_b, split, self.normalize_text, cut=self._cuts_words)
        return_tensors = kwargs.get("return_tensors")
        fed_a, fed_b = segments.fed()
        texts_a, texts_b = fed_a, fed_b  # every item, before a single one is unwrapped
        if not batched:
            fed_a = fed_a[0]
            fed_b = fed_b[0] if fed_b is not None else None
        out = super()._encode_plus(
            fed_a, fed_b, return_offsets_mapping=want_offsets and not self.normalize_text, **kwargs
        )
        encodings = out.encodings
        sample_of = out.get("overflow_to_sample_mapping")
        sample_of = np.arange(len(encodings)) if sample_of is None else np.asarray(sample_of).reshape(-1)
        aligned = (self.one_token_chars(), keep) if keep is not None else None
        pinyin, offsets = segments.pinyin_ids(encodings, sample_of, self._engine, aligned, want_offsets)

        squeeze = not batched and return_tensors is None and not kwargs.get("return_overflowing_tokens", False)
        glyphs = None
        if self.open_glyphs:
            glyphs = [
                encoding_glyph_ids(e, texts_a, texts_b, s, self.unk_token_id) for e, s in zip(encodings, sample_of)
            ]
        return self._with_readings(out, pinyin, offsets, glyphs, squeeze, return_tensors)

    def _with_readings(self, out, pinyin, offsets, glyphs, squeeze: bool, return_tensors) -> BatchEncoding:
        """The backend's output with ``pinyin_ids`` (and ``offset_mapping``, ``glyph_ids``) laid out as it lays out
        ``input_ids``: (B, L, ...) tensors, or one list per sequence."""
        lengths = [len(e) for e in out.encodings]
        if return_tensors is not None and len(set(lengths)) <= 1:
            array = self._rows[pinyin].reshape(len(lengths), lengths[0] if lengths else 0, PINYIN_SLOTS)  # (B, L, 8)
            out["pinyin_ids"] = array
            if glyphs is not None:
                out[GLYPH_IDS] = np.asarray(glyphs, dtype=np.int64).reshape(len(lengths), -1)
            if offsets is not None:
                out["offset_mapping"] = offsets.reshape(len(lengths), -1, 2)  # (B, L, 2)
            out.convert_to_tensors(return_tensors)
            return out
        # one shared list per distinct reading, as the original shares pinyin2tensor's: fresh lists cost more
        rows = split_rows(list(map(self._row_lists.__getitem__, pinyin.tolist())), lengths)
        out["pinyin_ids"] = rows[0] if squeeze else rows
        if glyphs is not None:
            out[GLYPH_IDS] = glyphs[0] if squeeze else glyphs
        if offsets is not None:
            spans = split_rows([tuple(p) for p in offsets.tolist()], lengths)
            out["offset_mapping"] = spans[0] if squeeze else spans
        return out

    def _direct_call_ok(self, kwargs: dict) -> bool:
        """Whether a call the aligned path takes may also skip the backend (see ``_call_direct``)."""
        split_special = kwargs.get("split_special_tokens")
        split_special = self.split_special_tokens if split_special is None else split_special
        if split_special or kwargs.get("sanitize_control_tokens") or getattr(self, "_disable_direct_path", False):
            return False
        return self._bert_template() is not None

    def _bert_template(self) -> tuple[int, int] | None:
        """``(cls_id, sep_id)`` when the backend writes a single text as ``[CLS] text [SEP]``, all type ids 0;
        else None. Checked by encoding one character, once per post-processor."""
        with self._direct.lock:
            return self._direct.bert_template(self._tokenizer, self._backend_whole)

    def _call_direct(self, texts: list[str], batched: bool, keep: int, want_offsets: bool, kw: dict) -> BatchEncoding:
        """``__call__`` on single texts without the backend: the content tokens come from ``_encode_direct``,
        BERT's template, truncation and padding are laid out in numpy (``token_batch``). The result equals the
        backend path's; its ``encodings`` are made by the backend when first read."""
        segments = Segments(texts, None, False, False)
        fed, _ = segments.fed()
        ids, spans, lengths = self._encode_direct(fed)
        kept = np.minimum(lengths, keep)
        stays = positions_in_rows(lengths) < np.repeat(kept, lengths)  # truncation keeps the first tokens
        reading, offsets = segments.pinyin_ids(
            None, np.arange(len(fed)), self._engine, None, want_offsets, (spans[stays], kept)
        )
        padding = kw.get("padding_strategy", PaddingStrategy.DO_NOT_PAD)
        layout = Layout(kept, padded_lengths(kept, padding, kw.get("max_length"), kw.get("pad_to_multiple_of")))
        tensors = kw.get("return_tensors")
        columns = self._direct_columns(layout, ids[stays], offsets, kw)
        if self.open_glyphs:
            text_of = np.repeat(np.arange(len(fed)), lengths)[stays]
            glyphs = flat_glyph_ids(ids[stays], spans[stays], text_of, fed, self.unk_token_id)
            columns[GLYPH_IDS] = columns["input_ids"].copy()  # [CLS], [SEP] and padding show their own
            columns[GLYPH_IDS][layout.content] = glyphs
        data = {key: self._direct_values(key, column, layout, tensors) for key, column in columns.items()}
        if kw.get("return_length"):
            data["length"] = layout.full.tolist()
        data["pinyin_ids"] = self._direct_values("pinyin_ids", layout.column(reading, 0, 0), layout, tensors)
        if len(layout.full):  # the backend path warns when any sequence is too long: the longest decides
            # only the length of ``ids`` is read: a range stands in for the longest sequence's ids
            self._eventual_warn_about_too_long_sequence(
                range(int(layout.full.max())),  # type: ignore[arg-type]
                kw.get("max_length"),
                kw.get("verbose", True),
            )
        if not batched and tensors is None:
            data = {k: v[0] if len(v) > 0 and isinstance(v[0], list) else v for k, v in data.items()}
        encodings = LazyEncodings(len(fed), lambda: self._backend_encodings(fed, kw))
        return BatchEncoding(data, encodings, tensor_type=tensors, n_sequences=1)

    def _direct_columns(self, layout: Layout, ids: np.ndarray, offsets, kw: dict) -> dict[str, np.ndarray]:
        """The flat columns the backend path returns for these keyword arguments, in its key order."""
        none = np.zeros(len(ids), dtype=np.int64)
        pad_id = self.pad_token_id if self.pad_token_id is not None else 0
        template = self._direct.template
        assert template is not None and template[1] is not None  # _direct_call_ok found the BERT template
        cls_id, sep_id = template[1]
        columns = {"input_ids": layout.column(ids, cls_id, pad_id)}
        columns["input_ids"][layout.sep] = sep_id
        names = self.model_input_names
        if (
            kw.get("return_token_type_ids")
            if kw.get("return_token_type_ids") is not None
            else "token_type_ids" in names
        ):
            columns["token_type_ids"] = layout.column(none, 0, self.pad_token_type_id)
        if (
            kw.get("return_attention_mask")
            if kw.get("return_attention_mask") is not None
            else "attention_mask" in names
        ):
            columns["attention_mask"] = layout.real.astype(np.int64)
        if kw.get("return_special_tokens_mask"):
            columns["special_tokens_mask"] = layout.column(none, 1, 1)
        if offsets is not None:
            columns["offset_mapping"] = layout.column(offsets, 0, 0)
        return columns

    def _direct_values(self, key: str, column: np.ndarray, layout: Layout, tensors) -> Any:
        """A column as the backend path gives it: (B, L, ...) arrays for tensors, else one list per sequence."""
        rows = layout.rows(column) if tensors is not None else None
        if key == "pinyin_ids":  # reading indices -> their 8 ids (shared lists, as the backend path)
            return (
                self._rows[rows]
                if rows is not None
                else layout.lists(list(map(self._row_lists.__getitem__, column.tolist())))
            )
        if rows is not None:
            return rows
        if key == "offset_mapping":
            return layout.lists(list(map(tuple, column.tolist())))
        return layout.lists(column.tolist())

    def _backend_whole(self) -> None:
        """Set the backend to return whole, unpadded encodings."""
        self.set_truncation_and_padding(
            PaddingStrategy.DO_NOT_PAD,
            TruncationStrategy.DO_NOT_TRUNCATE,
            None,  # type: ignore[arg-type]  # max_length: typed int; unused here (transformers passes None too)
            0,
            None,
            None,
        )

    def _backend_encodings(self, fed: list[str], kw: dict) -> list:
        """The backend's own encodings of a direct call (its truncation and padding set again first)."""
        with self._direct.lock:
            return self._backend_encodings_locked(fed, kw)

    def _backend_encodings_locked(self, fed: list[str], kw: dict) -> list:
        self.set_truncation_and_padding(
            kw.get("padding_strategy", PaddingStrategy.DO_NOT_PAD),
            kw.get("truncation_strategy", TruncationStrategy.DO_NOT_TRUNCATE),
            kw.get("max_length"),  # type: ignore[arg-type]  # int | None, as transformers itself passes it
            kw.get("stride", 0),
            kw.get("pad_to_multiple_of"),
            kw.get("padding_side"),
        )
        return self._tokenizer.encode_batch(fed, add_special_tokens=True)

    def encode_arrays(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Encode texts for corpus preparation, as flat numpy arrays (no special tokens, no padding).

        Returns ``input_ids`` (N,) int32, ``pinyin_ids`` (N, 8) int8, ``offsets`` (N, 2) int64 (into
        each text) and ``lengths`` (one per text; N = lengths.sum()); with ``open_glyphs`` ``glyph_ids`` (N,) int32.
        """
        with self._direct.lock:  # the backend's settings are shared state: see DirectTables.lock
            return self._encode_arrays_locked(texts)

    def _encode_arrays_locked(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        check_text(list(texts), "texts", False)
        segments = self._segments_of(list(texts))
        fed, _ = segments.fed()
        samples = np.arange(len(fed))
        if (
            not segments.split
            and self._only_special_tokens_added()
            and not getattr(self, "_disable_direct_path", False)
        ):
            ids, spans, lengths = self._encode_direct(fed)
            reading, offsets = segments.pinyin_ids(None, samples, self._engine, None, True, (spans, lengths))
            shown = fed
        else:
            self._backend_whole()
            encodings = self._tokenizer.encode_batch(fed, is_pretokenized=segments.split, add_special_tokens=False)
            lengths = np.array([len(e) for e in encodings], dtype=np.int64)
            ids = np.fromiter(chain.from_iterable(e.ids for e in encodings), dtype=np.int32, count=int(lengths.sum()))
            spans = np.array([span for e in encodings for span in e.offsets], dtype=np.int64).reshape(-1, 2)
            reading, offsets = segments.pinyin_ids(encodings, samples, self._engine, None, True)
            if segments.split:  # spans are within pieces: read [UNK] characters at their offsets in the text
                spans, shown = offsets, list(texts)
            else:
                shown = fed
        out = {"input_ids": ids.astype(np.int32), "pinyin_ids": self._rows[reading].astype(np.int8)}
        out |= {"offsets": offsets, "lengths": lengths}
        if self.open_glyphs:
            text_of = np.repeat(samples, lengths)
            out[GLYPH_IDS] = flat_glyph_ids(ids, spans, text_of, shown, self.unk_token_id).astype(np.int32)
        return out

    def _segments_of(self, texts: list[str]) -> Segments:
        """The texts of corpus preparation as the backend reads them (a word tokenizer cuts them first)."""
        return Segments(texts, None, False, self.normalize_text)

    def _encode_direct(self, fed: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ids, spans, lengths)`` of ``fed`` as ``encode_batch`` without special tokens gives them (see
        ``token_batch.content_tokens``)."""
        self.one_token_chars()
        self._backend_whole()  # the runs' encodings must come back whole and unpadded
        return content_tokens(self._tokenizer, self._direct, self._engine, fed, self.all_special_tokens)

    def _pad(
        self,
        encoded_inputs,
        max_length=None,
        padding_strategy=None,
        pad_to_multiple_of=None,
        padding_side=None,
        return_attention_mask=None,
    ):
        own = {key: encoded_inputs.get(key) for key in ("pinyin_ids", GLYPH_IDS)}  # padded here, not by BERT's
        kwargs = dict(max_length=max_length, pad_to_multiple_of=pad_to_multiple_of, padding_side=padding_side)
        kwargs.update(return_attention_mask=return_attention_mask)
        if padding_strategy is not None:
            kwargs["padding_strategy"] = padding_strategy
        out = super()._pad(encoded_inputs, **kwargs)
        fills = {"pinyin_ids": lambda: [0] * PINYIN_SLOTS, GLYPH_IDS: lambda: self.pad_token_id}
        for key, values in own.items():
            if values is not None:
                rows = values.tolist() if hasattr(values, "tolist") else list(values)
                missing = len(out[self.model_input_names[0]]) - len(rows)
                pad = [fills[key]() for _ in range(max(0, missing))]
                out[key] = rows + pad if (padding_side or self.padding_side) == "right" else pad + rows
        return out


#: tokenizer classes by the name a saved tokenizer_config.json gives; other granularities register themselves
TOKENIZER_CLASSES: dict[str, type[GlyceBertTokenizer]] = {"GlyceBertTokenizer": GlyceBertTokenizer}


def saved_tokenizer_class(path: str | Path) -> type[GlyceBertTokenizer]:
    """The class a tokenizer directory was saved with (ours only; anything else reads as GlyceBertTokenizer)."""
    config = Path(path) / "tokenizer_config.json"
    name = json.loads(config.read_text(encoding="utf-8")).get("tokenizer_class") if config.is_file() else None
    return TOKENIZER_CLASSES.get(name or "", GlyceBertTokenizer)


@functools.lru_cache(maxsize=None)
def load_tokenizer(path: str | Path | None = None, **kwargs) -> GlyceBertTokenizer:
    """A tokenizer from a directory (ours, original ChineseBERT, plain BERT, a word tokenizer) or the default
    vocab."""
    if path is None:
        try:
            from chinese_ptm.resources import vocab_dir
        except ImportError:  # this file saved beside a checkpoint, chinese_ptm not installed
            raise ValueError(
                "load_tokenizer() needs a tokenizer directory where chinese_ptm is not installed"
            ) from None
        path = vocab_dir()
    return saved_tokenizer_class(path).from_pretrained(str(path), **kwargs)


# saved tokenizers carry this code (``auto_map``), so that ``AutoTokenizer.from_pretrained(dir,
# trust_remote_code=True)`` works without chinese_ptm; chinese_ptm.modeling registers it for GlyceBERT configs
GlyceBertTokenizer.register_for_auto_class("AutoTokenizer")
