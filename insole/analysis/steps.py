"""The per-step table: one row per foot contact (``insole steps FILE --csv``).

Columns (docs/science.md, "Gait"; all per contact, in time order):

- ``side``, ``ic_s``, ``to_s``: initial contact and toe-off, s
- ``contact_time_s`` = TO - IC
- ``flight_time_s`` = IC of the other foot's next contact - TO of this one
  (negative = double support, i.e. walking)
- ``step_time_s`` = IC of the other foot's next contact - IC
- ``stride_time_s`` = IC of this foot's next contact - IC
- ``duty_factor`` = contact time / stride time
- ``swing_time_s`` = stride time - contact time: from this toe-off to this
  foot's next initial contact, s
- ``stance_pct``, ``swing_pct`` = 100 x contact (swing) time / stride time
- ``double_support_s``: the time both feet are loaded within this stride,
  initial (this IC to the other foot's TO) plus terminal (the other foot's
  next IC to this TO) double support, s; 0 in running (a flight instead)
- ``peak_force_n``, ``peak_force_bw``: the highest force in stance
- ``impulse_ns``: integral of the force over stance, N s
- ``loading_rate_n_s``: mean slope between 20 % and 80 % of the impact peak,
  or over 3-12 % of stance when there is no impact peak (first local maximum
  in the first 20 % of stance); ``impact_peak`` says which
- ``strike_index_pct``: COP along the foot at initial contact, % of foot
  length from the heel (rearfoot 0-33, midfoot 34-67, forefoot 68-100)
- ``first_region``: region of the foot loaded first (heel, midfoot,
  forefoot, toes), where per-sensor data exist
- ``heel_pct`` .. ``toes_pct``: each region's share of the stance impulse
- ``ml_index``: ``(I_med - I_lat) / (I_med + I_lat)`` of the stance impulse
- ``excluded``: why a step is left out of the summaries ("" if kept), in
  order of precedence: ``gap`` (missing samples in stance), ``stop`` (the
  subject stood still: a contact or a stride more than ``STOP_FACTOR`` = 2
  times the foot's median, e.g. standing for some seconds mid-walk),
  ``turn`` (a run of at least ``TURN_RUN`` = 2 consecutive irregular strides
  on the same foot: stride time beyond 3 scaled MADs, as at the end of a
  corridor; a heuristic from timing only, no gyroscope), ``outlier`` (one
  such stride on its own), ``alternation`` (the other foot's contact was
  not found in between)
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..constants import COP_Y, LEFT, RIGHT, SIDES
from ..model import Recording
from ..signals.forces import layout_for, sensor_channels
from ..signals.masks import true_runs
from .contacts import Contacts
from .regions import REGION_BOUNDS_PCT, region_weights, swing_rows, swing_zeroed_kpa

log = logging.getLogger(__name__)

__all__ = ["STEP_COLUMNS", "step_table", "flag_outliers", "MAD_K", "STOP_FACTOR", "TURN_RUN", "steady_mask",
           "exclusion_reasons"]

STEP_COLUMNS = ("side", "ic_s", "to_s", "contact_time_s", "flight_time_s", "step_time_s", "stride_time_s",
                "duty_factor", "swing_time_s", "stance_pct", "swing_pct", "double_support_s", "peak_force_n", "peak_force_bw", "impulse_ns", "loading_rate_n_s", "impact_peak",
                "strike_index_pct", "first_region", "heel_pct", "midfoot_pct", "forefoot_pct", "toes_pct",
                "ml_index", "excluded")
#: outlier strides: beyond MAD_K * 1.4826 * MAD of the median stride time
MAD_K = 3.0
#: a stop: a contact or stride longer than this many times the foot's median
STOP_FACTOR = 2.0
#: a turn: at least this many consecutive irregular strides on one foot
TURN_RUN = 2
_REGION_NAMES = tuple(REGION_BOUNDS_PCT)  # the order of region_weights' first four rows


def _stance_matrix(values: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(n_steps, max_len)`` samples of each stance, NaN-padded, and the mask."""
    lengths = end - start
    width = int(lengths.max()) if lengths.size else 0
    cols = np.arange(width)
    idx = np.minimum(start[:, None] + cols, values.shape[0] - 1)
    mask = cols < lengths[:, None]
    m = values[idx]
    if m.ndim == 2:
        m = np.where(mask, m, np.nan)
    else:
        m = np.where(mask[..., None], m, np.nan)
    return m, mask


