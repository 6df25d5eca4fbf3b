"""Word vocabularies and the word tokenizer: built from real text, cut as the segmenter cuts, characters where a
word is not in the vocabulary, and the paths that use them (records, glyph tables, tagging, recipes)."""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import numpy as np
import pytest

from chinese_ptm.data.corpora import peoples_daily_lines
from chinese_ptm.errors import UserError
from chinese_ptm.resources import vocab_dir
from chinese_ptm.text.segmentation import JiebaSegmenter, SegmenterError
from chinese_ptm.text.tokenization import load_tokenizer
from chinese_ptm.text.vocab import read_vocab_tokens, write_vocab
from chinese_ptm.text.word_tokenization import GlyceBertWordTokenizer, build_word_vocab

TEXT = "国务院总理李鹏今天在人民大会堂会见了日本客人，殚精竭虑的iPhone 12用户。"


@pytest.fixture(scope="module")
def word_vocab(tmp_path_factory):
    """A word vocabulary of the first 2,000 lines of People's Daily 1998, written as ``vocab build`` writes it."""
    folder = tmp_path_factory.mktemp("words")
    base = read_vocab_tokens(vocab_dir())
    tokens, summary, kept = build_word_vocab(peoples_daily_lines()[:2000], base, 3000, 3, "pd98", JiebaSegmenter())
    write_vocab(tokens, folder, summary)
    GlyceBertWordTokenizer(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    return folder, base, summary, kept


@pytest.fixture(scope="module")
def words(word_vocab):
    return load_tokenizer(word_vocab[0])


def test_a_word_vocabulary_is_the_character_vocabulary_then_the_frequent_words(word_vocab):
    folder, base, summary, kept = word_vocab
    tokens = read_vocab_tokens(folder)
    assert tokens[: len(base)] == base  # every character keeps its id
    assert [w for w, _ in kept] == tokens[len(base) :] and len(kept) == summary["words"] <= 3000
    counts = [c for _, c in kept]
    assert counts == sorted(counts, reverse=True) and counts[-1] >= 3
    assert all(len(w) > 1 for w in tokens[len(base) :]) and "中国" in tokens
    assert 0 < summary["fallback_token_share"] < 1 and 0 < summary["word_occurrences_whole"] < 1


def test_a_corpus_without_frequent_words_is_refused_with_its_name():
    base = read_vocab_tokens(vocab_dir())
    with pytest.raises(UserError, match=r"tiny\.txt: no multi-character Chinese word occurs 5 times.*1 non-empty"):
        build_word_vocab(["我们今天去北京。", ""], base, 10, 5, "tiny.txt", JiebaSegmenter())
    with pytest.raises(UserError, match="0 non-empty lines"):
        build_word_vocab([], base, 10, 1, "empty.txt", JiebaSegmenter())


def test_words_are_tokens_and_other_words_their_characters(words):
    chars = load_tokenizer()
    encoded = words(TEXT, return_offsets_mapping=True)
    tokens = words.convert_ids_to_tokens(encoded["input_ids"])
    assert {"国务院", "总理", "今天", "日本"} <= set(tokens)
    pieces = [TEXT[s:e] for s, e in encoded["offset_mapping"][1:-1]]
    assert "".join(p for p in pieces) == TEXT.replace(" ", "")  # offsets cover the text in order
    # a word outside the vocabulary falls back to its characters, with the character vocabulary's ids
    assert "殚精竭虑" not in words.words
    at = pieces.index("殚")
    assert pieces[at : at + 4] == list("殚精竭虑")
    assert encoded["input_ids"][1 + at : 5 + at] == chars.convert_tokens_to_ids(list("殚精竭虑"))
    assert len(encoded["input_ids"]) < len(chars(TEXT)["input_ids"])


def test_a_word_token_reads_its_first_character_in_context(words):
    chars = load_tokenizer()
    text = "银行行长"  # 行 reads hang2 then hang2/xing2 in context
    ours, theirs = words(text, return_offsets_mapping=True), chars(text)
    for (start, end), row in zip(ours["offset_mapping"][1:-1], ours["pinyin_ids"][1:-1]):
        assert row == theirs["pinyin_ids"][1 + start]


def test_batches_pairs_padding_truncation_and_tensors(words):
    batch = words([TEXT, "北京"], padding=True, truncation=True, max_length=12, return_tensors="np")
    assert batch["input_ids"].shape == (2, 12) and batch["pinyin_ids"].shape == (2, 12, 8)
    short = words.convert_ids_to_tokens(batch["input_ids"][1].tolist())
    assert short[:4] == ["[CLS]", "北京", "[SEP]", "[PAD]"] and batch["attention_mask"][1].sum() == 3
    assert words.convert_ids_to_tokens(batch["input_ids"][0].tolist())[-1] == "[SEP]"  # truncated, then closed
    pairs = words(["北京", "日本"], ["人民", "客人"])
    assert words.convert_ids_to_tokens(pairs["input_ids"][1]) == ["[CLS]", "日本", "[SEP]", "客人", "[SEP]"]
    assert pairs["token_type_ids"][0] == [0, 0, 0, 1, 1]
    for text in ("hello world 123", "ＡＢＣ-def", ""):  # no Chinese: as the character tokenizer reads it
        assert words(text)["input_ids"] == load_tokenizer()(text)["input_ids"]
    with pytest.raises(ValueError, match="cuts texts into words itself"):
        words([list("北京")], is_split_into_words=True)


def test_saved_loaded_auto_and_pickled_alike(words, tmp_path):
    from transformers import AutoTokenizer

    import chinese_ptm.modeling  # noqa: F401 - registers the tokenizers with AutoTokenizer

    words.save_pretrained(tmp_path)
    expected = words(TEXT)["input_ids"]
    for other in (load_tokenizer(tmp_path), AutoTokenizer.from_pretrained(tmp_path), pickle.loads(pickle.dumps(words))):
        assert type(other) is GlyceBertWordTokenizer and other(TEXT)["input_ids"] == expected


def test_the_user_dictionary_travels_with_the_tokenizer_and_must_match(word_vocab, tmp_path):
    folder = word_vocab[0]
    user = tmp_path / "user.txt"
    user.write_text("殚精竭虑 100\n", encoding="utf-8")
    extended = tmp_path / "vocab.txt"
    extended.write_text((folder / "vocab.txt").read_text(encoding="utf-8") + "殚精竭虑\n", encoding="utf-8")
    tok = GlyceBertWordTokenizer(vocab_file=str(extended), segmenter_dict_file=str(user))
    assert "殚精竭虑" in tok.convert_ids_to_tokens(tok(TEXT)["input_ids"])
    saved = tmp_path / "saved"
    tok.save_pretrained(saved)
    user.unlink()
    assert load_tokenizer(saved)(TEXT)["input_ids"] == tok(TEXT)["input_ids"]
    (saved / "segmenter_dict.txt").write_text("别的 1\n", encoding="utf-8")
    with pytest.raises(SegmenterError, match="not the segmenter user dictionary"):
        load_tokenizer.__wrapped__(saved)
    (saved / "segmenter_dict.txt").unlink()
    with pytest.raises(SegmenterError, match="is not there; copy it back"):
        load_tokenizer.__wrapped__(saved)


def test_records_are_cut_as_the_tokenizer_cuts(words, tmp_path):
    """The preparation path: encode_arrays gives __call__'s tokens, and a word is one masking unit."""
    from chinese_ptm.data import PrepareConfig, prepare_corpus

    arrays = words.encode_arrays([TEXT, "北京 欢迎你"])
    single = [words(t, add_special_tokens=False, return_offsets_mapping=True) for t in (TEXT, "北京 欢迎你")]
    assert arrays["input_ids"].tolist() == single[0]["input_ids"] + single[1]["input_ids"]
    assert arrays["offsets"].tolist() == [list(p) for s in single for p in s["offset_mapping"]]
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(peoples_daily_lines()[:30]) + "\n", encoding="utf-8")
    records = prepare_corpus([corpus], words, output_dir=tmp_path / "r", config=PrepareConfig(max_length=64))
    row = records[0]
    ids = np.asarray(row["input_ids"])
    word_ids = np.asarray(row["word_ids"])
    multi = [i for i, t in enumerate(words.convert_ids_to_tokens(ids.tolist())) if t in words.words]
    assert multi and all((word_ids == word_ids[i]).sum() == 1 for i in multi)  # a word token is a unit alone


