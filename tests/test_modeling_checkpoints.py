"""Loading and converting checkpoints: the original ChineseBERT (reference fixture), Chinese BERT checkpoints,
our own checkpoints without chinese_ptm (trust_remote_code), and the fill-mask pipeline with our tokenizer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForPreTraining, BertModel, pipeline

from chinese_ptm.cli import main as cli_main
from chinese_ptm.modeling import (
    GlyceBertConfig,
    GlyceBertForMaskedLM,
    GlyceBertForPreTraining,
    GlyceBertForSequenceClassification,
    GlyceBertForTokenClassification,
    GlyceBertModel,
)
from chinese_ptm.modeling.convert import convert
from chinese_ptm.text.tokenization import GlyceBertTokenizer

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "chinesebert_reference"
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"reference fixtures not found at {FIXTURES}")

VOCAB, HIDDEN = 100, 32
BRANCH_KEYS = {
    "bert.embeddings.glyph_embeddings.embedding.weight",
    "bert.embeddings.glyph_map.weight",
    "bert.embeddings.glyph_map.bias",
    "bert.embeddings.pinyin_embeddings.embedding.weight",
    "bert.embeddings.pinyin_embeddings.conv.weight",
    "bert.embeddings.pinyin_embeddings.conv.bias",
    "bert.embeddings.map_fc.weight",
    "bert.embeddings.map_fc.bias",
}


def tiny_glycebert_config(**overrides) -> GlyceBertConfig:
    values = dict(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
        num_fonts=2,
        glyph_size=6,
    )
    values.update(overrides)
    return GlyceBertConfig(**values)


def bert_inputs(seed: int = 3) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    attention_mask = torch.ones(2, 11, dtype=torch.long)
    attention_mask[1, 8:] = 0
    token_type_ids = torch.zeros(2, 11, dtype=torch.long)
    token_type_ids[:, 6:] = 1
    input_ids = torch.randint(1, VOCAB, (2, 11), generator=generator)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}


@pytest.fixture(scope="module")
def bert_checkpoint(tmp_path_factory) -> tuple[Path, BertForPreTraining]:
    """A tiny random transformers BertForPreTraining saved with save_pretrained (safetensors)."""
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
    )
    bert = BertForPreTraining(config).eval()
    with torch.no_grad():  # non-trivial values everywhere, so that nothing matches by accident
        for parameter in bert.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    path = tmp_path_factory.mktemp("bert")
    bert.save_pretrained(path)
    (path / "vocab.txt").write_text("".join(f"t{i}\n" for i in range(VOCAB)), encoding="utf-8")
    return path, bert


def assert_same_as_bert(glycebert, bert, pinyin: bool, atol: float = 1e-6) -> None:
    inputs = bert_inputs()
    with torch.no_grad():
        expected = bert(**inputs, output_hidden_states=True)
        extra = {"pinyin_ids": torch.randint(0, 32, (2, 11, 8))} if pinyin else {}
        got = glycebert(**inputs, **extra, output_hidden_states=True)
    for layer, (a, b) in enumerate(zip(expected.hidden_states, got.hidden_states)):
        assert torch.allclose(a, b, atol=atol), f"hidden state {layer}"
    assert torch.allclose(expected.prediction_logits, got.prediction_logits, atol=atol)
    assert torch.allclose(expected.seq_relationship_logits, got.seq_relationship_logits, atol=atol)


# --------------------------------------------------------------------------------------------------------------
# original ChineseBERT: reference outputs


def reference_outputs_match(directory: Path) -> None:
    expected = np.load(FIXTURES / "tiny_expected.npz")
    inputs = {
        "input_ids": torch.from_numpy(expected["input_ids"]),
        "pinyin_ids": torch.from_numpy(expected["pinyin_ids"]),
        "attention_mask": torch.from_numpy(expected["attention_mask"]),
    }
    model = GlyceBertForMaskedLM.from_pretrained(directory)
    base = GlyceBertModel.from_pretrained(directory)
    assert not model.training and not base.training
    with torch.no_grad():
        logits = model(**inputs).logits.numpy()
        hidden = base(**inputs).last_hidden_state.numpy()
        flat = model(**dict(inputs, pinyin_ids=inputs["pinyin_ids"].reshape(6, -1))).logits.numpy()  # (B, T*8)
    np.testing.assert_allclose(hidden, expected["last_hidden_state"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(logits, expected["logits"], atol=1e-5, rtol=0)
    np.testing.assert_array_equal(flat, logits)


@pytest.mark.reference
@needs_fixtures
def test_original_chinesebert_directory_loads_directly():
    directory = FIXTURES / "tiny_checkpoint"
    model, info = GlyceBertForMaskedLM.from_pretrained(directory, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["new_keys"]
    config = model.config
    assert isinstance(config, GlyceBertConfig) and config.model_type == "glycebert"
    assert (config.vocab_size, config.hidden_size, config.num_fonts, config.glyph_size) == (256, 32, 3, 24)
    assert config.use_glyph and config.use_pinyin and not config.glyph_trainable
    reference_outputs_match(directory)


@pytest.mark.reference
@needs_fixtures
def test_convert_chinesebert_cli_round_trip(tmp_path, capsys):
    source, destination = FIXTURES / "tiny_checkpoint", tmp_path / "converted"
    assert cli_main(["convert", "chinesebert", str(source), str(destination)]) == 0
    report = json.loads(capsys.readouterr().out)  # the command prints the report as JSON
    assert report["kind"] == "chinesebert"
    assert report["new_weights"] == ["cls.seq_relationship.bias", "cls.seq_relationship.weight"]
    for name in (
        "model.safetensors",
        "config.json",
        "vocab.txt",
        "config/pinyin_map.json",
        "config/pinyin2tensor.json",
        "config/id2pinyin.json",
        "modeling_glycebert.py",
    ):
        assert (destination / name).is_file(), name
    assert not (destination / "pytorch_model.bin").exists()
    assert json.loads((destination / "config.json").read_text())["model_type"] == "glycebert"
    reference_outputs_match(destination)
    # the tokenizer loads from DST and encodes like the one of SRC
    text = "据南非和安哥拉军方称"
    a = GlyceBertTokenizer.from_pretrained(str(source))(text)
    b = GlyceBertTokenizer.from_pretrained(str(destination))(text)
    assert a["input_ids"] == b["input_ids"] and a["pinyin_ids"] == b["pinyin_ids"]
    with pytest.raises(ValueError, match="convert chinesebert"):
        convert("bert", source, tmp_path / "wrong")
    assert cli_main(["convert", "bert", str(source), str(tmp_path / "wrong")]) == 1
    assert "convert chinesebert" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------------------
# Chinese BERT checkpoints


def test_bert_checkpoint_with_branches_off_equals_bert(bert_checkpoint):
    path, bert = bert_checkpoint
    model, info = GlyceBertForPreTraining.from_pretrained(
        path, use_glyph=False, use_pinyin=False, output_loading_info=True
    )
    assert not model.config.use_glyph and not model.config.use_pinyin
    assert set(info["new_keys"]) == {"bert.embeddings.map_fc.weight", "bert.embeddings.map_fc.bias"}
    assert not info["unexpected_keys"]
    assert_same_as_bert(model, bert, pinyin=False)


def test_bert_checkpoint_with_branches_on_starts_as_bert(bert_checkpoint):
    path, bert = bert_checkpoint
    model, info = GlyceBertForPreTraining.from_pretrained(path, output_loading_info=True)
    assert set(info["new_keys"]) == BRANCH_KEYS  # only glyph, pinyin and fusion weights are new
    map_fc = model.bert.embeddings.map_fc
    assert torch.equal(map_fc.weight[:, :HIDDEN], torch.eye(HIDDEN)) and map_fc.weight[:, HIDDEN:].abs().sum() == 0
    assert map_fc.bias.abs().sum() == 0
    # the pinyin and glyph branches are live (random init) but enter map_fc with zero weights
    assert model.bert.embeddings.pinyin_embeddings.conv.weight.abs().sum() > 0
    assert model.bert.embeddings.glyph_embeddings.embedding.weight.abs().sum() == 0  # no table given: zeros
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        assert torch.isfinite(tensor).all(), name
    assert_same_as_bert(model, bert, pinyin=True)


def test_bert_checkpoint_legacy_names_and_bin_file(tmp_path):
    """A bare BertModel state dict with TF-era gamma/beta names and position_ids, in pytorch_model.bin."""
    torch.manual_seed(1)
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=1,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
    )
    bert = BertModel(config).eval()
    state = {}
    for key, value in bert.state_dict().items():
        if "LayerNorm" in key:
            key = key.replace(".weight", ".gamma").replace(".bias", ".beta")
        state[key] = value.clone()
    state["embeddings.position_ids"] = torch.arange(64)[None]
    torch.save(state, tmp_path / "pytorch_model.bin")
    config_dict = config.to_dict()
    config_dict["model_type"] = "bert"
    (tmp_path / "config.json").write_text(json.dumps(config_dict))
    model, info = GlyceBertModel.from_pretrained(tmp_path, use_glyph=False, use_pinyin=False, output_loading_info=True)
    assert not info["unexpected_keys"] and set(info["missing_keys"]) <= BRANCH_KEYS
    inputs = bert_inputs()
    with torch.no_grad():
        assert torch.allclose(model(**inputs).last_hidden_state, bert(**inputs).last_hidden_state, atol=1e-6)


def test_convert_bert_cli(bert_checkpoint, tmp_path):
    path, bert = bert_checkpoint
    plain = tmp_path / "plain"
    report = convert("bert", path, plain, use_glyph=False, use_pinyin=False).as_dict()
    assert set(report["new_weights"]) == {"bert.embeddings.map_fc.weight", "bert.embeddings.map_fc.bias"}
    assert (plain / "model.safetensors").is_file() and (plain / "vocab.txt").is_file()
    assert_same_as_bert(GlyceBertForPreTraining.from_pretrained(plain), bert, pinyin=False)

    table = np.random.default_rng(0).integers(0, 256, (VOCAB, 2, 5, 5), dtype=np.uint8)  # any fonts and size
    np.save(tmp_path / "glyphs.npy", table)
    full = tmp_path / "full"
    report = convert("bert", path, full, glyph_table=tmp_path / "glyphs.npy").as_dict()
    assert set(report["new_weights"]) == BRANCH_KEYS and report["glyph_table"].endswith("glyphs.npy")
    model = GlyceBertForPreTraining.from_pretrained(full)
    assert (model.config.num_fonts, model.config.glyph_size) == (2, 5)
    glyphs = model.bert.embeddings.glyph_embeddings.embedding.weight
    assert torch.equal(glyphs, torch.from_numpy(table).reshape(VOCAB, -1).float())
    assert_same_as_bert(model, bert, pinyin=True)
    assert (full / "config" / "pinyin2tensor.json").is_file()  # the tokenizer's tables were built for DST


@needs_fixtures
@pytest.mark.slow
def test_convert_bert_with_the_standard_vocabulary_renders_its_glyphs(tmp_path):
    """A BERT-wwm-ext / MacBERT style checkpoint (21,128-entry vocabulary) converted without --glyph-table gets a
    table drawn from the shipped fonts: every Chinese character has ink in every font."""
    from chinese_ptm.glyph import read_vocab

    standard = FIXTURES / "tokenizer" / "vocab.txt"
    tokens = read_vocab(standard)
    source = tmp_path / "bert-standard"
    BertForPreTraining(
        BertConfig(
            vocab_size=len(tokens), hidden_size=HIDDEN, num_hidden_layers=1, num_attention_heads=4, intermediate_size=37
        )
    ).save_pretrained(source)
    (source / "vocab.txt").write_bytes(standard.read_bytes())
    report = convert("bert", source, tmp_path / "glyce").as_dict()
    assert report["glyph_table"].startswith("rendered from the shipped fonts")
    model = GlyceBertForPreTraining.from_pretrained(tmp_path / "glyce")
    glyphs = model.bert.embeddings.glyph_embeddings.embedding.weight.reshape(len(tokens), 3, -1)
    cjk = [i for i, t in enumerate(tokens) if len(t) == 1 and "\u4e00" <= t <= "\u9fff"]
    assert len(cjk) > 7000 and bool((glyphs[cjk].sum(-1) > 0).all())


# --------------------------------------------------------------------------------------------------------------
# our checkpoints without chinese_ptm


REMOTE_SCRIPT = """
import sys
sys.modules["chinese_ptm"] = None  # importing chinese_ptm would fail: only the checkpoint's own code may run
import numpy as np, torch
from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoTokenizer
directory = sys.argv[1]
tokenizer = AutoTokenizer.from_pretrained(directory, trust_remote_code=True)
assert type(tokenizer).__name__ == "GlyceBertTokenizer", type(tokenizer)
assert not type(tokenizer).__module__.startswith("chinese_ptm"), type(tokenizer).__module__
model = AutoModelForMaskedLM.from_pretrained(directory, trust_remote_code=True)
assert type(model).__name__ == "GlyceBertForMaskedLM", type(model)
assert not type(model).__module__.startswith("chinese_ptm"), type(model).__module__
inputs = tokenizer(["我们喜欢北京", "银行行长"], padding=True, return_tensors="pt")
with torch.no_grad():
    logits = model(**inputs).logits
