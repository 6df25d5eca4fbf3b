import json

import numpy as np
import pytest
import torch
from conftest import FIXTURES, requires_fixtures, write_tiny_vocab
from hypothesis import given, settings
from hypothesis import strategies as st

from chinese_ptm.text.pinyin import encode_syllable
from chinese_ptm.text.tokenization import GlyceBertTokenizer, load_tokenizer, read_vocab

ZERO = [0] * 8


def _reference_records():
    return [json.loads(line) for line in (FIXTURES / "tokenizer_reference.jsonl").open(encoding="utf-8")]


@requires_fixtures
@pytest.mark.reference
def test_reproduces_original_tokenizer(reference_tokenizer):
    records = _reference_records()
    assert len(records) == 344
    for rec in records:
        enc = reference_tokenizer(rec["text"], rec.get("text_pair"))
        assert enc["input_ids"] == rec["input_ids"], rec["text"][:40]
        assert enc["pinyin_ids"] == rec["pinyin_ids"], rec["text"][:40]
        if "token_type_ids" in rec:
            assert enc["token_type_ids"] == rec["token_type_ids"]


@requires_fixtures
@pytest.mark.reference
def test_reproduces_original_in_batches(reference_tokenizer):
    records = _reference_records()
    singles = [r for r in records if "text_pair" not in r]
    pairs = [r for r in records if "text_pair" in r]
    enc = reference_tokenizer([r["text"] for r in singles])
    assert enc["pinyin_ids"] == [r["pinyin_ids"] for r in singles]
    enc = reference_tokenizer([r["text"] for r in pairs], [r["text_pair"] for r in pairs])
    assert enc["pinyin_ids"] == [r["pinyin_ids"] for r in pairs]
    assert enc["token_type_ids"] == [r["token_type_ids"] for r in pairs]


def test_default_tokenizer_basics(default_tokenizer):
    tok = default_tokenizer
    enc = tok("银行行长了解一个问题。")
    assert tok.convert_ids_to_tokens(enc["input_ids"])[:3] == ["[CLS]", "银", "行"]
    assert enc["pinyin_ids"][0] == ZERO and enc["pinyin_ids"][-1] == ZERO
    assert enc["pinyin_ids"][2] == encode_syllable("hang2") and enc["pinyin_ids"][4] == encode_syllable("zhang3")
    assert enc["pinyin_ids"][6] == encode_syllable("jie3")
    assert len(enc["pinyin_ids"]) == len(enc["input_ids"])
    assert tok.convert_ids_to_tokens([0, 100, 101, 102, 103]) == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def test_default_vocab_has_no_unk_on_news(default_tokenizer, news_lines):
    enc = default_tokenizer(news_lines[:1000], add_special_tokens=False)
    unk = sum(ids.count(default_tokenizer.unk_token_id) for ids in enc["input_ids"])
    total = sum(len(ids) for ids in enc["input_ids"])
    assert unk / total < 1e-4


def test_tensors_padding_truncation(default_tokenizer):
    tok = default_tokenizer
    texts = ["银行", "我喜欢北京烤鸭，１９９８年"]
    pt = tok(texts, padding=True, return_tensors="pt")
    assert pt["pinyin_ids"].shape == (*pt["input_ids"].shape, 8) and pt["pinyin_ids"].dtype == torch.int64
    np_ = tok(texts, padding="max_length", max_length=20, return_tensors="np")
    assert np_["pinyin_ids"].shape == (2, 20, 8) and isinstance(np_["pinyin_ids"], np.ndarray)
    right = tok(texts, padding=True)
    left = tok(texts, padding=True, padding_side="left")
    n = len(tok("银行")["input_ids"])
    pad = len(right["input_ids"][0]) - n
    assert right["pinyin_ids"][0][:n] == left["pinyin_ids"][0][pad:]
    assert left["pinyin_ids"][0][:pad] == [ZERO] * pad and left["input_ids"][0][:pad] == [0] * pad
    cut = tok("银行行长了解一个", truncation=True, max_length=5)
    # readings come from the whole text: the kept 行 still reads hang2 as in 行长
    assert len(cut["input_ids"]) == 5 and cut["pinyin_ids"][1:4] == tok("银行行长了解一个")["pinyin_ids"][1:4]
    assert cut["pinyin_ids"][4] == ZERO  # [SEP]


