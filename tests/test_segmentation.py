import numpy as np
import pytest

from chinese_ptm.errors import UserError
from chinese_ptm.segmentation import (
    JiebaSegmenter,
    MissingBackendError,
    PkusegSegmenter,
    Segmenter,
    align_words,
    get_segmenter,
    word_f1,
    word_ids_for_tokens,
)


@pytest.fixture(scope="module")
def jieba_seg():
    return JiebaSegmenter()


def test_jieba_spans_cover_text(jieba_seg):
    text = "我喜欢北京烤鸭，１９９８年 iPhone……好"
    spans = jieba_seg.segment(text)
    assert isinstance(jieba_seg, Segmenter)
    covered = "".join(text[s:e] for s, e in spans)
    assert covered == text.replace(" ", "")
    assert all(s < e for s, e in spans) and all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    words = [text[s:e] for s, e in spans]
    assert "北京" in words[2] and "１９９８" in words  # full-width digits stay one word


def test_normalisation_helps_full_width_digits():
    raw = JiebaSegmenter(normalize_text=False)
    text = "１９９８年"
    assert len(raw.segment(text)) > len(JiebaSegmenter().segment(text))


def test_user_dictionary(tmp_path):
    text = "量子纠缠态制备"
    path = tmp_path / "dict.txt"
    path.write_text("纠缠态制备 100 n\n", encoding="utf-8")
    seg = JiebaSegmenter(user_dicts=[str(path)])
    assert (2, 7) in seg.segment(text)
    with pytest.raises(UserError, match="user dictionary"):
        JiebaSegmenter(user_dicts=[str(tmp_path / "missing.txt")]).segment(text)


def test_missing_backends_say_what_to_install():
    try:
        import pkuseg  # noqa: F401
    except ImportError:
        with pytest.raises(MissingBackendError, match="pip install"):
            PkusegSegmenter()
    with pytest.raises(ValueError, match="unknown segmenter"):
        get_segmenter("nope")


def test_align_words_skips_dropped_characters():
    assert align_words("中 国人", ["中", "国人"]) == [(0, 1), (2, 4)]
    assert align_words("中国人", ["中", "X", "国人"]) == [(0, 1), (1, 3)]


def test_word_ids_for_tokens():
    spans = [(0, 1), (1, 3), (3, 9)]  # 我 | 喜欢 | iPhone
    starts = np.array([0, 0, 1, 2, 3, 4, 5, 0])
    ends = np.array([0, 1, 2, 3, 4, 5, 9, 0])  # [CLS] 我 喜 欢 i ##p ##hone [SEP]
    ids, ok = word_ids_for_tokens(spans, starts, ends)
    assert ok and ids.tolist() == [-1, 0, 1, 1, 2, 2, 2, -1]
    ids, ok = word_ids_for_tokens([(0, 2), (2, 4)], np.array([0, 1, 3]), np.array([1, 3, 4]))
    assert not ok and ids.tolist() == [0, 1, 2]  # a token straddles: every token its own word


def test_word_f1():
    seg = JiebaSegmenter()
    score = word_f1(seg, [["我", "喜欢", "北京"]])
    assert score["f1"] == 1.0


@pytest.mark.slow
def test_jieba_f1_on_peoples_daily():
    from chinese_ptm.corpora import peoples_daily_words

    gold = peoples_daily_words()[-300:]
    assert word_f1(JiebaSegmenter(), gold)["f1"] > 0.8


def test_pkuseg_offsets_when_installed():
    pytest.importorskip("pkuseg")
    text = "１９９８年，iPhone 售价 5999 元。"
    spans = PkusegSegmenter().segment(text)
    assert "".join(text[s:e] for s, e in spans) == text.replace(" ", "")
