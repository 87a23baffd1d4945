"""Foot contacts from each foot's total force (docs/science.md, "Gait").

Two steps per foot:

1. Detect with hysteresis: a contact starts when the zeroed force rises above
   ``T_on`` and stays there for at least 20 ms, and ends when it falls below
   ``T_off < T_on`` (*guide*: ``T_on = max(20 N, 5 % of the foot's median
   peak)``, ``T_off`` = 3 % of it). Contacts shorter than the minimum
   (120 ms running, 200 ms walking) are dropped. Missing samples (a lost
   packet) decide nothing: the state holds through them, so a contact with
   a hole is still found, and the step table marks it.
2. Place the events precisely: the first upward crossing of the initial-
   contact level and the last downward crossing of the toe-off level around
   each detected contact, interpolated between samples. The levels follow a
   convention (:data:`EVENT_CONVENTIONS`): ``force_plate`` (*guide*: 20 N,
   or 3 % of body weight for a light subject, for both events) or a
   vendor's, so that events on a vendor's export match its own gait report
   (``moticon``: 6 % and 10.5 % of the foot's median peak force, fitted to
   Moticon's reports of three of its own recordings to within 1.6 samples)
   or ``relative`` (3 % of the foot's own median stance peak above its own
   swing baseline, for both events: about the force plate's 20 N for a
   70-80 kg walker, but it follows each insole's own gain, so an
   uncalibrated gain difference between the two insoles is not read as a
   contact-time asymmetry), or ``paired`` (the force plate's 20 N for the
   pair, each foot's level scaled by its median peak over the two feet's
   mean: a calibrated pair gets 20 N on both feet, an insole reading 20 %
   high a level 20 % higher than its partner's; :data:`DEFAULT_CONVENTION`).
3. Merge light pre-contacts: a touch that reaches the initial-contact level
   for at least ``on_hold_s`` (a toe tap, common in Parkinson's disease),
   is shorter than the shortest contact, starts after the previous contact's
   toe-off and ends at most ``precontact_gap_s`` (0.1 s) before the contact
   rises, is the start of that contact: initial contact is placed at the
   first touch (up to three taps in a row). A touch further from the next
   contact (a scuff in mid-swing) is not a step and changes nothing.

4. Toe-off from the unloading edge, for a foot whose sensor lets go slowly:
   force-sensitive resistors release a load over tens of ms, and the
   crossing of a low level then comes that much late. Such a foot still
   reads more than 30 % of the toe-off level 20-60 ms after the crossing
   (median over its contacts; a clean force is back at its baseline). Its
   toe-off is where the line through the last downward crossings of 25 %
   and 10 % of its median peak reaches the toe-off level, when that is
   earlier than the crossing (never for the vendor conventions, which keep
   the vendor's events).

Before detection the force is re-zeroed in swing: the baseline is a low
percentile of the force in consecutive blocks (the foot is in the air for a
good part of every block), however high it is (an insole laced into a shoe
reads hundreds of newtons in the air), so a creeping sensor baseline does
not shift the events either. Everything is vectorised over samples; the only
loops are over a handful of thresholds.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..signals.masks import true_runs
from .stats import block_percentile, blocks_of

log = logging.getLogger(__name__)

__all__ = ["ContactOptions", "Contacts", "EVENT_CONVENTIONS", "DEFAULT_CONVENTION", "swing_baseline",
           "detect_contacts"]

#: event levels: ``None`` = ``event_level_n`` (capped at ``event_level_bw``
#: of body weight), else a fraction of the foot's median peak force
EVENT_CONVENTIONS = {
    "force_plate": {"ic_peak_frac": None, "to_peak_frac": None},
    # Moticon OpenGo's gait report: initial contact and toe-off found at these
    # fractions of the median peak on the vendor's own test recordings
    # (moticon-opengo 1.0.3 tests/testdata: 42 steps, IC within 0.8 samples,
    # TO within 1.6 samples at 100 Hz)
    "moticon": {"ic_peak_frac": 0.06, "to_peak_frac": 0.105, "edge": False},
    # each foot's own loading: 3 % of its median stance peak above its swing
    # baseline (the force is zeroed in swing before the levels are taken)
    "relative": {"ic_peak_frac": 0.03, "to_peak_frac": 0.03},
    # the force plate's 20 N for the pair, shared out by each foot's own
    # loading: each foot's level is 20 N x its median peak / the two feet's
    # mean median peak (needs both feet: ``pair_peak_n``)
    "paired": {"ic_peak_frac": None, "to_peak_frac": None, "paired": True},
}
#: the convention for a recording without one of its own (``auto``): the force
#: plate's 20 N shared out by each foot's own loading, so that a gain
#: difference between two uncalibrated insoles does not move one foot's
#: events against the other's, and a calibrated pair is at 20 N
DEFAULT_CONVENTION = "paired"


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
    convention : str
        Key of :data:`EVENT_CONVENTIONS`: where initial contact and toe-off
        are placed; ``auto`` (in :func:`insole.analysis.gait.analyze_gait`):
        the recording's own (``meta.extra["event_convention"]``, set by a
        vendor's importer), else :data:`DEFAULT_CONVENTION` in
        :func:`detect_contacts` (``analyze_gait`` resolves ``auto`` itself).
    min_contact_s : float or None
        Shortest contact kept, s; None = 0.12 for running, 0.2 for walking.
    baseline_block_s : float
        Block length of the swing baseline, s.
    baseline_percentile : float
        Percentile of each block taken as its baseline.
    precontact_gap_s : float
        Longest gap, s, between a light touch (toe tap) and the contact it
        leads into for the touch to be merged into that contact (initial
        contact at the touch); 0 = never merge.
    edge_fracs : (float, float) or None
        Toe-off from the unloading edge: the line through the last downward
        crossings of these two fractions of the median peak, extended to the
        toe-off level, when that comes before the force itself crosses the
        level (a sensor that releases slowly); None = the crossing itself.
        Vendor conventions never use it.
    tail_window_s : (float, float)
        Where the slow release is looked for: this long after the toe-off
        level's crossing, s.
    tail_frac : float
        The foot releases slowly (and toe-off comes from the edge) when its
        median reading in ``tail_window_s`` exceeds this fraction of the
        toe-off level; a clean force is back at its swing baseline by then.
    """

    on_min_n: float = 20.0
    on_peak_frac: float = 0.05
    off_peak_frac: float = 0.03
    on_hold_s: float = 0.020
    event_level_n: float = 20.0
    event_level_bw: float = 0.03
    convention: str = "auto"
    min_contact_s: float | None = None
    baseline_block_s: float = 2.0
    baseline_percentile: float = 10.0
    precontact_gap_s: float = 0.1
    edge_fracs: tuple[float, float] | None = (0.25, 0.10)
    tail_window_s: tuple[float, float] = (0.02, 0.06)
    tail_frac: float = 0.3


