"""Fine-tuning on the user's own data and the embedded tasks: readers and their errors, every task kind end to
end, seeds, strategies (what trains and at which rate), LoRA and adapters saved small and reloaded to the same
logits, predict, multi-task and two-stage runs. Tiny random GlyceBERT and BERT checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import save_tiny_glycebert

from chinese_ptm.cli import main
from chinese_ptm.finetune.config import TaskSection, build_config
from chinese_ptm.finetune.examples import DataError
from chinese_ptm.finetune.files import load_file_task
from chinese_ptm.runtime.config import apply_overrides

TEXTS = [
    "北京是中国的首都",
    "我喜欢吃北京烤鸭",
    "今天天气很好",
    "银行行长了解情况",
    "他在上海工作",
    "我们明天去公园",
    "这家店的菜很好吃",
    "服务太差了不会再来",
]
CHARS = "".join(sorted(set("".join(TEXTS) + "好差的是不和他们在上海北京中国人小明")))
SPECIALS = ["[PAD]"] + [f"[unused{i}]" for i in range(1, 100)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def sentiment_rows(n: int = 8, offset: int = 0) -> list[dict]:
    return [{"text": TEXTS[(i + offset) % 8], "label": "pos" if (i + offset) % 2 else "neg"} for i in range(n)]


@pytest.fixture(scope="module")
def glycebert_dir(tmp_path_factory) -> Path:
    tokens = SPECIALS + list(dict.fromkeys("，。_[]|abc0123456789" + CHARS))
    return save_tiny_glycebert(tmp_path_factory.mktemp("glycebert"), tokens, positions=64)


@pytest.fixture(scope="module")
def sentiment_files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("sentiment")
    return {
        "train": write_rows(d / "train.jsonl", sentiment_rows(16)),
        "dev": write_rows(d / "dev.jsonl", sentiment_rows(6, 1)),
        "test": write_rows(d / "test.jsonl", [{"id": f"t{i}", "text": t} for i, t in enumerate(TEXTS[:5])]),
    }


def settings(**values) -> TaskSection:
    return TaskSection(**values)


def run_data(model: Path, files: dict, out: Path, kind: str = "single", *extra: str) -> int:
    argv = [
        "data",
        "--task",
        kind,
        "--train",
        str(files["train"]),
        "--dev",
        str(files["dev"]),
        "--model",
        str(model),
        "--output-dir",
        str(out),
        "--no-progress",
        "--set",
        "training.per_device_train_batch_size=4",
        "--set",
        "training.num_train_epochs=2",
        "--set",
        "training.learning_rate=1e-3",
    ]
    if files.get("test"):
        argv += ["--test", str(files["test"])]
    return main(["finetune", *argv, *extra])


# --------------------------------------------------------------------------------------------------
# readers


def test_labels_come_from_the_training_file_and_every_format_reads(tmp_path):
    rows = sentiment_rows(6)
    write_rows(tmp_path / "train.jsonl", rows)
    (tmp_path / "train.csv").write_text(
        "text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in rows), encoding="utf-8"
    )
    (tmp_path / "train.tsv").write_text(
        "text\tlabel\n" + "".join(f"{r['text']}\t{r['label']}\n" for r in rows), encoding="utf-8"
    )
    write_rows(tmp_path / "test.jsonl", [{"text": "北京"}])
    for name in ("train.jsonl", "train.csv", "train.tsv"):
        task = load_file_task(
            settings(
                kind="single",
                train=str(tmp_path / name),
                dev=str(tmp_path / "train.jsonl"),
                test=str(tmp_path / "test.jsonl"),
            )
        )
        assert task.labels == ("neg", "pos") and [e.label for e in task.splits["train"].examples] == [0, 1, 0, 1, 0, 1]
        assert not task.splits["test"].labelled and task.splits["test"].examples[0].label is None


@pytest.mark.parametrize(
    "rows, message",
    [
        (
            [{"text": "北京", "label": "pos"}, {"text": "北京", "label": "neutral"}],
            r"dev.jsonl:2: field 'label': unknown label 'neutral'",
        ),
        ([{"label": "pos"}], r"dev.jsonl:1: missing field 'text'"),
        ([{"text": "  ", "label": "pos"}], r"dev.jsonl:1: field 'text' is empty"),
    ],
)
def test_dev_errors_name_file_line_and_field(tmp_path, rows, message):
    write_rows(tmp_path / "train.jsonl", sentiment_rows(4))
    write_rows(tmp_path / "dev.jsonl", rows)
    with pytest.raises(DataError, match=message):
        load_file_task(settings(kind="single", train=str(tmp_path / "train.jsonl"), dev=str(tmp_path / "dev.jsonl")))


def test_more_bad_input(tmp_path):
    train = write_rows(tmp_path / "train.jsonl", [{"text": "北京", "label": 1}, {"text": "上海", "label": "1"}])
    with pytest.raises(
        DataError, match=r"train.jsonl:2: field 'label': mixed label types \(str here, int at .*train.jsonl:1\)"
    ):
        load_file_task(settings(kind="single", train=str(train), dev=str(train)))
    (tmp_path / "tabs.csv").write_text("text\tlabel\n北京\tpos\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"tabs.csv:1: the header is one column .* looks tab-separated"):
        load_file_task(settings(kind="single", train=str(tmp_path / "tabs.csv"), dev=str(tmp_path / "tabs.csv")))
    spans = write_rows(
        tmp_path / "ner.jsonl", [{"text": "小明在北京", "label": [{"start": 3, "end": 9, "type": "LOC"}]}]
    )
    with pytest.raises(DataError, match=r"ner.jsonl:1: field 'label\[0\]': span \[3, 8\] lies outside the text"):
        load_file_task(settings(kind="tagging", train=str(spans), dev=str(spans)))
    mixed = write_rows(tmp_path / "test.jsonl", [{"text": "北京", "label": "pos"}, {"text": "上海"}])
    good = write_rows(tmp_path / "good.jsonl", sentiment_rows(4))
    with pytest.raises(DataError, match=r"test.jsonl:2: missing field 'label' while .*test.jsonl:1 has one"):
        load_file_task(settings(kind="single", train=str(good), dev=str(good), test=str(mixed)))
    tags = write_rows(tmp_path / "tags.jsonl", [{"text": "小明", "label": ["B-PER"]}])
    with pytest.raises(DataError, match=r"1 tags for 2 characters"):
        load_file_task(settings(kind="tagging", train=str(tags), dev=str(tags)))


def test_tagging_from_bio_bioes_and_spans_agree(tmp_path):
    text = "小明在北京工作"
    bio = write_rows(
        tmp_path / "bio.jsonl", [{"text": text, "label": ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "O"]}]
    )
    bioes = write_rows(
        tmp_path / "bioes.jsonl", [{"text": text, "label": ["B-PER", "E-PER", "O", "B-LOC", "E-LOC", "O", "O"]}]
    )
    spans = write_rows(
        tmp_path / "spans.jsonl",
        [{"text": text, "label": [{"start": 0, "end": 2, "type": "PER", "text": "小明"}, [3, 5, "LOC"]]}],
    )
    (tmp_path / "bio.tsv").write_text("text\tlabel\n" + text + "\tB-PER I-PER O B-LOC I-LOC O O\n", encoding="utf-8")
    found = []
    for path in (bio, bioes, spans, tmp_path / "bio.tsv"):
        task = load_file_task(settings(kind="tagging", train=str(path), dev=str(path)))
        found.append((task.labels, task.splits["train"].examples[0].entities))
    assert all(f == (("LOC", "PER"), [("PER", 0, 1), ("LOC", 3, 4)]) for f in found)


def test_span_choice_regression_multilabel_readers(tmp_path):
    context = "北京是中国的首都"
    flat = write_rows(
        tmp_path / "qa.jsonl",
        [
            {
                "id": "q1",
                "context": context,
                "question": "首都是哪里",
                "answers": {"text": ["北京"], "answer_start": [0]},
            }
        ],
    )
    squad = tmp_path / "qa.json"
    squad.write_text(
        json.dumps(
            {
                "data": [
                    {
                        "paragraphs": [
                            {
                                "context": context,
                                "qas": [
                                    {
                                        "id": "q1",
                                        "question": "首都是哪里",
                                        "answers": [{"text": "北京", "answer_start": 0}],
                                    }
                                ],
                            }
                        ]
                    }
                ]
            },
            ensure_ascii=False,
        )
    )
    for path in (flat, squad):
        example = load_file_task(settings(kind="span", train=str(path), dev=str(path))).splits["train"].examples[0]
        assert (example.uid, example.answers, example.answer_start) == ("q1", ["北京"], 0)
    choice = write_rows(
        tmp_path / "mc.jsonl",
        [
            {"text": "他在上海工作", "question": "他在哪里", "choices": ["北京", "上海", "公园"], "label": "上海"},
            {"text": "今天天气很好", "choices": ["好", "差"], "label": 0},
        ],
    )
    task = load_file_task(settings(kind="choice", train=str(choice), dev=str(choice), text_pair_field="question"))
    assert task.num_choices == 3 and [e.label for e in task.splits["train"].examples] == [1, 0]
    assert task.splits["train"].examples[1].num_real == 2 and len(task.splits["train"].examples[1].pairs) == 3
    reg = write_rows(tmp_path / "reg.jsonl", [{"text": "北京", "label": 0.5}, {"text": "上海", "label": "2"}])
    assert [
        e.label
        for e in load_file_task(settings(kind="regression", train=str(reg), dev=str(reg))).splits["train"].examples
    ] == [0.5, 2.0]
    (tmp_path / "ml.csv").write_text("text,label\n北京,city|capital\n上海,city\n", encoding="utf-8")
    task = load_file_task(settings(kind="multilabel", train=str(tmp_path / "ml.csv"), dev=str(tmp_path / "ml.csv")))
    assert task.labels == ("city", "capital") and [e.label for e in task.splits["train"].examples] == [[0, 1], [0]]


def test_embedded_tasks_and_the_pretraining_corpus_leaves_evaluation_lines_out(tmp_path):
    from chinese_ptm.data import embedded_corpus_file
    from chinese_ptm.data.corpora import peoples_daily_split
    from chinese_ptm.finetune.embedded import ner_entities, ner_examples, review_examples

    reviews = review_examples()
    assert (len(reviews["test"]), len(reviews["dev"])) == (2000, 1000) and len(reviews["train"]) > 14000
    texts = {e.text_a: e.label for split in reviews.values() for e in split}
    assert len(texts) == sum(len(split) for split in reviews.values())  # distinct, no text with two labels
    text, entities = ner_entities([("江", "nr"), ("泽民", "nr"), ("在", "p"), ("北京", "ns"), ("新华社", "nt")])
    assert [(k, text[s : e + 1]) for k, s, e in entities] == [("PER", "江泽民"), ("LOC", "北京"), ("ORG", "新华社")]
    ner = ner_examples()
    held_out = {e.text for name in ("dev", "test") for e in ner[name]}
    assert len(ner["test"]) == 1900 and [peoples_daily_split(i) for i in (799, 850, 950, 1050)] == [
        "train",
        "dev",
        "test",
        "train",
    ]
    corpus = set(embedded_corpus_file(tmp_path).read_text(encoding="utf-8").splitlines())
    assert not (held_out - {e.text for e in ner["train"]}) & corpus
    assert {e.text_a for e in reviews["train"][:100]} <= corpus  # review texts read without their labels
    assert not {e.text_a for name in ("dev", "test") for e in reviews[name]} & corpus


# --------------------------------------------------------------------------------------------------
# end to end


@pytest.mark.slow
def test_finetune_data_with_seeds_best_checkpoint_predictions_and_predict(glycebert_dir, sentiment_files, tmp_path):
    out = tmp_path / "run"
    assert run_data(glycebert_dir, sentiment_files, out, "single", "--seeds", "1,2") == 0
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["seeds"] == [1, 2] and len(results["runs"]) == 2 and results["labels"] == ["neg", "pos"]
    assert results["score"] == pytest.approx(np.mean([r["dev"]["score"] for r in results["runs"]]))
    assert results["score_std"] == pytest.approx(np.std([r["dev"]["score"] for r in results["runs"]], ddof=1))
    assert all(r["epochs"] == 2 and r["best_checkpoint"] for r in results["runs"])  # evaluated every epoch
    assert results["test"] is None  # the test file has no labels: predictions only
    rows = [json.loads(x) for x in (out / "predictions_test.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [f"t{i}" for i in range(5)] and {r["label"] for r in rows} <= {"neg", "pos"}
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["id2label"] == {"0": "neg", "1": "pos"}
    from chinese_ptm.finetune.predict import predict

    predicted = predict(out / "model", sentiment_files["test"])
    best = out / f"seed-{results['best_seed']}"
    assert not (best / "trainer").exists()
    assert [r["label"] for r in predicted["predictions"]] == [r["label"] for r in rows]
    from conftest import differences_across_threads

    from chinese_ptm.finetune.examples import ClassificationExample, Split
    from chinese_ptm.finetune.predict import Predictor

    predictor = Predictor(out / "model")  # shared by 8 threads, each predicting its own texts
    splits = [
        Split("t", [], [ClassificationExample(i, t, None, None)], labelled=False) for i, t in enumerate(TEXTS * 4)
    ]
    assert differences_across_threads(lambda split: predictor.decoded(split), splits) == 0


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["pair", "regression", "multilabel", "tagging", "span", "choice", "correction"])
def test_every_task_kind_trains_and_predicts(kind, glycebert_dir, tmp_path):
    rows = {
        "pair": [{"text": a, "text_pair": b, "label": str(i % 2)} for i, (a, b) in enumerate(zip(TEXTS, TEXTS[1:]))],
        "regression": [{"text": t, "label": i / 4} for i, t in enumerate(TEXTS)],
        "multilabel": [{"text": t, "label": ["a", "b"][: 1 + i % 2]} for i, t in enumerate(TEXTS)],
        "tagging": [
            {
                "text": "小明在北京工作",
                "label": [{"start": 0, "end": 2, "type": "PER"}, {"start": 3, "end": 5, "type": "LOC"}],
            },
            {"text": "他在上海工作", "label": [[2, 4, "LOC"]]},
        ]
        * 3,
        "span": [
            {
                "id": f"q{i}",
                "context": "北京是中国的首都，他在上海工作",
                "question": "首都是哪里",
                "answers": {"text": ["北京"], "answer_start": [0]},
            }
            for i in range(6)
        ],
        "choice": [
            {"text": "他在上海工作", "question": "他在哪里", "choices": ["北京", "上海"], "label": i % 2}
            for i in range(6)
        ],
        "correction": [{"text": t.replace("在", "再"), "label": t} for t in TEXTS],
    }[kind]
    files = {
        "train": write_rows(tmp_path / "train.jsonl", rows),
        "dev": write_rows(tmp_path / "dev.jsonl", rows),
        "test": write_rows(tmp_path / "test.jsonl", rows),
    }
    extra = ["--set", "text_pair_field=question"] if kind == "choice" else []
    assert run_data(glycebert_dir, files, tmp_path / "out", kind, *extra) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert results["test"]["score"] == results["test"][results["metric"]]
    from chinese_ptm.finetune.predict import predict

    predicted = predict(
        tmp_path / "out" / "model",
        files["test"],
        overrides={"task.text_pair_field": "question"} if kind == "choice" else None,
    )
    saved = [
        json.loads(x) for x in (tmp_path / "out" / "predictions_test.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert predicted["predictions"] == saved
    assert predicted["metrics"]["score"] == pytest.approx(results["test"]["score"])


# --------------------------------------------------------------------------------------------------
# strategies


def built(glycebert_dir: Path, files: dict, **method):
    from chinese_ptm.finetune.runner import build_model, prepare

    layer = apply_overrides(
        {},
        {
            "task.kind": "single",
            "task.train": str(files["train"]),
            "task.dev": str(files["dev"]),
            "model.path": str(glycebert_dir),
            **{f"method.{k}": v for k, v in method.items()},
        },
    )
    config = build_config([layer])
    prepared = prepare(config, progress=False)
    return config, prepared, build_model(config, prepared)


def test_the_learning_rate_follows_the_models_width_unless_set(tmp_path):
    """BERT-base's 2e-5 leaves small models below naive Bayes: unset, the rate goes by the checkpoint's width;
    any layer that sets it (a settings file, ``--set``) wins, and a model of unknown size keeps 2e-5."""
    task = {"task.kind": "single", "task.train": "t.jsonl", "task.dev": "d.jsonl"}

    def rate(width, *layers, overrides=None):
        model = tmp_path / str(width)
        model.mkdir(exist_ok=True)
        if width:
            (model / "config.json").write_text(json.dumps({"hidden_size": width}), encoding="utf-8")
        first = apply_overrides({}, {**task, "model.path": str(model)})
        return build_config([first, *layers], overrides).training.learning_rate

    assert [rate(w) for w in (128, 256, 512, 768, 0)] == [1e-3, 3e-4, 3e-4, 2e-5, 2e-5]
    assert rate(128, {"training": {"learning_rate": 5e-5}}) == 5e-5
    assert rate(128, overrides={"learning_rate": "4e-4"}) == 4e-4


@pytest.mark.parametrize(
    "method, trains",
    [
        ({"strategy": "frozen"}, {"classifier", "bert.pooler"}),
        ({"strategy": "top_k", "top_k": 1}, {"classifier", "bert.pooler", "bert.encoder.layer.1"}),
        ({"strategy": "frozen", "layers": "scalar_mix", "pooling": "mean"}, {"classifier", "mix"}),
        ({"peft": "adapters"}, {"classifier", "bert.pooler", "adapter", "LayerNorm"}),
    ],
)
def test_what_trains(glycebert_dir, sentiment_files, method, trains):
    _, _, (model, _, _) = built(glycebert_dir, sentiment_files, **method)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names and all(any(t in n for t in trains) for n in names)
    assert all(any(n.startswith(t) or t in n for n in names) for t in trains)


def test_gradual_unfreezing_and_layer_rates(glycebert_dir, sentiment_files):
    from types import SimpleNamespace

    config, _, (model, callbacks, groups) = built(
        glycebert_dir, sentiment_files, strategy="gradual", layer_lr_decay=0.5, head_learning_rate=1e-2
    )
    layer = model.bert.encoder.layer
    assert all(p.requires_grad for p in layer[1].parameters()) and not any(
        p.requires_grad for p in layer[0].parameters()
    )
    (unfreeze,) = callbacks
    unfreeze.on_epoch_begin(None, SimpleNamespace(epoch=1.0), None)
    assert all(p.requires_grad for p in layer[0].parameters())
    assert not any(p.requires_grad for p in model.bert.embeddings.parameters())
    rates = {}
    for group in groups(model, SimpleNamespace(learning_rate=1e-3, weight_decay=0.01)):
        for p in group["params"]:
            rates[id(p)] = group["lr"]
    assert rates[id(layer[1].attention.self.query.weight)] == pytest.approx(1e-3)
    assert rates[id(layer[0].attention.self.query.weight)] == pytest.approx(5e-4)
    assert rates[id(model.bert.embeddings.word_embeddings.weight)] == pytest.approx(2.5e-4)
    assert rates[id(model.classifier.weight)] == pytest.approx(1e-2)  # the head at its own rate


def test_chain_thaw_trains_the_head_then_each_block_alone_then_everything(glycebert_dir, sentiment_files, tmp_path):
    from types import SimpleNamespace

    _, _, (model, callbacks, groups) = built(glycebert_dir, sentiment_files, strategy="chain_thaw")
    (thaw,) = callbacks
    blocks = [model.bert.embeddings, *model.bert.encoder.layer]
    in_optimizer = {
        id(p) for g in groups(model, SimpleNamespace(learning_rate=1e-3, weight_decay=0.0)) for p in g["params"]
    }
    assert in_optimizer == {id(p) for p in model.parameters()}  # what later epochs wake up is in the optimizer
    for epoch, expected in enumerate([[model.classifier], *[[b] for b in blocks], [model]]):
        thaw.on_epoch_begin(None, SimpleNamespace(epoch=float(epoch)), None)
        wanted = {id(p) for module in expected for p in module.parameters()}
        assert {id(p) for p in model.parameters() if p.requires_grad} == wanted | (
            {id(p) for p in model.bert.pooler.parameters()} if epoch == 0 else set()
        )
    assert run_data(glycebert_dir, sentiment_files, tmp_path / "few", "single", "--set", "strategy=chain_thaw") == 1
    settings = ["strategy=chain_thaw", "training.num_train_epochs=5", "method.early_stopping_patience=1"]
    assert run_data(glycebert_dir, sentiment_files, tmp_path / "run", "single", *_sets(settings)) == 0
    # the whole model trained: early stopping waits for the last phase
    assert json.loads((tmp_path / "run" / "results.json").read_text())["runs"][0]["epochs"] == 5


def _sets(settings: list[str]) -> list[str]:
    return [arg for setting in settings for arg in ("--set", setting)]


def test_early_stopping_counts_only_once_the_strategy_trains_everything(glycebert_dir, sentiment_files):
    from types import SimpleNamespace

    from chinese_ptm.finetune.strategies import early_stopping

    _, _, (_, callbacks, _) = built(glycebert_dir, sentiment_files, strategy="chain_thaw")
    args = SimpleNamespace(metric_for_best_model="score", greater_is_better=True)

    def stops_at(stopping) -> int:
        control = SimpleNamespace(should_training_stop=False)
        for epoch in range(1, 10):  # never better than the best so far
            stopping.on_evaluate(
                args, SimpleNamespace(epoch=float(epoch), best_metric=1.0), control, {"eval_score": 0.5}
            )
            if control.should_training_stop:
                return epoch
        return 0

    assert stops_at(early_stopping(1, [])) == 1
    (thaw,) = callbacks
    assert stops_at(early_stopping(1, callbacks)) == thaw.phases() + 1
    assert stops_at(early_stopping(2, callbacks)) == thaw.phases() + 2


@pytest.mark.parametrize("mode", ["average", "previous_epoch"])
def test_self_distillation_learns_from_its_own_weights_and_saves_the_model_alone(
    mode, glycebert_dir, sentiment_files, tmp_path
):

    from chinese_ptm.finetune.strategies import SelfDistillation

    _, _, (model, callbacks, _) = built(glycebert_dir, sentiment_files, self_distill=mode, self_distill_decay=0.5)
    assert isinstance(model, SelfDistillation)
    (teacher,) = callbacks
    before = model.teacher.classifier.weight.clone()
    with torch.no_grad():
        model.model.classifier.weight.add_(1.0)
    teacher.on_step_end(None, None, None)
    teacher.on_epoch_end(None, None, None)
    shift = {"average": 0.5, "previous_epoch": 1.0}[mode]  # half way there, or all the way at the epoch's end
    assert torch.allclose(model.teacher.classifier.weight, before + shift, atol=1e-6)
    assert set(model.checkpoint_state_dict()) == {f"model.{k}" for k in model.model.state_dict()}
    out = tmp_path / mode
    assert run_data(glycebert_dir, sentiment_files, out, "single", "--set", f"self_distill={mode}") == 0
    assert (out / "model" / "task.json").is_file()
    assert main(["predict", "--model", str(out / "model"), "--input", str(sentiment_files["test"])]) == 0


def test_self_distillation_with_mean_pooling_saves_our_head_alone(glycebert_dir, sentiment_files, tmp_path):
    out = tmp_path / "mean"
    sets = ["--set", "self_distill=average", "--set", "method.pooling=mean"]
    assert run_data(glycebert_dir, sentiment_files, out, "single", *sets) == 0
    record = json.loads((out / "model" / "task.json").read_text(encoding="utf-8"))
    assert record["format"] == "task_model" and record["method"]["pooling"] == "mean"
    assert main(["predict", "--model", str(out / "model"), "--input", str(sentiment_files["test"])]) == 0


def test_self_distillation_of_a_span_model_compares_its_start_and_end_logits(glycebert_dir, tmp_path):
    from types import SimpleNamespace

    from chinese_ptm.finetune.strategies import _squared_error

    context = "北京是中国的首都，他在上海工作"
    answer = {"text": ["北京"], "answer_start": [0]}
    rows = [{"id": f"q{i}", "context": context, "question": "首都是哪", "answers": answer} for i in range(4)]
    files = {split: write_rows(tmp_path / f"{split}.jsonl", rows) for split in ("train", "dev")}
    assert run_data(glycebert_dir, files, tmp_path / "out", "span", "--set", "self_distill=average") == 0
    assert (tmp_path / "out" / "model" / "task.json").is_file()
    ones, zeros = torch.ones(1, 3), torch.zeros(1, 3)
    mask = torch.tensor([[1, 1, 0]])  # the padded position does not count
    mine = SimpleNamespace(start_logits=ones, end_logits=torch.tensor([[3.0, 0.0, 9.0]]))
    error = _squared_error(mine, SimpleNamespace(start_logits=zeros, end_logits=zeros), {"attention_mask": mask})
    assert error.item() == pytest.approx(1.0 + 4.5)


def test_a_self_ensemble_of_checkpoints_averages_the_last_weights(glycebert_dir, sentiment_files, tmp_path):
    from types import SimpleNamespace

    from safetensors.torch import save_file

    from chinese_ptm.finetune.strategies import average_last_checkpoints

    out = tmp_path / "averaged"
    sets = ["--set", "ensemble=checkpoints", "--set", "ensemble_checkpoints=2", "--set", "training.num_train_epochs=3"]
    assert run_data(glycebert_dir, sentiment_files, out, "single", *sets) == 0
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["runs"][0]["averaged_checkpoints"] == ["checkpoint-8", "checkpoint-12"]  # 4 steps an epoch
    # the average itself: the last two of three checkpoints, integer buffers from the last
    for step, value in ((1, 0.0), (2, 2.0), (3, 4.0)):
        (tmp_path / "t" / f"checkpoint-{step}").mkdir(parents=True)
        tensors = {"weight": torch.full((2, 2), value), "bias": torch.full((2,), value)}
        save_file(tensors, str(tmp_path / "t" / f"checkpoint-{step}" / "model.safetensors"))
    trainer = SimpleNamespace(model=torch.nn.Linear(2, 2))
    names = average_last_checkpoints(
        trainer, tmp_path / "t", SimpleNamespace(ensemble="checkpoints", ensemble_checkpoints=2)
    )
    assert names == ["checkpoint-2", "checkpoint-3"] and torch.equal(trainer.model.weight, torch.full((2, 2), 3.0))


def test_a_self_ensemble_of_seeds_is_scored(glycebert_dir, sentiment_files, tmp_path):
    out = tmp_path / "ensemble"
    assert run_data(glycebert_dir, sentiment_files, out, "single", "--seeds", "2", "--set", "ensemble=seeds") == 0
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert set(results["ensemble"]) == {"dev"} and 0 <= results["ensemble"]["dev"]["score"] <= 100
    assert all("outputs" not in run for run in results["runs"])


@pytest.mark.slow
@pytest.mark.parametrize("peft", ["lora", "adapters"])
def test_parameter_efficient_results_are_small_and_reload_to_the_same_logits(
    peft, glycebert_dir, sentiment_files, tmp_path
):
    from chinese_ptm.finetune.features import PaddingCollator
    from chinese_ptm.finetune.predict import load_task_model
    from chinese_ptm.finetune.runner import prepare, run

    layer = apply_overrides(
        {},
        {
            "task.kind": "single",
            "task.train": str(sentiment_files["train"]),
            "task.dev": str(sentiment_files["dev"]),
            "model.path": str(glycebert_dir),
            "method.peft": peft,
            "training.num_train_epochs": 1,
            "training.learning_rate": 1e-2,
            "training.per_device_train_batch_size": 4,
            "output_dir": str(tmp_path / "out"),
            "training.disable_tqdm": True,
        },
    )
    config = build_config([layer])
    prepared = prepare(config, progress=False)
    run(config, prepared)
    saved = tmp_path / "out" / "model"
    weights = sum(f.stat().st_size for f in saved.iterdir() if f.suffix == ".safetensors")
    full = sum(f.stat().st_size for f in glycebert_dir.iterdir() if f.suffix == ".safetensors")
    assert weights < full / 4 and not (saved / "model.safetensors").exists()
    model, record, _ = load_task_model(saved)
    again, _, _ = load_task_model(saved)
    batch = PaddingCollator(0)(
        [{k: v for k, v in f.items() if k != "feature_index"} for f in prepared.encoded["dev"].features]
    )
    with torch.no_grad():
        assert torch.allclose(model(**batch).logits, again(**batch).logits)
    assert record["base_model"] == str(glycebert_dir.resolve()) and record["format"] == peft
    predictions = [
        json.loads(x)["label"] for x in (tmp_path / "out" / "predictions_dev.jsonl").read_text().splitlines()
    ]
    with torch.no_grad():
        reloaded = model(**batch).logits.argmax(-1).tolist()
    assert [prepared.task.labels[i] for i in reloaded] == predictions


# --------------------------------------------------------------------------------------------------
# several tasks


def test_task_batches_draw_from_one_task_at_a_time():
    from chinese_ptm.finetune.multitask import TaskBatches

    proportional = list(TaskBatches([0, 10], [10, 30], 4, "proportional", seed=0))
    assert len(proportional) == 3 + 8 and sorted(i for b in proportional for i in b) == list(range(40))
    assert all(max(b) < 10 or min(b) >= 10 for b in proportional)
    uniform = list(TaskBatches([0, 10], [10, 30], 4, "uniform", seed=0))
    small = sum(max(b) < 10 for b in uniform)
    assert len(uniform) == 11 and 2 <= small <= 9  # about half the steps from the small task


@pytest.mark.slow
def test_multitask_and_two_stage_runs(glycebert_dir, sentiment_files, tmp_path):
    tagging = [{"text": "小明在北京工作", "label": [{"start": 3, "end": 5, "type": "LOC"}]}] * 4
    ner = tmp_path / "ner.yaml"
    ner.write_text(
        "task:\n  kind: tagging\n  train: {0}\n  dev: {0}\n".format(write_rows(tmp_path / "ner.jsonl", tagging))
    )
    sentiment = tmp_path / "sentiment.yaml"
    sentiment.write_text(
        "task:\n  kind: single\n  train: {}\n  dev: {}\n".format(sentiment_files["train"], sentiment_files["dev"])
    )
    common = [
        "--model",
        str(glycebert_dir),
        "--no-progress",
        "--set",
        "training.num_train_epochs=1",
        "--set",
        "training.per_device_train_batch_size=4",
    ]
    assert (
        main(["finetune", "multitask", "--tasks", f"{sentiment},{ner}", "--output-dir", str(tmp_path / "mt"), *common])
        == 0
    )
    for name in ("sentiment", "ner"):
        result = json.loads((tmp_path / "mt" / name / "results.json").read_text(encoding="utf-8"))
        assert result["tasks"] == [str(sentiment), str(ner)] and "score" in result["dev"]
        assert (tmp_path / "mt" / name / "model" / "head.safetensors").is_file()
    assert (
        main(["finetune", "stages", "--tasks", f"{sentiment},{ner}", "--output-dir", str(tmp_path / "st"), *common])
        == 0
    )
    encoder = tmp_path / "st" / "stage1-sentiment" / "encoder"
    from chinese_ptm.modeling import GlyceBertModel

    first = GlyceBertModel.from_pretrained(encoder).encoder.layer[0].attention.self.query.weight
    original = GlyceBertModel.from_pretrained(glycebert_dir).encoder.layer[0].attention.self.query.weight
    assert not torch.equal(first, original)  # stage 1 trained the encoder stage 2 starts from
    final = json.loads((tmp_path / "st" / "stage2-ner" / "results.json").read_text(encoding="utf-8"))
    assert final["model"] == str(encoder) and final["kind"] == "tagging"


def test_cli_errors_are_one_line(glycebert_dir, tmp_path, capsys):
    assert (
        main(
            [
                "finetune",
                "data",
                "--task",
                "single",
                "--model",
                str(glycebert_dir),
                "--train",
                str(tmp_path / "none.jsonl"),
                "--dev",
                str(tmp_path / "none.jsonl"),
            ]
        )
        == 1
    )
    assert capsys.readouterr().err.strip().endswith("none.jsonl: no such file")
    assert (
        main(["finetune", "data", "--preset", "reviews", "--model", str(glycebert_dir), "--set", "strategy=melt"]) == 1
    )
    assert "method.strategy: 'melt' is not one of" in capsys.readouterr().err
    assert main(["finetune", "data", "--preset", "reviews", "--model", str(glycebert_dir), "--seeds", "x"]) == 1
    assert "--seeds x: expected a list of integers" in capsys.readouterr().err


def test_long_texts_are_tagged_through_overlapping_windows(glycebert_dir):
    """Entities beyond max_length are not lost: every character gets a tag from some window, and gold logits
    decode back to every entity."""
    from chinese_ptm.finetune.examples import TaggingExample
    from chinese_ptm.finetune.features import Encoder
    from chinese_ptm.finetune.metrics import bios_labels
    from chinese_ptm.finetune.task import TAGGING, TaskData
    from chinese_ptm.finetune.tasks.tagging import decode_tags
    from chinese_ptm.runtime.loading import load_tokenizer_for

    text = "他在上海工作" * 12  # 72 characters, windows of 32 tokens
    entities = [("LOC", 6 * i + 2, 6 * i + 3) for i in range(12)]
    task = TaskData("t", TAGGING, ("LOC",), "f1", {})
    encoder = Encoder(
        task,
        load_tokenizer_for(glycebert_dir, "glycebert"),
        settings(max_length=32, stride=8),
        with_pinyin=True,
        progress=False,
    )
    encoded = encoder.encode([TaggingExample(0, text, entities)], train=True)
    assert len(encoded.features) > 2 and set(encoded.owners) == {0}
    tags = bios_labels(["LOC"])
    logits = []
    for feature in encoded.features:
        one_hot = np.zeros((len(feature["labels"]), len(tags)))
        one_hot[np.arange(len(feature["labels"])), np.maximum(feature["labels"], 0)] = 1
        logits.append(one_hot)
    assert decode_tags(logits, encoded, [TaggingExample(0, text, entities)], tags) == [entities]


def test_every_kind_a_user_can_name_is_registered_with_all_of_its_steps():
    """``task.kind`` values the settings accept each find a kind that implements every step (no step left to the
    base class's NotImplementedError), and no two kinds claim the same user name."""
    import typing

    from chinese_ptm.finetune import registry
    from chinese_ptm.finetune.config import TaskSection

    names = typing.get_args(typing.get_args(typing.get_type_hints(TaskSection)["kind"])[0])
    steps = ("read_example", "encode", "make_head", "head_forward", "decode", "metrics", "prediction_row")
    for name in names:
        kind = registry.user_kind(name)
        missing = [s for s in steps if getattr(type(kind), s) is getattr(registry.TaskKind, s)]
        if kind.standard_head_only:  # the head is transformers' class: TaskModel never builds one
            missing = [s for s in missing if s not in ("make_head", "head_forward")]
        assert not missing, (name, missing)
    claimed = [n for k in registry.KINDS.values() for n in k.user_names]
    assert sorted(claimed) == sorted(set(claimed)) and set(names) <= set(claimed)
