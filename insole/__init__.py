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
from .model import Phase, Recording, RecordingMeta  # noqa: E402


def __getattr__(name: str):
    # `load` pulls in pandas (a quarter of a second); import it on first use so
    # that commands which do not decode (simulate, scan) start fast
    if name == "load":
        from .loader import load

        return load
    raise AttributeError(f"module 'insole' has no attribute {name!r}")

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