def test_pairs_offsets_overflow_and_words(default_tokenizer):
    tok = default_tokenizer
    pair = tok("银行", "行长")
    assert pair["token_type_ids"] == [0, 0, 0, 0, 1, 1, 1]
    # readings per side: 行 starts the second text and reads hang2 as in 行长
    assert pair["pinyin_ids"][4] == encode_syllable("hang2") and pair["pinyin_ids"][6] == ZERO
    off = tok("ab银行", return_offsets_mapping=True)
    assert off["offset_mapping"] == [(0, 0), (0, 2), (2, 3), (3, 4), (0, 0)]
    over = tok("银行行长了解一个" * 3, truncation=True, max_length=8, stride=2, return_overflowing_tokens=True)
    assert all(len(p) == len(i) for p, i in zip(over["pinyin_ids"], over["input_ids"]))
    assert len(over["input_ids"]) > 1
    words = tok([["银行", "行长"], ["我", "了解"]], is_split_into_words=True)
    assert words["pinyin_ids"][0] == tok("银行行长")["pinyin_ids"]
    assert words["pinyin_ids"][1] == tok("我了解")["pinyin_ids"]


def test_collator_and_pad(default_tokenizer):
    from transformers import DataCollatorWithPadding

    tok = default_tokenizer
    batch = DataCollatorWithPadding(tok)([tok("银行"), tok("行长了解一个问题")])
    assert batch["pinyin_ids"].shape == (2, batch["input_ids"].shape[1], 8)
    assert batch["pinyin_ids"][0, 4:].abs().sum() == 0
    padded = tok.pad([tok("银行"), tok("一个问题")], padding_side="left")
    assert padded["pinyin_ids"][0][:2] == [ZERO, ZERO]


def test_save_and_reload(tmp_path, default_tokenizer):
    from transformers import AutoTokenizer

    import chinese_ptm.modeling  # noqa: F401  (registers GlyceBertTokenizer with AutoTokenizer)

    files = default_tokenizer.save_pretrained(tmp_path)
    assert (tmp_path / "vocab.txt").is_file() and (tmp_path / "config" / "pinyin2tensor.json").is_file()
    assert any(f.endswith("id2pinyin.json") for f in files)
    for loaded in (GlyceBertTokenizer.from_pretrained(tmp_path), AutoTokenizer.from_pretrained(tmp_path)):
        assert isinstance(loaded, GlyceBertTokenizer)
        assert loaded("银行行长，１９９８年") == default_tokenizer("银行行长，１９９８年")


def test_plain_bert_directory_builds_tables(tmp_path):
    write_tiny_vocab(tmp_path)
    tok = GlyceBertTokenizer.from_pretrained(tmp_path)
    enc = tok("银行行长")
    assert enc["pinyin_ids"][2] == encode_syllable("hang2")
    assert tok.pinyin_tables.id2pinyin[str(tok.convert_tokens_to_ids("行"))][0] == encode_syllable("xing2")


@requires_fixtures
def test_original_directory_loads_its_tables():
    tok = GlyceBertTokenizer.from_pretrained(FIXTURES / "tiny_checkpoint")
    assert len(tok) == 256
    ref = json.loads((FIXTURES / "tiny_checkpoint" / "config" / "id2pinyin.json").read_text())
    assert tok.pinyin_tables.id2pinyin == ref


def test_normalisation_keeps_offsets(default_tokenizer):
    raw = load_tokenizer(normalize_text=True)
    text = "“中文”……ＡＢ１２"
    enc = raw(text, return_offsets_mapping=True)
    spans = [text[s:e] for s, e in enc["offset_mapping"][1:-1]]
    assert spans[0] == "“" and spans[1] == "中" and "……" not in spans and spans[-1] in ("ＡＢ１２", "１２", "２")
    assert enc["pinyin_ids"][2] == encode_syllable("zhong1")


@requires_fixtures
def test_normalisation_removes_unk_with_standard_vocab(news_lines):
    std = GlyceBertTokenizer.from_pretrained(FIXTURES / "tokenizer")
    norm = GlyceBertTokenizer.from_pretrained(FIXTURES / "tokenizer", normalize_text=True)

    def rate(tok):
        enc = tok(news_lines[:500], add_special_tokens=False)
        return sum(i.count(100) for i in enc["input_ids"]) / sum(len(i) for i in enc["input_ids"])

    assert rate(std) > 0.005 and rate(norm) < rate(std) / 5


