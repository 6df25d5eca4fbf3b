"""CLUE tasks as presets of the fine-tuning runner: readers for every task's format, metrics against hand-computed values, submission files
in CLUE's exact formats, the three checkpoint kinds, and clear errors on bad input.

The data are tiny hand-written files in each task's official layout, written into tmp dirs by the helpers
below; the models are tiny random ones (hidden 32, 2 layers)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import save_tiny_glycebert

from chinese_ptm.cli import main
from chinese_ptm.finetune.clue import TASKS, get_task
from chinese_ptm.finetune.clue_readers import chid_window, mark_wsc_text, read_split
from chinese_ptm.finetune.clue_runs import run_clue_task
from chinese_ptm.finetune.config import TaskSection
from chinese_ptm.finetune.examples import DataError as ClueDataError
from chinese_ptm.finetune.features import Encoder, PaddingCollator
from chinese_ptm.finetune.metrics import (
    bios_labels,
    bios_to_spans,
    cmrc_scores,
    cmrc_segments,
    entity_scores,
    exact_match,
    span_f1,
    spans_to_bios,
)
from chinese_ptm.finetune.task import TaskData
from chinese_ptm.runtime.loading import checkpoint_kind as model_kind
from chinese_ptm.runtime.loading import load_tokenizer_for as load_run_tokenizer

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "chinesebert_reference"
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"reference fixtures not found at {FIXTURES}")

SPECIALS = ["[PAD]"] + [f"[unused{i}]" for i in range(1, 100)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
#: tiny settings every end-to-end run uses
TINY = {
    "training.per_device_train_batch_size": "2",
    "task.max_length": "64",
    "task.stride": "16",
    "training.num_train_epochs": "1",
    "training.logging_steps": "1",
}
STEPS = 2


def task_of(spec) -> TaskData:
    """The runner's view of a CLUE spec (kind, labels, choices) without its data."""
    return TaskData(spec.name, spec.kind, spec.labels, spec.metric, {}, num_choices=spec.num_choices)


# ---------------------------------------------------------------------------------------------
# Tiny data in each task's official format
# ---------------------------------------------------------------------------------------------

SENTENCES = [
    "北京是中国的首都",
    "我喜欢吃北京烤鸭",
    "今天天气很好",
    "银行行长了解情况",
    "他在上海工作",
    "我们明天去公园",
]


