import gzip
import json

import numpy as np
import pytest

from chinese_ptm.cli import main
from chinese_ptm.data import PrepareConfig, batch_word_ids, is_prepared, prepare_corpus
from chinese_ptm.errors import UserError
from chinese_ptm.text.normalize import clean_text, split_sentences


def test_clean_and_split():
    assert clean_text("<p>北京&nbsp;欢迎\u200b你</p>\x07") == "北京 欢迎你"
    assert split_sentences("他说：“你好！”我们走吧。真的吗？？好……最后") == [
        "他说：“你好！”",
        "我们走吧。",
        "真的吗？？",
        "好……",
        "最后",
    ]


@pytest.fixture(scope="module")
def tok():
    from chinese_ptm.text.tokenization import load_tokenizer

    return load_tokenizer()


def _check_records(ds, tok, max_length):
    for r in ds:
        ids = r["input_ids"]
        assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
        assert len(ids) <= max_length - 1  # room for the middle [SEP] of a sentence task
        assert len(r["pinyin_ids"]) == len(ids) and len(r["word_ids"]) == len(ids)
        assert r["word_ids"][0] == r["word_ids"][-1] == -1
        inner = r["word_ids"][1:-1]
        assert inner[0] == 0 and all(b - a in (0, 1) for a, b in zip(inner, inner[1:]))
        assert r["sentence_starts"][0] == 1


def test_prepare_texts(tok):
    docs = ["我喜欢北京烤鸭。银行行长来了！\n第二段。很好。", "另一篇文章。它很短。"]
    ds = prepare_corpus(docs, tok, max_length=32, progress=False)
    s = ds.prepare_summary
    assert s["documents"] == 2 and s["sentences"] == 6 and s["records"] == len(ds)
    _check_records(ds, tok, 32)
    first = ds[0]
    tokens = tok.convert_ids_to_tokens(first["input_ids"])
    words = first["word_ids"]
    assert tokens[3:5] == ["欢", "北"] or words[tokens.index("北")] == words[tokens.index("京")]
    row = first["pinyin_ids"][tokens.index("行")]
    assert row == tok("银行")["pinyin_ids"][2]  # 银行: hang2, as read in context


def test_packing_never_splits_words_and_respects_ratio(tok):
    doc = "".join(f"第{i}句话说的是中华人民共和国成立。" for i in range(40))
    packed = prepare_corpus([doc], tok, max_length=64, packed_ratio=1.0, progress=False)
    single = prepare_corpus([doc], tok, max_length=64, packed_ratio=0.0, progress=False)
    assert len(single) == 40 and len(packed) < 40
    _check_records(packed, tok, 64)
    for r in packed:
        toks = tok.convert_ids_to_tokens(r["input_ids"])
        for start in r["sentence_starts"]:
            assert toks[start] == "第"


def test_files_bad_records_and_meta(tmp_path, tok):
    good = tmp_path / "a.txt"
    good.write_bytes(
        "第一篇第一句。第二句！\n\n第二篇文章。\n第二篇文章。\n".encode()
        + b"\xff\xfe broken\n"
        + "有\x00空字节\n".encode()
        + ("长" * 2000 + "\n").encode()
        + "=====#####-----\n".encode()
    )
    jl = tmp_path / "b.jsonl.gz"
    with gzip.open(jl, "wt", encoding="utf-8") as f:
        f.write(json.dumps({"text": "杰森格式的文档。第二句。"}, ensure_ascii=False) + "\n")
        f.write("{broken json\n")
        f.write(json.dumps({"title": "no text"}) + "\n")
    out = tmp_path / "prepared"
    cfg = PrepareConfig(max_length=64, max_line_chars=1000)
    ds = prepare_corpus([str(good), str(jl)], tok, config=cfg, output_dir=out, progress=False)
    s = ds.prepare_summary
    assert s["documents"] == 3
    assert s["skipped"] == {
        "invalid_utf8": 1,
        "nul_bytes": 1,
        "line_too_long": 1,
        "mostly_non_text": 1,
        "duplicate_line": 1,
        "bad_json": 1,
        "no_text_field": 1,
    }
    assert any("a.txt:5" in e for e in s["skip_examples"]["invalid_utf8"])
    assert (out / "prepare_meta.json").is_file()
    assert is_prepared(out, [good, jl], tok, cfg)
    good.write_text("changed。\n", encoding="utf-8")
    assert not is_prepared(out, [good, jl], tok, cfg)

    import datasets

    again = datasets.load_from_disk(str(out))
    assert again[0]["input_ids"] == ds[0]["input_ids"]


