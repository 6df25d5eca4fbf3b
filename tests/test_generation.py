"""Generation: GlyceBERT and BERT as decoders (prefix LM, key/value cache, pinyin of generated tokens), the NSP
head, the seq2seq task kind (files, features, metrics, baselines) and its commands end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_CHARS, save_tiny_glycebert, write_tiny_vocab

from chinese_ptm.cli import main
from chinese_ptm.finetune.metrics import generation_scores, lcs_length
from chinese_ptm.finetune.transliteration import (
    Transliterator,
    in_stand_ins,
    is_aligned,
    syllable_stand_ins,
    toneless_pinyin,
)
from chinese_ptm.modeling import (
    GlyceBertConfig,
    GlyceBertForNextSentencePrediction,
    GlyceBertForPreTraining,
    GlyceBertLMHeadModel,
)

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LETTERS = "abcdefghijklmnopqrstuvwxyz"
TOKENS = SPECIALS + list(LETTERS) + list(dict.fromkeys(TINY_CHARS)) + ["##" + c for c in LETTERS]
SEP = TOKENS.index("[SEP]")


def tiny_decoder(prefix_lm: bool = True) -> GlyceBertLMHeadModel:
    torch.manual_seed(0)
    config = GlyceBertConfig(
        vocab_size=60,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=48,
        max_position_embeddings=64,
        num_fonts=1,
        glyph_size=4,
        is_decoder=True,
        prefix_lm=prefix_lm,
        pad_token_id=0,
    )
    model = GlyceBertLMHeadModel(config).eval()
    model.set_token_pinyin(torch.randint(1, 32, (60, 8)))
    return model


def generated(model, ids, mask, **options):
    pinyin = model.token_pinyin[ids]
    return model.generate(
        ids,
        attention_mask=mask,
        pinyin_ids=pinyin,
        max_new_tokens=8,
        do_sample=False,
        eos_token_id=3,
        pad_token_id=0,
        **options,
    )


@pytest.mark.parametrize("beams", [1, 3])
def test_the_cache_gives_the_tokens_of_decoding_without_it_and_padding_changes_nothing(beams):
    model = tiny_decoder()
    ids = torch.tensor([[0, 0, 2, 7, 9, 3], [2, 11, 12, 13, 14, 3]])
    mask = (ids != 0).long()
    cached = generated(model, ids, mask, num_beams=beams, use_cache=True)
    assert torch.equal(cached, generated(model, ids, mask, num_beams=beams, use_cache=False))
    alone = generated(model, ids[:1, 2:], mask[:1, 2:], num_beams=beams, use_cache=True)
    width = alone.shape[1] - 4
    assert torch.equal(cached[0, 6 : 6 + width], alone[0, 4 : 4 + width])  # left padding moves nothing


def test_a_prefix_lm_reads_the_source_both_ways_and_never_the_target():
    model = tiny_decoder()
    ids = torch.tensor([[2, 7, 8, 3, 20, 21]])
    prefix = torch.tensor([4])

    def states(x):
        return model.bert(x, model.token_pinyin[x], prefix_lengths=prefix).last_hidden_state[0]

    base = states(ids)
    later_target = ids.clone()
    later_target[0, 5] = 30
    assert torch.allclose(states(later_target)[:5], base[:5])  # nothing before the change sees it
    later_source = ids.clone()
    later_source[0, 2] = 30
    assert not torch.allclose(states(later_source)[0], base[0])  # the first token sees a later source token
    plain = tiny_decoder(prefix_lm=False)
    plain.load_state_dict(model.state_dict())
    causal = plain.bert(later_source, plain.token_pinyin[later_source]).last_hidden_state[0]
    assert torch.allclose(causal[0], plain.bert(ids, plain.token_pinyin[ids]).last_hidden_state[0][0])


def test_generated_tokens_read_their_own_pinyin_and_the_target_token_type():
    model = tiny_decoder()
    prompt = torch.tensor([[2, 7, 8, 3]])
    context = torch.randint(1, 32, (1, 4, 8))  # readings in context, as the tokenizer gives them
    grown = torch.cat([prompt, torch.tensor([[20, 21]])], dim=1)
    inputs = model.prepare_inputs_for_generation(
        grown, pinyin_ids=context, prompt_length=4, attention_mask=torch.ones_like(grown)
    )
    assert torch.equal(inputs["pinyin_ids"][0, :4], context[0])
    assert torch.equal(inputs["pinyin_ids"][0, 4:], model.token_pinyin[torch.tensor([20, 21])])
    assert inputs["token_type_ids"].tolist() == [[0, 0, 0, 0, 1, 1]]
    assert inputs["prefix_lengths"].tolist() == [4]
    assert inputs["position_ids"].tolist() == [[0, 1, 2, 3, 4, 5]]


def test_bert_as_a_prefix_lm_decodes_the_same_with_and_without_the_cache():
    from transformers import BertConfig

    from chinese_ptm.modeling.bert_generation import BertPrefixLMHeadModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=60,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=48,
        is_decoder=True,
        prefix_lm=True,
        pad_token_id=0,
    )
    model = BertPrefixLMHeadModel(config).eval()
    ids = torch.tensor([[0, 2, 7, 9, 3], [2, 11, 12, 13, 3]])
    mask = (ids != 0).long()
    options = {"max_new_tokens": 6, "do_sample": False, "eos_token_id": 3, "pad_token_id": 0}
    cached = model.generate(ids, attention_mask=mask, use_cache=True, **options)
    assert torch.equal(cached, model.generate(ids, attention_mask=mask, use_cache=False, **options))
    x = torch.tensor([[2, 7, 8, 3, 20]])
    changed = x.clone()
    changed[0, 3] = 30
    model.bert._prefix_lengths = torch.tensor([4])
    assert not torch.allclose(model.bert(x).last_hidden_state[0, 0], model.bert(changed).last_hidden_state[0, 0])
    model.bert._prefix_lengths = None
    # training: the head runs only where a next token is labelled, with transformers' loss over every position
    labels = torch.tensor([[-100, -100, -100, 3, 20], [-100, -100, 13, 3, 3]])
    batch = {"input_ids": torch.tensor([[2, 7, 8, 3, 20], [2, 11, 13, 3, 3]]), "labels": labels}
    sparse = model(**batch, prefix_lengths=torch.tensor([4, 3]))
    full = model(batch["input_ids"], labels=labels, prefix_lengths=torch.tensor([4, 3]))  # BertLMHeadModel's path
    assert sparse.logits.shape == (5, 60) and full.logits.shape == (2, 5, 60)  # 5 positions with a next token
    assert torch.allclose(sparse.loss, full.loss, atol=1e-6)


def test_the_next_sentence_head_keeps_a_pretrained_sentence_head(tmp_path):
    from transformers import AutoModelForCausalLM, AutoModelForNextSentencePrediction

    config = GlyceBertConfig(
        vocab_size=60,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=48,
        num_fonts=1,
        glyph_size=4,
    )
    pretrained = GlyceBertForPreTraining(config)
    pretrained.save_pretrained(tmp_path)
    nsp = AutoModelForNextSentencePrediction.from_pretrained(tmp_path)
    assert isinstance(nsp, GlyceBertForNextSentencePrediction)
    assert torch.equal(nsp.cls.seq_relationship.weight, pretrained.cls.seq_relationship.weight)
    ids = torch.tensor([[2, 7, 3, 8, 3]])
    out = nsp(ids, torch.zeros(1, 5, 8, dtype=torch.long), labels=torch.tensor([1]))
    assert out.logits.shape == (1, 2) and torch.isfinite(out.loss)
    decoder = AutoModelForCausalLM.from_pretrained(tmp_path, is_decoder=True)
    assert isinstance(decoder, GlyceBertLMHeadModel) and decoder.config.is_decoder
    assert torch.equal(
        decoder.cls.predictions.transform.dense.weight, pretrained.cls.predictions.transform.dense.weight
    )


def test_generation_scores():
    assert lcs_length("abcbdab", "bdcaba") == 4
    scores = generation_scores(["中国人民", "你好"], ["中国人们", "你好吗"])
    assert scores["char_accuracy"] == pytest.approx(100 * 5 / 7)  # the missing character counts as wrong
    assert scores["exact_match"] == 0.0
    assert scores["rouge_l"] == pytest.approx(100 * (0.75 + 0.8) / 2)
    assert generation_scores(["中国人民"], ["中国人民"])["bleu"] == pytest.approx(100.0)


def test_pinyin_sources_and_the_input_method_baselines():
    from chinese_ptm.finetune.examples import Seq2SeqExample

    assert toneless_pinyin("中国银行") == "zhong guo yin hang"  # the reading in context: hang, not xing
    train = [
        Seq2SeqExample(0, "shi shi", "事实"),
        Seq2SeqExample(1, "shi shi", "事实"),
        Seq2SeqExample(2, "shi", "是"),
        Seq2SeqExample(3, "shi", "是"),
        Seq2SeqExample(4, "shi", "是"),
    ]
    assert is_aligned(train)
    baseline = Transliterator(train)
    assert baseline.most_frequent("shi shi") == "是是"  # one character per syllable, whatever came before
    assert baseline.viterbi("shi shi") == "事实"  # the bigram knows what follows 事
    assert baseline.most_frequent("xyz") == "\ufffd"


def test_each_syllable_is_read_as_one_vocabulary_character_that_only_reads_it():
    from chinese_ptm.text.pinyin import contextual_pinyin
    from chinese_ptm.text.tokenization import load_tokenizer

    tokenizer = load_tokenizer()
    stand_ins = syllable_stand_ins(tokenizer.get_vocab())
    assert len(stand_ins) >= 400 and len(set(stand_ins.values())) == len(stand_ins)  # one character per syllable
    source = "na li zhen de neng chu xian shen hua ma le"
    text = in_stand_ins(source, stand_ins)
    assert len(tokenizer.tokenize(text)) == len(source.split())  # not z ##h ##e ##n: one token per syllable
    assert [r.rstrip("012345") for r in contextual_pinyin(text)] == source.split()  # and it reads so in context
    assert stand_ins["zhong"] == "中" and stand_ins["de"] != "的"  # the most frequent with no other reading
    assert in_stand_ins("ren xyz 〇", stand_ins) == stand_ins["ren"] + " xyz  〇 "  # unknown units stay as written


# --------------------------------------------------------------------------------------------------
# the seq2seq task kind, end to end


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return save_tiny_glycebert(tmp_path_factory.mktemp("decoder"), TOKENS, positions=64)


def ime_rows(texts: list[str]) -> list[dict]:
    return [{"source": toneless_pinyin(t), "target": t} for t in texts]


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_features_hold_the_source_as_prefix_and_the_target_with_its_own_readings(checkpoint):
    from chinese_ptm.finetune.config import TaskSection
    from chinese_ptm.finetune.examples import Seq2SeqExample
    from chinese_ptm.finetune.features import Encoder, PaddingCollator
    from chinese_ptm.finetune.task import SEQ2SEQ, TaskData
    from chinese_ptm.modeling.electra import token_pinyin_table
    from chinese_ptm.runtime.loading import load_tokenizer_for

    tokenizer = load_tokenizer_for(checkpoint, "glycebert")
    task = TaskData("t", SEQ2SEQ, (), "char_accuracy", {})
    examples = [Seq2SeqExample(0, "zhong guo", "中国"), Seq2SeqExample(1, "ren min da hui tang", "人民大会堂")]
    settings = TaskSection(kind="seq2seq", max_length=40, max_target_length=8)
    train = Encoder(task, tokenizer, settings, with_pinyin=True, progress=False).encode(examples, train=True)
    feature = train.features[0]
    prefix = int(feature["prefix_lengths"])
    assert tokenizer.convert_ids_to_tokens(feature["input_ids"][prefix:].tolist()) == ["中", "国", "[SEP]"]
    assert feature["token_type_ids"].tolist() == [0] * prefix + [1] * 3
    assert (feature["labels"][:prefix] == -100).all() and feature["labels"][prefix:].tolist() == feature["input_ids"][
        prefix:
    ].tolist()
    table = token_pinyin_table(tokenizer, 8).numpy()
    assert np.array_equal(feature["pinyin_ids"][prefix:], table[feature["input_ids"][prefix:]])
    settings.source_units = "syllables"  # one token for each syllable, the rest as before
    read = Encoder(task, tokenizer, settings, with_pinyin=True, progress=False).encode(examples, train=True)
    assert [int(f["prefix_lengths"]) for f in read.features] == [2 + 2, 5 + 2]
    assert tokenizer.convert_ids_to_tokens(read.features[1]["input_ids"][1:3].tolist()) == ["人", "民"]
    target = train.features[1]["input_ids"][int(train.features[1]["prefix_lengths"]) :]
    assert read.features[1]["input_ids"][7:].tolist() == target.tolist()
    test = Encoder(task, tokenizer, settings, with_pinyin=True, progress=False).encode(examples, train=False)
    assert "labels" not in test.features[0] and test.features[0]["input_ids"][-1] == tokenizer.sep_token_id
    batch = PaddingCollator(tokenizer.pad_token_id)(train.features)
    model = GlyceBertLMHeadModel.from_pretrained(checkpoint, is_decoder=True, prefix_lm=True)
    assert torch.isfinite(model(**batch).loss)


@pytest.mark.parametrize("units", ["text", "syllables"])
def test_finetune_predict_and_generate_a_seq2seq_task(checkpoint, tmp_path, capsys, monkeypatch, units):
    texts = ["我喜欢北京烤鸭", "中国人民大会堂", "我了解一个银行", "北京的银行长"]
    train = write(tmp_path / "train.jsonl", ime_rows(texts * 4) + [{"source": "", "target": "我"}])
    dev = write(tmp_path / "dev.jsonl", ime_rows(texts[:2]))
    test = write(tmp_path / "test.jsonl", ime_rows(texts[2:]))
    out = tmp_path / "out"
    argv = ["finetune", "data", "--task", "seq2seq", "--train", str(train), "--dev", str(dev), "--test", str(test)]
    argv += ["--model", str(checkpoint), "--output-dir", str(out), "--no-progress", "--set", "task.num_beams=2"]
    argv += ["--set", "training.num_train_epochs=1", "--set", "training.per_device_train_batch_size=8"]
    assert main([*argv, "--set", f"task.source_units={units}"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["skipped"]["train"] == {"empty source": 1}
    saved = json.loads((out / "model" / "task.json").read_text())["task_settings"]
    assert saved["source_units"] == units  # predict and generate read sources as training did
    assert {"char_accuracy", "exact_match", "bleu", "rouge_l"} <= set(results["test"])
    rows = [json.loads(line) for line in (out / "predictions_test.jsonl").read_text().splitlines()]
    assert [r["source"] for r in rows] == [toneless_pinyin(t) for t in texts[2:]]
    predicted = tmp_path / "predicted.jsonl"
    caches = spy_on_generate(monkeypatch)
    assert main(["predict", "--model", str(out / "model"), "--input", str(test), "--output", str(predicted)]) == 0
    assert caches and all(caches)  # with the key/value cache, although the Trainer saved config.use_cache=False
    assert json.loads((out / "model" / "generation_config.json").read_text())["use_cache"]  # for plain transformers
    again = [json.loads(line)["prediction"] for line in predicted.read_text().splitlines()]
    assert again == [r["prediction"] for r in rows]  # the saved model decodes as the run did
    capsys.readouterr()
    assert main(["generate", str(out / "model"), *[r["source"] for r in rows], "--num-beams", "2"]) == 0
    assert capsys.readouterr().out == "".join(f"{r['source']}\t{r['prediction']}\n" for r in rows)
    assert main(["generate", str(checkpoint), "我喜欢", "--max-new-tokens", "3"]) == 0  # a checkpoint as decoder
    assert capsys.readouterr().out.startswith("我喜欢\t")


def spy_on_generate(monkeypatch) -> list:
    """The ``use_cache`` of each ``generate()`` call of our decoders from now on."""
    from chinese_ptm.modeling.generation import GenerationInputs

    calls, original = [], GenerationInputs.generate

    def generate(self, inputs=None, **kwargs):
        calls.append(kwargs.get("use_cache"))
        return original(self, inputs, **kwargs)

    monkeypatch.setattr(GenerationInputs, "generate", generate)
    return calls


def test_a_bert_checkpoint_fine_tunes_as_a_prefix_lm(tmp_path, capsys):
    """BertConfig declares no ``prefix_lm``: the head's fields reach the config, not the model's constructor."""
    from transformers import BertConfig, BertForMaskedLM

    from chinese_ptm.modeling.bert_generation import BertPrefixLMHeadModel

    bert = tmp_path / "bert"
    bert.mkdir()
    tokens = write_tiny_vocab(bert).read_text(encoding="utf-8").split()
    dims = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 64}
    BertForMaskedLM(BertConfig(vocab_size=len(tokens), intermediate_size=64, **dims)).save_pretrained(bert)
    texts = ["我喜欢北京", "中国人民"]
    data = write(tmp_path / "d.jsonl", ime_rows(texts * 2))
    out = tmp_path / "out"
    argv = ["finetune", "data", "--task", "seq2seq", "--train", str(data), "--dev", str(data), "--test", str(data)]
    argv += ["--model", str(bert), "--output-dir", str(out), "--no-progress", "--set", "task.num_beams=1"]
    capsys.readouterr()
    assert main([*argv, "--set", "training.num_train_epochs=1"]) == 0
    err = capsys.readouterr().err  # --no-progress: none of transformers' bars (loading weights, writing shards)
    assert "Loading weights" not in err and "Writing model shards" not in err
    saved = BertPrefixLMHeadModel.from_pretrained(out / "model")
    assert saved.config.prefix_lm and saved.config.is_decoder
    assert (out / "predictions_test.jsonl").read_text().count("\n") == len(texts) * 2


def test_bad_seq2seq_input_gets_one_line(checkpoint, tmp_path, capsys):
    long_target = {"source": "wo", "target": "我" * 80}
    train = write(tmp_path / "train.jsonl", ime_rows(["我喜欢北京"]) * 3 + [long_target])
    argv = ["finetune", "data", "--task", "seq2seq", "--train", str(train), "--dev", str(train)]
    argv += ["--model", str(checkpoint), "--output-dir", str(tmp_path / "o"), "--no-progress"]
    assert main([*argv, "--set", "task.long_targets=refuse"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "train.jsonl:4" in err and "task.max_target_length" in err and "long_targets=truncate" in err
    assert main([*argv, "--set", "training.num_train_epochs=1", "--set", "task.num_beams=1"]) == 0  # cut, counted
    skipped = json.loads((tmp_path / "o" / "results.json").read_text())["skipped"]["train"]
    assert skipped == {"target cut to task.max_target_length (kept, not skipped)": 1}
    classifier_dir = tmp_path / "cls"
    write(tmp_path / "c.jsonl", [{"text": "我喜欢", "label": "a"}, {"text": "北京", "label": "b"}] * 2)
    cls_argv = ["finetune", "data", "--task", "single", "--train", str(tmp_path / "c.jsonl")]
    cls_argv += ["--dev", str(tmp_path / "c.jsonl"), "--model", str(checkpoint), "--output-dir", str(classifier_dir)]
    assert main([*cls_argv, "--no-progress", "--set", "training.num_train_epochs=1"]) == 0
    assert main(["generate", str(classifier_dir / "model"), "wo"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "a classification model, not a seq2seq one" in err and "chinese-ptm predict" in err


def test_an_encoder_decoder_warm_started_from_two_checkpoints_trains_saves_and_generates(checkpoint, tmp_path):
    from transformers import EncoderDecoderModel

    texts = ["我喜欢北京烤鸭", "中国人民大会堂"]
    data = write(tmp_path / "d.jsonl", ime_rows(texts * 2))
    out = tmp_path / "out"
    argv = ["finetune", "data", "--task", "seq2seq", "--train", str(data), "--dev", str(data), "--test", str(data)]
    argv += ["--model", str(checkpoint), "--output-dir", str(out), "--no-progress", "--set", "task.num_beams=2"]
    argv += ["--set", "task.seq2seq=encoder-decoder", "--set", "training.num_train_epochs=1"]
    assert main(argv) == 0
    model = EncoderDecoderModel.from_pretrained(out / "model")
    assert model.decoder.config.is_decoder and model.decoder.config.add_cross_attention
    assert model.decoder.token_pinyin.any()  # generated tokens read their own pinyin
    rows = [json.loads(line) for line in (out / "predictions_test.jsonl").read_text().splitlines()]
    predicted = tmp_path / "p.jsonl"
    assert main(["predict", "--model", str(out / "model"), "--input", str(data), "--output", str(predicted)]) == 0
    assert [json.loads(line)["prediction"] for line in predicted.read_text().splitlines()] == [
        r["prediction"] for r in rows
    ]


def test_a_decoder_with_open_glyphs_takes_the_tokenizers_glyph_ids(tmp_path):
    from chinese_ptm.modeling.electra import token_pinyin_table
    from chinese_ptm.runtime.loading import load_tokenizer_for

    directory = save_tiny_glycebert(tmp_path / "open", TOKENS, positions=64, open_glyphs=True)
    tokenizer = load_tokenizer_for(directory, "glycebert")
    model = GlyceBertLMHeadModel.from_pretrained(directory, is_decoder=True).eval()
    model.set_token_pinyin(token_pinyin_table(tokenizer, model.config.pinyin_slots))
    prompt = {
        k: v[:, :-1] for k, v in tokenizer(["我喜欢龘"], return_tensors="pt").items()
    }  # 龘: not in the vocabulary
    assert (prompt["glyph_ids"] < 0).any()
    options = {"max_new_tokens": 5, "do_sample": False, "eos_token_id": SEP, "pad_token_id": 0}
    cached = model.generate(**prompt, use_cache=True, **options)
    assert torch.equal(cached, model.generate(**prompt, use_cache=False, **options))
    plain = {k: v for k, v in prompt.items() if k != "glyph_ids"}  # [UNK]'s glyph instead of its own
    first = model(**prompt).logits[0, -1]
    assert not torch.allclose(first, model(**plain).logits[0, -1])
