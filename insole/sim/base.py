"""What every simulated body (standing, running, walking) provides.

A scenario describes the person: the true plantar pressure under each sensor
of :func:`insole.protocol.reference_layout` at any true time. The insole
hardware (gain, offset, creep, noise, clock drift, quantisation, batching,
packet loss) is modelled separately in :mod:`insole.sim.device`, so the same
body can be "worn" by perfect or faulty insoles.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..constants import REGIONS
from ..model import Phase


class Scenario(abc.ABC):
    """A seeded, deterministic simulated person.

    Attributes
    ----------
    protocol : str
        ``"standing"``, ``"run"`` or ``"walk"``.
    duration_s : float
        Length of the scenario, seconds.
    body_mass_kg : float
    phases : tuple of Phase
        Protocol phases on the true time axis (seconds since start).
    """

    protocol: str
    duration_s: float
    body_mass_kg: float
    phases: tuple[Phase, ...]

    @abc.abstractmethod
    def pressures_kpa(self, side: str, t_s: np.ndarray) -> np.ndarray:
        """True pressure under each sensor, kPa.

        Parameters
        ----------
        side : str
            ``"left"`` or ``"right"``.
        t_s : numpy.ndarray
            True times, seconds since the start, any order, any length
            (including one sample at a time, for real-time streaming); times
            outside ``[0, duration_s]`` are clamped to it.

        Returns
        -------
        numpy.ndarray
            ``(len(t_s), 16)`` float64, >= 0, for sensors p01..p16 of the
            reference layout; ``sum(p * area_mm2) / 1000`` is the foot's
            vertical force in N.
        """

    @abc.abstractmethod
    def truth(self) -> dict[str, Any]:
        """Ground truth as JSON-serialisable values (stored in the recording)."""


# --- where the load goes on a foot (shared by the bodies) -------------------
#: regions along the foot (insole.constants.REGIONS) and the two sides of the long axis
REGION_NAMES = tuple(REGIONS)
ML_NAMES = ("medial", "lateral")
#: largest and smallest factor of ``region_bias``
_BIAS_RANGE = (0.2, 5.0)
_BIAS_ITERATIONS = 200


def region_membership(x_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which sensors make up each region and each side of the long axis.

    Parameters
    ----------
    x_mm : numpy.ndarray
        ``(n_sensors,)`` sensor positions across the foot, mm, lateral
        positive (foot frame of :mod:`insole.constants`).

    Returns
    -------
    region : numpy.ndarray
        ``(4, n_sensors)`` 0/1, rows heel, midfoot, forefoot, toes
        (:data:`insole.constants.REGIONS`).
    side : numpy.ndarray
        ``(2, n_sensors)`` rows medial (``x < 0``), lateral (``x > 0``); a
        sensor on the axis (``x == 0``) counts half to each.
    """
    x = np.asarray(x_mm, dtype=np.float64)
    region = np.zeros((len(REGION_NAMES), x.size))
    for r, name in enumerate(REGION_NAMES):
        region[r, list(REGIONS[name])] = 1.0
    side = np.vstack([np.where(x < 0, 1.0, np.where(x == 0, 0.5, 0.0)),
                      np.where(x > 0, 1.0, np.where(x == 0, 0.5, 0.0))])
    return region, side


def check_region_bias(region_bias: Mapping[str, Mapping[str, float]] | None) -> dict[str, dict[str, float]]:
    """Validate a ``region_bias`` option; return it as plain dicts (JSON-ready).

    Parameters
    ----------
    region_bias : mapping or None
        ``{side: {name: factor}}``, side ``"left"``/``"right"``, name one of
        ``heel``, ``midfoot``, ``forefoot``, ``toes``, ``medial``,
        ``lateral``, factor a positive number (0.2-5), dimensionless.

    Raises
    ------
    ValueError
        For an unknown side or name, or a factor out of range.
    """
    out: dict[str, dict[str, float]] = {"left": {}, "right": {}}
    for side, factors in (region_bias or {}).items():
        if side not in out:
            raise ValueError(f"region_bias: side must be 'left' or 'right', got {side!r}")
        for name, value in dict(factors).items():
            if name not in REGION_NAMES + ML_NAMES:
                raise ValueError(f"region_bias[{side!r}]: unknown region {name!r}; use one of "
                                 f"{', '.join(REGION_NAMES + ML_NAMES)}")
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"region_bias[{side!r}][{name!r}] must be a number, got {value!r}") from None
            if not np.isfinite(v) or not _BIAS_RANGE[0] <= v <= _BIAS_RANGE[1]:
                raise ValueError(f"region_bias[{side!r}][{name!r}] must be between {_BIAS_RANGE[0]:g} and "
                                 f"{_BIAS_RANGE[1]:g}, got {value!r}")
            out[side][name] = v
    return out


