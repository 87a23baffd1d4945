"""Turn a foot's vertical force and centre of pressure into sensor pressures.

Shared by the simulated bodies (:mod:`insole.sim.standing`,
:mod:`insole.sim.gait`). A body model decides, per sample, the vertical force
``F`` (N) of a foot and where its centre of pressure (COP) should be, in the
foot frame of :mod:`insole.constants` (``x`` toward the lateral side, ``y``
from the back of the heel toward the toes, mm). This module spreads ``F`` over
the 16 sensors of the reference layout so that

- ``sum(p * area_mm2) / 1000 == F`` exactly (to rounding),
- every pressure is ``>= 0``,
- the force-weighted COP of the sensors equals the target whenever the
  target lies well inside the loaded part of the insole (otherwise as close
  as the non-negativity allows).

Method: a plausible base loading pattern ``f0`` (force fractions, summing to
1) is tilted linearly, ``f_i = f0_i * (1 + a*(x_i - xb) + b*(y_i - yb))``
with ``(xb, yb)`` the COP of ``f0``. The sum stays 1 for any ``(a, b)``; the
COP condition is a 2x2 linear system whose matrix is the covariance of the
sensor positions under ``f0``, solved in closed form for every sample at
once. Samples whose tilt makes a fraction negative are clipped, renormalised
and solved again on the remaining support (a few vectorised passes over only
those samples).

Also the small input checks both bodies share (times, side, option ranges).
"""

from __future__ import annotations

import numpy as np

from ..constants import SIDES

__all__ = [
    "tilt_fractions",
    "fractions_cop_mm",
    "pressures_from_fractions",
    "distribute_kpa",
    "gaussian_base_fractions",
    "as_times_s",
    "check_side",
    "check_range",
    "check_seed",
]

#: passes of clip-and-resolve for samples whose tilt goes negative
_MAX_PASSES = 12
#: a support whose covariance determinant is below this share of cxx*cyy is
#: treated as degenerate (sensors on one line): no tilt is attempted
_DET_REL_FLOOR = 1e-6


