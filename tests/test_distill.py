"""Distillation on the fine-tuning runtime: a fine-tuned teacher, students from its layers, at another size or from
a checkpoint; the losses; the saved student predicts; bad settings in one line."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import save_tiny_glycebert

from chinese_ptm.cli import main
from chinese_ptm.errors import UserError

TEXTS = ["这家店的菜很好吃", "服务太差了不会再来", "今天天气很好", "我们明天去公园", "北京是中国的首都", "他在上海工作"]
SPECIALS = ["[PAD]"] + [f"[unused{i}]" for i in range(1, 100)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def rows(n: int) -> list[dict]:
    return [{"text": TEXTS[i % 6], "label": "pos" if i % 2 == 0 else "neg"} for i in range(n)]


def write(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """A tiny GlyceBERT (2 layers) fine-tuned on a sentiment file: the teacher, and the files."""
    folder = tmp_path_factory.mktemp("distill")
    tokens = SPECIALS + sorted(set("".join(TEXTS)))
    base = save_tiny_glycebert(folder / "base", tokens, positions=64)
    files = {"train": write(folder / "train.jsonl", rows(12)), "dev": write(folder / "dev.jsonl", rows(6))}
    argv = ["finetune", "data", "--task", "single", "--train", str(files["train"]), "--dev", str(files["dev"])]
    argv += ["--model", str(base), "--output-dir", str(folder / "teacher"), "--no-progress"]
    assert main([*argv, "--set", "training.num_train_epochs=2", "--set", "training.learning_rate=1e-3"]) == 0
    return folder / "teacher" / "model", files, base


def distill(teacher_dir, files, out, student="teacher", *sets):
    argv = ["distill", "--teacher", str(teacher_dir), "--student", student, "--task", "single"]
    argv += ["--train", str(files["train"]), "--dev", str(files["dev"]), "--test", str(files["dev"])]
    argv += ["--output-dir", str(out), "--no-progress", "--set", "training.num_train_epochs=1"]
    for item in sets:
        argv += ["--set", item]
    return main(argv)


def test_a_student_from_every_other_teacher_layer_is_saved_alone_and_predicts(teacher, tmp_path):
    from chinese_ptm.modeling import GlyceBertForSequenceClassification

    teacher_dir, files, _ = teacher
    assert distill(teacher_dir, files, tmp_path / "s", "teacher", "distill.student_layers=1") == 0
    saved = tmp_path / "s" / "model"
    student = GlyceBertForSequenceClassification.from_pretrained(saved)
    assert student.config.num_hidden_layers == 1
    record = json.loads((saved / "task.json").read_text(encoding="utf-8"))
    assert record["format"] == "standard" and record["checkpoint_kind"] == "glycebert"
    out = tmp_path / "p.jsonl"
    assert main(["predict", "--model", str(saved), "--input", str(files["dev"]), "--output", str(out)]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 6


def test_students_from_the_teacher_keep_the_chosen_layers(teacher):
    from chinese_ptm.distill.build import from_teacher_layers
    from chinese_ptm.finetune.predict import load_task_model

    model = load_task_model(teacher[0])[0]
    layer = model.bert.encoder.layer
    first, every = from_teacher_layers(model, 1, "first"), from_teacher_layers(model, 1, "every")
    assert torch.equal(first.bert.encoder.layer[0].output.dense.weight, layer[0].output.dense.weight)
    assert torch.equal(every.bert.encoder.layer[0].output.dense.weight, layer[1].output.dense.weight)
    assert torch.equal(every.classifier.weight, model.classifier.weight)
    random = from_teacher_layers(model, 1, "random")
    assert not torch.equal(random.bert.encoder.layer[0].output.dense.weight, layer[0].output.dense.weight)
    assert torch.equal(  # glyph bitmaps are input data: kept
        random.bert.embeddings.glyph_embeddings.embedding.weight,
        model.bert.embeddings.glyph_embeddings.embedding.weight,
    )


@pytest.fixture(scope="module")
def mean_teacher(teacher, tmp_path_factory):
    """The same base fine-tuned with mean pooling over a scalar mix of the layers (saved as task_model)."""
    _, files, base = teacher
    out = tmp_path_factory.mktemp("mean") / "teacher"
    argv = ["finetune", "data", "--task", "single", "--train", str(files["train"]), "--dev", str(files["dev"])]
    argv += ["--model", str(base), "--output-dir", str(out), "--no-progress", "--set", "training.num_train_epochs=1"]
    assert main([*argv, "--set", "method.pooling=mean", "--set", "method.layers=scalar_mix"]) == 0
    return out / "model"


def test_a_teacher_with_its_own_pooling_teaches_students_that_pool_alike(teacher, mean_teacher, tmp_path):
    """A teacher fine-tuned with mean pooling (our head, not transformers'): a student of its layers (with the
    hidden-state and attention losses) and one at another size keep its layers and pooling, are saved as such and
    predict."""
    from chinese_ptm.distill.build import from_teacher_layers
    from chinese_ptm.finetune.model import TaskModel
    from chinese_ptm.finetune.predict import load_task_model

    _, files, _ = teacher
    model = load_task_model(mean_teacher)[0]
    every = from_teacher_layers(model, 1, "every")
    assert isinstance(every, TaskModel) and every.representation == model.representation
    assert torch.equal(every.bert.encoder.layer[0].output.dense.weight, model.bert.encoder.layer[1].output.dense.weight)
    assert torch.equal(every.mix.weights, model.mix.weights[[0, 2]])  # the embedding output's, the kept layer's
    sets = ["distill.student_layers=1", "distill.hidden_weight=1", "distill.attention_weight=1"]
    for student, extra in (("teacher", [*sets, "method.pooling=mean"]), ("tiny", [])):
        out = tmp_path / student
        assert distill(mean_teacher, files, out, student, *extra) == 0
        record = json.loads((out / "model" / "task.json").read_text(encoding="utf-8"))
        assert record["format"] == "task_model"
        assert (record["method"]["pooling"], record["method"]["layers"]) == ("mean", "scalar_mix")
        saved = load_task_model(out / "model")[0]
        assert saved.config.num_hidden_layers == (1 if student == "teacher" else 2)
        predictions = tmp_path / f"{student}.jsonl"
        argv = ["predict", "--model", str(out / "model"), "--input", str(files["dev"]), "--output", str(predictions)]
        assert main(argv) == 0
        assert len(predictions.read_text(encoding="utf-8").splitlines()) == 6


def test_a_task_model_returns_the_encoders_states_and_attentions_when_asked(mean_teacher):
    from chinese_ptm.finetune.predict import load_task_model

    model = load_task_model(mean_teacher)[0]
    model.bert.set_attn_implementation("eager")
    batch = {"input_ids": torch.tensor([[101, 105, 106, 102]]), "pinyin_ids": torch.zeros(1, 4, 8, dtype=torch.long)}
    plain = model(**batch)
    assert plain.hidden_states is None and plain.attentions is None
    out = model(**batch, output_hidden_states=True, output_attentions=True)
    assert len(out.hidden_states) == 3 and len(out.attentions) == 2 and out.attentions[0].shape[-1] == 4
    assert torch.allclose(out.logits, plain.logits)
    assert model(**batch).hidden_states is None  # asked for one call only


def test_the_losses_are_the_weighted_sum_the_settings_say(teacher):
    from chinese_ptm.distill.model import DistillationModel
    from chinese_ptm.finetune.predict import load_task_model

    model = load_task_model(teacher[0])[0]
    student = load_task_model(teacher[0])[0]
    torch.manual_seed(0)
    with torch.no_grad():
        for p in student.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    for module in student.modules():  # training mode without dropout: the loss is comparable with eval outputs
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    settings = SimpleNamespace(
        temperature=2.0,
        temperature_final=None,
        soft_weight=1.0,
        hard_weight=0.0,
        hidden_weight=0.0,
        attention_weight=0.0,
        embedding_weight=0.0,
    )
    wrapper = DistillationModel(student, [model], settings, [], (True, [True])).train()
    batch = {
        "input_ids": torch.tensor([[101, 105, 106, 102]]),
        "attention_mask": torch.ones(1, 4, dtype=torch.long),
        "token_type_ids": torch.zeros(1, 4, dtype=torch.long),
        "pinyin_ids": torch.zeros(1, 4, 8, dtype=torch.long),
        "labels": torch.tensor([1]),
    }
    soft = wrapper(**batch).loss
    s_logits, t_logits = student.eval()(**batch).logits, model(**batch).logits
    student.train()
    expected = -(torch.softmax(t_logits / 2, -1) * torch.log_softmax(s_logits / 2, -1)).sum() * 4
    assert torch.allclose(soft, expected, atol=1e-3)  # train and eval paths sum floats in another order
    settings.hard_weight = 0.5
    assert torch.allclose(
        wrapper(**batch).loss, expected + 0.5 * torch.nn.functional.cross_entropy(s_logits, batch["labels"]), atol=1e-3
    )
    cached = wrapper(**batch, teacher_logits_0=t_logits.detach()).loss  # cached logits give the same loss
    assert torch.allclose(cached, wrapper(**batch).loss, atol=1e-3)
    settings.temperature_final, wrapper.progress = 1.0, 1.0
    assert wrapper.temperature() == 1.0
    assert wrapper.eval()(**batch).logits.shape == (1, 2)  # evaluation: the student alone


def test_intermediate_layers_at_another_width(teacher, tmp_path):
    teacher_dir, files, _ = teacher
    sets = ["distill.hidden_weight=1", "distill.attention_weight=1", "distill.embedding_weight=1"]
    assert distill(teacher_dir, files, tmp_path / "w", "teacher", "distill.student_layers=1", *sets) == 0
    from chinese_ptm.distill.build import layer_pairs

    assert layer_pairs("uniform", 2, 4, True) == [(0, 0), (1, 2), (2, 4)]
    assert layer_pairs("last", 2, 4, False) == [(1, 3), (2, 4)]
    assert layer_pairs("1:1,2:3", 2, 4, False) == [(1, 1), (2, 3)]


def test_bad_settings_are_one_line(teacher, tmp_path, capsys):
    from chinese_ptm.distill.build import layer_pairs

    teacher_dir, files, base = teacher
    with pytest.raises(UserError, match="the student has layers 1-2, the teacher 1-4"):
        layer_pairs("1:5", 2, 4, False)
    assert distill(teacher_dir, files, tmp_path / "t", "teacher", "distill.temperature=0") == 1
    assert "distill.temperature=0" in capsys.readouterr().err
    assert distill(teacher_dir, files, tmp_path / "l", "teacher", "method.peft=lora") == 1
    assert "distill trains the whole model" in capsys.readouterr().err
    # a student made of a pooler teacher cannot pool otherwise: refused, not silently dropped
    assert distill(teacher_dir, files, tmp_path / "p", "teacher", "method.pooling=mean") == 1
    assert "method.pooling=mean: a student made of the teacher" in capsys.readouterr().err
    other = save_tiny_glycebert(tmp_path / "other", SPECIALS + list("别的字"), positions=64)
    assert distill(teacher_dir, files, tmp_path / "v", str(other)) == 1
    assert "read different vocabularies" in capsys.readouterr().err


def test_a_glycebert_teacher_teaches_a_bert_student(teacher, tmp_path):
    """Across families: the student reads the teacher's tokens without pinyin; saved as BERT, predicted as BERT."""
    from transformers import BertConfig, BertForMaskedLM

    teacher_dir, files, base = teacher
    student_dir = tmp_path / "bert"
    vocab = (base / "vocab.txt").read_text(encoding="utf-8")
    config = BertConfig(
        vocab_size=len(vocab.splitlines()),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    BertForMaskedLM(config).save_pretrained(student_dir)
    (student_dir / "vocab.txt").write_text(vocab, encoding="utf-8")
    assert distill(teacher_dir, files, tmp_path / "x", str(student_dir)) == 0
    record = json.loads((tmp_path / "x" / "model" / "task.json").read_text(encoding="utf-8"))
    assert record["checkpoint_kind"] == "bert" and record["pinyin"] is False
    out = tmp_path / "p.jsonl"
    assert (
        main(["predict", "--model", str(tmp_path / "x" / "model"), "--input", str(files["dev"]), "--output", str(out)])
        == 0
    )


@pytest.mark.slow
def test_general_distillation_on_the_pretraining_corpus(tmp_path):
    """TinyBERT's first stage through the pretraining runner: a one-layer student of a pretrained two-layer
    teacher learns its MLM distribution and hidden states; the student is saved as a checkpoint of its own."""
    from chinese_ptm.data.corpora import peoples_daily_lines
    from chinese_ptm.distill.general import run_general
    from chinese_ptm.modeling import GlyceBertForMaskedLM
    from chinese_ptm.pretrain.recipe import load_recipe
    from chinese_ptm.pretrain.runner import run

    corpus = tmp_path / "news.txt"
    corpus.write_text("\n".join(peoples_daily_lines(200)) + "\n", encoding="utf-8")
    common = {
        "data.train_files": [str(corpus)],
        "data.line_is_document": True,
        "data.eval_records": 8,
        "training.max_steps": 3,
        "training.global_batch_size": 8,
        "training.micro_batch_size": 8,
        "training.report_to": "none",
        "training.logging_steps": 1,
    }
    teacher = run(load_recipe("chinesebert-tiny", {**common, "output_dir": str(tmp_path / "teacher")}))[-1]
    sets = {"distill.student_layers": 1, "distill.hidden_weight": 1.0, "distill.attention_weight": 1.0}
    out = tmp_path / "student"
    report = run_general(
        "chinesebert-tiny", teacher["final_checkpoint"], "teacher", {**common, **sets, "output_dir": str(out)}
    )[-1]
    assert report["steps"] == 3 and 0 <= report["heldout_mlm_accuracy"] <= 1
    student = GlyceBertForMaskedLM.from_pretrained(report["final_checkpoint"])
    assert student.config.num_hidden_layers == 1
    with pytest.raises(UserError, match="a temperature must be > 0"):
        run_general("chinesebert-tiny", teacher["final_checkpoint"], "teacher", {**common, "distill.temperature": 0})


def test_parameter_counts_leave_the_teachers_out():
    """results.json's parameters are the student's: the distillation model holds its teachers beside it."""
    from torch import nn

    from chinese_ptm.finetune.model import count_parameters
    from chinese_ptm.finetune.strategies import WithFixedModels

    class Pair(WithFixedModels):
        fixed_prefixes = ("teachers.",)

        def __init__(self):
            super().__init__()
            self.student, self.teachers = nn.Linear(4, 2), nn.ModuleList([nn.Linear(4, 100)])

    assert count_parameters(Pair()) == (10, 10)
    assert count_parameters(nn.Linear(4, 2)) == (10, 10)