@dataclass(frozen=True)
class Contacts:
    """One foot's contacts.

    Attributes
    ----------
    ic_s, to_s : numpy.ndarray
        Initial contact and toe-off times, s (interpolated).
    start, end : numpy.ndarray
        int64 sample rows of the stance: ``start`` is the first sample at or
        above the initial-contact level, ``end`` the first sample after the
        stance below the toe-off level (stance samples are ``start:end``).
    thresholds_n : dict
        ``on``, ``off``, ``event`` (initial contact) and ``event_to``
        (toe-off) levels used, and the ``median_peak``, N.
    """

    ic_s: np.ndarray
    to_s: np.ndarray
    start: np.ndarray
    end: np.ndarray
    thresholds_n: dict[str, float]


def swing_baseline(force_n: np.ndarray, *, sampling_rate_hz: float, block_s: float = 2.0,
                   percentile: float = 10.0, min_range_frac: float = 0.3, max_base_frac: float = 0.2) -> np.ndarray:
    """The force's swing baseline, as a low percentile of consecutive blocks.

    In walking and running each foot is in the air for 35-70 % of the time,
    so the low percentile of a block of a few strides is swing, however high
    it is: an insole laced into a shoe reads hundreds of newtons with the
    foot in the air (docs/science.md, "What real insoles do"). A block counts as
    gait when its force spans at least ``min_range_frac`` of the foot's own
    range (its 99th minus its 1st percentile over the whole recording) and
    its low percentile lies within ``max_base_frac`` of that range above the
    foot's lowest reading; other blocks (the foot never left the ground: a
    stop, or standing for part of the block) borrow their neighbours'
    baseline.

    Parameters
    ----------
    force_n : numpy.ndarray
        The foot's total force on a uniform grid, N (NaN in gaps).
    sampling_rate_hz : float
    block_s : float
        Block length, s.
    percentile : float
        Percentile of each block taken as its baseline, %.
    min_range_frac : float
        Smallest spread of a gait block (95th minus ``percentile``-th
        percentile), as a fraction of the foot's range.
    max_base_frac : float
        Highest baseline of a gait block above the foot's 1st percentile, as
        a fraction of its range.

    Returns
    -------
    numpy.ndarray
        Baseline per sample, N (linear between block centres; 0 when no block
        looks like gait).
    """
    f = np.asarray(force_n, dtype=np.float64)
    n = f.size
    m = max(1, int(round(block_s * sampling_rate_hz)))
    ordered = np.sort(blocks_of(f, m), axis=1)  # NaN sorts last
    n_blocks = ordered.shape[0]
    count = np.isfinite(ordered).sum(axis=1)
    enough = count >= m // 4

    def at(q: float) -> np.ndarray:
        return block_percentile(ordered, count, q, nearest=True)

    base = at(percentile)
    ok = enough & np.isfinite(base)
    if not ok.any():
        return np.zeros(n)
    lo, hi = np.nanpercentile(f, [1.0, 99.0])
    # gait: the block spans much of the foot's range, and its low percentile is near the foot's lowest
    ok &= ((at(95.0) - base) >= min_range_frac * (hi - lo)) & ((base - lo) <= max_base_frac * (hi - lo))
    centres = (np.arange(n_blocks) + 0.5) * m
    if not ok.any():
        return np.zeros(n)
    return np.interp(np.arange(n), centres[ok], base[ok])


