"""Raw packets -> samples frame: decode, time, resample, force and COP.

This is the decode stage of the pipeline. It reads a packet source (a
:class:`~insole.recording.store.RecordingReader` streaming from a file, or an
in-memory :class:`~insole.recording.store.RawRecording`) and returns a
:class:`~insole.model.Recording` whose samples frame follows docs/architecture.md
(index ``time_s``, columns ``(side, channel)``, gaps as NaN rows, never
interpolated across), with a data-quality report.

Memory: timing comes from a pass over the packet headers only; then one foot
at a time its codes are unpacked and resampled into the frame, so the peak
is the frame plus one foot's 12-bit codes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..constants import (
    COP_X,
    COP_Y,
    FORCE,
    IMU_CHANNELS,
    N_SENSORS,
    SENSOR_CHANNELS,
    SIDES,
    TIME_INDEX,
)
from ..errors import RecordingError
from ..model import DeviceInfo, Phase, Recording, RecordingMeta
from ..protocol.packet import ACC_LSB_G, GYRO_LSB_DPS, PacketHeaders, decode_headers, decode_packets
from ..recording.store import SideHeaders
from ..protocol.layout import reference_layout
from .forces import force_and_cop, layout_for
from .resample import PacketTimes, grid_rows, interpolate_rows
from .timebase import ClockFit, fit_clock, unwrap_indices

log = logging.getLogger(__name__)

__all__ = ["decode_recording", "recording_meta", "FootTiming", "foot_timing"]

#: COP threshold when the body mass is unknown, N
DEFAULT_COP_MIN_FORCE_N = 20.0
#: COP threshold as a share of body weight when the body mass is known
COP_MIN_FORCE_BW = 0.05
#: invalid-packet reason of a stored row whose columns have the wrong types
UNTYPED_REASON = "not a packet (stored with the wrong column types)"
#: invalid-packet reason of a packet stamped before the recording started
EARLY_REASON = "arrival time before the recording started"
_EPOCH_STRIDE = 2**40
_GRID_CHUNK = 16384


class PacketSource(Protocol):
    meta: dict[str, Any]
    devices: dict[str, dict[str, Any]]
    markers: list[dict[str, Any]]
    damaged: bool
    missing_wal: bool  # never closed, and its -wal file is not beside it

    def sides(self) -> list[str]: ...
    def headers(self, side: str) -> SideHeaders: ...
    def iter_payloads(self, side: str): ...
    # a synced on-insole log (optional): sides with log pages, and their pages
    def log_sides(self) -> list[str]: ...
    def log_image(self, side: str) -> bytes: ...


@dataclass(frozen=True)
class FootTiming:
    """One foot's packets placed on the host clock, before any sample is
    unpacked.

    Attributes
    ----------
    times : PacketTimes
        Kept packets sorted by time (duplicates removed).
    keep_packet : numpy.ndarray
        bool per packet in arrival order: decodable and at the recording's
        rate. The code array holds the samples of these packets in arrival
        order.
    n_rows : int
        Rows of the code array.
    has_imu : bool
    quality : dict
        Packets, invalid packets by reason, duplicates, samples received and
        expected, loss %, gaps, clock fits.
    """

    times: PacketTimes
    keep_packet: np.ndarray
    n_rows: int
    has_imu: bool
    quality: dict[str, Any]

    @property
    def empty(self) -> bool:
        return self.times.count.size == 0


def foot_timing(headers: SideHeaders, *, side: str, sampling_rate_hz: float | None = None) -> FootTiming:
    """Validate one foot's packet headers, fit its clock, find loss and gaps.

    Parameters
    ----------
    headers : SideHeaders
        First bytes, lengths and arrival times of the foot's packets.
    side : str
        For messages and the quality report.
    sampling_rate_hz : float, optional
        Nominal rate; by default the most common rate in the packets.
    """
    h = decode_headers(headers.header_bytes, headers.lengths)
    # arrival is in ns since the recording started: an earlier one is damage
    early = h.valid & (headers.host_time_ns < 0)
    valid = h.valid & ~early
    quality: dict[str, Any] = {"packets": int(h.reasons.size), "invalid_packets": h.reason_counts()}
    if early.any():
        quality["invalid_packets"][EARLY_REASON] = int(early.sum())
    if headers.untyped_rows:
        quality["packets"] += headers.untyped_rows
        quality["invalid_packets"][UNTYPED_REASON] = headers.untyped_rows
    if sampling_rate_hz is None and valid.any():
        sampling_rate_hz = packet_rate_hz([h])
    keep = valid & (h.sampling_rate_hz == sampling_rate_hz)
    if (valid & ~keep).any():
        n_other = int((valid & ~keep).sum())
        log.warning("%s: %d packets at another sampling rate than %g Hz are ignored", side, n_other, sampling_rate_hz)
        quality["invalid_packets"]["other sampling rate"] = n_other
    if not keep.any():
        quality.update(sampling_rate_hz=sampling_rate_hz, samples_received=0, samples_expected=0, samples_lost=0,
                       loss_pct=None, duplicates=0, device_restarts=0, gaps=[], clock=[])
        empty = PacketTimes(*(np.zeros(0),) * 2, *(np.zeros(0, np.int64),) * 3)
        return FootTiming(empty, keep, 0, False, quality)

    first, epoch = unwrap_indices(h.first_index[keep], device_time_us=h.device_time_us[keep],
                                  sampling_rate_hz=sampling_rate_hz)
    count = h.count[keep].astype(np.int64)
    arrival = headers.host_time_ns[keep]
    fits: list[ClockFit] = []
    for e in range(int(epoch.max()) + 1):
        sel = epoch == e
        fits.append(fit_clock(first[sel] + count[sel] - 1, arrival[sel], sampling_rate_hz=sampling_rate_hz))
    offsets = np.array([f.offset_ns for f in fits])
    periods = np.array([f.period_ns for f in fits])
    row_start = np.cumsum(count) - count  # arrival order
    key = first + epoch * _EPOCH_STRIDE
    t_first_ns = offsets[epoch] + periods[epoch] * first

    order = np.lexsort((key, t_first_ns))
    key_s, count_s = key[order], count[order]
    covered = np.maximum.accumulate(key_s + count_s)
    dup = np.zeros(order.size, dtype=bool)
    dup[1:] = key_s[1:] < covered[:-1]  # repeats samples already held
    order = order[~dup]
    times = PacketTimes(
        t_first_s=t_first_ns[order] / 1e9,
        period_s=periods[epoch[order]] / 1e9,
        key=key[order],
        count=count[order],
        row_start=row_start[order],
    )

    quality.update(sampling_rate_hz=float(sampling_rate_hz), **continuity(times, side=side),
                   duplicates=int(dup.sum()), device_restarts=len(fits) - 1,
                   clock=[{"rate_ppm": f.rate_ppm, "latency_ms": f.latency_ms, "packets": f.n_packets,
                           "fallback": f.fallback} for f in fits])
    return FootTiming(times=times, keep_packet=keep, n_rows=int(count.sum()), has_imu=bool(h.has_imu[keep].any()),
                      quality=quality)


def continuity(times: PacketTimes, *, side: str) -> dict[str, Any]:
    """Samples received, expected and lost, and the gaps, from the index
    continuity of one foot's sorted blocks of samples (packets or log pages).

    Parameters
    ----------
    times : PacketTimes
        The foot's blocks, sorted, without duplicates.
    side : str
        For the gap entries.

    Returns
    -------
    dict
        ``samples_received``, ``samples_expected``, ``samples_lost``,
        ``loss_pct`` (None when nothing was expected) and ``gaps`` (each with
        ``start_s``/``end_s`` on the recording's clock, ``missing_samples``,
        None across a device restart, and ``duration_s``).
    """
    step = np.diff(times.key)
    same_epoch = step < _EPOCH_STRIDE // 2
    missing = np.where(same_epoch, step - times.count[:-1], 0)
    gap_at = np.flatnonzero((missing > 0) | ~same_epoch)
    t_last = times.t_last_s
    gaps = [
        {"side": side, "start_s": float(t_last[i]), "end_s": float(times.t_first_s[i + 1]),
         "missing_samples": int(missing[i]) if same_epoch[i] else None,
         "duration_s": float(times.t_first_s[i + 1] - t_last[i])}
        for i in gap_at
    ]
    received = int(times.count.sum())
    expected = received + int(missing.sum())
    return {"samples_received": received, "samples_expected": expected, "samples_lost": expected - received,
            "loss_pct": 100.0 * (expected - received) / expected if expected else None, "gaps": gaps}


def packet_rate_hz(headers: list[PacketHeaders]) -> float | None:
    """The sampling rate most of the valid packets give (of all the feet
    together), Hz; None when no packet is valid. Ties go to the higher rate."""
    rates = np.concatenate([h.sampling_rate_hz[h.valid] for h in headers]) if headers else np.zeros(0)
    if rates.size == 0:
        return None
    values, counts = np.unique(rates, return_counts=True)
    return float(values[::-1][np.argmax(counts[::-1])])


def _codes(source: PacketSource, side: str, timing: FootTiming) -> tuple[np.ndarray, np.ndarray | None]:
    """Unpack one foot's kept samples, streaming its payloads in chunks."""
    codes = np.empty((timing.n_rows, N_SENSORS), dtype=np.uint16)
    imu = np.zeros((timing.n_rows, 6), dtype=np.int16) if timing.has_imu else None
    row = pos = 0
    for chunk in source.iter_payloads(side):
        batch = decode_packets(chunk)
        keep = timing.keep_packet[pos:pos + len(chunk)]
        pos += len(chunk)
        sel = keep[batch.sample_packet]
        m = int(sel.sum())
        codes[row:row + m] = batch.raw[sel] if m != sel.size else batch.raw
        if imu is not None and batch.imu is not None:
            imu[row:row + m] = batch.imu[sel]
        row += m
    if row != timing.n_rows:
        raise RecordingError(f"{side}: the recording changed while it was read ({row} of {timing.n_rows} samples)")
    return codes, imu


