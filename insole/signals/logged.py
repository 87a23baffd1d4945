"""A synced on-insole log -> the same per-foot sample blocks live packets give.

A recording synced from the insoles' own log (``source = insole-log``) holds
each foot's log pages as downloaded (firmware_specs/protocol_v1_1.md). Here
they are decoded (:func:`insole.protocol.log.decode_log`), each foot's device
clock is put on the host clock from the log's own evidence (sync points with
a host, and beacons each insole heard from the other:
:func:`insole.signals.timebase.fit_logged_clocks`), and every data page
becomes one block of consecutive samples with its time and local period,
exactly what a packet is to the live decoder. Everything after this
(resampling, force, COP, analysis) is unchanged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import RecordingError
from ..protocol.log import DecodedLog, decode_log
from .build import FootTiming, continuity
from .resample import PacketTimes
from .timebase import DeviceClockMap, fit_logged_clocks, unwrap_indices

log = logging.getLogger(__name__)

__all__ = ["LoggedFeet", "logged_feet", "host_origin_ns"]


@dataclass
class LoggedFeet:
    """Both feet of a synced log, ready for the grid.

    Attributes
    ----------
    sampling_rate_hz : float
    timings : dict
        Side -> :class:`~insole.signals.build.FootTiming` with one block per
        kept data page.
    codes : dict
        Side -> ``(n, 16)`` uint16 codes in the blocks' row order.
    clocks : dict
        Side -> the fitted :class:`~insole.signals.timebase.DeviceClockMap`.
    """

    sampling_rate_hz: float
    timings: dict[str, FootTiming]
    codes: dict[str, np.ndarray]
    clocks: dict[str, DeviceClockMap]


def host_origin_ns(meta: dict[str, Any]) -> int:
    """The host Unix time (ns) that is time 0 of a synced recording."""
    try:
        return int(meta["host_origin_unix_us"]) * 1000
    except (KeyError, TypeError, ValueError):
        raise RecordingError("a synced log recording without meta.host_origin_unix_us cannot be put on a time "
                             "axis") from None


def logged_feet(source: Any, *, path: str = "") -> LoggedFeet:
    """Decode each foot's log pages and place them on the recording's clock.

    Parameters
    ----------
    source : PacketSource
        A recording with log pages (``log_sides()``, ``log_image(side)``,
        ``meta``).
    path : str
        For messages.

    Raises
    ------
    RecordingError
        When the feet were logged at different rates, or no foot has a
        decodable page.
    """
    where = f"{path}: " if path else ""
    decoded: dict[str, DecodedLog] = {}
    for side in source.log_sides():
        decoded[side] = decode_log(source.log_image(side))
    rates = {d.header.sampling_rate_hz for d in decoded.values() if d.header is not None}
    if len(rates) > 1:
        raise RecordingError(f"{where}the feet were logged at different rates ({sorted(rates)} Hz)")
    if not rates:
        raise RecordingError(f"{where}no foot's log has its session header: the sampling rate is unknown")
    rate = float(rates.pop())
    origin = host_origin_ns(source.meta)
    clocks = fit_logged_clocks({s: d.sync for s, d in decoded.items()}, {s: d.beacons for s, d in decoded.items()},
                               host_origin_ns=origin)
    timings, codes = {}, {}
    for side, d in decoded.items():
        timings[side] = page_timing(d, clocks[side], side=side, sampling_rate_hz=rate)
        codes[side] = d.codes if d.codes is not None else np.zeros((0, 16), np.uint16)
    return LoggedFeet(sampling_rate_hz=rate, timings=timings, codes=codes, clocks=clocks)


def page_timing(decoded: DecodedLog, clock: DeviceClockMap, *, side: str, sampling_rate_hz: float) -> FootTiming:
    """One foot's data pages as time-stamped blocks of samples.

    Parameters
    ----------
    decoded : DecodedLog
        The foot's decoded pages (data pages in sequence order).
    clock : DeviceClockMap
        Device time (us) -> host ns since the recording's origin.
    side : str
    sampling_rate_hz : float
        Nominal rate: a page's samples are ``1e6 / rate`` device
        microseconds apart.

    Returns
    -------
    FootTiming
        One block per kept data page (rejected pages never reach the codes;
        the gap they leave shows in the index continuity).
    """
    count = decoded.count.astype(np.int64)
    n_rows = int(count.sum())
    first, _ = unwrap_indices(decoded.first_index)
    dev_us = decoded.device_time_us.astype(np.float64)
    step_us = 1e6 / sampling_rate_hz
    t0_ns = clock.host_ns(dev_us)
    t1_ns = clock.host_ns(dev_us + count * step_us)
    period_s = (t1_ns - t0_ns) / np.maximum(count, 1) / 1e9
    row_start = np.cumsum(count) - count
    order = np.argsort(first, kind="stable")
    times = PacketTimes(t_first_s=t0_ns[order] / 1e9, period_s=period_s[order], key=first[order],
                        count=count[order], row_start=row_start[order])
    quality: dict[str, Any] = {
        "pages": int(count.size) + len(decoded.bad_pages),
        "invalid_pages": dict(decoded.problems),
        "sampling_rate_hz": float(sampling_rate_hz),
        **continuity(times, side=side),
        "duplicates": 0,
        "device_restarts": 0,
        "clock": [{"rate_ppm": clock.rate_ppm, "evidence": clock.evidence, "residual_us": clock.residual_us,
                   "fallback": False}],
        "end": _end(decoded),
    }
    return FootTiming(times=times, keep_packet=np.ones(n_rows, dtype=bool), n_rows=n_rows, has_imu=False,
                      quality=quality)


def _end(decoded: DecodedLog) -> dict[str, Any]:
    """How the foot's session ended, for the quality report."""
    if decoded.end is None:
        return {"reason": None, "note": "no end record: the insole lost power while logging (every complete "
                                        "page is kept)"}
    return {"reason": decoded.end.reason, "lost_samples": decoded.end.lost_samples}


def logged_packets(source: Any, *, samples_per_packet: int = 8) -> dict[str, tuple[np.ndarray, list[bytes]]]:
    """A synced log's samples as the v1 packets the insoles would have
    streamed, each stamped with its last sample's fitted time (ns since the
    recording's origin): what ``insole replay`` plays.

    Parameters
    ----------
    source : PacketSource
        A recording with log pages.
    samples_per_packet : int
        Samples per packet (8: 40 ms at 200 Hz, as a live insole batches).

    Returns
    -------
    dict
        Side -> (arrival times ns, int64; payloads), in time order.
    """
    from ..protocol.packet import encode_packets

    feet = logged_feet(source)
    rate = feet.sampling_rate_hz
    out = {}
    for side, timing in feet.timings.items():
        codes, t = feet.codes[side], timing.times
        times: list[np.ndarray] = []
        payloads: list[bytes] = []
        for i in range(t.count.size):
            n, r0, key = int(t.count[i]), int(t.row_start[i]), int(t.key[i])
            k = np.arange(n, dtype=np.int64)
            payloads += encode_packets(codes[r0:r0 + n], first_index=key % 2**32,
                                       device_time_us=((key + k) * (1e6 / rate)).astype(np.uint64),
                                       sampling_rate_hz=int(rate), samples_per_packet=samples_per_packet,
                                       zeroed=True)
            last = np.minimum(np.arange(samples_per_packet - 1, n + samples_per_packet - 1, samples_per_packet), n - 1)
            times.append(np.rint((t.t_first_s[i] + last * t.period_s[i]) * 1e9).astype(np.int64))
        out[side] = (np.concatenate(times) if times else np.zeros(0, np.int64), payloads)
    return out
