"""Importers: other systems' files as :class:`~insole.model.Recording`.

Each importer is a module with two functions:

``sniff(head: bytes) -> bool``
    True when the first bytes of a file (up to :data:`HEAD_BYTES`) look like
    the importer's format, judged by CONTENT, never by the file name. It must
    never raise, whatever the bytes: a file that merely looks like the format
    but is broken is claimed here and reported by ``load``.
``load(path) -> Recording``
    The whole file as a recording whose samples frame has the same shape as a
    decoded insole recording. Raises :class:`~insole.errors.UnknownFormatError`
    (not this format) or :class:`~insole.errors.RecordingError` (this format,
    broken), with the line number where there is one.

Adding a format is two lines: import its module and add one row to
:data:`IMPORTERS`. The first importer whose ``sniff`` says yes wins, so put
the stricter formats first.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple

from ..errors import RecordingError, UnknownFormatError
from ..model import Recording
from ..paths import require_file
from . import gaitpdb, generic_csv, moticon

__all__ = ["HEAD_BYTES", "IMPORTERS", "Importer", "formats", "import_file", "sniff"]

#: bytes of a file's start that the sniffers see
HEAD_BYTES = 64 * 1024


class Importer(NamedTuple):
    """One importable format: its name (``meta.source`` is ``"import:<name>"``),
    its content sniffer and its loader."""

    name: str
    sniff: Callable[[bytes], bool]
    load: Callable[[str | os.PathLike], Recording]


#: registered formats, tried in this order
IMPORTERS: tuple[Importer, ...] = (
    Importer(generic_csv.FORMAT, generic_csv.sniff, generic_csv.load),
    Importer(moticon.FORMAT, moticon.sniff, moticon.load),
    Importer(gaitpdb.FORMAT, gaitpdb.sniff, gaitpdb.load),
)


def formats() -> tuple[str, ...]:
    """Names of the importable formats."""
    return tuple(imp.name for imp in IMPORTERS)


def sniff(path: str | os.PathLike) -> str | None:
    """The format of a file by its content, or None when no importer claims it.

    Reads at most the first :data:`HEAD_BYTES` bytes.

    Raises
    ------
    RecordingError
        The path is missing, a folder, empty or unreadable.
    """
    p = require_file(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as exc:
        raise RecordingError(f"{p}: cannot be read ({exc.strerror or exc})") from None
    for imp in IMPORTERS:
        if imp.sniff(head):
            return imp.name
    return None


def import_file(path: str | os.PathLike, fmt: str | None = None) -> Recording:
    """Import a file of another system as a recording.

    Parameters
    ----------
    path : str or Path
    fmt : str, optional
        A name from :func:`formats` (as returned by :func:`sniff`); by
        default the file is sniffed.

    Raises
    ------
    UnknownFormatError
        Not a format that can be imported (or an unknown ``fmt``).
    RecordingError
        A file of the format that is broken; the message says where and what
        to do.
    """
    if fmt is None:
        fmt = sniff(path)
        if fmt is None:
            raise UnknownFormatError(f"{path}: not a format insole can import ({', '.join(formats())})")
    for imp in IMPORTERS:
        if imp.name == fmt:
            return imp.load(path)
    raise UnknownFormatError(f"unknown import format {fmt!r}; known: {', '.join(formats())}")
