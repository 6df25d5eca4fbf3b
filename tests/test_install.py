"""The package as users get it: a wheel installed into a fresh environment, used from a directory
outside the checkout (no editable install), and the Python floor it declares."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

#: blocks the optional extras inside the test environment: a core install has neither
CORE_ONLY = """
import sys
for _name in ("tensorboard", "tensorboardX", "matplotlib"):
    sys.modules[_name] = None  # import fails, importlib.util.find_spec says absent
"""


def _floor(spec: str | None) -> tuple[int, int]:
    found = re.search(r">=\s*(\d+)\.(\d+)", spec or "")
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def test_requires_python_is_the_real_minimum():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    floor = _floor(declared)
    needed = max(
        _floor(importlib.metadata.metadata(dist).get("Requires-Python"))
        for dist in ("transformers", "torch", "datasets", "accelerate", "numpy")
    )
    uses_tomllib = any("import tomllib" in p.read_text(encoding="utf-8") for p in (ROOT / "chinese_ptm").rglob("*.py"))
    assert floor == max(needed, (3, 11) if uses_tomllib else (3, 0)), (declared, needed)
    assert f"Python >= {floor[0]}.{floor[1]}" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert sys.version_info[:2] >= floor


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh virtual environment with the wheel installed (dependencies shared with this one, extras hidden)."""
    base = tmp_path_factory.mktemp("install")
    build = subprocess.run(
        [PY, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(ROOT), "-w", str(base / "dist")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (base / "dist").glob("*.whl")
    venv = base / "venv"
    subprocess.run([PY, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "_shared_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (site / "sitecustomize.py").write_text(CORE_ONLY)
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    work = base / "elsewhere"
    work.mkdir()
    return {"wheel": wheel, "venv": venv, "python": python, "work": work}


def _run(installed, *command, timeout=900) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(OMP_NUM_THREADS="2", HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        [str(c) for c in command], cwd=installed["work"], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"{command}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_wheel_carries_the_bundled_data(installed):
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    for wanted in (
        "_bundled/vocab/vocab.txt",
        "_bundled/vocab/config/pinyin2tensor.json",
        "_bundled/vocab/glyphs.npz",
        "_bundled/vocab/words/vocab.txt",
        "_bundled/fonts/fonts.toml",
        "_bundled/fonts/ptm-kai.ttf",
        "_bundled/fonts/ptm-kai.OFL.txt",
        "_bundled/recipes/chinesebert-tiny.yaml",
        "_bundled/recipes/deepspeed/zero2.json",
        "_bundled/recipes/fsdp.json",
        "attention/assets/view.js",
        "attention/assets/view.css",
    ):
        assert f"chinese_ptm/{wanted}" in names, wanted


@pytest.mark.slow
def test_installed_wheel_works_outside_the_checkout(installed):
    bin_dir = installed["venv"] / "bin"
    where = _run(installed, installed["python"], "-c", "import chinese_ptm; print(chinese_ptm.__file__)")
    assert str(installed["venv"]) in where and str(ROOT) not in where
    out = _run(installed, bin_dir / "chinese-ptm", "tokenize", "银行行长了解情况")
    assert "行/hang2" in out and "长/zhang3" in out
    _run(installed, bin_dir / "chinese-ptm", "glyphs", "sheet", "中文字形", "--out", "sheet.png")
    assert (installed["work"] / "sheet.png").stat().st_size > 1000
    out = _run(
        installed,
        bin_dir / "chinese-ptm",
        "pretrain",
        "chinesebert-tiny",
        "--max-steps",
        "3",
        "--output-dir",
        "run",
        "--set",
        "data.eval_records=16",
        "--set",
        "training.global_batch_size=8",
        "--set",
        "training.logging_steps=1",
    )
    assert "not installed, skipped: tensorboard" in out and "held-out MLM accuracy" in out
    report = json.loads((installed["work"] / "run" / "report.json").read_text())
    assert report["steps"] == 3 and report["loss_curve"] is None  # no matplotlib in a core install
    load = (
        "from chinese_ptm.modeling import GlyceBertForMaskedLM; from chinese_ptm import load_tokenizer; "
        "m = GlyceBertForMaskedLM.from_pretrained('run/final'); t = load_tokenizer('run/final'); "
        "out = m(**t('我喜欢北京', return_tensors='pt')); print(tuple(out.logits.shape), len(t))"
    )
    assert "(1, 7, 12898) 12898" in _run(installed, installed["python"], "-c", load)
    out = _run(installed, bin_dir / "chinese-ptm", "attention", "run/final", "银行行长", "--out", "view.html")
    page = (installed["work"] / "view.html").read_text(encoding="utf-8")
    assert "wrote view.html" in out and "行 hang2" in out and "function drawHeadView" in page