@pytest.mark.parametrize(
    "bad, where", [(None, "text"), (3, "text"), (["ok", None], r"text\[1\]"), ([b"x"], r"text\[0\]")]
)
def test_bad_input_types(default_tokenizer, bad, where):
    with pytest.raises((TypeError, ValueError), match=where):
        default_tokenizer(bad)


def test_pair_length_mismatch(default_tokenizer):
    with pytest.raises(ValueError, match="text_pair"):
        default_tokenizer(["a", "b"], ["c"])


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\t\n",
        "\ud800中\udfff",
        "😀中文😀",
        "𠀀𪚥中",
        "\x00\x07中\x1b",
        "中" * 100_000,
        "A\u0301中",
        "ＡＢＣ中",
    ],
)
def test_odd_strings_keep_alignment(default_tokenizer, text):
    enc = default_tokenizer(text)
    assert len(enc["pinyin_ids"]) == len(enc["input_ids"])
    assert all(len(row) == 8 for row in enc["pinyin_ids"])


def test_vocab_file_errors(tmp_path):
    bad = tmp_path / "vocab.txt"
    bad.write_text("[PAD]\n[UNK]\n\n中\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 3: empty token"):
        read_vocab(bad)
    bad.write_text("[PAD]\n中\n中\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 3: duplicate token '中' \\(first at line 2\\)"):
        read_vocab(bad)
    with pytest.raises(FileNotFoundError, match="vocabulary not found"):
        read_vocab(tmp_path / "missing.txt")


_PIECES = list("银行长了解一个的地得中国人，。！“”、 ab1２３") + [
    "１９９８年",
    "iPhone",
    "〇",
    "😀",
    "\u3000",
    "Ａ",
    "\x00",
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(_PIECES), max_size=15).map("".join), min_size=1, max_size=4),
    st.sampled_from([None, 6, 12]),
    st.booleans(),
)
def test_aligned_path_equals_offsets_path(texts, max_length, pad):
    """Texts of Chinese characters and punctuation skip offsets; the result must not change."""
    tok = _tokenizers()
    kwargs = dict(truncation=max_length is not None, max_length=max_length, padding="longest" if pad else False)
    fast = tok(texts, **kwargs)
    tok._disable_aligned_path = True
    try:
        slow = tok(texts, **kwargs)
    finally:
        tok._disable_aligned_path = False
    assert fast["pinyin_ids"] == slow["pinyin_ids"]
    assert fast["input_ids"] == slow["input_ids"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=3), st.booleans())
def test_any_unicode_keeps_alignment(texts, with_pair):
    tok = _tokenizers()
    enc = tok(texts, texts[::-1]) if with_pair else tok(texts)
    for ids, rows in zip(enc["input_ids"], enc["pinyin_ids"]):
        assert len(ids) == len(rows) and all(len(r) == 8 for r in rows)


_TOK = {}


def _tokenizers():
    if "default" not in _TOK:
        _TOK["default"] = load_tokenizer()
    return _TOK["default"]


def test_cli_tokenize(capsys):
    from chinese_ptm.cli import main

    assert main(["tokenize", "银行行长"]) == 0
    out = capsys.readouterr().out
    assert "行/hang2" in out and "长/zhang3" in out


_CORPUS_PIECES = (
    _PIECES
    + list("…·—（）《》XYZ\t\n①Ⅻ々ぁ한é#")
    + ["[MASK]", "[UNK]", "e\u0301", "COVID-19", "  ", "\u200b", "##a", "ＡＢＣ", "a" * 120]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_CORPUS_PIECES), max_size=12).map("".join), min_size=1, max_size=6))
def test_corpus_encoding_direct_path_equals_wordpiece(texts):
    """Corpus preparation looks the ids of Chinese characters and punctuation up and runs WordPiece only on the
    runs between them; ids, pinyin, offsets and lengths must equal WordPiece over whole texts."""
    tok = _tokenizers()
    direct = tok.encode_arrays(texts)
    tok._disable_direct_path = True
    try:
        whole = tok.encode_arrays(texts)
    finally:
        tok._disable_direct_path = False
    for key in ("input_ids", "pinyin_ids", "offsets", "lengths"):
        assert np.array_equal(direct[key], whole[key]), key


