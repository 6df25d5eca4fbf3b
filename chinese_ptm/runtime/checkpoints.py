"""Checkpoint manifests: what a complete checkpoint holds, written last, and the checks that read it.  [no torch]

Every checkpoint and saved model gets ``manifest.json`` (each file's path, size and SHA-256) once all its files
are written: a directory without one was interrupted while saving. Resuming takes the newest checkpoint whose
manifest verifies and says which newer ones it skipped and why. (Loading a model checks its weight files' own
headers instead: ``modeling.factory.load_pretrained``.)
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from ..glyph.fonts import sha256_file

logger = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.json"


def write_manifest(folder: str | Path) -> Path:
    """Write ``folder/manifest.json`` listing every file below it (written to a temporary name and renamed, so a
    manifest is either whole or absent)."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST_FILE)
    entries = {
        p.relative_to(folder).as_posix(): {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
        for p in files
        if not p.name.endswith(".tmp")
    }
    target = folder / MANIFEST_FILE
    partial = target.with_suffix(".json.tmp")
    partial.write_text(json.dumps({"files": entries}, indent=1) + "\n", encoding="utf-8")
    os.replace(partial, target)
    return target


def manifest_problem(folder: str | Path, hashes: bool = True) -> str | None:
    """Why ``folder`` is not a complete checkpoint (None when its manifest verifies): no manifest, a file missing,
    of another size, or (with ``hashes``) of other content."""
    folder = Path(folder)
    manifest = folder / MANIFEST_FILE
    if not manifest.is_file():
        return f"no {MANIFEST_FILE} (it is written last: the save did not finish)"
    try:
        entries = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    except (ValueError, KeyError, TypeError):
        return f"{MANIFEST_FILE} cannot be read"
    for name, entry in entries.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != entry["bytes"]:
            return f"{name} has {path.stat().st_size} bytes, the manifest says {entry['bytes']} (truncated?)"
        if hashes and sha256_file(path) != entry["sha256"]:
            return f"{name} does not match its SHA-256 in the manifest (corrupted)"
    return None


def checkpoint_step(path: Path) -> int | None:
    try:
        return int(path.name.rsplit("-", 1)[-1])
    except ValueError:
        return None


def last_good_checkpoint(output_dir: str | Path) -> str | None:
    """The newest ``checkpoint-N`` of ``output_dir`` whose manifest verifies; every newer one is skipped with a
    warning saying why."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    candidates = [(step, p) for p in folder.glob("checkpoint-*") if (step := checkpoint_step(p)) is not None]
    for _, path in sorted(candidates, reverse=True):
        problem = manifest_problem(path)
        if problem is None:
            return str(path)
        logger.warning("not resuming from %s: %s", path, problem)
    return None
