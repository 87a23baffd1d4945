"""What every simulated body (standing, running, walking) provides.

A scenario describes the person: the true plantar pressure under each sensor
of :func:`insole.protocol.reference_layout` at any true time. The insole
hardware (gain, offset, creep, noise, clock drift, quantisation, batching,
packet loss) is modelled separately in :mod:`insole.sim.device`, so the same
body can be "worn" by perfect or faulty insoles.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

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
