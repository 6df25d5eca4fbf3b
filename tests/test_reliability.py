"""What keeps a run's work on clusters: non-finite losses stop or skip, checkpoints carry manifests and a resume
skips the damaged ones, weight files that do not read stop in one line, and a preempted fine-tuning run resumes
to the uninterrupted run's results."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest
import torch
from conftest import save_tiny_glycebert
from safetensors.torch import load_file
from test_finetune import CHARS, SPECIALS, run_data, sentiment_rows, write_rows
from test_pretrain import _args, run_cli

from chinese_ptm.errors import UserError
from chinese_ptm.runtime.checkpoints import last_good_checkpoint, manifest_problem, write_manifest


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    from chinese_ptm.data.corpora import peoples_daily_lines

    path = tmp_path_factory.mktemp("corpus") / "news.txt"
    path.write_text("\n".join(peoples_daily_lines(200)) + "\n", encoding="utf-8")
    return path


def _poison_loss_at(monkeypatch, trainer_class, steps: set[int]):
    """Make the loss NaN at the given optimizer steps (1-based), as bf16 overflow or a bad batch would."""
    original = trainer_class.compute_loss

    def compute_loss(self, model, inputs, *args, **kwargs):
        loss = original(self, model, inputs, *args, **kwargs)
        if self.state.global_step + 1 in steps:
            loss = loss * torch.tensor(float("nan"))
        return loss

    monkeypatch.setattr(trainer_class, "compute_loss", compute_loss)


def _pretrain(corpus, out, steps, *settings):
    batch = ("training.global_batch_size=4", "training.micro_batch_size=4", "training.save_steps=2")
    sets = [a for s in (*batch, *settings) for a in ("--set", s)]
    return run_cli(["chinesebert-tiny", *_args(corpus, out, steps), *sets])


def test_a_non_finite_loss_stops_the_run_naming_step_loss_and_records(small_corpus, tmp_path, monkeypatch):
    from chinese_ptm.pretrain.runner import PretrainTrainer

    _poison_loss_at(monkeypatch, PretrainTrainer, {3})
    with pytest.raises(UserError, match=r"step 3: loss nan on records \[\d+, \d+, \d+, \d+\].*nonfinite_skips"):
        _pretrain(small_corpus, tmp_path / "run", 6)
    assert (tmp_path / "run" / "checkpoint-2" / "manifest.json").is_file()
    assert not (tmp_path / "run" / "checkpoint-4").exists()


def test_skipped_steps_leave_the_optimizer_alone_and_are_counted(small_corpus, tmp_path, monkeypatch):
    from chinese_ptm.pretrain.runner import PretrainTrainer

    _poison_loss_at(monkeypatch, PretrainTrainer, {3})
    report = _pretrain(small_corpus, tmp_path / "run", 6, "training.nonfinite_skips=1")[0]
    assert report["skipped_steps"] == [3] and report["steps"] == 6
    assert [h.get("skipped_steps") for h in report["log_history"] if "loss" in h] == [None, 1, 1]  # steps 2, 4, 6
    optimizer = torch.load(tmp_path / "run" / "checkpoint-6" / "optimizer.pt", weights_only=False)
    assert {int(s["step"]) for s in optimizer["state"].values()} == {5}  # six steps, one of them skipped
    assert all(torch.isfinite(t).all() for t in load_file(tmp_path / "run" / "final" / "model.safetensors").values())

    _poison_loss_at(monkeypatch, PretrainTrainer, {3, 4})  # two in a row where one may be skipped
    with pytest.raises(UserError, match="step 4: .* after 1 skipped steps in a row"):
        _pretrain(small_corpus, tmp_path / "again", 6, "training.nonfinite_skips=1")


def test_resume_takes_the_newest_checkpoint_whose_manifest_verifies(tmp_path, caplog):
    for step in (2, 4, 6, 8):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(os.urandom(1000))
        (folder / "trainer_state.json").write_text("{}")
        if step != 8:  # the newest was interrupted before its manifest
            write_manifest(folder)
    assert manifest_problem(tmp_path / "checkpoint-6") is None
    with open(tmp_path / "checkpoint-6" / "model.safetensors", "r+b") as f:
        f.truncate(600)
    data = bytearray((tmp_path / "checkpoint-4" / "model.safetensors").read_bytes())
    data[10] ^= 0xFF
    (tmp_path / "checkpoint-4" / "model.safetensors").write_bytes(bytes(data))
    with caplog.at_level("WARNING"):
        assert last_good_checkpoint(tmp_path) == str(tmp_path / "checkpoint-2")
    reasons = "\n".join(caplog.messages)
    assert "checkpoint-8: no manifest.json" in reasons
    assert "checkpoint-6: model.safetensors has 600 bytes, the manifest says 1000" in reasons
    assert "checkpoint-4: model.safetensors does not match its SHA-256" in reasons
    (tmp_path / "checkpoint-2" / "trainer_state.json").unlink()
    assert last_good_checkpoint(tmp_path) is None


@pytest.fixture(scope="module")
def glycebert_dir(tmp_path_factory) -> Path:
    tokens = SPECIALS + list(dict.fromkeys("，。_[]|abc0123456789" + CHARS))
    return save_tiny_glycebert(tmp_path_factory.mktemp("glycebert"), tokens, positions=64)


def test_weights_that_do_not_read_stop_in_one_line_naming_the_file(glycebert_dir, tmp_path, capsys):
    train = write_rows(tmp_path / "train.jsonl", sentiment_rows(8))
    files = {"train": train, "dev": train}
    cut = shutil.copytree(glycebert_dir, tmp_path / "cut")
    weights = cut / "model.safetensors"
    with open(weights, "r+b") as f:
        f.truncate(weights.stat().st_size - 100)
    assert run_data(cut, files, tmp_path / "out") == 1
    assert f"{weights}: " in capsys.readouterr().err

    shaped = shutil.copytree(glycebert_dir, tmp_path / "shaped")
    config = json.loads((shaped / "config.json").read_text())
    config["intermediate_size"] += 8
    (shaped / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match=f"{shaped}: its weights do not fit its config.json"):
        from chinese_ptm.runtime.loading import load_encoder

        load_encoder(shaped)


def test_a_preempted_finetuning_run_resumes_to_the_same_results(glycebert_dir, tmp_path, monkeypatch):
    """SIGTERM during the second seed: exit 75 with a checkpoint; the rerun keeps the first seed's results,
    resumes the second from the checkpoint and ends with the uninterrupted run's scores and model."""
    from chinese_ptm.finetune.runner import FinetuneTrainer

    d = tmp_path / "data"
    files = {
        "train": write_rows(d / "train.jsonl", sentiment_rows(16)),
        "dev": write_rows(d / "dev.jsonl", sentiment_rows(6, 1)),
    }
    seeds = ("--seeds", "1,2", "--set", "training.eval_strategy=steps", "--set", "training.eval_steps=2")
    seeds += ("--set", "training.load_best_model_at_end=false")  # the runs end with their last step's weights
    assert run_data(glycebert_dir, files, tmp_path / "straight", "single", *seeds) == 0
    original = FinetuneTrainer.training_step

    def preempted_step(self, model, inputs, num_items_in_batch=None):
        if self.args.seed == 2 and self.state.global_step == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # as a cluster would, mid-step
        return original(self, model, inputs, num_items_in_batch)

    monkeypatch.setattr(FinetuneTrainer, "training_step", preempted_step)
    assert run_data(glycebert_dir, files, tmp_path / "broken", "single", *seeds) == 75
    saved = tmp_path / "broken" / "seed-2" / "trainer" / "checkpoint-4"
    assert (saved / "manifest.json").is_file() and (tmp_path / "broken" / "seed-1" / "seed_result.pkl").is_file()
    monkeypatch.setattr(FinetuneTrainer, "training_step", original)
    assert run_data(glycebert_dir, files, tmp_path / "broken", "single", *seeds) == 0

    a = json.loads((tmp_path / "straight" / "results.json").read_text())
    b = json.loads((tmp_path / "broken" / "results.json").read_text())
    assert [r["resumed_from"] for r in b["runs"]] == [None, str(saved)]
    assert [r["dev"] for r in a["runs"]] == [r["dev"] for r in b["runs"]]
    assert [r["weights_digest"] for r in a["runs"]] == [r["weights_digest"] for r in b["runs"]]
    for name in ("predictions_dev.jsonl",):
        assert (tmp_path / "straight" / name).read_text() == (tmp_path / "broken" / name).read_text()
    assert not list((tmp_path / "broken").rglob("seed_result.pkl"))  # a whole run: a rerun trains again
