"""A simulated person who waits for the guide's cue before starting.

A live session (``insole record``, ``insole demo``) guides the person
through the protocol: it connects both insoles, counts down, then announces
"lift your left foot", ..., "close your eyes now". A scenario on its own runs
from the moment the insoles power on, so its phases would not line up with
the guide's. :class:`CuedScenario` wraps one: until it is cued it repeats an
idle stretch of the scenario (standing quietly), and from the cued start
time it plays the scenario from its beginning::

    body = CuedScenario(StandingScenario(...))
    # the guide's countdown begins, 3 s to go (true time now_s)
    body.start_at(now_s + 3.0)

All times are true time (the virtual insoles' time axis), seconds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import Scenario

__all__ = ["CuedScenario"]


class CuedScenario(Scenario):
    """``scenario``, started when :meth:`start_at` says so.

    Parameters
    ----------
    scenario : Scenario
        What the person does once started (its time 0 is the start).
    idle : (float, float), optional
        ``(start_s, end_s)`` of the stretch of ``scenario`` repeated before
        the start (scenario time, s). Default: its ``eyes_open`` phase when it
        has one (standing quietly), else the whole scenario.

    Notes
    -----
    Scenario time ``u`` of true time ``t``: ``u = t - start_s`` from the
    start on; before it, ``u = idle_start + (t mod idle_length)``, so the
    idle stretch loops seamlessly whatever the start. After the scenario's
    end its last instant holds (as in every scenario). The start can be moved
    until it has passed; a virtual insole computes samples at most about a
    second ahead (``insole.ble.virtual.insole.LOOKAHEAD_MAX_S``), so a start
    set further ahead than that is exact.
    """

    def __init__(self, scenario: Scenario, *, idle: tuple[float, float] | None = None) -> None:
        if idle is None:
            quiet = next((p for p in scenario.phases if p.name == "eyes_open"), None)
            idle = (quiet.start_s, quiet.end_s) if quiet else (0.0, scenario.duration_s)
        a, b = float(idle[0]), float(idle[1])
        if not 0.0 <= a < b <= scenario.duration_s:
            raise ValueError(f"idle stretch {idle} is not within the scenario's 0-{scenario.duration_s} s")
        self.scenario = scenario
        self.idle = (a, b)
        self.protocol = scenario.protocol
        self.duration_s = scenario.duration_s
        self.body_mass_kg = scenario.body_mass_kg
        self.phases = scenario.phases
        self.start_s = math.inf

    def start_at(self, t_s: float) -> None:
        """Begin the scenario at true time ``t_s`` (s)."""
        self.start_s = float(t_s)

    def scenario_time_s(self, t_s: np.ndarray) -> np.ndarray:
        """Scenario time of true times ``t_s`` (see Notes), s."""
        t = np.asarray(t_s, dtype=np.float64)
        a, b = self.idle
        return np.where(t >= self.start_s, t - self.start_s, a + np.mod(t, b - a))

    def pressures_kpa(self, side: str, t_s: np.ndarray) -> np.ndarray:
        return self.scenario.pressures_kpa(side, self.scenario_time_s(t_s))

    def truth(self) -> dict[str, Any]:
        """The scenario's truth, on its own time axis (its 0 is the start)."""
        return self.scenario.truth()