np.savez(sys.argv[2], logits=logits.numpy(), **{k: v.numpy() for k, v in inputs.items()})
classifier = AutoModelForSequenceClassification.from_pretrained(directory, trust_remote_code=True, num_labels=3)
assert type(classifier).__name__ == "GlyceBertForSequenceClassification"
"""


def tiny_tokenizer(directory: Path) -> tuple[GlyceBertTokenizer, list[str]]:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = specials + list("我们喜欢北京天安门中国人民银行长大的了是在有")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("".join(t + "\n" for t in vocab), encoding="utf-8")
    return GlyceBertTokenizer(vocab_file=str(directory / "vocab.txt")), vocab


@pytest.mark.slow
def test_saved_checkpoint_loads_with_trust_remote_code_without_chinese_ptm(tmp_path):
    """Model and tokenizer both load through the Auto classes from the code saved beside them."""
    tokenizer, vocab = tiny_tokenizer(tmp_path / "vocab")
    torch.manual_seed(0)
    model = GlyceBertForMaskedLM(tiny_glycebert_config(vocab_size=len(vocab))).eval()
    model.load_glyph_table(torch.randint(0, 256, (len(vocab), 2 * 6 * 6), dtype=torch.uint8))
    checkpoint = tmp_path / "checkpoint"
    model.save_pretrained(checkpoint)
    tokenizer.save_pretrained(checkpoint)
    assert (
        json.loads((checkpoint / "tokenizer_config.json").read_text())["auto_map"]["AutoTokenizer"][0]
        == "tokenization.GlyceBertTokenizer"
    )
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environment.update(HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, "-c", REMOTE_SCRIPT, str(checkpoint), str(tmp_path / "out.npz")],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    remote = np.load(tmp_path / "out.npz")
    expected_inputs = tokenizer(["我们喜欢北京", "银行行长"], padding=True, return_tensors="np")
    for key in ("input_ids", "pinyin_ids", "attention_mask", "token_type_ids"):
        np.testing.assert_array_equal(remote[key], expected_inputs[key])
    with torch.no_grad():
        expected = model(**tokenizer(["我们喜欢北京", "银行行长"], padding=True, return_tensors="pt")).logits
    np.testing.assert_allclose(remote["logits"], expected.numpy(), atol=1e-6)


# --------------------------------------------------------------------------------------------------------------
# fill-mask pipeline


def test_fill_mask_pipeline_with_glycebert_tokenizer(tmp_path):
    tokenizer, vocab = tiny_tokenizer(tmp_path)
    torch.manual_seed(0)
    model = GlyceBertForMaskedLM(tiny_glycebert_config(vocab_size=len(vocab))).eval()

    seen = {}
    model.bert.embeddings.register_forward_pre_hook(
        lambda module, args, kwargs: seen.update(pinyin_ids=kwargs["pinyin_ids"]), with_kwargs=True
    )
    fill_mask = pipeline("fill-mask", model=model, tokenizer=tokenizer)
    predictions = fill_mask("我喜欢北[MASK]", top_k=3)
    assert len(predictions) == 3
    assert all(p["token_str"] in vocab for p in predictions)
    assert sum(p["score"] for p in predictions) <= 1.0
    pinyin = seen["pinyin_ids"]
    assert pinyin.shape == (1, 7, 8)  # [CLS] 我 喜 欢 北 [MASK] [SEP]
    assert pinyin[0, 1].abs().sum() > 0 and pinyin[0, 5].abs().sum() == 0  # 我 has a reading, [MASK] none


PIPELINE_HEADS = {
    "fill-mask": GlyceBertForMaskedLM,
    "text-classification": GlyceBertForSequenceClassification,
    "token-classification": GlyceBertForTokenClassification,
    "feature-extraction": GlyceBertModel,
}


@pytest.mark.parametrize("task", sorted(PIPELINE_HEADS))
def test_pipelines_pass_the_tokenizers_pinyin_to_the_pinyin_branch(task, tmp_path):
    """What reaches the pinyin branch inside each transformers pipeline is exactly the tokenizer's pinyin_ids."""
    tokenizer, vocab = tiny_tokenizer(tmp_path)
    torch.manual_seed(0)
    model = PIPELINE_HEADS[task](tiny_glycebert_config(vocab_size=len(vocab), num_labels=2)).eval()
    seen, convolved = [], []
    embeddings = model.base_model.embeddings
    embeddings.register_forward_pre_hook(lambda m, args, kwargs: seen.append(kwargs["pinyin_ids"]), with_kwargs=True)
    embeddings.pinyin_embeddings.register_forward_pre_hook(lambda m, args: convolved.append(args[0]))
    text = "银行行长了解[MASK]" if task == "fill-mask" else "银行行长了解中国"
    pipeline(task, model=model, tokenizer=tokenizer)(text)
    expected = tokenizer(text, return_tensors="pt")["pinyin_ids"]
    assert len(seen) == 1 and torch.equal(seen[0], expected)
    assert expected[0, 1:7].any(-1).all()  # every Chinese character carries its reading
    # the pinyin branch runs once per distinct reading of the input (行 hang2 twice, no reading thrice)
    rows = convolved[0].reshape(-1, 8).tolist()
    assert len(rows) == len(set(map(tuple, rows))) and set(map(tuple, rows)) == set(map(tuple, expected[0].tolist()))


