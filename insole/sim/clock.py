"""The truth of an insole's clock: a watch crystal in a warming shoe.

A 32.768 kHz tuning-fork crystal runs fast or slow by a fixed ``offset_ppm``
at its turnover temperature and slower on either side of it, by a parabola
(about -0.035 ppm/degC^2). A shoe warms by 10-20 degC during a run, so the
rate moves by several ppm while the insole logs. The simulator uses this
model as the truth that the logged clock fit
(:func:`insole.signals.timebase.fit_logged_clocks`) has to recover.

Conventions: true time ``t_s`` is seconds on the simulator's (= the host's)
clock; device time is the insole's clock in microseconds. The rate is
``d(device time)/d(true time) = 1 + 1e-6 * rate_ppm``, positive ppm = the
device clock runs fast (gains time).

The integral of the rate is taken in closed form (the temperature is an
exponential approach, the rate a parabola of it), so
:meth:`DeviceClock.device_time_us` is exact to float64 rounding (well under
1 ns after 8 h), and :meth:`DeviceClock.true_time_s` inverts it by Newton
steps to the same accuracy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..constants import LEFT, RIGHT
from ..errors import InsoleError

log = logging.getLogger(__name__)

__all__ = ["CrystalClock", "DeviceClock", "ShoeTemperature", "clocks_for_run"]

#: Newton steps of the inverse; the rate is within 1e-3 of 1, so each step
#: gains at least three digits and four steps reach float64 rounding
_NEWTON_STEPS = 4


@dataclass(frozen=True)
class CrystalClock:
    """A watch crystal's rate against temperature.

    Attributes
    ----------
    offset_ppm : float
        Rate error at the turnover temperature, ppm; positive = runs fast.
    turnover_c : float
        Temperature of the parabola's vertex (the fastest rate), degC.
    coefficient_ppm_per_c2 : float
        Parabolic temperature coefficient, ppm/degC^2 (negative for tuning
        forks).
    """

    offset_ppm: float = 0.0
    turnover_c: float = 25.0
    coefficient_ppm_per_c2: float = -0.035

    def rate_ppm(self, temperature_c) -> np.ndarray:
        """Rate error at a temperature, ppm (positive = fast).

        Parameters
        ----------
        temperature_c : array_like
            degC.
        """
        dt = np.asarray(temperature_c, dtype=np.float64) - self.turnover_c
        return self.offset_ppm + self.coefficient_ppm_per_c2 * dt * dt


@dataclass(frozen=True)
class ShoeTemperature:
    """The temperature inside a shoe: constant, then an exponential warm-up.

    Attributes
    ----------
    start_c : float
        Temperature before ``start_s``, degC.
    warm_by_c : float
        Final rise above ``start_c``, degC.
    time_constant_s : float
        Time constant of the approach, s (> 0).
    start_s : float
        True time at which warming starts, s.
    """

    start_c: float = 22.0
    warm_by_c: float = 15.0
    time_constant_s: float = 600.0
    start_s: float = 0.0

    def temperature_c(self, t_s) -> np.ndarray:
        """Temperature at true times, degC.

        Parameters
        ----------
        t_s : array_like
            True time, s.
        """
        x = np.maximum(np.asarray(t_s, dtype=np.float64) - self.start_s, 0.0)
        return self.start_c + self.warm_by_c * -np.expm1(-x / self.time_constant_s)


@dataclass(frozen=True)
class DeviceClock:
    """A crystal in a shoe: maps true time to device time and back.

    Attributes
    ----------
    crystal : CrystalClock
    temperature : ShoeTemperature
    device_time_at_zero_us : float
        Device time at true time 0, us.
    """

    crystal: CrystalClock
    temperature: ShoeTemperature
    device_time_at_zero_us: float = 0.0

    def rate_ppm(self, t_s) -> np.ndarray:
        """Rate error against true time at true times ``t_s``, ppm
        (positive = the device clock runs fast)."""
        return self.crystal.rate_ppm(self.temperature.temperature_c(t_s))

    def device_time_us(self, t_s) -> np.ndarray:
        """Device time (us, float64) at true times ``t_s`` (s)."""
        t = np.asarray(t_s, dtype=np.float64)
        gained_us = self._gained_us(t) - self._gained_us(np.float64(0.0))  # ppm x s = us
        return self.device_time_at_zero_us + 1e6 * t + gained_us

    def true_time_s(self, device_time_us) -> np.ndarray:
        """True time (s) at device times (us): the inverse of
        :meth:`device_time_us`, by Newton steps (vectorised)."""
        d = np.asarray(device_time_us, dtype=np.float64)
        t = (d - self.device_time_at_zero_us) / 1e6
        for _ in range(_NEWTON_STEPS):
            t = t - (self.device_time_us(t) - d) / (1e6 + self.rate_ppm(t))
        return t

    def _gained_us(self, t: np.ndarray) -> np.ndarray:
        """Integral of ``rate_ppm`` from ``start_s`` to ``t`` (negative
        before it), ppm x s = us, in closed form.

        After ``start_s`` the temperature offset from turnover is
        ``c - b e^{-x/tau}`` (``x = t - start_s``, ``b = warm_by_c``,
        ``c = start_c + warm_by_c - turnover_c``), whose square integrates
        to ``c^2 x - 2 c b tau (1 - e^{-x/tau}) + b^2 tau/2 (1 - e^{-2x/tau})``.
        """
        temp, xtal = self.temperature, self.crystal
        x = t - temp.start_s
        tau, b = temp.time_constant_s, temp.warm_by_c
        c = temp.start_c + b - xtal.turnover_c
        xp = np.maximum(x, 0.0)
        sq = c * c * xp + 2.0 * c * b * tau * np.expm1(-xp / tau) - 0.5 * b * b * tau * np.expm1(-2.0 * xp / tau)
        after = xtal.offset_ppm * xp + xtal.coefficient_ppm_per_c2 * sq
        before = float(xtal.rate_ppm(temp.start_c)) * np.minimum(x, 0.0)
        return after + before


def clocks_for_run(duration_s: float, *, apart_ppm: float = 50.0, temperature_change_ppm: float = 10.0,
                   seed: int = 0) -> dict[str, DeviceClock]:
    """Left and right clocks for a run: ``apart_ppm`` apart at the start,
    and ``temperature_change_ppm`` more (or less) apart at the end.

    Both shoes warm alike, from about 22 degC by 15 degC (seeded: start
    21-23 degC, time constant a quarter of the run, at most 600 s, so a
    short run warms as much as a long one). The two crystals differ in
    turnover temperature, so the same warming moves their rates by
    different amounts: with a common temperature ``T(t)`` the difference
    ``rate_L - rate_R`` changes by ``2 k (T0_R - T0_L) (T(end) - T(0))``
    (``k`` the coefficient), and the turnovers are set that far apart
    around a common 24-26 degC (10 ppm over 15 degC: 9.5 degC apart, at the
    edge of the crystals' 25 +- 5 degC). The offsets then make the start
    rates ``m +- apart_ppm/2``, ``m`` a seeded common error in -10..10 ppm.
    Each foot's own rate (against true time) moves by several ppm during
    the run: see :meth:`DeviceClock.rate_ppm`. Device time is 0 at true
    time 0 on both (use :func:`dataclasses.replace` for other uptimes).

    Parameters
    ----------
    duration_s : float
        Length of the run, s (> 0).
    apart_ppm : float
        ``rate_L - rate_R`` at true time 0, ppm (signed: positive = the left
        clock runs faster).
    temperature_change_ppm : float
        Change of ``rate_L - rate_R`` from true time 0 to ``duration_s``,
        ppm (signed).
    seed : int
        Seeds the common parts (start temperature, time constant, mean
        turnover, mean rate error); the two requested quantities are exact
        for every seed.

    Returns
    -------
    dict
        ``{"left": DeviceClock, "right": DeviceClock}``.

    Raises
    ------
    InsoleError
        If ``duration_s`` is not positive.
    """
    if not duration_s > 0:
        raise InsoleError(f"a run needs a positive duration, not {duration_s!r} s")
    rng = np.random.default_rng(seed)
    k = CrystalClock().coefficient_ppm_per_c2
    temp = ShoeTemperature(start_c=float(rng.uniform(21.0, 23.0)), warm_by_c=15.0,
                           time_constant_s=float(min(600.0, duration_s / 4.0) * rng.uniform(0.9, 1.1)))
    rise_c = float(temp.temperature_c(duration_s) - temp.temperature_c(0.0))
    spread_c = temperature_change_ppm / (2.0 * k * rise_c)  # T0_R - T0_L
    mid_c = float(rng.uniform(24.0, 26.0))
    mean_ppm = float(rng.uniform(-10.0, 10.0))
    clocks = {}
    for side, sign in ((LEFT, -1.0), (RIGHT, 1.0)):
        turnover = mid_c + sign * spread_c / 2.0
        start_ppm = mean_ppm - sign * apart_ppm / 2.0
        offset = start_ppm - k * (temp.start_c - turnover) ** 2
        clocks[side] = DeviceClock(CrystalClock(offset, turnover, k), temp)
    log.debug("clocks_for_run: turnovers %.1f/%.1f degC, rise %.1f degC", mid_c - spread_c / 2,
              mid_c + spread_c / 2, rise_c)
    return clocks
