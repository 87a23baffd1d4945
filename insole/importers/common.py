"""What the importers share: limits that keep a damaged file from
exhausting memory, line endings, and the data-quality summary of a foot."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

__all__ = ["side_quality", "import_quality", "GRID_FACTOR", "GRID_SLACK", "MAX_ABS_VALUE", "EOL"]

#: a time column may ask for at most GRID_FACTOR x rows + GRID_SLACK grid rows
#: (a time jump in a damaged file must not allocate gigabytes)
GRID_FACTOR = 10
GRID_SLACK = 1_000_000
#: values beyond this are not measurements (a damaged or misread file)
MAX_ABS_VALUE = 1e9
#: any line ending: LF, CRLF or a lone CR
EOL = re.compile(rb"\r\n|\r|\n")


def side_quality(side: str, force: np.ndarray, grid_s: np.ndarray, rate: float) -> dict[str, Any]:
    """Loss and gaps of one foot's force on a uniform grid, shaped like the
    decoded recordings' quality (samples missing between the first and the
    last received one; each run of NaN is a gap)."""
    ok = np.isfinite(force)
    idx = np.flatnonzero(ok)
    q: dict[str, Any] = {"sampling_rate_hz": rate}
    if idx.size == 0:
        q.update(samples_received=0, samples_expected=0, samples_lost=0, loss_pct=None, gaps=[])
        return q
    a, b = int(idx[0]), int(idx[-1])
    span = ok[a:b + 1]
    received = int(span.sum())
    expected = span.size
    # runs of missing samples between two received ones
    edges = np.diff(span.astype(np.int8))
    starts = np.flatnonzero(edges == -1) + 1 + a  # first missing row
    stops = np.flatnonzero(edges == 1) + 1 + a  # first received row after
    gaps = [{"side": side, "start_s": float(grid_s[s - 1]), "end_s": float(grid_s[e]), "missing_samples": int(e - s),
             "duration_s": float(grid_s[e] - grid_s[s - 1])} for s, e in zip(starts, stops)]
    q.update(samples_received=received, samples_expected=expected, samples_lost=expected - received,
             loss_pct=100.0 * (expected - received) / expected, gaps=gaps)
    return q


def import_quality(side_q: dict[str, dict[str, Any]], *, fmt: str, rows: int, resampled: bool,
                   **fields: Any) -> dict[str, Any]:
    """The quality record of an import, from each foot's :func:`side_quality`.

    Parameters
    ----------
    side_q : dict
        Side -> :func:`side_quality`.
    fmt : str
        The import format (``quality["import"]["format"]``).
    rows : int
        Data rows read from the input.
    resampled : bool
        The rows were interpolated onto the grid (not placed on it as they are).
    **fields
        More keys after ``sides`` (e.g. ``cop_min_force_n``).
    """
    return {
        "sides": side_q,
        **fields,
        "packet_loss_pct": {s: q["loss_pct"] for s, q in side_q.items()},
        "gaps": sorted((g for q in side_q.values() for g in q["gaps"]), key=lambda g: (g["start_s"], g["side"])),
        "damaged_file": False,
        "import": {"format": fmt, "rows": int(rows), "resampled": bool(resampled)},
    }