def detect_contacts(force_n: np.ndarray, *, sampling_rate_hz: float, t0_s: float = 0.0, mode: str = "run",
                    body_weight_n: float | None = None, options: ContactOptions | None = None,
                    zeroed: bool = False, pair_peak_n: float | None = None) -> tuple[Contacts, np.ndarray]:
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
    pair_peak_n : float, optional
        ``paired`` convention: the mean of both feet's median stance peaks, N
        (this foot's level is the force-plate level times its own median
        peak over this; without it, the force-plate level).

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
    if not zeroed:
        f = f - swing_baseline(f, sampling_rate_hz=fs, block_s=o.baseline_block_s,
                               percentile=o.baseline_percentile)
    hi = float(np.nanpercentile(f, 99))  # a rough scale of the loaded force, for the thresholds
    # pass 1 with a rough threshold gives the median peak; pass 2 uses the guide levels
    peak = _median_peak(f, 0.2 * hi, fs)
    t_on = max(o.on_min_n, o.on_peak_frac * peak)
    t_off = min(o.off_peak_frac * peak, 0.75 * t_on)
    conv = EVENT_CONVENTIONS.get(DEFAULT_CONVENTION if o.convention == "auto" else o.convention)
    if conv is None:
        raise ValueError(f"unknown event convention {o.convention!r}; use one of {', '.join(EVENT_CONVENTIONS)}")
    plate = o.event_level_n if body_weight_n is None else min(o.event_level_n, o.event_level_bw * body_weight_n)
    if conv.get("paired") and pair_peak_n and peak > 0:
        plate *= peak / pair_peak_n  # a foot whose insole reads high gets a proportionally higher level
    plate = min(plate, 0.9 * t_off)
    level_ic = conv["ic_peak_frac"] * peak if conv["ic_peak_frac"] else plate
    level_to = conv["to_peak_frac"] * peak if conv["to_peak_frac"] else plate
    min_contact = o.min_contact_s if o.min_contact_s is not None else (0.12 if mode == "run" else 0.2)

    fz = f  # NaN in gaps: never decisive, so a gap holds the state (the step is kept, flagged by the step table)
    with np.errstate(invalid="ignore"):
        above_on = fz > t_on
        below_off = fz < t_off
    # hysteresis: the state is the last decisive event (1 above T_on, 0 below T_off)
    event = np.where(above_on, 1.0, np.where(below_off, 0.0, np.nan))
    state = pd.Series(event).ffill().fillna(0.0).to_numpy().astype(bool)
    starts, ends = true_runs(state)
    # held above T_on for at least on_hold_s: the longest run of above_on in each contact
    hold = int(np.ceil(o.on_hold_s * fs))
    a_s, a_e = true_runs(above_on)
    long_run = (a_e - a_s) >= hold
    # a contact qualifies if some long run of above_on starts inside it
    owner = np.searchsorted(starts, a_s[long_run], side="right") - 1
    qualifies = np.zeros(starts.size, dtype=bool)
    qualifies[owner[(owner >= 0)]] = True
    starts, ends = starts[qualifies], ends[qualifies]

    # precise events. Each contact's extent: back from its start to the last
    # sample below a low level, forward from its end to the first sample
    # below it; inside, the first upward crossing of the IC level and the
    # last downward crossing of the TO level (levels may lie above T_on).
    idx = np.arange(fz.size)
    n = fz.size
    with np.errstate(invalid="ignore"):
        low = min(level_ic, level_to, 0.9 * t_off)
        below_low = fz < low
        at_ic = fz >= level_ic
        at_to = fz >= level_to
    last_below = np.maximum.accumulate(np.where(below_low, idx, -1))
    next_below = np.minimum.accumulate(np.where(below_low, idx, n)[::-1])[::-1]
    next_ic = np.minimum.accumulate(np.where(at_ic, idx, n)[::-1])[::-1]
    prev_to = np.maximum.accumulate(np.where(at_to, idx, -1))
    a0 = last_below[starts]                     # last sample below the low level before the rise
    e0 = next_below[np.minimum(ends, n - 1)]    # first sample below it after the fall
    ok = (a0 >= 0) & (e0 < n)
    starts, ends, a0, e0 = starts[ok], ends[ok], a0[ok], e0[ok]
    k_ic = next_ic[a0]                           # first sample at/above the IC level
    k_to = prev_to[e0 - 1]                       # last sample at/above the TO level
    ok = (k_ic > a0) & (k_ic < e0) & (k_to >= k_ic) & (k_to < e0)
    ok &= np.isfinite(f[np.clip(k_ic - 1, 0, None)]) & np.isfinite(f[np.minimum(k_to + 1, n - 1)])
    a0, e0, k_ic, k_to = a0[ok], e0[ok], k_ic[ok], k_to[ok]
    k_ic = _merge_precontacts(f, k_ic, k_to, level=level_ic, hold=hold, max_len=int(min_contact * fs),
                              gap=int(round(o.precontact_gap_s * fs)))
    ic = t0_s + (k_ic - 1 + _frac(f[k_ic - 1], f[k_ic], level_ic)) / fs
    to = t0_s + (k_to + _frac(f[k_to], f[k_to + 1], level_to)) / fs
    tail_n = _release_tail_n(f, k_to, fs=fs, window_s=o.tail_window_s)
    from_edge = bool(o.edge_fracs and conv.get("edge", True) and tail_n > o.tail_frac * level_to)
    if from_edge:
        to = np.minimum(to, t0_s + _edge_toe_off(f, k_ic, k_to, levels=tuple(x * peak for x in o.edge_fracs),
                                                 level=level_to) / fs)
    keep = (to - ic) >= min_contact
    # two contacts merged by the crossings (the dip between them never fell below the low level)
    keep[1:] &= a0[1:] >= e0[:-1]
    starts, ends = k_ic, k_to + 1
    c = Contacts(ic_s=ic[keep], to_s=to[keep], start=starts[keep], end=ends[keep],
                 thresholds_n={"on": t_on, "off": t_off, "event": level_ic, "event_to": level_to,
                               "median_peak": peak, "release_tail": tail_n, "toe_off_from_edge": float(from_edge)})
    return c, f


