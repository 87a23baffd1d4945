"""Raw packets -> samples frame: decode, time, resample, force and COP.

This is the decode stage of the pipeline: it takes a
:class:`~insole.recording.store.RawRecording` and returns a
:class:`~insole.model.Recording` whose samples frame follows
ARCHITECTURE.md (index ``time_s``, columns ``(side, channel)``, gaps as NaN
rows, never interpolated across), with a data-quality report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..constants import (
    COP_X,
    COP_Y,
    FORCE,
    IMU_CHANNELS,
    SENSOR_CHANNELS,
    SIDES,
    STANDARD_GRAVITY_M_S2,
    TIME_INDEX,
)
from ..errors import RecordingError
from ..model import DeviceInfo, Phase, Recording, RecordingMeta
from ..protocol.layout import SensorLayout, reference_layout
from ..protocol.packet import ACC_LSB_G, GYRO_LSB_DPS, decode_packets
from ..recording.store import RawRecording
from .forces import force_and_cop
from .resample import grid_positions, interpolate_onto
from .timebase import ClockFit, fit_clock, unwrap_indices

log = logging.getLogger("insole")

__all__ = ["decode_recording", "FootSamples", "decode_foot"]

#: COP threshold when the body mass is unknown, N
DEFAULT_COP_MIN_FORCE_N = 20.0
#: COP threshold as a share of body weight when the body mass is known
COP_MIN_FORCE_BW = 0.05
_EPOCH_STRIDE = 2**40


@dataclass(frozen=True)
class FootSamples:
    """One foot's decoded samples on its own drift-corrected time axis.

    Attributes
    ----------
    t_s : numpy.ndarray
        Sample times, seconds since the recording started (host clock),
        strictly increasing.
    index : numpy.ndarray
        Unwrapped device sample index, offset by ``epoch * 2**40`` so that
        samples of different device epochs are never consecutive.
    raw : numpy.ndarray
        ``(n, 16)`` uint16 pressure codes.
    imu : numpy.ndarray or None
        ``(n, 6)`` int16 IMU codes, or None.
    quality : dict
        Packets, invalid packets by reason, duplicates, loss, gaps, clock.
    """

    t_s: np.ndarray
    index: np.ndarray
    raw: np.ndarray
    imu: np.ndarray | None
    quality: dict[str, Any]


def decode_foot(host_time_ns: np.ndarray, payloads: list[bytes], *, side: str,
                sampling_rate_hz: float | None = None) -> FootSamples:
    """Decode one foot's packets and give each sample its host time.

    Parameters
    ----------
    host_time_ns : numpy.ndarray
        Arrival time of each packet, ns since the recording started.
    payloads : list of bytes
        The packets, in arrival order.
    side : str
        For messages and the quality report.
    sampling_rate_hz : float, optional
        Nominal rate; by default the most common rate in the packets.
    """
    batch = decode_packets(payloads)
    valid = batch.valid
    quality: dict[str, Any] = {
        "packets": int(len(payloads)),
        "invalid_packets": batch.reason_counts(),
    }
    rates = batch.sampling_rate_hz[valid]
    if rates.size == 0:
        quality.update(samples_received=0, samples_expected=0, loss_pct=None, gaps=[], clock=[], duplicates=0)
        return FootSamples(np.zeros(0), np.zeros(0, np.int64), np.zeros((0, 16), np.uint16), None, quality)
    if sampling_rate_hz is None:
        values, counts = np.unique(rates, return_counts=True)
        sampling_rate_hz = float(values[np.argmax(counts)])
    other_rate = valid & (batch.sampling_rate_hz != sampling_rate_hz)
    if other_rate.any():
        log.warning("%s: %d packets at another sampling rate than %g Hz are ignored", side,
                    int(other_rate.sum()), sampling_rate_hz)
        quality["invalid_packets"]["other sampling rate"] = int(other_rate.sum())
        valid = valid & ~other_rate

    vpos = np.cumsum(valid) - 1  # position among valid packets
    first_unwrapped, epoch = unwrap_indices(batch.first_index[valid], device_time_us=batch.device_time_us[valid],
                                            sampling_rate_hz=sampling_rate_hz)
    count = batch.count[valid].astype(np.int64)
    arrival = np.asarray(host_time_ns, dtype=np.int64)[valid]

    # clock fit per device epoch
    fits: list[ClockFit] = []
    for e in range(int(epoch.max()) + 1):
        sel = epoch == e
        fits.append(fit_clock(first_unwrapped[sel] + count[sel] - 1, arrival[sel], sampling_rate_hz=sampling_rate_hz))

    # per sample (samples of dropped packets removed)
    keep = valid[batch.sample_packet]
    pkt = vpos[batch.sample_packet[keep]]
    offset_in_pkt = batch.sample_index[keep] - batch.first_index[batch.sample_packet[keep]]
    s_index = first_unwrapped[pkt] + offset_in_pkt
    s_epoch = epoch[pkt]
    offsets = np.array([f.offset_ns for f in fits])
    periods = np.array([f.period_ns for f in fits])
    t_ns = offsets[s_epoch] + periods[s_epoch] * s_index
    key = s_index + s_epoch * _EPOCH_STRIDE
    order = np.lexsort((key, t_ns))
    key_sorted = key[order]
    dup = np.zeros(order.size, dtype=bool)
    dup[1:] = key_sorted[1:] == key_sorted[:-1]
    order = order[~dup]
    t_s = t_ns[order] / 1e9
    key = key[order]
    raw = batch.raw[keep][order]
    imu = batch.imu[keep][order] if batch.imu is not None else None

    # loss and gaps
    step = np.diff(key)
    same_epoch = step < _EPOCH_STRIDE // 2
    missing = np.where(same_epoch, step - 1, 0)
    gap_at = np.flatnonzero((missing > 0) | ~same_epoch)
    gaps = [
        {"side": side, "start_s": float(t_s[i]), "end_s": float(t_s[i + 1]),
         "missing_samples": int(missing[i]) if same_epoch[i] else None,
         "duration_s": float(t_s[i + 1] - t_s[i])}
        for i in gap_at
    ]
    received = int(key.size)
    expected = received + int(missing.sum())
    quality.update(
        sampling_rate_hz=float(sampling_rate_hz),
        samples_received=received,
        samples_expected=expected,
        samples_lost=expected - received,
        loss_pct=100.0 * (expected - received) / expected if expected else None,
        duplicates=int(dup.sum()),
        device_restarts=len(fits) - 1,
        gaps=gaps,
        clock=[{"rate_ppm": f.rate_ppm, "latency_ms": f.latency_ms, "packets": f.n_packets,
                "fallback": f.fallback} for f in fits],
    )
    return FootSamples(t_s=t_s, index=key, raw=raw, imu=imu, quality=quality)


def decode_recording(raw: RawRecording, *, path: str = "") -> Recording:
    """Decode a raw recording into the samples frame and its metadata.

    Raises
    ------
    RecordingError
        When neither foot has a single decodable sample.
    """
    meta = _meta(raw)
    rate = meta.sampling_rate_hz or None
    feet: dict[str, FootSamples] = {}
    for side in SIDES:
        if side in raw.payloads:
            feet[side] = decode_foot(raw.host_time_ns[side], raw.payloads[side], side=side, sampling_rate_hz=rate)
    feet = {s: f for s, f in feet.items() if f.t_s.size}
    if not feet:
        where = f"{path}: " if path else ""
        raise RecordingError(f"{where}the recording holds no decodable samples (was it stopped before streaming?)")
    if not rate:
        rate = next(iter(feet.values())).quality["sampling_rate_hz"]
        meta = _replace(meta, sampling_rate_hz=rate)

    t_min = min(f.t_s[0] for f in feet.values())
    t_max = max(f.t_s[-1] for f in feet.values())
    j0, j1 = int(np.ceil(t_min * rate - 1e-6)), int(np.floor(t_max * rate + 1e-6))
    grid = np.arange(j0, j1 + 1, dtype=np.float64) / rate
    body_weight_n = meta.body_mass_kg * STANDARD_GRAVITY_M_S2 if meta.body_mass_kg else None
    min_force_n = COP_MIN_FORCE_BW * body_weight_n if body_weight_n else DEFAULT_COP_MIN_FORCE_N

    has_imu = any(f.imu is not None for f in feet.values())
    channels = list(SENSOR_CHANNELS) + [FORCE, COP_X, COP_Y] + (list(IMU_CHANNELS) if has_imu else [])
    n_ch = len(channels)
    block = np.empty((grid.size, n_ch * len(feet)), dtype=np.float32)
    quality: dict[str, Any] = {"sides": {}, "cop_min_force_n": min_force_n}
    for i, (side, foot) in enumerate(feet.items()):
        layout = _layout(meta, side)
        c0 = i * n_ch
        k, w, ok = grid_positions(foot.t_s, foot.index, grid)
        pressures = block[:, c0:c0 + 16]
        interpolate_onto(foot.raw, k, w, ok, out=pressures, scale=layout.pressure_lsb_kpa)
        force, cx, cy = force_and_cop(pressures, x_mm=layout.x_mm, y_mm=layout.y_mm, area_mm2=layout.area_mm2,
                                      min_force_n=min_force_n)
        block[:, c0 + 16] = force
        block[:, c0 + 17] = cx
        block[:, c0 + 18] = cy
        if has_imu:
            imu_out = block[:, c0 + 19:c0 + 25]
            if foot.imu is None:
                imu_out[:] = np.nan
            else:
                interpolate_onto(foot.imu, k, w, ok, out=imu_out)
                imu_out[:, :3] *= np.float32(ACC_LSB_G)
                imu_out[:, 3:] *= np.float32(GYRO_LSB_DPS)
        quality["sides"][side] = foot.quality
    columns = pd.MultiIndex.from_product([list(feet), channels], names=["side", "channel"])
    samples = pd.DataFrame(block, index=pd.Index(grid, name=TIME_INDEX), columns=columns, copy=False)

    quality.update(_summary_quality(feet, raw))
    end_s = float(grid[-1] + 1.0 / rate) if grid.size else 0.0
    meta = _replace(meta, phases=tuple(_replace(p, end_s=min(p.end_s, end_s)) for p in meta.phases))
    return Recording(samples=samples, meta=meta, quality=quality, path=path)


def _summary_quality(feet: dict[str, FootSamples], raw: RawRecording) -> dict[str, Any]:
    q: dict[str, Any] = {
        "packet_loss_pct": {s: f.quality["loss_pct"] for s, f in feet.items()},
        "gaps": [g for f in feet.values() for g in f.quality["gaps"]],
        "damaged_file": raw.damaged,
    }
    if len(feet) == 2:
        ppm = [feet[s].quality["clock"][0]["rate_ppm"] for s in SIDES]
        q["clock_drift_between_feet_ppm"] = ppm[1] - ppm[0]
    battery: dict[str, list] = {}
    for m in raw.markers:
        if m["kind"] == "battery" and m["data"]:
            battery.setdefault(m["name"], []).append(m["data"].get("battery_pct"))
    for side, info in raw.devices.items():
        if info.get("battery_pct") is not None:
            battery.setdefault(side, []).insert(0, info["battery_pct"])
    q["battery_pct"] = {s: {"first": v[0], "last": v[-1], "min": min(v)} for s, v in battery.items() if v}
    return q


def _layout(meta: RecordingMeta, side: str) -> SensorLayout:
    dev = meta.devices.get(side)
    if dev is not None and dev.layout:
        return SensorLayout.from_dict(dev.layout)
    log.info("%s: no sensor layout stored; using the reference layout", side)
    return reference_layout(side)


def _meta(raw: RawRecording) -> RecordingMeta:
    m = dict(raw.meta)
    devices = {side: DeviceInfo.from_dict({"side": side, **info}) for side, info in raw.devices.items()}
    phases = _phases(raw.markers)
    known = {"format", "source", "protocol", "sampling_rate_hz", "subject", "body_mass_kg", "started_utc",
             "app_version", "truth"}
    return RecordingMeta(
        source=str(m.get("source", "unknown")),
        protocol=str(m.get("protocol", "unknown")),
        sampling_rate_hz=float(m.get("sampling_rate_hz") or 0.0),
        subject=str(m.get("subject") or ""),
        body_mass_kg=float(m["body_mass_kg"]) if m.get("body_mass_kg") else None,
        started_utc=str(m.get("started_utc", "")),
        app_version=str(m.get("app_version", "")),
        devices=devices,
        phases=phases,
        truth=m.get("truth"),
        extra={k: v for k, v in m.items() if k not in known},
    )


def _phases(markers: list[dict[str, Any]]) -> tuple[Phase, ...]:
    """Pair ``phase_start``/``phase_end`` markers into phases (an unclosed
    phase ends at the next phase start or at infinity)."""
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


def _replace(meta: RecordingMeta, **kw: Any) -> RecordingMeta:
    from dataclasses import replace

    return replace(meta, **kw)
