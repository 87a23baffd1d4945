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

A session logged on the insoles (protocol v1.1) has no arrival times; its
evidence is the sync points each foot logged with a host and the beacons
each foot heard from the other: :func:`fit_logged_clocks`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..constants import SIDE_CODE, SIDES
from ..errors import InsoleError
from ..protocol.logrecords import Beacons, SyncPoints

log = logging.getLogger(__name__)

__all__ = ["ClockFit", "DeviceClockMap", "fit_clock", "fit_logged_clocks", "unwrap_indices"]

_WRAP = 2**32
#: a backwards jump of more than this many samples means the device restarted
RESTART_JUMP_SAMPLES = 1000
#: fitted clock rates beyond this are not believed (crystals are +-50 ppm)
MAX_CLOCK_PPM = 1000.0
#: prior spread of a logged clock's rate around nominal, ppm (protocol v1:
#: +-50 ppm per crystal over temperature and ageing, so the two feet and
#: the host may differ by about this much)
SYNC_PRIOR_PPM = 100.0


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


# --------------------------------------------------------------------------
# Logged sessions (protocol v1.1): sync points and cross-foot beacons
# --------------------------------------------------------------------------

#: knot spacing of the beacon fit, seconds of device time: the relative rate
#: of two warming crystals moves by ~10 ppm over tens of minutes, which a
#: 60 s piecewise-linear curve follows to a few microseconds
BEACON_KNOT_S = 60.0
#: fewer usable beacons than this and each foot falls back to its own sync points
MIN_BEACONS = 10
#: beacons whose residual is more than this many MADs from the median are outliers
OUTLIER_MADS = 5.0
#: ... but never closer than this (timestamps are whole microseconds), us
MIN_OUTLIER_US = 20.0
#: smoothness penalty of the beacon curve (second differences of the knots),
#: in units of one beacon's weight: negligible where there are beacons, a
#: straight bridge across a gap without any
_CURVE_PENALTY = 1.0
#: a sync point's uncertainty is never taken as smaller than this, us
_MIN_UNCERTAINTY_US = 1.0


@dataclass(frozen=True)
class DeviceClockMap:
    """One foot's device time -> host time, piecewise linear and increasing.

    Attributes
    ----------
    knots_device_us : numpy.ndarray
        float64 device times of the knots, us, increasing.
    knots_host_ns : numpy.ndarray
        float64 host times at the knots, ns since ``host_origin_ns``,
        increasing. Outside the knots the end segments are extended.
    rate_ppm : float
        Host time per device time over the knots, minus 1, ppm: positive
        means the device clock runs slow (the sign of
        :attr:`ClockFit.rate_ppm`).
    evidence : str
        What the map rests on, e.g. ``"sync points (reference foot)"``,
        ``"sync points + beacons (via the left foot)"``,
        ``"sync points (no beacons)"``, ``"sync point, nominal rate ..."``.
    residual_us : dict
        Residuals of the fit, us: ``p50``/``p95`` of the absolute residuals
        of the evidence fitted (the foot's sync points, or its beacons);
        for a map through beacons also ``check_p50``/``check_p95`` (the
        foot's own sync points against the map, not used in the fit; absent
        without any), ``latency_us`` (fitted one-way beacon latency),
        ``n_beacons`` and ``n_rejected``.
    """

    knots_device_us: np.ndarray
    knots_host_ns: np.ndarray
    rate_ppm: float
    evidence: str
    residual_us: dict

    def host_ns(self, device_time_us) -> np.ndarray:
        """Host time (ns since the origin, float64) at device times (us);
        vectorised."""
        x = np.asarray(device_time_us, dtype=np.float64)
        kx, ky = self.knots_device_us, self.knots_host_ns
        y = np.interp(x, kx, ky)
        first = (ky[1] - ky[0]) / (kx[1] - kx[0])
        last = (ky[-1] - ky[-2]) / (kx[-1] - kx[-2])
        y = np.where(x < kx[0], ky[0] + (x - kx[0]) * first, y)
        return np.where(x > kx[-1], ky[-1] + (x - kx[-1]) * last, y)


