"""AMBERT: one encoder shared by a character view and a word view; the collator's word view of prepared records;
the combining heads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chinese_ptm.modeling  # noqa: F401 - registers AMBERT with the Auto classes
from chinese_ptm.masking.collator import IGNORE_INDEX
from chinese_ptm.modeling.ambert import (
    AmbertConfig,
    AmbertForPreTraining,
    AmbertForSequenceClassification,
    AmbertForTokenClassification,
    gather_words,
)
from chinese_ptm.modeling.modeling_glycebert import GlyceBertModel


def config(**overrides) -> AmbertConfig:
    values = dict(
        vocab_size=50,
        word_vocab_size=70,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_fonts=1,
        glyph_size=4,
        max_position_embeddings=40,
        num_labels=3,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    return AmbertConfig(**(values | overrides))


def views(batch: int = 2, chars: int = 9, words: int = 6):
    torch.manual_seed(1)
    char = {"input_ids": torch.randint(5, 50, (batch, chars)), "pinyin_ids": torch.zeros(batch, chars, 8).long()}
    word = {"word_input_ids": torch.randint(5, 70, (batch, words))}
    return char, word


def test_both_views_share_the_encoder_and_each_decoder_is_tied_to_its_view():
    torch.manual_seed(0)
    model = AmbertForPreTraining(config()).eval()
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    assert model.word_cls.predictions.decoder.weight is model.bert.word_embeddings.word_embeddings.weight
    char, word = views()
    labels = torch.full((2, 9), IGNORE_INDEX)
    labels[0, 3], labels[1, 5] = 7, 9
    word_labels = torch.full((2, 6), IGNORE_INDEX)
    word_labels[1, 2] = 60
    out = model(**char, **word, labels=labels, word_labels=word_labels)
    assert torch.allclose(out.loss, out.char_loss + out.word_loss)
    assert out.logits.shape == (2, 50) and out.word_logits.shape == (1, 70)
    alone = model(**char, labels=labels)  # one view
    assert torch.allclose(alone.loss, out.char_loss) and alone.word_logits is None
    out.loss.backward()
    for name in ("encoder.layer.0.attention.self.query.weight", "word_embeddings.word_embeddings.weight"):
        assert model.bert.get_parameter(name).grad.abs().sum() > 0


def test_the_character_view_is_the_glycebert_it_starts_from(tmp_path):
    """A GlyceBERT checkpoint fills AMBERT's character view and encoder (same keys): same states."""
    torch.manual_seed(0)
    glyce = GlyceBertModel(config()).eval()
    glyce.save_pretrained(tmp_path)
    ambert = AmbertForSequenceClassification.from_pretrained(tmp_path, word_vocab_size=70).eval()
    char, _ = views()
    with torch.no_grad():
        assert torch.allclose(ambert.bert(**char).pooler_output, glyce(**char).pooler_output, atol=1e-6)


def test_saved_and_loaded_through_the_auto_classes(tmp_path):
    from transformers import AutoModelForPreTraining, AutoModelForTokenClassification

    model = AmbertForPreTraining(config())
    model.save_pretrained(tmp_path)
    again = AutoModelForPreTraining.from_pretrained(tmp_path)
    assert type(again) is AmbertForPreTraining
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), model.state_dict().values()))
    tagger = AutoModelForTokenClassification.from_pretrained(tmp_path, num_labels=5)
    assert type(tagger) is AmbertForTokenClassification and tagger.config.word_vocab_size == 70


def test_combo_adds_each_views_loss_and_their_agreement():
    torch.manual_seed(0)
    model = AmbertForSequenceClassification(config(agreement_weight=0.0)).eval()
    char, word = views()
    labels = torch.tensor([0, 2])
    plain = model(**char, **word, labels=labels)
    head = model.head
    pooled_c, pooled_w = model._pooled(char, {**word, "word_attention_mask": None, "word_token_type_ids": None})
    joint = head.joint_classifier(torch.cat([pooled_c, pooled_w], -1))
    assert torch.allclose(plain.logits, joint, atol=1e-6)
    ce = torch.nn.functional.cross_entropy
    expected = ce(joint, labels) + ce(head.classifier(pooled_c), labels) + ce(head.word_classifier(pooled_w), labels)
    assert torch.allclose(plain.loss, expected, atol=1e-5)
    model.config.agreement_weight = 1.0
    assert model(**char, **word, labels=labels).loss > plain.loss  # the views disagree at random initialisation
    # one view at inference: that view's classifier
    assert torch.allclose(model(**char).logits, head.classifier(pooled_c), atol=1e-6)
    assert torch.allclose(model(**word).logits, head.word_classifier(pooled_w), atol=1e-6)


def test_hybrid_lets_the_views_attend_to_each_other():
    torch.manual_seed(0)
    combo, hybrid = (AmbertForSequenceClassification(config(combine=c)).eval() for c in ("combo", "hybrid"))
    char, word = views()
    other = {"word_input_ids": (word["word_input_ids"] + 1) % 70}
    with torch.no_grad():
        for model, attends in ((combo, False), (hybrid, True)):
            pooled = model._pooled(char, {**word, "word_attention_mask": None, "word_token_type_ids": None})[0]
            changed = model._pooled(char, {**other, "word_attention_mask": None, "word_token_type_ids": None})[0]
            assert torch.allclose(pooled, changed) is not attends


