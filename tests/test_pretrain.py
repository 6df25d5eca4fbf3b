import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from chinese_ptm.errors import UserError
from chinese_ptm.pretrain.recipe import RecipeError, bundled_recipe_names, load_recipe, stage_recipes

PY = sys.executable
RECIPES = bundled_recipe_names()
TINY = [r for r in RECIPES if r.endswith("-tiny")]


@pytest.mark.parametrize("name", RECIPES)
def test_every_recipe_loads_and_validates(name):
    recipe = load_recipe(name)
    for stage in stage_recipes(recipe):
        assert stage.data.max_length <= stage.model.max_position_embeddings


def test_recipe_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: chinesebert-tiny\ntraining:\n  learning_rat: 1\n")
    with pytest.raises(RecipeError, match="unknown key 'learning_rat'"):
        load_recipe(bad)
    bad.write_text("extends: chinesebert-tiny\nmasking:\n  strategy: whole\n")
    with pytest.raises(RecipeError, match="masking.strategy: 'whole' is not one of"):
        load_recipe(bad)
    with pytest.raises(RecipeError, match="training.max_steps: .many. is not a valid value"):
        load_recipe("chinesebert-tiny", {"training.max_steps": "many"})
    with pytest.raises(RecipeError, match="exceeds model.max_position_embeddings"):
        load_recipe("chinesebert-tiny", {"data.max_length": 1024})
    with pytest.raises(RecipeError, match="no such recipe"):
        load_recipe("no-such-recipe")


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    from chinese_ptm.data.corpora import peoples_daily_lines

    path = tmp_path_factory.mktemp("corpus") / "news.txt"
    path.write_text("\n".join(peoples_daily_lines(400)) + "\n", encoding="utf-8")
    return path


def run_cli(argv: list[str]) -> list[dict]:
    """The reports of a pretraining run given as command-line arguments (the Python path of main)."""
    from chinese_ptm.cli import build_parser
    from chinese_ptm.pretrain.cli import recipe_from_args
    from chinese_ptm.pretrain.runner import run

    return run(recipe_from_args(build_parser("pretrain").parse_args(["pretrain", *argv])))


def _args(corpus, out, steps, *extra):
    return [
        "--train-files",
        str(corpus),
        "--output-dir",
        str(out),
        "--max-steps",
        str(steps),
        "--set",
        "data.line_is_document=true",
        "--set",
        "data.eval_records=16",
        "--set",
        "training.logging_steps=2",
        "--set",
        "training.report_to=none",
        *extra,
    ]


@pytest.mark.slow
@pytest.mark.parametrize("name", TINY)
def test_tiny_recipes_train(name, small_corpus, tmp_path):
    reports = run_cli(
        [
            name,
            *_args(small_corpus, tmp_path / name, 4),
            "--set",
            "training.global_batch_size=8",
            "--set",
            "training.micro_batch_size=8",
        ]
    )
    assert isinstance(reports, list) and reports
    for report in reports:
        assert report["steps"] == 4 and report["tokens_seen"] > 0
        assert 0.0 <= report["heldout_mlm_accuracy"] <= 1.0
        assert Path(report["final_checkpoint"], "config.json").is_file()
        assert Path(report["final_checkpoint"], "vocab.txt").is_file()
    if name == "chinesebert-tiny":
        from chinese_ptm.modeling import GlyceBertForMaskedLM
        from chinese_ptm.text.tokenization import GlyceBertTokenizer

        model = GlyceBertForMaskedLM.from_pretrained(reports[0]["final_checkpoint"])
        assert model.config.use_glyph and model.config.use_pinyin
        # a new GlyceBERT draws open glyphs in the glyph table's fonts, and its saved tokenizer gives glyph_ids
        assert model.config.open_glyph_fonts == ["serif", "kai", "sans"]
        assert GlyceBertTokenizer.from_pretrained(reports[0]["final_checkpoint"]).open_glyphs
    if name == "ambert-tiny":  # both views saved: the character view's tokenizer beside the weights
        from chinese_ptm.modeling.ambert import AmbertForPreTraining

        model = AmbertForPreTraining.from_pretrained(reports[0]["final_checkpoint"])
        assert model.config.word_vocab_size > model.config.vocab_size and model.config.use_glyph
        # held-out MLM of each view: the word view masks fewer tokens (a word is one)
        assert 0 < reports[0]["heldout_word_masked_tokens"] < reports[0]["heldout_masked_tokens"]
        assert 0.0 <= reports[0]["heldout_word_mlm_accuracy"] <= 1.0
    if name == "bert-wwm-ext-tiny":
        assert reports[1]["resumed_from"] is None and "seq128" in reports[1]["final_checkpoint"]


