"""Asymmetry over the run: windows, trend, change point, and sensor drift
(docs/science.md, "Drift over a run").

- The indices per time window (default one minute), from the steps kept.
- A least-squares slope of each index against time, in points per 10
  minutes, with a moving-block bootstrap interval over the windows.
- A single change point in the mean of the windowed index, kept when it
  lowers the Bayesian information criterion (BIC) of a one-mean model.
- Sensor drift is not fatigue: the swing baseline of each insole and the
  body-weight identity (time-mean of ``F_L + F_R`` over whole strides) are
  tracked per window; when either moves, the report says the sensor drifted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .asymmetry import symmetry_index
from .stats import percentile_ci

__all__ = ["DriftOptions", "SensorDrift", "windowed_indices", "trend", "change_point",
           "sensor_drift"]


@dataclass(frozen=True)
class DriftOptions:
    """Parameters of the drift analysis.

    Attributes
    ----------
    window_s : float
        Window length, s.
    min_steps : int
        Steps per side a window needs for its index.
    block_windows : int
        Block length of the moving-block bootstrap of the slope, windows.
    baseline_limit_bw : float
        Swing-baseline change, first to last window, that counts as sensor
        drift, in body weights (N / BW) (*guide*: 2 %).
    identity_limit_pct : float
        Change of the body-weight identity that counts as sensor drift, %.
    """

    window_s: float = 60.0
    min_steps: int = 5
    block_windows: int = 3
    baseline_limit_bw: float = 0.02
    identity_limit_pct: float = 3.0


def windowed_indices(steps: pd.DataFrame, metrics: dict[str, str], *, edges_s: np.ndarray,
                     min_steps: int) -> pd.DataFrame:
    """SI of each metric per window (rows: windows; NaN where too few steps)."""
    n_win = len(edges_s) - 1
    win = np.searchsorted(edges_s, steps["ic_s"].to_numpy(), side="right") - 1
    inside = (win >= 0) & (win < n_win)
    frame = steps.loc[inside, ["side", *metrics.values()]].assign(window=win[inside])
    grouped = frame.groupby(["window", "side"])
    means = grouped.mean().unstack("side")
    counts = grouped.count().unstack("side")
    out = pd.DataFrame({"start_s": edges_s[:-1].astype(float), "end_s": edges_s[1:].astype(float)})
    for name, col in metrics.items():
        si = np.full(n_win, np.nan)
        if not means.empty and (col, "left") in means and (col, "right") in means:
            lm, rm = means[(col, "left")], means[(col, "right")]
            ok = (counts[(col, "left")] >= min_steps) & (counts[(col, "right")] >= min_steps) & (lm > 0) & (rm > 0)
            vals = symmetry_index(lm.to_numpy(), rm.to_numpy())
            si[means.index.to_numpy()[ok.to_numpy()]] = vals[ok.to_numpy()]
        out[name] = si
    return out


def trend(t_s: np.ndarray, y: np.ndarray, *, n_boot: int, block: int, rng: np.random.Generator) -> dict[str, Any]:
    """Slope of ``y`` against time in units per 10 minutes, with a
    moving-block bootstrap 95 % interval (blocks of consecutive windows)."""
    ok = np.isfinite(y)
    t, y = np.asarray(t_s, dtype=np.float64)[ok] / 600.0, np.asarray(y, dtype=np.float64)[ok]
    if t.size < 3:
        return {"value": None, "ci95": None, "n_windows": int(t.size)}
    slope = float(np.polyfit(t, y, 1)[0])
    n = t.size
    block = int(min(max(block, 1), n))
    n_blocks = -(-n // block)
    starts = rng.integers(0, n - block + 1, size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)).reshape(n_boot, -1)[:, :n]
    tt, yy = t[idx], y[idx]
    tm, ym = tt.mean(axis=1, keepdims=True), yy.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = ((tt - tm) * (yy - ym)).sum(axis=1) / ((tt - tm) ** 2).sum(axis=1)
    return {"value": slope, "ci95": list(percentile_ci(reps)), "n_windows": int(n)}


def change_point(t_s: np.ndarray, y: np.ndarray, *, min_size: int = 3) -> dict[str, Any] | None:
    """The best single change in the mean of ``y``, if it lowers the BIC.

    Returns
    -------
    dict or None
        ``time_s`` (start of the first window after the change), ``before``
        and ``after`` means, and the BIC improvement.
    """
    ok = np.isfinite(y)
    t, y = np.asarray(t_s)[ok], np.asarray(y, dtype=np.float64)[ok]
    n = y.size
    if n < 2 * min_size:
        return None
    c1 = np.cumsum(y)
    c2 = np.cumsum(y * y)
    k = np.arange(min_size, n - min_size + 1)  # first k in the first segment
    sse1 = c2[k - 1] - c1[k - 1] ** 2 / k
    sse2 = (c2[-1] - c2[k - 1]) - (c1[-1] - c1[k - 1]) ** 2 / (n - k)
    sse = sse1 + sse2
    j = int(np.argmin(sse))
    sse0 = c2[-1] - c1[-1] ** 2 / n
    floor = 1e-12 * max(sse0, 1e-12)
    bic0 = n * np.log(max(sse0, floor) / n) + 2 * np.log(n)
    bic1 = n * np.log(max(sse[j], floor) / n) + 4 * np.log(n)
    if bic1 >= bic0 - 2.0:  # keep only a clear improvement
        return None
    kk = int(k[j])
    return {"time_s": float(t[kk]), "before": float(y[:kk].mean()), "after": float(y[kk:].mean()),
            "bic_gain": float(bic0 - bic1)}


@dataclass(frozen=True)
class SensorDrift:
    """Whether an insole drifted during the recording."""

    drifted: bool
    baseline_change_n: dict[str, float]
    identity_change_pct: float | None
    reasons: tuple[str, ...] = ()
    windows: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"drifted": self.drifted, "baseline_change_n": self.baseline_change_n,
                "identity_change_pct": self.identity_change_pct, "reasons": list(self.reasons),
                "windows": self.windows}


def sensor_drift(t_s: np.ndarray, baselines: dict[str, np.ndarray], zeroed: dict[str, np.ndarray], *,
                 edges_s: np.ndarray, body_weight_n: float | None, options: DriftOptions,
                 contacts_s: np.ndarray | None = None) -> SensorDrift:
    """Track each insole's swing baseline and the body-weight identity per window.

    Parameters
    ----------
    t_s : numpy.ndarray
        Sample times, s.
    baselines : dict
        Side -> swing baseline per sample, N.
    zeroed : dict
        Side -> zeroed force per sample, N.
    edges_s : numpy.ndarray
        Window edges, s.
    body_weight_n : float or None
        Scales the baseline limit (without it: the median of the summed
        force stands in for body weight).
    contacts_s : numpy.ndarray, optional
        Initial contacts of both feet, s, sorted. The body-weight identity
        holds over whole strides while moving, so each window's summed
        force is then averaged from its first to its last contact only (a
        runner who stops, stands or takes the insoles off inside a window
        does not read as a gain change).
    """
    bounds = np.searchsorted(t_s, edges_s)
    starts, ends = bounds[:-1], bounds[1:]
    if contacts_s is not None and contacts_s.size:
        first = np.searchsorted(contacts_s, edges_s[:-1])
        last = np.searchsorted(contacts_s, edges_s[1:]) - 1
        has = last > first
        lo = np.where(has, np.searchsorted(t_s, contacts_s[np.minimum(first, contacts_s.size - 1)]), starts)
        hi = np.where(has, np.searchsorted(t_s, contacts_s[np.maximum(last, 0)]), starts)
        starts, ends = lo, np.maximum(hi, lo)
    nonempty = ends > starts
    frame = pd.DataFrame({"start_s": edges_s[:-1].astype(float), "end_s": edges_s[1:].astype(float)})
    # the identity counts only samples where every foot has data: a missing foot is not 0 N
    both = np.logical_and.reduce([np.isfinite(z) for z in zeroed.values()]) if zeroed else np.zeros(t_s.size, bool)
    total = np.where(both, sum(np.nan_to_num(z) for z in zeroed.values()), 0.0)
    csum = np.concatenate(([0.0], np.cumsum(total)))
    ccount = np.concatenate(([0], np.cumsum(both)))
    sums, counts = csum[ends] - csum[starts], ccount[ends] - ccount[starts]
    # a window with both feet for under half of it says little about the identity
    enough = nonempty & (counts > 0) & (2 * counts >= ends - starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["sum_force_n"] = np.where(enough, sums / np.maximum(counts, 1), np.nan)
    # the baseline is smooth (interpolated between block percentiles): its value mid-window stands for the window
    centres = 0.5 * (edges_s[:-1] + edges_s[1:])
    for side, b in baselines.items():
        ok = np.isfinite(b)
        frame[f"{side}_baseline_n"] = np.interp(centres, t_s[ok], b[ok]) if ok.any() else np.nan
    scale = body_weight_n or float(np.nanmedian(frame["sum_force_n"])) if len(frame) else 1.0
    reasons = []
    change = {}
    for side in baselines:
        col = frame[f"{side}_baseline_n"].to_numpy()
        ok = np.isfinite(col)
        change[side] = float(col[ok][-1] - col[ok][0]) if ok.sum() >= 2 else 0.0
        if abs(change[side]) > options.baseline_limit_bw * scale:
            reasons.append(f"the {side} insole's baseline moved by {change[side]:+.0f} N "
                           f"({100 * change[side] / scale:+.1f} % of body weight) during the recording")
    identity = None
    s = frame["sum_force_n"].to_numpy() if len(frame) else np.zeros(0)
    ok = np.isfinite(s) & (s > 0)
    if ok.sum() >= 2:
        identity = float(100.0 * (s[ok][-1] / s[ok][0] - 1.0))
        if abs(identity) > options.identity_limit_pct:
            reasons.append(f"the summed force of both feet changed by {identity:+.1f} % (it should stay one body "
                           "weight on level ground): an insole's gain drifted")
    return SensorDrift(bool(reasons), change, identity, tuple(reasons), frame.to_dict("records"))
