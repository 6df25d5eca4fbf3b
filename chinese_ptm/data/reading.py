"""Reading corpora: files or raw texts -> cleaned, deduplicated documents of sentences.  [no torch]"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from ..errors import UserError
from ..text.normalize import clean_text, split_sentences, text_ratio
from .encoding import UTF8_BOM, byte_lines, detect_encoding, line_codec, open_binary

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

    COUNTS = ("files", "lines", "documents", "paragraphs", "sentences", "chars")

    def as_dict(self) -> dict:
        """The counts as plain JSON-able values (``dataclasses.asdict`` mangles the Counter)."""
        counts = {name: getattr(self, name) for name in self.COUNTS}
        return counts | {"skipped": dict(self.skipped), "examples": self.examples}

    def add(self, other: dict) -> None:
        """Add the counts of another reading (``as_dict`` of a ReadStats) that came after this one."""
        for name in self.COUNTS:
            setattr(self, name, getattr(self, name) + other[name])
        self.skipped.update(other["skipped"])
        for reason, wheres in other["examples"].items():
            kept = self.examples.setdefault(reason, [])
            kept.extend(wheres[: SKIP_EXAMPLES - len(kept)])


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def _is_json_lines(path: Path) -> bool:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    return name.endswith(JSON_SUFFIXES)


def _decode_lines(path: Path, cfg: PrepareConfig, stats: ReadStats) -> Iterator[tuple[int, str | None]]:
    """(line number, text) of a file in its encoding (UTF-8, with BOM, UTF-16, GB18030/GBK: detected); ``None``
    text for a blank line; bad lines skipped and counted."""
    max_bytes = cfg.max_line_chars * 4
    try:
        handle = open_binary(path)
    except FileNotFoundError:
        raise CorpusError(f"{path}: corpus file not found") from None
    encoding = detect_encoding(path)
    line_encoding = line_codec(encoding)
    with handle:
        number = 0
        try:
            for number, raw in enumerate(byte_lines(handle, encoding, "replace"), start=1):
                stats.lines += 1
                where = f"{path}:{number}"
                if len(raw) > max_bytes:
                    stats.skip("line_too_long", where)
                    continue
                if b"\x00" in raw:
                    stats.skip("nul_bytes", where)
                    continue
                try:
                    line = raw.decode(line_encoding)
                except UnicodeDecodeError:
                    stats.skip("invalid_utf8" if line_encoding == UTF8_BOM else f"invalid_{encoding}", where)
                    continue
                if len(line) > cfg.max_line_chars:
                    stats.skip("line_too_long", where)
                    continue
                yield number, (line if line.strip() else None)
        except (OSError, EOFError) as err:  # truncated gzip and the like: keep what was read
            stats.skip("unreadable_rest_of_file", f"{path}:{number + 1} ({err})")


@dataclass
class Paragraph:
    """A cleaned line (or line of a JSON text) split into sentences, where it came from, and its
    deduplication key, before deduplication."""

    document: int  # document number within its source (blank lines, one line or one JSON record each)
    line: int  # line number in the file (1-based); index of the text for raw texts
    sentences: list[str]
    chars: int  # characters of the cleaned text
    key: bytes  # identical cleaned texts have one key

    @classmethod
    def of(cls, document: int, line: int, text: str) -> "Paragraph":
        key = hashlib.blake2b(text.encode("utf-8"), digest_size=12).digest()
        return cls(document, line, split_sentences(text), len(text), key)


def clean_paragraph(line: str, where: str, cfg: PrepareConfig, stats: ReadStats) -> str | None:
    """The cleaned text of a line, or None when cleaning drops it (counted)."""
    text = clean_text(line)
    if not text:
        stats.skip("empty_after_cleaning", where)
        return None
    if text_ratio(text) < cfg.min_text_ratio:
        stats.skip("mostly_non_text", where)
        return None
    return text


def file_paragraphs(path: Path, cfg: PrepareConfig, stats: ReadStats) -> Iterator[Paragraph]:
    """Every paragraph of a corpus file that cleaning keeps, with its document number; bad lines and records
    are skipped and counted. Deduplication comes after (:class:`Deduplicator`), across all files."""
    stats.files += 1
    document = 0
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
            for part in text.split("\n"):
                if (cleaned := clean_paragraph(part, where, cfg, stats)) is not None:
                    yield Paragraph.of(document, number, cleaned)
            document += 1
        return
    started = False  # the current document has a line
    for number, line in _decode_lines(path, cfg, stats):
        if line is None or (cfg.line_is_document and started):  # a document ends
            document += started
            started = False
            if line is None:
                continue
        started = True
        if (cleaned := clean_paragraph(line, f"{path}:{number}", cfg, stats)) is not None:
            yield Paragraph.of(document, number, cleaned)


class Deduplicator:
    """Keeps the first of identical paragraphs, in reading order (files in the order given)."""

    def __init__(self, cfg: PrepareConfig, stats: ReadStats):
        self.enabled, self.stats = cfg.dedupe, stats
        self.seen: set[bytes] = set()

    def keep(self, key: bytes, where: str) -> bool:
        if not self.enabled:
            return True
        if key in self.seen:
            self.stats.skip("duplicate_line", where)
            return False
        self.seen.add(key)
        return True


def documents_of(paragraphs, stats: ReadStats, keep) -> Iterator[list[str]]:
    """The documents (lists of sentences) of one source's paragraphs, in order, counted in ``stats``:
    ``keep(paragraph)`` says whether a paragraph stays (deduplication); a document left without sentences is
    dropped."""
    current: list[str] = []
    number = None
    for paragraph in paragraphs:
        if paragraph.document != number and current:
            yield _counted(current, stats)
            current = []
        number = paragraph.document
        if keep(paragraph):
            stats.paragraphs += 1
            stats.chars += paragraph.chars
            current.extend(paragraph.sentences)
    if current:
        yield _counted(current, stats)


def _counted(sentences: list[str], stats: ReadStats) -> list[str]:
    stats.documents += 1
    stats.sentences += len(sentences)
    return sentences


def iter_documents(
    sources: Sequence[str | Path], cfg: PrepareConfig, stats: ReadStats, texts: Sequence[str] | None = None
) -> Iterator[dict]:
    """Documents ``{"doc_id", "sentences"}`` from files (or from ``texts``, one document each)."""
    dedupe = Deduplicator(cfg, stats)
    doc_id = 0
    if texts is not None:
        sources = [(f"texts[{i}]", _text_paragraphs(i, text, cfg, stats)) for i, text in enumerate(texts)]
    else:
        sources = [(str(path), file_paragraphs(Path(path), cfg, stats)) for path in sources]
    for name, paragraphs in sources:
        where = (lambda p: name) if texts is not None else (lambda p: f"{name}:{p.line}")
        for sentences in documents_of(paragraphs, stats, lambda p: dedupe.keep(p.key, where(p))):
            yield {"doc_id": doc_id, "sentences": sentences}
            doc_id += 1


def _text_paragraphs(index: int, text, cfg: PrepareConfig, stats: ReadStats) -> Iterator[Paragraph]:
    """The paragraphs of raw text ``index`` (one document)."""
    if not isinstance(text, str):
        stats.skip("not_a_string", f"texts[{index}]")
        return
    for part in text.split("\n"):
        if (cleaned := clean_paragraph(part, f"texts[{index}]", cfg, stats)) is not None:
            yield Paragraph.of(0, index, cleaned)


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
        isinstance(x, Path)
        or (
            isinstance(x, str)
            and "\n" not in x
            and len(x) < 4096
            and (x.endswith((".txt", ".gz") + JSON_SUFFIXES) or is_file(x))
        )
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
