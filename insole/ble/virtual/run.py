"""The virtual runner: minutes of running logged "at once" into the virtual
pair's flash, and the catch-up of logging insoles between commands.

:func:`run_virtual` makes a :class:`~insole.sim.gait.GaitScenario` run (the
simulator's, :func:`insole.sim.make_scenario`) and plays it into both
loggers, vectorised in chunks of :data:`CHUNK_S`:

- each foot samples on its own device clock: sample k at device time
  ``tau_k = tau_0 + k * 1e6 / rate``, taken at true time
  ``clock.true_time_s(tau_k)``; its codes are that foot's
  :meth:`~insole.sim.device.InsoleModel.codes_at` at that instant (the
  noise numbered by the v1 sample index);
- beacons: each logging foot transmits at every whole second of its device
  time; the other hears it with :data:`BEACON_LOSS` loss, after
  :data:`BEACON_LATENCY_US`, time-stamped on its own clock with Gaussian
  noise of :data:`BEACON_NOISE_US`;
- die temperature once a second (the shoe's temperature of the clock
  model), battery draining at the model's rate while the insole samples;
- the world clock then moves on by the run's length, and the run's truth
  (scenario truth with ``steps`` and ``options``, clocks, models) is saved
  in the state for the sessions it logged.

Between commands a logging insole keeps logging an empty shoe
(:func:`catch_up`, called by every command that looks at a logger): noise
codes until its idle stop (at most ``idle_stop_s``), so an idle gap costs at
most an hour of samples to compute.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...constants import SIDE_CODE, SIDES
from ...errors import InsoleError
from ...protocol.logrecords import Beacons
from ...sim.base import Scenario
from ...sim.clock import clocks_for_run

log = logging.getLogger(__name__)

__all__ = [
    "BEACON_LATENCY_US",
    "BEACON_LOSS",
    "BEACON_NOISE_US",
    "CHUNK_S",
    "RunResult",
    "catch_up",
    "run_virtual",
]

#: true seconds per vectorised chunk
CHUNK_S = 60.0
BEACON_LOSS = 0.20
BEACON_LATENCY_US = 150.0
BEACON_NOISE_US = 20.0
#: received signal strength of the other foot's beacon, dBm (mean, sd)
_RSSI_DBM = (-62.0, 3.0)


class _EmptyShoe(Scenario):
    """Nobody in the shoes: zero pressure (the sensors' noise remains)."""

    protocol = "standing"
    duration_s = math.inf
    body_mass_kg = 0.0
    phases = ()

    def pressures_kpa(self, side: str, t_s):
        return np.zeros((np.size(t_s), 16))

    def truth(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class RunResult:
    """What :func:`run_virtual` logged.

    Attributes
    ----------
    run_id : int
    sessions : dict
        Side -> session ids that hold samples of the run.
    start_unix_s : float
        World time of the run's start (scenario time 0).
    duration_s : float
    samples : dict
        Side -> samples logged during the run.
    truth_path : Path
    """

    run_id: int
    sessions: dict[str, tuple[int, ...]]
    start_unix_s: float
    duration_s: float
    samples: dict[str, int]
    truth_path: Path


def _sample_plan(state, side: str, t1_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Device times and indices of ``side``'s samples before true time t1."""
    lg = state.loggers[side]
    end_us = float(state.tracks[side].device_time_us(t1_s))
    n = max(0, math.ceil((end_us - lg.ram.next_tau_us) / lg.period_us))
    return lg.sample_clock(n)


def _beacons(state, tx: str, spans: list[tuple[int, int, int]], rng: np.random.Generator) -> Beacons | None:
    """What the other foot hears of ``tx``'s beacons during its spans."""
    rx = "right" if tx == "left" else "left"
    parts = []
    for sid, a0, a1 in spans:
        t_tx = np.arange(math.ceil(a0 / 1e6), math.ceil(a1 / 1e6), dtype=np.int64) * 1_000_000
        if not t_tx.size:
            continue
        heard = rng.random(t_tx.size) >= BEACON_LOSS
        t_tx = t_tx[heard]
        true_s = state.tracks[tx].true_time_s(t_tx) + BEACON_LATENCY_US * 1e-6
        rx_us = state.tracks[rx].device_time_us(true_s) + rng.normal(0.0, BEACON_NOISE_US, t_tx.size)
        rssi = np.clip(np.rint(rng.normal(*_RSSI_DBM, t_tx.size)), -127, 20)
        parts.append((np.rint(rx_us).astype(np.uint64), t_tx.astype(np.uint64), sid, (t_tx // 1_000_000) % 65536,
                      rssi))
    if not parts:
        return None
    rx_us, tx_us, counter, rssi = (np.concatenate([p[i] for p in parts]) for i in (0, 1, 3, 4))
    sess = np.concatenate([np.full(p[0].size, p[2]) for p in parts])
    return Beacons(rx_us, tx_us, np.full(rx_us.size, SIDE_CODE[tx]), sess, counter, rssi)


def _feed(state, t1_s: float, scenario: Scenario, scenario_t0_s: float, rng: np.random.Generator) -> dict[str, Any]:
    """Every sampling insole takes its samples up to true time ``t1_s``."""
    plans, extra = {}, {}
    for side in SIDES:
        lg = state.loggers[side]
        if not lg.wants_samples:
            continue
        tau, index = _sample_plan(state, side, t1_s)
        if not tau.size:
            continue
        track = state.tracks[side]
        t = track.true_time_s(tau)
        codes = state.models[side].codes_at(scenario, t - scenario_t0_s, index)
        sec = np.arange(math.ceil(tau[0] / 1e6), math.floor(tau[-1] / 1e6) + 1, dtype=np.int64) * 1_000_000
        sec = np.concatenate([tau[:1], sec[sec > tau[0]]])
        t_sec = track.true_time_s(sec)
        temp = track.clock_at(float(t[0])).temperature.temperature_c(t_sec)
        drain = state.models[side].battery_drain_pct_per_h / 3600.0
        batt = state.battery_pct(side) - drain * (t_sec - t[0])
        battery = (sec.astype(np.uint64), batt)
        plans[side] = lg.plan(codes, battery=battery)
        extra[side] = (codes, (sec.astype(np.uint64), temp), battery, float(t[-1] - t[0]))
    outcomes = {}
    for side, plan in plans.items():
        other = "right" if side == "left" else "left"
        heard = _beacons(state, other, plans[other].spans_us(), rng) if other in plans else None
        codes, temperature, battery, span_s = extra[side]
        outcomes[side] = state.loggers[side].log_samples(codes, plan=plan, beacons=heard, temperature=temperature,
                                                         battery=battery)
        drain = state.models[side].battery_drain_pct_per_h / 3600.0
        state.set_battery_pct(side, state.battery_pct(side) - drain * span_s)
    return outcomes


def _skip_to(state, side: str, t_s: float) -> None:
    """An armed insole over an empty shoe: nothing can start it; its sample
    clock moves on to ``t_s`` without computing the samples."""
    lg = state.loggers[side]
    tau, index = _sample_plan(state, side, t_s)
    if tau.size:
        lg.ram.next_tau_us = int(tau[-1]) + lg.period_us
        lg.ram.next_index = int(index[-1]) + 1
        lg.ram.buffer_codes = np.zeros((0, 16), np.uint16)
        lg.ram.buffer_tau_us = np.zeros(0, np.int64)
        lg.ram.buffer_index = np.zeros(0, np.int64)


def catch_up(state, *, until_s: float | None = None) -> None:
    """Bring both insoles up to the pair's true time ``until_s`` (default
    now): a logging insole logs an empty shoe until it stops by itself
    (idle) or until then; an armed one only moves its clock on.

    Parameters
    ----------
    state : VirtualPairState
    until_s : float, optional
        True time of the pair, s.
    """
    now = state.true_time_s() if until_s is None else until_s
    rng = np.random.default_rng((state.seed, 7, int(now * 1000) % 2**32))
    shoe = _EmptyShoe()
    logging_sides = [s for s in SIDES if state.loggers[s].state == "logging"]
    t = min((float(state.tracks[s].true_time_s(state.loggers[s].ram.next_tau_us)) for s in logging_sides),
            default=now)
    while any(state.loggers[s].state == "logging" for s in SIDES) and t < now:
        t = min(now, t + CHUNK_S)
        _feed(state, t, shoe, 0.0, rng)
    for side in SIDES:
        if state.loggers[side].state == "armed":
            _skip_to(state, side, now)


def run_virtual(state, *, minutes: float, asymmetry_pct: float = 0.0, fatigue_pp_per_10min: float = 0.0,
                seed: int = 0, auto: bool = False, sampling_rate_hz: int = 200, apart_ppm: float = 50.0,
                temperature_change_ppm: float = 10.0, idle_stop_s: int = 300,
                scenario: Scenario | None = None) -> RunResult:
    """The virtual runner runs ``minutes`` into both insoles' flash at once.

    Insoles already logging (or armed) by a host's LOG_START keep their
    session (or arm); idle ones start now (``auto``: are armed) at
    ``sampling_rate_hz``. The run starts at the world's present time; the
    world clock then moves on by the run.

    Parameters
    ----------
    state : VirtualPairState
    minutes : float
        Length of the run (0.1 .. 360).
    asymmetry_pct : float
        Contact-time (and peak-force, loading-rate) symmetry index at the
        start, %, positive = RIGHT larger (the simulator's run, default
        symmetric as ``insole simulate``).
    fatigue_pp_per_10min : float
        Change of the contact-time SI, points per 10 minutes, signed alike.
    seed : int
        The run's scenario (steps) and the clocks' temperature.
    auto : bool
        Idle insoles are armed for auto start instead of started now.
    sampling_rate_hz : int
        Rate of insoles this call starts.
    apart_ppm, temperature_change_ppm : float
        The clocks (:func:`~insole.sim.clock.clocks_for_run`): left minus
        right rate at the start, and its change over the run, ppm.
    idle_stop_s : int
        Auto stop of insoles this call starts, s.
    scenario : Scenario, optional
        Who wears the insoles, on the run's time axis (0 = the run's start);
        by default the simulator's run with ``asymmetry_pct``,
        ``fatigue_pp_per_10min`` and ``seed`` (tests pass one whose pressures
        carry a ramp of true time).

    Raises
    ------
    InsoleError
        For a run length out of range or an insole that cannot start
        (flash full, battery low).
    """
    from ...sim import make_scenario

    if not 0.1 <= minutes <= 360.0:
        raise InsoleError(f"a virtual run lasts 0.1 to 360 minutes, not {minutes:g}")
    duration_s = float(minutes) * 60.0
    catch_up(state)
    t0 = state.true_time_s()
    for side in SIDES:
        lg = state.loggers[side]
        if lg.state == "idle":
            lg.start(device_time_us=state.device_time_us(side, t0), rate_hz=sampling_rate_hz, auto=auto,
                     idle_stop_s=idle_stop_s, battery_pct=state.battery_pct(side))
    if scenario is None:
        scenario = make_scenario("run", duration_s=max(duration_s, 5.0), asymmetry_pct=asymmetry_pct, seed=seed,
                                 fatigue_pp_per_10min=fatigue_pp_per_10min)
    clocks = clocks_for_run(duration_s, apart_ppm=apart_ppm, temperature_change_ppm=temperature_change_ppm,
                            seed=state.seed)
    for side in SIDES:
        c = clocks[side]
        c = dataclasses.replace(c, temperature=dataclasses.replace(c.temperature, start_s=t0))
        state.tracks[side] = state.tracks[side].continued(t0, c)
    sessions = {s: ({state.loggers[s].ram.session_id} if state.loggers[s].state == "logging" else set())
                for s in SIDES}
    samples = dict.fromkeys(SIDES, 0)
    start_index = {s: state.loggers[s].ram.next_index for s in SIDES}
    rng = np.random.default_rng((seed, state.seed, 1 << 16))
    t = t0
    while t < t0 + duration_s:
        t = min(t0 + duration_s, t + CHUNK_S)
        for side, out in _feed(state, t, scenario, t0, rng).items():
            sessions[side].update(out.started)
        for side in SIDES:
            if state.loggers[side].state == "logging":
                sessions[side].add(state.loggers[side].ram.session_id)
    for side in SIDES:
        samples[side] = state.loggers[side].ram.next_index - start_index[side]
        sessions[side].discard(0)
    state.advance(duration_s)
    run_id = state.new_run_id()
    start_unix_s = state.origin_unix_s + t0
    truth = {
        "scenario": scenario.truth(),
        "scenario_start_unix_s": start_unix_s,
        "scenario_start_host_time_us": round(start_unix_s * 1e6),
        "clocks": {s: state.tracks[s].to_list()[-1] for s in SIDES},
        "clock_origin_unix_s": state.origin_unix_s,
        "insoles": {s: state.models[s].to_dict() for s in SIDES},
        "beacons": {"loss_pct": 100 * BEACON_LOSS, "latency_us": BEACON_LATENCY_US, "noise_us": BEACON_NOISE_US},
        "sessions": {s: sorted(sessions[s]) for s in SIDES},
        "run": {"minutes": float(minutes), "asymmetry_pct": asymmetry_pct,
                "fatigue_pp_per_10min": fatigue_pp_per_10min, "seed": seed, "auto": auto},
    }
    path = state.save_truth(run_id, truth, {s: sorted(sessions[s]) for s in SIDES})
    state.save()
    log.info("virtual run %d: %.1f min, sessions %s", run_id, minutes, truth["sessions"])
    return RunResult(run_id=run_id, sessions={s: tuple(sorted(sessions[s])) for s in SIDES},
                     start_unix_s=start_unix_s, duration_s=duration_s, samples=samples, truth_path=path)
