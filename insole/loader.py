"""``insole.load``: open any supported file as a :class:`~insole.model.Recording`.

Files are recognised by their content, not their extension: the project's
own recording files, and the formats of :mod:`insole.importers` (generic
per-foot CSV), which produce the same samples frame.
"""

from __future__ import annotations

import logging
import os
from .errors import UnknownFormatError
from .model import Recording
from .importers import import_file, sniff
from .paths import require_file
from .recording.store import RecordingReader, is_recording_file
from .signals.build import decode_recording

log = logging.getLogger(__name__)

__all__ = ["load"]


def load(path: str | os.PathLike) -> Recording:
    """Load a recording or importable file.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Recording
        Samples frame (index ``time_s``; columns ``(side, channel)``),
        metadata and data quality.

    Raises
    ------
    RecordingError
        Missing, empty, truncated or damaged file.
    UnknownFormatError
        A file of a format `insole` cannot read.
    """
    p = require_file(path)
    if is_recording_file(p):
        with RecordingReader(p) as source:
            return decode_recording(source, path=str(p))
    fmt = sniff(p)
    if fmt is not None:
        return import_file(p, fmt)
    raise UnknownFormatError(f"{p}: not a format insole can read (an .insole recording, or a CSV with the "
                             f"columns time_s, left_force_n, right_force_n)")
