"""The insole hardware, simulated: what a real insole does to the truth.

A :class:`~insole.sim.base.Scenario` gives the true pressure under each
sensor. An :class:`InsoleModel` samples it with its own crystal (clock error
in ppm), adds its sensor errors (gain, offset, slow baseline creep, noise),
quantises to 12-bit codes, batches samples into protocol-v1 packets, and
delivers them over a lossy, late link (latency, delayed bursts, dropped
packets, link drops). The result is exactly what the host sees: packets and
their arrival times. Everything is seeded and deterministic.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..constants import SIDE_CODE
from ..protocol.layout import SensorLayout, reference_layout
from ..protocol.packet import MAX_RAW, encode_packets, max_samples_per_packet
from .base import Scenario

log = logging.getLogger(__name__)

__all__ = ["InsoleModel", "PacketStream", "sample_packets"]

_NOISE_BLOCK = 4096


@dataclass(frozen=True)
class InsoleModel:
    """Hardware and link parameters of one simulated insole.

    Attributes
    ----------
    side : str
    sampling_rate_hz : int
        50, 100 or 200.
    att_mtu : int
        Negotiated ATT MTU, bytes (sets the batch size with the 40 ms rule).
    clock_ppm : float
        Crystal error; positive = the device clock runs fast, so its samples
        come more often than nominal on the host clock.
    gain : float
        Sensor gain (1.0 = calibrated; 1.1 = reads 10 % high).
    offset_kpa : float
        Residual baseline offset left after zeroing, kPa per sensor.
    creep_kpa_per_h : float
        Baseline creep, kPa per sensor per hour (slow sensor drift).
    noise_kpa : float
        Standard deviation of white noise per sensor, kPa.
    drop_pct : float
        Share of packets lost on the link at random, %.
    link_drops : tuple of (start_s, duration_s)
        Stretches with no link (out of range): every packet is lost.
    latency_min_ms, latency_mean_extra_ms : float
        Link latency: a minimum plus an exponential extra (connection events).
    burst_prob, burst_delay_ms : float
        Chance per packet that delivery stalls, and the stall length; the
        packets behind it queue (BLE delivers in order).
    start_s : float
        True time the insole's first sample is taken (one insole often starts
        a little after the other).
    first_index : int
        Sample index of the first sample (the device counts since power-on).
    battery_start_pct, battery_drain_pct_per_h : float
        Battery level at the start and its drain.
    seed : int
    """

    side: str
    sampling_rate_hz: int = 200
    att_mtu: int = 247
    clock_ppm: float = 0.0
    gain: float = 1.0
    offset_kpa: float = 0.0
    creep_kpa_per_h: float = 0.0
    noise_kpa: float = 0.3
    drop_pct: float = 0.0
    link_drops: tuple[tuple[float, float], ...] = ()
    latency_min_ms: float = 7.5
    latency_mean_extra_ms: float = 5.0
    burst_prob: float = 0.0
    burst_delay_ms: float = 150.0
    start_s: float = 0.0
    first_index: int = 0
    battery_start_pct: float = 95.0
    battery_drain_pct_per_h: float = 8.0
    seed: int = 0
    layout: SensorLayout = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.side not in SIDE_CODE:
            raise ValueError(f"side must be 'left' or 'right', got {self.side!r}")
        if self.layout is None:
            object.__setattr__(self, "layout", reference_layout(self.side))

    @property
    def samples_per_packet(self) -> int:
        return max_samples_per_packet(att_mtu=self.att_mtu, sampling_rate_hz=self.sampling_rate_hz)

    @property
    def true_period_s(self) -> float:
        """Seconds between samples on the true (host) clock."""
        return 1.0 / (self.sampling_rate_hz * (1.0 + self.clock_ppm * 1e-6))

    def battery_pct(self, t_s: float) -> int:
        """Battery level at true time ``t_s``, %."""
        return int(max(0.0, round(self.battery_start_pct - self.battery_drain_pct_per_h * t_s / 3600.0)))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("layout")
        d["link_drops"] = [list(x) for x in self.link_drops]
        return d

    # -- sampling ------------------------------------------------------------
    def sample_times_s(self, k: np.ndarray) -> np.ndarray:
        """True time of sample number ``k`` (0 = first sample taken)."""
        return self.start_s + np.asarray(k, dtype=np.float64) * self.true_period_s

    def codes(self, scenario: Scenario, k: np.ndarray) -> np.ndarray:
        """12-bit pressure codes of samples ``k`` (deterministic per k).

        Returns
        -------
        numpy.ndarray
            ``(len(k), 16)`` uint16.
        """
        return self.codes_at(scenario, self.sample_times_s(k), k)

    def codes_at(self, scenario: Scenario, t_s: np.ndarray, k: np.ndarray) -> np.ndarray:
        """12-bit pressure codes of samples taken at true times ``t_s``
        (scenario time, s), ``k`` numbering them for the noise (the same k
        gives the same noise however the samples are chunked).

        For a clock that is not this model's ``clock_ppm`` grid, e.g. a
        :class:`~insole.sim.clock.DeviceClock`; ``codes(scenario, k)`` is
        ``codes_at(scenario, sample_times_s(k), k)``.

        Returns
        -------
        numpy.ndarray
            ``(len(k), 16)`` uint16.
        """
        t = np.asarray(t_s, dtype=np.float64)
        p = scenario.pressures_kpa(self.side, t) * self.gain
        p += self.offset_kpa + self.creep_kpa_per_h * (t / 3600.0)[:, None]
        if self.noise_kpa > 0:
            p += self.noise_kpa * self._noise(k)
        code = np.rint(p / self.layout.pressure_lsb_kpa)
        np.clip(code, 0, MAX_RAW, out=code)
        return code.astype(np.uint16)

    def _noise(self, k: np.ndarray) -> np.ndarray:
        """Standard normal noise for samples k, the same however k is chunked."""
        k = np.asarray(k, dtype=np.int64)
        blocks = np.unique(k // _NOISE_BLOCK)
        out = np.empty((k.size, 16))
        for b in blocks:
            sel = (k // _NOISE_BLOCK) == b
            rng = np.random.default_rng((self.seed, SIDE_CODE[self.side], int(b)))
            out[sel] = rng.standard_normal((_NOISE_BLOCK, 16))[k[sel] - b * _NOISE_BLOCK]
        return out


@dataclass(frozen=True)
class PacketStream:
    """Packets of one insole with their host arrival times.

    Attributes
    ----------
    arrival_ns : numpy.ndarray
        int64 arrival time of each delivered packet, ns since the start,
        non-decreasing.
    payloads : list of bytes
    sent : int
        Packets the insole sent (delivered + lost).
    lost : int
        Packets lost on the link.
    lost_packets : numpy.ndarray
        Positions (0-based, in send order) of the lost packets.
    samples_per_packet : int
    """

    arrival_ns: np.ndarray
    payloads: list[bytes]
    sent: int
    lost: int
    lost_packets: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    samples_per_packet: int = 0


def sample_packets(model: InsoleModel, scenario: Scenario, *, duration_s: float) -> PacketStream:
    """Everything one insole sends during ``duration_s`` seconds, vectorised.

    Parameters
    ----------
    model : InsoleModel
    scenario : Scenario
    duration_s : float
        True seconds from the start (samples taken before ``duration_s``).
    """
    n = int(np.floor((duration_s - model.start_s) / model.true_period_s))
    if n <= 0:
        return PacketStream(np.zeros(0, np.int64), [], 0, 0)
    k = np.arange(n)
    codes = model.codes(scenario, k)
    m = model.samples_per_packet
    device_time_us = np.rint(k * (1e6 / model.sampling_rate_hz)).astype(np.uint64)
    payloads = encode_packets(codes, first_index=model.first_index, device_time_us=device_time_us,
                              sampling_rate_hz=model.sampling_rate_hz, samples_per_packet=m, zeroed=True)
    n_pk = len(payloads)
    last_k = np.minimum(np.arange(n_pk) * m + m - 1, n - 1)
    ready_s = model.sample_times_s(last_k)
    rng = np.random.default_rng((model.seed, SIDE_CODE[model.side], 1 << 20))
    delay_s = (model.latency_min_ms + rng.exponential(model.latency_mean_extra_ms, n_pk)) / 1e3
    stall = rng.random(n_pk) < model.burst_prob
    delay_s[stall] += model.burst_delay_ms / 1e3
    arrival_s = np.maximum.accumulate(ready_s + delay_s)  # in order, queued behind stalls
    lost = rng.random(n_pk) < model.drop_pct / 100.0
    for start, length in model.link_drops:
        lost |= (ready_s >= start) & (ready_s < start + length)
    keep = np.flatnonzero(~lost)
    return PacketStream(
        arrival_ns=np.rint(arrival_s[keep] * 1e9).astype(np.int64),
        payloads=[payloads[i] for i in keep],
        sent=n_pk,
        lost=int(lost.sum()),
        lost_packets=np.flatnonzero(lost),
        samples_per_packet=m,
    )