def test_missing_pinyin_ids_warn_once_or_raise(caplog):
    torch.manual_seed(0)
    model = GlyceBertModel(tiny_glycebert_config()).eval()
    ids = torch.randint(5, VOCAB, (2, 6))
    with caplog.at_level("WARNING"):
        model(input_ids=ids)
        model(input_ids=ids)
    warnings = [r for r in caplog.records if "without pinyin_ids" in r.getMessage()]
    assert len(warnings) == 1
    model(input_ids=ids, pinyin_ids=torch.zeros(2, 6, 8, dtype=torch.long))  # explicit zeros are fine
    strict = GlyceBertModel(tiny_glycebert_config(require_pinyin_ids=True)).eval()
    with pytest.raises(ValueError, match="without pinyin_ids"):
        strict(input_ids=ids)
    no_pinyin = GlyceBertModel(tiny_glycebert_config(use_pinyin=False, require_pinyin_ids=True)).eval()
    no_pinyin(input_ids=ids)  # nothing to lose without the pinyin branch


def test_bert_saved_with_our_tokenizer_is_still_bert(tmp_path):
    """A plain BERT checkpoint saved next to our tokenizer (which writes config/pinyin_map.json) loads as the
    BERT it is: map_fc starts as [I | 0 | 0], not as a ChineseBERT checkpoint with random fusion weights."""
    from chinese_ptm.modeling.bert_format import BERT, checkpoint_kind
    from chinese_ptm.text.tokenization import load_tokenizer

    tokenizer = load_tokenizer()
    bert = BertForPreTraining(
        BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=HIDDEN,
            num_hidden_layers=1,
            num_attention_heads=4,
            intermediate_size=37,
            max_position_embeddings=64,
        )
    )
    bert.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert (tmp_path / "config" / "pinyin_map.json").is_file()
    assert checkpoint_kind(tmp_path) == BERT
    model = GlyceBertForMaskedLM.from_pretrained(tmp_path)
    fc = model.bert.embeddings.map_fc.weight
    assert torch.equal(fc[:, :HIDDEN], torch.eye(HIDDEN)) and not fc[:, HIDDEN:].any()