def test_tagging_reads_the_word_covering_each_character():
    states = torch.arange(2 * 3 * 2, dtype=torch.float32).reshape(2, 3, 2)
    index = torch.tensor([[0, 0, 2, -1], [1, -1, 1, 1]])
    gathered = gather_words(states, index)
    assert torch.equal(gathered[0, 1], states[0, 0]) and torch.equal(gathered[1, 3], states[1, 1])
    assert not gathered[0, 3].any() and not gathered[1, 1].any()
    model = AmbertForTokenClassification(config())
    char, word = views()
    out = model(**char, **word, word_index=torch.randint(-1, 6, (2, 9)), labels=torch.randint(0, 3, (2, 9)))
    assert out.logits.shape == (2, 9, 3) and out.loss > 0
    with pytest.raises(ValueError, match="needs word_index"):
        model(**char, **word)


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """Records of real text prepared with the bundled character vocabulary (the production path)."""
    from chinese_ptm.data import PrepareConfig, prepare_corpus
    from chinese_ptm.data.corpora import peoples_daily_lines
    from chinese_ptm.text.tokenization import load_tokenizer

    folder = tmp_path_factory.mktemp("ambert")
    corpus = folder / "news.txt"
    corpus.write_text("\n".join(peoples_daily_lines()[:60]) + "\n", encoding="utf-8")
    return prepare_corpus([corpus], load_tokenizer(), output_dir=folder / "r", config=PrepareConfig(max_length=64))


def collate(records, seed: int = 3):
    from chinese_ptm.masking import ResumableMaskingCollator
    from chinese_ptm.masking.ambert import AmbertCollator
    from chinese_ptm.resources import word_vocab_dir
    from chinese_ptm.text.tokenization import load_tokenizer

    words = load_tokenizer(word_vocab_dir())
    collator = AmbertCollator(ResumableMaskingCollator(load_tokenizer(), seed=seed, mlm_probability=0.3), words)
    return collator([records[i] for i in range(8)]), words


def test_the_word_view_is_read_off_the_character_records_with_the_same_words_masked(records):
    batch, words = collate(records)
    chars = load_chars()
    for b in range(8):
        n, m = int(batch["attention_mask"][b].sum()), int(batch["word_attention_mask"][b].sum())
        original = torch.where(batch["labels"][b] != IGNORE_INDEX, batch["labels"][b], batch["input_ids"][b])[:n]
        word_original = torch.where(
            batch["word_labels"][b] != IGNORE_INDEX, batch["word_labels"][b], batch["word_input_ids"][b]
        )[:m]
        # the same text in both views: the word tokens spell the characters
        spelled = "".join(words.convert_ids_to_tokens(word_original.tolist()))
        assert spelled == "".join(chars.convert_ids_to_tokens(original.tolist()))
        assert m < n  # words are fewer tokens
        # the same masked text: the masked characters are exactly those of the masked word tokens
        masked_chars = "".join(chars.convert_ids_to_tokens(original[batch["labels"][b][:n] != IGNORE_INDEX].tolist()))
        masked_words = word_original[batch["word_labels"][b][:m] != IGNORE_INDEX].tolist()
        assert "".join(words.convert_ids_to_tokens(masked_words)) == masked_chars
    word_tokens = batch["word_input_ids"][batch["word_attention_mask"] == 1]
    assert (word_tokens >= len(chars)).sum() > 20 and (word_tokens == words.mask_token_id).any()


def test_the_word_view_is_drawn_again_the_same_way(records):
    first, _ = collate(records)
    again, _ = collate(records)
    other, _ = collate(records, seed=4)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first["word_labels"], other["word_labels"])


def test_a_word_vocabulary_on_another_character_vocabulary_is_refused(tmp_path):
    from chinese_ptm.errors import UserError
    from chinese_ptm.masking.ambert import WordView
    from chinese_ptm.resources import word_vocab_dir
    from chinese_ptm.text.tokenization import GlyceBertTokenizer, load_tokenizer

    other = GlyceBertTokenizer(vocab={t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "中"])})
    with pytest.raises(UserError, match="does not begin with the records' character vocabulary"):
        WordView(other, load_tokenizer(word_vocab_dir()))


def load_chars():
    from chinese_ptm.text.tokenization import load_tokenizer

    return load_tokenizer()


def test_the_tiny_recipe_builds_ambert_on_the_bundled_vocabularies():
    from chinese_ptm.modeling.factory import build_model
    from chinese_ptm.pretrain.recipe import load_recipe
    from chinese_ptm.text.tokenization import load_tokenizer

    recipe = load_recipe("ambert-tiny")
    model = build_model(recipe.model, load_tokenizer())
    assert isinstance(model, AmbertForPreTraining) and model.config.word_vocab_size > model.config.vocab_size
    # the granularity arms differ in their views only
    assert model.config.glyph_scale == load_recipe("chinesebert-tiny").model.glyph_scale