def test_missing_file_is_a_clear_error(tmp_path, tok):
    with pytest.raises(UserError, match="missing.txt: corpus file not found"):
        prepare_corpus([str(tmp_path / "missing.txt")], tok, progress=False)


def test_batch_word_ids_fallback():
    texts = ["ab", "cd"]
    offsets = np.array([[0, 1], [1, 2], [0, 2]])
    spans = (np.array([0, 0, 1]), np.array([2, 1, 2]), np.array([1, 2]))  # "ab" | "c" "d"
    ids, aligned = batch_word_ids(texts, spans, offsets, np.array([2, 1]))
    assert ids.tolist() == [0, 0, 0] and aligned.tolist() == [True, False]


def test_num_proc_gives_the_same_records(tok):
    docs = [f"第{i}篇。银行行长说了一句话。" for i in range(30)]
    one = prepare_corpus(docs, tok, max_length=32, progress=False)
    two = prepare_corpus(docs, tok, max_length=32, num_proc=2, progress=False)
    assert one["input_ids"] == two["input_ids"] and one["pinyin_ids"] == two["pinyin_ids"]


def test_streaming(tok):
    ds = prepare_corpus(["一篇。两句。", "另一篇。"], tok, max_length=32, streaming=True)
    rows = list(ds)
    assert len(rows) >= 2 and rows[0]["input_ids"][0] == tok.cls_token_id


def test_cli(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("命令行准备语料。第二句。\n\n第二篇。\n", encoding="utf-8")
    assert main(["prepare", str(corpus), "--out", str(tmp_path / "out"), "--max-length", "32"]) == 0
    assert "2 documents" in capsys.readouterr().out
    assert main(["prepare", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "o2")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.txt" in err and "Traceback" not in err


#: sha256 (first 16 hex) of every column of the records below, as prepared before preparation was made faster
#: (jieba in Python, Python lists per record): the faster path must write the very same records
FIXED_CORPUS_RECORDS = "d27c1e8a7ceadf72"


def test_records_on_a_fixed_corpus_are_unchanged(tmp_path):
    import hashlib

    from chinese_ptm.data import PrepareConfig, prepare_corpus
    from chinese_ptm.data.corpora import peoples_daily_lines
    from chinese_ptm.text.segmentation import JiebaSegmenter
    from chinese_ptm.text.tokenization import load_tokenizer

    lines = peoples_daily_lines(600)
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines[:300]) + "\n\n" + "\n".join(lines[300:]) + "\n", encoding="utf-8")
    for engine in ("rust", "python"):
        records = prepare_corpus(
            [path],
            load_tokenizer(),
            segmenter=JiebaSegmenter(engine=engine),
            config=PrepareConfig(max_length=96, packed_ratio=0.8),
            progress=False,
            cache_dir=str(tmp_path / engine),
        )
        digest = hashlib.sha256()
        for name in records.column_names:
            digest.update(name.encode())
            digest.update(json.dumps(records[name][:]).encode())
        assert (len(records), digest.hexdigest()[:16]) == (736, FIXED_CORPUS_RECORDS), engine
        summary = records.prepare_summary
        assert (summary["documents"], summary["paragraphs"], summary["sentences"], summary["tokens"]) == (
            2,
            593,
            1282,
            48380,
        )
        assert summary["skipped"] == {"duplicate_line": 7} and summary["char_masking_fallbacks"] == 3
        assert set(summary["stage_seconds"]) == {
            "read_clean_split",
            "tokenise",
            "segment",
            "word_ids",
            "pack",
            "to_arrow",
            "arrow_io_and_other",
        }
