"""Open glyphs: a character outside the vocabulary, passed as ``glyph_ids = -code point``, reaches the glyph
branch as its own bitmap (drawn in the table's fonts) while its word embedding stays [UNK]'s."""

from __future__ import annotations

import pytest
import torch

from chinese_ptm.glyph import load_glyph_table
from chinese_ptm.glyph.open import render_code_points
from chinese_ptm.modeling import GlyceBertConfig, GlyceBertModel

FONTS = ["serif", "kai", "sans"]


@pytest.fixture(scope="module")
def bundled():
    return load_glyph_table()  # (V, 3, 24, 24) of the bundled vocabulary


def _model(table, open_fonts) -> GlyceBertModel:
    torch.manual_seed(0)
    config = GlyceBertConfig(
        vocab_size=table.shape[0],
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=16,
        open_glyph_fonts=open_fonts,
    )
    model = GlyceBertModel(config).eval()
    model.load_glyph_table(table)
    return model


def test_drawn_bitmaps_equal_the_glyph_table_rows(bundled):
    """Drawn on demand, a character's bitmaps are byte for byte the table's row for it (same fonts, size, place)."""
    from chinese_ptm.resources import vocab_dir

    tokens = (vocab_dir() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    ids = [i for i, t in enumerate(tokens) if t in ("中", "殚", "龘", "的")]
    drawn = render_code_points([ord(tokens[i]) for i in ids], FONTS, 24)
    assert ids and (drawn == bundled[ids]).all()


def test_an_unk_with_its_own_glyph_reads_that_glyph_and_unks_word_row(bundled):
    """[UNK] showing 中's glyph embeds as a model whose [UNK] glyph row *is* 中's; glyph_ids are ignored when the
    model draws no open glyphs (the original's behaviour), and the training path (per distinct key, gradients)
    gives what the inference path gives."""
    from chinese_ptm.resources import vocab_dir

    tokens = (vocab_dir() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    unk, zhong = tokens.index("[UNK]"), tokens.index("中")
    input_ids = torch.tensor([[tokens.index("[CLS]"), unk, zhong, unk, tokens.index("[SEP]")]])
    glyph_ids = input_ids.clone()
    glyph_ids[0, 1] = -ord("中")  # the first [UNK] is 中 typed where the vocabulary lacks it

    opened = _model(bundled, FONTS)
    swapped_table = bundled.copy()
    swapped_table[unk] = bundled[zhong]
    swapped = _model(swapped_table, FONTS)
    with torch.no_grad():
        got = opened.embeddings(input_ids=input_ids, glyph_ids=glyph_ids)
        want = swapped.embeddings(input_ids=input_ids)
        plain = opened.embeddings(input_ids=input_ids)
        closed = _model(bundled, None).embeddings(input_ids=input_ids, glyph_ids=glyph_ids)
    torch.testing.assert_close(got[0, 1], want[0, 1])  # its own glyph, [UNK]'s word row
    torch.testing.assert_close(got[0, 3], plain[0, 3])  # the other [UNK] keeps [UNK]'s glyph
    assert not torch.allclose(got[0, 1], plain[0, 1])
    torch.testing.assert_close(closed, plain)  # no open fonts: glyph_ids change nothing

    opened.train()
    opened.embeddings.dropout.p = 0.0
    trained = opened.embeddings(input_ids=input_ids, glyph_ids=glyph_ids)
    torch.testing.assert_close(trained.detach(), got, rtol=1e-5, atol=1e-5)
    (trained * torch.randn_like(trained)).sum().backward()  # a plain sum after LayerNorm has no gradient
    assert opened.embeddings.word_embeddings.weight.grad[unk].abs().sum() > 0


def test_open_glyph_ids_pass_through_every_head_and_multiple_choice(bundled):
    """Heads hand glyph_ids to the trunk; a (B, C, T) batch of choices is flattened like input_ids."""
    from chinese_ptm.modeling import GlyceBertForMultipleChoice

    config = _model(bundled, FONTS).config
    model = GlyceBertForMultipleChoice(config).eval()
    model.load_glyph_table(bundled)
    ids = torch.randint(200, 1000, (2, 3, 6))
    glyph_ids = ids.clone()
    glyph_ids[:, :, 2] = -ord("殚")
    with torch.no_grad():
        out = model(input_ids=ids, glyph_ids=glyph_ids).logits
        plain = model(input_ids=ids).logits
    assert out.shape == (2, 3) and not torch.allclose(out, plain)


@pytest.fixture(scope="module")
def open_tokenizer():
    from chinese_ptm.resources import vocab_dir
    from chinese_ptm.text.tokenization import GlyceBertTokenizer

    return GlyceBertTokenizer(vocab_file=str(vocab_dir() / "vocab.txt"), open_glyphs=True)


TEXTS = ["我们在䶮㐀下吃饭，𠀀转。", "中国", "abc䶮"]


def test_the_tokenizer_gives_each_unk_character_its_code_point_on_every_path(open_tokenizer, tmp_path):
    """glyph_ids equal input_ids except where a one-character [UNK] stands: -code point. The direct path, the
    backend's (pairs, truncation), padding with ``pad`` and a saved and reloaded tokenizer agree."""
    tok = open_tokenizer
    one = tok(TEXTS[0])
    unk = [i for i, t in enumerate(one["input_ids"]) if t == tok.unk_token_id]
    assert [one["glyph_ids"][i] for i in unk] == [-ord("䶮"), -ord("㐀"), -ord("𠀀")]
    assert all(g == t for g, t in zip(one["glyph_ids"], one["input_ids"]) if t != tok.unk_token_id)
    direct = tok(TEXTS, padding=True, return_tensors="np")
    tok._disable_direct_path = True
    try:
        backend = tok(TEXTS, padding=True, return_tensors="np")
        pair = tok("䶮字", "㐀精", truncation=True, max_length=8)
    finally:
        tok._disable_direct_path = False
    assert (direct["glyph_ids"] == backend["glyph_ids"]).all()
    assert pair["glyph_ids"][1] == -ord("䶮") and -ord("㐀") in pair["glyph_ids"]
    padded = tok.pad([{k: one[k] for k in ("input_ids", "pinyin_ids", "glyph_ids")}, tok("中")], padding="longest")
    assert padded["glyph_ids"][1][-1] == tok.pad_token_id and len(padded["glyph_ids"][1]) == len(one["input_ids"])
    tok.save_pretrained(tmp_path)
    reloaded = type(tok).from_pretrained(tmp_path)
    assert reloaded.open_glyphs and reloaded(TEXTS[0])["glyph_ids"] == one["glyph_ids"]


def test_fine_tuning_features_carry_open_glyphs_to_the_task_model(open_tokenizer, bundled):
    """The path fine-tuning takes: Encoder -> PaddingCollator -> TaskModel; the [UNK] characters' own glyphs
    change the logits, and ordinary tokens keep theirs."""
    from types import SimpleNamespace

    from chinese_ptm.finetune.examples import ClassificationExample, Split
    from chinese_ptm.finetune.features import Encoder, PaddingCollator
    from chinese_ptm.finetune.model import task_model
    from chinese_ptm.finetune.task import ACCURACY, CLASSIFICATION, TaskData

    # 丼 and 冇 are in the shipped fonts but not in the bundled vocabulary
    texts = ["我们吃丼饭，冇问题。", "中国", "abc冇"]
    examples = [ClassificationExample(i, t, None, 0) for i, t in enumerate(texts)]
    task = TaskData("t", CLASSIFICATION, ("a", "b"), ACCURACY, {"train": Split("train", [], examples)})
    settings = SimpleNamespace(max_length=32, stride=8)
    encoded = Encoder(task, open_tokenizer, settings, with_pinyin=True, progress=False).encode(examples, train=True)
    batch = PaddingCollator(open_tokenizer.pad_token_id)(encoded.features)
    assert (batch["glyph_ids"] < 0).sum() == 3 and (batch["glyph_ids"][1] >= 0).all()
    model = task_model(_model(bundled, FONTS), task, SimpleNamespace(layers="top", pooling="mean")).eval()
    with torch.no_grad():
        opened = model(**batch).logits
        closed = model(**{k: v for k, v in batch.items() if k != "glyph_ids"}).logits
    assert not torch.allclose(opened[0], closed[0]) and torch.allclose(opened[1], closed[1])