def decode_recording(source: PacketSource, *, path: str = "") -> Recording:
    """Decode a packet source into the samples frame and its metadata.

    Raises
    ------
    RecordingError
        When neither foot has a single decodable sample.
    """
    meta = recording_meta(source)
    if getattr(source, "log_sides", None) and source.log_sides():
        from .logged import logged_feet  # a synced on-insole log: pages instead of packets

        feet = logged_feet(source, path=path)
        rate, timings = feet.sampling_rate_hz, feet.timings

        def codes_of(side: str, _timing: FootTiming) -> tuple[np.ndarray, np.ndarray | None]:
            return feet.codes.pop(side), None
    else:
        rate, timings = _packet_timings(source, meta, path)

        def codes_of(side: str, timing: FootTiming) -> tuple[np.ndarray, np.ndarray | None]:
            return _codes(source, side, timing)
    timings = {s: t for s, t in timings.items() if not t.empty}
    if not timings:
        where = f"{path}: " if path else ""
        if source.damaged:
            raise RecordingError(f"{where}the file is damaged (truncated?) and none of its samples could be recovered")
        raise RecordingError(f"{where}the recording holds no decodable samples (was it stopped before streaming?)")
    meta = replace(meta, sampling_rate_hz=rate)

    t_min = min(t.times.t_first_s[0] for t in timings.values())
    t_max = max(t.times.t_last_s.max() for t in timings.values())
    j0, j1 = int(np.ceil(t_min * rate - 1e-6)), int(np.floor(t_max * rate + 1e-6))
    _check_grid(j1 - j0 + 1, timings, rate, path)
    grid = np.arange(j0, j1 + 1, dtype=np.float64) / rate
    body_weight_n = meta.body_weight_n
    min_force_n = COP_MIN_FORCE_BW * body_weight_n if body_weight_n else DEFAULT_COP_MIN_FORCE_N

    has_imu = any(t.has_imu for t in timings.values())
    channels = list(SENSOR_CHANNELS) + [FORCE, COP_X, COP_Y] + (list(IMU_CHANNELS) if has_imu else [])
    n_ch = len(channels)
    block = np.empty((grid.size, n_ch * len(timings)), dtype=np.float32)
    for i, (side, timing) in enumerate(timings.items()):
        layout = layout_for(meta, side)
        if layout.x_mm.size != N_SENSORS:  # a stored layout of another insole: the packets carry 16 sensors
            log.warning("%s: the stored sensor layout has %d sensors, the packets %d; using the reference layout",
                        side, layout.x_mm.size, N_SENSORS)
            layout = reference_layout(side)
        codes, imu = codes_of(side, timing)
        c0 = i * n_ch
        for lo in range(0, grid.size, _GRID_CHUNK):
            hi = min(lo + _GRID_CHUNK, grid.size)
            ra, rb, w, ok = grid_rows(timing.times, grid[lo:hi])
            p = interpolate_rows(codes, ra, rb, w, ok, scale=layout.pressure_lsb_kpa)
            block[lo:hi, c0:c0 + N_SENSORS] = p
            force, cx, cy = force_and_cop(p, x_mm=layout.x_mm, y_mm=layout.y_mm, area_mm2=layout.area_mm2,
                                          min_force_n=min_force_n)
            block[lo:hi, c0 + 16] = force
            block[lo:hi, c0 + 17] = cx
            block[lo:hi, c0 + 18] = cy
            if has_imu:
                if imu is None:
                    block[lo:hi, c0 + 19:c0 + 25] = np.nan
                else:
                    v = interpolate_rows(imu, ra, rb, w, ok)
                    v[:, :3] *= np.float32(ACC_LSB_G)
                    v[:, 3:] *= np.float32(GYRO_LSB_DPS)
                    block[lo:hi, c0 + 19:c0 + 25] = v
        del codes, imu
    columns = pd.MultiIndex.from_product([list(timings), channels], names=["side", "channel"])
    samples = pd.DataFrame(block, index=pd.Index(grid, name=TIME_INDEX), columns=columns, copy=False)

    quality: dict[str, Any] = {"sides": {s: t.quality for s, t in timings.items()}, "cop_min_force_n": min_force_n}
    quality.update(_summary_quality(timings, source))
    end_s = float(grid[-1] + 1.0 / rate) if grid.size else 0.0
    meta = replace(meta, phases=tuple(replace(p, end_s=min(p.end_s, end_s)) for p in meta.phases))
    return Recording(samples=samples, meta=meta, quality=quality, path=path)


