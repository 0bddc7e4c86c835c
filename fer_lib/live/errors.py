"""The error raised for inputs the live pipeline cannot use (the CLI prints it as `error: ...`)."""

from __future__ import annotations


class LiveInputError(ValueError):
    """An unreadable file, a missing webcam, an empty folder: the message names which one."""
