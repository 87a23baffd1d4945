"""A Lab Streaming Layer (LSL) outlet: the samples of a recording, or of a
live session, as one LSL stream.

The stream
----------
- name ``insole``, type ``Pressure``, nominal rate = the recording's
  sampling rate, ``float32``;
- 38 channels, the left foot then the right, each ``force_n`` (N),
  ``cop_x_mm``, ``cop_y_mm`` (mm, the foot frame: x lateral, y from the heel
  toward the toes), ``p01`` .. ``p16`` (kPa); labels ``left_force_n`` ..
  ``right_p16`` (:func:`channel_labels`);
- ``desc``: ``channels/channel`` with ``label``, ``unit``, ``type`` and
  ``side`` per channel; ``devices/device`` per side with what the
  recording's ``meta.devices`` holds (name, model, serial, firmware, ...);
  ``acquisition`` with the subject, the protocol and the source.

Timestamps
----------
A sample's timestamp is its ``time_s`` (the samples frame's index: the
fitted insole clocks, never arrival times) on the LSL clock
(``pylsl.local_clock()``): ``lsl_t0 + (time_s - time_s0) / speed``, with
``lsl_t0`` and ``time_s0`` fixed once when streaming starts.

- Replay (:func:`replay_to_lsl`): ``time_s0`` is the first sample's time and
  ``lsl_t0`` the LSL clock when the replay starts; at ``speed`` X the
  timestamps follow the replay's clock (time differences divided by X), and
  each chunk is pushed when its last sample is due, so an inlet sees a
  live-like stream.
- Live (:func:`stream_live_recording`): ``time_s0 = 0`` is the session's host
  time 0 and ``lsl_t0`` that instant on the LSL clock (from the recording's
  ``host_monotonic_origin_ns``), so a timestamp is when the sample was taken
  on this computer's clock, as far as the clock fit knows. The file is read
  as it is committed through the recording tier
  (:class:`~insole.recording.store.PacketTail`) and decoded by the one
  decoder (:func:`insole.signals.build.decode_recording`, in
  :class:`LiveDecoder`) over the last :data:`WINDOW_S` of packets.

Missing samples (NaN rows of the frame, a gap on one foot) are sent as NaN:
the stream has one sample per row of the frame, regularly spaced.

An inlet receives the samples pushed after it has connected (LSL does not
keep earlier ones for it); ``wait_for_consumer_s`` lets a replay wait for one.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .constants import COP_X, COP_Y, FORCE, SENSOR_CHANNELS, SIDES
from .errors import InsoleError

if TYPE_CHECKING:
    import pandas as pd
    import pylsl

    from .model import Recording, RecordingMeta
    from .recording.store import PacketBatch, PacketTail

log = logging.getLogger(__name__)

__all__ = ["LslError", "require_pylsl", "STREAM_NAME", "STREAM_TYPE", "CHANNELS", "channel_labels",
           "channel_units", "stream_info", "LslOutlet", "LslStreamed", "frame_block", "replay_to_lsl",
           "stream_recording", "LiveDecoder", "stream_live_recording"]

STREAM_NAME = "insole"
STREAM_TYPE = "Pressure"
#: channels of each foot, in stream order (left first, then right)
CHANNELS = (FORCE, COP_X, COP_Y, *SENSOR_CHANNELS)
_UNITS = {FORCE: "N", COP_X: "mm", COP_Y: "mm", **{c: "kPa" for c in SENSOR_CHANNELS}}
_TYPES = {FORCE: "Force", COP_X: "CenterOfPressure", COP_Y: "CenterOfPressure",
          **{c: "Pressure" for c in SENSOR_CHANNELS}}
#: device fields copied into the stream's desc
_DEVICE_FIELDS = ("name", "address", "manufacturer", "model", "serial", "hardware_revision", "firmware_revision")
#: wall time between pushes of a replay, s
CHUNK_S = 0.02
#: a live foot more than this behind the other no longer holds the stream back, s (its samples are NaN)
MAX_LAG_S = 1.0
#: a live session's packets kept for its decode (clock fit and grid), s of arrival time before the newest
WINDOW_S = 20.0
#: how often a live session's file is read for new packets, s
POLL_S = 0.05
#: how long an outlet with an inlet stays open after its last push, s (closing
#: it at once can lose the last chunks on their way to the inlet)
LINGER_S = 0.5
#: a live session's file is left alone this close to its planned end, s of
#: session time (the recorder then closes it; its last packets are read after)
RELEASE_S = 1.0


class LslError(InsoleError):
    """The Lab Streaming Layer library (liblsl) cannot be loaded or used."""


def require_pylsl():
    """The pylsl module, or :class:`LslError` in one line (for a command to
    check before it starts the work)."""
    try:
        import pylsl
    except (ImportError, RuntimeError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LslError(f"--lsl needs pylsl with its liblsl (pip install pylsl): {reason}") from None
    return pylsl


def channel_labels() -> tuple[str, ...]:
    """The stream's 38 channel labels in order: ``left_force_n``,
    ``left_cop_x_mm``, ``left_cop_y_mm``, ``left_p01`` .. ``left_p16``, then
    the same for ``right``."""
    return tuple(f"{side}_{ch}" for side in SIDES for ch in CHANNELS)


def channel_units() -> tuple[str, ...]:
    """Unit of each channel of :func:`channel_labels`: ``N``, ``mm`` or ``kPa``."""
    return tuple(_UNITS[ch] for _ in SIDES for ch in CHANNELS)


def _source_id(meta: RecordingMeta) -> str:
    """A stable source id: the insoles' serials (or addresses), so an inlet
    can pick up the stream again after a restart."""
    ids = [(d.serial or d.address or d.name) for s in SIDES if (d := meta.devices.get(s)) is not None]
    return "insole-" + "-".join(i for i in ids if i) if any(ids) else "insole"


def stream_info(meta: RecordingMeta, *, source_id: str | None = None) -> pylsl.StreamInfo:
    """The LSL stream description of a recording.

    Parameters
    ----------
    meta : RecordingMeta
        ``sampling_rate_hz`` (Hz) becomes the nominal rate; ``devices`` the
        ``desc/devices`` entries; subject, protocol and source go to
        ``desc/acquisition``.
    source_id : str, optional
        Default: from the insoles' serial numbers.

    Returns
    -------
    pylsl.StreamInfo
        Name ``insole``, type ``Pressure``, 38 ``float32`` channels
        (:func:`channel_labels`, units :func:`channel_units`).

    Raises
    ------
    LslError
        When pylsl or liblsl cannot be loaded.
    """
    pylsl = require_pylsl()
    info = pylsl.StreamInfo(STREAM_NAME, STREAM_TYPE, len(SIDES) * len(CHANNELS), float(meta.sampling_rate_hz),
                            pylsl.cf_float32, source_id or _source_id(meta))
    desc = info.desc()
    chans = desc.append_child("channels")
    for side in SIDES:
        for ch in CHANNELS:
            c = chans.append_child("channel")
            c.append_child_value("label", f"{side}_{ch}")
            c.append_child_value("unit", _UNITS[ch])
            c.append_child_value("type", _TYPES[ch])
            c.append_child_value("side", side)
    devices = desc.append_child("devices")
    for side in SIDES:
        d = devices.append_child("device")
        d.append_child_value("side", side)
        dev = meta.devices.get(side)
        for name in _DEVICE_FIELDS:
            d.append_child_value(name, str(getattr(dev, name, "") or ""))
    acq = desc.append_child("acquisition")
    for name, value in (("manufacturer", "insole"), ("subject", meta.subject), ("protocol", meta.protocol),
                        ("source", meta.source), ("cop_frame", "foot: x lateral, y from the heel toward the toes")):
        acq.append_child_value(name, str(value or ""))
    return info


def frame_block(samples: pd.DataFrame) -> np.ndarray:
    """The samples frame's values in stream order.

    Parameters
    ----------
    samples : pandas.DataFrame
        Columns ``(side, channel)``; a side or channel the frame lacks is NaN.

    Returns
    -------
    numpy.ndarray
        ``(n_rows, 38)`` float32 (:func:`channel_labels` order).
    """
    pos = samples.columns.get_indexer(_stream_columns())
    out = np.full((len(samples), pos.size), np.nan, dtype=np.float32)
    have = pos >= 0
    out[:, have] = samples.to_numpy(dtype=np.float32)[:, pos[have]]
    return out


@functools.cache
def _stream_columns() -> pd.MultiIndex:
    """The ``(side, channel)`` columns of the stream, in order (built once:
    a live session converts a frame at every update)."""
    import pandas as pd

    return pd.MultiIndex.from_tuples([(s, c) for s in SIDES for c in CHANNELS])


class LslOutlet:
    """One LSL outlet of the ``insole`` stream.

    Parameters
    ----------
    meta : RecordingMeta
        See :func:`stream_info`.
    speed : float
        Times real time: timestamps advance by ``time_s`` differences / speed.
    max_buffered_s : float
        What the outlet keeps for a slow inlet, s.

    Notes
    -----
    :meth:`start` fixes the mapping ``timestamp = lsl_t0 + (time_s - time_s0)
    / speed``; :meth:`push` calls it on the first chunk when not called.
    """

    def __init__(self, meta: RecordingMeta, *, speed: float = 1.0, max_buffered_s: float = 360.0) -> None:
        if not (math.isfinite(speed) and speed > 0):
            raise InsoleError(f"speed must be a positive number; got {speed}")
        pylsl = require_pylsl()
        self.info = stream_info(meta)
        self.speed = float(speed)
        self._clock = pylsl.local_clock
        self._outlet = pylsl.StreamOutlet(self.info, 0, max(1, int(math.ceil(max_buffered_s))))
        self.time_s0: float | None = None
        self.lsl_t0: float | None = None
        self.n_pushed = 0
        self.first_time_s: float | None = None
        self.last_time_s: float | None = None

    def start(self, time_s0: float, *, lsl_t0: float | None = None) -> float:
        """Fix the time mapping: ``time_s0`` (s, the recording's clock) is
        ``lsl_t0`` on the LSL clock (default: now). Returns ``lsl_t0``."""
        self.time_s0 = float(time_s0)
        self.lsl_t0 = float(self._clock() if lsl_t0 is None else lsl_t0)
        return self.lsl_t0

    def timestamps(self, time_s: np.ndarray) -> np.ndarray:
        """LSL timestamps (s, ``pylsl.local_clock()``) of samples at ``time_s`` (s)."""
        if self.time_s0 is None:
            raise RuntimeError("LslOutlet.start() was not called")
        return self.lsl_t0 + (np.asarray(time_s, dtype=np.float64) - self.time_s0) / self.speed

    def push_block(self, time_s: np.ndarray, values: np.ndarray) -> int:
        """Push ``(n, 38)`` values (stream order, float32) of samples at
        ``time_s`` (s) as one chunk with per-sample timestamps; returns n."""
        n = len(time_s)
        if n == 0:
            return 0
        if self.time_s0 is None:
            self.start(float(time_s[0]))
        self._outlet.push_chunk(np.ascontiguousarray(values, dtype=np.float32), self.timestamps(time_s).tolist())
        self.n_pushed += n
        self.first_time_s = float(time_s[0]) if self.first_time_s is None else self.first_time_s
        self.last_time_s = float(time_s[-1])
        return n

    def push(self, chunk: pd.DataFrame) -> int:
        """Push rows of a samples frame (index ``time_s``, s); returns the rows pushed."""
        return self.push_block(chunk.index.to_numpy(dtype=np.float64), frame_block(chunk))

    def wait_for_consumer(self, timeout_s: float) -> bool:
        """Block until an inlet is connected or ``timeout_s`` (s) has passed;
        True when one is."""
        return bool(self._outlet.wait_for_consumers(float(timeout_s))) if timeout_s > 0 else self.has_consumer()

    def has_consumer(self) -> bool:
        """True when an inlet is connected."""
        return bool(self._outlet.have_consumers())

    def close(self, *, linger_s: float = 0.0) -> None:
        """Destroy the outlet (inlets see the stream end), after ``linger_s``
        (s) when an inlet is connected, so that the last chunks reach it."""
        if self._outlet is not None and linger_s > 0 and self.n_pushed and self.has_consumer():
            time.sleep(linger_s)
        self._outlet = None

    def __enter__(self) -> LslOutlet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(linger_s=LINGER_S)


@dataclass(frozen=True)
class LslStreamed:
    """What an LSL session sent.

    Attributes
    ----------
    n_samples : int
        Samples pushed.
    first_time_s, last_time_s : float or None
        ``time_s`` of the first and last sample pushed, s (None when none).
    lsl_t0 : float or None
        The LSL clock at ``time_s0``, s.
    speed : float
        Times real time.
    consumer : bool
        Whether an inlet was connected when streaming began.
    """

    n_samples: int
    first_time_s: float | None
    last_time_s: float | None
    lsl_t0: float | None
    speed: float
    consumer: bool


async def _wait_until(clock: Callable[[], float], due: float, stop: asyncio.Event | None) -> None:
    """Sleep until ``clock() >= due`` (s) or ``stop`` is set."""
    wait_s = due - clock()
    if wait_s <= 0:
        return
    if stop is None:
        await asyncio.sleep(wait_s)
        return
    try:
        await asyncio.wait_for(stop.wait(), timeout=wait_s)
    except TimeoutError:
        pass


async def stream_recording(recording: Recording, *, speed: float = 1.0, wait_for_consumer_s: float = 0.0,
                           stop: asyncio.Event | None = None, chunk_s: float = CHUNK_S,
                           outlet: LslOutlet | None = None) -> LslStreamed:
    """Play a recording's samples frame to LSL at ``speed`` times real time
    (the coroutine behind :func:`replay_to_lsl`).

    Parameters
    ----------
    recording : Recording
        A loaded recording (:func:`insole.load`).
    speed : float
        Times real time (> 0).
    wait_for_consumer_s : float
        Wait up to this long for an inlet before playing, s (0: play at once).
    stop : asyncio.Event, optional
        Set it to stop early.
    chunk_s : float
        Wall time between pushes, s: each push holds ``chunk_s * rate * speed`` samples.
    outlet : LslOutlet, optional
        Default: a new one for ``recording.meta``, closed at the end.

    Returns
    -------
    LslStreamed
    """
    own = outlet is None
    out = outlet or LslOutlet(recording.meta, speed=speed)
    try:
        consumer = await asyncio.to_thread(out.wait_for_consumer, wait_for_consumer_s)
        t = recording.samples.index.to_numpy(dtype=np.float64)
        block = frame_block(recording.samples)
        if t.size == 0:
            return LslStreamed(0, None, None, None, out.speed, consumer)
        step = max(1, int(round(chunk_s * recording.meta.sampling_rate_hz * out.speed)))
        lsl_t0 = out.start(float(t[0]))
        for lo in range(0, t.size, step):  # one push per chunk, never per sample
            hi = min(lo + step, t.size)
            await _wait_until(out._clock, lsl_t0 + (t[hi - 1] - t[0]) / out.speed, stop)
            if stop is not None and stop.is_set():
                break
            out.push_block(t[lo:hi], block[lo:hi])
        return LslStreamed(out.n_pushed, out.first_time_s, out.last_time_s, lsl_t0, out.speed, consumer)
    finally:
        if own:
            await asyncio.to_thread(out.close, linger_s=LINGER_S)


def replay_to_lsl(recording: Recording, *, speed: float = 1.0, wait_for_consumer_s: float = 0.0,
                  chunk_s: float = CHUNK_S) -> LslStreamed:
    """Publish a recording on LSL as if it were streaming live.

    Parameters
    ----------
    recording : Recording
        A loaded recording (:func:`insole.load`).
    speed : float
        Times real time (> 0); timestamps advance by ``time_s`` differences /
        ``speed`` (the replay's clock).
    wait_for_consumer_s : float
        Wait up to this long for an inlet before playing, s.
    chunk_s : float
        Wall time between pushes, s.

    Returns
    -------
    LslStreamed

    Raises
    ------
    LslError
        When pylsl or liblsl cannot be loaded.
    """
    return asyncio.run(stream_recording(recording, speed=speed, wait_for_consumer_s=wait_for_consumer_s,
                                        chunk_s=chunk_s))


# --- live: the packets of a session being recorded -----------------------------
class LiveDecoder:
    """Packets of a live session -> new rows of the stream, by the decode stage.

    The packets read so far (the last ``window_s`` of them) are held in an
    in-memory recording (:class:`~insole.recording.store.RawRecording`) and
    decoded by the one decoder, :func:`insole.signals.build.decode_recording`,
    at every :meth:`rows`: the same clock fit, grid, gaps and force/COP as the
    recording file's decode, with the clock fitted on the window. The grid is
    the recording's, ``j / sampling_rate_hz``. A row is given once both feet
    have passed it (a foot has passed a row when it has a sample at or after
    it), or once the slower foot lags more than ``max_lag_s`` (its part of
    the row is then NaN); every row is given once and never revised.

    Parameters
    ----------
    meta : dict
        The recording's metadata (JSON values, as stored).
    devices : dict
        Side -> device info (as stored): the sensor layouts.
    window_s : float
        Packets that arrived more than this before the newest one are
        forgotten, s (bounds the cost of an update; it must exceed
        ``max_lag_s``).
    max_lag_s : float
        See above, s.
    """

    def __init__(self, meta: dict[str, Any], devices: dict[str, dict[str, Any]], *, window_s: float = WINDOW_S,
                 max_lag_s: float = MAX_LAG_S) -> None:
        from .recording.store import RawRecording

        if not window_s > max_lag_s + 1.0:
            raise InsoleError(f"window_s ({window_s} s) must exceed max_lag_s + 1 ({max_lag_s + 1} s)")
        self.window_s, self.max_lag_s = float(window_s), float(max_lag_s)
        self.source = RawRecording(meta=dict(meta), devices=dict(devices), host_time_ns={}, payloads={})
        self._next_row: int | None = None  # grid index of the next row to give

    def add(self, packets: PacketBatch) -> None:
        """Add packets in arrival order (``host_time_ns``: ns since the session's host time 0)."""
        if not len(packets):
            return
        src = self.source
        for side in SIDES:
            t, p = packets.of_side(side)
            if p:
                src.host_time_ns[side] = np.concatenate([src.host_time_ns.get(side, np.zeros(0, np.int64)), t])
                src.payloads[side] = src.payloads.get(side, []) + p
        cut_ns = int(packets.host_time_ns.max()) - int(self.window_s * 1e9)
        for side in list(src.payloads):
            t = src.host_time_ns[side]
            k = int(np.searchsorted(np.maximum.accumulate(t), cut_ns))  # arrival order: times never go back
            if k >= t.size:
                del src.host_time_ns[side], src.payloads[side]
            elif k:
                src.host_time_ns[side], src.payloads[side] = t[k:], src.payloads[side][k:]

    def rows(self, *, final: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The grid rows ready since the last call.

        Parameters
        ----------
        final : bool
            The session has ended: give every row up to the last sample.

        Returns
        -------
        time_s : numpy.ndarray
            Grid times, s since the session's host time 0, regularly spaced.
        values : numpy.ndarray
            ``(n, 38)`` float32 in :func:`channel_labels` order.
        """
        from .errors import RecordingError
        from .signals.build import decode_recording

        empty = (np.zeros(0), np.zeros((0, len(SIDES) * len(CHANNELS)), np.float32))
        if not self.source.payloads:
            return empty
        try:
            rec = decode_recording(self.source)
        except RecordingError:  # nothing decodable yet
            return empty
        rate = rec.meta.sampling_rate_hz
        j = np.rint(rec.samples.index.to_numpy(dtype=np.float64) * rate).astype(np.int64)
        block = frame_block(rec.samples)
        j_end = int(j[-1]) if final else self._ready_row(j, block, rate)
        j_start = int(j[0]) if self._next_row is None else self._next_row
        if j_end < j_start:
            return empty
        out = np.full((j_end - j_start + 1, block.shape[1]), np.nan, dtype=np.float32)
        sel = (j >= j_start) & (j <= j_end)
        out[j[sel] - j_start] = block[sel]  # a row the window no longer holds stays NaN
        self._next_row = j_end + 1
        return np.arange(j_start, j_end + 1, dtype=np.float64) / rate, out

    def _ready_row(self, j: np.ndarray, block: np.ndarray, rate_hz: float) -> int:
        """The last grid index both feet have passed (or the leading foot
        ``max_lag_s`` before its last), from where each foot's samples end
        in the frame (``p01`` is NaN where a foot has no sample)."""
        last = [int(j[has[-1]]) for k in range(len(SIDES))
                if (has := np.flatnonzero(np.isfinite(block[:, k * len(CHANNELS) + 3]))).size]
        if not last:
            return -(2**62)
        both = min(last) if len(last) == len(SIDES) else -(2**62)
        return max(both, max(last) - math.ceil(self.max_lag_s * rate_hz))


def _update(live: LiveDecoder, tail: PacketTail, out: LslOutlet, *, final: bool = False) -> float:
    """Read the packets committed since the last update, decode, push the
    rows ready; the newest arrival read, s (-inf when there was none)."""
    packets = tail.new_packets()
    live.add(packets)
    if len(packets) or final:  # no new packet, no new row
        out.push_block(*live.rows(final=final))
    return float(packets.host_time_ns.max()) / 1e9 if len(packets) else -math.inf


async def stream_live_recording(path: str | os.PathLike, *, done: asyncio.Event,
                                interrupted: asyncio.Event | None = None, session_end_s: float | None = None,
                                poll_s: float = POLL_S) -> LslStreamed:
    """Publish a session on LSL while it is being recorded into ``path``
    (``insole record --lsl``).

    The recording file is the one source: its packets are read as the
    recorder commits them (every 0.1 s) through the recording tier
    (:class:`~insole.recording.store.PacketTail`), decoded by the decode
    stage (:class:`LiveDecoder`) and pushed as chunks with per-sample
    timestamps. Near the session's end (``interrupted`` set, or the packets
    within :data:`RELEASE_S` of ``session_end_s``) the file is left alone
    until the recorder has closed it (``done``); its last packets are then
    read and pushed.

    Parameters
    ----------
    path : str or Path
        The recording being written (it may not exist yet: it is waited for).
    done : asyncio.Event
        Set when the recorder has closed the file (or failed).
    interrupted : asyncio.Event, optional
        The session's stop event (Ctrl-C).
    session_end_s : float, optional
        The planned end of the session, s of session time (None or inf: until interrupted).
    poll_s : float
        How often the file is read, s.

    Returns
    -------
    LslStreamed

    Raises
    ------
    LslError
        When pylsl or liblsl cannot be loaded.
    """
    from .recording.store import PacketTail
    from .signals.build import recording_meta

    require_pylsl()
    tail = PacketTail(path)
    wake = interrupted or done

    async def pause() -> None:
        await _wait_until(time.monotonic, time.monotonic() + poll_s, done if wake.is_set() else wake)

    while len(devices := tail.devices()) < len(SIDES) or not tail.meta().get("sampling_rate_hz"):
        if done.is_set() or wake.is_set():
            return LslStreamed(0, None, None, None, 1.0, False)
        await pause()
    meta = tail.meta()
    live = LiveDecoder(meta, devices)
    end_s = session_end_s if session_end_s is not None and math.isfinite(session_end_s) else math.inf
    with LslOutlet(recording_meta(live.source), speed=float(meta.get("time_scale") or 1.0)) as out:
        origin_ns = meta.get("host_monotonic_origin_ns")
        # the session's host time 0 on the LSL clock (both are monotonic clocks; on Linux the same one)
        out.start(0.0, lsl_t0=(out._clock() - time.monotonic() + origin_ns / 1e9) if origin_ns else None)
        consumer, latest_s = False, -math.inf
        while not (done.is_set() or (interrupted is not None and interrupted.is_set())
                   or latest_s >= end_s - RELEASE_S):
            # read and decode off the event loop, which stamps the packets' arrival times
            latest_s = max(latest_s, await asyncio.to_thread(_update, live, tail, out))
            consumer = consumer or out.has_consumer()
            await pause()
        await done.wait()  # the file is closed: its last packets
        await asyncio.to_thread(_update, live, tail, out, final=True)
        consumer = consumer or out.has_consumer()
        return LslStreamed(out.n_pushed, out.first_time_s, out.last_time_s, out.lsl_t0, out.speed, consumer)
