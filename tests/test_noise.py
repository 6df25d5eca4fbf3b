"""Test-time noise for `chinese-ptm evaluate --noise`: typed-wrong characters from the confusion sets, offsets
kept, seeded; the rare-character subset; both scored beside the clean test set."""

from __future__ import annotations

import json

import pytest

from chinese_ptm.csc.confusion import PHONETIC
from chinese_ptm.csc.noise import NoiseSpec, TestNoise, rare_split, unknown_split
from chinese_ptm.errors import SettingsError
from chinese_ptm.finetune.examples import ClassificationExample, Split, TaggingExample
from chinese_ptm.finetune.task import CLASSIFICATION, TaskData


def test_spec_parses_and_names_what_is_wrong():
    spec = NoiseSpec.parse("phonetic:0.1, visual:0.05")
    assert spec.shares == {"phonetic": 0.1, "visual": 0.05} and str(spec) == "phonetic:0.1,visual:0.05"
    for bad, message in [
        ("sound:0.1", "the kinds are phonetic, visual"),
        ("phonetic:x", "give a share after the colon"),
        ("phonetic:1.5", "between 0 and 1"),
        ("phonetic:0.6,visual:0.5", "sum below 1"),
        ("", "name one or more kinds"),
    ]:
        with pytest.raises(SettingsError, match=message):
            NoiseSpec.parse(bad)


@pytest.fixture(scope="module")
def typist():
    return TestNoise(NoiseSpec.parse("phonetic:0.3,visual:0.2"), seed=7)


def test_noise_replaces_chinese_characters_one_for_one_from_the_confusion_sets(typist):
    text = "我们在北京的银行里了解情况，ABC 2024年。"
    split = Split("test", [], [TaggingExample(0, text, [("LOC", 3, 4)])])
    noisy = typist.split(split, "test_noisy").examples[0]
    assert len(noisy.text) == len(text) and noisy.entities == [("LOC", 3, 4)]  # spans keep their offsets
    changed = [(a, b) for a, b in zip(text, noisy.text) if a != b]
    assert changed, "half the characters drawn, none replaced"
    for right, wrong in changed:
        kind = typist.confusion.kind_of(right, wrong)
        assert kind in PHONETIC + ("look_alike",), (right, wrong)
    assert noisy.text[text.index("ABC") :].startswith("ABC 2024")  # only Chinese characters change
    again = typist.split(split, "test_noisy").examples[0]
    assert again.text == noisy.text  # seeded per example


def test_noise_share_is_about_what_was_asked():
    from chinese_ptm.data.corpora import peoples_daily_lines

    noise = TestNoise(NoiseSpec.parse("phonetic:0.1"), seed=1)
    lines = peoples_daily_lines(limit=200)
    split = Split("test", [], [ClassificationExample(i, t, None, 0) for i, t in enumerate(lines)])
    noisy = noise.split(split, "test_noisy")
    report = noise.report()
    assert report["replaced"].keys() == {"phonetic"}
    assert 0.08 <= report["replaced_share"] <= 0.11  # 10% drawn, a few characters without a confusion
    assert all(len(a.text_a) == len(b.text_a) for a, b in zip(split.examples, noisy.examples))


def test_rare_split_keeps_the_examples_with_a_character_rare_in_training():
    train = [ClassificationExample(i, "我们喜欢北京", None, 0) for i in range(3)]
    test = [
        ClassificationExample("a", "我们喜欢北京", None, 0),
        ClassificationExample("b", "我们喜欢殚精竭虑", None, 1),
    ]
    task = TaskData(
        "t",
        CLASSIFICATION,
        ("n", "p"),
        "accuracy",
        {"train": Split("train", [], train), "test": Split("test", [], test)},
    )
    rare = rare_split(task)
    assert [e.uid for e in rare.examples] == ["b"] and rare.name == "test_rare"
    unknown = unknown_split(task, set("我们喜欢北京殚精竭"))  # 虑 is outside this vocabulary
    assert [e.uid for e in unknown.examples] == ["b"] and unknown.name == "test_unk"
    assert unknown_split(task, set("我们喜欢北京殚精竭虑")).examples == []


@pytest.mark.slow
def test_evaluate_scores_the_noisy_and_rare_test_sets_beside_the_clean_one(tmp_path, capsys):
    """`chinese-ptm evaluate --noise` as a user runs it, on the reviews task with a tiny model with open glyphs:
    both arms and the baselines on clean, noisy, rare and out-of-vocabulary test examples."""
    from conftest import save_tiny_glycebert

    from chinese_ptm.cli import main
    from chinese_ptm.resources import vocab_dir
    from chinese_ptm.text.vocab import read_vocab_tokens

    # a vocabulary without 酒 (hotel reviews: 酒店) and a model that draws it in its own glyph
    tokens = [t for t in read_vocab_tokens(vocab_dir()) if t != "酒"]
    model = save_tiny_glycebert(tmp_path / "model", tokens, positions=64, open_glyphs=True)
    argv = [
        "evaluate",
        str(model),
        "--tasks",
        "reviews",
        "--noise",
        "phonetic:0.1,visual:0.05",
        "--output-dir",
        str(tmp_path / "eval"),
        "--no-progress",
        "--set",
        "task.limit=120",
        "--set",
        "task.max_train_examples=60",
        "--set",
        "task.max_length=48",
        "--set",
        "training.num_train_epochs=1",
        "--set",
        "training.per_device_train_batch_size=16",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "noisy (120)" in out and "rare (" in out
    (row,) = json.loads((tmp_path / "eval" / "evaluation.json").read_text(encoding="utf-8"))["tasks"]
    assert {"accuracy", "macro_f1"} <= set(row["pretrained"]["figures"]) <= set(row["pretrained"]["figures_std"])
    noisy = row["variants"]["test_noisy"]
    assert noisy["examples"] == 120 and {"pretrained", "scratch", "difference"} <= set(noisy)
    assert "naive Bayes (chars + bigrams)" in noisy["baselines"]
    assert row["noise"]["spec"] == "phonetic:0.1,visual:0.05" and 0.1 <= row["noise"]["replaced_share"] <= 0.2
    assert 0 < row["variants"]["test_rare"]["examples"] < 120
    unk = row["variants"]["test_unk"]
    assert 0 < unk["examples"] < 120 and {"pretrained", "scratch"} <= set(unk)
    assert main([*argv[:4], "--noise", "tone:0.1"]) == 1
    assert "--noise 'tone:0.1'" in capsys.readouterr().err
