import json
import warnings

import pytest
from conftest import FIXTURES, requires_fixtures
from hypothesis import given, settings
from hypothesis import strategies as st

from chinese_ptm.text.pinyin import (
    ALPHABET,
    PINYIN_SLOTS,
    contextual_pinyin,
    decode_syllable,
    encode_syllable,
    pypinyin_readings,
    reading_engine,
)
from chinese_ptm.text.pinyin_tables import PinyinTables


def test_alphabet_and_encoding():
    assert len(ALPHABET) == 32 and ALPHABET[:6] == "012345"
    assert encode_syllable("zhong1") == [31, 13, 20, 19, 12, 1, 0, 0]
    assert encode_syllable("de") == [9, 10, 0, 0, 0, 0, 0, 0]
    assert encode_syllable("lv4") == [17, 27, 4, 0, 0, 0, 0, 0]
    assert encode_syllable("ü") == [0] * PINYIN_SLOTS  # a symbol outside the alphabet
    assert encode_syllable("") == [0] * PINYIN_SLOTS
    assert decode_syllable(encode_syllable("shuang1")) == "shuang1"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("银行行长", ["yin2", "hang2", "hang2", "zhang3"]),
        ("我了解了", ["wo3", "liao3", "jie3", "le"]),
        ("一个人", ["yi2", "ge4", "ren2"]),
        ("abc中文", [None, None, None, "zhong1", "wen2"]),
    ],
)
def test_contextual_readings(text, expected):
    assert contextual_pinyin(text) == expected
    assert pypinyin_readings(text) == expected


def test_matches_pypinyin_on_news(news_lines):
    engine = reading_engine()
    lines = news_lines[:600]
    got = engine.batch_readings(lines)
    for line, ids in zip(lines, got):
        assert [engine.readings[i] for i in ids] == pypinyin_readings(line), line


def test_end_of_run_rule():
    """pypinyin reads a run's tail that is a phrase prefix but holds no phrase char by char."""
    from pypinyin.constants import PHRASES_DICT

    engine = reading_engine()
    cases = 0
    for phrase in list(PHRASES_DICT)[:20000]:
        if len(phrase) >= 3 and phrase[:2] not in PHRASES_DICT:
            for text in (phrase[:2], "的" + phrase[:2], phrase[:-1]):
                assert [engine.readings[i] for i in engine.readings_of(text)] == pypinyin_readings(text), text
            cases += 1
            if cases > 200:
                break
    assert cases > 50


def _phrase_soup():
    from pypinyin.constants import PHRASES_DICT

    engine = reading_engine()
    special = [p for p, r in engine.phrases.items() if any(engine.char_reading[ord(c)] != i for c, i in zip(p, r))]
    pieces = special[:3000:7] + list(PHRASES_DICT)[:5000:11] + list("的了行长一不着地得重还为和会，。 a1１\n〇")
    return st.lists(st.sampled_from(pieces), max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(_phrase_soup())
def test_matches_pypinyin_on_phrase_soup(text):
    assert contextual_pinyin(text) == pypinyin_readings(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_matches_pypinyin_on_any_unicode(text):
    assert contextual_pinyin(text) == pypinyin_readings(text)


@requires_fixtures
@pytest.mark.reference
def test_tables_match_original():
    from chinese_ptm.text.tokenization import read_vocab

    vocab = read_vocab(FIXTURES / "tokenizer" / "vocab.txt")
    built = PinyinTables.build(sorted(vocab, key=vocab.get))
    ref = PinyinTables.load(FIXTURES / "tokenizer")
    assert built.pinyin_map == ref.pinyin_map
    assert list(built.pinyin2tensor.items()) == list(ref.pinyin2tensor.items())
    assert built.id2pinyin == ref.id2pinyin


def test_tables_save_load_and_version_warning(tmp_path):
    tables = PinyinTables.build(["[PAD]", "中", "##的", "ab", "了"])
    assert tables.id2pinyin["1"] == [[31, 13, 20, 19, 12, 1, 0, 0], [31, 13, 20, 19, 12, 4, 0, 0]]
    assert tables.pinyin2tensor["de"] == encode_syllable("de5")  # neutral tone through the table
    assert tables.id2pinyin["3"] == [[0] * 8] and len(tables.id2pinyin) == 6
    tables.save(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = PinyinTables.load(tmp_path)
    assert again.id2pinyin == tables.id2pinyin
    meta = tmp_path / "config" / "pinyin_meta.json"
    meta.write_text(json.dumps({"pypinyin": "0.38.1"}))
    with pytest.warns(UserWarning, match="pypinyin 0.38.1"):
        PinyinTables.load(tmp_path)


def test_tables_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="chinese-ptm vocab tables"):
        PinyinTables.load(tmp_path)
    (tmp_path / "pinyin2tensor.json").write_text("{not json")
    (tmp_path / "pinyin_map.json").write_text(json.dumps({"idx2char": list(ALPHABET), "char2idx": {}}))
    (tmp_path / "id2pinyin.json").write_text("{}")
    with pytest.raises(ValueError, match="pinyin2tensor.json: not valid JSON"):
        PinyinTables.load(tmp_path)