def _packet_timings(source: PacketSource, meta: RecordingMeta, path: str) -> tuple[float | None, dict[str, FootTiming]]:
    """The sampling rate the packets give and each foot's packet timing."""
    headers = {side: source.headers(side) for side in source.sides()}
    # the packets say at which rate they were sampled: the metadata's rate is only a label
    rate = packet_rate_hz([decode_headers(h.header_bytes, h.lengths) for h in headers.values()])
    if rate is not None and meta.sampling_rate_hz and rate != meta.sampling_rate_hz:
        log.warning("%s: the metadata gives %g Hz but the packets are sampled at %g Hz; decoded at %g Hz",
                    path or "recording", meta.sampling_rate_hz, rate, rate)
    return rate, {side: foot_timing(h, side=side, sampling_rate_hz=rate) for side, h in headers.items()}


def _check_grid(n_grid: int, timings: dict[str, FootTiming], rate: float, path: str) -> None:
    """Refuse a time grid far longer than the samples it holds: the samples
    were placed by arrival times that damage has moved (a foot's packets
    stamped years apart), and the grid would exhaust memory."""
    from ..importers.common import GRID_FACTOR, GRID_SLACK

    n_samples = sum(t.n_rows for t in timings.values())
    if n_grid <= GRID_FACTOR * n_samples + GRID_SLACK:
        return
    where = f"{path}: " if path else ""
    spans = "; ".join(f"{s} {t.times.t_first_s[0]:.6g} to {t.times.t_last_s.max():.6g} s" for s, t in timings.items())
    raise RecordingError(f"{where}the arrival times are damaged: {n_samples} samples at {rate:g} Hz would spread "
                         f"over {n_grid / rate:.3g} s ({spans})")


