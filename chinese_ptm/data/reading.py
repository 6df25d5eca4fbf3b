"""Reading corpora: files or raw texts -> cleaned, deduplicated documents of sentences.  [no torch]"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from ..errors import UserError
from ..text import clean_text, split_sentences, text_ratio

PREPARE_META = "prepare_meta.json"
FORMAT_VERSION = 1
JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")
SKIP_EXAMPLES = 3  # examples kept per skip reason for the report


class CorpusError(UserError, ValueError):
    """Corpus input or preparation settings that cannot be used; the message names the file or the option."""


@dataclass
class PrepareConfig:
    """Options of :func:`prepare_corpus` (all recorded in the output's metadata)."""

    max_length: int = 512
    packed_ratio: float = 0.9  # share of packed records; the rest hold one sentence (ChineseBERT 9:1)
    text_field: str = "text"  # the field of a JSON-lines record that holds the text
    min_text_ratio: float = 0.3  # lines whose letters/digits/hanzi are a smaller share are dropped
    max_line_chars: int = 100_000  # longer lines are skipped (counted)
    dedupe: bool = True  # keep identical lines once
    line_is_document: bool = False  # one document per line (instead of blank lines between documents)
    seed: int = 0  # packing choices (packed or single) are drawn per document from this seed

    def __post_init__(self):
        if self.max_length < 8:
            raise CorpusError(f"max_length={self.max_length}: needs room for [CLS], [SEP], [SEP] and text (>= 8)")
        if not 0.0 <= self.packed_ratio <= 1.0:
            raise CorpusError(f"packed_ratio={self.packed_ratio}: must lie in [0, 1]")
        if not 0.0 <= self.min_text_ratio <= 1.0:
            raise CorpusError(f"min_text_ratio={self.min_text_ratio}: must lie in [0, 1]")


@dataclass
class ReadStats:
    """What reading and cleaning saw."""

    files: int = 0
    lines: int = 0
    documents: int = 0
    paragraphs: int = 0
    sentences: int = 0
    chars: int = 0
    skipped: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)

    def skip(self, reason: str, where: str) -> None:
        self.skipped[reason] += 1
        self.examples.setdefault(reason, [])
        if len(self.examples[reason]) < SKIP_EXAMPLES:
            self.examples[reason].append(where)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def _open_binary(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return path.open("rb")


def _is_json_lines(path: Path) -> bool:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    return name.endswith(JSON_SUFFIXES)


def _decode_lines(path: Path, cfg: PrepareConfig, stats: ReadStats) -> Iterator[tuple[int, str | None]]:
    """(line number, text) of a file; ``None`` text for a blank line; bad lines skipped and counted."""
    max_bytes = cfg.max_line_chars * 4
    try:
        handle = _open_binary(path)
    except FileNotFoundError:
        raise CorpusError(f"{path}: corpus file not found") from None
    with handle:
        number = 0
        try:
            for number, raw in enumerate(handle, start=1):
                stats.lines += 1
                where = f"{path}:{number}"
                if len(raw) > max_bytes:
                    stats.skip("line_too_long", where)
                    continue
                if b"\x00" in raw:
                    stats.skip("nul_bytes", where)
                    continue
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    stats.skip("invalid_utf8", where)
                    continue
                if len(line) > cfg.max_line_chars:
                    stats.skip("line_too_long", where)
                    continue
                yield number, (line if line.strip() else None)
        except (OSError, EOFError) as err:  # truncated gzip and the like: keep what was read
            stats.skip("unreadable_rest_of_file", f"{path}:{number + 1} ({err})")


class _Cleaner:
    def __init__(self, cfg: PrepareConfig, stats: ReadStats):
        self.cfg, self.stats = cfg, stats
        self.seen: set[bytes] = set()

    def paragraph(self, line: str, where: str) -> list[str]:
        text = clean_text(line)
        if not text:
            self.stats.skip("empty_after_cleaning", where)
            return []
        if text_ratio(text) < self.cfg.min_text_ratio:
            self.stats.skip("mostly_non_text", where)
            return []
        if self.cfg.dedupe:
            key = hashlib.blake2b(text.encode("utf-8"), digest_size=12).digest()
            if key in self.seen:
                self.stats.skip("duplicate_line", where)
                return []
            self.seen.add(key)
        self.stats.paragraphs += 1
        self.stats.chars += len(text)
        return split_sentences(text)


def iter_documents(sources: Sequence[str | Path], cfg: PrepareConfig, stats: ReadStats,
                   texts: Sequence[str] | None = None) -> Iterator[dict]:
    """Documents ``{"doc_id", "sentences"}`` from files (or from ``texts``, one document each)."""
    cleaner = _Cleaner(cfg, stats)
    doc_id = 0

    def emit(sentences: list[str]):
        nonlocal doc_id
        stats.documents += 1
        stats.sentences += len(sentences)
        doc = {"doc_id": doc_id, "sentences": sentences}
        doc_id += 1
        return doc

    if texts is not None:
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                stats.skip("not_a_string", f"texts[{i}]")
                continue
            sentences = [s for line in text.split("\n") for s in cleaner.paragraph(line, f"texts[{i}]")]
            if sentences:
                yield emit(sentences)
        return
    for source in sources:
        path = Path(source)
        stats.files += 1
        if _is_json_lines(path):
            for number, line in _decode_lines(path, cfg, stats):
                if line is None:
                    continue
                where = f"{path}:{number}"
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    stats.skip("bad_json", where)
                    continue
                text = record.get(cfg.text_field) if isinstance(record, dict) else None
                if not isinstance(text, str):
                    stats.skip(f"no_{cfg.text_field}_field", where)
                    continue
                sentences = [s for para in text.split("\n") for s in cleaner.paragraph(para, where)]
                if sentences:
                    yield emit(sentences)
        else:
            current: list[str] = []
            for number, line in _decode_lines(path, cfg, stats):
                if line is None or (cfg.line_is_document and current):  # a document ends
                    if current:
                        yield emit(current)
                        current = []
                    if line is None:
                        continue
                current.extend(cleaner.paragraph(line, f"{path}:{number}"))
            if current:
                yield emit(current)


# ---------------------------------------------------------------------------------------------
# Tokenising, word ids, packing
# ---------------------------------------------------------------------------------------------


def _split_inputs(inputs: Sequence[str | Path] | str) -> tuple[list[Path], list[str] | None]:
    """Files or raw texts? Existing files (or names that look like corpus files) are files."""
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    inputs = list(inputs)
    def is_file(x: str) -> bool:
        try:
            return Path(x).is_file()
        except OSError:  # e.g. a long text is not a valid file name
            return False

    looks_like_file = [
        isinstance(x, Path) or (isinstance(x, str) and "\n" not in x and len(x) < 4096
                                and (x.endswith((".txt", ".gz") + JSON_SUFFIXES) or is_file(x)))
        for x in inputs
    ]
    if inputs and all(looks_like_file):
        files = [Path(x) for x in inputs]
        for f in files:
            if not f.is_file():
                raise CorpusError(f"{f}: corpus file not found")
        return files, None
    if any(looks_like_file):
        bad = next(x for x, f in zip(inputs, looks_like_file) if f)
        raise CorpusError(f"inputs mix files ({bad!r}) and raw texts; pass either file paths or texts")
    return [], [str(x) if not isinstance(x, str) else x for x in inputs]
