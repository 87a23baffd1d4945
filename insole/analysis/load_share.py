"""Load share between the feet (SCIENCE.md, quiet standing).

``left_load_pct = 100 * mean(F_L) / mean(F_L + F_R)`` over a stretch of
time; right = 100 - left. Positive asymmetry (right minus left) means the
RIGHT foot carries more.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..constants import FORCE, LEFT, RIGHT
from ..model import Phase

__all__ = ["load_share_pct", "load_share_by_phase"]


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


def load_share_by_phase(samples: pd.DataFrame, phases: tuple[Phase, ...], *, settle_s: float = 3.0) -> pd.DataFrame:
    """Load share in each phase, dropping the first ``settle_s`` seconds.

    Returns
    -------
    pandas.DataFrame
        One row per phase: ``name``, ``start_s``, ``end_s``,
        ``left_load_pct``, ``right_load_pct``.
    """
    rows = []
    for p in phases:
        left = load_share_pct(samples, start_s=p.start_s + settle_s, end_s=p.end_s)
        rows.append({"name": p.name, "start_s": p.start_s, "end_s": p.end_s,
                     "left_load_pct": left, "right_load_pct": 100.0 - left})
    return pd.DataFrame(rows, columns=["name", "start_s", "end_s", "left_load_pct", "right_load_pct"])