def _summary_quality(timings: dict[str, FootTiming], source: PacketSource) -> dict[str, Any]:
    q: dict[str, Any] = {
        "packet_loss_pct": {s: t.quality["loss_pct"] for s, t in timings.items()},
        "gaps": [g for t in timings.values() for g in t.quality["gaps"]],
        "damaged_file": bool(source.damaged),
        "missing_wal": bool(getattr(source, "missing_wal", False)),
    }
    if len(timings) == 2:
        ppm = [timings[s].quality["clock"][0]["rate_ppm"] for s in SIDES]
        q["clock_drift_between_feet_ppm"] = ppm[1] - ppm[0]
    battery: dict[str, list] = {}

    def add(side: str, value: Any) -> None:
        if side in SIDES and isinstance(value, (int, float)) and 0 <= value <= 100:
            battery.setdefault(side, []).append(value)

    for side, info in source.devices.items():
        add(side, info.get("battery_pct"))
    for m in source.markers:
        if m["kind"] == "battery" and isinstance(m["data"], dict):
            add(m["name"], m["data"].get("battery_pct"))
    q["battery_pct"] = {s: {"first": v[0], "last": v[-1], "min": min(v)} for s, v in battery.items() if v}
    return q


def _positive(x: Any) -> float | None:
    """A positive finite number from metadata, or None."""
    try:
        v = float(x)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a JSON integer beyond a float
        return None
    return v if np.isfinite(v) and v > 0 else None