def bias_weights(frac: np.ndarray, load: np.ndarray, factors: Mapping[str, float], *,
                 x_mm: np.ndarray) -> np.ndarray:
    """Per-sensor weights that move a foot's regional load shares by set factors.

    The foot's load is cut into cells (region x medial/lateral). With weights
    ``w`` the fractions become ``frac * w / sum(frac * w)`` per sample (the
    foot's force is unchanged); ``w`` is found so that, for the load curve
    given, each cell's share of the load-weighted total is its unbiased share
    times ``factor(region) * factor(side)``, all shares renormalised to sum 1.

    Parameters
    ----------
    frac : numpy.ndarray
        ``(n, n_sensors)`` force fractions along the stance (or one row).
    load : numpy.ndarray
        ``(n,)`` weights of the rows (the force curve), >= 0.
    factors : mapping
        Name -> factor (missing names: 1).
    x_mm : numpy.ndarray
        ``(n_sensors,)`` sensor positions across the foot, mm.

    Returns
    -------
    numpy.ndarray
        ``(n_sensors,)`` weights, mean 1 (all 1 without factors).
    """
    n_sensors = frac.shape[1]
    if not factors:
        return np.ones(n_sensors)
    region, side = region_membership(x_mm)
    f_region = np.array([factors.get(n, 1.0) for n in REGION_NAMES])
    f_side = np.array([factors.get(n, 1.0) for n in ML_NAMES])
    # cells: (region, side) -> membership per sensor
    cells = (region[:, None, :] * side[None, :, :]).reshape(-1, n_sensors)
    cell_factor = (f_region[:, None] * f_side[None, :]).ravel()
    load = np.asarray(load, dtype=np.float64) / np.sum(load)

    def cell_shares(w):
        fw = frac * w
        return cells @ (load @ (fw / fw.sum(axis=1, keepdims=True)))

    base = cell_shares(np.ones(n_sensors))
    target = base * cell_factor
    target /= target.sum()
    used = base > 0
    w = np.ones(n_sensors)
    for _ in range(_BIAS_ITERATIONS):
        ratio = np.where(used, target / np.where(used, cell_shares(w), 1.0), 1.0)
        # geometric mean over a sensor's cells (the on-axis sensors have two)
        w = w * np.exp((cells.T @ np.log(ratio)) / cells.sum(axis=0))
        w /= w.mean()
    return w


def region_shares_pct(sensor_load: np.ndarray, *, x_mm: np.ndarray) -> dict[str, float | None]:
    """Shares of a foot's load by region and by side of the long axis, %.

    Parameters
    ----------
    sensor_load : numpy.ndarray
        ``(n_sensors,)`` load per sensor (impulse, N s, or mean force, N).
    x_mm : numpy.ndarray
        ``(n_sensors,)`` sensor positions across the foot, mm.

    Returns
    -------
    dict
        ``heel``, ``midfoot``, ``forefoot``, ``toes``, ``medial``, ``lateral``
        (each % of the total; None when the total is 0), and
        ``medial_lateral_index = (I_med - I_lat) / (I_med + I_lat)``
        (dimensionless, positive = more medial).
    """
    region, side = region_membership(x_mm)
    load = np.asarray(sensor_load, dtype=np.float64)
    total = load.sum()
    if not total > 0:
        return {n: None for n in REGION_NAMES + ML_NAMES + ("medial_lateral_index",)}
    out = {n: float(100.0 * v / total) for n, v in zip(REGION_NAMES, region @ load)}
    med, lat = side @ load
    out.update(medial=float(100.0 * med / total), lateral=float(100.0 * lat / total),
               medial_lateral_index=float((med - lat) / (med + lat)))
    return out