def write_lines(path: Path, rows: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")


def pair_rows(labels: list[str], with_ids: bool = False) -> list[dict]:
    rows = []
    for i, label in enumerate(labels):
        row = {"sentence1": SENTENCES[i % 6], "sentence2": SENTENCES[(i + 1) % 6]}
        if with_ids:
            row["id"] = i
        else:
            row["label"] = label
        rows.append(row)
    return rows


def write_afqmc(d: Path) -> None:
    write_lines(d / "train.json", pair_rows(["0", "1", "0", "1"]))
    write_lines(d / "dev.json", pair_rows(["1", "0", "1"]))
    write_lines(d / "test.json", pair_rows(["", "", ""], with_ids=True))


def write_tnews(d: Path) -> None:
    labels = ["100", "102", "116", "104"]
    write_lines(
        d / "train.json",
        [{"label": l, "label_desc": "news_x", "sentence": SENTENCES[i], "keywords": ""} for i, l in enumerate(labels)],
    )
    write_lines(
        d / "dev.json",
        [
            {"label": l, "label_desc": "news_x", "sentence": SENTENCES[i + 2], "keywords": ""}
            for i, l in enumerate(["102", "100", "116"])
        ],
    )
    write_lines(d / "test.json", [{"id": 10 + i, "sentence": s, "keywords": ""} for i, s in enumerate(SENTENCES[:5])])


def write_iflytek(d: Path) -> None:
    write_lines(
        d / "train.json",
        [{"label": l, "label_des": "x", "sentence": SENTENCES[i]} for i, l in enumerate(["0", "118", "11", "0"])],
    )
    write_lines(
        d / "dev.json", [{"label": l, "label_des": "x", "sentence": SENTENCES[i]} for i, l in enumerate(["11", "0"])]
    )
    write_lines(d / "test.json", [{"id": i, "sentence": s} for i, s in enumerate(SENTENCES[:3])])


def nli_rows(labels: list[str], key: str = "label") -> list[dict]:
    return [{"sentence1": SENTENCES[i % 6], "sentence2": SENTENCES[(i + 2) % 6], key: l} for i, l in enumerate(labels)]


def write_ocnli(d: Path) -> None:
    write_lines(d / "train.50k.json", nli_rows(["entailment", "neutral", "-", "contradiction"]))
    write_lines(d / "dev.json", nli_rows(["neutral", "-", "entailment"]))
    write_lines(
        d / "test.json", [{"id": i, "sentence1": SENTENCES[i], "sentence2": SENTENCES[i + 1]} for i in range(3)]
    )


def write_cmnli(d: Path) -> None:
    write_lines(d / "train.json", nli_rows(["entailment", "neutral", "contradiction"]))
    write_lines(d / "dev.json", nli_rows(["neutral", "entailment"], key="gold_label"))
    write_lines(
        d / "test.json", [{"id": i, "sentence1": SENTENCES[i], "sentence2": SENTENCES[i + 1]} for i in range(4)]
    )


WSC_TEXT = "小明对老师说他明天去公园"  # 小明 at 0, 他 at 6


def wsc_row(i: int, label: str | None) -> dict:
    row = {
        "target": {"span2_index": 6, "span1_index": 0, "span1_text": "小明", "span2_text": "他"},
        "idx": i,
        "text": WSC_TEXT,
    }
    if label is not None:
        row["label"] = label
    return row


def write_wsc(d: Path) -> None:
    write_lines(d / "train.json", [wsc_row(i, l) for i, l in enumerate(["true", "false", "true"])])
    write_lines(d / "dev.json", [wsc_row(i, l) for i, l in enumerate(["false", "true"])])
    write_lines(d / "test.json", [{**wsc_row(i, None), "id": i} for i in range(3)])


def write_csl(d: Path) -> None:
    rows = [
        {"id": i, "abst": SENTENCES[i] + SENTENCES[i + 1], "keyword": ["北京", "天气"], "label": l}
        for i, l in enumerate(["1", "0", "1"])
    ]
    write_lines(d / "train.json", rows)
    write_lines(d / "dev.json", rows[:2])
    write_lines(d / "test.json", [{k: v for k, v in r.items() if k != "label"} for r in rows])


CMRC_CONTEXT = "北京是中国的首都。银行行长了解情况，他在上海工作。我们明天去公园，今天天气很好。" * 2


def cmrc_doc(prefix: str, answers: str) -> dict:
    qas = []
    for i, (question, answer) in enumerate(
        [("中国的首都是哪里", "北京"), ("他在哪里工作", "上海"), ("我们明天去哪里", "公园")]
    ):
        qa = {"id": f"{prefix}_{i}", "question": question}
        if answers == "train":
            qa["answers"] = [{"text": answer, "answer_start": CMRC_CONTEXT.index(answer)}]
        elif answers == "dev":
            qa["answers"] = [{"text": answer, "answer_start": -1}, {"text": answer + "市", "answer_start": -1}]
        qas.append(qa)
    return {
        "version": "v1.0",
        "data": [{"id": prefix, "title": "t", "paragraphs": [{"id": prefix, "context": CMRC_CONTEXT, "qas": qas}]}],
    }


def write_cmrc(d: Path) -> None:
    write_json(d / "train.json", cmrc_doc("TRAIN", "train"))
    write_json(d / "dev.json", cmrc_doc("DEV", "dev"))
    write_json(d / "test.json", cmrc_doc("TEST", "test"))


IDIOMS = [
    "一日千里",
    "日新月异",
    "百花齐放",
    "方兴未艾",
    "随波逐流",
    "三十而立",
    "身体力行",
    "百尺竿头",
    "沧海一粟",
    "逆水行舟",
]


def write_chid(d: Path) -> None:
    def rows(first: int) -> list[dict]:
        return [
            {
                "candidates": IDIOMS,
                "content": [
                    f"北京的变化#idiom{first:06d}#，今天天气很好",
                    f"我们#idiom{first + 1:06d}#工作，又#idiom{first + 2:06d}#",
                ],
            },
            {"candidates": IDIOMS, "content": f"他在上海#idiom{first + 3:06d}#"},
        ]

    write_lines(d / "train.json", rows(1))
    write_json(d / "train_answer.json", {f"#idiom{i:06d}#": i % 10 for i in range(1, 5)})
    write_lines(d / "dev.json", rows(11))
    write_json(d / "dev_answer.json", {f"#idiom{i:06d}#": (i * 3) % 10 for i in range(11, 15)})
    write_lines(d / "test1.1.json", rows(21))


def c3_items(with_answers: bool, with_ids: bool = False) -> list:
    items = []
    for i in range(2):
        questions = [
            {"question": "他在哪里工作", "choice": ["北京", "上海", "公园"], "answer": "上海"},
            {"question": "今天天气怎么样", "choice": ["很好", "不好"], "answer": "很好"},
        ]
        for j, q in enumerate(questions):
            if not with_answers:
                del q["answer"]
            if with_ids:
                q["id"] = 2 * i + j
        items.append([["男：他在上海工作。", "女：今天天气很好。"], questions, f"m{i}"])
    return items


def write_c3(d: Path) -> None:
    write_json(d / "d-train.json", c3_items(True)[:1])
    write_json(d / "m-train.json", c3_items(True)[1:])
    write_json(d / "dev.json", c3_items(True))
    write_json(d / "test1.1.json", c3_items(False, with_ids=True))


CLUENER_ROWS = [
    {"text": "小明在北京银行工作", "label": {"name": {"小明": [[0, 1]]}, "company": {"北京银行": [[3, 6]]}}},
    {"text": "他在上海看了电影", "label": {"address": {"上海": [[2, 3]]}}},
    {"text": "今天天气很好", "label": {}},
]


def write_cluener(d: Path) -> None:
    write_lines(d / "train.json", CLUENER_ROWS)
    write_lines(d / "dev.json", CLUENER_ROWS[:2])
    write_lines(d / "test.json", [{"id": i, "text": r["text"]} for i, r in enumerate(CLUENER_ROWS)])


WRITERS = {
    "afqmc": write_afqmc,
    "tnews": write_tnews,
    "iflytek": write_iflytek,
    "ocnli": write_ocnli,
    "cmnli": write_cmnli,
    "cluewsc2020": write_wsc,
    "csl": write_csl,
    "cmrc2018": write_cmrc,
    "chid": write_chid,
    "c3": write_c3,
    "cluener": write_cluener,
}


def write_task(parent: Path, name: str) -> Path:
    directory = parent / TASKS[name].folder
    WRITERS[name](directory)
    return directory


def data_chars() -> str:
    texts = (
        SENTENCES
        + [
            WSC_TEXT,
            CMRC_CONTEXT,
            "中国的首都是哪里他在哪里工作我们明天去哪里市今天天气怎么样不好男女电影小明看了北京的变化，又无效答案",
        ]
        + IDIOMS
    )
    return "".join(sorted(set("".join(texts))))


# ---------------------------------------------------------------------------------------------
# Tiny models of the three kinds
# ---------------------------------------------------------------------------------------------


def write_vocab(directory: Path) -> list[str]:
    tokens = SPECIALS + list(dict.fromkeys("，。！？：_[]" + "abcdefghijklmnopqrstuvwxyz0123456789" + data_chars()))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    return tokens


@pytest.fixture(scope="module")
def glycebert_dir(tmp_path_factory) -> Path:
    """Our kind: a tiny random GlyceBERT with a random glyph table, saved with its tokenizer."""
    directory = tmp_path_factory.mktemp("glycebert")
    return save_tiny_glycebert(directory, write_vocab(directory))


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory) -> Path:
    """A Chinese BERT checkpoint: a tiny random transformers BertForPreTraining and its vocab.txt."""
    from transformers import BertConfig, BertForPreTraining

    directory = tmp_path_factory.mktemp("bert")
    tokens = write_vocab(directory)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokens),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=128,
    )
    BertForPreTraining(config).save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def clue_data(tmp_path_factory) -> Path:
    parent = tmp_path_factory.mktemp("CLUEdatasets")
    for name in WRITERS:
        write_task(parent, name)
    return parent