def recording_meta(source: PacketSource) -> RecordingMeta:
    """The recording's metadata from a packet source's stored meta, devices and markers
    (unusable values dropped, as for every recording)."""
    m = dict(source.meta)
    devices = {}
    for side, info in source.devices.items():
        try:
            devices[side] = DeviceInfo.from_dict({**info, "side": side})
        except TypeError:
            log.warning("%s: device information unreadable; ignored", side)
    known = {"format", "source", "protocol", "sampling_rate_hz", "subject", "body_mass_kg", "started_utc",
             "app_version", "truth"}
    return RecordingMeta(
        source=str(m.get("source", "unknown")),
        protocol=str(m.get("protocol", "unknown")),
        sampling_rate_hz=rate if (rate := _positive(m.get("sampling_rate_hz"))) in (50.0, 100.0, 200.0) else 0.0,
        subject=str(m.get("subject") or ""),
        body_mass_kg=_positive(m.get("body_mass_kg")),
        started_utc=str(m.get("started_utc", "")),
        app_version=str(m.get("app_version", "")),
        devices=devices,
        phases=_phases(source.markers),
        truth=m.get("truth") if isinstance(m.get("truth"), dict) else None,
        extra=_extra({k: v for k, v in m.items() if k not in known}),
    )


#: extra metadata keys the analysis reads: stored value -> usable value, or None
_EXTRA_CHECKS = {"distance_m": _positive, "foot_length_mm": _positive,
                 "event_convention": lambda v: v if isinstance(v, str) else None}


def _extra(items: dict[str, Any]) -> dict[str, Any]:
    """The other metadata keys; those the analysis reads are dropped when
    their stored value is unusable (a damaged or hand-edited file). An insole
    recording's COP is always in the foot frame."""
    out = {}
    for k, stored in items.items():
        check = _EXTRA_CHECKS.get(k)
        value = stored if check is None else check(stored)
        if value is None and check is not None:
            log.warning("metadata %s=%r is unusable; ignored", k, stored)
            continue
        out[k] = value
    return {**out, "cop_frame": "foot"}


def _phases(markers: list[dict[str, Any]]) -> tuple[Phase, ...]:
    """Pair ``phase_start``/``phase_end`` markers into phases (an unclosed
    phase ends at the next phase start, or at the end of the recording)."""
    out: list[Phase] = []
    open_: dict[str, float] = {}
    for m in sorted((m for m in markers if m["kind"] in ("phase_start", "phase_end")),
                    key=lambda m: m["host_time_ns"]):
        t = m["host_time_ns"] / 1e9
        if m["kind"] == "phase_start":
            for name, start in list(open_.items()):
                out.append(Phase(name, start, t))
                del open_[name]
            open_[m["name"]] = t
        elif m["name"] in open_:
            out.append(Phase(m["name"], open_.pop(m["name"]), t))
    out.extend(Phase(name, start, float("inf")) for name, start in open_.items())
    return tuple(sorted(out, key=lambda p: p.start_s))