def _same_batch(direct, backend):
    """Equal keys in equal order, equal values and types, equal backend encodings."""
    assert list(direct.keys()) == list(backend.keys())
    for key, value in backend.items():
        got = direct[key]
        if isinstance(value, (np.ndarray, torch.Tensor)):
            assert type(got) is type(value) and got.dtype == value.dtype and got.shape == value.shape, key
        assert _nested(got) == _nested(value), key
    assert len(direct.encodings) == len(backend.encodings)
    for mine, theirs in zip(direct.encodings, backend.encodings):
        assert (mine.ids, mine.offsets, mine.word_ids, mine.attention_mask) == (
            theirs.ids,
            theirs.offsets,
            theirs.word_ids,
            theirs.attention_mask,
        )


def _nested(value):
    """Arrays (ragged ones are object arrays of arrays) and tensors as nested lists."""
    if isinstance(value, (np.ndarray, torch.Tensor, list, tuple)) and getattr(value, "dtype", None) in (None, object):
        return [_nested(v) for v in value]
    return value.tolist() if isinstance(value, (np.ndarray, torch.Tensor)) else value


_CALL_OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "padding": st.sampled_from([False, True, "max_length"]),
        "truncation": st.booleans(),
        "max_length": st.sampled_from([2, 5, 9, 16]),
        "pad_to_multiple_of": st.sampled_from([3, 8]),
        "return_tensors": st.sampled_from(["pt", "np"]),
        "return_offsets_mapping": st.booleans(),
        "return_special_tokens_mask": st.booleans(),
        "return_length": st.booleans(),
        "return_token_type_ids": st.booleans(),
        "return_attention_mask": st.booleans(),
    },
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(_CORPUS_PIECES), max_size=12).map("".join), min_size=1, max_size=5),
    st.booleans(),
    _CALL_OPTIONS,
)
def test_call_direct_path_equals_backend(texts, single, options):
    """A call on single texts lays the tokens out without the backend; every key, value, type and the backend's
    own encodings (made on first use) must equal the backend path's, or both must fail alike."""
    tok = _tokenizers()
    text = texts[0] if single else texts
    try:
        direct = tok(text, **options)
    except ValueError as error:  # ragged tensors: the backend path must refuse them the same way
        direct = error
    tok._disable_direct_path = True
    try:
        backend = tok(text, **options)
    except ValueError as error:
        backend = error
    finally:
        tok._disable_direct_path = False
    if isinstance(backend, ValueError):
        assert isinstance(direct, ValueError) and str(direct) == str(backend)
        return
    assert type(direct._encodings).__name__ == "LazyEncodings"  # the direct path was taken
    _same_batch(direct, backend)


def test_call_direct_path_pickles_and_reads_words(default_tokenizer):
    import pickle

    enc = default_tokenizer(["中国银行 iPhone", "１９９８年"], truncation=True, max_length=6)
    assert enc.word_ids(0) == [None, 0, 1, 2, 3, None] and enc.tokens(1) == ["[CLS]", "１９９８", "年", "[SEP]"]
    again = pickle.loads(pickle.dumps(enc))
    assert again["input_ids"] == enc["input_ids"] and again.encodings[0].ids == enc.encodings[0].ids


def test_call_direct_path_follows_the_post_processor():
    """A tokenizer whose template is not [CLS] text [SEP] goes through the backend."""
    from tokenizers.processors import TemplateProcessing

    tok = load_tokenizer.__wrapped__()  # its own copy: the cached one is shared by every test
    before = tok("银行")["input_ids"]
    tok._tokenizer.post_processor = TemplateProcessing(single="[CLS] $A", special_tokens=[("[CLS]", tok.cls_token_id)])
    after = tok(["银行", "行长"])
    assert after["input_ids"][0] == before[:-1] and type(after._encodings) is list


def test_fingerprint_does_not_depend_on_use():
    """datasets fingerprints a map by the pickled tokenizer: tables made on first use must not change it, and a
    pickled tokenizer (as sent to workers) rebuilds them and encodes the same."""
    import pickle

    from datasets.fingerprint import Hasher

    tok = load_tokenizer()
    before = Hasher.hash(tok)
    used = tok(["中国１９９８年 iPhone"], padding="max_length", truncation=True, max_length=12)
    assert Hasher.hash(tok) == before
    copy = pickle.loads(pickle.dumps(tok))
    assert copy._direct.one_token_chars is None
    assert copy(["中国１９９８年 iPhone"], padding="max_length", truncation=True, max_length=12) == used
