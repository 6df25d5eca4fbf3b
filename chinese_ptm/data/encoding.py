"""The text encoding of a user's file: UTF-8 (with or without a BOM), UTF-16 with a BOM (Excel's "Unicode text"),
or GB18030, the superset of GBK and GB2312 in which Chinese Windows tools (Excel's CSV among them) save.
[no torch]

Detection reads the start of the file (``SAMPLE_BYTES``): a BOM decides; otherwise UTF-8 unless most of the
sample's lines holding non-ASCII bytes are not UTF-8 but read as GB18030. A UTF-8 file with a few broken lines
stays UTF-8 (those lines are skipped and counted where the reader allows), so one bad line never turns a whole
file into mojibake. Line ends (LF, CRLF) are the readers' business: they all accept both.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import io
import logging
from pathlib import Path
from typing import Iterator

from ..errors import UserError

logger = logging.getLogger(__name__)

SAMPLE_BYTES = 1 << 20
#: the encodings detection may answer, and those a user may name
UTF8, UTF8_BOM, UTF16, GB18030 = "utf-8", "utf-8-sig", "utf-16", "gb18030"
_ANNOUNCED: set[str] = set()  # files said to be GB18030 in this process (a file is often read more than once)
_BOMS = ((codecs.BOM_UTF8, UTF8_BOM), (codecs.BOM_UTF16_LE, UTF16), (codecs.BOM_UTF16_BE, UTF16))


def open_binary(path: Path):
    """``path`` opened for reading bytes, a ``.gz`` file decompressed."""
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def line_codec(encoding: str) -> str:
    """The codec that decodes one line of :func:`byte_lines` (a BOM only opens the first line)."""
    return UTF8_BOM if encoding in (UTF8, UTF16) else encoding


def byte_lines(handle, encoding: str, errors: str = "strict") -> Iterator[bytes]:
    """The lines of a binary handle as bytes that :func:`line_codec` decodes: UTF-16, whose newline is two bytes
    wide, is split by its codec and re-encoded as UTF-8 line by line."""
    if encoding != UTF16:
        yield from handle
        return
    for line in io.TextIOWrapper(handle, encoding=UTF16, errors=errors, newline=""):
        yield line.encode("utf-8")


def _sample(path: Path) -> bytes:
    with open_binary(path) as handle:
        return handle.read(SAMPLE_BYTES)


def detect_encoding(path: str | Path) -> str:
    """The encoding to read ``path`` with (see the module's note); said once in the log when not UTF-8."""
    path = Path(path)
    sample = _sample(path)
    for bom, name in _BOMS:
        if sample.startswith(bom) and (name != UTF16 or _decodes(sample[: len(sample) // 2 * 2], UTF16)):
            return name
    lines = sample.split(b"\n")
    if len(sample) == SAMPLE_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut in the middle of a character
    foreign = [line for line in lines if any(b > 0x7F for b in line)]
    not_utf8 = [line for line in foreign if not _decodes(line, UTF8)]
    if foreign and len(not_utf8) * 2 > len(foreign) and all(_decodes(line, GB18030) for line in not_utf8):
        if str(path) not in _ANNOUNCED:
            _ANNOUNCED.add(str(path))
            logger.warning("%s: not UTF-8, read as GB18030 (GBK)", path)
        return GB18030
    return UTF8


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def read_text(path: str | Path, errors: str = "strict") -> str:
    """The whole file as text in its detected encoding, the BOM removed, line ends as written; bytes that are
    not of that encoding stop with one line naming the file and line (``errors="replace"``: become U+FFFD)."""
    with open_text(path, errors) as lines:
        return "".join(lines)


@contextlib.contextmanager
def open_text(path: str | Path, errors: str = "strict") -> Iterator[Iterator[str]]:
    """The lines of ``path`` (line ends kept, as the csv module wants them) in its detected encoding, as a
    context manager; a line that is not of that encoding stops with one line naming the file and line."""
    path = Path(path)
    encoding = detect_encoding(path)
    with open_binary(path) as handle:
        yield _decoded_lines(path, handle, encoding, errors)


def _decoded_lines(path: Path, handle, encoding: str, errors: str) -> Iterator[str]:
    codec, number = line_codec(encoding), 0
    try:
        for raw in byte_lines(handle, encoding, errors):
            number += 1
            yield raw.decode(codec, errors)
    except UnicodeDecodeError:  # UTF-16 fails while reading the next line, the others while decoding this one
        raise UserError(
            f"{path}:{number + (encoding == UTF16)}: not valid {encoding.upper()} text, which the rest of the file "
            "is; fix or remove this line, or save the whole file as UTF-8"
        ) from None
