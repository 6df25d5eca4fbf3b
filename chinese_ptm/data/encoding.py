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


def _sample(path: Path) -> bytes:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
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
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        yield _decoded_lines(path, handle, encoding, errors)


def _decoded_lines(path: Path, handle, encoding: str, errors: str) -> Iterator[str]:
    if encoding == UTF16:  # newline bytes are two wide: let the codec split the lines
        number = 0
        try:
            for number, line in enumerate(io.TextIOWrapper(handle, encoding=UTF16, errors=errors, newline=""), 1):
                yield line
        except UnicodeDecodeError:
            raise UserError(f"{path}:{number + 1}: not valid UTF-16 text, which the file starts as") from None
        return
    line_encoding = UTF8_BOM if encoding == UTF8 else encoding  # a BOM only opens the first line
    for number, raw in enumerate(handle, start=1):
        try:
            yield raw.decode(line_encoding, errors)
        except UnicodeDecodeError:
            raise UserError(
                f"{path}:{number}: not valid {encoding.upper()} text, which the rest of the file is; "
                "fix or remove this line, or save the whole file as UTF-8"
            ) from None
