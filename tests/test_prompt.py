"""Prompts: templates and verbalisers, label-word scores equal to the MLM's own probabilities, K-shot sampling,
PET training and prediction on the fine-tuning runtime, zero-shot from the command line (files, FewCLUE)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import save_tiny_glycebert, write_tiny_vocab

from chinese_ptm.errors import SettingsError
from chinese_ptm.prompt.template import Template, Verbalizer

EXTRA = "很好差总之觉得是不可能这家店菜"
POS, NEG = "我喜欢北京烤鸭很好", "这家店的菜很差"


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny")
    write_tiny_vocab(directory, EXTRA)
    return save_tiny_glycebert(directory, (directory / "vocab.txt").read_text(encoding="utf-8").split(), positions=64)


@pytest.fixture(scope="module")
def tiny(tiny_dir):
    from chinese_ptm.modeling import GlyceBertForMaskedLM
    from chinese_ptm.text.tokenization import GlyceBertTokenizer

    return GlyceBertForMaskedLM.from_pretrained(tiny_dir).eval(), GlyceBertTokenizer.from_pretrained(str(tiny_dir))


def test_templates_and_verbalizers_name_what_is_wrong(tmp_path):
    assert Template("{text}。总之，{mask}。").render("菜好", None, 2) == "菜好。总之，[MASK][MASK]。"
    assert Template("{text}？[MASK][MASK]，{text_pair}").fixed_slots == 2
    for bad, message in (
        ("总之，{mask}。", "no {text}"),
        ("{text}。", "exactly one blank"),
        ("{text}{mask}[MASK]", "exactly one blank"),
        ("{text}{label}{mask}", "unknown placeholder"),
    ):
        with pytest.raises(SettingsError, match=message):
            Template(bad)
    inline = Verbalizer.parse("pos=很好,不错;neg=很差")
    assert inline.words == {"pos": ("很好", "不错"), "neg": ("很差",)}
    path = tmp_path / "labels.json"
    path.write_text(json.dumps({"neg": "很差", "pos": ["很好"]}, ensure_ascii=False), encoding="utf-8")
    assert Verbalizer.parse(str(path), ("pos", "neg")).labels == ("pos", "neg")  # the data's order
    with pytest.raises(SettingsError, match="no label words for label\\(s\\) 'mid'"):
        Verbalizer.parse(str(path), ("pos", "neg", "mid"))


def test_label_words_are_checked_against_the_vocabulary_and_the_blank(tiny):
    from chinese_ptm.prompt.model import label_word_ids

    _, tokenizer = tiny
    with pytest.raises(SettingsError, match="label word '绝妙' of label 'pos'.*\\[UNK\\]"):
        label_word_ids(tokenizer, Verbalizer.parse("pos=绝妙;neg=很差"))
    with pytest.raises(SettingsError, match="1 \\[MASK\\] slot\\(s\\) but label words have \\[2\\]"):
        label_word_ids(tokenizer, Verbalizer.parse("pos=很好;neg=很差"), Template("{text}[MASK]"))
    with pytest.raises(SettingsError, match="scoring=joint needs label words of one length"):
        label_word_ids(tokenizer, Verbalizer.parse("pos=好;neg=很差"), Template("{text}{mask}"), "joint")


def _mlm_log_probs(model, tokenizer, text: str) -> tuple[torch.Tensor, list[int]]:
    inputs = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits[0].log_softmax(-1)
    slots = (inputs["input_ids"][0] == tokenizer.mask_token_id).nonzero().flatten().tolist()
    return logits, slots


@pytest.mark.parametrize("scoring", ["mean", "joint", "autoregressive"])
def test_label_word_scores_are_the_mlms_own_probabilities(tiny, scoring):
    from chinese_ptm.prompt.model import PromptModel, label_word_ids

    model, tokenizer = tiny
    template = Template("{text}。总之，{mask}。")
    words = "pos=很好;neg=差" if scoring != "joint" else "pos=很好;neg=很差"
    verbalizer = Verbalizer.parse(words)
    ids = label_word_ids(tokenizer, verbalizer, template, scoring)
    pinyin = [[tokenizer(w, add_special_tokens=False)["pinyin_ids"] for w in ws] for ws in verbalizer.words.values()]
    prompt = PromptModel(model, ids, tokenizer.mask_token_id, scoring, pinyin).eval()
    texts = [template.render(t, None, 2) for t in (POS, NEG)]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        scores = prompt(**batch).logits
    for row, text in enumerate((POS, NEG)):
        two, slots2 = _mlm_log_probs(model, tokenizer, template.render(text, None, 2))
        hen, hao = tokenizer.convert_tokens_to_ids(["很", "好"])
        if scoring == "autoregressive":  # 很 with both slots masked, then 好 with 很 in the first slot
            filled, _ = _mlm_log_probs(model, tokenizer, template.render(text, None, 2).replace("[MASK]", "很", 1))
            expected_pos = (two[slots2[0], hen] + filled[slots2[1], hao]) / 2
        else:
            expected_pos = (two[slots2[0], hen] + two[slots2[1], hao]) / (1 if scoring == "joint" else 2)
        torch.testing.assert_close(scores[row, 0], expected_pos, atol=1e-4, rtol=0)
        if scoring != "joint":  # a one-character word is scored on an input with one slot
            one, slots1 = _mlm_log_probs(model, tokenizer, template.render(text, None, 1))
            expected_neg = one[slots1[0], tokenizer.convert_tokens_to_ids("差")]
            torch.testing.assert_close(scores[row, 1], expected_neg, atol=1e-4, rtol=0)


def test_shots_are_k_per_class_and_fixed_by_the_seed():
    from chinese_ptm.prompt.runtime import sample_shots

    labels = [0] * 50 + [1] * 30 + [2] * 3
    first = sample_shots(labels, 8, seed=1)
    assert sorted(np.bincount([labels[i] for i in first]).tolist()) == [3, 8, 8]
    assert first == sample_shots(labels, 8, seed=1) != sample_shots(labels, 8, seed=2)


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _rows(n):
    return [
        {"id": i, "text": (POS if i % 2 else NEG) + "的" * (i % 3), "label": "pos" if i % 2 else "neg"}
        for i in range(n)
    ]


@pytest.mark.slow
def test_pet_trains_saves_and_predicts_on_the_runtime(tiny_dir, tmp_path):
    from chinese_ptm import cli
    from chinese_ptm.finetune.predict import predict

    train, dev, test = (
        _write_jsonl(tmp_path / f"{n}.jsonl", _rows(k)) for n, k in (("train", 40), ("dev", 8), ("test", 10))
    )
    out = tmp_path / "pet"
    status = cli.main(
        [
            "finetune",
            "data",
            "--task",
            "single",
            "--train",
            str(train),
            "--dev",
            str(dev),
            "--test",
            str(test),
            "--model",
            str(tiny_dir),
            "--output-dir",
            str(out),
            "--seeds",
            "1,2",
            "--no-progress",
            "--set",
            "prompt={text}。总之，{mask}。",
            "--set",
            "verbalizer=pos=很好;neg=很差",
            "--set",
            "shots=4",
            "--set",
            "training.learning_rate=1e-3",
            "--set",
            "training.num_train_epochs=2",
        ]
    )
    assert status == 0
    results = json.loads((out / "results.json").read_text())
    assert [r["steps"] for r in results["runs"]] == [2, 2]  # 4 examples per class = 8, batch 8 (2 epochs)
    saved = json.loads((out / "model" / "task.json").read_text())
    assert saved["format"] == "prompt" and json.loads((out / "model" / "prompt.json").read_text())["scoring"] == "mean"
    again = predict(out / "model", test)
    best = [json.loads(line)["label"] for line in (out / "predictions_test.jsonl").read_text().splitlines()]
    assert [r["label"] for r in again["predictions"]] == best
    assert again["metrics"]["accuracy"] == pytest.approx(
        results["runs"][results["seeds"].index(results["best_seed"])]["test"]["accuracy"]
    )


def test_zero_shot_command_on_files_with_and_without_labels(tiny_dir, tmp_path, capsys):
    from chinese_ptm import cli

    labelled = _write_jsonl(tmp_path / "labelled.jsonl", _rows(6))
    common = [
        "prompt",
        str(tiny_dir),
        "--template",
        "{text}。总之，{mask}。",
        "--template",
        "{mask}！{text}",
        "--verbalizer",
        "pos=很好;neg=很差",
        "--calibrate",
    ]
    assert cli.main([*common, "--input", str(labelled), "--output-dir", str(tmp_path / "a")]) == 0
    printed = capsys.readouterr().out
    assert "ensemble of 2" in printed and "majority class" in printed and "calibrated" in printed
    results = json.loads((tmp_path / "a" / "zero_shot.json").read_text())
    assert results["examples"] == {"test": 6} and len(results["templates"]) == 2
    rows = (tmp_path / "a" / "predictions_test.jsonl").read_text().splitlines()
    assert len(rows) == 6 and set(json.loads(rows[0])["probabilities"]) == {"pos", "neg"}
    first = json.loads(rows[0])  # the input row's own text, the templates apart
    assert first["text"] == _rows(6)[0]["text"] and first["template"] == ["{text}。总之，{mask}。", "{mask}！{text}"]
    bare = _write_jsonl(tmp_path / "bare.jsonl", [{"text": POS}, {"text": NEG}])
    assert cli.main([*common, "--input", str(bare), "--output-dir", str(tmp_path / "b")]) == 0
    assert "no labels in the input" in capsys.readouterr().out
    odd = _write_jsonl(tmp_path / "odd.jsonl", [{"text": POS, "label": "mid"}])
    assert cli.main([*common, "--input", str(odd)]) == 1
    assert "odd.jsonl:1: label 'mid' is not in the verbalizer (pos, neg)" in capsys.readouterr().err


def test_fewclue_preset_brings_its_prompts_and_labelled_test(tiny_dir, tmp_path, capsys):
    from chinese_ptm import cli

    folder = tmp_path / "FewCLUE" / "eprstmt"
    folder.mkdir(parents=True)
    rows = [
        {"id": i, "sentence": POS if i % 2 else NEG, "label": "Positive" if i % 2 else "Negative"} for i in range(6)
    ]
    for name in ("train_few_all.json", "dev_few_all.json", "test_public.json"):
        _write_jsonl(folder / name, rows)
    assert (
        cli.main(
            [
                "prompt",
                str(tiny_dir),
                "--preset",
                "fewclue:eprstmt",
                "--data-dir",
                str(folder.parent),
                "--output-dir",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    results = json.loads((tmp_path / "out" / "zero_shot.json").read_text())
    assert set(results["labelled"]) == {"dev", "test"} and len(results["templates"]) == 3
    assert results["labels"] == ["Positive", "Negative"]


def test_a_bare_no_on_the_command_line_is_the_strategy_no():
    from chinese_ptm.finetune.config import build_config
    from chinese_ptm.runtime.config import apply_overrides

    layer = apply_overrides(
        {},
        {"task.preset": "reviews", "model.path": "m", "training.eval_strategy": "no", "training.save_strategy": "no"},
    )
    config = build_config([layer])
    assert (config.training.eval_strategy, config.training.save_strategy) == ("no", "no")