@dataclass(frozen=True)
class _SyncLine:
    """Weighted line host_ns = host_mid_ns + slope * (device - device_mid_us)."""

    device_mid_us: float
    host_mid_ns: float
    slope_ns_per_us: float
    device_span_us: tuple[float, float]
    slope_info: float  # sum w (x - mean)^2: how well the points pin the slope
    weight: float      # sum w: how well they pin the offset
    residual_us: np.ndarray
    n: int

    def host_ns(self, device_us: np.ndarray) -> np.ndarray:
        return self.host_mid_ns + self.slope_ns_per_us * (np.asarray(device_us, dtype=np.float64) - self.device_mid_us)

    def as_map(self, evidence: str) -> DeviceClockMap:
        lo, hi = self.device_span_us
        kx = np.array([lo, hi if hi > lo else lo + 1e6])
        if self.n == 1:
            evidence = "sync point, nominal rate" + evidence.removeprefix("sync points")
        return _map(kx, self.host_ns(kx), evidence, _abs_percentiles(self.residual_us))


def fit_logged_clocks(sync: dict[str, SyncPoints], beacons: dict[str, Beacons], *,
                      host_origin_ns: int) -> dict[str, DeviceClockMap]:
    """Map each foot's device time to host time from a logged session's
    clock evidence.

    Method. The two feet are mapped to ONE reference clock, not each to the
    host on its own: sync points are few (usually one at each end of the
    session) and each carries milliseconds of uncertainty (half a BLE round
    trip), and a line through them cannot follow a rate that moves by
    several ppm as the shoe warms, so two independent lines leave the feet
    milliseconds apart mid-run. The beacons, heard about once a second with
    tens of microseconds of timestamp noise, pin one foot's clock to the
    other's along the whole session instead.

    1. Reference foot: the one whose sync points pin its line best (largest
       ``sum w (x - mean x)^2``, then largest ``sum w``; weights ``w =
       1/uncertainty^2``). Its map is the weighted least-squares line
       through its sync points, with a prior of nominal rate (+-
       :data:`SYNC_PRIOR_PPM`, the spec's crystal tolerance), so that one
       sync point, points close together or points whose round trips were
       long give about the nominal rate, and good ones their own slope.
    2. The other foot: a piecewise-linear curve of the reference's device
       time against its own (knots every :data:`BEACON_KNOT_S`), least
       squares through the beacons of BOTH directions at once, with the
       one-way latency a free parameter of opposite sign in the two
       directions, so a fixed reception latency cancels (with beacons in
       one direction only it is taken as 0). Gross errors: beacons more
       than :data:`OUTLIER_MADS` x MAD off a robust start (per direction,
       the curve through the medians of each knot interval) are dropped,
       the curve is fitted, the same rejection is applied once to its
       residuals, and the curve is fitted again. A gentle second-difference
       penalty bridges gaps without beacons. The curve composed with the
       reference's line is the foot's map; the foot's own sync points are
       only a check (``residual_us["check_p95"]``).
    3. Fewer than :data:`MIN_BEACONS` usable beacons: each foot's own sync
       points, as in 1 (``evidence`` says so).

    Parameters
    ----------
    sync : dict
        Side (``"left"``/``"right"``) -> :class:`SyncPoints` that foot
        logged (device time us, host Unix time us, uncertainty us).
    beacons : dict
        Side -> :class:`Beacons` that foot heard from the other foot (its
        own reception time, the peer's transmit time). Beacons naming
        another side, or a peer session other than the most common one,
        are ignored.
    host_origin_ns : int
        Unix time (ns) that host time 0 of the maps stands for.

    Returns
    -------
    dict
        Side -> :class:`DeviceClockMap`, host ns since ``host_origin_ns``.
        A foot with neither sync points nor usable beacons is absent (and
        a warning logged).

    Raises
    ------
    InsoleError
        If neither foot has a sync point: nothing ties the session to host
        time.
    """
    sides = [s for s in SIDES if s in sync or s in beacons]
    lines = {s: _sync_line(sync[s], host_origin_ns) for s in sides if s in sync and len(sync[s])}
    if not lines:
        raise InsoleError("the logged session has no sync point on either insole: its time cannot be placed "
                          "on the host clock (connect a host while logging, or at its start or end)")
    ref = max(lines, key=lambda s: (lines[s].slope_info, lines[s].weight))
    out: dict[str, DeviceClockMap] = {}
    for other in (s for s in sides if s != ref):
        pts = _beacon_points(beacons, ref=ref, other=other)
        fit = _fit_beacon_curve(*pts) if pts[0].size >= MIN_BEACONS else None
        if fit is not None:
            out[other] = _compose(fit, lines[ref], sync.get(other), ref=ref, host_origin_ns=host_origin_ns)
        elif other in lines:
            log.info("logged clocks: %d usable beacons, each foot uses its own sync points", pts[0].size)
            out[other] = lines[other].as_map("sync points (no beacons)")
        else:
            log.warning("logged clocks: the %s insole has no sync point and too few beacons (%d): "
                        "its samples cannot be timed", other, pts[0].size)
    via = any(m.evidence.startswith("sync points + beacons") for m in out.values())
    out[ref] = lines[ref].as_map("sync points (reference foot)" if via else
                                 "sync points (no beacons)" if len(sides) > 1 else "sync points")
    return {s: out[s] for s in sides if s in out}


