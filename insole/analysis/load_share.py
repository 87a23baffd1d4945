"""Load share between the feet over a stretch of time (SCIENCE.md).

The standing analysis (:mod:`insole.analysis.standing`) adds phases,
calibration, filtering and confidence intervals; this is the bare ratio,
used where no analysis applies yet (a run's overall share).

``left_load_pct = 100 * mean(F_L) / mean(F_L + F_R)`` over a stretch of
time; right = 100 - left. Positive asymmetry (right minus left) means the
RIGHT foot carries more.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..constants import FORCE, LEFT, RIGHT

__all__ = ["load_share_pct"]


def load_share_pct(samples: pd.DataFrame, *, start_s: float = -np.inf, end_s: float = np.inf) -> float:
    """Left foot's share of the summed force over ``[start_s, end_s)``, %.

    Only instants where both feet have a sample count (a gap on one foot
    must not shift the share).

    Returns
    -------
    float
        ``100 * mean(F_L) / mean(F_L + F_R)``; NaN when no instant has both.
    """
    t = samples.index.to_numpy()
    sel = (t >= start_s) & (t < end_s)
    fl = samples[(LEFT, FORCE)].to_numpy(dtype=np.float64)[sel]
    fr = samples[(RIGHT, FORCE)].to_numpy(dtype=np.float64)[sel]
    both = np.isfinite(fl) & np.isfinite(fr)
    total = fl[both].sum() + fr[both].sum()
    if not both.any() or total <= 0:
        return float("nan")
    return float(100.0 * fl[both].sum() / total)
