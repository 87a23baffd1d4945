"""What an insole laced into a shoe reads on top of the body's true load.

Real recordings differ from a clean force plate in ways that break naive
event detection (docs/science.md, "What real insoles do"):

- **Preload.** A laced shoe presses the insole with the foot in the air:
  150-670 N have been seen. The swing baseline is hundreds of newtons, not 0.
- **Slow release.** Force-sensitive resistors follow a rising load at once
  but let go of it slowly: after toe-off the reading decays over tens to
  hundreds of ms, so a fixed 20 N above zero puts toe-off late.
- **A bump in mid-swing** as the shoe flexes.
- **Drift.** The preload changes slowly (laces settle, the shoe warms).

:class:`ShoeModel` holds these; :class:`InShoe` wraps any
:class:`~insole.sim.base.Scenario` so that its ``pressures_kpa`` are what
such an insole reads, while ``truth()`` stays the body's (the events and
loads the analysis should recover) plus the shoe's options.

Slow release model: each sensor reads ``(1 - a) p + a h``, where ``p`` is
the true pressure and ``h`` its peak held with an exponential decay of time
constant ``tau``: ``h(t) = max over 0 <= u <= 5 tau of p(t - u) exp(-u / tau)``.
The held peak is taken on a fixed global time grid (``GRID_S``), so the
reading at a time does not depend on how the samples are chunked (one at a
time when streaming, or all at once).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.ndimage import maximum_filter1d

from ..protocol.layout import reference_layout
from ._distribute import check_range
from .base import Scenario

log = logging.getLogger(__name__)

__all__ = ["ShoeModel", "InShoe", "LACED_SHOE", "GRID_S"]

#: spacing of the global grid the held peak is taken on, s
GRID_S = 0.0025
#: the held peak looks back this many time constants (exp(-5) = 0.7 %)
_HOLD_TAUS = 5.0
#: largest stretch of grid evaluated at once (memory), grid points
_CHUNK = 1 << 16


@dataclass(frozen=True)
class ShoeModel:
    """An insole in a laced shoe (all zero: a bare insole, the true load).

    Attributes
    ----------
    preload_n : float
        Force the insole reads with the foot in the air, N (spread over the
        sensors by area, a little more under the forefoot where the laces
        press).
    preload_change_pct_per_h : float
        Change of the preload over time, % of it per hour (negative: the
        laces settle).
    release_frac : float
        Share ``a`` of each sensor's reading that releases slowly (0-0.5).
    release_tau_s : float
        Time constant of the slow release, s.
    swing_bump_n : float
        Peak of a bump in mid-swing (the shoe flexing), N (gait only).
    swing_bump_s : float
        Width (standard deviation) of that bump, s.
    """

    preload_n: float = 0.0
    preload_change_pct_per_h: float = 0.0
    release_frac: float = 0.0
    release_tau_s: float = 0.08
    swing_bump_n: float = 0.0
    swing_bump_s: float = 0.025

    def __post_init__(self) -> None:
        check_range("preload_n", self.preload_n, 0.0, 1500.0)
        check_range("preload_change_pct_per_h", self.preload_change_pct_per_h, -90.0, 200.0)
        check_range("release_frac", self.release_frac, 0.0, 0.5)
        check_range("release_tau_s", self.release_tau_s, 0.005, 1.0)
        check_range("swing_bump_n", self.swing_bump_n, 0.0, 200.0)
        check_range("swing_bump_s", self.swing_bump_s, 0.005, 0.2)

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


#: ``--shoe laced``: a few hundred newtons of preload, FSR-like release, a
#: small mid-swing bump and laces that settle by a tenth in an hour (*guide*,
#: inside the ranges docs/science.md reports for real recordings)
LACED_SHOE = ShoeModel(preload_n=350.0, preload_change_pct_per_h=-10.0, release_frac=0.15,
                       release_tau_s=0.08, swing_bump_n=25.0, swing_bump_s=0.025)


def _preload_shape_kpa() -> np.ndarray:
    """Pressure per sensor for 1 N of preload, kPa (by area, forefoot x1.5)."""
    layout = reference_layout("left")
    area = np.asarray(layout.area_mm2, dtype=np.float64)
    rel_y = np.asarray(layout.y_mm, dtype=np.float64) / float(layout.length_mm)
    weight = area * np.where((rel_y > 0.55) & (rel_y < 0.85), 1.5, 1.0)
    return 1000.0 * (weight / weight.sum()) / area


class InShoe(Scenario):
    """A scenario as read by insoles laced into shoes.

    Parameters
    ----------
    body : Scenario
        The person (true loads, events and truth).
    shoe : ShoeModel
    """

    def __init__(self, body: Scenario, shoe: ShoeModel) -> None:
        self.body = body
        self.shoe = shoe
        self.protocol = body.protocol
        self.duration_s = body.duration_s
        self.body_mass_kg = body.body_mass_kg
        self.phases = body.phases
        self._preload_kpa = shoe.preload_n * _preload_shape_kpa()
        self._bump_kpa = shoe.swing_bump_n * _preload_shape_kpa()

    def __getattr__(self, name: str) -> Any:  # the body's other attributes (options, mode, ...)
        if name == "body":
            raise AttributeError(name)
        return getattr(self.body, name)

    def pressures_kpa(self, side: str, t_s: np.ndarray) -> np.ndarray:
        """What the insole reads, kPa ``(len(t_s), 16)``; see the module notes."""
        t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        s = self.shoe
        p = self.body.pressures_kpa(side, t) if s.release_frac == 0 else self._released_kpa(side, t)
        if s.preload_n:
            scale = 1.0 + s.preload_change_pct_per_h / 100.0 * np.clip(t, 0.0, self.duration_s) / 3600.0
            p = p + scale[:, None] * self._preload_kpa[None, :]
        if s.swing_bump_n and hasattr(self.body, "contact_times_s"):
            p = p + self._bump(side, t)[:, None] * self._bump_kpa[None, :]
        return p

    def _released_kpa(self, side: str, t: np.ndarray) -> np.ndarray:
        """``(1 - a) p + a h`` (the slow release), on the global grid."""
        a, tau = self.shoe.release_frac, self.shoe.release_tau_s
        look = int(np.ceil(_HOLD_TAUS * tau / GRID_S))
        k = np.floor(t / GRID_S).astype(np.int64)
        p = self.body.pressures_kpa(side, t)
        held = np.empty_like(p)
        order = np.argsort(k, kind="stable")
        ks = k[order]
        # runs of samples whose look-back windows touch: each is one stretch of grid
        breaks = np.flatnonzero(np.diff(ks) > look) + 1
        for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, ks.size]):
            for c0 in range(lo, hi, _CHUNK):
                rows = order[c0:min(hi, c0 + _CHUNK)]
                held[rows] = self._held_kpa(side, t[rows], k[rows], look=look, tau=tau)
        return (1.0 - a) * p + a * np.maximum(p, held)

    def _held_kpa(self, side: str, t: np.ndarray, k: np.ndarray, *, look: int, tau: float) -> np.ndarray:
        """The decaying held peak at times ``t`` (grid cells ``k``, sorted), kPa."""
        g = np.arange(int(k.min()) - look, int(k.max()) + 1)
        pg = self.body.pressures_kpa(side, g * GRID_S)
        # max over the window of p(g - u) exp(-u / tau), in logs: log p(g') + g' h / tau, minus g h / tau
        logp = np.log(np.maximum(pg, 1e-9)) + (g * (GRID_S / tau))[:, None]
        win = maximum_filter1d(logp, size=look + 1, axis=0, origin=look // 2, mode="nearest")
        at = k - g[0]
        return np.exp(win[at] - (t / tau)[:, None])

    def _bump(self, side: str, t: np.ndarray) -> np.ndarray:
        """Mid-swing bump of each time, as a fraction of ``swing_bump_n`` (0-1)."""
        ic, to = self.body.contact_times_s(side)
        if ic.size < 2:
            return np.zeros(t.size)
        mid = 0.5 * (to[:-1] + ic[1:])
        j = np.clip(np.searchsorted(mid, t), 1, mid.size - 1)
        near = np.where(np.abs(t - mid[j - 1]) < np.abs(t - mid[j]), mid[j - 1], mid[j])
        return np.exp(-0.5 * ((t - near) / self.shoe.swing_bump_s) ** 2)

    def truth(self) -> dict[str, Any]:
        """The body's truth, plus the shoe's options under ``shoe``."""
        return {**self.body.truth(), "shoe": self.shoe.to_dict()}
