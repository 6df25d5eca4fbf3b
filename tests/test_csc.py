"""Chinese spelling correction: confusion sets, pair synthesis, SIGHAN pairs, the literature's metrics."""

from __future__ import annotations

import importlib.util

import pytest

from chinese_ptm.csc.data import PairsError, read_pairs
from chinese_ptm.csc.metrics import char_scores, csc_scores, sentence_scores

# --------------------------------------------------------------------------------------------------
# metrics, against counts done by hand


def test_sentence_level_scores_by_hand():
    sources = ["我在家里", "他再见了", "天气很好", "今天下雨", "你号吗啊"]
    targets = ["我在家里", "他再见了", "天气很好", "今天下雨", "你好吗啊"]
    targets[0] = "我再家里"  # wrong at 1
    sources[1], targets[1] = "他在见了", "他再见了"  # wrong at 1
    predictions = [
        "我再家里",  # exact correction: detection and correction TP
        "他载见了",  # right position, wrong character: detection TP only
        "天汽很好",  # gold negative changed: false alarm
        "今天下雨",  # gold negative left alone
        "你号吗呀",
    ]  # wrong position changed: neither
    s = sentence_scores(sources, predictions, targets)
    # predicted positives 4 (all but sentence 3), gold positives 3 (sentences 0, 1, 4)
    assert s["detection"]["precision"] == pytest.approx(50.0) and s["detection"]["recall"] == pytest.approx(200 / 3)
    assert s["correction"]["precision"] == pytest.approx(25.0) and s["correction"]["recall"] == pytest.approx(100 / 3)
    assert s["correction"]["f1"] == pytest.approx(2 * 0.25 * (1 / 3) / (0.25 + 1 / 3) * 100)
    assert s["false_positive_rate"] == pytest.approx(50.0)  # 1 of 2 gold negatives changed
    assert s["accuracy"] == pytest.approx(60.0)  # sentences 0, 1 (detection right) and 3
    c = char_scores(sources, predictions, targets)
    # changed positions: 0@1, 1@1, 2@1, 4@3 = 4; wrong positions: 0@1, 1@1, 4@1 = 3
    assert (c["changed"], c["wrong"]) == (4, 3)
    assert c["detection"]["precision"] == pytest.approx(50.0) and c["detection"]["recall"] == pytest.approx(200 / 3)
    assert c["correction"]["precision"] == pytest.approx(25.0) and c["correction"]["recall"] == pytest.approx(100 / 3)


def _lbl(source: str, text: str) -> list[tuple[int, str]]:
    """A SIGHAN .lbl line's content: 1-based positions where ``text`` differs from the source, with its characters."""
    return [(i + 1, c) for i, (s, c) in enumerate(zip(source, text)) if s != c]


def _realise_rules(sources, predictions, targets) -> dict:
    """The counting rules of ReaLiSe's metric_core.py, written out over .lbl items (positions with characters)."""
    n = len(sources)
    sent = {"det_tp": 0, "cor_tp": 0, "pred": 0, "gold": 0, "det_hit": 0, "cor_hit": 0}
    char = {"det_tp": 0, "det_fp": 0, "det_fn": 0, "cor_tp": 0, "cor_fp": 0, "cor_fn": 0}
    for source, prediction, target in zip(sources, predictions, targets):
        pred, targ = _lbl(source, prediction), _lbl(source, target)
        sent["gold"] += targ != []
        sent["pred"] += pred != []
        same_positions = [p for p, _ in pred] == [t for t, _ in targ]
        sent["det_hit"] += same_positions
        sent["det_tp"] += pred != [] and same_positions
        sent["cor_hit"] += pred == targ
        sent["cor_tp"] += pred != [] and pred == targ
        pred_d, targ_d = dict(pred), dict(targ)
        for x in set(pred_d) | set(targ_d):
            both = x in pred_d and x in targ_d
            char["det_tp"] += both
            char["det_fp"] += x in pred_d and x not in targ_d
            char["det_fn"] += x in targ_d and x not in pred_d
            char["cor_tp"] += both and pred_d[x] == targ_d[x]
            char["cor_fp"] += x in pred_d and not (both and pred_d[x] == targ_d[x])
            char["cor_fn"] += x in targ_d and not (both and pred_d[x] == targ_d[x])

    def f1(tp, predicted, gold):
        p, r = tp / predicted if predicted else 0.0, tp / gold if gold else 0.0
        return 100 * 2 * p * r / (p + r) if p + r else 0.0

    return {
        "sent_det_f1": f1(sent["det_tp"], sent["pred"], sent["gold"]),
        "sent_cor_f1": f1(sent["cor_tp"], sent["pred"], sent["gold"]),
        "sent_det_acc": 100 * sent["det_hit"] / n,
        "sent_cor_acc": 100 * sent["cor_hit"] / n,
        "char_det_f1": f1(char["det_tp"], char["det_tp"] + char["det_fp"], char["det_tp"] + char["det_fn"]),
        "char_cor_f1": f1(char["cor_tp"], char["cor_tp"] + char["cor_fp"], char["cor_tp"] + char["cor_fn"]),
    }