def fractions_cop_mm(frac: np.ndarray, x_mm: np.ndarray, y_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre of pressure of force fractions.

    Parameters
    ----------
    frac : numpy.ndarray
        ``(n, n_sensors)`` force fractions, each row summing to 1.
    x_mm, y_mm : numpy.ndarray
        ``(n_sensors,)`` sensor positions in the foot frame, mm.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        COP ``x`` (lateral positive) and ``y`` (toward the toes), mm, ``(n,)``.
    """
    return frac @ x_mm, frac @ y_mm


def _solve_tilt(f0: np.ndarray, tx: np.ndarray, ty: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """One linear tilt of rows ``f0`` (n, m) toward targets (n,); may go negative."""
    # row sums, not matrix products: BLAS may round differently depending on
    # how many rows there are, and results must not depend on the chunking
    mx = (f0 * x).sum(axis=1)
    my = (f0 * y).sum(axis=1)
    cxx = (f0 * (x * x)).sum(axis=1) - mx * mx
    cyy = (f0 * (y * y)).sum(axis=1) - my * my
    cxy = (f0 * (x * y)).sum(axis=1) - mx * my
    det = cxx * cyy - cxy * cxy
    ok = det > _DET_REL_FLOOR * np.maximum(cxx * cyy, 1e-300)
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    rx = tx - mx
    ry = ty - my
    a = (cyy * rx - cxy * ry) * inv
    b = (cxx * ry - cxy * rx) * inv
    return f0 * (1.0 + a[:, None] * (x[None, :] - mx[:, None]) + b[:, None] * (y[None, :] - my[:, None]))


def _shared_tilt(b0: np.ndarray, tx: np.ndarray, ty: np.ndarray, x: np.ndarray,
                 y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tilt coefficients of one shared base pattern ``b0`` (summing to 1).

    The pattern ``b0 * (1 + a*dx + b*dy)``, with ``dx, dy`` the sensor
    positions relative to ``b0``'s own COP, keeps its sum and moves its COP
    linearly in ``(a, b)``; the 2x2 system is solved per target, elementwise.

    Returns
    -------
    a, b : numpy.ndarray
        ``(n,)`` coefficients that put the COP on ``(tx, ty)``.
    dx, dy : numpy.ndarray
        ``(n_sensors,)`` sensor offsets from the base COP, mm.
    """
    mx, my = b0 @ x, b0 @ y
    dx, dy = x - mx, y - my
    cxx, cyy, cxy = b0 @ (dx * dx), b0 @ (dy * dy), b0 @ (dx * dy)
    det = cxx * cyy - cxy * cxy
    rx, ry = tx - mx, ty - my
    return (cyy * rx - cxy * ry) / det, (cxx * ry - cxy * rx) / det, dx, dy


def tilt_fractions(
    base_frac: np.ndarray,
    cop_x_mm: np.ndarray,
    cop_y_mm: np.ndarray,
    *,
    x_mm: np.ndarray,
    y_mm: np.ndarray,
) -> np.ndarray:
    """Force fractions near a base pattern whose COP hits a target.

    Parameters
    ----------
    base_frac : numpy.ndarray
        Base loading pattern: ``(n_sensors,)`` for one pattern shared by all
        samples, or ``(n, n_sensors)`` per sample. Non-negative; rows are
        normalised here.
    cop_x_mm, cop_y_mm : numpy.ndarray
        ``(n,)`` target COP in the foot frame, mm (``x`` lateral positive,
        ``y`` from the back of the heel toward the toes).
    x_mm, y_mm : numpy.ndarray
        ``(n_sensors,)`` sensor positions in the same frame, mm.

    Returns
    -------
    numpy.ndarray
        ``(n, n_sensors)`` force fractions, ``>= 0``, each row summing to 1.
        Their COP equals the target wherever a clipped linear tilt of the
        base pattern reaches it (everywhere well inside the sensors' convex
        hull). A target it cannot reach is replaced by the nearest point of
        the hull, moved 3 % toward the hull's centre.
    """
    tx = np.asarray(cop_x_mm, dtype=np.float64).ravel()
    ty = np.asarray(cop_y_mm, dtype=np.float64).ravel()
    x = np.asarray(x_mm, dtype=np.float64)
    y = np.asarray(y_mm, dtype=np.float64)
    base = np.asarray(base_frac, dtype=np.float64)
    if base.ndim == 1:
        b0 = base / base.sum()
        # fast path: one shared pattern, tilt = b0 * (1 + a*dx + b*dy)
        a, bb, dx, dy = _shared_tilt(b0, tx, ty, x, y)
        frac = b0 + a[:, None] * (b0 * dx) + bb[:, None] * (b0 * dy)
    else:
        b0 = base / base.sum(axis=1, keepdims=True)
        frac = _solve_tilt(b0, tx, ty, x, y)
    touched = _clip_passes(frac, tx, ty, x, y)
    if touched.size:
        # targets the clipped tilt could not reach lie (nearly always) outside
        # the sensors' convex hull: aim at the nearest point just inside it
        ft = frac[touched]
        miss = touched[np.hypot((ft * x).sum(axis=1) - tx[touched], (ft * y).sum(axis=1) - ty[touched]) > 1e-6]
        if miss.size:
            px, py = _into_hull(tx[miss], ty[miss], x, y)
            rows = np.broadcast_to(b0, (tx.size, x.size))[miss] if b0.ndim == 1 else b0[miss]
            f = _solve_tilt(np.array(rows), px, py, x, y)
            _clip_passes(f, px, py, x, y)
            frac[miss] = f
    return frac


def _clip_passes(frac: np.ndarray, tx: np.ndarray, ty: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Clip rows with negative fractions, renormalise and re-tilt, in place; return the rows touched."""
    bad = np.flatnonzero((frac < 0.0).any(axis=1))
    touched = bad
    for _ in range(_MAX_PASSES):
        if bad.size == 0:
            break
        f = _renormalised(np.clip(frac[bad], 0.0, None))
        f = _solve_tilt(f, tx[bad], ty[bad], x, y)
        frac[bad] = f
        bad = bad[(f < 0.0).any(axis=1)]
    if touched.size:
        frac[touched] = _renormalised(np.clip(frac[touched], 0.0, None))
    return touched


def _renormalised(f: np.ndarray) -> np.ndarray:
    """Rows scaled to sum 1; a row with nothing left (or overflowed) becomes uniform."""
    total = f.sum(axis=1, keepdims=True)
    ok = np.isfinite(total) & (total > 0.0)
    return np.where(ok, f / np.where(ok, total, 1.0), 1.0 / f.shape[1])


def _into_hull(tx: np.ndarray, ty: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest points of the sensors' convex hull, moved 3 % toward its centre (inside)."""
    from scipy.spatial import ConvexHull

    pts = np.column_stack([x, y])
    v = pts[ConvexHull(pts).vertices]  # counter-clockwise
    a, b = v, np.roll(v, -1, axis=0)
    ab = b - a
    p = np.column_stack([tx, ty])[:, None, :]
    u = np.clip(((p - a) * ab).sum(axis=2) / (ab * ab).sum(axis=1), 0.0, 1.0)
    q = a + u[..., None] * ab
    d = np.hypot(*(p - q).transpose(2, 0, 1))
    inside = (ab[:, 0] * (p[..., 1] - a[:, 1]) - ab[:, 1] * (p[..., 0] - a[:, 0]) >= 0).all(axis=1)
    nearest = q[np.arange(tx.size), np.argmin(d, axis=1)]
    target = np.where(inside[:, None], p[:, 0, :], nearest)
    centre = v.mean(axis=0)
    target = centre + 0.97 * (target - centre)
    return target[:, 0], target[:, 1]


def pressures_from_fractions(force_n: np.ndarray, frac: np.ndarray, area_mm2: np.ndarray) -> np.ndarray:
    """Sensor pressures from a foot force and its force fractions.

    Parameters
    ----------
    force_n : numpy.ndarray
        ``(n,)`` vertical force of the foot, N, ``>= 0``.
    frac : numpy.ndarray
        ``(n, n_sensors)`` force fractions, rows summing to 1.
    area_mm2 : numpy.ndarray
        ``(n_sensors,)`` sensor areas, mm^2.

    Returns
    -------
    numpy.ndarray
        ``(n, n_sensors)`` pressures, kPa, with
        ``sum(p * area_mm2) / 1000 == force_n``.
    """
    return (np.asarray(force_n, dtype=np.float64)[:, None] * frac) * (1000.0 / np.asarray(area_mm2, dtype=np.float64))


def distribute_kpa(
    force_n: np.ndarray,
    cop_x_mm: np.ndarray,
    cop_y_mm: np.ndarray,
    base_frac: np.ndarray,
    *,
    x_mm: np.ndarray,
    y_mm: np.ndarray,
    area_mm2: np.ndarray,
) -> np.ndarray:
    """Sensor pressures for a foot force and COP around one shared base pattern.

    The same result as ``pressures_from_fractions(force_n, tilt_fractions(...))``
    with a 1-D ``base_frac``, computed faster: the tilted pattern is linear in
    ``(1, a, b)``, so all samples take three broadcast products; only samples
    whose tilt could make a fraction negative (a cheap bound on ``|a|`` and
    ``|b|``) go through the clip-and-resolve passes.

    Parameters
    ----------
    force_n : numpy.ndarray
        ``(n,)`` vertical force of the foot, N, ``>= 0``.
    cop_x_mm, cop_y_mm : numpy.ndarray
        ``(n,)`` target COP, foot frame, mm (``x`` lateral positive, ``y``
        from the back of the heel toward the toes).
    base_frac : numpy.ndarray
        ``(n_sensors,)`` base force fractions (normalised here).
    x_mm, y_mm, area_mm2 : numpy.ndarray
        ``(n_sensors,)`` sensor positions (mm) and areas (mm^2).

    Returns
    -------
    numpy.ndarray
        ``(n, n_sensors)`` pressures, kPa, ``>= 0``, with
        ``sum(p * area_mm2) / 1000 == force_n``.
    """
    force = np.asarray(force_n, dtype=np.float64)
    tx = np.asarray(cop_x_mm, dtype=np.float64)
    ty = np.asarray(cop_y_mm, dtype=np.float64)
    x = np.asarray(x_mm, dtype=np.float64)
    y = np.asarray(y_mm, dtype=np.float64)
    b0 = np.asarray(base_frac, dtype=np.float64)
    b0 = b0 / b0.sum()
    k = 1000.0 / np.asarray(area_mm2, dtype=np.float64)
    a, b, dx, dy = _shared_tilt(b0, tx, ty, x, y)
    # elementwise (not a matrix product) so that every sample's value is
    # the same whatever the chunking of the call
    p = np.multiply.outer(force, b0 * k)
    p += np.multiply.outer(force * a, b0 * dx * k)
    p += np.multiply.outer(force * b, b0 * dy * k)
    # 1 + a*dx_i + b*dy_i >= 0 for every sensor when this bound holds
    # (with a margin, so that rounding cannot make a pressure negative)
    risky = np.flatnonzero(np.abs(a) * np.abs(dx).max() + np.abs(b) * np.abs(dy).max() > 1.0 - 1e-6)
    if risky.size:
        frac = tilt_fractions(b0, tx[risky], ty[risky], x_mm=x, y_mm=y)
        p[risky] = pressures_from_fractions(force[risky], frac, area_mm2)
    return p


def gaussian_base_fractions(
    centre_x_mm: np.ndarray,
    centre_y_mm: np.ndarray,
    *,
    x_mm: np.ndarray,
    y_mm: np.ndarray,
    area_mm2: np.ndarray,
    sigma_x_mm: float,
    sigma_y_mm: float,
) -> np.ndarray:
    """A loaded zone: pressure falling off as a Gaussian around a centre.

    Parameters
    ----------
    centre_x_mm, centre_y_mm : numpy.ndarray
        ``(n,)`` centre of the loaded zone per sample, foot frame, mm.
    x_mm, y_mm, area_mm2 : numpy.ndarray
        ``(n_sensors,)`` sensor positions (mm) and areas (mm^2).
    sigma_x_mm, sigma_y_mm : float
        Width of the zone across and along the foot, mm.

    Returns
    -------
    numpy.ndarray
        ``(n, n_sensors)`` force fractions (pressure profile times area),
        rows summing to 1.
    """
    cx = np.asarray(centre_x_mm, dtype=np.float64)[:, None]
    cy = np.asarray(centre_y_mm, dtype=np.float64)[:, None]
    w = np.exp(-0.5 * (((x_mm - cx) / sigma_x_mm) ** 2 + ((y_mm - cy) / sigma_y_mm) ** 2)) * area_mm2
    w += 1e-12 * area_mm2  # keep every row non-degenerate far from all sensors
    return w / w.sum(axis=1, keepdims=True)


def as_times_s(t_s, duration_s: float) -> np.ndarray:
    """Validate query times and clamp them to ``[0, duration_s]``.

    Parameters
    ----------
    t_s : array_like
        Scalar or 1-D true times, seconds since the start.
    duration_s : float
        Length of the scenario, s.

    Returns
    -------
    numpy.ndarray
        1-D float64 times, clamped.

    Raises
    ------
    ValueError
        When ``t_s`` has more than one dimension or holds NaN or infinity.
    """
    t = np.asarray(t_s, dtype=np.float64)
    if t.ndim == 0:
        t = t.reshape(1)
    elif t.ndim != 1:
        raise ValueError(f"t_s must be a 1-D array of times in seconds, got shape {t.shape}")
    if not np.isfinite(t).all():
        raise ValueError("t_s holds NaN or infinite times; pass finite seconds since the start")
    return np.clip(t, 0.0, duration_s)


def check_side(side: str) -> str:
    """Return ``side`` if it is ``"left"`` or ``"right"``, else raise ValueError."""
    if side not in SIDES:
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    return side


def check_range(name: str, value: float, lo: float, hi: float, *, zero_ok: bool = False) -> None:
    """Raise ValueError unless ``value`` is a finite number with ``lo <= value <= hi``.

    ``zero_ok`` only changes the message (for options where 0 means "leave
    it out" and is checked by the caller).
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or not lo <= v <= hi:
        extra = " (or 0 to leave it out)" if zero_ok else ""
        raise ValueError(f"{name} must be between {lo:g} and {hi:g}{extra}, got {value!r}")


def check_seed(seed) -> int:
    """Return ``seed`` as an int, or raise ValueError if it is not an integer."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    return int(seed)
