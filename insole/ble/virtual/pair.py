"""A pair of virtual insoles on the virtual radio, for ``--virtual`` and the demo."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...constants import SIDES, STANDARD_GRAVITY_M_S2
from ...sim.base import Scenario
from ...sim.cued import CuedScenario
from ...sim.device import InsoleModel
from ...sim.session import default_insoles

__all__ = ["virtual_pair", "VirtualPair", "person_for", "still_person", "record_virtual", "virtual_log_pair",
           "VirtualLogPair"]


def person_for(protocol: str, duration_s: float | None = None, *, seed: int = 0, body_mass_kg: float = 70.0,
               left_load_pct: float = 53.0, eyes_closed_shift_pp: float = 3.0,
               asymmetry_pct: float = 5.0) -> Scenario:
    """The simulated person behind ``--virtual`` and the demo for a protocol.

    Parameters
    ----------
    protocol : str
        ``standing``: the guided test, phase for phase the guide's plan
        (:func:`insole.ble.session.guide_plan` of ``protocol`` and
        ``duration_s``); ``run``: a run 30 s longer than ``duration_s``
        (default 1 h: ``insole record --virtual --protocol run`` without a
        duration runs until Ctrl-C), so that it outlasts the connection.
    left_load_pct, eyes_closed_shift_pp : float
        Standing: eyes-open share on the left foot (%), and its eyes-closed
        change (percentage points, positive = more on the LEFT).
    asymmetry_pct : float
        Run: symmetry index of contact time, peak force and loading rate,
        ``100 (R - L) / (0.5 (R + L))`` %, positive = RIGHT larger.
    """
    if protocol == "standing":
        from ...sim.standing import StandingScenario
        from ..session import guide_plan

        steps = {name: seconds for name, seconds, _ in guide_plan("standing", duration_s)}
        return StandingScenario(lift_s=steps["lift_left"], transition_s=steps["rest"],
                                eyes_open_s=steps["eyes_open"], eyes_closed_s=steps["eyes_closed"],
                                left_load_pct=left_load_pct, eyes_closed_shift_pp=eyes_closed_shift_pp,
                                body_mass_kg=body_mass_kg, seed=seed)
    from ...sim.gait import GaitScenario

    return GaitScenario(mode="run", duration_s=(duration_s or 3600.0) + 30.0, contact_time_si_pct=asymmetry_pct,
                        peak_force_si_pct=asymmetry_pct, loading_rate_si_pct=asymmetry_pct,
                        body_mass_kg=body_mass_kg, seed=seed)


class _StillPerson(Scenario):
    """Someone standing still, the weight even on both feet: uniform
    pressure under every sensor (cheap to make: for a scan, where what the
    insoles would stream is never looked at)."""

    protocol = "standing"

    def __init__(self, *, duration_s: float = 3600.0, body_mass_kg: float = 70.0) -> None:
        from ...model import Phase
        from ...protocol import reference_layout

        self.duration_s = float(duration_s)
        self.body_mass_kg = float(body_mass_kg)
        self.phases = (Phase("eyes_open", 0.0, self.duration_s),)
        area_mm2 = float(reference_layout("left").area_mm2.sum())
        self._kpa = 0.5 * self.body_mass_kg * STANDARD_GRAVITY_M_S2 / area_mm2 * 1000.0

    def pressures_kpa(self, side: str, t_s):
        return np.full((np.size(t_s), 16), self._kpa)

    def truth(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "left_load_pct": 50.0, "body_mass_kg": self.body_mass_kg}


def still_person(*, duration_s: float = 3600.0, body_mass_kg: float = 70.0) -> Scenario:
    """A simulated person standing still with the weight even on both feet
    (uniform pressure, made at once): for ``insole scan --virtual``, which
    only reads what the insoles say about themselves.

    Parameters
    ----------
    duration_s : float
        Length of the scenario, s.
    body_mass_kg : float
        Body mass, kg.
    """
    return _StillPerson(duration_s=duration_s, body_mass_kg=body_mass_kg)


def _backend():
    from .backend import VirtualClient, VirtualScanner

    return VirtualScanner, VirtualClient


@dataclass
class VirtualPair:
    """Two virtual insoles worn by one simulated person.

    Attributes
    ----------
    backend : (scanner, client)
        The bleak backends of the virtual radio: pass them as
        ``BleakScanner(backend=...)``, ``BleakClient(..., backend=...)`` or
        ``record_session(backend=...)``.
    body : Scenario
        The person (a :class:`~insole.sim.cued.CuedScenario` when cued).
    insoles : dict
        Side -> :class:`~insole.ble.virtual.insole.VirtualInsole`.
    """

    backend: tuple[Any, Any]
    body: Scenario
    insoles: dict[str, Any]

    def on_phase(self, name: str, seconds: float) -> None:
        """Hear the guide (``record_session(on_phase=...)``): a cued person
        starts the scenario when the countdown ends."""
        if name == "countdown" and isinstance(self.body, CuedScenario):
            self.body.start_at(self.insoles["left"].now_s() + seconds)

    def truth(self) -> dict[str, Any]:
        """Ground truth in the shape :func:`~insole.sim.session.simulate_recording`
        stores: ``scenario`` (on the scenario's own time axis; a cued
        person's time 0 is the end of the guide's countdown, the first phase
        marker) and ``insoles``."""
        return {"scenario": self.body.truth(), "insoles": {s: v.model.to_dict() for s, v in self.insoles.items()}}


@contextlib.asynccontextmanager
async def virtual_pair(scenario: Scenario, *, time_scale: float = 1.0, insoles: dict[str, InsoleModel] | None = None,
                       seed: int = 0, cued: bool | None = None) -> AsyncIterator[VirtualPair]:
    """Two virtual insoles "worn" by ``scenario``, advertising on this loop's
    virtual radio.

    Parameters
    ----------
    time_scale : float
        How much faster than real time they stream.
    insoles : dict, optional
        Side -> :class:`~insole.sim.device.InsoleModel` (faults, drift, rate);
        :func:`~insole.sim.session.default_insoles` by default.
    cued : bool, optional
        Wrap the person in :class:`~insole.sim.cued.CuedScenario` so that it
        follows the guide (pass :meth:`VirtualPair.on_phase` to
        ``record_session``). Default: standing tests are cued; a runner is
        already running when the insoles connect.

    Yields
    ------
    VirtualPair
    """
    from .insole import VirtualInsole
    from .radio import VirtualRadio

    radio = VirtualRadio.current()
    await radio.start()
    models = insoles or default_insoles(seed=seed)
    body = CuedScenario(scenario) if (scenario.protocol == "standing" if cued is None else cued) else scenario
    # one person wears both insoles: they share the true time axis, whose 0
    # is a moment before now, so that both insoles' sample clocks are already
    # running (a model's start_s staggers them) and they stream as soon as asked
    epoch = asyncio.get_running_loop().time() - max(m.start_s for m in models.values())
    pair = {side: VirtualInsole(models[side], body, radio=radio, time_scale=time_scale, epoch=epoch)
            for side in SIDES}
    try:
        for v in pair.values():
            await v.start()
        yield VirtualPair(backend=_backend(), body=body, insoles=pair)
    finally:
        for v in pair.values():
            await v.stop()


async def record_virtual(path: str | os.PathLike, person: Scenario, *, time_scale: float = 1.0,
                         insoles: dict[str, InsoleModel] | None = None, extra_meta: dict[str, Any] | None = None,
                         **session: Any) -> Path:
    """A live session (:func:`~insole.ble.session.record_session`) from two
    virtual insoles worn by ``person``: ``insole record --virtual`` and the demo.

    The person hears the guide (:meth:`VirtualPair.on_phase`); the file says
    ``source: virtual-radio`` and holds ``extra_meta`` and, once the session
    has ended, the simulated truth (:meth:`VirtualPair.truth`; computed then,
    as it takes about a second for an hour-long run: a killed session's file
    has no truth).

    Parameters
    ----------
    time_scale : float
        How much faster than real time the insoles stream (the session clock
        follows).
    insoles : dict, optional
        See :func:`virtual_pair`.
    **session
        ``protocol``, ``duration_s``, ``subject``, ``stop``, ``on_update``, ...
        of :func:`~insole.ble.session.record_session`.
    """
    from ..session import record_session

    async with virtual_pair(person, time_scale=time_scale, insoles=insoles) as pair:
        return await record_session(path, backend=pair.backend, on_phase=pair.on_phase, time_scale=time_scale,
                                    source="virtual-radio", extra_meta=extra_meta,
                                    final_meta=lambda: {"truth": pair.truth()}, **session)


@dataclass
class VirtualLogPair:
    """Two virtual insoles with the Log service, powered from a state.

    Attributes
    ----------
    backend : (scanner, client)
        The bleak backends of the virtual radio (see :class:`VirtualPair`).
    state : VirtualPairState
        The pair's lasting state (flash, clocks, claims, ...).
    insoles : dict
        Side -> :class:`~insole.ble.virtual.insole.VirtualInsole`.
    log_services : dict
        Side -> :class:`~insole.ble.virtual.log_service.LogService` (fault
        hooks: ``drop_link_after``).
    """

    backend: tuple[Any, Any]
    state: Any
    insoles: dict[str, Any]
    log_services: dict[str, Any]

    def host_time_us(self) -> int:
        """The host clock of the virtual world, Unix us (for sync points)."""
        return self.state.host_time_us()


@contextlib.asynccontextmanager
async def virtual_log_pair(state: Any, *, time_scale: float = 1.0,
                           link_kB_s: float = 120.0) -> AsyncIterator[VirtualLogPair]:
    """Both insoles of ``state`` powered on and advertising on this loop's
    virtual radio, with the v1 service (streaming someone standing still)
    and the Log service; the state is saved on exit.

    While the pair is open the world clock runs ``time_scale`` times faster
    than the wall clock (the downloads too).

    Parameters
    ----------
    state : VirtualPairState
        Open (locked) state; it stays open after the pair closes.
    time_scale : float
        True seconds per wall second.
    link_kB_s : float
        Modelled Log download throughput at scale 1, kB/s.

    Yields
    ------
    VirtualLogPair
    """
    from .insole import VirtualInsole
    from .log_service import LogService
    from .radio import VirtualRadio

    radio = VirtualRadio.current()
    await radio.start()
    services = {side: LogService(state, side, link_kB_s=link_kB_s) for side in SIDES}
    person = still_person()
    epoch = asyncio.get_running_loop().time() - max(m.start_s for m in state.models.values())
    pair = {side: VirtualInsole(state.models[side], person, radio=radio, time_scale=time_scale, epoch=epoch,
                                serial=state.serial(side), firmware_revision="1.1.0-virtual",
                                extra_services=(services[side],))
            for side in SIDES}
    state.run_scaled(time_scale)
    try:
        for v in pair.values():
            await v.start()
        yield VirtualLogPair(backend=_backend(), state=state, insoles=pair, log_services=services)
    finally:
        for side in SIDES:
            await services[side].stop()
            await pair[side].stop()
        state.end_scaled()
        state.save()