def _map(kx: np.ndarray, ky: np.ndarray, evidence: str, residual_us: dict) -> DeviceClockMap:
    rate = ((ky[-1] - ky[0]) / (kx[-1] - kx[0]) / 1e3 - 1.0) * 1e6
    return DeviceClockMap(np.asarray(kx, dtype=np.float64), np.asarray(ky, dtype=np.float64), float(rate),
                          evidence, residual_us)


def _abs_percentiles(r_us: np.ndarray, prefix: str = "") -> dict:
    a = np.abs(np.asarray(r_us, dtype=np.float64))
    if a.size == 0:
        return {}
    return {f"{prefix}p50": float(np.percentile(a, 50)), f"{prefix}p95": float(np.percentile(a, 95))}


def _sync_line(sp: SyncPoints, host_origin_ns: int) -> _SyncLine:
    """Weighted line through sync points, prior slope nominal +- SYNC_PRIOR_PPM."""
    dev = sp.device_time_us.astype(np.float64)
    host_ns = (sp.host_time_us.astype(np.int64) * 1000 - np.int64(host_origin_ns)).astype(np.float64)
    u_ns = np.maximum(sp.uncertainty_us.astype(np.float64), _MIN_UNCERTAINTY_US) * 1e3
    w = 1.0 / u_ns**2
    x_mid = float(np.sum(w * dev) / np.sum(w))
    y_mid = float(np.sum(w * host_ns) / np.sum(w))
    dx, dy = dev - x_mid, host_ns - y_mid
    info = float(np.sum(w * dx * dx))
    prior = 1.0 / (1e3 * SYNC_PRIOR_PPM * 1e-6) ** 2  # ns/us slope, sd = SYNC_PRIOR_PPM
    slope = (float(np.sum(w * dx * dy)) + prior * 1e3) / (info + prior)
    if abs(slope / 1e3 - 1.0) * 1e6 > MAX_CLOCK_PPM:
        log.warning("logged clocks: sync points give an implausible rate (%.0f ppm); using the nominal rate",
                    (slope / 1e3 - 1.0) * 1e6)
        slope = 1e3
    resid_us = (dy - slope * dx) / 1e3
    return _SyncLine(x_mid, y_mid, slope, (float(dev.min()), float(dev.max())), info, float(np.sum(w)),
                     resid_us, len(sp))


