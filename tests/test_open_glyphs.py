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


def test_tagging_windows_give_each_unk_character_its_own_glyph(open_tokenizer):
    """The tagging path feeds each character as a word (``is_split_into_words``, overlapping windows): an [UNK]'s
    offsets are then within its own word, and the glyph is that word's character, not the text's first."""
    from types import SimpleNamespace

    from chinese_ptm.finetune.features import Encoder

    texts = ["我们在㐀树下，见到䶮。", "丼"]
    encoder = Encoder(None, open_tokenizer, SimpleNamespace(max_length=8, stride=2), with_pinyin=True, progress=False)
    seen = {}
    for text, feature, first in encoder.char_windows(texts):
        for char, token in enumerate(first.tolist()):
            if token >= 0 and feature["input_ids"][token] == open_tokenizer.unk_token_id:
                seen.setdefault(texts[text][char], set()).add(int(feature["glyph_ids"][token]))
    assert seen == {c: {-ord(c)} for c in "㐀䶮丼"}


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


RARE_CORPUS = "昝岗是个地名，殚精竭虑。䶮是一个字，㐀也是。\n他去了崮山，看见𠀀。\n普通的句子没有生僻字。\n"


@pytest.fixture(scope="module")
def open_records(open_tokenizer, tmp_path_factory):
    """Records prepared from a corpus with characters outside the vocabulary, by an open and a plain tokenizer."""
    from chinese_ptm.data import PrepareConfig, prepare_corpus, tokenizer_digest
    from chinese_ptm.text.tokenization import load_tokenizer

    folder = tmp_path_factory.mktemp("rare")
    corpus = folder / "rare.txt"
    corpus.write_text(RARE_CORPUS, encoding="utf-8")
    config = PrepareConfig(max_length=24, packed_ratio=0.0)
    opened = prepare_corpus([corpus], open_tokenizer, output_dir=folder / "open", config=config)
    plain = prepare_corpus([corpus], load_tokenizer(), output_dir=folder / "plain", config=config)
    assert tokenizer_digest(open_tokenizer) != tokenizer_digest(
        load_tokenizer()
    )  # records of one do not serve the other
    return opened, plain


def test_prepared_records_carry_glyph_ids_only_from_an_open_tokenizer(open_tokenizer, open_records):
    opened, plain = open_records
    assert "glyph_ids" not in plain.column_names and opened.num_rows == plain.num_rows
    assert opened.remove_columns("glyph_ids").to_list() == plain.to_list()  # nothing else changes
    glyphs = [g for row in opened["glyph_ids"] for g in row]
    ids = [i for row in opened["input_ids"] for i in row]
    assert sorted(-g for g in glyphs if g < 0) == sorted(map(ord, "䶮㐀𠀀"))
    assert all(g == i for g, i in zip(glyphs, ids) if g >= 0) and all(
        ids[k] == open_tokenizer.unk_token_id for k, g in enumerate(glyphs) if g < 0
    )


@pytest.mark.parametrize("task", [None, "sop", "nsp"])
def test_masking_keeps_an_unk_glyph_only_where_the_unk_stays(open_tokenizer, open_records, task):
    """After masking, a position shows the glyph of what it holds: a kept [UNK] its own character's, a masked
    one [MASK]'s, a replaced one its new token's; truncation and the sentence tasks keep glyphs aligned."""
    from chinese_ptm.masking import MaskingCollator

    records = open_records[0].to_list()
    unk = open_tokenizer.unk_token_id
    for probs, expect in (((0.0, 0.0, 1.0), "kept"), ((1.0, 0.0, 0.0), "masked"), ((0.0, 1.0, 0.0), "random")):
        collator = MaskingCollator(
            open_tokenizer,
            strategy="char",
            mlm_probability=1.0,
            replace_probs=probs,
            sentence_task=task,
            max_length=20,
            seed=3,
        )
        batch = collator(records)
        ids, glyphs, labels = batch["input_ids"], batch["glyph_ids"], batch["labels"]
        assert ((glyphs == ids) | (glyphs < 0)).all()
        assert ((glyphs < 0) <= (ids == unk)).all()
        if expect == "kept":  # every content token stays: each surviving rare character keeps its glyph
            assert (glyphs < 0).sum() == ((ids == unk) & (labels == unk)).sum() > 0
        else:  # every content token changed: no rare glyph survives
            assert not (glyphs < 0).any()
    assert MaskingCollator(open_tokenizer).return_glyphs
    plain = MaskingCollator(open_tokenizer, return_glyphs=False)(records)
    assert "glyph_ids" not in plain