def hp(**changes) -> TaskSection:
    return dataclasses.replace(TaskSection(max_length=64), **changes)


# ---------------------------------------------------------------------------------------------
# Submission format checks
# ---------------------------------------------------------------------------------------------


def read_lines(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def check_submission(name: str, path: Path, test_dir: Path) -> None:
    """The file has CLUE's exact shape for the task: keys, types, order and count."""
    spec = TASKS[name]
    assert path.name == spec.submission
    if spec.kind == "classification":
        test_rows = read_lines(test_dir / "test.json")
        rows = read_lines(path)
        assert [r["id"] for r in rows] == [r.get("id", r.get("idx")) for r in test_rows]
        for row in rows:
            assert set(row) == {"id", "label"}
            assert isinstance(row["label"], str) and row["label"] in spec.labels
    elif name == "cmrc2018":
        answers = json.loads(path.read_text(encoding="utf-8"))
        assert list(answers) == ["TEST_0", "TEST_1", "TEST_2"]
        assert all(isinstance(a, str) and a in CMRC_CONTEXT for a in answers.values())
    elif name == "chid":
        answers = json.loads(path.read_text(encoding="utf-8"))
        assert list(answers) == [f"#idiom{i:06d}#" for i in range(21, 25)]
        assert all(isinstance(v, int) and 0 <= v < 10 for v in answers.values())
    elif name == "c3":
        rows = read_lines(path)
        assert [r["id"] for r in rows] == [0, 1, 2, 3]
        for row, choices in zip(rows, [3, 2, 3, 2]):
            assert set(row) == {"id", "label"} and isinstance(row["label"], int) and 0 <= row["label"] < choices
    elif name == "cluener":
        rows = read_lines(path)
        assert [r["id"] for r in rows] == [0, 1, 2]
        for row, source in zip(rows, CLUENER_ROWS):
            assert set(row) == {"id", "label"} and isinstance(row["label"], dict)
            for kind, mentions in row["label"].items():
                assert kind in spec.labels
                for entity, spans in mentions.items():
                    for start, end in spans:
                        assert source["text"][start : end + 1] == entity


# ---------------------------------------------------------------------------------------------
# End to end
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_all_tasks_with_glycebert(glycebert_dir, clue_data, tmp_path, capsys):
    """`finetune clue all`: every task trains two steps, is evaluated on dev and writes its submission."""
    out = tmp_path / "runs"
    argv = [
        "clue",
        "all",
        "--model",
        str(glycebert_dir),
        "--data-dir",
        str(clue_data),
        "--output-dir",
        str(out),
        "--max-steps",
        str(STEPS),
        "--no-progress",
    ]
    for key, value in TINY.items():
        argv += ["--set", f"{key}={value}"]
    assert main(["finetune", *argv]) == 0
    results = [json.loads((out / name / "results.json").read_text(encoding="utf-8")) for name in TASKS]
    assert [r["task"] for r in results] == list(TASKS)
    table = capsys.readouterr().out
    for name in TASKS:
        assert name in table
    for result in results:
        name = result["task"]
        assert "error" not in result, result
        assert result["steps"] == STEPS and result["model_kind"] == "glycebert" and result["pinyin"]
        assert 0.0 <= result["score"] <= 100.0
        assert result["settings"]["task"]["max_length"] == 64 and result["seeds"] == [42]
        check_submission(name, Path(result["submission"]), clue_data / TASKS[name].folder)
        assert (out / "submission" / TASKS[name].submission).is_file()
        assert (out / name / f"dev_{TASKS[name].submission}").is_file()
    by_task = {r["task"]: r for r in results}
    assert by_task["ocnli"]["skipped"] == {"train": {"label '-'": 1}, "dev": {"label '-'": 1}}
    assert by_task["ocnli"]["examples"] == {"train": 3, "dev": 2, "test": 3}
    assert by_task["chid"]["examples"] == {"train": 4, "dev": 4, "test": 4}
    assert by_task["c3"]["examples"] == {"train": 4, "dev": 4, "test": 4}
    assert set(by_task["cmrc2018"]["dev"]) >= {"em", "f1"} and by_task["cmrc2018"]["features"]["train"] > 3
    assert set(by_task["cluener"]["dev"]) >= {"f1", "precision", "recall"}
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [s["task"] for s in summary] == list(TASKS)


@pytest.mark.slow
def test_all_keeps_going_after_a_failing_task(glycebert_dir, tmp_path, capsys):
    parent = tmp_path / "data"
    write_task(parent, "afqmc")
    broken = write_task(parent, "cluener")
    write_lines(broken / "dev.json", [{"text": "小明", "label": {"name": {"小明": [[0, 5]]}}}])
    argv = [
        "clue",
        "all",
        "--model",
        str(glycebert_dir),
        "--data-dir",
        str(parent),
        "--output-dir",
        str(tmp_path / "out"),
        "--max-steps",
        "1",
        "--no-progress",
        "--set",
        "per_device_train_batch_size=2",
    ]
    assert main(["finetune", *argv]) == 1
    captured = capsys.readouterr()
    assert "chinese-ptm finetune: error: cluener: " in captured.err and "lies outside the text" in captured.err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert [s["task"] for s in summary] == ["afqmc", "cluener"]
    assert "score" in summary[0] and "error" in summary[1]
    assert (tmp_path / "out" / "submission" / "afqmc_predict.json").is_file()
    assert "cluener      failed:" in captured.out


@pytest.mark.slow
@needs_fixtures
def test_original_chinesebert_checkpoint_finetunes(clue_data, tmp_path):
    """The original release's directory: GlyceBERT with pinyin, max_length capped at its 64 positions."""
    result = run_clue_task(
        "tnews",
        FIXTURES / "tiny_checkpoint",
        clue_data,
        tmp_path,
        progress=False,
        overrides={"per_device_train_batch_size": "2", "max_length": "512", "max_steps": STEPS},
    )
    assert result["model_kind"] == "chinesebert" and result["pinyin"]
    assert result["settings"]["task"]["max_length"] == 64
    assert result["steps"] == STEPS
    check_submission("tnews", tmp_path / "tnews11_predict.json", clue_data / "tnews_public")


@pytest.mark.slow
@pytest.mark.parametrize("task", ["afqmc", "c3", "cmrc2018", "cluener"])
def test_chinese_bert_checkpoint_finetunes(task, bert_dir, clue_data, tmp_path):
    """A Chinese BERT checkpoint runs as transformers' BERT with a tokenizer without pinyin."""
    result = run_clue_task(
        task,
        bert_dir,
        clue_data / TASKS[task].folder,
        tmp_path,
        progress=False,
        overrides={**TINY, "training.max_steps": STEPS, "save_model": task == "afqmc"},
    )
    assert result["model_kind"] == "bert" and not result["pinyin"]
    check_submission(task, Path(result["submission"]), clue_data / TASKS[task].folder)
    if task == "afqmc":
        from transformers import BertForSequenceClassification

        saved = BertForSequenceClassification.from_pretrained(tmp_path / "model")
        assert saved.config.id2label == {0: "0", 1: "1"} and (tmp_path / "model" / "vocab.txt").is_file()


def test_checkpoint_kinds(bert_dir, glycebert_dir, tmp_path):
    import shutil

    from transformers import BertTokenizer

    from chinese_ptm.text.tokenization import GlyceBertTokenizer

    assert model_kind(bert_dir) == "bert" and model_kind(glycebert_dir) == "glycebert"
    if FIXTURES.is_dir():
        assert model_kind(FIXTURES / "tiny_checkpoint") == "chinesebert"
    # a BERT checkpoint saved next to our tokenizer (pinyin tables in config/) is still BERT: the weights decide
    pretrained = tmp_path / "bert_with_pinyin_tables"
    shutil.copytree(bert_dir, pretrained)
    GlyceBertTokenizer(vocab_file=str(bert_dir / "vocab.txt")).save_pretrained(str(pretrained))
    assert (pretrained / "config" / "pinyin_map.json").is_file() and model_kind(pretrained) == "bert"
    tokenizer = load_run_tokenizer(pretrained, "bert")
    assert type(tokenizer) is BertTokenizer and "pinyin_ids" not in tokenizer("北京")


def test_chinese_bert_features_have_no_pinyin(bert_dir, glycebert_dir, clue_data):
    spec = task_of(get_task("afqmc"))
    examples = read_split(get_task("afqmc"), clue_data / "afqmc_public", "train", hp()).examples
    plain = Encoder(spec, load_run_tokenizer(bert_dir, "bert"), hp(), with_pinyin=False, progress=False)
    glyce = Encoder(spec, load_run_tokenizer(glycebert_dir, "glycebert"), hp(), with_pinyin=True, progress=False)
    a, b = plain.encode(examples, train=True).features, glyce.encode(examples, train=True).features
    assert "pinyin_ids" not in a[0] and b[0]["pinyin_ids"].shape == (len(b[0]["input_ids"]), 8)
    assert np.array_equal(a[0]["input_ids"], b[0]["input_ids"])
    batch = PaddingCollator(0)(b[:3])
    lengths = [len(f["input_ids"]) for f in b[:3]]
    assert batch["pinyin_ids"].shape == (3, max(lengths), 8) and batch["labels"].shape == (3,)
    assert batch["attention_mask"].sum(1).tolist() == lengths


# ---------------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------------


def test_readers_of_every_format(clue_data):
    tnews = read_split(get_task("tnews"), clue_data / "tnews_public", "train", hp())
    assert [TASKS["tnews"].labels[e.label] for e in tnews.examples] == ["100", "102", "116", "104"]
    assert len(TASKS["tnews"].labels) == 15 and "105" not in TASKS["tnews"].labels
    assert len(TASKS["iflytek"].labels) == 119
    test = read_split(get_task("tnews"), clue_data / "tnews_public", "test", hp())
    assert [e.uid for e in test.examples] == [10, 11, 12, 13, 14] and test.examples[0].label is None
    cmnli = read_split(get_task("cmnli"), clue_data / "cmnli_public", "dev", hp())  # gold_label spelling
    assert [e.label for e in cmnli.examples] == [1, 0]
    wsc = read_split(get_task("wsc"), clue_data / "cluewsc2020_public", "train", hp())
    assert wsc.examples[0].text_a == "_小明_对老师说[他]明天去公园" and wsc.examples[0].label == 0
    csl = read_split(get_task("csl"), clue_data / "csl_public", "train", hp()).examples[0]
    assert (csl.text_a, csl.text_b) == ("北京 天气", SENTENCES[0] + SENTENCES[1])
    c3 = read_split(get_task("c3"), clue_data / "c3_public", "train", hp())
    assert [p.name for p in c3.files] == ["d-train.json", "m-train.json"]
    first = c3.examples[0]
    assert first.label == 1 and first.num_real == 3 and len(first.pairs) == 4
    assert first.pairs[3][1].endswith("无效答案")
    chid = read_split(get_task("chid"), clue_data / "chid_public", "train", hp())
    assert [e.uid for e in chid.examples] == [f"#idiom{i:06d}#" for i in range(1, 5)]
    assert [e.label for e in chid.examples] == [1, 2, 3, 4]
    assert chid.examples[1].pairs[0][0] == "我们一日千里工作，又[MASK]"
    cmrc = read_split(get_task("cmrc2018"), clue_data / "cmrc2018_public", "dev", hp())
    assert cmrc.examples[0].answers == ["北京", "北京市"]
    ner = read_split(get_task("cluener"), clue_data / "cluener_public", "train", hp())
    assert ner.examples[0].entities == [("name", 0, 1), ("company", 3, 6)]


def test_chid_window_and_wsc_markers():
    assert chid_window("一二三四五六", "七八", 6) == ("三四五六", "七八")
    assert chid_window("一二", "三四五六七八", 6) == ("一二", "三四五六")
    assert chid_window("甲#idiom000001#乙", "", 2) == ("[MASK]乙", "")
    text = "他说小明来了"
    target = {"span1_index": 2, "span1_text": "小明", "span2_index": 0, "span2_text": "他"}
    assert mark_wsc_text(text, target, "x") == "[他]说_小明_来了"
    adjacent = {"span1_index": 0, "span1_text": "小明", "span2_index": 2, "span2_text": "他"}
    assert mark_wsc_text("小明他来了", adjacent, "x") == "_小明_[他]来了"


def test_span_features_windows_and_answer_positions(glycebert_dir, clue_data):
    spec = get_task("cmrc2018")
    settings = hp(max_length=32, stride=8)
    split = read_split(spec, clue_data / "cmrc2018_public", "train", settings)
    tokenizer = load_run_tokenizer(glycebert_dir, "glycebert")
    encoded = Encoder(task_of(spec), tokenizer, settings, with_pinyin=True, progress=False).encode(
        split.examples, train=True
    )
    assert len(encoded.features) > len(split.examples)  # long contexts become several windows
    found = 0
    for feature, owner, offsets in zip(encoded.features, encoded.owners, encoded.context_offsets):
        example = split.examples[owner]
        start, end = int(feature["start_positions"]), int(feature["end_positions"])
        if start:
            found += 1
            assert example.context[offsets[start, 0] : offsets[end, 1]] == example.answers[0]
        else:
            assert end == 0
    assert found >= len(split.examples)


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------


#: (prediction, gold, EM, F1) worked out by hand with the official CMRC 2018 evaluation (v5): its punctuation
#: list only, nltk's word tokens for non-Chinese runs, EM on the stripped strings, F1 by the longest common run
OFFICIAL_CMRC_CASES = [
    ("北京天安门", "北京天安门", 1, 1.0),
    ("北京的天安门", "北京天安门", 0, 2 * (3 / 6) * (3 / 5) / (3 / 6 + 3 / 5)),  # a common run, not a subsequence
    ("增长3.5%", "3.5%", 0, 2 / 3),  # "3.5%" is the two segments 3.5 and %
    ("3.5%", "3.5 %", 0, 1.0),  # an inner space: EM compares strings, F1 segments
    ("iPhone 7发布", "IPHONE 7", 0, 2 / 3),  # lower case; "iphone 7" is two segments
    ("(2018)出现国iPhone 7", "出现国", 0, 6 / 11),  # ASCII ( ) are not in the list: segments of their own
    ("《红楼梦》", "红楼梦", 1, 1.0),  # full-width marks of the list vanish
    ('"红楼梦"', "红楼梦", 0, 0.75),  # ASCII quotes stay (nltk writes them ``)
    ("iphone-7", "iphone 7", 0, 0.0),  # a dropped '-' joins the run: one segment iphone7
    ("等等…", "等等", 0, 0.8),  # the list has '……' as one entry, so a single '…' stays
    ("’北京", "北京", 1, 1.0),
    ("‘北京", "北京", 0, 0.8),  # '’' is listed, '‘' is not
    ("", "北京", 0, 0.0),
    ("  北京 ", "北京", 1, 1.0),
]


@pytest.mark.parametrize(("prediction", "gold", "em", "f1"), OFFICIAL_CMRC_CASES)
def test_cmrc_scores_equal_the_official_evaluation(prediction, gold, em, f1):
    assert exact_match(prediction, gold) == bool(em)
    assert span_f1(prediction, gold) == pytest.approx(f1)


def test_cmrc_scores_over_questions():
    assert cmrc_segments("(2018)出现国iPhone 7") == ["(", "2018", ")", "出", "现", "国", "iphone", "7"]
    assert cmrc_segments("a：b") == ["a", "：", "b"] and cmrc_segments("a：b", drop_punctuation=True) == ["ab"]
    predictions = {"q1": "北京", "q2": "在北京市。", "q3": "北京市", "q4": "", "q5": "Apple公司"}
    references = {
        "q1": ["北京", "北京市"],
        "q2": ["北京市"],
        "q3": ["上海", "北京"],
        "q4": ["北京"],
        "q5": ["apple 公司"],
        "q6": ["缺"],
    }
    scores = cmrc_scores(predictions, references)
    em = [1, 0, 0, 0, 0, 0]  # q5: "apple公司" and "apple 公司" differ as strings
    f1 = [1, 2 * 0.75 / 1.75, 2 * (2 / 3) / (5 / 3), 0, 1, 0]  # best gold answer; q6 unanswered counts 0
    assert scores["em"] == pytest.approx(100 * sum(em) / 6)
    assert scores["f1"] == pytest.approx(100 * sum(f1) / 6)
    assert scores["missing"] == 1 and scores["questions"] == 6


def test_bios_both_ways_and_entity_f1():
    tags = spans_to_bios(7, [("name", 0, 1), ("address", 3, 3), ("company", 4, 6)])
    assert tags == ["B-name", "I-name", "O", "S-address", "B-company", "I-company", "I-company"]
    assert bios_to_spans(tags) == [("name", 0, 1), ("address", 3, 3), ("company", 4, 6)]
    # a stray I is ignored; a lone B is a one-character entity; a type change closes the entity
    assert bios_to_spans(["I-name", "B-game", "O", "B-book", "I-book", "I-name"]) == [("game", 1, 1), ("book", 3, 4)]
    with pytest.raises(ValueError, match="overlaps"):
        spans_to_bios(5, [("name", 0, 2), ("game", 2, 3)])
    with pytest.raises(ValueError, match="outside"):
        spans_to_bios(3, [("name", 2, 3)])
    assert bios_labels(["name", "game"]) == ["O", "B-name", "I-name", "S-name", "B-game", "I-game", "S-game"]
    gold = [[("name", 0, 1), ("address", 3, 5)], [("company", 0, 3)]]
    pred = [[("name", 0, 1), ("address", 3, 4)], [("company", 0, 3), ("game", 5, 6)]]
    scores = entity_scores(pred, gold)
    precision, recall = 2 / 4, 2 / 3
    assert scores["precision"] == pytest.approx(100 * precision)
    assert scores["recall"] == pytest.approx(100 * recall)
    assert scores["f1"] == pytest.approx(100 * 2 * precision * recall / (precision + recall))
    # per gold type, as CLUENER 2020's scorer lists them ("game" was predicted only: not listed)
    assert scores["per_type"] == {
        "address": {"precision": 0.0, "recall": 0.0, "f1": 0.0},
        "company": {"precision": 100.0, "recall": 100.0, "f1": 100.0},
        "name": {"precision": 100.0, "recall": 100.0, "f1": 100.0},
    }


def test_tagging_labels_follow_characters(glycebert_dir, clue_data):
    from chinese_ptm.finetune.tasks.tagging import decode_tags

    spec = get_task("cluener")
    split = read_split(spec, clue_data / "cluener_public", "train", hp())
    encoder = Encoder(
        task_of(spec), load_run_tokenizer(glycebert_dir, "glycebert"), hp(), with_pinyin=True, progress=False
    )
    encoded = encoder.encode(split.examples, train=True)
    tags = bios_labels(spec.labels)
    # logits that put all mass on the gold labels decode back to the gold entities
    logits = []
    for feature in encoded.features:
        one_hot = np.zeros((len(feature["labels"]), len(tags)))
        for t, label in enumerate(feature["labels"]):
            one_hot[t, label if label >= 0 else 0] = 1
        logits.append(one_hot)
    assert decode_tags(logits, encoded, split.examples, tags) == [e.entities for e in split.examples]


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------


def test_missing_files(tmp_path):
    (tmp_path / "tnews_public").mkdir()
    with pytest.raises(ClueDataError, match=r"tnews_public: no train file for tnews \(looked for train.json\)"):
        read_split(get_task("tnews"), tmp_path / "tnews_public", "train", hp())
    assert read_split(get_task("afqmc"), write_task(tmp_path, "afqmc"), "test", hp()) is not None
    (tmp_path / "afqmc_public" / "test.json").unlink()
    assert read_split(get_task("afqmc"), tmp_path / "afqmc_public", "test", hp()) is None
    directory = write_task(tmp_path, "chid")
    (directory / "dev_answer.json").unlink()
    with pytest.raises(ClueDataError, match="dev_answer.json: missing"):
        read_split(get_task("chid"), directory, "dev", hp())


def test_malformed_line_and_unknown_label(tmp_path):
    directory = write_task(tmp_path, "tnews")
    path = directory / "train.json"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:2] + ['{"label": "101", "sentence": '] + lines[2:]) + "\n", encoding="utf-8")
    with pytest.raises(ClueDataError, match=r"train.json:3: malformed JSON line"):
        read_split(get_task("tnews"), directory, "train", hp())
    path.write_text("\n".join(lines[:3] + ['{"label": "105", "sentence": "北京"}']) + "\n", encoding="utf-8")
    with pytest.raises(ClueDataError, match=r"train.json:4: field 'label': unknown label '105' for tnews"):
        read_split(get_task("tnews"), directory, "train", hp())
    path.write_text('{"label": "101"}\n', encoding="utf-8")
    with pytest.raises(ClueDataError, match=r"train.json:1: missing field 'sentence'"):
        read_split(get_task("tnews"), directory, "train", hp())


