"""Figures; each function returns a matplotlib Figure (left and right in the
fixed colours of :data:`insole.constants.SIDE_COLOURS`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..constants import FORCE, LEFT, RIGHT, SIDE_COLOURS
from ..model import Recording

if TYPE_CHECKING:
    from ..analysis.gait import GaitResult
    from ..analysis.standing import StandingResult

__all__ = ["force_over_time_figure", "load_share_figure", "cop_paths_figure", "force_curves_figure",
           "steps_over_time_figure", "asymmetry_figure", "drift_figure", "history_figure"]

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
    bw = recording.meta.body_weight_n
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


def _grid(fig: Figure | None, rect: tuple[float, float, float, float] | None, nrows: int, ncols: int,
          figsize: tuple[float, float], **kw) -> tuple[Figure, np.ndarray]:
    """Axes for a multi-panel figure: a new figure, or a grid inside ``rect``
    (left, bottom, width, height in figure fractions) of a given one."""
    if fig is None:
        fig = Figure(figsize=figsize, layout="constrained")
        return fig, fig.subplots(nrows, ncols, squeeze=False)
    left, bottom, width, height = rect or (0.1, 0.1, 0.8, 0.8)
    gs = fig.add_gridspec(nrows, ncols, left=left, right=left + width, bottom=bottom, top=bottom + height, **kw)
    return fig, np.array([[fig.add_subplot(gs[i, j]) for j in range(ncols)] for i in range(nrows)])


def cop_paths_figure(result: "StandingResult", *, phases: tuple[str, ...] = ("eyes_open", "eyes_closed"),
                     fig: Figure | None = None, rect: tuple[float, float, float, float] | None = None,
                     figsize: tuple[float, float] = (7.0, 6.0)) -> Figure:
    """Centre-of-pressure paths, one column per phase on shared scales.

    Top row: the net COP of both feet (ground frame: right and forward
    positive) with its 95 % prediction ellipse. Bottom row: each foot's COP
    about its own mean. Equal scales across phases, so a larger sway with the
    eyes closed is seen at a glance.
    """
    from matplotlib.patches import Ellipse

    from ..analysis.sway import ellipse95

    shown = [p for p in (result.phase(n) for n in phases) if p is not None] or list(result.phases[:2])
    fig, axes = _grid(fig, rect, 2, len(shown), figsize, hspace=0.35, wspace=0.35)
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


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
    return ax.get_figure(), ax


def force_curves_figure(recording: Recording, gait: "GaitResult", *, ax: Axes | None = None, n_points: int = 101,
                        figsize: tuple[float, float] = (7.0, 3.2), title: str | None = None) -> Figure:
    """Mean vertical force of each foot over normalised stance (0-100 %),
    with a band of +-1 SD across the steps kept; in body weights when the
    body mass is known."""
    fig, ax = _new_axes(ax, figsize)
    s = recording.samples
    t = s.index.to_numpy()
    steps = gait.steps[gait.steps["excluded"] == ""]
    bw = recording.meta.body_weight_n
    x = np.linspace(0.0, 1.0, n_points)
    for side in (LEFT, RIGHT):
        st = steps[steps["side"] == side]
        if st.empty:
            continue
        f = s[(side, FORCE)].to_numpy(dtype=np.float64)
        # each stance resampled to n_points: times ic + x * (to - ic), interpolated on the grid
        times = st["ic_s"].to_numpy()[:, None] + x[None, :] * st["contact_time_s"].to_numpy()[:, None]
        curves = np.interp(times, t, f)
        curves = curves / bw if bw else curves
        mean, sd = np.nanmean(curves, axis=0), np.nanstd(curves, axis=0)
        colour = SIDE_COLOURS[side]
        ax.fill_between(100 * x, mean - sd, mean + sd, color=colour, alpha=0.2, lw=0)
        ax.plot(100 * x, mean, color=colour, lw=1.5, label=f"{side} ({len(st)} steps)")
    ax.set_xlabel("stance (% of contact time)")
    ax.set_ylabel("force (body weights)" if bw else "force (N)")
    ax.set_xlim(0, 100)
    ax.legend(fontsize=8, frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def steps_over_time_figure(gait: "GaitResult", *, metric: str = "contact_time_s", ax: Axes | None = None,
                           figsize: tuple[float, float] = (7.0, 3.0), title: str | None = None) -> Figure:
    """One per-step value over the run for each foot (steps left out are
    hollow), with a one-minute rolling median."""
    fig, ax = _new_axes(ax, figsize)
    steps = gait.steps
    scale, unit = (1000.0, "ms") if metric.endswith("_s") else (1.0, metric.rsplit("_", 1)[-1])
    for side in (LEFT, RIGHT):
        st = steps[steps["side"] == side]
        kept = st["excluded"] == ""
        colour = SIDE_COLOURS[side]
        ax.scatter(st.loc[kept, "ic_s"], st.loc[kept, metric] * scale, s=3, color=colour, alpha=0.5, lw=0)
        ax.scatter(st.loc[~kept, "ic_s"], st.loc[~kept, metric] * scale, s=8, facecolors="none",
                   edgecolors=colour, lw=0.6)
        k = st[kept].set_index("ic_s")[metric] * scale
        if len(k) > 10:
            k.index = pd.to_timedelta(k.index, unit="s")
            roll = k.rolling("60s", center=True, min_periods=5).median()
            ax.plot(roll.index.total_seconds(), roll.to_numpy(), color=colour, lw=1.5, label=f"{side}")
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"{metric.rsplit('_', 1)[0].replace('_', ' ')} ({unit})")
    ax.legend(fontsize=8, frameon=False, ncols=2)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


_METRIC_LABELS = {"contact_time": "contact time", "flight_time": "flight time", "swing_time": "swing time",
                  "peak_force": "peak force",
                  "impulse": "impulse", "loading_rate": "loading rate"}


def asymmetry_figure(gait: "GaitResult", *, ax: Axes | None = None, figsize: tuple[float, float] = (7.0, 3.0),
                     title: str | None = None) -> Figure:
    """Each metric's symmetry angle with its 95 % interval, against the band of
    typical healthy runners (+-1x typical, light) and the verdict limit (+-2x,
    lighter), or for a walk the range of healthy walkers (the verdict limit).
    Right of zero: the right side is larger."""
    fig, ax = _new_axes(ax, figsize)
    from ..analysis.asymmetry import si_to_sa_pct

    items = [(k, a) for k, a in gait.asymmetry.items() if a.sa_pct is not None]
    walk_limits = gait.mode == "walk" and any(a.bound_si_pct is not None for _, a in items)
    for i, (k, a) in enumerate(items):
        y = len(items) - 1 - i
        if walk_limits and a.bound_si_pct is not None:  # healthy walkers' range: the verdict limit itself
            lim = si_to_sa_pct(a.bound_si_pct)
            ax.fill_betweenx([y - 0.35, y + 0.35], -lim, lim, color="#4daf4a", alpha=0.15, lw=0)
        elif a.typical_sa_pct:
            lim = gait.options.favour_factor * a.typical_sa_pct
            ax.fill_betweenx([y - 0.35, y + 0.35], -lim, lim, color="#4daf4a", alpha=0.10, lw=0)
            ax.fill_betweenx([y - 0.35, y + 0.35], -a.typical_sa_pct, a.typical_sa_pct, color="#4daf4a",
                             alpha=0.2, lw=0)
        lo, hi = a.ci95_sa_pct
        colour = SIDE_COLOURS.get(a.favoured_side, "black") if a.favoured_side != "none" else "black"
        ax.errorbar(a.sa_pct, y, xerr=[[a.sa_pct - lo], [hi - a.sa_pct]], fmt="o", color=colour, ms=4, capsize=3)
        ax.annotate(f"SI {a.si_pct:+.1f} %", (hi, y), xytext=(6, 0), textcoords="offset points", va="center",
                    fontsize=7)
    ax.axvline(0, color="0.4", lw=0.8)
    ax.set_yticks(range(len(items)))
    ax.set_yticklabels([_METRIC_LABELS[k] for k, _ in reversed(items)], fontsize=8)
    bands = [si_to_sa_pct(a.bound_si_pct) if walk_limits and a.bound_si_pct is not None
             else 2 * (a.typical_sa_pct or 0) for _, a in items]
    reach = max([abs(v) for _, a in items for v in a.ci95_sa_pct] + bands + [1.0])
    ax.set_xlim(-reach * 1.35, reach * 1.35)
    ax.set_xlabel("symmetry angle (%): + = right larger, - = left larger")
    caption = ("shaded: the range of healthy walkers (the verdict limit; see the methods page for sources)"
               if walk_limits else
               "shaded: typical healthy runners (Girard et al. 2019), lighter: twice that (verdict limit)")
    ax.text(0.0, -0.32, caption, transform=ax.transAxes, fontsize=7, color="0.35")
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def drift_figure(gait: "GaitResult", *, ax: Axes | None = None, figsize: tuple[float, float] = (7.0, 3.0),
                 title: str | None = None) -> Figure:
    """The symmetry index of each load metric per window over the run, with
    the fitted trend where there are enough windows."""
    fig, ax = _new_axes(ax, figsize)
    windows = pd.DataFrame(gait.drift["windows"])
    colours = {"contact_time": "#4c72b0", "peak_force": "#dd8452", "impulse": "#55a868", "loading_rate": "#8172b2",
               "flight_time": "#937860"}
    if len(windows) < 3:
        ax.text(0.5, 0.5, f"too short for a trend: it needs at least 3 windows of {gait.drift['window_s']:.0f} s",
                transform=ax.transAxes, ha="center", va="center", fontsize=9, color="0.35")
        ax.set_xticks([])
        ax.set_yticks([])
        if title:
            ax.set_title(title, fontsize=10)
        return fig
    mid = 0.5 * (windows["start_s"] + windows["end_s"]) / 60.0
    for k in gait.asymmetry:
        if k not in windows or k == "flight_time":
            continue
        y = windows[k].to_numpy(dtype=float)
        slope = gait.drift["slope_pp_per_10min"][k]
        ok = np.isfinite(y)
        label = _METRIC_LABELS[k]
        if slope["value"] is not None and slope["ci95"] and ok.sum() >= 3:
            lo, hi = slope["ci95"]
            label += f" ({slope['value']:+.1f} pp/10 min, 95 % CI {lo:+.1f} to {hi:+.1f})"
            # the trend line through the windows' centre, and the fan of slopes its interval allows
            x10, xc, yc = mid / 10.0, float(np.mean(mid[ok] / 10.0)), float(np.mean(y[ok]))
            ax.plot(mid, yc + slope["value"] * (x10 - xc), color=colours[k], lw=0.8, ls="--")
            ax.fill_between(mid, yc + lo * (x10 - xc), yc + hi * (x10 - xc), color=colours[k], alpha=0.12, lw=0)
        ax.plot(mid, y, "o-", ms=3, lw=1, color=colours[k], label=label)
    ax.axhline(0, color="0.4", lw=0.8)
    ax.set_xlabel("time (min)")
    ax.set_ylabel("symmetry index (%), + = right larger")
    ax.legend(fontsize=6.5, frameon=False, ncols=2, loc="upper left")
    if gait.sensor.drifted:
        ax.text(0.5, 0.05, "sensor drift detected: changes are not read as fatigue", transform=ax.transAxes,
                ha="center", fontsize=8, color="#e41a1c")
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def history_figure(sessions: list[tuple[str, "StandingResult | None", "GaitResult | None"]], *,
                   fig: Figure | None = None, rect: tuple[float, float, float, float] | None = None,
                   figsize: tuple[float, float] = (7.0, 6.0)) -> Figure:
    """Key asymmetries across sessions, each with its 95 % interval, against
    the typical band: the standing left share (45-55 %), and the symmetry
    angle of contact time, peak force and impulse (shaded: twice the typical
    value, the verdict limit). Sessions are in date order, left to right."""
    from ..analysis.asymmetry import TYPICAL_SA_PCT

    panels = [("standing", "standing: left foot's share of the load (%)"),
              ("contact_time", "running: contact time, symmetry angle (%)"),
              ("peak_force", "running: peak force, symmetry angle (%)"),
              ("impulse", "running: impulse, symmetry angle (%)")]
    fig, grid = _grid(fig, rect, len(panels), 1, figsize, hspace=0.4)
    axes = grid[:, 0]
    for ax in axes[:-1]:
        ax.sharex(axes[-1])
        ax.tick_params(labelbottom=False)
    x = np.arange(len(sessions))
    labels = [label for label, _, _ in sessions]
    for ax, (key, name) in zip(axes, panels):
        vals, los, his = [], [], []
        for _, st, g in sessions:
            if key == "standing":
                v, ci = (st.left_load_pct, st.ci95_left_load_pct) if st is not None else (np.nan, (np.nan, np.nan))
            else:
                a = g.asymmetry.get(key) if g is not None else None
                v, ci = (a.sa_pct, a.ci95_sa_pct) if a is not None and a.sa_pct is not None else (np.nan, (np.nan, np.nan))
            vals.append(v)
            los.append(ci[0])
            his.append(ci[1])
        vals, los, his = map(np.asarray, (vals, los, his))
        if key == "standing":
            band = next((st.options.typical_band_pct for _, st, _ in sessions if st is not None), (45.0, 55.0))
            ax.axhspan(*band, color="#4daf4a", alpha=0.15, lw=0)
            ax.axhline(50, color="0.4", lw=0.8, ls="--")
        else:
            lim = 2.0 * TYPICAL_SA_PCT[key]
            ax.axhspan(-lim, lim, color="#4daf4a", alpha=0.15, lw=0)
            ax.axhline(0, color="0.4", lw=0.8)
        ok = np.isfinite(vals)
        if ok.any():
            ax.errorbar(x[ok], vals[ok], yerr=[vals[ok] - los[ok], his[ok] - vals[ok]], fmt="o-", color="black",
                        ms=5, capsize=4, lw=1)
            for xi, v in zip(x[ok], vals[ok]):
                ax.annotate(f"{v:.1f}", (xi, v), xytext=(7, 0), textcoords="offset points", fontsize=7, va="center")
        else:
            ax.text(0.5, 0.5, "not measured", transform=ax.transAxes, ha="center", va="center", color="0.5")
        ax.set_title(name, fontsize=9, loc="left")
        ax.tick_params(labelsize=8)
    axes[-1].set_xticks(x)
    axes[-1].set_xticklabels(labels, fontsize=8)
    axes[-1].set_xlim(-0.5, len(sessions) - 0.5)
    return fig