def _merge_precontacts(f: np.ndarray, k_ic: np.ndarray, k_to: np.ndarray, *, level: float, hold: int,
                       max_len: int, gap: int) -> np.ndarray:
    """Move each contact's first sample at the initial-contact level back to
    a light touch leading into it (see the module notes, step 3).

    Parameters
    ----------
    f : numpy.ndarray
        Zeroed force, N (NaN in gaps).
    k_ic, k_to : numpy.ndarray
        Each contact's first sample at the IC level and last at the TO level.
    level : float
        Initial-contact level, N.
    hold, max_len, gap : int
        A touch lasts at least ``hold`` and less than ``max_len`` samples and
        ends at most ``gap`` samples before the contact's rise.

    Returns
    -------
    numpy.ndarray
        The new first samples (``k_ic`` where no touch leads in).
    """
    if gap <= 0 or k_ic.size == 0:
        return k_ic
    with np.errstate(invalid="ignore"):
        r_s, r_e = true_runs(f >= level)
    # the previous contact's toe-off (of contacts long enough to be kept, not another touch)
    long_to = np.where(k_to - k_ic >= max_len, k_to, -1)
    prev_to = np.concatenate([[-1], np.maximum.accumulate(long_to)[:-1]])
    k = k_ic.copy()
    for _ in range(3):  # a few taps in a row
        p = np.searchsorted(r_s, k, side="right") - 2   # the run before the one holding k
        pp = np.clip(p, 0, None)
        length = r_e[pp] - r_s[pp]
        ok = (p >= 0) & (k - r_e[pp] <= gap) & (length >= hold) & (length < max_len)
        ok &= (r_s[pp] > prev_to) & (r_s[pp] >= 1) & np.isfinite(f[np.clip(r_s[pp] - 1, 0, None)])
        if not ok.any():
            break
        k = np.where(ok, r_s[pp], k)
    return k


