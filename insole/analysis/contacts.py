"""Foot contacts from each foot's total force (SCIENCE.md, "Gait").

Two steps per foot:

1. Detect with hysteresis: a contact starts when the zeroed force rises above
   ``T_on`` and stays there for at least 20 ms, and ends when it falls below
   ``T_off < T_on`` (*guide*: ``T_on = max(20 N, 5 % of the foot's median
   peak)``, ``T_off`` = 3 % of it). Contacts shorter than the minimum
   (120 ms running, 200 ms walking) are dropped. Missing samples (a lost
   packet) decide nothing: the state holds through them, so a contact with
   a hole is still found, and the step table marks it.
2. Place the events precisely: walk back from the start and forward from the
   end to where the zeroed force crosses the event level (*guide*: 20 N, the
   force-plate convention; less for a light subject, 3 % of body weight),
   and interpolate the crossing time between samples.

Before detection the force is re-zeroed in swing: the baseline is a low
percentile of the force in consecutive blocks (the foot is in the air for a
good part of every block), so a creeping sensor baseline does not shift the
events. Everything is vectorised over samples; the only loops are over a
handful of thresholds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

log = logging.getLogger("insole")

__all__ = ["ContactOptions", "Contacts", "swing_baseline", "detect_contacts"]


@dataclass(frozen=True)
class ContactOptions:
    """Parameters of contact detection (reported on the methods page).

    Attributes
    ----------
    on_min_n : float
        Floor of the detection threshold ``T_on``, N.
    on_peak_frac, off_peak_frac : float
        ``T_on`` and ``T_off`` as fractions of the foot's median peak force.
    on_hold_s : float
        The force must stay above ``T_on`` this long for a contact, s.
    event_level_n : float
        Level at which initial contact and toe-off are placed, N
        (force-plate convention: 20 N).
    event_level_bw : float
        Cap of the event level as a fraction of body weight (light subjects).
    min_contact_s : float or None
        Shortest contact kept, s; None = 0.12 for running, 0.2 for walking.
    baseline_block_s : float
        Block length of the swing baseline, s.
    baseline_percentile : float
        Percentile of each block taken as its baseline.
    """

    on_min_n: float = 20.0
    on_peak_frac: float = 0.05
    off_peak_frac: float = 0.03
    on_hold_s: float = 0.020
    event_level_n: float = 20.0
    event_level_bw: float = 0.03
    min_contact_s: float | None = None
    baseline_block_s: float = 2.0
    baseline_percentile: float = 10.0


@dataclass(frozen=True)
class Contacts:
    """One foot's contacts.

    Attributes
    ----------
    ic_s, to_s : numpy.ndarray
        Initial contact and toe-off times, s (interpolated).
    start, end : numpy.ndarray
        int64 sample rows of the detected stance: ``start`` is the first
        sample at or above the event level, ``end`` the first sample after
        the stance below it (stance samples are ``start:end``).
    thresholds_n : dict
        ``on``, ``off``, ``event`` levels used, N.
    """

    ic_s: np.ndarray
    to_s: np.ndarray
    start: np.ndarray
    end: np.ndarray
    thresholds_n: dict[str, float]


def swing_baseline(force_n: np.ndarray, *, sampling_rate_hz: float, block_s: float = 2.0,
                   percentile: float = 10.0, max_n: float | None = None) -> np.ndarray:
    """The force's baseline, as a low percentile of consecutive blocks.

    In walking and running each foot is in the air for 35-70 % of the time,
    so the low percentile of a block of a few strides is swing. Blocks whose
    percentile exceeds ``max_n`` (the foot never left the ground: standing)
    borrow their neighbours' baseline.

    Returns
    -------
    numpy.ndarray
        Baseline per sample, N (linear between block centres).
    """
    f = np.asarray(force_n, dtype=np.float64)
    n = f.size
    m = max(1, int(round(block_s * sampling_rate_hz)))
    n_blocks = -(-n // m)
    padded = np.full(n_blocks * m, np.nan)
    padded[:n] = f
    blocks = padded.reshape(n_blocks, m)
    count = np.isfinite(blocks).sum(axis=1)
    enough = count >= m // 4
    # percentile of each block's finite values: NaN sorts last, pick by rank
    ordered = np.sort(blocks, axis=1)
    rank = np.clip(np.round(percentile / 100.0 * (count - 1)).astype(np.int64), 0, m - 1)
    base = ordered[np.arange(n_blocks), rank]
    ok = enough & np.isfinite(base)
    if max_n is not None:
        ok &= base <= max_n
    centres = (np.arange(n_blocks) + 0.5) * m
    if not ok.any():
        return np.zeros(n)
    return np.interp(np.arange(n), centres[ok], base[ok])


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of each run of True."""
    d = np.diff(np.concatenate([[0], mask.view(np.int8), [0]]))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def detect_contacts(force_n: np.ndarray, *, sampling_rate_hz: float, t0_s: float = 0.0, mode: str = "run",
                    body_weight_n: float | None = None, options: ContactOptions | None = None,
                    zeroed: bool = False) -> tuple[Contacts, np.ndarray]:
    """Find one foot's contacts.

    Parameters
    ----------
    force_n : numpy.ndarray
        The foot's total force on a uniform grid, N (NaN in gaps).
    sampling_rate_hz : float
    t0_s : float
        Time of the first sample, s.
    mode : str
        ``run`` or ``walk`` (sets the shortest contact kept).
    body_weight_n : float, optional
        Caps the event level at ``event_level_bw`` of body weight.
    options : ContactOptions, optional
    zeroed : bool
        The force is already zeroed (skip the swing baseline).

    Returns
    -------
    (Contacts, numpy.ndarray)
        The contacts and the zeroed force used (N).
    """
    o = options or ContactOptions()
    fs = float(sampling_rate_hz)
    f = np.asarray(force_n, dtype=np.float64)
    finite = np.isfinite(f)
    if finite.sum() < fs:  # less than a second of data
        empty = np.zeros(0)
        return Contacts(empty, empty, empty.astype(np.int64), empty.astype(np.int64), {}), f
    # a rough scale of the loaded force, for the thresholds
    hi = float(np.nanpercentile(f, 99))
    if not zeroed:
        f = f - swing_baseline(f, sampling_rate_hz=fs, block_s=o.baseline_block_s,
                               percentile=o.baseline_percentile, max_n=0.2 * hi)
    # pass 1 with a rough threshold gives the median peak; pass 2 uses the guide levels
    peak = _median_peak(f, 0.2 * hi, fs)
    t_on = max(o.on_min_n, o.on_peak_frac * peak)
    t_off = min(o.off_peak_frac * peak, 0.75 * t_on)
    level = o.event_level_n if body_weight_n is None else min(o.event_level_n, o.event_level_bw * body_weight_n)
    level = min(level, 0.9 * t_off)
    min_contact = o.min_contact_s if o.min_contact_s is not None else (0.12 if mode == "run" else 0.2)

    fz = f  # NaN in gaps: never decisive, so a gap holds the state (the step is kept, flagged by the step table)
    with np.errstate(invalid="ignore"):
        above_on = fz > t_on
        below_off = fz < t_off
    # hysteresis: the state is the last decisive event (1 above T_on, 0 below T_off)
    event = np.where(above_on, 1.0, np.where(below_off, 0.0, np.nan))
    state = pd.Series(event).ffill().fillna(0.0).to_numpy().astype(bool)
    starts, ends = _runs(state)
    # held above T_on for at least on_hold_s: the longest run of above_on in each contact
    hold = int(np.ceil(o.on_hold_s * fs))
    a_s, a_e = _runs(above_on)
    long_run = (a_e - a_s) >= hold
    # a contact qualifies if some long run of above_on starts inside it
    owner = np.searchsorted(starts, a_s[long_run], side="right") - 1
    qualifies = np.zeros(starts.size, dtype=bool)
    qualifies[owner[(owner >= 0)]] = True
    starts, ends = starts[qualifies], ends[qualifies]

    # precise events: the crossings of the event level around each contact
    idx = np.arange(fz.size)
    with np.errstate(invalid="ignore"):
        below_level = fz < level
    last_below = np.maximum.accumulate(np.where(below_level, idx, -1))
    next_below = np.minimum.accumulate(np.where(below_level, idx, fz.size)[::-1])[::-1]
    j0 = last_below[starts]                    # last sample below the level before the rise
    k1 = next_below[np.minimum(ends, fz.size - 1)]  # first sample below it after the fall
    ok = (j0 >= 0) & (k1 < fz.size) & np.isfinite(f[np.clip(j0, 0, None)]) & np.isfinite(f[np.minimum(k1, fz.size - 1)])
    starts, ends, j0, k1 = starts[ok], ends[ok], j0[ok], k1[ok]
    ic = t0_s + (j0 + _frac(f[j0], f[j0 + 1], level)) / fs
    to = t0_s + (k1 - 1 + _frac(f[k1 - 1], f[k1], level)) / fs
    keep = (to - ic) >= min_contact
    # two contacts merged by the level crossings (the dip between them never fell below the level)
    keep[1:] &= j0[1:] >= k1[:-1]
    c = Contacts(ic_s=ic[keep], to_s=to[keep], start=(j0 + 1)[keep], end=k1[keep],
                 thresholds_n={"on": t_on, "off": t_off, "event": level, "median_peak": peak})
    return c, f


def _frac(a: np.ndarray, b: np.ndarray, level: float) -> np.ndarray:
    """Where between two samples the signal crosses ``level`` (0..1)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (level - a) / (b - a)
    return np.clip(np.nan_to_num(r, nan=0.5), 0.0, 1.0)


def _median_peak(f: np.ndarray, threshold: float, fs: float) -> float:
    """Median of the per-contact maxima above a rough threshold."""
    mask = np.isfinite(f) & (f > threshold)
    s, e = _runs(mask)
    long = (e - s) >= max(2, int(0.05 * fs))
    s, e = s[long], e[long]
    if s.size == 0:
        return float(np.nanmax(f)) if np.isfinite(f).any() else 0.0
    # each segment of reduceat runs from one run's start to the next one's; the
    # samples between runs are -inf, so the segment's maximum is its run's
    peaks = np.maximum.reduceat(np.where(mask, f, -np.inf), s)
    return float(np.median(peaks))