def test_a_words_glyph_is_the_mean_of_its_characters():
    from chinese_ptm.glyph.table import build_glyph_table

    table, _ = build_glyph_table(["[PAD]", "人", "民", "人民", "##a", "ab"], progress=False)
    mean = (table[1].astype(np.float32) + table[2]) / 2
    assert np.abs(table[3] - mean).max() <= 0.5 and table[3].any()
    assert not table[4].any() and not table[5].any()


def test_tagging_reads_each_character_through_the_word_covering_it(words):
    from chinese_ptm.finetune.features import Encoder
    from chinese_ptm.finetune.tasks.tagging import word_tags

    encoder = Encoder(None, words, SimpleNamespace(max_length=16, stride=4), with_pinyin=True, progress=False)
    text = "国务院总理李鹏今天在人民大会堂会见了日本客人。"
    windows = list(encoder.char_windows([text]))
    assert len(windows) > 1  # 16 tokens do not hold the text
    covered = np.zeros(len(text), dtype=bool)
    for _, feature, token_of in windows:
        seen = token_of >= 0
        covered |= seen
        shown = words.convert_ids_to_tokens(feature["input_ids"][token_of[seen]].tolist())
        assert all(text[i] in token for i, token in zip(np.flatnonzero(seen), shown))  # a char's token holds it
    first = windows[0][2]
    assert (first[:3] == first[0]).all() and first[0] == 1  # 国务院: one token, after [CLS]
    assert covered.all()
    tags = word_tags(["S-LOC", "S-LOC", "O", "B-PER", "I-PER", "O"], np.array([1, 1, 2, 3, 3, 4]))
    assert tags == ["B-LOC", "I-LOC", "O", "B-PER", "I-PER", "O"]
    assert word_tags(["O", "B-PER"], np.array([5, 5])) == ["O", "O"]


