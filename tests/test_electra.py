"""ELECTRA-style pretraining: what the discriminator is told was replaced, the pinyin the replacements carry, the
loss, and checkpoints that fine-tuning loads (GlyceBERT here; the BERT trunk in test_albert.py)."""

from __future__ import annotations

import pytest
import torch

from chinese_ptm.modeling import GlyceBertConfig, GlyceBertForSequenceClassification
from chinese_ptm.modeling.electra import (
    GlyceBertForReplacedTokenDetection,
    token_pinyin_table,
)
from chinese_ptm.pretrain.recipe import RecipeError, load_recipe


@pytest.fixture(scope="module")
def electra(default_tokenizer):
    torch.manual_seed(0)
    config = GlyceBertConfig(
        vocab_size=len(default_tokenizer),
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        generator_size=0.25,
    )
    model = GlyceBertForReplacedTokenDetection(config)
    model.set_token_pinyin(token_pinyin_table(default_tokenizer, config.pinyin_slots))
    return model


def _masked(tokenizer, texts, positions):
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    labels = torch.full_like(batch["input_ids"], -100)
    for row, column in positions:
        labels[row, column] = batch["input_ids"][row, column]
        batch["input_ids"][row, column] = tokenizer.mask_token_id
        batch["pinyin_ids"][row, column] = 0
    return batch, labels


def test_token_pinyin_is_each_entrys_own_reading(default_tokenizer):
    table = token_pinyin_table(default_tokenizer, 8)
    from chinese_ptm.text.pinyin import decode_syllable

    ids = default_tokenizer.convert_tokens_to_ids(["银", "好", "[CLS]", "##a"])
    assert decode_syllable(table[ids[0]].tolist()) == "yin2" and decode_syllable(table[ids[1]].tolist()) == "hao3"
    assert not table[ids[2]].any() and not table[ids[3]].any()


def test_replaced_are_exactly_the_changed_positions_with_their_pinyin(electra, default_tokenizer):
    batch, labels = _masked(default_tokenizer, ["银行行长了解情况", "我喜欢北京烤鸭"], [(0, 1), (0, 4), (1, 3)])
    keep, other = labels[0, 1].item(), default_tokenizer.convert_tokens_to_ids("好")
    logits = torch.full((3, len(default_tokenizer)), -1e4)
    logits[0, keep] = 1e4  # the generator samples the original token: not a replacement
    logits[1, other] = 1e4
    logits[2, other] = 1e4
    ids, pinyin, replaced = electra._replace(batch["input_ids"], batch["pinyin_ids"], labels, logits)
    assert replaced.nonzero().tolist() == [[0, 4], [1, 3]]
    assert ids[0, 1] == keep and ids[0, 4] == other and ids[1, 3] == other
    assert torch.equal(pinyin[0, 4], electra.token_pinyin[other]) and torch.equal(
        pinyin[0, 1], electra.token_pinyin[keep]
    )
    unmasked = labels == -100
    assert torch.equal(ids[unmasked], batch["input_ids"][unmasked])
    assert torch.equal(pinyin[unmasked], batch["pinyin_ids"][unmasked])


def test_loss_trains_generator_and_discriminator_through_shared_embeddings(electra, default_tokenizer):
    batch, labels = _masked(default_tokenizer, ["银行行长了解情况"], [(0, 2), (0, 5)])
    electra.zero_grad()
    out = electra(**batch, labels=labels)
    assert out.loss.item() == pytest.approx(out.generator_loss.item() + 50.0 * out.discriminator_loss.item(), rel=1e-5)
    assert out.logits.shape == (2, len(default_tokenizer)) and out.discriminator_logits.shape == labels.shape
    out.loss.backward()
    for name in (
        "generator.layer.0.attention.self.query.weight",
        "bert.encoder.layer.1.output.dense.weight",
        "discriminator_predictions.dense_prediction.weight",
        "bert.embeddings.word_embeddings.weight",
    ):
        assert electra.get_parameter(name).grad.abs().sum() > 0, name
    assert electra.generator_config.hidden_size == 16 and electra.generator_config.num_attention_heads == 1


def test_checkpoints_load_into_finetuning_heads(electra, default_tokenizer, tmp_path):
    electra.save_pretrained(tmp_path)
    default_tokenizer.save_pretrained(str(tmp_path))
    head = GlyceBertForSequenceClassification.from_pretrained(tmp_path, num_labels=2)
    for mine, theirs in zip(head.bert.encoder.parameters(), electra.bert.encoder.parameters()):
        assert torch.equal(mine, theirs)
    again = GlyceBertForReplacedTokenDetection.from_pretrained(tmp_path)
    assert torch.equal(again.token_pinyin, electra.token_pinyin)
    assert again.generator_head.decoder.weight is again.bert.embeddings.word_embeddings.weight


def test_electra_recipes_and_their_limits():
    recipe = load_recipe("electra-tiny")
    assert (recipe.model.objective, recipe.model.discriminator_weight, recipe.masking.strategy) == (
        "electra",
        50.0,
        "wwm",
    )
    with pytest.raises(RecipeError, match="no sentence task"):
        load_recipe("electra-tiny", {"masking.sentence_task": "sop"})
