"""The package's own exception types.

Every error a user can cause (a bad file, a wrong format, a device that is not
there) is raised as a subclass of :class:`InsoleError`, with a message that
says what to do. The command line shows these as one line and exits with
status 2; anything else is a bug.
"""

from __future__ import annotations

__all__ = [
    "InsoleError",
    "LogFormatError",
    "OutputError",
    "ProtocolError",
    "RecordingError",
    "UnknownFormatError",
]


class InsoleError(Exception):
    """Base class of every error a user can cause."""


class ProtocolError(InsoleError, ValueError):
    """A BLE payload does not follow insole protocol v1 (short, oversized,
    unknown version, bad field)."""


class RecordingError(InsoleError):
    """A recording file cannot be opened, is empty, or is damaged beyond what
    can be salvaged."""


class UnknownFormatError(InsoleError):
    """A file is not one of the formats `insole` can read."""


class OutputError(InsoleError):
    """An output cannot be written where asked: it exists (and overwriting
    was not asked for), it is one of the inputs, it is a folder or a device,
    its folder is missing, or the disk refused the write."""


class LogFormatError(ProtocolError):
    """An on-insole log is of a newer log format than this version of
    `insole` understands (update insole; nothing on the insole was erased)."""
