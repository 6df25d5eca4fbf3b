"""The errors a user can fix (bad files, bad settings).  [no torch, no imports of ours]

Command-line entry points print a :class:`UserError` as one line and exit with status 1; any other
exception is a bug of ours and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input or settings: the message names the input (file, line, field) and the fix."""


class SettingsError(UserError, ValueError):
    """A setting (recipe field, ``--set`` value, command-line option) that cannot be used."""
