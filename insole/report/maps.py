"""Pressure maps, the gait line and the report page "Where the load goes".

Maps (docs/science.md, "Where the load goes on each foot"): each sensor's value
is interpolated onto a 2 mm grid with a thin-plate spline
(:class:`scipy.interpolate.RBFInterpolator`, ``kernel="thin_plate_spline"``
with its linear polynomial, so a uniform pressure gives a flat map exactly),
then clipped to the insole outline and to the sensors' own range
``[0, max]`` (a spline overshoots beyond the outermost sensors; values
between sensors are interpolated, not measured, and the sensor positions are
always drawn). The outline is a plausible insole shape scaled to the
layout's length and width (:data:`OUTLINE_FRACTIONS`), not the real insole's.

Frames: maps are computed in the foot frame (x lateral, y from the back of
the heel) on a grid of fractions of the insole length and width, so both
feet share one grid. Drawn as seen from above: the left foot with its
lateral edge to the viewer's left, the right foot to the right. The
difference map is ``left - right`` with the right foot mirrored onto the left
(same foot-frame point on both feet), drawn as a left foot.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.path import Path as MplPath
from scipy.interpolate import PchipInterpolator, RBFInterpolator

from ..constants import LEFT, RIGHT, SIDE_COLOURS, SIDES
from ..model import Recording
from ..protocol.layout import SensorLayout
from ..signals.calibrate import subtract_baselines, unloaded_baselines
from ..signals.forces import layout_for, sensor_channels
from ..analysis.regions import (MIN_DIFFERENCE_PP, REGION_BOUNDS_PCT, REGION_KEYS, RegionsResult, cop_through_stance,
                                gait_pressures_kpa, gait_regions, sensor_forces, stance_rows, standing_regions)

log = logging.getLogger(__name__)

__all__ = ["OUTLINE_FRACTIONS", "GRID_STEP_MM", "PressureMap", "GaitLine", "insole_outline", "pressure_map",
           "difference_map", "sensor_means_and_peaks", "gait_line", "load_map_page", "load_map_figure"]

#: insole outline control points: (y / length, lateral x / width, medial x / width); joined by
#: monotone cubic (PCHIP) curves; heel and toe ends are closed at the last and first rows
OUTLINE_FRACTIONS = np.array([
    (0.000, 0.00, -0.00), (0.015, 0.17, -0.17), (0.05, 0.27, -0.27), (0.12, 0.31, -0.31), (0.25, 0.34, -0.30),
    (0.40, 0.40, -0.29), (0.55, 0.46, -0.38), (0.68, 0.50, -0.50), (0.78, 0.47, -0.50), (0.88, 0.38, -0.47),
    (0.95, 0.24, -0.40), (0.985, 0.10, -0.28), (1.000, -0.10, -0.10)])
#: grid spacing of the maps, mm
GRID_STEP_MM = 2.0


def insole_outline(length_mm: float, width_mm: float, *, n_points: int = 120) -> np.ndarray:
    """A closed insole outline in the foot frame, mm.

    Parameters
    ----------
    length_mm, width_mm : float
        Insole length (heel to toe) and width, mm.
    n_points : int
        Points per edge.

    Returns
    -------
    numpy.ndarray
        ``(2 * n_points, 2)`` vertices ``(x_mm, y_mm)``: up the lateral edge,
        down the medial edge (x lateral, y from the back of the heel).
    """
    v = np.linspace(0.0, 1.0, n_points)
    f = OUTLINE_FRACTIONS
    lat = PchipInterpolator(f[:, 0], f[:, 1])(v)
    med = PchipInterpolator(f[:, 0], f[:, 2])(v)
    x = np.concatenate([lat, med[::-1]]) * width_mm
    y = np.concatenate([v, v[::-1]]) * length_mm
    return np.column_stack([x, y])


@dataclass(frozen=True)
class PressureMap:
    """An interpolated map of one foot (or of a difference), foot frame.

    Attributes
    ----------
    x_mm, y_mm : numpy.ndarray
        Grid axes, mm (x lateral, y from the back of the heel).
    values : numpy.ndarray
        ``(len(y_mm), len(x_mm))`` values (kPa; NaN outside the outline).
    outline : numpy.ndarray
        ``(m, 2)`` outline vertices, mm.
    sensor_x_mm, sensor_y_mm : numpy.ndarray
        Sensor positions, mm (drawn on every map).
    method : str
    """

    x_mm: np.ndarray
    y_mm: np.ndarray
    values: np.ndarray
    outline: np.ndarray
    sensor_x_mm: np.ndarray
    sensor_y_mm: np.ndarray
    method: str = "thin-plate spline, clipped to the outline and to [0, max of the sensors]"


def _grid(length_mm: float, width_mm: float, step_mm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid axes as fractions of width and length (the same for every foot size) and the in-outline mask."""
    nu = int(np.ceil(1.1 * width_mm / step_mm)) + 1
    nv = int(np.ceil(length_mm / step_mm)) + 1
    u = np.linspace(-0.55, 0.55, nu)
    v = np.linspace(0.0, 1.0, nv)
    uu, vv = np.meshgrid(u, v)
    inside = MplPath(insole_outline(1.0, 1.0)).contains_points(np.column_stack([uu.ravel(), vv.ravel()]))
    return u, v, inside.reshape(uu.shape)