def _edge_toe_off(f: np.ndarray, k_ic: np.ndarray, k_to: np.ndarray, *, levels: tuple[float, float],
                  level: float) -> np.ndarray:
    """Toe-off from each contact's unloading edge, in samples (fractional).

    A force-sensitive resistor lets go of a load slowly: after the real
    unloading its reading decays over tens of ms (docs/science.md, "What real
    insoles do"), and the crossing of a low level comes late. The unloading
    edge itself is steep and nearly straight in its lower part, so the line
    through its last downward crossings of ``levels`` (high, low), extended
    down to ``level``, is where the load would have crossed it without the
    tail. On a clean force the two agree within a millisecond.

    Parameters
    ----------
    f : numpy.ndarray
        Zeroed force, N (NaN in gaps).
    k_ic, k_to : numpy.ndarray
        Each contact's first sample at the initial-contact level and last at
        the toe-off level.
    levels : (float, float)
        The two levels the edge is taken between, N (high, then low).
    level : float
        The toe-off level, N.

    Returns
    -------
    numpy.ndarray
        Fractional sample of toe-off per contact (inf where the edge is not
        usable: not crossed, flat, or a low level at or below ``level``).
    """
    hi, lo = levels
    out = np.full(k_ic.size, np.inf)
    if lo <= level or hi <= lo or k_ic.size == 0:
        return out
    idx = np.arange(f.size)
    cross = []
    for lv in (hi, lo):
        with np.errstate(invalid="ignore"):
            last = np.maximum.accumulate(np.where(f >= lv, idx, -1))[k_to]
        nxt = np.minimum(last + 1, f.size - 1)
        cross.append(np.where(last >= k_ic, last + _frac(f[np.maximum(last, 0)], f[nxt], lv), np.nan))
    k_hi, k_lo = cross
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (hi - lo) / (k_lo - k_hi)  # N per sample, > 0 on a falling edge
        est = k_lo + (lo - level) / slope
    ok = np.isfinite(est) & (slope > 0)
    out[ok] = est[ok]
    return out


def _release_tail_n(f: np.ndarray, k_to: np.ndarray, *, fs: float, window_s: tuple[float, float]) -> float:
    """Median over contacts of the mean zeroed force ``window_s`` after the
    toe-off level's crossing, N (about 0 for a clean force; tens of N for a
    sensor that lets go slowly)."""
    if k_to.size == 0:
        return 0.0
    a, b = (max(1, int(round(w * fs))) for w in window_s)
    rows = k_to[:, None] + np.arange(a, max(a + 1, b))[None, :]
    ok = rows < f.size
    vals = np.where(ok, f[np.minimum(rows, f.size - 1)], np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a contact at the very end: all NaN
        per = np.nanmean(vals, axis=1)
    per = per[np.isfinite(per)]
    return float(np.median(per)) if per.size else 0.0


def _frac(a: np.ndarray, b: np.ndarray, level: float) -> np.ndarray:
    """Where between two samples the signal crosses ``level`` (0..1)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (level - a) / (b - a)
    return np.clip(np.nan_to_num(r, nan=0.5), 0.0, 1.0)


def _median_peak(f: np.ndarray, threshold: float, fs: float) -> float:
    """Median of the per-contact maxima above a rough threshold."""
    mask = np.isfinite(f) & (f > threshold)
    s, e = true_runs(mask)
    long = (e - s) >= max(2, int(0.05 * fs))
    s, e = s[long], e[long]
    if s.size == 0:
        return float(np.nanmax(f)) if np.isfinite(f).any() else 0.0
    # each segment of reduceat runs from one run's start to the next one's; the
    # samples between runs are -inf, so the segment's maximum is its run's
    peaks = np.maximum.reduceat(np.where(mask, f, -np.inf), s)
    return float(np.median(peaks))