def _beacon_points(beacons: dict[str, Beacons], *, ref: str, other: str):
    """Beacons of both directions as points of the curve ref device time
    against other device time: ``x`` the other foot's device time, ``h`` =
    ref minus other device time, ``d`` = +1 for other -> ref beacons (the
    ref foot's reception is late by the latency), -1 for ref -> other.

    Returns (x - x0 as int64 us, h - h0 as float us, d as int8, x0, h0)."""
    xs, hs, ds = [], [], []
    for logger, peer, sign in ((other, ref, -1), (ref, other, +1)):
        b = beacons.get(logger)
        if b is None or not len(b):
            continue
        keep = b.peer_side == SIDE_CODE[peer]
        if keep.any():
            sessions, counts = np.unique(b.peer_session[keep], return_counts=True)
            keep &= b.peer_session == sessions[np.argmax(counts)]
        own, peer_t = b.device_time_us[keep], b.peer_device_time_us[keep]
        x, y = (own, peer_t) if logger == other else (peer_t, own)
        xs.append(x)
        hs.append((y - x).view(np.int64))  # modular difference, exact
        ds.append(np.full(x.size, sign, dtype=np.int8))
    if not xs:
        z = np.zeros(0)
        return z.astype(np.int64), z, z.astype(np.int8), 0, 0
    x, h, d = np.concatenate(xs), np.concatenate(hs), np.concatenate(ds)
    if x.size == 0:
        return x.astype(np.int64), h.astype(np.float64), d, 0, 0
    x0, h0 = int(x.min()), int(np.median(h))
    return (x - np.uint64(x0)).astype(np.int64), (h - h0).astype(np.float64), d, x0, h0


@dataclass(frozen=True)
class _BeaconCurve:
    knots_x_us: np.ndarray  # relative to x0, other foot's device time
    knots_h_us: np.ndarray  # ref - other - h0 at the knots
    x0: int
    h0: int
    latency_us: float
    residual_us: np.ndarray  # of the kept beacons
    n_rejected: int

    def ref_device_us(self, other_device_us: np.ndarray) -> np.ndarray:
        x = np.asarray(other_device_us, dtype=np.float64)
        return x + self.h0 + np.interp(x - self.x0, self.knots_x_us, self.knots_h_us)


def _fit_beacon_curve(x: np.ndarray, h: np.ndarray, d: np.ndarray, x0: int, h0: int) -> _BeaconCurve | None:
    xf = x.astype(np.float64)
    n_knots = max(2, int(np.ceil((xf.max() - xf.min()) / (BEACON_KNOT_S * 1e6))) + 1)
    knots = np.linspace(xf.min(), xf.max(), n_knots)
    if knots[-1] <= knots[0]:
        return None
    seg = np.clip(np.searchsorted(knots, xf, side="right") - 1, 0, n_knots - 2)
    frac = (xf - knots[seg]) / (knots[seg + 1] - knots[seg])
    two_way = bool((d > 0).any() and (d < 0).any())
    keep = _reject(h - _median_curve(xf, h, d, seg, knots))
    for rejected_again in (False, True):
        coef = _solve_curve(seg, frac, d, h, keep, n_knots, two_way)
        r = h - _curve_at(coef, seg, frac, d, n_knots)
        if not rejected_again:
            keep = _reject(r)
    slopes = np.diff(coef[:n_knots]) / np.diff(knots)
    if np.any(np.abs(slopes) * 1e6 > 2 * MAX_CLOCK_PPM):
        log.warning("logged clocks: the beacons give an implausible relative rate (%.0f ppm); not used",
                    float(np.abs(slopes).max() * 1e6))
        return None
    return _BeaconCurve(knots, coef[:n_knots], x0, h0, float(coef[n_knots]) if two_way else 0.0,
                        r[keep], int((~keep).sum()))


