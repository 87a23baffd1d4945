"""A live session: two insoles over bleak into a recording file.

The guided protocols:

- ``standing``: a countdown, lift the left foot, lift the right foot
  (zeroing and calibration), stand still with the eyes open, then "close your
  eyes now"; each step but the countdown and the rests is marked as a phase
  in the file;
- ``run``: one phase ``run`` until the duration ends or the user stops.

Phase markers are placed at the planned times (the countdown's start plus the
planned lengths), so a late wake-up of the event loop delays the words on the
screen, never the phase boundaries in the file.

The consumer task writes every packet as it comes (the writer commits every
:data:`COMMIT_S`, so a crash or a SIGKILL loses at most that) and keeps the
live numbers for the terminal view.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import __version__
from ..constants import SIDES
from ..errors import InsoleError
from ..model import check_body_mass_kg
from ..recording.store import RecordingWriter, check_new_recording
from .link import FootLink, Packet, monotonic_clock, pick_pair, scan_insoles
from .live import LiveStats, update_stats

log = logging.getLogger(__name__)

__all__ = ["GUIDED", "LiveStats", "guide_plan", "record_session", "update_stats", "replay", "UPDATE_S"]

#: how often the live view is given fresh numbers, s of wall time
UPDATE_S = 0.02
#: how often a live recording is committed to disk, s of wall time (a WAL
#: commit without fsync: cheap, and the OS keeps it if the process is killed)
COMMIT_S = 0.1

#: the shortest eyes-open or eyes-closed phase a guided standing test accepts,
#: s (the analysis drops the first 3 s of each as settling; 30 s is the
#: default and the usual minimum in balance research)
MIN_EYES_PHASE_S = 15.0

#: the guided standing test: (phase, seconds, instruction)
GUIDED = {
    "standing": (("countdown", 3.0, "Stand still on both feet: the test starts in {remaining:.0f} s"),
                 ("lift_left", 3.0, "Lift your LEFT foot and hold still"),
                 ("rest", 1.0, "Put it down"),
                 ("lift_right", 3.0, "Lift your RIGHT foot and hold still"),
                 ("rest", 1.0, "Put it down, stand still, look ahead"),
                 ("eyes_open", 30.0, "Stand still, eyes open"),
                 ("eyes_closed", 30.0, "Close your eyes now")),
}


async def record_session(path: str | os.PathLike, *, protocol: str, duration_s: float | None = None,
                         backend: tuple[Any, Any] | None = None, subject: str = "", body_mass_kg: float | None = None,
                         sampling_rate_hz: int = 200, time_scale: float = 1.0, scan_timeout_s: float = 5.0,
                         stop: asyncio.Event | None = None, on_update: Callable[[LiveStats], None] | None = None,
                         on_phase: Callable[[str, float], None] | None = None, source: str = "ble",
                         extra_meta: dict[str, Any] | None = None,
                         final_meta: Callable[[], dict[str, Any]] | None = None, overwrite: bool = False) -> Path:
    """Record both feet into ``path`` following a guided protocol.

    Parameters
    ----------
    protocol : str
        ``standing`` (the guided test) or ``run`` (until ``duration_s`` or
        ``stop``).
    duration_s : float, optional
        Length of a run; for standing, the eyes-open and eyes-closed phases
        share what is left after the countdown, the foot lifts and the rests
        (:func:`guide_plan`).
    backend : (scanner, client), optional
        bleak backends; None for the operating system's stack.
    time_scale : float
        >1 only for virtual insoles that stream faster than real time: the
        session clock runs that much faster.
    stop : asyncio.Event, optional
        Set it to end the session early (Ctrl-C); the file is closed cleanly.
    on_update : callable, optional
        Called with :class:`LiveStats` every :data:`UPDATE_S` of wall time.
    on_phase : callable, optional
        ``on_phase(name, seconds)`` when each step of the guide begins (the
        countdown and rests included), with its planned length in session
        seconds; a virtual person listens to it
        (:meth:`insole.ble.virtual.pair.VirtualPair.on_phase`).
    source : str
        ``meta.source`` of the file (``ble``, ``virtual-radio``).
    extra_meta : dict, optional
        More metadata (``started_utc``), written first.
    final_meta : callable, optional
        ``final_meta()`` -> more metadata, computed and written when the
        session ends, before the file is closed: for what is slow to compute
        and not needed while recording (a simulation's truth takes about a
        second for an hour-long run), so that it does not delay connecting.
        A killed session's file does not have it.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path
        The recording.

    Notes
    -----
    ``meta.host_monotonic_origin_ns`` is ``time.monotonic_ns()`` at the
    session's host time 0: packet ``host_time_ns`` ``h`` arrived at
    ``origin + h / time_scale`` on the host's monotonic clock.
    """
    check_body_mass_kg(body_mass_kg)
    check_new_recording(path, overwrite=overwrite)  # before scanning, not after a minute of connecting
    scanner_backend, client_backend = backend or (None, None)
    clock = monotonic_clock(time_scale)
    stop = stop or asyncio.Event()
    plan = guide_plan(protocol, duration_s)
    queue: asyncio.Queue[Packet] = asyncio.Queue()
    stats = LiveStats()
    meta = {"source": source, "protocol": protocol, "sampling_rate_hz": sampling_rate_hz, "subject": subject,
            "body_mass_kg": body_mass_kg, "app_version": __version__, "time_scale": time_scale,
            # host time 0 on the host's monotonic clock (shared by the processes of one boot): an outside
            # event (a kill, another program's log) can be placed on the recording's time axis
            "host_monotonic_origin_ns": getattr(clock, "origin_ns", None), **(extra_meta or {})}
    found = pick_pair(await scan_insoles(timeout_s=scan_timeout_s, backend=scanner_backend, until_pair=True))
    with RecordingWriter(path, meta=meta, overwrite=overwrite, commit_interval_s=COMMIT_S) as writer:
        def on_event(side: str, kind: str, data: dict) -> None:
            if kind == "battery":
                stats.battery_pct[side] = data["battery_pct"]
                writer.add_marker(data["host_time_ns"], "battery", side, {"battery_pct": data["battery_pct"]})
            else:
                writer.add_marker(data["host_time_ns"], "link", side, {"event": kind, **data})

        links = {side: FootLink(found[side], on_packet=queue.put_nowait, clock_ns=clock, backend=client_backend,
                                sampling_rate_hz=sampling_rate_hz, on_event=on_event) for side in SIDES}
        for side in SIDES:  # one after the other: concurrent connects fail on several stacks
            info = await links[side].connect()
            writer.set_device(side, info)
            stats.battery_pct[side] = info.get("battery_pct")
            stats.use_layout(side, info.get("layout"))
        consumer = asyncio.get_running_loop().create_task(_consume(queue, writer, stats))
        try:
            await _guide(plan, writer, clock, time_scale, stats, stop, on_update, on_phase)
        finally:
            for link in links.values():
                await link.stop()
            await asyncio.sleep(0)
            queue.put_nowait(None)  # type: ignore[arg-type]
            await consumer
            if final_meta is not None:
                writer.update_meta(**final_meta())
    return Path(path)


def guide_plan(protocol: str, duration_s: float | None = None) -> tuple[tuple[str, float, str], ...]:
    """The guide's steps ``(name, seconds, instruction)`` for a protocol.

    Parameters
    ----------
    protocol : str
        ``standing``: :data:`GUIDED` ``["standing"]``; with ``duration_s``
        (the whole test, s), eyes open and eyes closed share what the
        countdown, the lifts and the rests leave (at least
        :data:`MIN_EYES_PHASE_S` each).
        ``run``: one step ``run`` of ``duration_s`` (None: until stopped).

    Raises
    ------
    InsoleError
        For another protocol.
    """
    if protocol not in ("standing", "run"):
        raise InsoleError(f"protocol must be standing or run; got {protocol!r}")
    if protocol == "standing":
        steps = GUIDED["standing"]
        if duration_s:
            fixed = sum(d for name, d, _ in steps if not name.startswith("eyes"))
            if not duration_s >= fixed + 2 * MIN_EYES_PHASE_S:
                raise InsoleError(
                    f"a standing test needs at least {fixed + 2 * MIN_EYES_PHASE_S:g} s (countdown and "
                    f"foot lifts {fixed:g} s, then eyes open and eyes closed at least {MIN_EYES_PHASE_S:g} s each; "
                    f"30 s each is recommended, the default); got {duration_s:g} s")
            each = (duration_s - fixed) / 2.0
            steps = tuple((n, each if n.startswith("eyes") else d, text) for n, d, text in steps)
        return steps
    return (("run", float(duration_s) if duration_s else float("inf"), "Run: Ctrl-C ends the recording"),)


#: guide steps that are not phases of the recording
_UNMARKED = ("countdown", "rest")


async def _guide(plan, writer: RecordingWriter, clock, time_scale: float, stats: LiveStats, stop: asyncio.Event,
                 on_update, on_phase) -> None:
    """Walk through the protocol's steps, marking the phases in the file at
    their planned times."""
    start = clock()
    for name, seconds, text in plan:
        stats.phase = name
        if on_phase:
            on_phase(name, seconds)
        if name not in _UNMARKED:
            writer.add_marker(start, "phase_start", name)
        end_ns = start + seconds * 1e9
        while (now := clock()) < end_ns and not stop.is_set():
            stats.elapsed_s = now / 1e9
            stats.remaining_s = (end_ns - now) / 1e9 if seconds != float("inf") else None
            stats.instruction = text.format(remaining=math.ceil(stats.remaining_s or 0.0))
            if on_update:
                on_update(stats)
            try:
                # the live view gets fresh numbers every 20 ms of wall time (latency target < 50 ms)
                await asyncio.wait_for(stop.wait(), timeout=min(UPDATE_S, max(0.001, (end_ns - now) / 1e9 / time_scale)))
            except asyncio.TimeoutError:
                pass
        if stop.is_set():
            if name not in _UNMARKED:
                writer.add_marker(min(clock(), end_ns), "phase_end", name)
            return
        if name not in _UNMARKED:
            writer.add_marker(end_ns, "phase_end", name)
        start = end_ns


async def _consume(queue: asyncio.Queue, writer: RecordingWriter, stats: LiveStats) -> None:
    """The one consumer: write each packet, keep the live numbers."""
    while True:
        pkt = await queue.get()
        if pkt is None:
            return
        writer.add_packet(pkt.side, pkt.host_time_ns, pkt.payload)
        update_stats(stats, pkt)


async def replay(path: str | os.PathLike, *, speed: float = 1.0, stop: asyncio.Event | None = None,
                 on_update: Callable[[LiveStats], None] | None = None) -> LiveStats:
    """Play a recording's packets in arrival order at ``speed`` times their
    pace, through the same live numbers as a recording session."""
    from ..recording.store import read_raw

    raw = read_raw(path)
    if raw.log_sides():  # a synced on-insole log: its samples as the packets the insoles would have streamed
        from ..signals.logged import logged_packets

        streams = logged_packets(raw)
    else:
        streams = {side: (raw.host_time_ns[side], raw.payloads[side]) for side in raw.payloads}
    events = sorted(((int(t), side, p) for side, (times, payloads) in streams.items()
                     for t, p in zip(times.tolist(), payloads)), key=lambda e: e[0])
    phases = sorted((m["host_time_ns"], m["name"]) for m in raw.markers if m["kind"] == "phase_start")
    stats = LiveStats()
    for side, info in raw.devices.items():
        stats.battery_pct[side] = info.get("battery_pct")
        stats.use_layout(side, info.get("layout"))
    stop = stop or asyncio.Event()
    clock = monotonic_clock(speed)
    last_update = -math.inf
    for t_ns, side, payload in events:
        if stop.is_set():
            break
        wait_s = (t_ns - clock()) / 1e9 / speed
        if wait_s > 0:
            await asyncio.sleep(wait_s)
        update_stats(stats, Packet(side, t_ns, payload))
        stats.elapsed_s = t_ns / 1e9
        current = [name for start, name in phases if start <= t_ns]
        stats.phase = current[-1] if current else ""
        if on_update and (now := time.monotonic()) - last_update >= UPDATE_S:  # as often as a live session
            last_update = now
            on_update(stats)
    if on_update:
        on_update(stats)
    return stats