def test_nli_dash_labels_are_skipped_and_counted(tmp_path):
    split = read_split(get_task("ocnli"), write_task(tmp_path, "ocnli"), "train", hp())
    assert [p.name for p in split.files] == ["train.50k.json"]
    assert len(split.examples) == 3 and split.skipped == {"label '-'": 1}


def test_cluener_bad_spans(tmp_path):
    directory = tmp_path / "cluener_public"
    for label, message in [
        ({"name": {"小明": [[8, 9]]}}, r"field 'label.name.小明': span \[8, 9\] lies outside the text \(9 characters"),
        ({"name": {"小明": [[1, 2]]}}, r"field 'label.name.小明': the text at \[1, 2\] reads '明在', not '小明'"),
        ({"person": {"小明": [[0, 1]]}}, r"unknown entity type 'person'"),
        ({"name": {"小明": [[0, 1]]}, "address": {"明在": [[1, 2]]}}, "overlaps"),
    ]:
        write_lines(directory / "train.json", [CLUENER_ROWS[1], {"text": "小明在北京银行工作", "label": label}])
        with pytest.raises(ClueDataError, match=r"train.json:2: .*" + message):
            read_split(get_task("cluener"), directory, "train", hp())


def test_cmrc_answer_not_at_its_start(tmp_path):
    document = cmrc_doc("TRAIN", "train")
    document["data"][0]["paragraphs"][0]["qas"][1]["answers"][0]["answer_start"] = 3
    write_json(tmp_path / "train.json", document)
    with pytest.raises(
        ClueDataError,
        match=r"train.json: data\[0\].paragraphs\[0\].qas\[1\] \(id TRAIN_1\): "
        r"field 'answers\[0\].answer_start': answer '上海' does not occur at 3",
    ):
        read_split(get_task("cmrc2018"), tmp_path, "train", hp())


