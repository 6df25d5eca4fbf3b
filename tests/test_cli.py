"""``chinese-ptm``: every command builds its parser and answers --help; user errors are one line, exit status 1."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys

import pytest

from chinese_ptm import cli
from chinese_ptm.cli import COMMANDS, main


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_builds_its_parser_and_help_exits_0(name, capsys):
    parser = cli.build_parser(name)
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args([name, "--help"])
    assert exit_.value.code == 0
    assert "usage:" in capsys.readouterr().out
    module, function = COMMANDS[name][0].split(":")  # the contract: add_parser(subparsers, name, help) sets run
    added = getattr(importlib.import_module(module), function)(argparse.ArgumentParser().add_subparsers(), name, "-")
    assert isinstance(added, argparse.ArgumentParser) and callable(added.get_default("run"))


def test_usage_and_unknown_command(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)
    assert main(["nosuchcommand"]) == 2
    assert "unknown command 'nosuchcommand'" in capsys.readouterr().err


def one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith(f"chinese-ptm {command}: error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_output_into_a_closed_pipe_ends_quietly():
    """``chinese-ptm --help | head``: the reader leaves first; no traceback, the status a shell tool gives (141)."""
    script = "import sys; from chinese_ptm.cli import main; sys.exit(main(['--help']))"
    done = subprocess.run(
        f'set -o pipefail; "{sys.executable}" -c "{script}" | true', shell=True, executable="bash", capture_output=True
    )
    assert done.stderr == b"" and done.returncode == 141


def test_convert_of_a_missing_checkpoint_is_one_line(tmp_path, capsys):
    assert main(["convert", "bert", "/nonexistent", str(tmp_path / "out")]) == 1
    line = one_line_error(capsys, "convert")
    assert "/nonexistent" in line and "config.json" in line
    assert not (tmp_path / "out").exists()


def test_vocab_of_a_missing_corpus_is_one_line(tmp_path, capsys):
    assert main(["vocab", "build", "--corpus", "/nonexistent", "--out", str(tmp_path)]) == 1
    assert "/nonexistent" in one_line_error(capsys, "vocab")


def test_tokenize_json(capsys):
    assert main(["tokenize", "银行行长", "--json"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["text"] == "银行行长" and record["tokens"] == ["[CLS]", "银", "行", "行", "长", "[SEP]"]
    assert record["pinyin"] == ["", "yin2", "hang2", "hang2", "zhang3", ""]
    assert len(record["input_ids"]) == 6


def test_commands_without_a_subcommand(capsys):
    assert main(["finetune"]) == 2  # usage
    assert "usage:" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:  # argparse: a required subcommand
        main(["glyphs"])
    assert exit_.value.code == 2


def test_predict_and_correct_of_a_missing_model_are_one_line(tmp_path, capsys):
    rows = tmp_path / "in.jsonl"
    rows.write_text('{"text": "很好"}\n', encoding="utf-8")
    assert main(["predict", "--model", str(tmp_path / "nope"), "--input", str(rows)]) == 1
    assert "task.json" in one_line_error(capsys, "predict")
    assert main(["correct", str(tmp_path / "nope"), "我再家"]) == 1
    assert "task.json" in one_line_error(capsys, "correct")
