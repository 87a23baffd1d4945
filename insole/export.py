"""Export the samples table to CSV or Parquet (``insole export``).

Columns are flattened to ``<side>_<channel>`` (``left_force_n``,
``right_p07``), with the time as the first column ``time_s``. The per-foot
centre of pressure is in the FOOT frame and is exported as
``<side>_foot_cop_x_mm`` / ``<side>_foot_cop_y_mm`` so that it is never
mistaken for the ground-frame ``<side>_cop_x_mm`` of the generic CSV format.
Missing samples stay empty (CSV) or null (Parquet).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from .constants import COP_X, COP_Y
from .errors import InsoleError
from .model import Recording
from .paths import atomic_output, check_output

log = logging.getLogger(__name__)

__all__ = ["flat_samples", "export_samples", "FORMATS"]

FORMATS = ("csv", "parquet")


def flat_samples(recording: Recording) -> pd.DataFrame:
    """The samples frame with one flat column name per (side, channel)."""
    s = recording.samples
    rename = {COP_X: "foot_cop_x_mm", COP_Y: "foot_cop_y_mm"}
    names = [f"{side}_{rename.get(ch, ch)}" for side, ch in s.columns]
    flat = s.set_axis(names, axis=1)
    return flat.reset_index()


def export_samples(recording: Recording, path: str | os.PathLike, *, to: str, overwrite: bool = False) -> Path:
    """Write the samples table.

    Parameters
    ----------
    recording : Recording
    path : str or Path
        Output file. Written to a temporary file beside it and renamed into
        place, so an interrupted export leaves nothing half-written.
    to : str
        ``"csv"`` or ``"parquet"``.
    overwrite : bool
        Replace an existing file (never the recording's own file).

    Raises
    ------
    OutputError
        ``path`` exists (without ``overwrite``), is the recording itself, a
        folder or a device, or cannot be written.
    """
    if to not in FORMATS:
        raise InsoleError(f"unknown export format {to!r}; use one of {', '.join(FORMATS)}")
    path = check_output(path, inputs=[recording.path] if recording.path else [], force=overwrite)
    flat = flat_samples(recording)
    if to == "csv":
        # time with fixed decimals (exact to 1 us at any length); values to 6 significant digits
        flat["time_s"] = flat["time_s"].map("{:.6f}".format)
    with atomic_output(path) as tmp:
        if to == "csv":
            flat.to_csv(tmp, index=False, float_format="%.6g")
        else:
            flat.to_parquet(tmp, index=False)
    log.info("exported %d rows to %s", len(flat), path)
    return path