def pressure_map(values_kpa: np.ndarray, layout: SensorLayout, *, step_mm: float = GRID_STEP_MM,
                 smoothing: float = 0.0) -> PressureMap:
    """Interpolate sensor values onto the insole outline.

    Parameters
    ----------
    values_kpa : numpy.ndarray
        ``(n_sensors,)`` value of each sensor (mean or peak pressure), kPa;
        a NaN sensor is left out of the interpolation.
    layout : SensorLayout
        Sensor positions and the insole's length and width, mm.
    step_mm : float
        Grid spacing, mm.
    smoothing : float
        :class:`~scipy.interpolate.RBFInterpolator` smoothing (0: through every sensor).

    Returns
    -------
    PressureMap
        All NaN when fewer than 3 sensors have values.
    """
    L, W = float(layout.length_mm), float(layout.width_mm)
    u, v, inside = _grid(L, W, step_mm)
    z = np.asarray(values_kpa, dtype=np.float64)
    ok = np.isfinite(z)
    out = np.full(inside.shape, np.nan)
    if ok.sum() >= 3:
        pts = np.column_stack([np.asarray(layout.x_mm) / W, np.asarray(layout.y_mm) / L])[ok]
        uu, vv = np.meshgrid(u, v)
        q = np.column_stack([uu[inside], vv[inside]])
        interp = RBFInterpolator(pts, z[ok], kernel="thin_plate_spline", smoothing=smoothing, degree=1)
        out[inside] = np.clip(interp(q), 0.0, max(float(z[ok].max()), 0.0))
    return PressureMap(u * W, v * L, out, insole_outline(L, W), np.asarray(layout.x_mm, dtype=float),
                       np.asarray(layout.y_mm, dtype=float))


def difference_map(left: PressureMap, right: PressureMap) -> PressureMap:
    """``left - right``, the right foot mirrored onto the left.

    Both maps are on grids of the same fractions of their insoles (foot
    frame, x lateral on both feet), so the right foot's point at the same
    fraction of length and width is subtracted; the result is drawn as a left
    foot on the left's outline and sensor positions.

    Parameters
    ----------
    left, right : PressureMap
        From :func:`pressure_map`, kPa.
    """
    return PressureMap(left.x_mm, left.y_mm, left.values - right.values, left.outline, left.sensor_x_mm,
                       left.sensor_y_mm, method="left minus right of the two maps (right mirrored onto the left)")


