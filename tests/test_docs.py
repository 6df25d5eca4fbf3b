"""The documentation: the MkDocs site builds under --strict (links, anchors, navigation), the README's links
resolve, and every code block marked runnable (an HTML comment line `<!-- runnable -->` directly above its
fence) in README.md and docs/*.md runs and exits 0: Python blocks with this interpreter, bash blocks under
`bash -e` with this interpreter's bin/ (the `chinese-ptm` command) first on PATH, each in a fresh folder."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MARKER = "<!-- runnable -->"
FENCE = re.compile(r"^```(\w+)\s*$")
LANGUAGES = ("python", "bash")
BLOCK_TIMEOUT_S = 120


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def documentation_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def parse_runnable(path: Path) -> tuple[list[Block], list[str]]:
    """The blocks of a page marked runnable, and the markers that mark nothing (a marker must stand directly
    above a ```python or ```bash fence, so that a typo cannot silently drop a block from the checks)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, problems = [], []
    for i, line in enumerate(lines):
        if line.strip() != MARKER:
            continue
        where = f"{path.relative_to(ROOT)}:{i + 1}"
        opening = FENCE.match(lines[i + 1]) if i + 1 < len(lines) else None
        if opening is None or opening.group(1) not in LANGUAGES:
            problems.append(f"{where}: {MARKER} is not directly above a ```python or ```bash fence")
            continue
        end = next((j for j in range(i + 2, len(lines)) if lines[j].strip() == "```"), None)
        if end is None:
            problems.append(f"{where}: the marked code block is not closed")
            continue
        blocks.append(Block(path, i + 2, opening.group(1), "\n".join(lines[i + 2 : end]) + "\n"))
    return blocks, problems


BLOCKS = [block for page in documentation_pages() for block in parse_runnable(page)[0]]


def test_runnable_markers_mark_code_blocks():
    problems = [problem for page in documentation_pages() for problem in parse_runnable(page)[1]]
    assert not problems, problems


def test_mkdocs_builds_strict(tmp_path):
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install mkdocs==1.6.1): the site build is not checked")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    built = {p.relative_to(tmp_path / "site").as_posix() for p in (tmp_path / "site").rglob("index.html")}
    for page in sorted(DOCS.glob("*.md")):
        expected = "index.html" if page.stem == "index" else f"{page.stem}/index.html"
        assert expected in built, f"{page.name} was not built"


def test_every_page_is_in_the_nav():
    """Strict mode fails on pages left out of the navigation only with the config's validation settings: check
    the list here too, so the check does not depend on them."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r":\s*([\w-]+\.md)\s*$", config, flags=re.MULTILINE))
    assert listed == {p.name for p in DOCS.glob("*.md")}


def test_readme_links_resolve():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)\s]*)?\)", text)
    local = [t for t in targets if "://" not in t and not t.startswith("mailto:")]
    assert local, "the README links to no documentation page"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, missing


def test_readme_keeps_the_set_up_commands_first():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# chinese_ptm"
    first_code = lines[lines.index("```bash") + 1 : lines.index("```bash") + 3]
    assert [line.split()[:2] for line in first_code] == [["make", "demo"], ["make", "test"]]


def test_some_blocks_are_runnable():
    pages = {block.path.name for block in BLOCKS}
    assert "README.md" in pages and len(BLOCKS) >= 5, [b.name for b in BLOCKS]


def run_block(block: Block, folder: Path) -> tuple[int | None, str]:
    """(exit status or None on timeout, output tail) of one block run in its own empty folder."""
    work = folder / "work"
    work.mkdir(parents=True)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_DATASETS_CACHE": str(folder / "datasets-cache"),
        "PYTHONIOENCODING": "utf-8",
        "TOKENIZERS_PARALLELISM": "false",
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    }
    script = folder / ("block.py" if block.language == "python" else "block.sh")
    script.write_text(block.code, encoding="utf-8")
    command = [sys.executable, str(script)] if block.language == "python" else ["bash", "-e", str(script)]
    try:
        proc = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {BLOCK_TIMEOUT_S} s"
    return proc.returncode, f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"


@pytest.fixture(scope="session")
def block_results(tmp_path_factory) -> dict[str, tuple[int | None, str]]:
    """Every runnable block, run two or more at a time (each is mostly interpreter start-up and imports)."""
    base = tmp_path_factory.mktemp("runnable")
    workers = max(2, min(4, os.cpu_count() or 2))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {block.name: pool.submit(run_block, block, base / f"block{i}") for i, block in enumerate(BLOCKS)}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.name)
def test_runnable_block(block: Block, block_results):
    status, output = block_results[block.name]
    assert status == 0, f"{block.name} ({block.language}) exited {status}:\n{output}"