def _loading_rate(m: np.ndarray, mask: np.ndarray, ct_s: np.ndarray, peak: np.ndarray,
                  fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Loading rate per stance (N/s) and whether an impact peak was used."""
    n, width = m.shape
    lengths = mask.sum(axis=1)
    cols = np.arange(width)
    # impact peak: first local maximum in the first 20 % of stance, above 30 % of the peak
    prev = np.concatenate([np.full((n, 1), -np.inf), m[:, :-1]], axis=1)
    nxt = np.concatenate([m[:, 1:], np.full((n, 1), -np.inf)], axis=1)
    local = (m >= prev) & (m > nxt) & (cols < 0.2 * lengths[:, None]) & (cols > 0) & (m > 0.3 * peak[:, None])
    has = local.any(axis=1)
    k = np.argmax(local, axis=1)
    fi = m[np.arange(n), k]
    rate = np.full(n, np.nan)
    # with an impact peak: times the rise crosses 20 % and 80 % of it (interpolated)
    rows = np.flatnonzero(has)
    if rows.size:
        t20 = _first_crossing(m[rows], 0.2 * fi[rows], k[rows])
        t80 = _first_crossing(m[rows], 0.8 * fi[rows], k[rows])
        with np.errstate(invalid="ignore", divide="ignore"):
            rate[rows] = 0.6 * fi[rows] / ((t80 - t20) / fs)
    # without: mean slope over 3-12 % of stance
    rows = np.flatnonzero(~has)
    if rows.size:
        pos3 = 0.03 * (lengths[rows] - 1)
        pos12 = 0.12 * (lengths[rows] - 1)
        f3 = _at(m[rows], pos3)
        f12 = _at(m[rows], pos12)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate[rows] = (f12 - f3) / ((pos12 - pos3) / fs)
    return rate, has


def _at(m: np.ndarray, pos: np.ndarray) -> np.ndarray:
    i = np.floor(pos).astype(np.int64)
    w = pos - i
    r = np.arange(m.shape[0])
    return m[r, i] * (1 - w) + m[r, np.minimum(i + 1, m.shape[1] - 1)] * w


def _first_crossing(m: np.ndarray, level: np.ndarray, upto: np.ndarray) -> np.ndarray:
    """Fractional sample index where each row first rises through ``level``
    (searching up to ``upto``)."""
    cols = np.arange(m.shape[1])
    above = (m >= level[:, None]) & (cols <= upto[:, None])[:, :]
    j = np.argmax(above, axis=1)
    r = np.arange(m.shape[0])
    jm = np.maximum(j - 1, 0)
    a, b = m[r, jm], m[r, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(j > 0, (level - a) / (b - a), 0.0)
    return jm + np.clip(np.nan_to_num(frac), 0.0, 1.0) * (j > 0)


def flag_outliers(values: np.ndarray, *, k: float = MAD_K) -> np.ndarray:
    """True where a value (a stride, swing or stance time, s) lies beyond
    ``k * 1.4826 * MAD`` of the median (NaNs are never flagged; fewer than 5
    values: nothing is flagged)."""
    x = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(x)
    if ok.sum() < 5:
        return np.zeros(x.size, dtype=bool)
    med = np.median(x[ok])
    mad = 1.4826 * np.median(np.abs(x[ok] - med))
    return ok & (np.abs(x - med) > k * max(mad, 1e-3 * med))


def step_table(recording: Recording, contacts: dict[str, Contacts], forces: dict[str, np.ndarray], *,
               body_weight_n: float | None) -> pd.DataFrame:
    """Build the per-step table from each foot's contacts and zeroed force.

    Parameters
    ----------
    recording : Recording
        For the COP, per-sensor pressures and the insole geometry.
    contacts : dict
        Side -> :class:`~insole.analysis.contacts.Contacts`.
    forces : dict
        Side -> the zeroed force the contacts were found on, N.
    body_weight_n : float or None
        For ``peak_force_bw`` (NaN without it).

    Returns
    -------
    pandas.DataFrame
        :data:`STEP_COLUMNS`, one row per contact in time order.
    """
    fs = recording.meta.sampling_rate_hz
    parts = []
    for side in SIDES:
        c = contacts.get(side)
        if c is None or c.ic_s.size == 0:
            continue
        f = forces[side]
        m, mask = _stance_matrix(f, c.start, c.end)
        gap = (np.isnan(m) & mask).any(axis=1)
        peak = np.nanmax(np.where(mask, m, -np.inf), axis=1)
        impulse = np.nansum(np.where(mask, m, 0.0), axis=1) / fs
        ct = c.to_s - c.ic_s
        rate, impact = _loading_rate(m, mask, ct, peak, fs)
        part = {"side": side, "ic_s": c.ic_s, "to_s": c.to_s, "contact_time_s": ct, "peak_force_n": peak,
                "peak_force_bw": peak / body_weight_n if body_weight_n else np.nan, "impulse_ns": impulse,
                "loading_rate_n_s": rate, "impact_peak": impact, "gap": gap}
        part.update(_cop_and_regions(recording, side, c, fs))
        parts.append(pd.DataFrame(part))
    if not parts:
        return pd.DataFrame(columns=list(STEP_COLUMNS))
    t = pd.concat(parts, ignore_index=True).sort_values("ic_s", kind="stable").reset_index(drop=True)
    is_left = (t["side"] == LEFT).to_numpy()
    ic = t["ic_s"].to_numpy()
    # next contact of the other foot, and of the same foot
    nxt = np.full(len(t), np.nan)
    same = np.full(len(t), np.nan)
    for side, mine in ((LEFT, is_left), (RIGHT, ~is_left)):
        # NaN past the other foot's last contact (and for a foot whose partner has none)
        other_ic = np.append(ic[~mine], np.nan)
        nxt[mine] = other_ic[np.searchsorted(other_ic[:-1], ic[mine], side="right")]
        own = ic[mine]
        same[mine] = np.concatenate([own[1:], [np.nan]])
    alternates = np.isfinite(nxt) & (np.isnan(same) | (nxt < same))
    t["step_time_s"] = np.where(alternates, nxt - ic, np.nan)
    t["flight_time_s"] = np.where(alternates, nxt - t["to_s"].to_numpy(), np.nan)
    t["stride_time_s"] = same - ic
    t["duty_factor"] = t["contact_time_s"] / t["stride_time_s"]
    t["swing_time_s"] = t["stride_time_s"] - t["contact_time_s"]
    t["stance_pct"] = 100.0 * t["duty_factor"]
    t["swing_pct"] = 100.0 * t["swing_time_s"] / t["stride_time_s"]
    t["double_support_s"] = _double_support_s(t, is_left, alternates)
    excluded = np.full(len(t), "", dtype=object)
    for side, mine in ((LEFT, is_left), (RIGHT, ~is_left)):
        excluded[mine] = exclusion_reasons(t["stride_time_s"].to_numpy()[mine],
                                           t["contact_time_s"].to_numpy()[mine])
    excluded[~alternates & (excluded == "")] = "alternation"
    excluded[t["gap"].to_numpy()] = "gap"
    # the last contact of each foot has no stride after it: not an exclusion
    last = np.isnan(same) & ~t["gap"].to_numpy()
    excluded[last & (excluded == "alternation") & np.isnan(nxt)] = ""
    t["excluded"] = excluded
    return t[list(STEP_COLUMNS)]


def exclusion_reasons(stride_s: np.ndarray, contact_s: np.ndarray, *, k: float = MAD_K,
                      stop_factor: float = STOP_FACTOR, turn_run: int = TURN_RUN) -> np.ndarray:
    """``stop``, ``turn``, ``outlier`` or "" for each stride of ONE foot.

    Parameters
    ----------
    stride_s, contact_s : numpy.ndarray
        Stride and contact time of the foot's contacts in time order, s
        (NaN stride: the foot's last contact).
    k : float
        Scaled MADs beyond which a stride time is irregular.
    stop_factor : float
        A contact or stride longer than this many times the foot's median is
        a stop.
    turn_run : int
        Consecutive irregular strides (not stops) that make a turn.

    Returns
    -------
    numpy.ndarray
        object array of labels.
    """
    stride = np.asarray(stride_s, dtype=np.float64)
    contact = np.asarray(contact_s, dtype=np.float64)
    out = np.full(stride.size, "", dtype=object)
    if stride.size == 0:
        return out
    irregular = flag_outliers(stride, k=k)
    with np.errstate(invalid="ignore"):
        stop = (contact > stop_factor * np.nanmedian(contact)) if np.isfinite(contact).any() else np.zeros(
            stride.size, dtype=bool)
        if np.isfinite(stride).sum() >= 5:
            stop |= stride > stop_factor * np.nanmedian(stride)
    odd = irregular & ~stop
    s, e = true_runs(odd)
    in_turn = np.zeros(stride.size, dtype=bool)
    for a, b in zip(s[(e - s) >= turn_run], e[(e - s) >= turn_run]):  # one loop per turn, a handful
        in_turn[a:b] = True
    out[odd] = "outlier"
    out[in_turn] = "turn"
    out[stop] = "stop"
    return out


def _double_support_s(t: pd.DataFrame, is_left: np.ndarray, alternates: np.ndarray) -> np.ndarray:
    """Both feet loaded within each stride (IC to this foot's next IC), s:
    initial double support ``TO(other foot's contact in progress at IC) - IC``
    plus terminal ``TO - IC(other foot's next contact)``, each floored at 0.
    NaN where the feet do not alternate or the stride has no end."""
    ic, to = t["ic_s"].to_numpy(), t["to_s"].to_numpy()
    initial = np.full(len(t), np.nan)
    for mine in (is_left, ~is_left):
        other_ic, other_to = ic[~mine], to[~mine]
        j = np.searchsorted(other_ic, ic[mine], side="left") - 1  # the other foot's last IC before this one
        ok = j >= 0
        val = np.full(j.size, np.nan)
        val[ok] = np.maximum(other_to[j[ok]] - ic[mine][ok], 0.0)
        initial[mine] = val
    terminal = np.maximum(-t["flight_time_s"].to_numpy(), 0.0)
    ds = initial + terminal
    return np.where(alternates & np.isfinite(t["stride_time_s"].to_numpy()), ds, np.nan)


def steady_mask(values: np.ndarray, excluded: np.ndarray, *, k: float = MAD_K) -> np.ndarray:
    """The strides of ONE foot (in time order) that enter a variability or a
    phase measure of ``values`` (stride, swing or stance times, s).

    Rule (documented on the methods page): a stride is left out when the step
    table excludes it (``outlier``: stride time beyond ``k`` scaled MADs, a
    turn or stop; ``gap``; ``alternation``), when the stride just before or
    just after it on the same foot is excluded (the strides next to a turn,
    stop or hole are not steady walking either), and when ``values`` itself
    lies beyond ``median +- k * 1.4826 * MAD`` of the remaining strides
    (each series is screened on its own, as Hausdorff's group screens each
    series for values beyond 3 SD, here with the robust scale).

    Parameters
    ----------
    values : numpy.ndarray
        The metric per stride, s (NaN: no stride, e.g. the foot's last contact).
    excluded : numpy.ndarray
        The step table's ``excluded`` labels of the same rows ("" = kept).
    k : float
        Scaled MADs beyond which a value is an outlier.

    Returns
    -------
    numpy.ndarray
        bool, True = use.
    """
    x = np.asarray(values, dtype=np.float64)
    bad = np.asarray(excluded, dtype=object) != ""
    near = bad.copy()
    near[1:] |= bad[:-1]
    near[:-1] |= bad[1:]
    use = ~near & np.isfinite(x)
    out = np.zeros(x.size, dtype=bool)
    out[use] = flag_outliers(x[use], k=k)
    return use & ~out


def _cop_and_regions(recording: Recording, side: str, c: Contacts, fs: float) -> dict[str, np.ndarray]:
    """Strike index, first-loaded region, regional impulse shares, ML index."""
    s = recording.samples
    n = c.ic_s.size
    out: dict[str, np.ndarray] = {k: np.full(n, np.nan) for k in
                                  ("strike_index_pct", "heel_pct", "midfoot_pct", "forefoot_pct", "toes_pct",
                                   "ml_index")}
    out["first_region"] = np.full(n, "", dtype=object)
    length = _foot_length_mm(recording, side)
    if (side, COP_Y) in s.columns and length:
        cy = s[(side, COP_Y)].to_numpy(dtype=np.float64)
        m, mask = _stance_matrix(cy, c.start, c.end)
        # the first defined COP within the first 10 % of stance
        early = mask & (np.arange(m.shape[1]) <= np.maximum(1, 0.1 * mask.sum(axis=1))[:, None]) & np.isfinite(m)
        j = np.argmax(early, axis=1)
        first = np.where(early.any(axis=1), m[np.arange(n), j], np.nan)
        out["strike_index_pct"] = 100.0 * first / length
    layout = layout_for(recording.meta, side)
    chans = sensor_channels(s.columns, side)
    if chans and len(chans) == layout.x_mm.size:
        # each sensor zeroed in swing (a laced shoe's preload is not load), then its force, N
        p = swing_zeroed_kpa(s[[(side, ch) for ch in chans]].to_numpy(dtype=np.float64),
                             swing_rows(len(s), c.start, c.end), sampling_rate_hz=fs)
        force_i = (p * (layout.area_mm2 / 1000.0)).astype(np.float32)
        m, mask = _stance_matrix(force_i, c.start, c.end)  # (n, width, n_sensors)
        imp = np.nansum(m, axis=1)  # N*samples per sensor
        total = imp.sum(axis=1)
        _, w = region_weights(layout)  # rows: heel, midfoot, forefoot, toes, medial, lateral, cells
        with np.errstate(invalid="ignore", divide="ignore"):
            for j, name in enumerate(_REGION_NAMES):
                out[f"{name}_pct"] = np.where(w[j].any(), 100.0 * (imp @ w[j]) / total, np.nan)
            med, lat = imp @ w[4], imp @ w[5]
            out["ml_index"] = (med - lat) / (med + lat)
        # first region: the region with the most force over the first 3 samples of stance
        head = np.nansum(m[:, :3, :], axis=1)
        regional = head @ w[:4].T
        loaded = regional.sum(axis=1) > 0
        out["first_region"] = np.where(loaded, np.array(_REGION_NAMES, dtype=object)[np.argmax(regional, axis=1)], "")
    return out


def _foot_length_mm(recording: Recording, side: str) -> float | None:
    """Insole length, mm: from the stored layout as validated by
    :func:`~insole.signals.forces.layout_for` (the reference layout when the
    stored one is damaged), else an importer's ``foot_length_mm``."""
    dev = recording.meta.devices.get(side)
    if dev is not None and dev.layout:
        return layout_for(recording.meta, side).length_mm
    try:
        length = float(recording.meta.extra.get("foot_length_mm") or "nan")
    except (TypeError, ValueError):
        return None
    return length if np.isfinite(length) and length > 0 else None
