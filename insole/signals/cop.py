"""Centre of pressure in the ground frame: each foot's and the net one.

Ground frame (docs/science.md): x to the subject's right, y forward, origin
midway between the heels. The feet are taken as parallel, heels level, their
heel centres ``stance_width_mm`` apart (a recording from insoles does not
know where the feet stand; force-plate imports give ground-frame COPs
directly, ``meta.extra["cop_frame"] == "ground"``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..constants import COP_X, COP_Y, FORCE, LEFT, RIGHT

__all__ = ["DEFAULT_STANCE_WIDTH_MM", "foot_cop_ground", "net_cop_ground"]

#: distance between the heel centres in quiet standing, mm (*guide*;
#: McIlroy & Maki 1997 preferred stance: about 17 cm)
DEFAULT_STANCE_WIDTH_MM = 170.0


def foot_cop_ground(samples: pd.DataFrame, side: str, *, cop_frame: str = "foot",
                    stance_width_mm: float = DEFAULT_STANCE_WIDTH_MM) -> tuple[np.ndarray, np.ndarray]:
    """One foot's COP in the ground frame, mm.

    In the foot frame x points to the foot's lateral side: for the left foot
    that is the subject's left (-x in the ground frame), for the right foot
    the right (+x).

    Returns
    -------
    x_mm, y_mm : numpy.ndarray
        Mediolateral (positive to the right) and anteroposterior (positive
        forward) position; NaN where the foot's COP is undefined.
    """
    cx = samples[(side, COP_X)].to_numpy(dtype=np.float64)
    cy = samples[(side, COP_Y)].to_numpy(dtype=np.float64)
    if cop_frame == "ground":
        return cx, cy
    if side == LEFT:
        return -stance_width_mm / 2.0 - cx, cy
    return stance_width_mm / 2.0 + cx, cy


def net_cop_ground(samples: pd.DataFrame, *, cop_frame: str = "foot",
                   stance_width_mm: float = DEFAULT_STANCE_WIDTH_MM) -> pd.DataFrame:
    """Net COP of both feet, ``(F_L * COP_L + F_R * COP_R) / (F_L + F_R)``.

    A foot whose COP is undefined because it carries almost nothing (lifted)
    contributes no weight; where a foot has no sample at all (a gap, or
    before it started streaming) the net COP is NaN, never the other foot's.

    Returns
    -------
    pandas.DataFrame
        Columns ``ml_mm`` (x, positive to the right) and ``ap_mm`` (y,
        positive forward), same index as ``samples``.
    """
    num_x = np.zeros(len(samples))
    num_y = np.zeros(len(samples))
    den = np.zeros(len(samples))
    missing = np.zeros(len(samples), dtype=bool)
    for side in (LEFT, RIGHT):
        x, y = foot_cop_ground(samples, side, cop_frame=cop_frame, stance_width_mm=stance_width_mm)
        f = samples[(side, FORCE)].to_numpy(dtype=np.float64)
        missing |= ~np.isfinite(f)
        w = np.where(np.isfinite(x) & np.isfinite(y) & np.isfinite(f), f, 0.0)
        num_x += w * np.nan_to_num(x)
        num_y += w * np.nan_to_num(y)
        den += w
    with np.errstate(invalid="ignore", divide="ignore"):
        ml = np.where((den > 0) & ~missing, num_x / den, np.nan)
        ap = np.where((den > 0) & ~missing, num_y / den, np.nan)
    return pd.DataFrame({"ml_mm": ml, "ap_mm": ap}, index=samples.index)
