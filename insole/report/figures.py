"""Figures; each function returns a matplotlib Figure (left and right in the
fixed colours of :data:`insole.constants.SIDE_COLOURS`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..constants import FORCE, LEFT, RIGHT, SIDE_COLOURS, STANDARD_GRAVITY_M_S2
from ..model import Recording

if TYPE_CHECKING:
    from ..analysis.standing import StandingResult

__all__ = ["force_over_time_figure", "load_share_figure", "cop_paths_figure"]

_PHASE_SHADES = ("#f2f2f2", "#e0e0e0")


def force_over_time_figure(recording: Recording, *, start_s: float | None = None, end_s: float | None = None,
                           figsize: tuple[float, float] = (7.0, 3.0), title: str | None = None,
                           mean_window_s: float | None = None, ax: Axes | None = None) -> Figure:
    """Each foot's vertical force over time, phases shaded.

    Forces are shown in body weights when the body mass is known, else in N.

    Parameters
    ----------
    start_s, end_s : float, optional
        Time window, seconds.
    mean_window_s : float, optional
        Show the mean force over consecutive windows of this length instead
        of every sample (readable for long runs).
    ax : matplotlib.axes.Axes, optional
        Draw into these axes (e.g. on a report page) instead of a new figure.
    """
    s = recording.samples
    t = s.index.to_numpy()
    sel = np.ones(t.size, dtype=bool)
    if start_s is not None:
        sel &= t >= start_s
    if end_s is not None:
        sel &= t < end_s
    bw = recording.meta.body_mass_kg * STANDARD_GRAVITY_M_S2 if recording.meta.body_mass_kg else None
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
    fig = ax.get_figure()
    t0, t1 = t[sel][0], t[sel][-1]
    phases = [p for p in recording.meta.phases if min(p.end_s, t1) > max(p.start_s, t0)]
    for i, p in enumerate(phases):
        lo, hi = max(p.start_s, t0), min(p.end_s, t1)
        ax.axvspan(lo, hi, color=_PHASE_SHADES[i % 2], zorder=0)
        # label a phase only where it is wide enough to hold its name
        if len(phases) > 1 and (hi - lo) / (t1 - t0) > 0.1:
            ax.text((lo + hi) / 2, 0.98, p.name.replace("_", " "), transform=ax.get_xaxis_transform(),
                    ha="center", va="top", fontsize=7, color="0.3")
    for side in recording.sides:
        f = s[(side, FORCE)].to_numpy()[sel]
        tt = t[sel]
        if mean_window_s:
            n = max(1, int(round(mean_window_s * recording.meta.sampling_rate_hz)))
            m = f.size // n
            f = np.nanmean(f[: m * n].reshape(m, n), axis=1)
            tt = tt[: m * n].reshape(m, n).mean(axis=1)
        ax.plot(tt, f / bw if bw else f, color=SIDE_COLOURS[side], lw=0.8 if not mean_window_s else 1.2,
                label=side)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("force (body weights)" if bw else "force (N)")
    ax.legend(loc="upper right", bbox_to_anchor=(1.0, -0.12), fontsize=8, frameon=False, ncols=2)
    ax.margins(x=0)
    if title:
        ax.set_title(title, fontsize=10, pad=14)
    return fig


def _shade_phases(ax: Axes, phases, t0: float, t1: float, *, label: bool = True) -> None:
    shown = [p for p in phases if min(p.end_s, t1) > max(p.start_s, t0)]
    for i, p in enumerate(shown):
        lo, hi = max(p.start_s, t0), min(p.end_s, t1)
        ax.axvspan(lo, hi, color=_PHASE_SHADES[i % 2], zorder=0)
        if label and len(shown) > 1 and (hi - lo) / (t1 - t0) > 0.1:
            ax.text((lo + hi) / 2, 0.98, p.name.replace("_", " "), transform=ax.get_xaxis_transform(),
                    ha="center", va="top", fontsize=7, color="0.3")


def load_share_figure(result: "StandingResult", *, ax: Axes | None = None,
                      figsize: tuple[float, float] = (7.0, 3.0), title: str | None = None) -> Figure:
    """The left foot's share of the load over time.

    The instantaneous share (low-passed forces) is drawn with the 50 % line,
    the typical band shaded, and each phase's mean with its 95 % interval.
    Above 50 % the left foot carries more.
    """
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
    fig = ax.get_figure()
    series = result.series
    t = series.index.to_numpy()
    share = series["left_share_pct"].to_numpy()
    quiet = [p for p in result.phases]
    t0 = min(p.start_s for p in quiet)
    t1 = max(p.end_s for p in quiet)
    sel = (t >= t0) & (t <= t1)
    _shade_phases(ax, quiet, t0, t1)
    lo, hi = result.options.typical_band_pct
    ax.axhspan(lo, hi, color="#4daf4a", alpha=0.12, lw=0, label=f"typical {lo:g}-{hi:g} %")
    ax.axhline(50.0, color="0.4", lw=0.8, ls="--")
    ax.plot(t[sel], share[sel], color=SIDE_COLOURS[LEFT], lw=0.7, label="left share")
    for p in result.phases:
        c0, c1 = p.ci95_left_load_pct
        ax.hlines(p.left_load_pct, p.analysed_from_s, p.end_s, color="black", lw=1.5)
        ax.fill_between([p.analysed_from_s, p.end_s], c0, c1, color="black", alpha=0.15, lw=0)
        ax.annotate(f"{p.left_load_pct:.1f} %", (p.end_s, p.left_load_pct), xytext=(-2, 4),
                    textcoords="offset points", ha="right", va="bottom", fontsize=8)
    finite = share[sel][np.isfinite(share[sel])]
    span = max(8.0, float(np.max(np.abs(finite - 50.0))) + 2.0) if finite.size else 8.0
    ax.set_ylim(50.0 - span, 50.0 + span)
    ax.set_xlim(t0, t1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("left foot's share of load (%)\nabove 50: more on the left", fontsize=8)
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.14), fontsize=8, frameon=False, ncols=2)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def cop_paths_figure(result: "StandingResult", *, phases: tuple[str, ...] = ("eyes_open", "eyes_closed"),
                     fig: Figure | None = None, figsize: tuple[float, float] = (7.0, 6.0)) -> Figure:
    """Centre-of-pressure paths, one column per phase on shared scales.

    Top row: the net COP of both feet (ground frame: right and forward
    positive) with its 95 % prediction ellipse. Bottom row: each foot's COP
    about its own mean. Equal scales across phases, so a larger sway with the
    eyes closed is seen at a glance.
    """
    from matplotlib.patches import Ellipse

    from ..analysis.sway import ellipse95

    shown = [p for p in (result.phase(n) for n in phases) if p is not None] or list(result.phases[:2])
    if fig is None:
        fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(2, len(shown), squeeze=False)
    series = result.series
    t = series.index.to_numpy()
    reach_net = reach_feet = 1.0
    drawn = []
    for j, p in enumerate(shown):
        sel = (t >= p.analysed_from_s) & (t < p.end_s)
        ml = series["net_ml_mm"].to_numpy()[sel]
        ap = series["net_ap_mm"].to_numpy()[sel]
        ok = np.isfinite(ml) & np.isfinite(ap)
        ml, ap = ml[ok] - np.mean(ml[ok]), ap[ok] - np.mean(ap[ok])
        ax = axes[0, j]
        ax.plot(ml, ap, color="black", lw=0.5)
        if ok.sum() > 10:
            e = ellipse95(ap, ml)
            ax.add_patch(Ellipse((e["center_ml_mm"], e["center_ap_mm"]), 2 * e["semi_major_mm"],
                                 2 * e["semi_minor_mm"], angle=e["angle_deg"], fill=False, color="#e41a1c", lw=1.2))
            reach_net = max(reach_net, e["semi_major_mm"] * 1.1)
        reach_net = max(reach_net, float(np.max(np.abs(np.concatenate([ml, ap])))) if ml.size else 1.0)
        area = (p.sway or {}).get("ellipse95_area_mm2")
        ax.set_title(f"{p.name.replace('_', ' ')}: net COP" + (f", ellipse {area:.0f} mm²" if area else ""),
                     fontsize=9)
        axb = axes[1, j]
        for side in (LEFT, RIGHT):
            x = series[f"{side}_x_mm"].to_numpy()[sel]
            y = series[f"{side}_y_mm"].to_numpy()[sel]
            okf = np.isfinite(x) & np.isfinite(y)
            if okf.any():
                x, y = x[okf] - np.mean(x[okf]), y[okf] - np.mean(y[okf])
                axb.plot(x, y, color=SIDE_COLOURS[side], lw=0.5, label=f"{side} foot")
                reach_feet = max(reach_feet, float(np.max(np.abs(np.concatenate([x, y])))))
        axb.set_title(f"{p.name.replace('_', ' ')}: each foot's COP", fontsize=9)
        drawn.append((ax, axb))
    for ax, axb in drawn:
        for a, r in ((ax, reach_net), (axb, reach_feet)):
            a.set_xlim(-r * 1.05, r * 1.05)
            a.set_ylim(-r * 1.05, r * 1.05)
            a.set_aspect("equal")
            a.axhline(0, color="0.85", lw=0.5, zorder=0)
            a.axvline(0, color="0.85", lw=0.5, zorder=0)
            a.set_xlabel("mediolateral (mm, + right)", fontsize=8)
            a.set_ylabel("anteroposterior (mm, + forward)", fontsize=8)
            a.tick_params(labelsize=7)
    drawn[-1][1].legend(fontsize=7, frameon=False, loc="upper right")
    return fig