@pytest.mark.parametrize("name", ["SparseBertForMaskedLM", "SparseBertForPreTraining"])
def test_sparse_bert_pretraining_heads_equal_transformers_and_save_as_bert(name, tmp_path):
    """BERT pretraining runs the MLM head only at labelled positions: same loss and gradients as transformers'
    class, and the checkpoint is transformers' own (its class name in config.json)."""
    from transformers import AutoModelForMaskedLM, BertConfig

    from chinese_ptm.modeling import sparse_bert

    config = BertConfig(
        vocab_size=97,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=32,
    )
    torch.manual_seed(0)
    model = getattr(sparse_bert, name)(config).eval()
    dense_cls = model.__class__.__mro__[2]
    ids = torch.randint(5, 97, (3, 10))
    labels = torch.full_like(ids, -100)
    labels[:, ::3] = ids[:, ::3]
    extra = {"next_sentence_label": torch.tensor([0, 1, 0])} if "PreTraining" in name else {}
    sparse = model(input_ids=ids, labels=labels, **extra)
    sparse.loss.backward()
    grad = model.bert.embeddings.word_embeddings.weight.grad.clone()
    model.zero_grad()
    dense = dense_cls.forward(model, input_ids=ids, labels=labels, **extra)
    dense.loss.backward()
    assert torch.allclose(sparse.loss, dense.loss, atol=1e-6)
    assert torch.allclose(grad, model.bert.embeddings.word_embeddings.weight.grad, atol=1e-6)
    dense_logits = dense[1] if "PreTraining" not in name else dense.prediction_logits
    assert sparse[1].shape == (int((labels != -100).sum()), 97)
    assert torch.allclose(sparse[1], dense_logits[labels != -100], atol=1e-5)
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["architectures"] == [dense_cls.__name__]
    loaded = AutoModelForMaskedLM.from_pretrained(tmp_path).eval()
    assert type(loaded).__name__ == "BertForMaskedLM"
    assert torch.allclose(loaded(input_ids=ids).logits, model(input_ids=ids)[0], atol=1e-5)


