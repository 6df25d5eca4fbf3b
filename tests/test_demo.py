"""The main job and `chinese-ptm evaluate`: pretrained vs scratch on the embedded tasks, fill-mask on held-out
sentences, a report that opens offline (no scripts, no external resources)."""

from __future__ import annotations

import json
import re

import pytest

from chinese_ptm.apps import report as html


def test_report_page_is_self_contained():
    import numpy as np

    chart = html.line_chart({"loss": [(0, 6.0), (10, 4.5), (20, 3.9)]}, "step", "loss")
    glyph = html.glyph_image(np.random.default_rng(0).integers(0, 256, (3, 24, 24), dtype=np.uint8))
    page = html.page("t", [html.section("s", chart, html.table(["a", "b"], [["<x>", 1.5]]), glyph)])
    assert "<svg" in page and "data:image/png;base64," in page and "&lt;x&gt;" in page
    assert not re.search(r"<script|<link|src=\"http|href=\"http|@import", page)


@pytest.mark.slow
def test_demo_end_to_end_with_a_small_budget(tmp_path):
    """The demo's whole path on a few steps: pretraining, the comparison with scratch and the baselines on both
    tasks, fill-mask on held-out sentences, report.html and report.json."""
    from chinese_ptm.apps.demo import run

    budget = {
        "task.max_train_examples": 48,
        "task.limit": 60,
        "training.num_train_epochs": 1,
        "training.per_device_train_batch_size": 16,
    }
    report = run(tmp_path / "demo", max_steps=4, evaluation=budget)
    tasks = {t["task"]: t for t in report["evaluation"]["tasks"]}
    assert set(tasks) == {"reviews", "pd98-ner"}
    for task in tasks.values():
        assert {"pretrained", "scratch", "difference", "baselines"} <= set(task)
        assert task["difference"] == pytest.approx(task["pretrained"]["mean"] - task["scratch"]["mean"])
    assert "naive Bayes (chars + bigrams)" in tasks["reviews"]["baselines"]
    assert "entity dictionary" in tasks["pd98-ner"]["baselines"]
    for mask in report["fill_mask"]:
        assert len(mask["predictions"]) == 5 and mask["reading"]
        assert sum(p["probability"] for p in mask["predictions"]) <= 1.0 + 1e-6
    from chinese_ptm.data.corpora import peoples_daily_lines

    pretraining = set(peoples_daily_lines(splits=("train",)))
    assert not any(m["text"] in pretraining for m in report["fill_mask"])  # held-out sentences
    page = (tmp_path / "demo" / "report.html").read_text(encoding="utf-8")
    assert "<svg" in page and "data:image/png" in page and "<script" not in page
    saved = json.loads((tmp_path / "demo" / "report.json").read_text(encoding="utf-8"))
    assert saved["pretrain"]["steps"] == 4 and (tmp_path / "demo" / "evaluate" / "evaluation.json").is_file()


def test_evaluate_picks_a_learning_rate_by_the_models_width(tmp_path):
    """Tiny models at 1e-3; from width 256 (where 1e-3 made a 4 x 256 model collapse) 3e-4; base and up 5e-5."""
    from chinese_ptm.apps.evaluate import default_learning_rate

    rates = {}
    for width in (128, 256, 512, 768):
        (tmp_path / str(width)).mkdir()
        (tmp_path / str(width) / "config.json").write_text(json.dumps({"hidden_size": width}), encoding="utf-8")
        rates[width] = default_learning_rate(tmp_path / str(width))
    assert rates == {128: 1e-3, 256: 3e-4, 512: 3e-4, 768: 5e-5}
