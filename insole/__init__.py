"""insole: left/right weight-bearing asymmetry from pressure-sensing insoles.

Public API
----------
load(path)
    Any supported file -> :class:`insole.model.Recording`.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger("insole").addHandler(logging.NullHandler())

from .errors import InsoleError, ProtocolError, RecordingError, UnknownFormatError  # noqa: E402
from .load import load  # noqa: E402
from .model import Phase, Recording, RecordingMeta  # noqa: E402

__all__ = [
    "__version__",
    "load",
    "Recording",
    "RecordingMeta",
    "Phase",
    "InsoleError",
    "ProtocolError",
    "RecordingError",
    "UnknownFormatError",
]