def test_scores_follow_realises_counting_rules_on_random_outputs():
    import random

    rng = random.Random(0)
    alphabet = "在再做作的地得己已末未"
    for _ in range(50):
        sources, predictions, targets = [], [], []
        for _ in range(rng.randint(1, 12)):
            target = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
            source = "".join(rng.choice(alphabet) if rng.random() < 0.2 else c for c in target)
            prediction = "".join(rng.choice(alphabet) if rng.random() < 0.2 else c for c in source)
            sources.append(source), predictions.append(prediction), targets.append(target)
        ours = csc_scores(sources, predictions, targets)
        theirs = _realise_rules(sources, predictions, targets)
        sentence, char = ours["sentence"], ours["char"]
        assert sentence["detection"]["f1"] == pytest.approx(theirs["sent_det_f1"])
        assert sentence["correction"]["f1"] == pytest.approx(theirs["sent_cor_f1"])
        assert sentence["accuracy"] == pytest.approx(theirs["sent_det_acc"])
        assert sentence["correction_accuracy"] == pytest.approx(theirs["sent_cor_acc"])
        assert char["detection"]["f1"] == pytest.approx(theirs["char_det_f1"])
        assert char["correction"]["f1"] == pytest.approx(theirs["char_cor_f1"])


def test_copying_the_input_scores_zero_and_perfect_output_scores_full():
    sources, targets = ["我在家", "天气好"], ["我再家", "天气好"]
    copy = csc_scores(sources, sources, targets)
    assert copy["score"] == 0.0 and copy["sentence"]["false_positive_rate"] == 0.0
    assert copy["sentence"]["accuracy"] == pytest.approx(50.0)
    perfect = csc_scores(sources, targets, targets)
    assert perfect["score"] == pytest.approx(100.0) and perfect["char"]["correction"]["f1"] == pytest.approx(100.0)
    with pytest.raises(ValueError, match="sentence 0: lengths"):
        csc_scores(["我在"], ["我在家"], ["我再"])


# --------------------------------------------------------------------------------------------------
# pairs files


