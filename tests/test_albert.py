"""ALBERT's options on both trunks (factorised embedding, cross-layer sharing), ELECTRA on the BERT trunk, and
ALBERT / ELECTRA checkpoints in transformers' format loaded by fine-tuning, the encoder loader and prompts."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import write_tiny_vocab

from chinese_ptm.modeling import GlyceBertConfig, GlyceBertForMaskedLM
from chinese_ptm.modeling.electra import ElectraForReplacedTokenDetection
from chinese_ptm.modeling.sparse_bert import SparseAlbertForMaskedLM, SparseAlbertForPreTraining
from chinese_ptm.runtime.loading import checkpoint_kind, load_encoder, model_class

V, E, H, LAYERS = 120, 16, 32, 3
DIMS = dict(
    vocab_size=V,
    hidden_size=H,
    num_hidden_layers=LAYERS,
    num_attention_heads=2,
    intermediate_size=48,
    max_position_embeddings=32,
)


def glycebert(share="none", embedding_size=None):
    torch.manual_seed(0)
    config = GlyceBertConfig(
        **DIMS, glyph_size=4, num_fonts=1, pinyin_embedding_size=8, share_layers=share, embedding_size=embedding_size
    )
    return GlyceBertForMaskedLM(config)


def albert(share="none", embedding_size=E):
    from transformers import AlbertConfig

    torch.manual_seed(0)
    groups = 1 if share == "all" else LAYERS
    config = AlbertConfig(**DIMS, embedding_size=embedding_size, num_hidden_groups=groups, share_layers=share)
    return SparseAlbertForPreTraining(config)


def electra(share="none", embedding_size=E):
    from transformers import ElectraConfig

    torch.manual_seed(0)
    config = ElectraConfig(**DIMS, embedding_size=embedding_size, share_layers=share, generator_size=0.5)
    return ElectraForReplacedTokenDetection(config)


def layers_of(model):
    """The L layer modules as the forward pass runs them."""
    encoder = model.base_model.encoder
    if hasattr(encoder, "albert_layer_groups"):
        groups = encoder.albert_layer_groups
        return [groups[i * len(groups) // LAYERS].albert_layers[0] for i in range(LAYERS)]
    return list(encoder.layer)


#: one layer's parts per sharing mode: (attention, feed-forward) attribute names, per trunk
PARTS = {
    "bert": (("attention",), ("intermediate", "output")),
    "albert": (("attention",), ("ffn", "ffn_output", "full_layer_layer_norm")),
}


def part_params(layer, names) -> list[torch.Tensor]:
    return [p for name in names for p in getattr(layer, name).parameters()]


def count(model) -> int:
    return sum(p.numel() for p in model.parameters())  # shared tensors count once


def step(model) -> None:
    """One optimizer step on an MLM loss."""
    ids = torch.randint(5, V, (2, 10))
    labels = torch.full_like(ids, -100)
    labels[:, 2:5] = ids[:, 2:5]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model(input_ids=ids, labels=labels).loss.backward()
    optimizer.step()


@pytest.mark.parametrize("build, trunk", [(glycebert, "bert"), (albert, "albert"), (electra, "bert")])
@pytest.mark.parametrize("share", ["all", "attention", "ffn"])
def test_shared_layers_count_once_and_stay_identical_after_a_step(build, trunk, share):
    separate, shared = build("none"), build(share)
    layer0 = layers_of(separate)[0]
    attention, ffn = PARTS[trunk]
    names = {"all": attention + ffn, "attention": attention, "ffn": ffn}[share]
    saved = sum(p.numel() for p in part_params(layer0, names))
    assert count(separate) - count(shared) == (LAYERS - 1) * saved
    step(shared)
    layers = layers_of(shared)
    for layer in layers[1:]:
        for mine, first in zip(part_params(layer, names), part_params(layers[0], names)):
            assert torch.equal(mine, first)
    others = [n for n in attention + ffn if n not in names]
    if others:  # what is not shared has trained apart
        assert not all(
            torch.equal(a, b) for a, b in zip(part_params(layers[1], others), part_params(layers[0], others))
        )


@pytest.mark.parametrize("build", [glycebert, albert, electra])
def test_factorised_embedding_is_v_by_e_plus_e_by_h(build):
    model = build(embedding_size=E) if build is glycebert else build()
    base = model.base_model
    projection = getattr(base, "embeddings_project", None) or base.encoder.embedding_hidden_mapping_in
    words = base.embeddings.word_embeddings.weight
    assert words.shape == (V, E) and projection.weight.shape == (H, E)
    assert words.numel() + projection.weight.numel() == V * E + E * H
    assert model.get_output_embeddings().weight is words  # the MLM decoder still tied, at E


def test_glycebert_factorised_and_shared_round_trip(tmp_path):
    model = glycebert("all", embedding_size=E)
    step(model)
    model.save_pretrained(tmp_path)
    from safetensors.torch import load_file

    stored = load_file(str(tmp_path / "model.safetensors"))
    assert not any(k.startswith("bert.encoder.layer.1.") for k in stored)  # a shared tensor is written once
    again = GlyceBertForMaskedLM.from_pretrained(tmp_path)
    layers = again.bert.encoder.layer
    assert layers[2].intermediate.dense.weight is layers[0].intermediate.dense.weight
    ids = torch.randint(5, V, (1, 8))
    model.eval(), again.eval()
    assert torch.allclose(model(input_ids=ids).logits, again(input_ids=ids).logits, atol=1e-6)


def test_electra_on_the_bert_trunk_marks_exactly_the_changed_tokens(tmp_path):
    model = electra()
    ids = torch.randint(10, V, (2, 6))  # never token 7
    labels = torch.full_like(ids, -100)
    labels[0, 1], labels[1, 3], labels[1, 4] = ids[0, 1], ids[1, 3], ids[1, 4]
    logits = torch.full((3, V), -1e4)
    logits[0, ids[0, 1]] = 1e4  # the original token sampled: not replaced
    logits[1, 7], logits[2, 7] = 1e4, 1e4
    new_ids, pinyin, replaced = model._replace(ids, None, labels, logits)
    assert pinyin is None and replaced.nonzero().tolist() == [[1, 3], [1, 4]]
    assert new_ids[1, 3] == new_ids[1, 4] == 7 and new_ids[0, 1] == ids[0, 1]
    assert torch.equal(new_ids[labels == -100], ids[labels == -100])
    out = model(input_ids=ids, labels=labels)
    assert out.loss.item() == pytest.approx(out.generator_loss.item() + 50.0 * out.discriminator_loss.item(), rel=1e-5)
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["architectures"] == ["ElectraForPreTraining"]
    from transformers import ElectraForPreTraining

    discriminator = ElectraForPreTraining.from_pretrained(tmp_path)  # transformers' own class reads it
    assert torch.equal(
        discriminator.discriminator_predictions.dense.weight, model.discriminator_predictions.dense.weight
    )


def _save_with_vocab(model, directory):
    """The checkpoint with a vocab.txt of its size beside it (as the Chinese ALBERT and ELECTRA releases)."""
    tokens = write_tiny_vocab(directory).read_text(encoding="utf-8").splitlines()
    model.resize_token_embeddings(len(tokens))
    model.save_pretrained(directory)
    return directory


@pytest.mark.parametrize("build, kind", [(albert, "albert"), (electra, "electra")])
def test_checkpoints_fine_tune_predict_and_load_as_encoders(build, kind, tmp_path):
    source = _save_with_vocab(build("attention"), tmp_path / "ckpt")
    assert checkpoint_kind(source) == kind
    head = model_class(kind, "ForSequenceClassification").from_pretrained(source, num_labels=2)
    layers = layers_of(head)
    assert (
        layers[2].attention.query.weight is layers[0].attention.query.weight
        if kind == "albert"
        else layers[2].attention.self.query.weight is layers[0].attention.self.query.weight
    )
    encoder, tokenizer = load_encoder(source)
    assert type(encoder).__name__ == ("AlbertModel" if kind == "albert" else "ElectraModel")
    assert "pinyin_ids" not in tokenizer("北京")

    from chinese_ptm.cli import main
    from chinese_ptm.finetune.predict import predict

    rows = [
        {"text": t, "label": "pos" if i % 2 else "neg"}
        for i, t in enumerate(["我喜欢北京", "银行行长", "中国人民", "大会堂", "重要的", "一个人"] * 2)
    ]
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "run"
    assert (
        main(
            [
                "finetune",
                "data",
                "--task",
                "single",
                "--train",
                str(data),
                "--dev",
                str(data),
                "--test",
                str(data),
                "--model",
                str(source),
                "--output-dir",
                str(out),
                "--no-progress",
                "--set",
                "training.num_train_epochs=1",
                "--set",
                "training.per_device_train_batch_size=4",
            ]
        )
        == 0
    )
    saved = [json.loads(x) for x in (out / "predictions_test.jsonl").read_text(encoding="utf-8").splitlines()]
    assert predict(out / "model", data)["predictions"] == saved


def test_prompts_need_a_masked_lm(tmp_path):
    from chinese_ptm.errors import UserError
    from chinese_ptm.prompt.runtime import build_prompt_model

    source = _save_with_vocab(electra(), tmp_path / "electra")
    with pytest.raises(UserError, match="ELECTRA discriminator has no masked-LM head"):
        build_prompt_model(None, ("neg", "pos"), str(source), "electra", None)


def test_albert_masked_lm_is_transformers_own_checkpoint(tmp_path):
    from transformers import AlbertForMaskedLM

    model = SparseAlbertForMaskedLM(albert("all").config)
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["architectures"] == ["AlbertForMaskedLM"] and config["num_hidden_groups"] == 1
    again = AlbertForMaskedLM.from_pretrained(tmp_path)
    ids = torch.randint(5, V, (1, 7))
    model.eval(), again.eval()
    assert torch.allclose(model(input_ids=ids).logits, again(input_ids=ids).logits, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize(
    "recipe, extra, kind",
    [
        ("albert-tiny", [], "albert"),
        ("electra-tiny", ["model.architecture=bert"], "electra"),
        ("albert-tiny", ["model.architecture=glycebert"], "glycebert"),
    ],
)
def test_pretrained_checkpoints_of_the_recipes_fine_tune(recipe, extra, kind, tmp_path):
    """The production path: the recipe's run saves a checkpoint that fine-tuning loads as its family's model."""
    from chinese_ptm.cli import build_parser, main
    from chinese_ptm.data.corpora import peoples_daily_lines
    from chinese_ptm.pretrain.cli import recipe_from_args
    from chinese_ptm.pretrain.runner import run

    corpus = tmp_path / "news.txt"
    corpus.write_text("\n".join(peoples_daily_lines(300)) + "\n", encoding="utf-8")
    sets = [
        "data.line_is_document=true",
        "data.eval_records=16",
        "training.report_to=none",
        "training.global_batch_size=8",
        "training.micro_batch_size=8",
        *extra,
    ]
    argv = ["pretrain", recipe, "--train-files", str(corpus), "--output-dir", str(tmp_path / "run"), "--max-steps", "3"]
    report = run(recipe_from_args(build_parser("pretrain").parse_args(argv + [x for s in sets for x in ("--set", s)])))[
        -1
    ]
    final = report["final_checkpoint"]
    assert checkpoint_kind(final) == kind
    rows = [{"text": t[:30], "label": "a" if i % 2 else "b"} for i, t in enumerate(peoples_daily_lines(12))]
    data = tmp_path / "task.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert (
        main(
            [
                "finetune",
                "data",
                "--task",
                "single",
                "--train",
                str(data),
                "--dev",
                str(data),
                "--model",
                final,
                "--output-dir",
                str(tmp_path / "ft"),
                "--no-progress",
                "--set",
                "training.num_train_epochs=1",
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "ft" / "results.json").read_text())["runs"]
