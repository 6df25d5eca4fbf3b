"""The pinyin tables of a vocabulary, as the original ChineseBERT release stores them (``config/pinyin_map.json``,
``pinyin2tensor.json``, ``id2pinyin.json``), and the 8-slot id rows of every reading they hold.  [no torch]

:mod:`.pinyin` reads text; this module turns readings into the ids a tokenizer returns for one vocabulary.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from .pinyin import (
    _CHAR2IDX,
    _ZERO_ROW,
    ALPHABET,
    ID2PINYIN_FILE,
    NOT_CHINESE,
    PINYIN2TENSOR_FILE,
    PINYIN_MAP_FILE,
    PINYIN_META_FILE,
    TABLES_SUBDIR,
    ReadingEngine,
    _not_chinese,
    _with_tone,
    encode_syllable,
    pypinyin_version,
)

logger = logging.getLogger(__name__)


class PinyinTables:
    """The pinyin tables of one vocabulary, in the original ChineseBERT formats.

    * ``pinyin_map``: ``{"idx2char": [...32 symbols], "char2idx": {...}}``
    * ``pinyin2tensor``: every reading of every single-character token -> 8 ids (a neutral-tone
      reading ``de`` maps to the ids of ``de5``)
    * ``id2pinyin``: token id (as a string) -> the 8 ids of each of the token's readings
      (``[[0]*8]`` for tokens without a reading)
    """

    def __init__(self, pinyin_map: dict, pinyin2tensor: dict, id2pinyin: dict, meta: dict | None = None):
        if list(pinyin_map.get("idx2char", [])) != list(ALPHABET):
            raise ValueError(
                "pinyin_map.json: idx2char must be the 32 ChineseBERT symbols "
                f"{ALPHABET!r}; got {pinyin_map.get('idx2char')!r}. Rebuild the tables with "
                "`chinese-ptm vocab tables VOCAB_DIR`."
            )
        self.pinyin_map = pinyin_map
        self.pinyin2tensor = pinyin2tensor
        self.id2pinyin = id2pinyin
        self.meta = dict(meta or {})
        self._rows: np.ndarray | None = None
        self._rows_engine: ReadingEngine | None = None

    # -- building ------------------------------------------------------------------------------
    @classmethod
    def build(cls, tokens: Sequence[str]) -> "PinyinTables":
        """Build the tables for a vocabulary the way the original authors did.

        Every token that is one character (after removing a ``##`` prefix) gets all its readings
        (``pypinyin.pinyin(char, TONE3, heteronym=True)``); as in the original files, ``id2pinyin``
        has one more entry than the vocabulary (an empty line after the last token).
        """
        from pypinyin import Style, pinyin

        pinyin2tensor: dict[str, list[int]] = {}
        id2pinyin: dict[str, list[list[int]]] = {}
        for idx, token in enumerate(list(tokens) + [""]):
            char = token[2:] if token.startswith("##") else token
            rows: list[list[int]] = []
            if len(char) == 1:
                # pypinyin's stub types ``errors`` as returning str (see pypinyin_readings)
                items = pinyin(char, style=Style.TONE3, heteronym=True, errors=_not_chinese)  # type: ignore[arg-type]
                for reading in items[0]:
                    if reading == NOT_CHINESE:
                        continue
                    ids = encode_syllable(_with_tone(reading))
                    pinyin2tensor.setdefault(reading, ids)
                    rows.append(ids)
            id2pinyin[str(idx)] = rows or [list(_ZERO_ROW)]
        pinyin_map = {"idx2char": list(ALPHABET), "char2idx": dict(_CHAR2IDX)}
        return cls(pinyin_map, pinyin2tensor, id2pinyin, {"pypinyin": pypinyin_version()})

    # -- files ---------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> list[str]:
        """Write the three tables (and the pypinyin version) into ``directory/config/``."""
        out = Path(directory) / TABLES_SUBDIR
        out.mkdir(parents=True, exist_ok=True)
        files = []
        for name, obj in (
            (PINYIN_MAP_FILE, self.pinyin_map),
            (PINYIN2TENSOR_FILE, self.pinyin2tensor),
            (ID2PINYIN_FILE, self.id2pinyin),
            (PINYIN_META_FILE, self.meta),
        ):
            path = out / name
            path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
            files.append(str(path))
        return files

    @staticmethod
    def find(directory: str | Path) -> Path | None:
        """The folder holding the tables of a tokenizer/checkpoint directory (config/ or the top)."""
        directory = Path(directory)
        for candidate in (directory / TABLES_SUBDIR, directory):
            if (candidate / PINYIN2TENSOR_FILE).is_file():
                return candidate
        return None

    @classmethod
    def load(cls, directory: str | Path) -> "PinyinTables":
        """Load tables saved by :meth:`save` or shipped with an original ChineseBERT checkpoint."""
        folder = cls.find(directory)
        if folder is None:
            raise FileNotFoundError(
                f"{directory}: no {PINYIN2TENSOR_FILE} in it or in its {TABLES_SUBDIR}/ folder. Build the "
                "tables with `chinese-ptm vocab tables DIR` (or load the directory with "
                "GlyceBertTokenizer.from_pretrained, which builds them from vocab.txt)."
            )
        objs = {}
        for name in (PINYIN_MAP_FILE, PINYIN2TENSOR_FILE, ID2PINYIN_FILE):
            path = folder / name
            try:
                objs[name] = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise FileNotFoundError(f"{path}: missing; the pinyin tables come as three files") from None
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}: not valid JSON ({err}); rebuild with `chinese-ptm vocab tables`") from None
        meta_path = folder / PINYIN_META_FILE
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        built_with = meta.get("pypinyin")
        if built_with and built_with != pypinyin_version():
            warnings.warn(
                f"{folder}: pinyin tables were built with pypinyin {built_with}, this is pypinyin "
                f"{pypinyin_version()}; readings of some characters may differ from the ones the model was "
                f"trained on. Install pypinyin=={built_with} to reproduce them.",
                stacklevel=2,
            )
        return cls(objs[PINYIN_MAP_FILE], objs[PINYIN2TENSOR_FILE], objs[ID2PINYIN_FILE], meta)

    # -- encoding ------------------------------------------------------------------------------
    def reading_ids(self, reading: str | None) -> list[int]:
        """8 ids of one contextual reading, as the original tokenizer encodes it."""
        if reading is None:
            return list(_ZERO_ROW)
        got = self.pinyin2tensor.get(reading)
        return list(got) if got is not None else encode_syllable(reading)

    def rows(self, engine: ReadingEngine) -> np.ndarray:
        """(R, 8) int64: the ids of every interned reading of ``engine`` (row 0: zeros)."""
        if self._rows is None or self._rows_engine is not engine:
            self._rows = np.array([self.reading_ids(r) for r in engine.readings], dtype=np.int64)
            self._rows_engine = engine
        return self._rows
