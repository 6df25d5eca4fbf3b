"""The runtime under the runners: batch plans for any world size, the dry run (also as the README
writes it), preparation once per shared filesystem or node, crash-safe prepared records, logging
integrations that are not installed, the vocabulary guard."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from chinese_ptm.pretrain.recipe import bundled_recipe_names, load_recipe, stage_recipes
from chinese_ptm.runtime import UserError, plan_batches, run_once

PY = sys.executable
ROOT = Path(__file__).resolve().parents[1]
WORLD_SIZES = (1, 2, 3, 4, 6, 8, 16, 64)


# --------------------------------------------------------------------------------------------------
# batch plans


@pytest.mark.parametrize("name", bundled_recipe_names())
def test_every_recipe_and_stage_has_a_plan_for_every_world_size(name):
    from chinese_ptm.runtime.trainer import batch_plan

    for stage in stage_recipes(load_recipe(name)):
        wanted, ceiling = stage.training.global_batch_size, stage.training.micro_batch_size
        for world in WORLD_SIZES:
            plan = batch_plan(stage.training, world)
            assert plan.global_batch == world * plan.per_device_batch * plan.accumulation
            assert 1 <= plan.per_device_batch <= ceiling
            assert plan.exact == (wanted % world == 0), (stage.name, world, plan)
            if not plan.exact:
                assert abs(plan.global_batch - wanted) < world and "instead" in plan.warning()
                assert str(wanted) in plan.warning() and str(plan.global_batch) in plan.warning()


def test_plan_details():
    plan = plan_batches(3200, 8, 32)  # the ChineseBERT recipe on 8 GPUs: 400 per device = 16 x 25
    assert (plan.per_device_batch, plan.accumulation, plan.global_batch, plan.warning()) == (25, 16, 3200, None)
    assert plan_batches(32, 2, 32).to_dict()["per_device_batch"] == 16  # the tiny recipe under 2 processes
    odd = plan_batches(32, 3, 32)
    assert (odd.global_batch, odd.per_device_batch, odd.accumulation) == (33, 11, 1)
    assert plan_batches(32, 64, 32).global_batch == 64  # fewer sequences than devices: one each
    assert "small" in plan_batches(2 * 37, 2, 32).warning()  # 37 per device is prime: micro-batches of 1
    with pytest.raises(ValueError, match="world size"):
        plan_batches(32, 0, 8)


# --------------------------------------------------------------------------------------------------
# the dry run, and the README's multi-GPU commands


def _dry_run(args: list[str], world: int, cwd: Path) -> list[dict]:
    env = {**os.environ, "WORLD_SIZE": str(world), "RANK": "0", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": str(world)}
    proc = subprocess.run(
        [PY, "-m", "chinese_ptm.pretrain", *args, "--dry-run"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_the_dry_run_shows_the_model_it_would_build(tmp_path):
    albert, electra = (_dry_run([recipe], 1, tmp_path)[0]["model"] for recipe in ("albert-tiny", "electra-tiny"))
    assert (albert["embedding_size"], albert["share_layers"], albert["objective"]) == (64, "all", "mlm")
    assert electra["objective"] == "electra" and electra["embedding_size"] is None
    assert 0 < albert["parameters"] < electra["parameters"]  # factorised and shared: fewer weights
    memory = albert["memory_per_device_gib"]
    assert memory["weights_gradients_optimizer"] > 0 and memory["activations_estimate"] > 0


def readme_torchrun_commands() -> list[tuple[int, list[str]]]:
    """(processes, arguments after `-m chinese_ptm.pretrain`) of every torchrun line of the README and the
    documentation pages (docs/*.md)."""
    commands = []
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for line in (text for page in pages for text in page.read_text(encoding="utf-8").splitlines()):
        line = line.split("  #")[0].strip()
        words = shlex.split(line) if line.startswith("torchrun") else []
        module = next((w for w in words if w in ("chinese_ptm.pretrain", "chinese_ptm.pretrain.runner")), None)
        if module is not None and words[words.index(module) - 1] == "-m":
            nodes = int(words[words.index("--nnodes") + 1]) if "--nnodes" in words else 1
            per_node = int(words[words.index("--nproc_per_node") + 1])
            commands.append((nodes * per_node, words[words.index(module) + 1 :]))
    return commands


@pytest.mark.slow
def test_readme_multi_gpu_commands_resolve_to_exact_plans(tmp_path):
    commands = readme_torchrun_commands()
    assert len(commands) >= 3
    for world, args in commands:
        args = [a for a in args if a != "--dry-run"]
        args = [str(tmp_path / "corpus.txt") if a.startswith("corpus/") else a for a in args]
        for plan in _dry_run(args, world, tmp_path):
            assert plan["world_size"] == world and plan["exact"], (args, plan)
            assert plan["tokens_per_step"] == plan["global_batch"] * plan["sequence_length"]
            for key in (
                "per_device_batch",
                "accumulation",
                "max_steps",
                "warmup_steps",
                "precision",
                "optimizer",
                "data",
                "output_dir",
            ):
                assert key in plan


@pytest.mark.slow
def test_dry_run_under_torchrun_prints_once(tmp_path):
    cmd = [
        PY,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29531",
        "-m",
        "chinese_ptm.pretrain",
        "chinesebert-tiny",
        "--dry-run",
    ]
    proc = subprocess.run(
        cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (plan,) = json.loads(proc.stdout)
    wanted = load_recipe("chinesebert-tiny").training.global_batch_size
    assert (plan["world_size"], plan["per_device_batch"], plan["global_batch"]) == (2, wanted // 2, wanted)
    assert not (tmp_path / "runs").exists()  # nothing prepared, nothing trained


# --------------------------------------------------------------------------------------------------
# work done once


def test_run_once_leader_works_followers_wait(tmp_path, monkeypatch):
    target = tmp_path / "data"
    done = []

    def work():
        time.sleep(0.3)
        target.mkdir()
        done.append(os.environ.get("RANK"))

    monkeypatch.setenv("RANK", "1")
    waiter = threading.Thread(
        target=run_once, args=(target, target.is_dir, work), kwargs={"poll_s": 0.05, "timeout_s": 30}
    )
    waiter.start()  # a follower: waits, never works
    monkeypatch.setenv("RANK", "0")
    assert run_once(target, target.is_dir, work, poll_s=0.05) is True
    waiter.join(10)
    assert not waiter.is_alive() and done == ["0"]
    assert run_once(target, target.is_dir, work) is False  # ready: nothing to do
    assert not (tmp_path / ".data.lock").exists()


def test_run_once_node_scope_and_timeout(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "0")
    target = tmp_path / "local"
    assert run_once(target, target.is_dir, target.mkdir, scope="node") is True  # local rank 0 of node 2
    monkeypatch.setenv("LOCAL_RANK", "1")
    never = tmp_path / "never"
    with pytest.raises(UserError, match="prepare_timeout_minutes"):
        run_once(never, never.is_dir, never.mkdir, scope="node", timeout_s=0.2, poll_s=0.05)


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    import socket

    dead = subprocess.run([PY, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout
    (tmp_path / ".data.lock").write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead)}))
    target = tmp_path / "data"
    assert run_once(target, target.is_dir, target.mkdir, poll_s=0.05, timeout_s=5) is True


def test_a_crashed_preparation_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    import datasets

    from chinese_ptm.data import PrepareConfig, is_prepared, prepare_corpus
    from chinese_ptm.text.tokenization import load_tokenizer

    corpus = tmp_path / "c.txt"
    corpus.write_text("我喜欢北京。\n银行行长了解情况。\n\n今天天气很好。\n", encoding="utf-8")
    tokenizer, cfg, out = load_tokenizer(), PrepareConfig(max_length=32), tmp_path / "prepared"
    prepare_corpus([corpus], tokenizer, config=cfg, output_dir=out, progress=False)
    assert is_prepared(out, [corpus], tokenizer, cfg)
    corpus.write_text("另一个语料。\n", encoding="utf-8")  # stale now: the next run prepares again

    def crash(self, *args, **kwargs):
        raise KeyboardInterrupt  # killed while writing the records

    monkeypatch.setattr(datasets.Dataset, "save_to_disk", crash)
    with pytest.raises(KeyboardInterrupt):
        prepare_corpus([corpus], tokenizer, config=cfg, output_dir=out, progress=False)
    assert not is_prepared(out, [corpus], tokenizer, cfg)
    assert len(datasets.load_from_disk(str(out))) >= 1  # the previous complete records are untouched
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".prepared")] == []


@pytest.mark.slow
def test_two_nodes_prepare_one_shared_directory_once(tmp_path):
    """Two torchrun launches (--nnodes 2, gloo on this machine) against one prepared directory: only global
    rank 0 prepares, the other node waits for the records and both train to identical weights."""
    from chinese_ptm.data.corpora import peoples_daily_lines

    corpus = tmp_path / "news.txt"
    corpus.write_text("\n".join(peoples_daily_lines(300)) + "\n", encoding="utf-8")
    shared = tmp_path / "shared"
    common = [
        "-m",
        "chinese_ptm.pretrain",
        "chinesebert-tiny",
        "--train-files",
        str(corpus),
        "--output-dir",
        str(shared / "run"),
        "--max-steps",
        "2",
        "--set",
        "data.line_is_document=true",
        "--set",
        "data.eval_records=8",
        "--set",
        "training.report_to=none",
        "--set",
        "training.global_batch_size=8",
        "--set",
        "training.logging_steps=1",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [
                PY,
                "-m",
                "torch.distributed.run",
                "--nnodes",
                "2",
                "--node_rank",
                str(node),
                "--nproc_per_node",
                "1",
                "--master_addr",
                "127.0.0.1",
                "--master_port",
                "29533",
                *common,
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for node in (0, 1)
    ]
    outs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs[0][-3000:] + outs[1][-3000:]
    assert "rank 0 prepares" in outs[0] and "prepares" not in outs[1]
    report = json.loads((shared / "run" / "report.json").read_text())
    assert report["world_size"] == 2 and len(set(report["rank_weight_digests"])) == 1
    assert not list(shared.glob("run/.data.*"))  # no lock, no staging folder left behind


# --------------------------------------------------------------------------------------------------
# logging integrations, vocabulary guard


def test_missing_logging_integrations_are_skipped(monkeypatch, caplog):
    import transformers.integrations

    from chinese_ptm.runtime import trainer as training

    monkeypatch.setattr(transformers.integrations, "get_available_reporting_integrations", lambda: ["wandb"])
    with caplog.at_level("WARNING"):
        assert training.active_loggers(["tensorboard", "wandb"]) == ["wandb"]
    assert re.search(r"logging to: wandb; not installed, skipped: tensorboard", caplog.text)
    assert training.active_loggers(["none"]) == []


def test_vocabulary_mismatch_stops_with_both_sizes(tmp_path):
    from transformers import BertConfig, BertForMaskedLM

    from chinese_ptm.modeling.factory import build_model

    checkpoint = tmp_path / "bert"
    BertForMaskedLM(
        BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    ).save_pretrained(checkpoint)
    recipe = load_recipe("roberta-wwm-ext-tiny", {"model.init_from": str(checkpoint)})
    from chinese_ptm.text.tokenization import load_tokenizer

    tokenizer = load_tokenizer()
    with pytest.raises(UserError, match=rf"vocab_size 99, the tokenizer the bundled vocabulary has {len(tokenizer)}"):
        build_model(recipe.model, tokenizer)
