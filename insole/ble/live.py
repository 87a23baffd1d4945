"""The live numbers of a session: what the terminal view shows while the
insoles stream (``insole record``) or a file plays (``insole replay``).

Per packet, from its raw bytes: the packet count and the loss (from the
sample indices), the force on each foot (from the codes and the sensor
layout the insole reported, before zeroing and calibration), and for
running the contacts of each foot, from which the cadence and the
contact-time balance follow. The load bar averages the force over about a
second while standing (a foot lift shows at once) and over about four seconds
once the feet are stepping (several strides, so that it shows the share of
load rather than which foot is down). Each packet is handled with numpy over its
samples; only the few contact events in it are handled one by one.

These are a live guide, not the analysis: the recording is analysed
afterwards with calibrated forces and bootstrap confidence intervals
(:mod:`insole.analysis`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..constants import SIDES
from ..errors import ProtocolError
from ..protocol.packet import HEADER_SIZE, decode_packet
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

    def update(self, load: np.ndarray, t_s: np.ndarray) -> None:
        """Feed consecutive samples: ``load`` (any unit, >= 0) at times ``t_s`` (s)."""
        if load.size == 0:
            return
        n = load.size
        self.peak = max(self.peak * PEAK_DECAY_PER_SAMPLE ** n, float(load.max()))
        if self.peak <= 0:
            return
        # hysteresis, vectorised: 1 above ON, 0 below OFF, otherwise the state before
        code = np.where(load > CONTACT_ON * self.peak, 1, np.where(load < CONTACT_OFF * self.peak, 0, -1))
        last = np.maximum.accumulate(np.where(code >= 0, np.arange(n), -1))
        state = np.where(last >= 0, code[np.maximum(last, 0)], int(self.in_contact)).astype(bool)
        before = np.concatenate(([self.in_contact], state[:-1]))
        self.latest_s = float(t_s[-1])
        self.in_contact = bool(state[-1])
        for i in np.flatnonzero(state != before):  # contact events: a few per stride, not per sample
            t = float(t_s[i])
            if state[i]:
                self.contact_start_s = t
                self.starts_s.append(t)
            elif self.contact_start_s is not None:
                duration = t - self.contact_start_s
                if CONTACT_RANGE_S[0] <= duration <= CONTACT_RANGE_S[1]:
                    self.contacts_s.append((self.contact_start_s, duration))
                self.contact_start_s = None

    def contact_time_s(self) -> float | None:
        """Median of the recent contact durations, s (None before 3)."""
        recent = [d for start, d in self.contacts_s if start >= self.latest_s - RECENT_S]
        return float(np.median(recent)) if len(recent) >= 3 else None

    def stride_s(self) -> float | None:
        """Median of the recent stride times (contact start to the next), s."""
        starts = np.array([s for s in self.starts_s if s >= self.latest_s - RECENT_S])
        strides = np.diff(starts)
        strides = strides[(strides >= STRIDE_RANGE_S[0]) & (strides <= STRIDE_RANGE_S[1])]
        return float(np.median(strides)) if strides.size >= 2 else None


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
        loads = self.load_stepping if self.cadence_spm() is not None else self.load
        left, right = loads["left"], loads["right"]
        return 100.0 * left / (left + right) if left + right > 0 else None

    def contact_time_ms(self, side: str) -> float | None:
        """Median of the foot's recent contact times, ms."""
        ct = self.contacts[side].contact_time_s()
        return None if ct is None else 1000.0 * ct

    def cadence_spm(self) -> float | None:
        """Steps per minute (two per stride), from the recent strides of both feet."""
        strides = [s for s in (self.contacts[side].stride_s() for side in SIDES) if s is not None]
        return 120.0 / float(np.mean(strides)) if strides else None

    def contact_time_si_pct(self) -> float | None:
        """Contact-time symmetry index ``100 (R - L) / (0.5 (R + L))``, %,
        positive = the RIGHT contacts longer."""
        left, right = self.contact_time_ms("left"), self.contact_time_ms("right")
        if left is None or right is None:
            return None
        return 100.0 * (right - left) / (0.5 * (right + left))


def update_stats(stats: LiveStats, pkt: Packet) -> None:
    """Count a packet into the live numbers (loss from the sample indices,
    load, contacts)."""
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
    try:
        p = decode_packet(pkt.payload)
    except ProtocolError:
        return
    weights = stats.force_per_code_n[side]
    raw = p.raw.astype(np.float64)
    load = raw @ weights if weights is not None and weights.size == raw.shape[1] else raw.sum(axis=1)
    # the bar's exponential averages, weighted by the packet's duration
    packet_s = load.size / float(p.sampling_rate_hz)
    for avg, tau_s in ((stats.load, BAR_TAU_S), (stats.load_stepping, BAR_TAU_STEPPING_S)):
        avg[side] += -np.expm1(-packet_s / tau_s) * (float(load.mean()) - avg[side])
    t_s = (index + np.arange(load.size)) / float(p.sampling_rate_hz)
    stats.contacts[side].update(load, t_s)