def test_new_glycebert_models_draw_open_glyphs_and_checkpoints_keep_their_own(tmp_path):
    from chinese_ptm.modeling.factory import build_model, draws_open_glyphs
    from chinese_ptm.pretrain.corpus import load_run_tokenizer
    from chinese_ptm.pretrain.recipe import load_recipe

    def recipe(**settings):
        return load_recipe("chinesebert-tiny", {"output_dir": str(tmp_path / "run"), **settings})

    new = recipe()
    tokenizer = load_run_tokenizer(new)
    model = build_model(new.model, tokenizer)
    assert tokenizer.open_glyphs and model.config.open_glyph_fonts == FONTS
    original = recipe(**{"model.open_glyphs": False})
    assert not draws_open_glyphs(original.model) and not load_run_tokenizer(original).open_glyphs
    assert build_model(original.model, load_run_tokenizer(original)).config.open_glyph_fonts is None
    assert not draws_open_glyphs(recipe(**{"model.use_glyph": False}).model)
    assert not draws_open_glyphs(recipe(**{"model.objective": "electra"}).model)
    assert not draws_open_glyphs(recipe(**{"model.architecture": "bert"}).model)
    model.save_pretrained(tmp_path / "open")  # a GlyceBERT checkpoint keeps what its config says
    assert draws_open_glyphs(recipe(**{"model.init_from": str(tmp_path / "open"), "model.open_glyphs": False}).model)
    original_model = build_model(original.model, load_run_tokenizer(original))
    original_model.save_pretrained(tmp_path / "closed")
    assert not draws_open_glyphs(recipe(**{"model.init_from": str(tmp_path / "closed")}).model)


@pytest.mark.parametrize("with_tokenizer", [False, True], ids=["weights only", "as our pretraining saves it"])
def test_a_glycebert_grown_from_bert_starts_as_that_bert_and_draws_open_glyphs(tmp_path, with_tokenizer):
    """The upgrade path: ``model.init_from`` a BERT checkpoint with architecture glycebert. The fusion starts as
    [I | 0 | 0], so before any training the GlyceBERT predicts what the BERT predicts; the glyph table and open
    glyphs come from the bundled table, also when the checkpoint carries its own copy of the bundled vocabulary
    without a glyph table beside it (a BERT run of ours)."""
    from transformers import BertConfig, BertForMaskedLM

    from chinese_ptm.modeling.factory import build_model
    from chinese_ptm.pretrain.corpus import load_run_tokenizer
    from chinese_ptm.pretrain.recipe import load_recipe
    from chinese_ptm.text.tokenization import load_tokenizer

    vocab = len(load_tokenizer())
    torch.manual_seed(0)
    bert = BertForMaskedLM(
        BertConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    ).eval()
    bert.save_pretrained(tmp_path / "bert")
    if with_tokenizer:
        load_tokenizer().save_pretrained(tmp_path / "bert")
    settings = {"output_dir": str(tmp_path / "run"), "model.init_from": str(tmp_path / "bert")}
    recipe = load_recipe("chinesebert-tiny", {**settings, "model.fusion_init": "random"})
    tokenizer = load_run_tokenizer(recipe)
    grown = build_model(recipe.model, tokenizer).eval()
    assert grown.config.fusion_init == "identity" and grown.config.open_glyph_fonts == FONTS
    assert grown.base_model.embeddings.glyph_embeddings.embedding.weight.any()  # the recipe's glyph table
    batch = tokenizer(["我们在䶮下吃饭。"], return_tensors="pt")
    with torch.no_grad():
        expected = bert(input_ids=batch["input_ids"]).logits
        got = grown(**batch).logits
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
