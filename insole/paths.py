"""Checks on a path a user gave, shared by every reader."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import RecordingError

__all__ = ["require_file"]


def require_file(path: str | os.PathLike) -> Path:
    """The path as a :class:`~pathlib.Path` if it names a non-empty file.

    Raises
    ------
    RecordingError
        Missing, a folder, or empty (0 bytes).
    """
    p = Path(path)
    if not p.exists():
        raise RecordingError(f"{p}: no such file")
    if p.is_dir():
        raise RecordingError(f"{p} is a folder; give a recording file")
    if p.stat().st_size == 0:
        raise RecordingError(f"{p} is empty (0 bytes): nothing was ever written to it")
    return p
