"""insole: left/right weight-bearing asymmetry from pressure-sensing insoles.

Public API
----------
load(path)
    Any supported file -> :class:`insole.model.Recording`.
analyze(recording, ...)
    -> result whose ``.to_dict()`` is the JSON of ``insole analyze --json``.
sway_metrics(ap_mm, ml_mm, *, sampling_rate_hz)
    Sway metrics of a centre-of-pressure series, exactly as SCIENCE.md defines.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger("insole").addHandler(logging.NullHandler())

from .errors import InsoleError, ProtocolError, RecordingError, UnknownFormatError  # noqa: E402
from .model import Phase, Recording, RecordingMeta  # noqa: E402


_LAZY = {
    "load": ("loader", "load"),
    "analyze": ("analysis.analyze", "analyze"),
    "sway_metrics": ("analysis.sway", "sway_metrics"),
}


def __getattr__(name: str):
    # the public API pulls in pandas and scipy (half a second): import it on
    # first use so that commands which do not decode (simulate, scan) start fast
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'insole' has no attribute {name!r}")

__all__ = [
    "__version__",
    "load",
    "analyze",
    "sway_metrics",
    "Recording",
    "RecordingMeta",
    "Phase",
    "InsoleError",
    "ProtocolError",
    "RecordingError",
    "UnknownFormatError",
]