def test_recipes_check_the_granularity_against_the_tokenizer(word_vocab, tmp_path):
    from chinese_ptm.pretrain.corpus import load_run_tokenizer
    from chinese_ptm.pretrain.recipe import load_recipe

    folder = str(word_vocab[0])
    settings = {"output_dir": str(tmp_path), "model.architecture": "bert"}
    with pytest.raises(UserError, match="set model.granularity: word"):
        load_run_tokenizer(load_recipe("chinesebert-tiny", {**settings, "model.tokenizer": folder}))
    char_vocab = {"model.tokenizer": str(vocab_dir()), "model.granularity": "word"}
    with pytest.raises(UserError, match="is a character tokenizer"):
        load_run_tokenizer(load_recipe("chinesebert-tiny", {**settings, **char_vocab}))
    bundled = load_run_tokenizer(load_recipe("chinesebert-tiny", {**settings, "model.granularity": "word"}))
    assert isinstance(bundled, GlyceBertWordTokenizer) and len(bundled) == 25686  # vocab/words by default
    tok = load_run_tokenizer(
        load_recipe("chinesebert-tiny", {**settings, "model.tokenizer": folder, "model.granularity": "word"})
    )
    assert isinstance(tok, GlyceBertWordTokenizer)


def test_open_glyphs_show_an_unknown_characters_own_glyph(word_vocab):
    tok = GlyceBertWordTokenizer(vocab_file=str(word_vocab[0] / "vocab.txt"), open_glyphs=True)
    encoded = tok("北京㐀人")
    at = encoded["input_ids"].index(tok.unk_token_id)
    assert encoded["glyph_ids"][at] == -ord("㐀")
    assert tok.encode_arrays(["北京㐀人"])["glyph_ids"].tolist().count(-ord("㐀")) == 1
