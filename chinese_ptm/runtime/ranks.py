"""Ranks of a distributed run, read from the launcher's environment (torchrun, accelerate,
DeepSpeed), and work done once per shared filesystem or once per node.  [no torch]

Corpus preparation runs on one process while the others wait for its result on disk, not in a
collective: a barrier would time out (the process group's 30-minute default) long before a real
corpus is prepared, and on a shared filesystem node-local "main processes" would all prepare into
the same folder at once. A lock file beside the target keeps two runs (two jobs, or a relaunch
while the first still prepares) from writing it together.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from pathlib import Path
from typing import Callable, Literal

from ..errors import UserError

logger = logging.getLogger(__name__)

Scope = Literal["shared", "node"]


def rank() -> int:
    """Global rank (0 when not distributed)."""
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    """Rank within this node."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def world_size() -> int:
    """Processes in the run."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Global rank 0: the one process that writes reports and prints summaries."""
    return rank() == 0


def finish_distributed() -> None:
    """Wait for every rank, then close the process group: a rank that leaves while another still
    writes its report would otherwise tear the connections down under it (gloo aborts the process)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def leads(scope: Scope) -> bool:
    """Whether this process does the once-per-``scope`` work (global rank 0, or local rank 0)."""
    return rank() == 0 if scope == "shared" else local_rank() == 0


def run_once(
    target: Path,
    ready: Callable[[], bool],
    work: Callable[[], None],
    scope: Scope = "shared",
    timeout_s: float = 12 * 3600,
    poll_s: float = 2.0,
    what: str = "work",
) -> bool:
    """Make ``ready()`` true by running ``work()`` on one process per ``scope``; the others wait for it.

    Returns True when this process ran ``work``. Waiting longer than ``timeout_s`` is a UserError
    (the message says which setting raises the limit). ``work`` must write ``target`` so that a
    crash leaves nothing ``ready()`` accepts (write elsewhere, then rename).
    """
    if leads(scope):
        with _Lock(target, timeout_s, poll_s, what):
            if ready():
                return False
            where = "all nodes" if scope == "shared" else f"node {socket.gethostname()}"
            print(f"rank {rank()} prepares {target} ({what}) for {where}", file=sys.stderr, flush=True)
            work()
            return True
    _wait(ready, target, timeout_s, poll_s, what, scope)
    return False


def _wait(ready, target: Path, timeout_s: float, poll_s: float, what: str, scope: Scope) -> None:
    started = time.monotonic()
    next_note = started + 60
    leader = "global rank 0" if scope == "shared" else "local rank 0"
    while not ready():
        now = time.monotonic()
        if now - started > timeout_s:
            raise UserError(
                f"{target}: waited {timeout_s / 60:.0f} min for {leader} to finish {what}; raise "
                "data.prepare_timeout_minutes, or prepare beforehand with `chinese-ptm prepare`"
            )
        if now >= next_note:
            logger.warning(
                "rank %d: still waiting for %s to finish %s (%.0f min)", rank(), leader, what, (now - started) / 60
            )
            next_note = now + 300
        time.sleep(poll_s)


class _Lock:
    """An exclusive lock file ``.<name>.lock`` beside ``target``; a lock left by a dead process on
    this host is taken over, one held elsewhere is waited for."""

    def __init__(self, target: Path, timeout_s: float, poll_s: float, what: str):
        self.path = target.parent / f".{target.name}.lock"
        self.timeout_s, self.poll_s, self.what = timeout_s, poll_s, what

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        while not self._try_take():
            if time.monotonic() - started > self.timeout_s:
                raise UserError(
                    f"{self.path}: another process holds this lock ({self._holder()}); if it is gone, "
                    "delete the lock file"
                )
            time.sleep(self.poll_s)
        return self

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)

    def _try_take(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            holder = self._holder()
            if holder.get("host") == socket.gethostname() and not _alive(holder.get("pid", -1)):
                logger.warning("%s: removing a lock left by dead process %s", self.path, holder.get("pid"))
                self.path.unlink(missing_ok=True)
            return False
        with os.fdopen(fd, "w") as handle:
            json.dump(
                {"host": socket.gethostname(), "pid": os.getpid(), "what": self.what, "since": time.time()}, handle
            )
        return True

    def _holder(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True
