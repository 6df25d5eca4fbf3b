import numpy as np
import pytest

from chinese_ptm.errors import UserError
from chinese_ptm.text.segmentation import (
    JiebaSegmenter,
    MissingBackendError,
    PkusegSegmenter,
    Segmenter,
    align_words,
    get_segmenter,
    read_user_dict,
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


def test_user_dictionary_lines_read_as_jieba_reads_them(tmp_path):
    path = tmp_path / "dict.txt"
    path.write_bytes("\ufeff云计算 5\n韩玉鉴赏 3 nz\n\n八一双鹿 nz\nAT&T\nan apple 2\n".encode("utf-8"))
    assert read_user_dict(path) == [
        ("云计算", 5, None),
        ("韩玉鉴赏", 3, "nz"),
        ("八一双鹿", None, "nz"),
        ("AT&T", None, None),
        ("an apple", 2, None),
    ]
    path.write_bytes("好词 3\n".encode("utf-8") + "坏词".encode("gbk") + b"\n")
    with pytest.raises(UserError, match=r"dict.txt:2: not UTF-8"):
        read_user_dict(path)


def test_rust_and_python_jieba_cut_people_s_daily_alike(tmp_path):
    """The default engine (jieba-rs) is chosen because it cuts as jieba does: the same spans on a slice of People's
    Daily, with and without a user dictionary (bench/data.py measures the whole corpus)."""
    pytest.importorskip("rjieba")
    from chinese_ptm.data.corpora import peoples_daily_words

    gold = peoples_daily_words()[:400]
    user = tmp_path / "user.txt"
    new_words = sorted({w for ws in gold for w in ws if len(w) >= 3})[:200]
    user.write_text(
        "".join(f"{w} {3 + i % 5}\n" if i % 2 else f"{w}\n" for i, w in enumerate(new_words)), encoding="utf-8"
    )
    for dicts in ([], [str(user)]):
        rust, python = (
            JiebaSegmenter(user_dicts=dicts, engine="rust"),
            JiebaSegmenter(user_dicts=dicts, engine="python"),
        )
        texts = ["".join(ws) for ws in gold]
        assert [rust.segment(t) for t in texts] == [python.segment(t) for t in texts]
    assert JiebaSegmenter(user_dicts=[str(user)]).segment("".join(new_words[:3])) != JiebaSegmenter().segment(
        "".join(new_words[:3])
    )  # the dictionary was read
    assert JiebaSegmenter().active_engine == "rust"
    assert JiebaSegmenter(hmm=True).active_engine == "python"  # the engines' HMMs differ: auto keeps jieba's


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
    from chinese_ptm.data.corpora import peoples_daily_words

    gold = peoples_daily_words()[-300:]
    assert word_f1(JiebaSegmenter(), gold)["f1"] > 0.8


def test_pkuseg_offsets_when_installed():
    pytest.importorskip("pkuseg")
    text = "１９９８年，iPhone 售价 5999 元。"
    spans = PkusegSegmenter().segment(text)
    assert "".join(text[s:e] for s, e in spans) == text.replace(" ", "")


@pytest.mark.parametrize("options", [{}, {"engine": "python"}, {"normalize_text": False}, {"hmm": True}])
def test_batch_spans_are_the_spans_of_each_text(options):
    """What corpus preparation uses (numpy over a batch) equals segment() text by text, spaces, ellipses and
    full-width text included."""
    from chinese_ptm.data.corpora import peoples_daily_lines
    from chinese_ptm.text.segmentation import segment_batch

    texts = peoples_daily_lines(200) + [
        "",
        "  ",
        "北京 烤鸭……好吃",
        "１９９８年\u3000新年…",
        "a  b\tc",
        "…",
        "好 ",
        " 好",
    ]
    segmenter = JiebaSegmenter(**options)
    starts, ends, counts = segment_batch(segmenter, texts)
    bounds = np.concatenate(([0], np.cumsum(counts)))
    got = [list(zip(starts[a:b].tolist(), ends[a:b].tolist())) for a, b in zip(bounds, bounds[1:])]
    assert got == [segmenter.segment(t) for t in texts]
