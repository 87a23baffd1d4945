"""Checks on a path a user gave, shared by every reader and writer.

Reading: :func:`require_file`. Writing: every output goes through
:func:`check_output` (refuse an existing file unless ``force``, and always
refuse one of the inputs, a folder or a device) and :func:`atomic_output`
(written to a temporary file beside it and renamed into place, so a crash or
a full disk never leaves half a file, and never damages the file that was
there before).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import OutputError, RecordingError

log = logging.getLogger(__name__)

__all__ = ["require_file", "check_output", "check_output_folder", "atomic_output", "write_atomic", "same_file"]


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


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` name the same existing file (through links,
    ``..`` or another spelling of the path)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output(path: str | os.PathLike, *, inputs: Iterable[str | os.PathLike] = (), force: bool = False,
                 flag: str | None = None, force_flag: str | None = "--force") -> Path:
    """``path`` as a Path if an output may be written there.

    Parameters
    ----------
    path : str or Path
        The output the user named.
    inputs : iterable of paths
        Files the command reads: an output may never replace one of them,
        not even with ``force``.
    force : bool
        Allow replacing an existing regular file.
    flag : str, optional
        The option the user typed (``"--png"``), named in the message.
    force_flag : str or None
        The option that allows replacing, named in the message (None: the
        command has none).

    Raises
    ------
    OutputError
        The output is one of the inputs, a folder, a device or other special
        file, exists (without ``force``), or its folder does not exist.
    """
    p = Path(path)
    what = f"{flag} {p}" if flag else str(p)
    for f in inputs:
        if same_file(p, f):
            raise OutputError(f"{what} is one of the inputs and would be destroyed; choose another name")
    if p.is_dir():
        raise OutputError(f"{what} is a folder; give a file name")
    if p.exists() or p.is_symlink():
        if not (p.exists() and stat.S_ISREG(p.stat().st_mode)):
            raise OutputError(f"{what} is not a regular file; give a file name")
        if not force:
            how = f", or give {force_flag} to replace it" if force_flag else " or remove it"
            raise OutputError(f"{p} already exists; choose another name{how}")
    if not p.parent.is_dir():
        raise OutputError(f"folder {p.parent} does not exist")
    return p


def check_output_folder(path: str | os.PathLike, *, flag: str) -> Path:
    """``path`` as a Path if files may be written into it: a folder, or
    nothing yet (it is created when written to).

    Raises
    ------
    OutputError
        ``path`` is an existing file; ``flag`` (``"--png"``) is named.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{flag} {p} is a file; give a folder")
    return p


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed to ``path`` when the block
    ends without an error and removed when it fails.

    Call :func:`check_output` first: this function does not refuse an
    existing file, it replaces it atomically (on POSIX and Windows).

    Raises
    ------
    OutputError
        Writing failed (full disk, no permission, ...); nothing is left
        behind and an existing file at ``path`` is untouched.
    """
    p = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent)
    except OSError as exc:
        raise OutputError(f"cannot write in {p.parent}: {exc.strerror or exc}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    with contextlib.suppress(OSError):
        os.chmod(tmp_path, 0o666 & ~umask)  # as an ordinary new file, not mkstemp's 0600
    try:
        yield tmp_path
        os.replace(tmp_path, p)
    except OSError as exc:
        raise OutputError(f"cannot write {p}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
    log.debug("wrote %s", p)


def write_atomic(path: str | os.PathLike, data: bytes, *, mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` through :func:`atomic_output` (a reader
    sees the old file or the new one, never half of one).

    Parameters
    ----------
    mode : int, optional
        File permissions (e.g. ``0o600`` for keys); default as a new file.
    """
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
        if mode is not None:
            os.chmod(tmp, mode)
    return Path(path)
