"""The live numbers of a session: what the terminal view shows while the
insoles stream (``insole record``) or a file plays (``insole replay``).

Per packet, from its raw bytes: the packet count and the loss (from the
sample indices), the force on each foot (from the codes and the sensor
layout the insole reported, before zeroing and calibration), and for
running the contacts of each foot, from which the cadence and the
contact-time balance follow. Packets are counted (and their loss found) as
they arrive; their samples are decoded together, in one vectorised pass over
all packets since the last time the numbers were read (a frame of the view,
25 a second) or every :data:`DECODE_BATCH` packets. The load bar averages the force over about a
second while standing (a foot lift shows at once) and over about four seconds
once the feet are stepping (several strides, so that it shows the share of
load rather than which foot is down). Each packet is handled with numpy over its
samples; only the few contact events in it are handled one by one.

These are a live guide, not the analysis: the recording is analysed
afterwards with calibrated forces and bootstrap confidence intervals
(:mod:`insole.analysis`).
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..constants import SIDES
from ..protocol.packet import HEADER_SIZE, decode_packets
from .link import Packet

__all__ = ["LiveStats", "FootContacts", "update_stats"]

#: contact thresholds, fraction of the foot's running peak load: a contact
#: starts above ON and ends below OFF (hysteresis against noise)
CONTACT_ON, CONTACT_OFF = 0.10, 0.05
#: the running peak decays by this factor per sample (half-life about 7 s at 200 Hz)
PEAK_DECAY_PER_SAMPLE = 0.9995
#: plausible contact and stride durations for the live numbers, s
CONTACT_RANGE_S, STRIDE_RANGE_S = (0.08, 2.0), (0.4, 3.0)
#: contacts and strides used for the live numbers (the most recent ones)
RECENT = 12
#: live numbers use contacts that began within this many seconds of the newest sample
RECENT_S = 12.0
#: time constants of the load bar's averages, s: standing, stepping
BAR_TAU_S, BAR_TAU_STEPPING_S = 1.0, 4.0
#: packets decoded together at the latest (they are decoded when the numbers are read)
DECODE_BATCH = 64


@dataclass
class FootContacts:
    """One foot's contacts, on the foot's own sample clock (sample index /
    sampling rate, s)."""

    peak: float = 0.0
    in_contact: bool = False
    contact_start_s: float | None = None
    latest_s: float = 0.0
    starts_s: deque = field(default_factory=lambda: deque(maxlen=RECENT + 1))
    contacts_s: deque = field(default_factory=lambda: deque(maxlen=RECENT))
    events: int = 0
    _cache: dict = field(default_factory=dict, repr=False)

    def update(self, load: np.ndarray, t_s: np.ndarray) -> None:
        """Feed consecutive samples: ``load`` (any unit, >= 0) at times ``t_s`` (s)."""
        if load.size == 0:
            return
        n = load.size
        # running peak, sample by sample (so the result does not depend on how
        # the samples are batched): peak_k = max(peak_(k-1) * d, load_k), i.e.
        # d^k * max(peak_(-1) * d, max_(j<=k) load_j d^-j)
        grow = np.power(PEAK_DECAY_PER_SAMPLE, -np.arange(n, dtype=np.float64))
        peak = np.maximum(np.maximum.accumulate(load * grow), self.peak * PEAK_DECAY_PER_SAMPLE) / grow
        self.peak = float(peak[-1])
        # hysteresis, vectorised: 1 above ON, 0 below OFF, otherwise the state before
        code = np.where(load > CONTACT_ON * peak, 1, np.where(load < CONTACT_OFF * peak, 0, -1))
        last = np.maximum.accumulate(np.where(code >= 0, np.arange(n), -1))
        state = np.where(last >= 0, code[np.maximum(last, 0)], int(self.in_contact)).astype(bool)
        before = np.concatenate(([self.in_contact], state[:-1]))
        self.latest_s = float(t_s[-1])
        self.in_contact = bool(state[-1])
        for i in np.flatnonzero(state != before):  # contact events: a few per stride, not per sample
            self.events += 1
            t = float(t_s[i])
            if state[i]:
                self.contact_start_s = t
                self.starts_s.append(t)
            elif self.contact_start_s is not None:
                duration = t - self.contact_start_s
                if CONTACT_RANGE_S[0] <= duration <= CONTACT_RANGE_S[1]:
                    self.contacts_s.append((self.contact_start_s, duration))
                self.contact_start_s = None

    def _recent(self) -> tuple[float | None, float | None]:
        """(median contact time, median stride time), s, of the contacts that
        began within RECENT_S of the newest sample's whole second; recomputed
        only after a contact event or when that window moves on a second."""
        key = (self.events, int(self.latest_s))
        if self._cache.get("key") != key:
            since = key[1] - RECENT_S
            recent = [d for start, d in self.contacts_s if start >= since]
            starts = [s for s in self.starts_s if s >= since]
            strides = [b - a for a, b in zip(starts, starts[1:]) if STRIDE_RANGE_S[0] <= b - a <= STRIDE_RANGE_S[1]]
            self._cache = {"key": key, "value": (statistics.median(recent) if len(recent) >= 3 else None,
                                                 statistics.median(strides) if len(strides) >= 2 else None)}
        return self._cache["value"]

    def contact_time_s(self) -> float | None:
        """Median of the recent contact durations, s (None before 3)."""
        return self._recent()[0]

    def stride_s(self) -> float | None:
        """Median of the recent stride times (contact start to the next), s (None before 2)."""
        return self._recent()[1]


@dataclass
class LiveStats:
    """What the live view shows, updated by the consumer."""

    packets: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SIDES})
    lost: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SIDES})
    next_index: dict[str, int | None] = field(default_factory=lambda: {s: None for s in SIDES})
    load: dict[str, float] = field(default_factory=lambda: {s: 0.0 for s in SIDES})
    load_stepping: dict[str, float] = field(default_factory=lambda: {s: 0.0 for s in SIDES})
    force_per_code_n: dict[str, np.ndarray | None] = field(default_factory=lambda: {s: None for s in SIDES})
    battery_pct: dict[str, int | None] = field(default_factory=lambda: {s: None for s in SIDES})
    contacts: dict[str, FootContacts] = field(default_factory=lambda: {s: FootContacts() for s in SIDES})
    phase: str = ""
    instruction: str = ""
    elapsed_s: float = 0.0
    remaining_s: float | None = None
    pending: list = field(default_factory=list, repr=False)  # (side, unwrapped first index, payload)

    def flush(self) -> None:
        """Decode the packets counted since the last flush (one vectorised
        pass) into the load averages and the contacts."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        batch = decode_packets([payload for _, _, payload in pending])
        if batch.raw.shape[0] == 0:
            return
        pkt = batch.sample_packet
        rate = batch.sampling_rate_hz[pkt].astype(np.float64)
        index = np.array([i for _, i, _ in pending], dtype=np.int64)
        t_all = (index[pkt] + (batch.sample_index - batch.first_index[pkt].astype(np.int64))) / rate
        codes = batch.raw.astype(np.float64)
        sides = np.array([SIDES.index(side) for side, _, _ in pending])
        for k, side in enumerate(SIDES):
            mine = sides[pkt] == k
            if not mine.any():
                continue
            weights = self.force_per_code_n[side]
            load = codes[mine] @ weights if weights is not None and weights.size == codes.shape[1] \
                else codes[mine].sum(axis=1)
            # the bar's exponential averages, packet by packet (a few per flush), weighted by duration
            owner = pkt[mine]
            starts = np.flatnonzero(np.concatenate(([True], owner[1:] != owner[:-1])))
            counts = np.diff(np.append(starts, load.size))
            means = np.add.reduceat(load, starts) / counts
            durations_s = counts / rate[mine][starts]
            for avg, tau_s in ((self.load, BAR_TAU_S), (self.load_stepping, BAR_TAU_STEPPING_S)):
                keep = np.exp(-durations_s / tau_s)
                value = avg[side]
                for m, a in zip(means.tolist(), keep.tolist()):
                    value = a * value + (1.0 - a) * m
                avg[side] = value
            self.contacts[side].update(load, t_all[mine])

    def loss_pct(self, side: str) -> float:
        """Packets lost on this foot so far, % of those sent."""
        total = self.packets[side] + self.lost[side]
        return 100.0 * self.lost[side] / total if total else 0.0

    def use_layout(self, side: str, layout: dict | None) -> None:
        """Weigh the foot's codes by its sensor layout (a
        :meth:`~insole.protocol.layout.SensorLayout.to_dict`); without one the
        codes are summed as they are."""
        from ..protocol.layout import SensorLayout

        try:
            self.force_per_code_n[side] = SensorLayout.from_dict(layout).force_per_code_n() if layout else None
        except (KeyError, TypeError, ValueError):  # a damaged layout: the codes as they are
            self.force_per_code_n[side] = None

    def left_share_pct(self) -> float | None:
        """The left foot's share of the load (force before zeroing and
        calibration), %, averaged over about a second, or about four once the
        feet are stepping."""
        return self.snapshot()["left_share_pct"]

    def contact_time_ms(self, side: str) -> float | None:
        """Median of the foot's recent contact times, ms."""
        return self.snapshot()["contact_time_ms"][side]

    def cadence_spm(self) -> float | None:
        """Steps per minute (two per stride), from the recent strides of both feet."""
        return self.snapshot()["cadence_spm"]

    def snapshot(self) -> dict:
        """Every live number at once (one decode pass, each computed once):
        ``left_share_pct``, ``cadence_spm``, ``contact_time_ms`` (per side),
        ``contact_time_si_pct``, ``loss_pct`` (per side); None where not known yet."""
        self.flush()
        contact_s = {side: self.contacts[side].contact_time_s() for side in SIDES}
        strides = [s for s in (self.contacts[side].stride_s() for side in SIDES) if s is not None]
        cadence = 120.0 / statistics.fmean(strides) if strides else None
        loads = self.load_stepping if cadence is not None else self.load
        total = loads["left"] + loads["right"]
        ct = {side: None if v is None else 1000.0 * v for side, v in contact_s.items()}
        si = None if None in ct.values() else 100.0 * (ct["right"] - ct["left"]) / (0.5 * (ct["right"] + ct["left"]))
        return {"left_share_pct": 100.0 * loads["left"] / total if total > 0 else None, "cadence_spm": cadence,
                "contact_time_ms": ct, "contact_time_si_pct": si,
                "loss_pct": {side: self.loss_pct(side) for side in SIDES}}

    def contact_time_si_pct(self) -> float | None:
        """Contact-time symmetry index ``100 (R - L) / (0.5 (R + L))``, %,
        positive = the RIGHT contacts longer."""
        return self.snapshot()["contact_time_si_pct"]


def update_stats(stats: LiveStats, pkt: Packet) -> None:
    """Count a packet into the live numbers: its loss from the sample indices
    now, its samples (load, contacts) at the next :meth:`LiveStats.flush`."""
    side = pkt.side
    stats.packets[side] += 1
    if len(pkt.payload) < HEADER_SIZE:
        return
    first = int.from_bytes(pkt.payload[2:6], "little")
    count = pkt.payload[14]
    # the sample index, unwrapped past 2**32: the foot's own sample clock
    nxt = stats.next_index[side]
    if nxt is None:
        index = first
    else:
        gap = (first - nxt) % 2**32
        if gap < 2**31:
            if gap and count:
                stats.lost[side] += -(-gap // count)
            index = nxt + gap
        else:  # an earlier index: a repeat, or the insole restarted
            index = nxt - (2**32 - gap)
    stats.next_index[side] = index + count
    stats.pending.append((side, index, pkt.payload))
    if len(stats.pending) >= DECODE_BATCH:
        stats.flush()