def test_wsc_span_mismatch(tmp_path):
    row = wsc_row(0, "true")
    row["target"]["span2_index"] = 5
    write_lines(tmp_path / "train.json", [row])
    with pytest.raises(
        ClueDataError, match=r"train.json:1: field 'target.span2_index': span2_text '他' does not occur at 5"
    ):
        read_split(get_task("cluewsc2020"), tmp_path, "train", hp())


def test_cli_errors_are_one_line(tmp_path, glycebert_dir, capsys):
    directory = write_task(tmp_path, "tnews")
    (directory / "dev.json").write_text('{"label": "999", "sentence": "北京"}\n', encoding="utf-8")
    code = main(
        [
            "finetune",
            "clue",
            "tnews",
            "--model",
            str(glycebert_dir),
            "--data-dir",
            str(tmp_path),
            "--output-dir",
            str(tmp_path / "out"),
            "--max-steps",
            "1",
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert (
        err[-1].startswith("chinese-ptm finetune: error: ")
        and "dev.json:1: field 'label': unknown label '999'" in err[-1]
    )
    assert main(["finetune", "clue", "nosuchtask", "--model", str(glycebert_dir), "--data-dir", str(tmp_path)]) == 1
    assert "unknown CLUE task 'nosuchtask'" in capsys.readouterr().err
    assert main(["finetune", "clue", "tnews", "--model", str(tmp_path / "nope"), "--data-dir", str(tmp_path)]) == 1
    assert "no such directory" in capsys.readouterr().err
    assert (
        main(
            [
                "finetune",
                "clue",
                "tnews",
                "--model",
                str(glycebert_dir),
                "--data-dir",
                str(tmp_path),
                "--set",
                "learning_speed=3",
            ]
        )
        == 1
    )
    assert "--set learning_speed: unknown setting" in capsys.readouterr().err
    assert main(["finetune", "clue", "all", "--model", str(glycebert_dir), "--data-dir", str(tmp_path / "out")]) == 1
    assert "no such directory" in capsys.readouterr().err


def test_task_table_and_hyperparameters():
    assert get_task("wsc") is TASKS["cluewsc2020"] and get_task("CLUENER2020") is TASKS["cluener"]
    assert {spec.submission for spec in TASKS.values()} == {
        "afqmc_predict.json",
        "tnews11_predict.json",
        "iflytek_predict.json",
        "ocnli_50k_predict.json",
        "cmnli_predict.json",
        "cluewsc11_predict.json",
        "csl_predict.json",
        "cmrc2018_predict.json",
        "chid11_predict.json",
        "c311_predict.json",
        "cluener_predict.json",
    }
    from chinese_ptm.errors import SettingsError
    from chinese_ptm.finetune.clue_runs import clue_config

    cmrc = clue_config(TASKS["cmrc2018"], "m", "d", "o")
    assert (cmrc.task.max_length, cmrc.task.stride, cmrc.training.learning_rate, cmrc.training.num_train_epochs) == (
        512,
        128,
        3e-5,
        2,
    )
    tnews = clue_config(TASKS["tnews"], "m", "d", "o")
    assert (tnews.training.learning_rate, tnews.training.num_train_epochs, tnews.task.max_length) == (2e-5, 3, 128)
    changed = clue_config(
        TASKS["tnews"],
        "m",
        "d",
        "o",
        {
            "learning_rate": "5e-5",
            "num_train_epochs": "2",
            "per_device_train_batch_size": "8",
            "max_length": "256",
            "training.fp16": "true",
        },
    )
    t = changed.training
    assert (t.learning_rate, t.num_train_epochs, t.per_device_train_batch_size, changed.task.max_length, t.fp16) == (
        5e-5,
        2.0,
        8,
        256,
        True,
    )
    with pytest.raises(SettingsError, match="per_device_train_batch_size: 2.5 is not a valid value"):
        clue_config(TASKS["tnews"], "m", "d", "o", {"per_device_train_batch_size": "2.5"})
    assert math.isclose(tnews.training.warmup_steps, 0.1)