@pytest.mark.slow
def test_requires_init_is_reported(small_corpus, tmp_path, capsys):
    from chinese_ptm.cli import main

    assert main(["pretrain", "macbert", "--output-dir", str(tmp_path)]) == 1
    assert "model.init_from" in capsys.readouterr().err


def _run_cli(args, env=None, **kw):
    return subprocess.Popen(
        [PY, "-m", "chinese_ptm.pretrain", *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,
    )


def _stop_after_checkpoint(common, small_corpus, out, signum):
    """Start a run and send ``signum`` once its first checkpoint is on disk; returns (exit status, output)."""
    proc = _run_cli(common + _args(small_corpus, out, 10))
    deadline = time.time() + 600
    while not (out / "checkpoint-4" / "manifest.json").is_file():  # written last
        assert proc.poll() is None and time.time() < deadline, (
            proc.stdout.read() if proc.poll() is not None else "timeout"
        )
        time.sleep(0.05)
    proc.send_signal(signum)
    out_text, _ = proc.communicate(timeout=600)
    return proc.returncode, out_text


@pytest.mark.slow
def test_resume_after_kill_or_preemption_continues_the_same_run(small_corpus, tmp_path):
    """Kill -9 a run after its first checkpoint, or preempt it (SIGTERM, SIGUSR1): the preempted run saves at the
    end of its step and exits 75; the rerun resumes and ends as the uninterrupted run."""
    common = [
        "chinesebert-tiny",
        "--set",
        "training.save_steps=4",
        "--set",
        "training.global_batch_size=8",
        "--set",
        "training.micro_batch_size=8",
        "--set",
        "training.warmup_steps=2",
    ]
    straight = tmp_path / "straight"
    proc = _run_cli(common + _args(small_corpus, straight, 10))
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out

    a = json.loads((straight / "report.json").read_text())
    for signum in (signal.SIGKILL, signal.SIGTERM, signal.SIGUSR1):
        broken = tmp_path / signal.Signals(signum).name
        status, out = _stop_after_checkpoint(common, small_corpus, broken, signum)
        assert not (broken / "report.json").exists()
        if signum != signal.SIGKILL:
            assert status == 75 and "preempted" in out, out
            saved = out.split("saved ")[-1].split(";")[0]
            assert Path(saved).name != "checkpoint-4" and (Path(saved) / "manifest.json").is_file()
        proc = _run_cli(common + _args(small_corpus, broken, 10))
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out
        assert any(line.startswith("resuming from") for line in out.splitlines()), out

        b = json.loads((broken / "report.json").read_text())
        assert b["resumed_from"] and (signum != signal.SIGKILL or b["resumed_from"].endswith(("-4", "-8")))
        assert a["rank_weight_digests"] == b["rank_weight_digests"], signum
        assert a["heldout_mlm_loss"] == pytest.approx(b["heldout_mlm_loss"], abs=1e-6)
        assert a["tokens_seen"] == b["tokens_seen"]


@pytest.mark.slow
def test_preemption_under_torchrun_saves_on_every_rank_and_resumes(small_corpus, tmp_path):
    """SIGTERM to torchrun (as SLURM or Kubernetes send it): torchrun passes it to both ranks, which save one
    checkpoint together and stop; the same command run again resumes from it, both ranks' weights equal."""
    out = tmp_path / "ddp"
    cmd = [PY, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29518"]
    cmd += ["-m", "chinese_ptm.pretrain", "chinesebert-tiny", *_args(small_corpus, out, 12)]
    cmd += ["--set", "training.global_batch_size=8", "--set", "training.micro_batch_size=4"]
    cmd += ["--set", "training.save_steps=4"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.time() + 600
    while not (out / "checkpoint-4" / "manifest.json").is_file():
        assert proc.poll() is None and time.time() < deadline, proc.stdout.read() if proc.poll() is not None else ""
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    text, _ = proc.communicate(timeout=600)
    # torchrun answers its own SIGTERM with a status of its own; the ranks said they saved and stopped
    assert proc.returncode != 0 and "chinese-ptm pretrain: preempted: SIGTERM received: saved" in text, text[-3000:]
    saved = sorted(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))[-1]
    assert saved.name != "checkpoint-4" and (saved / "manifest.json").is_file()
    assert {p.name for p in saved.glob("rng_state_*.pth")} == {"rng_state_0.pth", "rng_state_1.pth"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["resumed_from"] == str(saved) and report["steps"] == 12
    assert len(set(report["rank_weight_digests"])) == 1


@pytest.mark.slow
def test_torchrun_two_cpu_ranks_end_with_identical_weights(small_corpus, tmp_path):
    out = tmp_path / "ddp"
    cmd = [
        PY,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29517",
        "-m",
        "chinese_ptm.pretrain",
        "chinesebert-tiny",
        *_args(small_corpus, out, 3),
        "--set",
        "training.global_batch_size=8",
        "--set",
        "training.micro_batch_size=4",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["world_size"] == 2
    digests = report["rank_weight_digests"]
    assert len(digests) == 2 and digests[0] == digests[1]


@pytest.mark.slow
def test_prepared_dataset_is_used_as_given(small_corpus, tmp_path):
    """A prepared dataset given without its corpus is trained on as it is, never prepared over."""
    from chinese_ptm.data import prepare_corpus
    from chinese_ptm.text.tokenization import load_tokenizer

    def train(prepared, *settings):
        out = tmp_path / f"run-{prepared.name}-{len(settings)}"  # a fresh run for each combination used
        args = ["chinesebert-tiny", "--output-dir", str(out), "--max-steps", "2"]
        settings += (f"data.prepared_dir={prepared}", "data.eval_records=8", "training.report_to=none")
        settings += ("training.global_batch_size=8", "training.micro_batch_size=8")
        return run_cli(args + [a for s in settings for a in ("--set", s)])

    opened, plain = tmp_path / "opened", tmp_path / "plain"
    ds = prepare_corpus(
        [small_corpus],
        load_tokenizer(open_glyphs=True),
        max_length=128,
        output_dir=opened,
        progress=False,
        line_is_document=True,
    )
    before = (opened / "prepare_meta.json").read_text()
    reports = train(opened)
    assert reports[0]["steps"] == 2 and reports[0]["data"]["records"] == len(ds)
    assert (opened / "prepare_meta.json").read_text() == before
    # records without glyph ids: a new GlyceBERT draws open glyphs, so the error names the setting to change
    prepare_corpus(
        [small_corpus], load_tokenizer(), max_length=128, output_dir=plain, progress=False, line_is_document=True
    )
    with pytest.raises(UserError, match="without open glyphs.*model.open_glyphs=false"):
        train(plain)
    assert train(plain, "model.open_glyphs=false")[0]["steps"] == 2
    # records with glyph ids serve a model that draws none
    assert train(opened, "model.architecture=bert")[0]["steps"] == 2


@pytest.mark.parametrize("architecture", ["bert", "glycebert"])
def test_untied_decoder_trains_on_its_own_and_survives_a_save(tmp_path, architecture):
    from chinese_ptm.modeling.factory import build_model
    from chinese_ptm.text.tokenization import load_tokenizer

    tokenizer = load_tokenizer()
    settings = {"model.architecture": architecture, "model.tie_word_embeddings": False}
    model = build_model(load_recipe("chinesebert-tiny", settings).model, tokenizer)
    decoder, words = model.get_output_embeddings().weight, model.get_input_embeddings().weight
    assert decoder.data_ptr() != words.data_ptr() and not torch.equal(decoder, words)
    before = decoder.detach().clone(), words.detach().clone()
    ids = torch.tensor([tokenizer("今天天气很好")["input_ids"]])
    labels = torch.full_like(ids, -100)
    labels[0, 2] = ids[0, 2]
    model(input_ids=ids, labels=labels).loss.backward()
    torch.optim.SGD(model.parameters(), lr=1.0).step()
    assert not torch.equal(decoder, before[0]) and not torch.equal(words, before[1])
    assert not torch.equal(decoder, words)
    model.save_pretrained(tmp_path)
    loaded = type(model).from_pretrained(tmp_path)
    assert torch.equal(loaded.get_output_embeddings().weight, decoder)
    assert loaded.get_output_embeddings().weight.data_ptr() != loaded.get_input_embeddings().weight.data_ptr()


def test_untied_decoder_is_refused_where_the_model_ties_by_design():
    from chinese_ptm.modeling.factory import build_model
    from chinese_ptm.text.tokenization import load_tokenizer

    recipe = load_recipe("albert-tiny", {"model.tie_word_embeddings": False})
    with pytest.raises(UserError, match="model.tie_word_embeddings false: only for a new bert or glycebert"):
        build_model(recipe.model, load_tokenizer())