def _reject(r: np.ndarray) -> np.ndarray:
    """Inliers: within OUTLIER_MADS x MAD (at least MIN_OUTLIER_US) of the median."""
    dev = np.abs(r - np.median(r))
    return dev <= max(OUTLIER_MADS * float(np.median(dev)), MIN_OUTLIER_US)


def _median_curve(x, h, d, seg, knots) -> np.ndarray:
    """Robust start: per direction, the line through the medians of
    consecutive knot intervals, evaluated at every beacon."""
    out = np.zeros_like(h)
    for sign in (-1, 1):
        m = d == sign
        if not m.any():
            continue
        g = seg[m]
        mx, mh = _group_median(g, x[m]), _group_median(g, h[m])
        ok = np.isfinite(mx)
        out[m] = np.interp(x[m], mx[ok], mh[ok])
    return out


def _group_median(group: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Lower median of v per group id 0..max (NaN for empty groups)."""
    order = np.lexsort((v, group))
    counts = np.bincount(group, minlength=int(group.max()) + 1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    med = np.full(counts.size, np.nan)
    has = counts > 0
    med[has] = v[order][starts[has] + (counts[has] - 1) // 2]
    return med


def _solve_curve(seg, frac, d, h, keep, n_knots, two_way) -> np.ndarray:
    """Least squares of h = hat-basis curve + d * latency (kept beacons),
    with a second-difference penalty; returns knot values then latency."""
    n_par = n_knots + 1
    s, f, dd, hh = seg[keep], frac[keep], d[keep].astype(np.float64), h[keep]
    cols = np.stack([s, s + 1, np.full(s.size, n_knots)], axis=1)
    vals = np.stack([1.0 - f, f, dd if two_way else np.zeros(s.size)], axis=1)
    lin = (cols[:, :, None] * n_par + cols[:, None, :]).ravel()
    a = np.bincount(lin, (vals[:, :, None] * vals[:, None, :]).ravel(), minlength=n_par * n_par)
    a = a.reshape(n_par, n_par)
    rhs = np.bincount(cols.ravel(), (vals * hh[:, None]).ravel(), minlength=n_par)
    if n_knots >= 3:
        p = np.diff(np.eye(n_knots), 2, axis=0)
        a[:n_knots, :n_knots] += _CURVE_PENALTY * (p.T @ p)
    if not two_way:
        a[n_knots, n_knots] = 1.0
    a[:n_knots, :n_knots] += 1e-9 * np.eye(n_knots)  # keeps an all-gap system solvable
    return np.linalg.solve(a, rhs)


def _curve_at(coef, seg, frac, d, n_knots) -> np.ndarray:
    return coef[seg] * (1.0 - frac) + coef[seg + 1] * frac + d * coef[n_knots]


def _compose(fit: _BeaconCurve, ref_line: _SyncLine, own: SyncPoints | None, *, ref: str,
             host_origin_ns: int) -> DeviceClockMap:
    """The beacon curve then the reference's line; the foot's own sync
    points (if any) checked against the result."""
    kx = fit.knots_x_us + fit.x0
    ky = ref_line.host_ns(fit.ref_device_us(kx))
    resid = {**_abs_percentiles(fit.residual_us), "latency_us": fit.latency_us,
             "n_beacons": float(fit.residual_us.size), "n_rejected": float(fit.n_rejected)}
    m = _map(kx, ky, f"sync points + beacons (via the {ref} foot)", resid)
    if own is not None and len(own):
        host_ns = (own.host_time_us.astype(np.int64) * 1000 - np.int64(host_origin_ns)).astype(np.float64)
        check_us = (host_ns - m.host_ns(own.device_time_us)) / 1e3
        resid.update(_abs_percentiles(check_us, "check_"))
        bound_us = 3.0 * own.uncertainty_us.astype(np.float64) + 1000.0
        if np.any(np.abs(check_us) > bound_us):
            log.warning("logged clocks: the %s-mapped foot's own sync points are up to %.1f ms off the beacon "
                        "map (more than their uncertainty)", ref, float(np.abs(check_us).max() / 1e3))
    return m
