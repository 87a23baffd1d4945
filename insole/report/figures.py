"""Figures; each function returns a matplotlib Figure (left and right in the
fixed colours of :data:`insole.constants.SIDE_COLOURS`)."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..constants import FORCE, SIDE_COLOURS, STANDARD_GRAVITY_M_S2
from ..model import Recording

__all__ = ["force_over_time_figure"]

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