def test_pairs_reader_skips_and_counts_bad_lines(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("我在家\t我再家\nno tab here\n\n长短\t长短不一\n\t空\n好的\t好的\tid-7\n", encoding="utf-8")
    pairs = read_pairs(path)
    assert pairs.wrong == ["我在家", "好的"] and pairs.correct == ["我再家", "好的"]
    assert sum(pairs.skipped.values()) == 4
    assert pairs.problems[0].startswith(f"{path}:2: no tab")
    assert any(p.startswith(f"{path}:4: sides of different length") and "2 vs 4" in p for p in pairs.problems)
    assert pairs.typos() == [("再", "在")]
    (tmp_path / "bad.tsv").write_text("no tab\n", encoding="utf-8")
    with pytest.raises(PairsError, match="bad.tsv: no usable"):
        read_pairs(tmp_path / "bad.tsv")
    with pytest.raises(PairsError, match="no such file"):
        read_pairs(tmp_path / "missing.tsv")


# --------------------------------------------------------------------------------------------------
# confusion sets and synthesis (the bundled vocabulary's tables: built once, about 10 s)


@pytest.fixture(scope="module")
def confusion():
    from chinese_ptm.csc.confusion import ConfusionSet

    return ConfusionSet()


def test_fuzzy_syllables():
    from chinese_ptm.csc.confusion import fuzzy_syllables, split_syllable

    valid = {"zhong", "zong", "zhang", "zhan", "lan", "nan", "lang", "xian", "xiang", "an", "ang"}
    assert split_syllable("zhong") == ("zh", "ong") and split_syllable("an") == ("", "an")
    assert set(fuzzy_syllables("zhan", valid)) == {"zhang"}  # "zan" is not in this valid set
    assert set(fuzzy_syllables("nan", valid)) == {"lan"}
    assert set(fuzzy_syllables("xian", valid)) == {"xiang"}  # ian <-> iang, never "xiang" from an <-> ang twice
    assert fuzzy_syllables("an", valid) == ["ang"]


def test_confusion_sets_hold_the_classic_typos(confusion):
    assert "再" in confusion["在"]["same_sound"]
    assert "已" in confusion["己"]["look_alike"]
    assert "未" in confusion["末"]["look_alike"]
    assert "作" in confusion["做"]["same_sound"]
    assert {"地", "得"} <= set(confusion["的"]["same_sound"])
    assert confusion.kind_of("在", "再") == "same_sound" and confusion.kind_of("在", "x") is None
    every = [c for chars in confusion["在"].values() for c in chars]
    assert "在" not in every and len(every) == len(set(every))  # each candidate once, never the character


def test_pycorrector_sets_merge_and_sighan_coverage(confusion):
    if importlib.util.find_spec("pycorrector") is None:
        pytest.skip("the csc extra (pycorrector's data files) is not installed")
    from chinese_ptm.csc.confusion import ConfusionSet, coverage, pycorrector_sets
    from chinese_ptm.csc.data import sighan15_test

    published = pycorrector_sets()
    assert "载" in published["在"]["same_sound"]
    test = sighan15_test()
    assert len(test) == 697 and sum(test.skipped.values()) == 10
    ours, theirs = coverage(test.typos(), confusion), coverage(test.typos(), published)
    merged = coverage(test.typos(), ConfusionSet(confusion.similarity, extra=published))
    assert ours["pairs"] == theirs["pairs"] == 445
    assert merged["covered"] >= max(ours["covered"], theirs["covered"])
    assert ours["coverage"] > 0.75  # the phonetic and look-alike kinds explain most real typos


def test_synthesis_is_deterministic_keeps_length_and_one_typo_per_word(confusion):
    from chinese_ptm.csc.synthesis import NoiseSettings, TypoSynthesizer
    from chinese_ptm.data.corpora import peoples_daily_lines

    lines = peoples_daily_lines(300, splits=("train",))
    synth = TypoSynthesizer(confusion)
    pairs = list(synth.pairs(lines))
    again = list(TypoSynthesizer(confusion, segmenter=synth.segmenter).pairs(lines[100:], start=100))
    assert pairs[100:] == again  # a line's typos depend on (seed, line number) only
    other_seed = list(TypoSynthesizer(confusion, NoiseSettings(seed=2), synth.segmenter).pairs(lines))
    assert other_seed != pairs
    changed = [(w, c) for w, c in pairs if w != c]
    assert all(len(w) == len(c) for w, c in pairs)
    assert 0.55 < len(changed) / len(pairs) < 0.85  # 30% left clean, a few without Chinese characters
    for wrong, correct in changed:
        words = synth.segmenter.segment(correct)
        for start, end in words:
            assert sum(a != b for a, b in zip(wrong[start:end], correct[start:end])) <= 1
    kinds = synth.stats
    total = kinds["phonetic"] + kinds["look_alike"] + kinds["random"]
    assert 0.6 < kinds["phonetic"] / total < 0.8 and kinds["random"] / total < 0.1


def test_correction_files_sighan_pairs_and_json_lines(tmp_path):
    """A correction task reads SIGHAN-style pairs (no header) and JSON lines; pairs of another length are skipped
    and counted, not fatal."""
    from chinese_ptm.finetune.config import TaskSection
    from chinese_ptm.finetune.files import load_file_task

    pairs = tmp_path / "train.tsv"
    pairs.write_text("我再家\t我在家\n短\t短了\n他在上海\t他在上海\n", encoding="utf-8")
    rows = tmp_path / "dev.jsonl"
    rows.write_text('{"text": "我再家", "label": "我在家"}\n{"text": "好", "label": "好的"}\n', encoding="utf-8")
    task = load_file_task(TaskSection(kind="correction", train=str(pairs), dev=str(rows), test=str(pairs)))
    train, dev = task.splits["train"], task.splits["dev"]
    assert task.splits["test"].labelled and len(task.splits["test"].examples) == 2  # a headerless test split too
    assert [(e.text, e.target) for e in train.examples] == [("我再家", "我在家"), ("他在上海", "他在上海")]
    assert sum(train.skipped.values()) == 1 and sum(dev.skipped.values()) == 1
    assert [(e.text, e.target) for e in dev.examples] == [("我再家", "我在家")]
    assert task.metric == "correction_f1"


def test_corrections_decode_per_character_and_gate_on_detection():
    import numpy as np

    from chinese_ptm.csc.kind import decode_corrections
    from chinese_ptm.finetune.examples import CorrectionExample
    from chinese_ptm.finetune.features import Encoded

    encoded = Encoded(
        owners=[0],
        first_tokens=[np.array([1, 2, 3])],
        vocab=["[CLS]", "我", "在", "再", "家", "##x", "[UNK]"],
        unk_id=6,
    )
    example = [CorrectionExample(0, "我再家", None)]
    ids = np.array([[0, 1, 2, 4, -100]])  # [CLS] 我 在 家: the model puts 在 for 再
    assert decode_corrections(ids, encoded, example) == ["我在家"]
    assert decode_corrections(ids, encoded, example, np.array([[0, 0.1, 0.2, 0.1, 0]]), 0.5) == ["我再家"]
    assert decode_corrections(ids, encoded, example, np.array([[0, 0.1, 0.9, 0.1, 0]]), 0.5) == ["我在家"]
    sub_word = np.array([[0, 1, 5, 4, -100]])  # a sub-word or [UNK] never replaces a character
    assert decode_corrections(sub_word, encoded, example) == ["我再家"]


@pytest.mark.slow
def test_finetune_csc_then_correct_as_a_user(tmp_path, capsys):
    """``finetune csc`` on synthesised pairs (a tiny random model, a few steps), tested on SIGHAN 2015 next to the
    copy baseline's definitions; the saved model corrects texts from the command line and from Python."""
    if importlib.util.find_spec("pycorrector") is None:
        pytest.skip("the csc extra (pycorrector's data files) is not installed")
    import json

    from conftest import save_tiny_glycebert

    from chinese_ptm.cli import main
    from chinese_ptm.csc import SpellingCorrector
    from chinese_ptm.text.tokenization import load_tokenizer

    tokens = load_tokenizer().convert_ids_to_tokens(list(range(3000)))  # the bundled vocabulary's first ids
    model = save_tiny_glycebert(tmp_path / "base", tokens, positions=64)
    real = tmp_path / "real.tsv"
    real.write_text("我再家\t我在家\n", encoding="utf-8")
    out = tmp_path / "csc"
    assert (
        main(
            [
                "finetune",
                "csc",
                "--recipe",
                "csc-tiny",
                "--model",
                str(model),
                "--output-dir",
                str(out),
                "--real-pairs",
                str(real),
                "--max-steps",
                "2",
                "--no-progress",
                "--set",
                "task.typo_pairs=32",
            ]
        )
        == 0
    )
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["examples"] == {"train": 33, "dev": 1000, "test": 697}  # 32 synthesised + 1 real pair
    levels, tasks, figures = ("", "char_"), ("detection", "correction"), ("precision", "recall", "f1")
    every = {f"{level}{task}_{figure}" for level in levels for task in tasks for figure in figures}
    assert every | {"false_positive_rate", "sentence_accuracy"} <= set(results["test"])
    rows = [json.loads(x) for x in (out / "predictions_test.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 697 and all({"text", "changes"} <= set(r) for r in rows)
    corrector = SpellingCorrector(out / "model", threshold=0.0)  # every predicted change goes through
    results = corrector(["我再家", ""])
    from conftest import differences_across_threads

    from chinese_ptm.csc.data import sighan15_test

    texts = sighan15_test().wrong[:48]  # one corrector shared by 8 threads: what one thread gives
    assert differences_across_threads(lambda t: corrector(t).corrected, texts) == 0
    assert [len(r.corrected) for r in results] == [3, 0] and results[1].changes == []
    for change in results[0].changes:
        assert results[0].text[change.position] == change.typed != change.corrected
    capsys.readouterr()
    assert main(["correct", str(out / "model"), "我再家", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["text"] == "我再家" and len(printed["corrected"]) == 3
    predicted = tmp_path / "predicted.jsonl"  # the README's pairs format, headerless, as predict's input
    assert main(["predict", "--model", str(out / "model"), "--input", str(real), "--output", str(predicted)]) == 0
    assert len(json.loads(predicted.read_text(encoding="utf-8"))["text"]) == 3
    assert "correction_f1" in capsys.readouterr().err  # the pairs carry the corrections: scored
    assert main(["correct", str(model), "我再家"]) == 1  # a pretrained checkpoint is not a correction model
    assert "chinese-ptm correct: error:" in capsys.readouterr().err


@pytest.mark.parametrize("architecture", ["glycebert", "bert"])
def test_correction_heads_start_from_the_mlm_head_and_load_through_their_auto_class(architecture, tmp_path):
    import torch
    from transformers import BertConfig, BertForMaskedLM

    from chinese_ptm.modeling import AutoModelForSpellingCorrection, GlyceBertConfig, GlyceBertForMaskedLM

    dims = dict(vocab_size=60, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    torch.manual_seed(0)
    mlm = (
        GlyceBertForMaskedLM(GlyceBertConfig(**dims, use_glyph=False))
        if architecture == "glycebert"
        else BertForMaskedLM(BertConfig(**dims))
    ).eval()
    mlm.save_pretrained(tmp_path / "mlm")
    corrector = AutoModelForSpellingCorrection.from_pretrained(tmp_path / "mlm").eval()
    assert (
        type(corrector).__name__ == ("GlyceBert" if architecture == "glycebert" else "Bert") + "ForSpellingCorrection"
    )
    ids = torch.randint(5, 60, (2, 9))
    pinyin = {"pinyin_ids": torch.zeros(2, 9, 8, dtype=torch.long)} if architecture == "glycebert" else {}
    out = corrector(input_ids=ids, **pinyin)
    assert torch.allclose(out.logits, mlm(input_ids=ids, **pinyin).logits, atol=1e-5)  # the MLM head, unchanged
    assert out.detection_logits.shape == (2, 9) and out.loss is None
    labels = ids.clone()
    labels[0, 3] = 7  # one wrong position
    labels[:, 0] = -100
    with_detection = corrector(input_ids=ids, labels=labels, **pinyin).loss
    corrector.config.detection_loss_weight = 0.0
    without = corrector(input_ids=ids, labels=labels, **pinyin).loss
    assert with_detection > without > 0
    corrector.save_pretrained(tmp_path / "csc")
    again = AutoModelForSpellingCorrection.from_pretrained(tmp_path / "csc").eval()
    assert torch.allclose(again(input_ids=ids, **pinyin).detection_logits, out.detection_logits, atol=1e-6)
