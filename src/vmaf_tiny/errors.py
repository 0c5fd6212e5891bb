"""The few exception types the project raises on purpose.

Every error a user can cause (bad input, bad model, missing tool) is one of these. The CLIs map
them to a one-line message on stderr and exit code 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

__all__ = [
    "BadInputError",
    "BadModelError",
    "DamagedInputError",
    "MissingToolError",
    "VmafTinyError",
]


class VmafTinyError(Exception):
    """Base class: a known failure with a one-line, user-facing reason."""

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        # Keep the message to one line: the CLI prints it as-is.
        super().__init__(" ".join(str(message).split()))

    @property
    def message(self) -> str:
        return str(self)


class BadInputError(VmafTinyError):
    """A video, features table, config or argument the user gave cannot be used."""


class DamagedInputError(BadInputError):
    """A video whose stream is damaged (the demuxer or the decoder said so).

    ``hint`` is the advice at the end of the message (what to rerun with), so that a caller
    whose user needs other flags can replace it.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class BadModelError(VmafTinyError):
    """A model file or its sidecar failed a load-time check or produced unusable output."""


class MissingToolError(VmafTinyError):
    """A required tool or optional dependency (ffmpeg with libvmaf, a provider) is missing."""
