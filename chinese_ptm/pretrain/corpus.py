"""The corpus a pretraining stage trains on: its tokenizer, its files (the embedded People's Daily by default) and
its prepared records, prepared once per shared filesystem or node while the other processes wait, with the
held-out slice split off.  The preparation itself is :func:`chinese_ptm.data.prepare_corpus`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..data import (
    EMBEDDED_CORPUS_FILE,
    PREPARE_META,
    PrepareConfig,
    embedded_corpus_file,
    is_prepared,
    load_prepared,
    prepare_corpus,
    tokenizer_digest,
)
from ..errors import UserError
from ..modeling.factory import draws_open_glyphs, has_vocab, word_tokenizer
from ..resources import word_vocab_dir
from ..runtime.ranks import run_once
from ..text.segmentation import get_segmenter
from ..text.tokenization import load_tokenizer
from .recipe import Recipe

#: prepared records live in OUTPUT_DIR/data unless data.prepared_dir says otherwise
DATA_DIR = "data"


def load_run_tokenizer(recipe: Recipe):
    """The run's tokenizer (``model.tokenizer``, the checkpoint's, or the bundled vocabulary), giving glyph ids
    when the model draws open glyphs."""
    source = recipe.model.tokenizer
    if source is None and has_vocab(recipe.model.init_from):
        source = recipe.model.init_from
    if source is None and recipe.model.granularity == "word":
        source = str(word_vocab_dir())
    opened = draws_open_glyphs(recipe.model)
    tokenizer = load_tokenizer(source, open_glyphs=opened)
    words = getattr(tokenizer, "_cuts_words", False)
    if recipe.model.granularity == "word" and not words:
        raise UserError(
            f"model.granularity word: the tokenizer ({source or 'the bundled vocabulary'}) is a character tokenizer; "
            "set model.tokenizer to a word vocabulary (chinese-ptm vocab build --granularity word --out DIR)"
        )
    if words and recipe.model.granularity != "word":
        raise UserError(f"model.tokenizer {source} is a word tokenizer: set model.granularity: word")
    return tokenizer


def train_files(recipe: Recipe, work_dir: Path) -> tuple[list[str], bool]:
    """The corpus files and whether each line is a document (``data.line_is_document``); the embedded
    corpus (one paragraph per line, no blank lines) is written to ``work_dir`` by whichever process prepares."""
    if recipe.data.train_files:
        missing = [f for f in recipe.data.train_files if not Path(f).is_file()]
        if missing:
            raise UserError(f"data.train_files: {missing[0]}: no such file")
        return list(recipe.data.train_files), recipe.data.line_is_document
    return [str(work_dir / EMBEDDED_CORPUS_FILE)], recipe.data.line_is_document


def prepared_dir(recipe: Recipe) -> Path:
    return Path(recipe.data.prepared_dir) if recipe.data.prepared_dir else Path(recipe.output_dir) / DATA_DIR


def _other_tokenizer_message(prepared: Path, digest: str | None, tokenizer) -> str:
    """Why a given prepared dataset does not fit the run and what to set (records prepared without the
    glyph ids this model draws differ from the run's by that option only)."""
    if getattr(tokenizer, "open_glyphs", False) and digest == tokenizer_digest(tokenizer, open_glyphs=False):
        return (
            f"data.prepared_dir={prepared} was prepared without open glyphs (no glyph_ids); prepare it again "
            "without --no-open-glyphs, set model.open_glyphs=false to train on it as it is, or give data.train_files"
        )
    return (
        f"data.prepared_dir={prepared} was prepared with another tokenizer; set "
        "model.tokenizer to that tokenizer, or give data.train_files to prepare again"
    )


def prepared_records(recipe: Recipe, tokenizer) -> tuple[Any, Any, dict]:
    """(train, held-out, summary). Records missing or stale are prepared by one process per shared
    filesystem (``data.prepare_scope=shared``) or per node (``node``); the others wait for them."""
    prepared = prepared_dir(recipe)
    if recipe.data.prepared_dir and not recipe.data.train_files and (prepared / PREPARE_META).is_file():
        # a prepared dataset given without its corpus: use it as it is, never prepare over it
        summary = json.loads((prepared / PREPARE_META).read_text(encoding="utf-8"))
        # records with glyph ids serve a model that does not draw open glyphs too (the collator leaves them)
        if summary.get("tokenizer") not in (tokenizer_digest(tokenizer), tokenizer_digest(tokenizer, open_glyphs=True)):
            raise UserError(_other_tokenizer_message(prepared, summary.get("tokenizer"), tokenizer))
        return _split_heldout(load_prepared(prepared), recipe, prepared) + (summary,)
    files, per_line = train_files(recipe, prepared.parent / "_corpus")
    cfg = PrepareConfig(
        max_length=recipe.data.max_length,
        packed_ratio=recipe.data.packed_ratio,
        text_field=recipe.data.text_field,
        line_is_document=per_line,
        seed=recipe.training.seed,
    )
    run_once(
        prepared,
        lambda: is_prepared(prepared, files, tokenizer, cfg),
        lambda: _prepare(recipe, tokenizer, files, cfg, prepared),
        scope=recipe.data.prepare_scope,
        timeout_s=recipe.data.prepare_timeout_minutes * 60,
        what="corpus preparation",
    )
    summary = json.loads((prepared / PREPARE_META).read_text(encoding="utf-8"))
    return _split_heldout(load_prepared(prepared), recipe, prepared) + (summary,)


def _prepare(recipe: Recipe, tokenizer, files: list[str], cfg, prepared: Path) -> None:
    if not recipe.data.train_files:
        embedded_corpus_file(Path(files[0]).parent)
    options = {}
    if recipe.data.segmenter == "jieba":
        options = {"hmm": recipe.data.jieba_hmm, "engine": recipe.data.jieba_engine}
    elif recipe.data.segmenter == "ltp":
        options = {"model_path": recipe.data.ltp_model}
    segmenter = get_segmenter(recipe.data.segmenter, **options)
    if recipe.model.architecture == "ambert":  # the masking units are the word view's words: cut as it cuts
        segmenter = word_tokenizer(recipe.model).segmenter
    prepare_corpus(
        files,
        tokenizer,
        segmenter=segmenter,
        config=cfg,
        num_proc=recipe.data.num_proc,
        output_dir=prepared,
        progress=True,
    )


def _split_heldout(records, recipe: Recipe, where: Path) -> tuple[Any, Any]:
    """(train, held-out): the last ``data.eval_records`` records (at most a tenth) are held out."""
    if len(records) < 2:
        raise UserError(f"{where}: only {len(records)} records; the corpus is too small to train on")
    n_eval = min(recipe.data.eval_records, max(len(records) // 10, 1))
    records = records.add_column("record_id", np.arange(len(records)))
    return records.select(range(len(records) - n_eval)), records.select(range(len(records) - n_eval, len(records)))
