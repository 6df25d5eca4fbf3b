"""What keeps a long run's work: preemption signals and non-finite losses.

**Preemption.** Clusters stop a job with SIGTERM (SLURM, Kubernetes, spot instances) or, ahead of its time limit,
a signal of the job's choice (SLURM ``--signal=USR1@120``). :class:`PreemptionWatch` only notes the signal;
before each optimizer step every rank agrees on it, after the step the Trainer saves a complete checkpoint and
the trainer raises :class:`~chinese_ptm.errors.Preempted`: the command exits with status 75 on every rank, and
rerunning it resumes from that checkpoint.

**Non-finite losses.** :class:`NonFiniteGuard` keeps each micro-batch's loss and decides before the optimizer
moves: by default the run stops naming the step, the loss and the batch's record ids (the weights stay the last
step's, the last checkpoint is untouched); with ``training.nonfinite_skips=N`` the step is skipped (every
gradient dropped, so the optimizer leaves weights and moments alone) up to N times in a row, and counted.

Both guards are settled with one all-reduce per optimizer step (:func:`agreed`), wired in
``runtime/trainer.py``.
"""

from __future__ import annotations

import logging
import signal
import threading

import torch

from ..errors import UserError

logger = logging.getLogger(__name__)

#: the signals that ask a run to save and stop
PREEMPTION_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class NonFiniteLoss(UserError):
    """A non-finite loss stopped the run before the optimizer took it."""


def agreed(*flags: float) -> list[float]:
    """Each flag's largest value over all ranks, in one all-reduce (the flags themselves when not distributed)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return list(flags)
    nccl = torch.distributed.get_backend() == "nccl"  # NCCL reduces device tensors only; gloo host ones
    device = torch.device("cuda", torch.cuda.current_device()) if nccl else torch.device("cpu")
    values = torch.tensor(flags, dtype=torch.float64, device=device)
    torch.distributed.all_reduce(values, op=torch.distributed.ReduceOp.MAX)
    return values.tolist()


class PreemptionWatch:
    """Notes SIGTERM/SIGUSR1 while installed (a context manager around ``Trainer.train``); :meth:`settle` takes
    the ranks' agreed signal once per step. Outside the main thread (signals cannot be caught there) it stays off."""

    def __init__(self):
        self.signum: int | None = None
        self.stopped = False  # set on every rank at the same step, when they agree to stop
        self._previous: dict = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in PREEMPTION_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._note)
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _note(self, signum, frame) -> None:
        if self.signum is None:
            logger.warning("%s received: saving a checkpoint at the end of this step", signal.Signals(signum).name)
        self.signum = signum

    def local_flag(self) -> float:
        return float(self.signum or 0)

    def settle(self, signum: float) -> None:
        """``signum``: the largest signal any rank got (0: none); a signal anywhere stops every rank."""
        if signum:
            self.signum, self.stopped = int(signum), True


class NonFiniteGuard:
    """Keeps each micro-batch's loss (:meth:`observe`, no device read) and, once per step before the optimizer
    moves (:meth:`settle`), stops the run or drops the step's gradients when one was not finite on any rank."""

    def __init__(self, max_skips: int):
        self.max_skips = max_skips
        self.skipped_steps: list[int] = []
        self.step = 0
        self._in_a_row = 0
        self._losses: list[torch.Tensor] = []  # this step's micro-batch losses and their record ids
        self._ids: list[torch.Tensor | None] = []
        self._bad: tuple[float, list[int]] | None = None  # this step's first non-finite loss and its records

    def observe(self, loss: torch.Tensor, record_ids: torch.Tensor | None) -> None:
        self._losses.append(loss.detach().float().reshape(()))
        self._ids.append(record_ids)

    def local_flag(self) -> float:
        """1 when a loss of this step was not finite on this rank (one device read per step), else 0."""
        losses, ids, self._losses, self._ids = self._losses, self._ids, [], []
        bad = (~torch.isfinite(torch.stack(losses))).nonzero().flatten().tolist() if losses else []
        first = bad[0] if bad else None
        self._bad = (
            None if first is None else (float(losses[first]), ids[first].tolist() if ids[first] is not None else [])
        )
        return 1.0 if bad else 0.0

    def settle(self, nonfinite: float, optimizer) -> None:
        """``nonfinite``: whether any rank saw a non-finite loss this step."""
        if not nonfinite:
            self._in_a_row = 0
            return
        if self._in_a_row >= self.max_skips:
            raise NonFiniteLoss(self._message(self._bad))
        self._in_a_row += 1
        self.skipped_steps.append(self.step)
        logger.warning("step %d: non-finite loss, step skipped (%d in a row)", self.step, self._in_a_row)
        for group in optimizer.param_groups:  # a parameter without a gradient is left alone by the optimizer
            for p in group["params"]:
                p.grad = None

    def _message(self, bad: tuple[float, list[int]] | None) -> str:
        where = (
            f"loss {bad[0]} on records {bad[1][:16]}{' ...' if len(bad[1]) > 16 else ''}"
            if bad
            else "loss not finite on another rank"
        )
        tried = f" after {self._in_a_row} skipped steps in a row" if self._in_a_row else ""
        return (
            f"step {self.step}: {where}{tried}; stopped before the optimizer step, so the weights and "
            "checkpoints are those of the steps before. Lower training.learning_rate, check these records, or "
            "skip such steps with --set training.nonfinite_skips=N"
        )
