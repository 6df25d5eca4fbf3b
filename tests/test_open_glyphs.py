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
