"""insole: left/right weight-bearing asymmetry from pressure-sensing insoles.

Public API
----------
load(path)
    Any supported file -> :class:`insole.model.Recording`.
Recording.from_frame(df, *, sampling_rate_hz, protocol, ...)
    A pandas DataFrame of forces (and COP, pressures) -> Recording.
analyze(recording, ...) or analyze(df, *, sampling_rate_hz, protocol, ...)
    -> :class:`AnalysisResult`: ``.to_dict()`` is the JSON of ``insole
    analyze --json``, ``.summary()`` one flat row for a cohort table.
write_report(recordings, results, path)
    The PDF report.
figures
    The report's figures (module :mod:`insole.report.figures`).
GaitOptions, StandingOptions, ContactOptions, DriftOptions
    The analysis parameters.
calibrated_from(walk, standing)
    A walk or run with the single-leg gains of a standing test of the same insoles.
sway_metrics(ap_mm, ml_mm, *, sampling_rate_hz)
    Sway metrics of a centre-of-pressure series, exactly as docs/science.md defines.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger("insole").addHandler(logging.NullHandler())

from .errors import (  # noqa: E402
    InsoleError,
    LogFormatError,
    OutputError,
    ProtocolError,
    RecordingError,
    UnknownFormatError,
)
from .model import Phase, Recording, RecordingMeta  # noqa: E402


_LAZY = {
    "load": ("loader", "load"),
    "analyze": ("analysis.analyze", "analyze"),
    "AnalysisResult": ("analysis.analyze", "AnalysisResult"),
    "sway_metrics": ("analysis.sway", "sway_metrics"),
    "GaitOptions": ("analysis.gait", "GaitOptions"),
    "StandingOptions": ("analysis.standing", "StandingOptions"),
    "ContactOptions": ("analysis.contacts", "ContactOptions"),
    "DriftOptions": ("analysis.drift", "DriftOptions"),
    "calibrated_from": ("signals.calibrate", "calibrated_from"),
    # matplotlib: only when a report or a figure is asked for
    "write_report": ("report.pdf", "write_report"),
    "figures": ("report.figures", None),
}


def __getattr__(name: str):
    # the public API pulls in pandas and scipy (half a second): import it on
    # first use so that commands which do not decode (simulate, scan) start fast
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        mod = importlib.import_module(f".{module}", __name__)
        return mod if attr is None else getattr(mod, attr)
    raise AttributeError(f"module 'insole' has no attribute {name!r}")

__all__ = [
    "__version__",
    "load",
    "analyze",
    "sway_metrics",
    "write_report",
    "figures",
    "AnalysisResult",
    "GaitOptions",
    "calibrated_from",
    "StandingOptions",
    "ContactOptions",
    "DriftOptions",
    "Recording",
    "RecordingMeta",
    "Phase",
    "InsoleError",
    "LogFormatError",
    "OutputError",
    "ProtocolError",
    "RecordingError",
    "UnknownFormatError",
]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
