"""A simulated session written to a recording file, without BLE.

Both insoles "wear" the same scenario; their packets are written with their
simulated arrival times, the protocol phases as markers, the devices'
information, and the ground truth in the metadata. With ``realtime=True`` the
packets are written at the pace they would arrive in a live session (a
stand-in for streaming: a crash then leaves what was written so far).
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..constants import ADVERTISED_NAMES, SIDES
from ..paths import atomic_output, check_output
from ..recording.store import RecordingWriter
from .base import Scenario
from .device import InsoleModel, PacketStream, sample_packets

log = logging.getLogger(__name__)

__all__ = ["SimulationResult", "simulate_recording", "default_insoles"]

_FIRMWARE = "1.0.0-sim"


@dataclass(frozen=True)
class SimulationResult:
    """What :func:`simulate_recording` wrote."""

    path: Path
    packets: dict[str, int]
    lost: dict[str, int]
    truth: dict[str, Any]
    streams: dict[str, PacketStream]


def default_insoles(*, sampling_rate_hz: int = 200, seed: int = 0, **overrides: Any) -> dict[str, InsoleModel]:
    """A realistic pair: clocks 20 ppm apart, the right insole starting a
    fraction of a second after the left, a little noise, no loss.

    ``overrides`` apply to both (e.g. ``drop_pct=1.0``).
    """
    left = dict(side="left", sampling_rate_hz=sampling_rate_hz, clock_ppm=-12.0, start_s=0.05,
                first_index=41_000, seed=seed)
    right = dict(side="right", sampling_rate_hz=sampling_rate_hz, clock_ppm=8.0, start_s=0.31,
                 first_index=2_000_000, battery_start_pct=88.0, seed=seed + 1)
    return {"left": InsoleModel(**{**left, **overrides}), "right": InsoleModel(**{**right, **overrides})}


def _device_info(model: InsoleModel) -> dict[str, Any]:
    code = "L" if model.side == "left" else "R"
    return {
        "name": ADVERTISED_NAMES[model.side],
        "address": f"SIM:00:00:00:00:0{1 if code == 'L' else 2}",
        "manufacturer": "insole project",
        "model": "virtual insole v1",
        "serial": f"SIM-{code}-{model.seed:04d}",
        "hardware_revision": "sim",
        "firmware_revision": _FIRMWARE,
        "battery_pct": model.battery_pct(0.0),
        "layout": model.layout.to_dict(),
    }


def simulate_recording(
    path: str | os.PathLike,
    scenario: Scenario,
    *,
    insoles: dict[str, InsoleModel] | None = None,
    subject: str = "simulated person",
    realtime: bool = False,
    overwrite: bool = False,
    progress: Callable[[float, float], None] | None = None,
    extra_meta: dict[str, Any] | None = None,
) -> SimulationResult:
    """Simulate a session and write it as a recording file.

    Parameters
    ----------
    path : str or Path
        The ``.insole`` file to write.
    scenario : Scenario
        The simulated person.
    insoles : dict, optional
        Side -> :class:`InsoleModel`; :func:`default_insoles` by default.
    subject : str
    realtime : bool
        Write at the pace of a live session (wall clock) instead of at once.
    overwrite : bool
        Replace an existing file (without ``realtime``: only once the new one
        is complete, by an atomic rename).
    progress : callable, optional
        Called as ``progress(done_s, total_s)`` while writing.
    extra_meta : dict, optional
        More metadata keys.
    """
    path = check_output(path, force=overwrite)
    insoles = insoles or default_insoles()
    rates = {m.sampling_rate_hz for m in insoles.values()}
    if len(rates) != 1:
        raise ValueError("both insoles must use the same sampling rate")
    rate = rates.pop()
    streams = {side: sample_packets(m, scenario, duration_s=scenario.duration_s) for side, m in insoles.items()}
    truth = {"scenario": scenario.truth(), "insoles": {s: m.to_dict() for s, m in insoles.items()}}
    meta = {
        "source": "simulator",
        "protocol": scenario.protocol,
        "sampling_rate_hz": rate,
        "subject": subject,
        "body_mass_kg": scenario.body_mass_kg,
        "app_version": __version__,
        "truth": truth,
        **(extra_meta or {}),
    }
    markers = [(int(p.start_s * 1e9), "phase_start", p.name) for p in scenario.phases]
    markers += [(int(p.end_s * 1e9), "phase_end", p.name) for p in scenario.phases]
    markers += [(int(t * 1e9), "battery", side, {"battery_pct": m.battery_pct(t)})
                for side, m in insoles.items() for t in np.arange(60.0, scenario.duration_s, 60.0)]
    with contextlib.ExitStack() as stack:
        # at once: written beside it and renamed into place; paced: written
        # where it belongs, as a live session does (a crash leaves the part so far)
        target = path if realtime else stack.enter_context(atomic_output(path))
        writer = stack.enter_context(RecordingWriter(target, meta=meta, overwrite=overwrite or not realtime))
        for side, model in insoles.items():
            writer.set_device(side, _device_info(model))
        if realtime:
            _write_paced(writer, streams, sorted(markers), scenario.duration_s, progress)
        else:
            for side in SIDES:
                if side in streams:
                    writer.add_packets(side, streams[side].arrival_ns, streams[side].payloads)
            for mk in markers:
                writer.add_marker(mk[0], mk[1], mk[2], mk[3] if len(mk) > 3 else None)
            if progress:
                progress(scenario.duration_s, scenario.duration_s)
    log.info("simulated %s: %s", path, {s: len(st.payloads) for s, st in streams.items()})
    return SimulationResult(
        path=Path(path),
        packets={s: len(st.payloads) for s, st in streams.items()},
        lost={s: st.lost for s, st in streams.items()},
        truth=truth,
        streams=streams,
    )


def _write_paced(writer: RecordingWriter, streams: dict[str, PacketStream], markers: list[tuple],
                 duration_s: float, progress: Callable[[float, float], None] | None) -> None:
    """Write packets and markers in arrival order at wall-clock pace."""
    def packets_of(side: str, st: PacketStream):
        for t, p in zip(st.arrival_ns.tolist(), st.payloads):
            yield t, 1, side, p

    events = heapq.merge(
        *[packets_of(side, st) for side, st in streams.items()],
        ((mk[0], 0, mk, None) for mk in markers),
        key=lambda e: (e[0], e[1]),
    )
    start = time.monotonic_ns()
    last_progress = 0.0
    for t_ns, kind, what, payload in events:
        wait_s = (start + t_ns - time.monotonic_ns()) / 1e9
        if wait_s > 0:
            time.sleep(wait_s)
        if kind == 1:
            writer.add_packet(what, t_ns, payload)
        else:
            writer.add_marker(what[0], what[1], what[2], what[3] if len(what) > 3 else None)
        if progress and t_ns / 1e9 - last_progress >= 0.25:
            last_progress = t_ns / 1e9
            progress(min(last_progress, duration_s), duration_s)
    if progress:
        progress(duration_s, duration_s)