def _tiny_checkpoints(directory):
    """Pretraining checkpoints of each family a user fine-tunes: GlyceBERT (MLM; MLM + sentence head), BERT."""
    from transformers import BertConfig, BertForMaskedLM

    from chinese_ptm.modeling import GlyceBertConfig, GlyceBertForMaskedLM, GlyceBertForPreTraining

    shape = dict(vocab_size=40, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=48)
    glyce = GlyceBertConfig(**shape, num_fonts=1, glyph_size=4)
    made = {}
    for name, model in (
        ("glycebert", GlyceBertForMaskedLM(glyce)),
        ("glycebert-nsp", GlyceBertForPreTraining(glyce)),
        ("bert", BertForMaskedLM(BertConfig(**shape))),
    ):
        model.save_pretrained(directory / name)
        made[name] = directory / name
    return made


HEADS = ["ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering", "ForMultipleChoice"]


def test_loading_a_checkpoint_into_a_head_says_nothing_when_what_is_left_out_is_intended(tmp_path, caplog, capfd):
    import logging

    from chinese_ptm.modeling.factory import load_pretrained, model_class

    caplog.set_level(logging.WARNING)
    for name, path in _tiny_checkpoints(tmp_path).items():
        kind = "bert" if name == "bert" else "glycebert"
        for head in [*HEADS, "LMHeadModel"] + (["ForNextSentencePrediction"] if kind == "glycebert" else []):
            load_pretrained(model_class(kind, head), path, **({"is_decoder": True} if head == "LMHeadModel" else {}))
    printed = capfd.readouterr()
    assert "LOAD REPORT" not in printed.out + printed.err and "MISSING" not in printed.err
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_encoder_weight_missing_from_a_checkpoint_is_named_in_one_line(tmp_path, caplog):
    import logging

    from safetensors.torch import load_file, save_file

    from chinese_ptm.modeling.factory import load_pretrained, model_class

    path = _tiny_checkpoints(tmp_path)["glycebert"]
    weights = load_file(str(path / "model.safetensors"))
    del weights["bert.encoder.layer.1.output.dense.weight"]
    save_file(weights, str(path / "model.safetensors"), metadata={"format": "pt"})
    caplog.set_level(logging.WARNING)
    load_pretrained(model_class("glycebert", "ForSequenceClassification"), path)
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "1 not in it" in line and "bert.encoder.layer.1.output.dense.weight" in line and "\n" not in line
