"""The errors a user can fix (bad files, bad settings).  [no torch, no imports of ours]

Command-line entry points print a :class:`UserError` as one line and exit with status 1, and a
:class:`Preempted` run as one line with :data:`PREEMPTED_EXIT_STATUS`; any other exception is a bug of ours
and keeps its traceback.
"""

from __future__ import annotations

import signal

#: the exit status of a run stopped by a preemption signal after saving: "preempted, resumable" (EX_TEMPFAIL)
PREEMPTED_EXIT_STATUS = 75


class UserError(Exception):
    """Bad input or settings: the message names the input (file, line, field) and the fix."""


class SettingsError(UserError, ValueError):
    """A setting (recipe field, ``--set`` value, command-line option) that cannot be used."""


class Preempted(Exception):
    """The run saved a checkpoint after a preemption signal and stopped; rerunning the command resumes."""

    def __init__(self, signum: int | None, checkpoint: str | None):
        self.signum, self.checkpoint = signum, checkpoint
        name = signal.Signals(signum).name if signum else "a preemption signal"
        super().__init__(f"{name} received: saved {checkpoint}; rerun the same command to resume from it")