@pytest.fixture(scope="module")
def ambert_dir(tmp_path_factory):
    """A tiny random AMBERT on the bundled character and word vocabularies, saved as a pretraining run saves it."""
    from chinese_ptm.glyph import load_glyph_table
    from chinese_ptm.resources import vocab_dir, word_vocab_dir
    from chinese_ptm.text.tokenization import load_tokenizer
    from chinese_ptm.text.two_views import TwoViewTokenizer

    chars, words = load_tokenizer(), load_tokenizer(word_vocab_dir())
    torch.manual_seed(0)
    model = AmbertForPreTraining(
        config(
            vocab_size=len(chars), word_vocab_size=len(words), num_fonts=3, glyph_size=24, max_position_embeddings=64
        )
    )
    model.load_glyph_table(load_glyph_table(vocab_dir()))
    directory = tmp_path_factory.mktemp("ambert-checkpoint")
    model.save_pretrained(directory)
    TwoViewTokenizer(chars, words).save_pretrained(directory)
    return directory


def test_fine_tuning_features_carry_both_views(ambert_dir):
    """The path fine-tuning takes: TwoViewTokenizer -> Encoder -> PaddingCollator -> the AMBERT head."""
    from types import SimpleNamespace

    from chinese_ptm.finetune.features import Encoder, PaddingCollator
    from chinese_ptm.runtime.loading import load_tokenizer_for

    tokenizer = load_tokenizer_for(ambert_dir, "ambert")
    encoder = Encoder(None, tokenizer, SimpleNamespace(max_length=12, stride=2), with_pinyin=True, progress=False)
    text = "国务院总理李鹏今天在人民大会堂会见了日本客人。"
    windows = list(encoder.char_windows([text, "北京"]))
    for sample, feature, first in windows:
        own = [text, "北京"][sample]
        words = tokenizer.words.convert_ids_to_tokens(feature["word_input_ids"].tolist())
        for char in np.flatnonzero(first >= 0):
            covering = words[feature["word_index"][first[char]]]
            assert own[char] in covering  # each character reads the word token that holds it
        assert (feature["word_index"][[0, -1]] == -1).all()  # [CLS] and [SEP] read no word
    batch = PaddingCollator(tokenizer.pad_token_id)([w[1] for w in windows])
    assert batch["word_index"].shape == batch["input_ids"].shape
    assert batch["word_input_ids"].shape[1] < batch["input_ids"].shape[1]
    assert (batch["word_index"][batch["attention_mask"] == 0] == -1).all()
    model = AmbertForTokenClassification.from_pretrained(ambert_dir, num_labels=3).eval()
    assert model(**batch).logits.shape == (*batch["input_ids"].shape, 3)


@pytest.mark.parametrize("kind", ["single", "tagging"])
def test_finetune_and_predict_an_ambert_checkpoint(ambert_dir, tmp_path, kind):
    import json

    from chinese_ptm.cli import main

    texts = ["这家餐厅的菜很好吃。", "服务太差了，不会再来。", "小明在北京工作。", "他在上海工作。"]
    if kind == "single":
        rows = [{"text": t, "label": str(i % 2)} for i, t in enumerate(texts)] * 3
    else:
        rows = [{"text": "小明在北京工作。", "label": [[0, 2, "PER"], [3, 5, "LOC"]]}] * 6
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "run"
    argv = ["finetune", "data", "--task", kind, "--train", str(train), "--dev", str(train), "--test", str(train)]
    argv += [
        "--model",
        str(ambert_dir),
        "--output-dir",
        str(out),
        "--no-progress",
        "--set",
        "training.num_train_epochs=1",
    ]
    combine = "combo" if kind == "single" else "hybrid"
    assert main([*argv, "--set", f"method.combine={combine}"]) == 0
    saved = out / "model"
    assert json.loads((saved / "config.json").read_text(encoding="utf-8"))["combine"] == combine
    assert (saved / "word_tokenizer" / "vocab.txt").is_file()
    predictions = tmp_path / "predictions.jsonl"
    assert main(["predict", "--model", str(saved), "--input", str(train), "--output", str(predictions)]) == 0
    assert len(predictions.read_text(encoding="utf-8").splitlines()) == len(rows)


def test_tasks_ambert_has_no_head_for_are_refused_in_one_line(ambert_dir):
    from chinese_ptm.errors import UserError
    from chinese_ptm.modeling.factory import model_class

    with pytest.raises(UserError, match="no ForQuestionAnswering model: AMBERT fine-tunes classification"):
        model_class("ambert", "ForQuestionAnswering")


def test_evaluate_an_ambert_checkpoint(ambert_dir, tmp_path):
    """``chinese-ptm evaluate`` pools by mean for every other family; AMBERT's heads pool [CLS] (it stopped)."""
    from chinese_ptm.apps.evaluate import run

    budget = {"task.max_train_examples": 16, "training.num_train_epochs": 1, "task.max_length": 32}
    result = run(ambert_dir, ["reviews"], [1], scratch=False, output_dir=tmp_path, overrides=budget, progress=False)
    assert 0 <= result["tasks"][0]["pretrained"]["mean"] <= 100