def sensor_means_and_peaks(pressure_kpa: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each sensor's mean pressure over all stance samples, and the mean over
    steps of its peak in each stance, kPa.

    Parameters
    ----------
    pressure_kpa : numpy.ndarray
        ``(n_samples, n_sensors)`` pressures, kPa (NaN: missing).
    start, end : numpy.ndarray
        Rows ``[start, end)`` of each stance (disjoint, in time order).
    """
    p = np.asarray(pressure_kpa, dtype=np.float64)
    if start.size == 0:
        nan = np.full(p.shape[1], np.nan)
        return nan, nan
    ok = np.isfinite(p)
    prefix = np.vstack([np.zeros((1, p.shape[1])), np.cumsum(np.where(ok, p, 0.0), axis=0)])
    count = np.vstack([np.zeros((1, p.shape[1])), np.cumsum(ok, axis=0)])
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (prefix[end] - prefix[start]).sum(axis=0) / (count[end] - count[start]).sum(axis=0)
    padded = np.vstack([p, np.full((1, p.shape[1]), np.nan)])  # reduceat needs every index < len
    bounds = np.column_stack([start, end]).ravel()
    with np.errstate(invalid="ignore"):
        peaks = np.fmax.reduceat(padded, bounds, axis=0)[0::2]
        peak = np.nanmean(np.where(np.isfinite(peaks), peaks, np.nan), axis=0) if peaks.size else mean * np.nan
    return mean, peak


@dataclass(frozen=True)
class GaitLine:
    """The mean COP path through stance of one foot, with its spread.

    Attributes
    ----------
    stance_pct : numpy.ndarray
        0..100 % of stance.
    x_mm, y_mm : numpy.ndarray
        Mean COP at each point, foot frame, mm.
    sd_x_mm, sd_y_mm : numpy.ndarray
        SD across steps, mm.
    n_steps : int
    """

    stance_pct: np.ndarray
    x_mm: np.ndarray
    y_mm: np.ndarray
    sd_x_mm: np.ndarray
    sd_y_mm: np.ndarray
    n_steps: int


def gait_line(x_mm: np.ndarray, y_mm: np.ndarray) -> GaitLine:
    """Mean and SD of per-step COP paths sampled at 0-100 % of stance.

    Parameters
    ----------
    x_mm, y_mm : numpy.ndarray
        ``(n_steps, n_points)`` from :func:`insole.analysis.regions.cop_through_stance`.
    """
    with warnings.catch_warnings():  # a point where every step's COP is NaN stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return GaitLine(np.linspace(0.0, 100.0, x_mm.shape[1]), np.nanmean(x_mm, axis=0), np.nanmean(y_mm, axis=0),
                        np.nanstd(x_mm, axis=0), np.nanstd(y_mm, axis=0), int(x_mm.shape[0]))


# --- drawing ---------------------------------------------------------------------------------------

def _view(side: str) -> float:
    """x sign as seen from above: a left foot's lateral edge is on the viewer's left."""
    return -1.0 if side == LEFT else 1.0


def _draw_map(ax, m: PressureMap, side: str, *, vmin: float, vmax: float, cmap: str, title: str):
    s = _view(side)
    x = s * m.x_mm
    order = np.argsort(x)
    im = ax.pcolormesh(x[order], m.y_mm, m.values[:, order], vmin=vmin, vmax=vmax, cmap=cmap, shading="nearest",
                       rasterized=True)
    ax.plot(s * m.outline[:, 0], m.outline[:, 1], color="0.25", lw=0.8)
    ax.plot(s * m.sensor_x_mm, m.sensor_y_mm, "o", ms=3.2, mfc="white", mec="black", mew=0.6)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(title, fontsize=8.5)
    return im


def _draw_gait_lines(ax, lines: dict[str, GaitLine], layout: SensorLayout) -> None:
    o = insole_outline(layout.length_mm, layout.width_mm)
    ax.plot(o[:, 0], o[:, 1], color="0.4", lw=0.8)
    for side, g in lines.items():
        c = SIDE_COLOURS[side]
        ok = np.isfinite(g.x_mm) & np.isfinite(g.y_mm)
        ax.fill_betweenx(g.y_mm[ok], (g.x_mm - g.sd_x_mm)[ok], (g.x_mm + g.sd_x_mm)[ok], color=c, alpha=0.18, lw=0)
        ax.plot(g.x_mm[ok], g.y_mm[ok], color=c, lw=1.5, label=f"{side} ({g.n_steps} steps)")
    ax.plot(layout.x_mm, layout.y_mm, "o", ms=2.5, mfc="white", mec="0.3", mew=0.5)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.text(0.0, 1.0, "medial", transform=ax.transAxes, fontsize=6.5, color="0.4", va="top")
    ax.text(1.0, 1.0, "lateral", transform=ax.transAxes, fontsize=6.5, color="0.4", va="top", ha="right")
    ax.legend(loc="lower right", bbox_to_anchor=(1.25, 0.0), fontsize=6.5, frameon=False)
    ax.set_title("Gait line: COP through stance\n(mean, band +-1 SD across steps)", fontsize=8.5)


def _outline_layout(recording: Recording) -> SensorLayout:
    """A layout for the outline of a recording without per-sensor pressures: the
    importer's sensor positions and foot length when stored, else the reference."""
    extra = recording.meta.extra
    pos = (extra.get("sensor_positions_mm") or {}).get(LEFT) if isinstance(extra.get("sensor_positions_mm"), dict) else None
    try:
        length = float(extra["foot_length_mm"])
        xy = np.asarray(pos, dtype=float).reshape(-1, 2)
    except (KeyError, TypeError, ValueError):
        return layout_for(recording.meta, LEFT)
    return SensorLayout(LEFT, 0, length, 0.37 * length, 1.0, xy[:, 0], xy[:, 1], np.ones(len(xy)))


def _maps_data(recording: Recording, gait, standing):
    """Per side: layout, mean and peak pressure per sensor; and the regions result.

    Pressures are zeroed first (a shoe's preload is not load): in swing for
    a walk or run, with the foot lifted for a standing test.
    """
    if gait is None:
        recording = subtract_baselines(recording, unloaded_baselines(recording))
    s = recording.samples
    t = s.index.to_numpy(dtype=np.float64)
    per_side = {}
    for side in SIDES:
        got = sensor_forces(recording, side)
        if got is None:
            continue
        cols = [(side, ch) for ch in sensor_channels(s.columns, side)]
        p = s[cols].to_numpy(dtype=np.float64)
        if gait is not None:
            p = gait_pressures_kpa(recording, gait.steps, side)  # a shoe's preload is not load
            start, end = stance_rows(t, gait.steps, side)
            per_side[side] = (layout_for(recording.meta, side), *sensor_means_and_peaks(p, start, end))
        else:
            sel = np.zeros(t.size, dtype=bool)
            for ph in standing.phases:
                sel |= (t >= ph.analysed_from_s) & (t < ph.end_s)
            q = p[sel & np.isfinite(p).all(axis=1)]
            per_side[side] = (layout_for(recording.meta, side), q.mean(axis=0) if len(q) else np.nan * p[0],
                              np.percentile(q, 99, axis=0) if len(q) else np.nan * p[0])
    if gait is not None:
        regions = gait_regions(recording, gait.steps, n_boot=gait.options.n_boot, seed=gait.options.seed)
    else:
        regions = standing_regions(recording, stretches_s=[(ph.analysed_from_s, ph.end_s) for ph in standing.phases],
                                   n_boot=standing.options.n_boot, block_s=standing.options.block_s,
                                   seed=standing.options.seed)
    return per_side, regions


def _words(regions: RegionsResult | None, gait) -> str:
    if regions is None:
        return ("This recording has no per-sensor pressures (only each foot's total force and centre of "
                "pressure), so there are no maps or regional shares" + (", only the gait line." if gait else "."))
    if regions.statements:
        return " ".join(regions.statements)
    of = "stance impulse" if regions.basis == "stance_impulse" else "load"
    return (f"The load is spread alike on both feet: no region's share of the foot's {of} differs between left "
            f"and right by {MIN_DIFFERENCE_PP:g} points or more with a 95 % interval that excludes 0.")


def _share_rows(regions: RegionsResult) -> list[list[str]]:
    def pct(v):
        return "missing" if v is None else f"{v:.1f} %"
    rows = []
    for k in REGION_KEYS:
        d = regions.differences[k]
        diff = ("" if d.left_minus_right_pp is None else f"{d.left_minus_right_pp:+.1f} ({d.ci95_pp[0]:+.1f} to "
                f"{d.ci95_pp[1]:+.1f})")
        rows.append([k[:-4], pct(regions.feet[LEFT].shares_pct[k]) if LEFT in regions.feet else "",
                     pct(regions.feet[RIGHT].shares_pct[k]) if RIGHT in regions.feet else "", diff])
    return rows


def load_map_page(fig: Figure, recording: Recording, *, gait=None, standing=None) -> Figure:
    """Draw the page "Where the load goes" into ``fig`` (an A4 page with its header).

    Words (generated from the regional differences and their intervals, see
    :mod:`insole.analysis.regions`), mean- and peak-pressure maps per foot,
    the left-minus-right difference map, the gait line (gait only) and a
    table of the regional shares.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    recording : Recording
        The recording analysed.
    gait : GaitResult, optional
        Given: shares of the stance impulse of its kept steps.
    standing : StandingResult, optional
        Used when ``gait`` is None: shares of the mean load in its quiet phases.
    """
    from .pdf import _paragraph, _table  # the page helpers of the report

    per_side, regions = _maps_data(recording, gait, standing)
    # an importer whose sensor areas are unknown (gaitpdb) gives each sensor's force: maps in N per sensor
    unit, what = (("N per sensor", "force") if recording.meta.extra.get("sensor_unit") == "N" else ("kPa", "pressure"))
    y = _paragraph(fig, 0.9, _words(regions, gait), size=10)
    basis = "of the stance samples" if gait is not None else "of the quiet standing"
    _paragraph(fig, y + 0.005, "Maps: thin-plate spline between the sensors (dots), clipped to the insole outline "
               "and the sensors' range; values between sensors are interpolated, not measured. Feet seen from above; "
               f"{what}s {basis}.", size=7.5, color="0.35", width=125)
    top, h, w = 0.50, 0.28, 0.2
    if len(per_side) == 2:
        maps = {s: (pressure_map(per_side[s][1], per_side[s][0]), pressure_map(per_side[s][2], per_side[s][0]))
                for s in SIDES}
        vmean = max(np.nanmax(maps[s][0].values) for s in SIDES)
        vpeak = max(np.nanmax(maps[s][1].values) for s in SIDES)
        for i, s in enumerate(SIDES):
            im = _draw_map(fig.add_axes((0.05 + i * w, top, w, h)), maps[s][0], s, vmin=0, vmax=vmean,
                           cmap="magma_r", title=f"{s}: mean {what}")
            im2 = _draw_map(fig.add_axes((0.05 + i * w, top - h - 0.02, w, h)), maps[s][1], s, vmin=0,
                            vmax=vpeak, cmap="magma_r", title=f"{s}: peak {what}")
        fig.colorbar(im, cax=fig.add_axes((0.05 + 2 * w, top + 0.04, 0.01, h - 0.08)), label=unit)
        fig.colorbar(im2, cax=fig.add_axes((0.05 + 2 * w, top - h + 0.02, 0.01, h - 0.08)), label=unit)
        diff = difference_map(maps[LEFT][0], maps[RIGHT][0])
        lim = max(float(np.nanmax(np.abs(diff.values))), 1e-9)
        im3 = _draw_map(fig.add_axes((0.66, top, w, h)), diff, LEFT, vmin=-lim, vmax=lim, cmap="RdBu_r",
                        title="left minus right, mean\n(right mirrored onto the left)")
        fig.colorbar(im3, cax=fig.add_axes((0.87, top + 0.04, 0.01, h - 0.08)),
                     label=f"{unit} (red: left higher, blue: right)")
    if gait is not None:
        lines = {}
        for s in SIDES:
            c = cop_through_stance(recording, gait.steps, s)
            if c is not None:
                lines[s] = gait_line(*c)
        if lines:
            lay = per_side[LEFT][0] if LEFT in per_side else _outline_layout(recording)
            _draw_gait_lines(fig.add_axes((0.66, top - h - 0.02, w, h)), lines, lay)
    if regions is not None:
        bounds = ", ".join(f"{r} {a:g}-{b:g} %" for r, (a, b) in REGION_BOUNDS_PCT.items())
        yy = _paragraph(fig, 0.19, f"Share of each foot's {'stance impulse' if regions.basis == 'stance_impulse' else 'mean load'}"
                        f" by region ({bounds} of the foot length from the heel; medial and lateral split by the "
                        "long axis):", size=8, width=125)
        _table(fig, yy, _share_rows(regions), ["region", "left", "right", "left - right, points (95 % CI)"],
               [0.2, 0.14, 0.14, 0.4], size=8)
    return fig


def load_map_figure(recording: Recording, *, gait=None, standing=None) -> Figure:
    """The page "Where the load goes" as a figure of its own (A4)."""
    from .pdf import A4_IN

    fig = Figure(figsize=A4_IN)
    fig.text(0.07, 0.955, "Where the load goes", fontsize=16, weight="bold")
    return load_map_page(fig, recording, gait=gait, standing=standing)
