"""Real-world files: the same text saved as UTF-8, UTF-8 with a BOM, GB18030, GBK or UTF-16 (Excel's "Unicode
text"), with LF or CRLF line ends, reads the same through every reader a user's file meets: the pretraining
corpus, fine-tuning CSV/TSV/JSON lines, spelling-correction pairs, a vocabulary corpus. Fuzzed over random
samples of real sentences; a UTF-8 file with one GBK line stays UTF-8 with that line skipped and counted."""

from __future__ import annotations

import json
import random

import pytest

from chinese_ptm.csc.data import read_pairs
from chinese_ptm.data.encoding import GB18030, UTF8, UTF8_BOM, UTF16, detect_encoding, read_text
from chinese_ptm.data.reading import PrepareConfig, ReadStats, iter_documents
from chinese_ptm.finetune.config import TaskSection
from chinese_ptm.finetune.files import load_file_task

ENCODINGS = [("utf-8", UTF8), ("utf-8-sig", UTF8_BOM), ("gb18030", GB18030), ("gbk", GB18030), ("utf-16", UTF16)]
LINE_ENDS = ["\n", "\r\n"]


@pytest.fixture(scope="module")
def sentences(news_lines):
    from chinese_ptm.data.corpora import review_splits

    reviews = [text for text, _ in review_splits()["train"][:300]]
    # GBK cannot hold every character: keep what it encodes, so every encoding holds the same text
    return [s for s in news_lines[:300] + reviews if s.strip() and _encodes(s, "gbk")]


