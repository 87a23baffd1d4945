"""Where the load goes on each foot: regional shares and left-right
differences (docs/science.md, "Where the load goes on each foot").

Regions along the foot's long axis, as % of the insole length from the back
of the heel (:data:`REGION_BOUNDS_PCT`): heel 0-30, midfoot 30-55, forefoot
55-85, toes 85-100. Medial and lateral are split by the long axis (``x < 0``
medial, ``x > 0`` lateral in the foot frame; a sensor ON the axis counts half
to each). A sensor belongs to the region its layout position lies in; a
region (or region x edge cell) with no sensor is ``None`` (missing), never 0.

Shares are of the foot's stance impulse in gait (force of each sensor,
pressure x area, summed over the stance samples of the steps kept) and of its
mean load in standing. Left-right differences are ``left - right`` in
percentage points, with 95 % percentile intervals from a bootstrap over
steps (gait; each foot's steps resampled on their own) or over time blocks
(standing; circular moving blocks, the same blocks for both feet).

A difference is put into words only when its 95 % interval excludes 0 AND it
is at least :data:`MIN_DIFFERENCE_PP` points (*guide*: 5 points, the
half-width of the typical 45-55 % band of the standing load share, applied to
a share of one foot's load).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..constants import COP_X, COP_Y, LEFT, RIGHT, SIDES
from ..model import Recording
from ..protocol.layout import SensorLayout
from ..signals.forces import NO_LOAD_N, force_and_cop, layout_for, sensor_channels
from .stats import block_bootstrap_sums, block_percentile, blocks_of, percentile_ci

log = logging.getLogger(__name__)

__all__ = ["REGION_BOUNDS_PCT", "REGION_KEYS", "CELL_KEYS", "MIN_DIFFERENCE_PP", "FootRegions", "RegionDifference",
           "RegionsResult", "region_weights", "sensor_forces", "swing_zeroed_kpa", "swing_rows", "gait_pressures_kpa",
           "stance_rows",
           "stance_impulses", "regional_shares",
           "regions_from_units", "gait_regions", "standing_regions", "describe_differences", "cop_through_stance"]

#: regions along the foot, % of the insole length from the back of the heel (lower bound inclusive)
REGION_BOUNDS_PCT = {"heel": (0.0, 30.0), "midfoot": (30.0, 55.0), "forefoot": (55.0, 85.0), "toes": (85.0, 100.0)}
EDGES = ("medial", "lateral")
#: the ``regions`` keys of the analysis JSON
REGION_KEYS = tuple(f"{r}_pct" for r in REGION_BOUNDS_PCT) + tuple(f"{e}_pct" for e in EDGES)
#: region x edge cells (``forefoot_lateral_pct`` ...), the finest unit the words use
CELL_KEYS = tuple(f"{r}_{e}_pct" for r in REGION_BOUNDS_PCT for e in EDGES)
#: smallest left-right difference put into words, percentage points of a foot's load
MIN_DIFFERENCE_PP = 5.0
_EDGE_WORDS = {"medial": "inner edge", "lateral": "outer edge"}


def region_weights(layout: SensorLayout) -> tuple[np.ndarray, np.ndarray]:
    """How much of each sensor counts to each region, edge and cell.

    Parameters
    ----------
    layout : SensorLayout
        Any number of sensors; positions in the foot frame, mm (x lateral,
        y from the back of the heel); ``length_mm`` sets the region bounds.

    Returns
    -------
    keys : numpy.ndarray
        ``REGION_KEYS + CELL_KEYS`` (14 names).
    weights : numpy.ndarray
        ``(14, n_sensors)`` weights in [0, 1]: 1 for a sensor in a region,
        0.5 to each edge for a sensor on the long axis (``x == 0``).
    """
    x = np.asarray(layout.x_mm, dtype=np.float64)
    pos = 100.0 * np.asarray(layout.y_mm, dtype=np.float64) / float(layout.length_mm)
    uppers = np.array([hi for _, hi in REGION_BOUNDS_PCT.values()])
    which = np.minimum(np.searchsorted(uppers, pos, side="right"), len(uppers) - 1)  # y < 0 -> heel, > 100 -> toes
    region = (which[None, :] == np.arange(len(uppers))[:, None]).astype(np.float64)  # (4, n)
    lateral = np.where(x > 0, 1.0, np.where(x < 0, 0.0, 0.5))
    edge = np.vstack([1.0 - lateral, lateral])  # (2, n): medial, lateral
    cells = (region[:, None, :] * edge[None, :, :]).reshape(-1, x.size)  # heel_medial, heel_lateral, ...
    return np.array(REGION_KEYS + CELL_KEYS), np.vstack([region, edge, cells])


def regional_shares(loads: np.ndarray, layout: SensorLayout) -> dict[str, float | None]:
    """Each region's share of the foot's load, %.

    Parameters
    ----------
    loads : numpy.ndarray
        ``(n_sensors,)`` load of each sensor (an impulse in N s, or a mean
        force in N; any unit, the shares do not depend on it). NaN-free.
    layout : SensorLayout

    Returns
    -------
    dict
        :data:`REGION_KEYS` + :data:`CELL_KEYS` -> share, %; ``None`` for a
        region without a sensor, or every key when the foot carries no load.
        The four regions sum to 100, and so do medial + lateral.
    """
    return _shares_dict(_shares(np.asarray(loads, dtype=np.float64)[None, :], layout)[0], layout)


def _shares(sums: np.ndarray, layout: SensorLayout) -> np.ndarray:
    """``(k, n_sensors)`` loads -> ``(k, 14)`` shares, %, NaN without load or sensor."""
    _, w = region_weights(layout)
    total = sums.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 100.0 * (sums @ w.T) / np.where(total > 0, total, np.nan)
    out[:, w.sum(axis=1) == 0] = np.nan
    return out


def _shares_dict(row: np.ndarray, layout: SensorLayout) -> dict[str, float | None]:
    keys, _ = region_weights(layout)
    return {str(k): (float(v) if np.isfinite(v) else None) for k, v in zip(keys, row)}


@dataclass(frozen=True)
class FootRegions:
    """One foot's regional shares.

    Attributes
    ----------
    side : str
    shares_pct : dict
        :data:`REGION_KEYS` and :data:`CELL_KEYS` -> share of the foot's
        load, % (``None``: no sensor there, or no load).
    n_units : int
        Steps (gait) or samples (standing) behind the shares.
    """

    side: str
    shares_pct: dict[str, float | None]
    n_units: int

    def to_dict(self) -> dict[str, float | None]:
        """The ``regions`` object of the analysis JSON (:data:`REGION_KEYS`)."""
        return {k: self.shares_pct.get(k) for k in REGION_KEYS}


@dataclass(frozen=True)
class RegionDifference:
    """``left - right`` share of one region, percentage points, with its 95 % interval."""

    key: str
    left_minus_right_pp: float | None
    ci95_pp: tuple[float, float] | None

    @property
    def clear(self) -> bool:
        """The interval excludes 0 and the difference is at least :data:`MIN_DIFFERENCE_PP`."""
        if self.left_minus_right_pp is None or self.ci95_pp is None or not np.all(np.isfinite(self.ci95_pp)):
            return False
        lo, hi = self.ci95_pp
        return (lo > 0 or hi < 0) and abs(self.left_minus_right_pp) >= MIN_DIFFERENCE_PP


@dataclass(frozen=True)
class RegionsResult:
    """Regional shares of both feet and their differences.

    Attributes
    ----------
    basis : str
        ``"stance_impulse"`` (gait) or ``"mean_load"`` (standing).
    feet : dict
        Side -> :class:`FootRegions`.
    differences : dict
        Key -> :class:`RegionDifference` (left minus right, points).
    statements : tuple of str
        Plain sentences for each clear difference (none for a symmetric foot pair).
    """

    basis: str
    feet: dict[str, FootRegions]
    differences: dict[str, RegionDifference]
    statements: tuple[str, ...] = ()
    replicates: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"basis": self.basis, **{s: self.feet[s].to_dict() for s in self.feet},
                "left_minus_right_pp": {k: {"value": d.left_minus_right_pp,
                                            "ci95": list(d.ci95_pp) if d.ci95_pp else None}
                                        for k, d in self.differences.items() if k in REGION_KEYS},
                "min_difference_pp": MIN_DIFFERENCE_PP, "statements": list(self.statements)}


def regions_from_units(units: dict[str, np.ndarray], layouts: dict[str, SensorLayout], *, basis: str,
                       n_boot: int = 2000, rng: np.random.Generator | None = None, block_len: int = 1,
                       paired: bool = False) -> RegionsResult:
    """Shares and left-right differences from per-unit sensor loads.

    Parameters
    ----------
    units : dict
        Side -> ``(n_units, n_sensors)`` load of each sensor per unit: per
        step stance impulse (gait) or per sample force (standing), N s or N.
        NaN rows are dropped.
    layouts : dict
        Side -> :class:`SensorLayout` the columns belong to.
    basis : str
        ``"stance_impulse"`` or ``"mean_load"`` (for the words and the JSON).
    n_boot : int
        Bootstrap replicates.
    rng : numpy.random.Generator, optional
        Default: seeded with 0 (reproducible).
    block_len : int
        Units per bootstrap block (1 for steps; about 2 s of samples in standing).
    paired : bool
        Both feet have the same units (samples): resample the same blocks for both.

    Returns
    -------
    RegionsResult
    """
    rng = rng or np.random.default_rng(0)
    clean = {s: u[np.isfinite(u).all(axis=1)] for s, u in units.items()}
    feet = {s: FootRegions(s, regional_shares(u.sum(axis=0), layouts[s]), int(u.shape[0])) for s, u in clean.items()}
    reps: dict[str, np.ndarray] = {}
    if paired and set(clean) == set(SIDES) and clean[LEFT].shape[0] == clean[RIGHT].shape[0] > 0:
        n_left = clean[LEFT].shape[1]
        both = block_bootstrap_sums(np.hstack([clean[LEFT], clean[RIGHT]]), block_len=block_len, n_boot=n_boot, rng=rng)
        reps = {LEFT: _shares(both[:, :n_left], layouts[LEFT]), RIGHT: _shares(both[:, n_left:], layouts[RIGHT])}
    else:
        for s, u in clean.items():
            if u.shape[0]:
                reps[s] = _shares(block_bootstrap_sums(u, block_len=block_len, n_boot=n_boot, rng=rng), layouts[s])
    diffs: dict[str, RegionDifference] = {}
    keys = REGION_KEYS + CELL_KEYS
    for j, k in enumerate(keys):
        value = ci = None
        if set(feet) == set(SIDES) and set(reps) == set(SIDES):
            a, b = feet[LEFT].shares_pct[k], feet[RIGHT].shares_pct[k]
            if a is not None and b is not None:
                value, ci = a - b, percentile_ci(reps[LEFT][:, j] - reps[RIGHT][:, j])
        diffs[k] = RegionDifference(k, value, ci)
    return RegionsResult(basis, feet, diffs, describe_differences(feet, diffs, basis=basis), reps)


def describe_differences(feet: dict[str, FootRegions], diffs: dict[str, RegionDifference], *,
                         basis: str) -> tuple[str, ...]:
    """Plain sentences for the clear differences (see :attr:`RegionDifference.clear`).

    Cells (``forefoot_lateral``) are named first; a whole region or edge is
    named only when none of its cells already says the same side carries
    more. Largest difference first; an unclear difference gets no sentence.
    """
    of = "stance impulse" if basis == "stance_impulse" else "load"
    clear = [d for d in diffs.values() if d.clear]
    said: set[tuple[str, str]] = set()
    said_edges: set[str] = set()
    out: list[tuple[float, str]] = []
    # cells first, then by size; of the two edges of a foot the outer one first (the shoe-wear question)
    for d in sorted(clear, key=lambda d: (d.key not in CELL_KEYS, -round(abs(d.left_minus_right_pp or 0.0), 6),
                                          d.key != "lateral_pct")):
        side = LEFT if d.left_minus_right_pp > 0 else RIGHT
        other = RIGHT if side == LEFT else LEFT
        parts = d.key[:-4].split("_")
        if d.key not in CELL_KEYS and any((p, side) in said for p in parts):
            continue
        if len(parts) == 2 and _edges_alike(feet, parts[0]):
            continue  # the region's sensors lie on the long axis: its edges cannot be told apart
        if parts[0] in _EDGE_WORDS and any(e in said_edges for e in _EDGE_WORDS):
            continue  # the two edges of a foot are one fact (medial + lateral = 100 %): say it once
        said_edges.update(p for p in parts if len(parts) == 1 and p in _EDGE_WORDS)
        said.update((p, side) for p in parts)
        if len(parts) == 2:
            where = f"the {_EDGE_WORDS[parts[1]]} of the {side} {parts[0]}"
        elif parts[0] in _EDGE_WORDS:
            where = f"the {_EDGE_WORDS[parts[0]]} of the {side} foot"
        else:
            where = f"the {side} {parts[0]}"
        lo, hi = sorted(abs(v) for v in d.ci95_pp)
        out.append((abs(d.left_minus_right_pp), (
            f"More load on {where}: {feet[side].shares_pct[d.key]:.1f} % of that foot's {of} against "
            f"{feet[other].shares_pct[d.key]:.1f} % on the {other} (difference {abs(d.left_minus_right_pp):.1f} "
            f"points, 95 % CI {lo:.1f}-{hi:.1f}).")))
    return tuple(s for _, s in sorted(out, key=lambda t: -t[0]))


def _edges_alike(feet: dict[str, FootRegions], region: str) -> bool:
    """Both feet's medial and lateral cells of ``region`` hold the same share
    (its sensors lie on the long axis, counted half to each edge)."""
    return all(f.shares_pct.get(f"{region}_medial_pct") == f.shares_pct.get(f"{region}_lateral_pct")
               for f in feet.values())


# --- from a recording ----------------------------------------------------------------------------

def sensor_forces(recording: Recording, side: str, *, pressure_kpa: np.ndarray | None = None
                  ) -> tuple[SensorLayout, np.ndarray] | None:
    """The foot's layout and each sensor's force, N (``pressure_kpa * area_mm2 / 1000``).

    Parameters
    ----------
    recording : Recording
    side : str
    pressure_kpa : numpy.ndarray, optional
        The foot's pressures to use (e.g. :func:`gait_pressures_kpa`), kPa;
        default the recording's own.

    Returns
    -------
    tuple or None
        ``(layout, (n_samples, n_sensors) float64)``; None when the frame has
        no per-sensor pressures for this foot (e.g. an import of totals only)
        or its layout has another number of sensors.
    """
    chans = sensor_channels(recording.samples.columns, side)
    layout = layout_for(recording.meta, side)
    if not chans or len(chans) != layout.x_mm.size:
        return None
    p = recording.samples[[(side, ch) for ch in chans]].to_numpy(dtype=np.float64) if pressure_kpa is None \
        else pressure_kpa
    return layout, p * (np.asarray(layout.area_mm2, dtype=np.float64) / 1000.0)


def swing_zeroed_kpa(pressure_kpa: np.ndarray, swing: np.ndarray, *, sampling_rate_hz: float, block_s: float = 4.0,
                     percentile: float = 25.0, min_swing_frac: float = 0.1) -> np.ndarray:
    """Each sensor's pressure minus what it reads with the foot in the air.

    An insole laced into a shoe reads a preload in swing (hundreds of
    newtons over the whole foot, unevenly spread), which would otherwise
    count as load in every region share and pull the gait line toward the
    laced part of the foot. Each sensor's baseline is a low percentile of its
    swing samples in consecutive blocks, linear between block centres;
    blocks with too few swing samples (a stop) borrow their neighbours'.
    The result is clipped at 0.

    Parameters
    ----------
    pressure_kpa : numpy.ndarray
        ``(n_samples, n_sensors)`` pressures, kPa (NaN: missing).
    swing : numpy.ndarray
        bool ``(n_samples,)``: the foot is in the air.
    sampling_rate_hz : float
    block_s : float
        Block length, s.
    percentile : float
        Percentile of each block's swing samples taken as the baseline, %
        (low enough to miss the slow release after toe-off and a bump in
        mid-swing).
    min_swing_frac : float
        A block needs at least this share of swing samples.

    Returns
    -------
    numpy.ndarray
        Zeroed pressures, kPa, same shape (unchanged when no block has
        enough swing).
    """
    p = np.asarray(pressure_kpa, dtype=np.float64)
    n, k = p.shape
    m = max(1, int(round(block_s * sampling_rate_hz)))
    blocks = blocks_of(np.where(np.asarray(swing, dtype=bool)[:, None], p, np.nan), m)
    ok = np.isfinite(blocks[:, :, 0]).sum(axis=1) >= max(1.0, min_swing_frac * m)
    if not ok.any():
        return p
    ordered = np.sort(blocks[ok], axis=1)  # NaN sorts last
    base = block_percentile(ordered, np.isfinite(ordered).sum(axis=1), percentile)  # (n_ok, k)
    centres = ((np.arange(blocks.shape[0]) + 0.5) * m)[ok]
    rows = np.arange(n)
    baseline = np.column_stack([np.interp(rows, centres, base[:, j]) for j in range(k)])
    return np.maximum(p - baseline, 0.0)


def gait_pressures_kpa(recording: Recording, steps: pd.DataFrame, side: str) -> np.ndarray | None:
    """One foot's sensor pressures zeroed in its swing phases, kPa.

    Parameters
    ----------
    recording : Recording
    steps : pandas.DataFrame
        The step table; every step of the side (kept or not) marks stance.
    side : str

    Returns
    -------
    numpy.ndarray or None
        ``(n_samples, n_sensors)``; None without per-sensor pressures.
    """
    s = recording.samples
    chans = sensor_channels(s.columns, side)
    if not chans:
        return None
    t = s.index.to_numpy(dtype=np.float64)
    mine = steps[steps["side"] == side]
    a = np.searchsorted(t, mine["ic_s"].to_numpy(dtype=np.float64))
    b = np.searchsorted(t, mine["to_s"].to_numpy(dtype=np.float64), side="right")
    return swing_zeroed_kpa(s[[(side, ch) for ch in chans]].to_numpy(dtype=np.float64), swing_rows(t.size, a, b),
                            sampling_rate_hz=recording.meta.sampling_rate_hz)


def swing_rows(n_rows: int, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """bool ``(n_rows,)``: True outside every stance ``[start, end)`` (rows)."""
    depth = np.zeros(n_rows + 1, dtype=np.int64)
    np.add.at(depth, np.clip(start, 0, n_rows), 1)
    np.add.at(depth, np.clip(end, 0, n_rows), -1)
    return np.cumsum(depth[:-1]) == 0


def stance_rows(time_s: np.ndarray, steps: pd.DataFrame, side: str) -> tuple[np.ndarray, np.ndarray]:
    """Sample rows ``[start, end)`` of the kept steps of one foot.

    Parameters
    ----------
    time_s : numpy.ndarray
        The samples frame's index, s.
    steps : pandas.DataFrame
        The step table (``side``, ``ic_s``, ``to_s``, ``excluded``).
    side : str
    """
    k = steps[(steps["side"] == side) & (steps["excluded"] == "")]
    t = np.asarray(time_s, dtype=np.float64)
    half = 0.5 * float(np.median(np.diff(t))) if t.size > 1 else 0.0
    start = np.searchsorted(t, k["ic_s"].to_numpy(dtype=np.float64) - half)
    end = np.searchsorted(t, k["to_s"].to_numpy(dtype=np.float64) - half)
    ok = end > start
    return start[ok], end[ok]


def stance_impulses(forces_n: np.ndarray, start: np.ndarray, end: np.ndarray, *,
                    sampling_rate_hz: float) -> np.ndarray:
    """Each sensor's impulse over each stance, N s (NaN for a stance with a gap).

    Parameters
    ----------
    forces_n : numpy.ndarray
        ``(n_samples, n_sensors)`` sensor forces, N.
    start, end : numpy.ndarray
        Rows ``[start, end)`` of each stance.
    sampling_rate_hz : float
    """
    f = np.asarray(forces_n, dtype=np.float64)
    bad = ~np.isfinite(f)
    zero = np.zeros((1, f.shape[1]))
    prefix = np.vstack([zero, np.cumsum(np.where(bad, 0.0, f), axis=0)])
    gaps = np.concatenate([[0], np.cumsum(bad.any(axis=1))])
    imp = (prefix[end] - prefix[start]) / sampling_rate_hz
    imp[(gaps[end] - gaps[start]) > 0] = np.nan
    return imp


def gait_regions(recording: Recording, steps: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0) -> RegionsResult | None:
    """Regional shares of the stance impulse of the kept steps, per foot.

    Parameters
    ----------
    recording : Recording
    steps : pandas.DataFrame
        The step table of :func:`insole.analysis.steps.step_table`.
    n_boot, seed : int
        Bootstrap over steps.

    Returns
    -------
    RegionsResult or None
        None when neither foot has per-sensor pressures.
    """
    t = recording.samples.index.to_numpy(dtype=np.float64)
    fs = recording.meta.sampling_rate_hz
    units, layouts = {}, {}
    for side in SIDES:
        got = sensor_forces(recording, side, pressure_kpa=gait_pressures_kpa(recording, steps, side))
        if got is None:
            continue
        layouts[side], f = got
        units[side] = stance_impulses(f, *stance_rows(t, steps, side), sampling_rate_hz=fs)
    if not units:
        return None
    return regions_from_units(units, layouts, basis="stance_impulse", n_boot=n_boot, rng=np.random.default_rng(seed))


def standing_regions(recording: Recording, *, stretches_s: Sequence[tuple[float, float]], n_boot: int = 2000,
                     block_s: float = 2.0, seed: int = 0) -> RegionsResult | None:
    """Regional shares of the mean load over the stretches ``[start_s, end_s)``, per foot.

    Parameters
    ----------
    recording : Recording
    stretches_s : sequence of (float, float)
        The stretches analysed (e.g. each quiet phase after its settling
        time: ``[(p.analysed_from_s, p.end_s)]``), s.
    n_boot, seed : int
    block_s : float
        Bootstrap block length, s (same blocks for both feet).
    """
    t = recording.samples.index.to_numpy(dtype=np.float64)
    sel = np.zeros(t.size, dtype=bool)
    for a, b in stretches_s:
        sel |= (t >= a) & (t < b)
    units, layouts = {}, {}
    for side in SIDES:
        got = sensor_forces(recording, side)
        if got is not None:
            layouts[side], f = got
            units[side] = f[sel]
    if not units:
        return None
    if len(units) == 2:  # the same samples for both feet
        ok = np.isfinite(units[LEFT]).all(axis=1) & np.isfinite(units[RIGHT]).all(axis=1)
        units = {s: u[ok] for s, u in units.items()}
    block = max(1, int(round(block_s * recording.meta.sampling_rate_hz)))
    return regions_from_units(units, layouts, basis="mean_load", n_boot=n_boot, rng=np.random.default_rng(seed),
                              block_len=block, paired=True)


def cop_through_stance(recording: Recording, steps: pd.DataFrame, side: str, *,
                       n_points: int = 101) -> tuple[np.ndarray, np.ndarray] | None:
    """The COP of each kept step at 0-100 % of its stance (the gait line).

    From the sensor pressures zeroed in swing (:func:`gait_pressures_kpa`)
    when the recording has them, so a shoe's preload does not pull the line
    toward the laced part of the foot; else from the recording's COP.

    Parameters
    ----------
    recording : Recording
        Its sensor pressures, or its ``cop_x_mm`` / ``cop_y_mm`` (foot frame, mm).
    steps : pandas.DataFrame
    side : str
    n_points : int
        Points from 0 to 100 % of stance.

    Returns
    -------
    tuple or None
        ``(x_mm, y_mm)``, each ``(n_steps, n_points)`` (NaN where the COP is
        undefined); None without COP columns or kept steps.
    """
    s = recording.samples
    zeroed = gait_pressures_kpa(recording, steps, side)
    lay = layout_for(recording.meta, side)
    if zeroed is not None and zeroed.shape[1] == lay.x_mm.size:
        _, cx, cy = force_and_cop(zeroed, x_mm=lay.x_mm, y_mm=lay.y_mm, area_mm2=lay.area_mm2, min_force_n=NO_LOAD_N)
        cop = {COP_X: cx.astype(np.float64), COP_Y: cy.astype(np.float64)}
    elif (side, COP_X) in s.columns and (side, COP_Y) in s.columns:
        cop = {ch: s[(side, ch)].to_numpy(dtype=np.float64) for ch in (COP_X, COP_Y)}
    else:
        return None
    start, end = stance_rows(s.index.to_numpy(dtype=np.float64), steps, side)
    if start.size == 0:
        return None
    pos = start[:, None] + np.linspace(0.0, 1.0, n_points)[None, :] * (end - start - 1)[:, None]
    i = np.floor(pos).astype(np.int64)
    j = np.minimum(i + 1, len(s) - 1)
    w = pos - i
    out = [cop[ch][i] * (1.0 - w) + cop[ch][j] * w for ch in (COP_X, COP_Y)]
    return out[0], out[1]
