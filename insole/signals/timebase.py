"""From sample indices to host time: unwrap, split at device restarts, and
fit each foot's clock to the host clock.

Two insoles have two crystals (20-50 ppm apart: milliseconds per minute), and
BLE delivers notifications late by a variable amount. So a sample's time is
never its packet's arrival time. Instead, per foot and per device epoch, the
line ``host_ns = offset_ns + period_ns * index`` is fitted as the LOWER
ENVELOPE of (index of the packet's last sample, arrival time): every packet
arrives after its last sample was taken, and the least-delayed packets lie
on the line. The chosen line is the edge of the lower convex hull that spans
the mean index, which maximises the line's mean (the linear programme
"highest line under all points"), so one late burst cannot tilt it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger("insole")

__all__ = ["ClockFit", "unwrap_indices", "fit_clock"]

_WRAP = 2**32
#: a backwards jump of more than this many samples means the device restarted
RESTART_JUMP_SAMPLES = 1000
#: fitted clock rates beyond this are not believed (crystals are +-50 ppm)
MAX_CLOCK_PPM = 1000.0


@dataclass(frozen=True)
class ClockFit:
    """Linear map from a foot's sample index to host time.

    Attributes
    ----------
    offset_ns : float
        Host time of sample index 0 of this epoch, ns since recording start.
    period_ns : float
        Host nanoseconds per sample.
    rate_ppm : float
        Device clock rate error against the host clock, ppm; positive means
        the device's samples come slower than nominal (its clock runs slow).
    latency_ms : dict
        Median and 95th percentile of arrival minus fitted sample time, ms.
    n_packets : int
        Packets used for the fit.
    fallback : bool
        True when too few packets (or an implausible slope) forced the
        nominal period.
    """

    offset_ns: float
    period_ns: float
    rate_ppm: float
    latency_ms: dict
    n_packets: int
    fallback: bool = False

    def host_ns(self, index: np.ndarray) -> np.ndarray:
        """Host time (ns since start, float64) of the given sample indices."""
        return self.offset_ns + self.period_ns * np.asarray(index, dtype=np.float64)


def unwrap_indices(first_index: np.ndarray, *, device_time_us: np.ndarray | None = None,
                   sampling_rate_hz: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Unwrap 32-bit sample indices in arrival order and number the epochs.

    Parameters
    ----------
    first_index : numpy.ndarray
        First-sample index of each packet, 0 .. 2**32-1, arrival order.
    device_time_us : numpy.ndarray, optional
        Device time of each packet's first sample (uint64). With
        ``sampling_rate_hz``, a new epoch also starts where device time jumps
        against the index by more than half a sample period: the device
        stopped and restarted sampling (the index does not advance while it
        is stopped; firmware_specs/protocol_v1.md section 7).
    sampling_rate_hz : float, optional

    Returns
    -------
    unwrapped : numpy.ndarray
        int64 indices, continuous across wraps; each epoch restarts from its
        own raw values.
    epoch : numpy.ndarray
        int64 epoch number per packet; a new epoch starts where the index
        jumps back by more than :data:`RESTART_JUMP_SAMPLES` (a device
        restart), small backward steps (duplicates, reordering) stay.
    """
    idx = np.asarray(first_index, dtype=np.int64)
    if idx.size == 0:
        return idx.copy(), idx.copy()
    d = np.diff(idx)
    d = (d + _WRAP // 2) % _WRAP - _WRAP // 2  # signed modular difference
    restart = d < -RESTART_JUMP_SAMPLES
    d_kept = np.where(restart, 0, d)
    unwrapped = idx[0] + np.concatenate([[0], np.cumsum(d_kept)])
    if device_time_us is not None and sampling_rate_hz:
        dev = np.asarray(device_time_us, dtype=np.uint64)
        rel_us = (dev - dev[0]).view(np.int64).astype(np.float64)  # modular difference, exact
        phase_us = rel_us - (unwrapped - unwrapped[0]) * (1e6 / sampling_rate_hz)
        restart |= (np.abs(np.diff(phase_us)) > 0.5e6 / sampling_rate_hz) & ~restart
    epoch = np.concatenate([[0], np.cumsum(restart)])
    d = d_kept
    # an epoch restarts at its own raw index
    if restart.any():
        starts = np.flatnonzero(np.concatenate([[True], restart]))
        base = idx[starts] - unwrapped[starts]
        unwrapped = unwrapped + base[epoch]
    return unwrapped, epoch


def fit_clock(last_index: np.ndarray, arrival_ns: np.ndarray, *, sampling_rate_hz: float,
              n_windows: int = 256) -> ClockFit:
    """Fit the lower envelope of arrival time against sample index.

    Parameters
    ----------
    last_index : numpy.ndarray
        Unwrapped index of each packet's LAST sample (one epoch).
    arrival_ns : numpy.ndarray
        Host arrival time of each packet, ns since recording start.
    sampling_rate_hz : float
        Nominal rate; the starting slope and the fallback.
    n_windows : int
        The points are reduced to the lowest one per window of the index
        axis before the hull (speed; the envelope is made of minima anyway).

    Returns
    -------
    ClockFit
    """
    x = np.asarray(last_index, dtype=np.float64)
    y = np.asarray(arrival_ns, dtype=np.float64)
    nominal = 1e9 / sampling_rate_hz
    n = x.size
    if n == 0:
        raise ValueError("fit_clock needs at least one packet")
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    resid0 = y - nominal * x
    period, fallback = nominal, True
    if n >= 8 and x[-1] > x[0]:
        k = min(n_windows, n)
        bounds = np.linspace(0, n, k + 1).astype(np.int64)
        picks = np.array([lo + int(np.argmin(resid0[lo:hi])) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo])
        hx, hy = _lower_hull(x[picks], y[picks])
        if hx.size >= 2:
            xm = x.mean()
            j = int(np.clip(np.searchsorted(hx, xm) - 1, 0, hx.size - 2))
            slope = (hy[j + 1] - hy[j]) / (hx[j + 1] - hx[j])
            if abs(slope / nominal - 1.0) * 1e6 <= MAX_CLOCK_PPM:
                period, fallback = slope, False
            else:
                log.warning("clock fit slope %.0f ppm off nominal is implausible; using nominal rate",
                            (slope / nominal - 1.0) * 1e6)
    # offset: highest line of this slope under all points
    offset = float(np.min(y - period * x))
    latency_ms = (y - (offset + period * x)) / 1e6
    return ClockFit(
        offset_ns=offset,
        period_ns=float(period),
        rate_ppm=float((period / nominal - 1.0) * 1e6),
        latency_ms={"median": float(np.median(latency_ms)), "p95": float(np.percentile(latency_ms, 95))},
        n_packets=int(n),
        fallback=fallback,
    )


def _lower_hull(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower convex hull (monotone chain) of points sorted by x; a few
    hundred points at most."""
    hx: list[float] = []
    hy: list[float] = []
    for px, py in zip(x.tolist(), y.tolist()):
        if hx and px == hx[-1]:
            if py >= hy[-1]:
                continue
            hx.pop()
            hy.pop()
        while len(hx) >= 2 and (hx[-1] - hx[-2]) * (py - hy[-2]) - (hy[-1] - hy[-2]) * (px - hx[-2]) <= 0:
            hx.pop()
            hy.pop()
        hx.append(px)
        hy.append(py)
    return np.asarray(hx), np.asarray(hy)