def _encodes(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _write(path, lines, encoding, end):
    path.write_bytes(end.join(lines + [""]).encode(encoding))
    return path


def _documents(path):
    cfg = PrepareConfig(line_is_document=True, dedupe=False)
    stats = ReadStats()
    return [d["sentences"] for d in iter_documents([path], cfg, stats)], stats


@pytest.mark.parametrize("seed", range(3))
def test_every_encoding_and_line_end_reads_the_same_corpus(sentences, tmp_path, seed):
    lines = random.Random(seed).sample(sentences, 60)
    expected, _ = _documents(_write(tmp_path / "plain.txt", lines, "utf-8", "\n"))
    assert len(expected) == 60
    for encoding, detected in ENCODINGS:
        for end in LINE_ENDS:
            path = _write(tmp_path / f"{encoding}{len(end)}.txt", lines, encoding, end)
            assert detect_encoding(path) == detected
            documents, stats = _documents(path)
            assert documents == expected and not stats.skipped, (encoding, end)
            assert read_text(path).splitlines() == lines  # a vocabulary corpus, a file to correct


def test_excel_made_csv_and_tsv_read_as_utf8_ones(sentences, tmp_path):
    rows = [(s.replace(",", "，").replace('"', "“"), "pos" if i % 2 else "neg") for i, s in enumerate(sentences[:40])]
    expected = None
    for encoding, _ in ENCODINGS:
        for fmt, delimiter in (("csv", ","), ("tsv", "\t")):
            text = [f"text{delimiter}label"] + [f"{t}{delimiter}{label}" for t, label in rows]
            path = _write(tmp_path / f"train-{encoding}.{fmt}", text, encoding, "\r\n")  # Excel writes CRLF
            dev = _write(tmp_path / "dev.jsonl", [json.dumps({"text": t, "label": y}) for t, y in rows], "utf-8", "\n")
            task = load_file_task(TaskSection(kind="single", train=str(path), dev=str(dev)))
            got = [(e.text_a, task.labels[e.label]) for e in task.splits["train"].examples]
            expected = expected or got
            assert got == expected == rows, (encoding, fmt)


def test_gbk_json_lines_and_correction_pairs(sentences, tmp_path):
    rows = [json.dumps({"text": s, "label": "a"}, ensure_ascii=False) for s in sentences[:20]]
    path = _write(tmp_path / "train.jsonl", rows, "gbk", "\r\n")
    task = load_file_task(TaskSection(kind="single", train=str(path), dev=str(path)))
    assert [e.text_a for e in task.splits["train"].examples] == sentences[:20]
    pairs = [f"{s[:-1]}错\t{s}" for s in sentences[:20] if len(s) > 2]
    read = read_pairs(_write(tmp_path / "pairs.tsv", pairs, "gb18030", "\r\n"))
    assert read.correct == [p.split("\t")[1] for p in pairs] and not read.skipped


def test_one_gbk_line_in_a_utf8_file_is_skipped_and_counted(sentences, tmp_path):
    path = tmp_path / "mixed.txt"
    good = sentences[:30]
    path.write_bytes(
        b"\n".join(
            [s.encode("utf-8") for s in good[:10]] + [good[10].encode("gbk")] + [s.encode("utf-8") for s in good[11:]]
        )
        + b"\n"
    )
    assert detect_encoding(path) == UTF8
    documents, stats = _documents(path)
    assert len(documents) == 29 and stats.skipped == {"invalid_utf8": 1}
    assert stats.examples["invalid_utf8"] == [f"{path}:11"]


def test_a_broken_line_in_a_task_file_is_named(sentences, tmp_path):
    from chinese_ptm.errors import UserError

    rows = [json.dumps({"text": s, "label": "a"}, ensure_ascii=False).encode("utf-8") for s in sentences[:5]]
    rows[3] = json.dumps({"text": sentences[3], "label": "a"}, ensure_ascii=False).encode("gbk")
    path = tmp_path / "train.jsonl"
    path.write_bytes(b"\n".join(rows) + b"\n")
    with pytest.raises(UserError, match=f"{path}:4: not valid UTF-8 text"):
        load_file_task(TaskSection(kind="single", train=str(path), dev=str(path)))


# --------------------------------------------------------------------------------------------------
# malformed rows: a clear error (UserError) or a counted skip, never a traceback or a hang

MALFORMED = [
    '{"text": 5, "label": "a"}',  # wrong types
    '{"text": ["x"], "label": {"b": 1}}',
    '{"text": null, "label": "a"}',
    '{"text": "好", "label": null}',
    '["not", "an", "object"]',
    '{"text": "未闭合',  # broken JSON
    '"unbalanced, quote',
    "a,b,c,d,e",
    "只有一列",
    "\x00\x00好\x00",  # NUL bytes
    "长" * 200_000,  # a huge line
    "",
    "\t\t",
    ",",
]


def _malformed_file(path, rng, good, header):
    lines = [header] if header else []
    for _ in range(rng.randint(1, 12)):
        lines.append(rng.choice(MALFORMED) if rng.random() < 0.5 else rng.choice(good))
    data = "\n".join(lines).encode("utf-8")
    if rng.random() < 0.2:  # invalid UTF-8 somewhere
        cut = rng.randrange(len(data) + 1)
        data = data[:cut] + b"\xff\xfe\xc3" + data[cut:]
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "tsv"])
def test_fuzzed_task_files_end_in_a_clear_error_or_a_result(sentences, tmp_path, fmt):
    from chinese_ptm.errors import UserError

    rng = random.Random(fmt)
    sep = {"csv": ",", "tsv": "\t"}.get(fmt)
    good = [
        json.dumps({"text": s, "label": "ab"[i % 2]}, ensure_ascii=False)
        if fmt == "jsonl"
        else f"{s}{sep}{'ab'[i % 2]}"
        for i, s in enumerate(sentences[:20])
    ]
    header = None if fmt == "jsonl" else f"text{sep}label"
    outcomes = {"read": 0, "refused": 0}
    for i in range(120):
        path = _malformed_file(tmp_path / f"f{i}.{fmt}", rng, good, header)
        try:
            load_file_task(TaskSection(kind="single", train=str(path), dev=str(path)))
            outcomes["read"] += 1
        except UserError as err:
            assert str(path) in str(err) and "\n" not in str(err)
            outcomes["refused"] += 1
    assert outcomes["read"] and outcomes["refused"]


def test_fuzzed_corpora_and_pairs_skip_and_count(sentences, tmp_path):
    rng = random.Random(7)
    for i in range(60):
        path = _malformed_file(tmp_path / f"c{i}.txt", rng, sentences[:20], None)
        _, stats = _documents(path)
        data = path.read_bytes()
        if detect_encoding(path) != UTF16:  # read to the end: every line seen (used or counted in stats.skipped)
            assert stats.lines == len(data.split(b"\n")) - (data.endswith(b"\n") or not data)
        pairs = _malformed_file(tmp_path / f"p{i}.tsv", rng, [f"{s}\t{s}" for s in sentences[:20]], None)
        try:
            read = read_pairs(pairs)
            assert len(read.wrong) == len(read.correct)
        except Exception as err:  # only our one-line errors may end it
            from chinese_ptm.errors import UserError

            assert isinstance(err, UserError) and str(pairs) in str(err), repr(err)
