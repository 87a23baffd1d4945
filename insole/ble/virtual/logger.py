"""The logging firmware of a virtual insole (protocol v1.1, log format 1).

:class:`Logger` is what an insole's firmware does with its flash: session
ids, page allocation, the states idle / armed / logging, LOG_START,
LOG_STOP, SYNC_POINT, the auto-start detector, the end reasons, ERASE and
the session images a host downloads.

Flash use: sessions are written contiguously in ring order from the write
head (the page after the newest session); a session never jumps over a
page that is not erased. Before each data page the firmware checks that
the page after it is erased too: it always keeps one page for the end page,
so a full flash ends the session with reason ``flash_full``. ERASE frees
whole sessions. The session directory is rebuilt by SCANNING the page
headers, as a firmware does after a reboot: there is no index that could
disagree with the pages.

RAM (:class:`LoggerRam`): the state, the page being filled (its samples and
records are programmed when the page is full), the start sync point kept
for the next session, the detector's state and, while armed, the last
:data:`PRETRIGGER_KEEP_S` of samples (the pre-trigger buffer). A power loss
(:meth:`Logger.power_loss`) loses RAM: the open session keeps every page
programmed so far and has no end page.

Sampling: while armed or logging, the insole samples at ``rate_hz`` on its
own clock: sample ``k`` of the run is at device time ``next_tau_us`` +
``k * 1e6 / rate`` (integers at 50, 100 and 200 Hz), with v1 sample index
``next_index + k``. The caller (:mod:`insole.ble.virtual.run`) computes the
codes at those instants and hands them over with :meth:`Logger.log_samples`.

Auto start (armed): a foot contact is the code sum above 10 % of its running
peak (released below 5 %; the peak must reach :data:`MIN_PEAK_CODES` first,
so sensor noise on an empty insole is no contact); after 8 consecutive
contacts with strides of 0.4-2.0 s the session starts, 10 s before the first
of them (from the pre-trigger buffer). Auto stop: no contact for
``idle_stop_s``; an auto-started session then re-arms.
"""

from __future__ import annotations

import dataclasses
import logging
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import InsoleError
from ...protocol import log as logfmt
from ...protocol.logctl import LogAttError, SessionEntry
from ...protocol.logrecords import Beacons, SyncPoints
from .flash import PAGE_SIZE, NorFlash, PowerLost

log = logging.getLogger(__name__)

__all__ = [
    "BATTERY_STOP_PCT",
    "MIN_PEAK_CODES",
    "PRETRIGGER_KEEP_S",
    "PRETRIGGER_S",
    "DetectorState",
    "LogOutcome",
    "Logger",
    "LoggerError",
    "LoggerRam",
    "Segment",
    "StoredSession",
    "detect_contacts",
]

#: contact hysteresis: on above, off below these shares of the running peak
CONTACT_ON, CONTACT_OFF = 0.10, 0.05
#: the running peak of the code sum must reach this before contacts count
MIN_PEAK_CODES = 400
#: consecutive contacts that start an armed session, and their stride range (us)
TRIGGER_CONTACTS = 8
STRIDE_MIN_US, STRIDE_MAX_US = 400_000, 2_000_000
#: the session starts this long before the first trigger contact, s
PRETRIGGER_S = 10.0
#: armed: samples kept in RAM for the pre-trigger buffer, s
PRETRIGGER_KEEP_S = 30.0
#: battery at or below this ends the session, %
BATTERY_STOP_PCT = 5.0
#: free pages LOG_START needs: header, one data page, the reserved end page
_START_PAGES = 3
_HDR = np.dtype([("magic", "S4"), ("version", "u1"), ("kind", "u1"), ("session", "<u2"), ("seq", "<u4"),
                 ("first_index", "<u4"), ("device_time_us", "<u8"), ("n_samples", "<u2"), ("n_records", "u1"),
                 ("battery", "u1"), ("temperature", "<i2"), ("body_used", "<u2")])
_REC = np.dtype([("type", "u1"), ("aux8", "u1"), ("aux16", "<u2"), ("aux32", "<u4"), ("a", "<u8"), ("b", "<u8")])
_RATE_HZ = {0: 50, 1: 100, 2: 200}


class LoggerError(InsoleError):
    """A log command the firmware refuses; ``att_error`` is the
    :class:`~insole.protocol.logctl.LogAttError` it answers with."""

    def __init__(self, message: str, att_error: int) -> None:
        super().__init__(message)
        self.att_error = LogAttError(att_error)


def _next_id(session_id: int) -> int:
    return 1 if session_id >= 0xFFFE else session_id + 1


# --- the auto-start detector ----------------------------------------------------------
@dataclass(frozen=True)
class DetectorState:
    """What the contact detector remembers between stretches of samples.

    Attributes
    ----------
    peak : float
        Running peak of the code sum.
    in_contact : bool
    last_onset_us : int
        Device time of the last contact onset (-1: none).
    chain : int
        Consecutive contacts with strides in range, ending at the last onset.
    chain_first_us : int
        Device time of the first contact of that chain (-1: none).
    last_contact_us : int
        Device time of the last sample in contact (-1: none).
    """

    peak: float = 0.0
    in_contact: bool = False
    last_onset_us: int = -1
    chain: int = 0
    chain_first_us: int = -1
    last_contact_us: int = -1


@dataclass(frozen=True)
class _Detection:
    contact: np.ndarray      # bool per sample
    peak: np.ndarray         # running peak per sample
    onsets: np.ndarray       # sample positions of contact onsets
    chain: np.ndarray        # chain length at each onset
    chain_first_us: np.ndarray
    start: DetectorState
    tau: np.ndarray

    def trigger(self) -> int | None:
        """Position of the sample of the onset that completes 8 contacts."""
        hit = np.flatnonzero(self.chain >= TRIGGER_CONTACTS)
        return int(self.onsets[hit[0]]) if hit.size else None

    def state_at(self, i: int) -> DetectorState:
        """The detector's state after samples ``0..i-1``."""
        if i <= 0:
            return self.start
        k = int(np.searchsorted(self.onsets, i)) - 1  # last onset before i
        c = self.contact[:i]
        in_c = np.flatnonzero(c)
        s = self.start
        return DetectorState(
            peak=float(self.peak[i - 1]), in_contact=bool(c[-1]),
            last_onset_us=int(self.tau[self.onsets[k]]) if k >= 0 else s.last_onset_us,
            chain=int(self.chain[k]) if k >= 0 else s.chain,
            chain_first_us=int(self.chain_first_us[k]) if k >= 0 else s.chain_first_us,
            last_contact_us=int(self.tau[in_c[-1]]) if in_c.size else s.last_contact_us)


def detect_contacts(sums: np.ndarray, tau_us: np.ndarray, state: DetectorState) -> _Detection:
    """Foot contacts on the code sum, vectorised (hysteresis on the running
    peak) and the chains of strides in range.

    Parameters
    ----------
    sums : numpy.ndarray
        Code sum of each sample (16 sensors).
    tau_us : numpy.ndarray
        Device time of each sample, us (int64).
    state : DetectorState
        The detector after the previous samples.
    """
    sums = np.asarray(sums, dtype=np.float64)
    tau = np.asarray(tau_us, dtype=np.int64)
    n = sums.size
    peak = np.maximum.accumulate(np.maximum(sums, state.peak)) if n else np.zeros(0)
    armed = peak >= MIN_PEAK_CODES
    on = armed & (sums > CONTACT_ON * peak)
    off = ~armed | (sums < CONTACT_OFF * peak)
    event = np.where(on, 1, np.where(off, 0, -1))
    last = np.maximum.accumulate(np.where(event >= 0, np.arange(n), -1)) if n else np.zeros(0, np.int64)
    contact = np.where(last >= 0, event[np.maximum(last, 0)] == 1, state.in_contact)
    prev = np.concatenate([[state.in_contact], contact[:-1]]) if n else contact
    onsets = np.flatnonzero(contact & ~prev)
    t_on = tau[onsets]
    before = np.concatenate([[state.last_onset_us], t_on[:-1]]) if onsets.size else t_on
    d = t_on - before
    ok = (before >= 0) & (d >= STRIDE_MIN_US) & (d <= STRIDE_MAX_US)
    pos = np.arange(onsets.size)
    last_bad = np.maximum.accumulate(np.where(~ok, pos, -1)) if onsets.size else pos
    chain = np.where(last_bad >= 0, pos - last_bad + 1, state.chain + pos + 1)
    first_prev = state.chain_first_us if state.chain > 0 else (int(t_on[0]) if onsets.size else -1)
    chain_first = np.where(last_bad >= 0, t_on[np.maximum(last_bad, 0)], first_prev)
    return _Detection(contact=contact, peak=peak, onsets=onsets, chain=chain.astype(np.int64),
                      chain_first_us=np.asarray(chain_first, np.int64), start=state, tau=tau)


# --- RAM -------------------------------------------------------------------------------
@dataclass
class LoggerRam:
    """The firmware's RAM (and the few retained registers), persisted by
    the virtual pair's state between commands. Mutable: this is the device.

    Attributes
    ----------
    state : str
        ``"idle"``, ``"armed"`` or ``"logging"``.
    auto : bool
        The current session (or arming) came from LOG_START mode 1.
    rate_hz, idle_stop_s : int
    note : dict
        Host note of LOG_START, copied into each session header.
    next_session_id : int
        Retained: the id the next session gets.
    head : int
        Next page to program (ring position).
    session_id, session_first_page, next_seq, data_pages, samples : int
        The open session (0 / counters when none).
    trigger : str
    next_tau_us, next_index : int
        Sample clock: device time and v1 index of the next sample.
    armed_at_us : int
        Device time the insole was armed.
    start_sync : tuple or None
        ``(device_time_us, host_time_us, uncertainty_us)`` kept for the next
        session's header.
    detector : DetectorState
    pending_first_index, pending_tau_us : int
        First sample of the page being filled.
    pending_codes : numpy.ndarray
        ``(n, 16)`` samples of the page being filled.
    pending_sync : list of tuple
        Sync points waiting for a page.
    pending_beacons : numpy.ndarray
        Beacon records (24-byte dtype) waiting for a page.
    buffer_codes, buffer_tau_us, buffer_index : numpy.ndarray
        Armed: the pre-trigger buffer.
    last_temperature, last_battery : tuple or None
        ``(device_time_us, value)``: the latest measurement (for the next page).
    """

    state: str = "idle"
    auto: bool = False
    rate_hz: int = 100
    idle_stop_s: int = 300
    note: dict = field(default_factory=dict)
    next_session_id: int = 1
    head: int = 0
    session_id: int = 0
    session_first_page: int = 0
    next_seq: int = 1
    data_pages: int = 0
    samples: int = 0
    trigger: str = "host"
    next_tau_us: int = 0
    next_index: int = 0
    armed_at_us: int = 0
    start_sync: tuple | None = None
    detector: DetectorState = field(default_factory=DetectorState)
    pending_first_index: int = 0
    pending_tau_us: int = 0
    pending_codes: np.ndarray = field(default_factory=lambda: np.zeros((0, 16), np.uint16))
    pending_sync: list = field(default_factory=list)
    pending_beacons: np.ndarray = field(default_factory=lambda: np.zeros(0, _REC))
    buffer_codes: np.ndarray = field(default_factory=lambda: np.zeros((0, 16), np.uint16))
    buffer_tau_us: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    buffer_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    last_temperature: tuple | None = None
    last_battery: tuple | None = None

    _ARRAYS = ("pending_codes", "pending_beacons", "buffer_codes", "buffer_tau_us", "buffer_index")

    def to_json(self) -> dict[str, Any]:
        """The scalar fields, JSON-ready (arrays: :meth:`arrays`)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in self._ARRAYS}
        d["detector"] = dataclasses.asdict(self.detector)
        d["start_sync"] = list(self.start_sync) if self.start_sync else None
        d["pending_sync"] = [list(s) for s in self.pending_sync]
        for k in ("last_temperature", "last_battery"):
            d[k] = list(d[k]) if d[k] is not None else None
        return d

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in self._ARRAYS}

    @classmethod
    def from_json(cls, d: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> LoggerRam:
        d = dict(d)
        d["detector"] = DetectorState(**d.get("detector", {}))
        d["start_sync"] = tuple(d["start_sync"]) if d.get("start_sync") else None
        d["pending_sync"] = [tuple(s) for s in d.get("pending_sync", [])]
        for k in ("last_temperature", "last_battery"):
            d[k] = tuple(d[k]) if d.get(k) is not None else None
        known = {f.name for f in dataclasses.fields(cls)}
        ram = cls(**{k: v for k, v in d.items() if k in known})
        for k, v in (arrays or {}).items():
            if k in cls._ARRAYS:
                setattr(ram, k, np.asarray(v))
        if ram.pending_beacons.dtype != _REC:
            ram.pending_beacons = np.zeros(0, _REC)
        return ram


# --- results ----------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredSession:
    """A session found by scanning the flash.

    Attributes
    ----------
    session_id : int
    pages : tuple of int
        Flash pages of the session in seq order.
    samples : int
        Samples in its data pages.
    sampling_rate_hz : int or None
        From its header page (None without one).
    start_device_time_us, end_device_time_us : int
        First sample; end page's stop time, else one period past the last
        page's samples.
    start_host_time_us : int
        Host time of the header's start sync point (0: none).
    complete : bool
        Has an end page.
    open : bool
        The logger is writing it now.
    """

    session_id: int
    pages: tuple[int, ...]
    samples: int
    sampling_rate_hz: int | None
    start_device_time_us: int
    end_device_time_us: int
    start_host_time_us: int
    complete: bool
    open: bool

    @property
    def image_bytes(self) -> int:
        return len(self.pages) * PAGE_SIZE

    def entry(self, *, extra_samples: int = 0, now_us: int | None = None) -> SessionEntry:
        """The LIST_SESSIONS entry (an open session: ``extra_samples`` in
        RAM, its duration up to ``now_us``)."""
        end = now_us if (self.open and now_us is not None) else self.end_device_time_us
        return SessionEntry(session_id=self.session_id, image_bytes=self.image_bytes,
                            samples=self.samples + extra_samples, start_device_time_us=self.start_device_time_us,
                            start_host_time_us=self.start_host_time_us,
                            duration_ms=max(0, int(end - self.start_device_time_us) // 1000),
                            complete=self.complete, open=self.open)


@dataclass(frozen=True)
class Segment:
    """Part of a stretch of samples that goes into one session.

    Attributes
    ----------
    session_id : int
    new : bool
        The session starts in this stretch (header page first).
    start, stop : int
        Sample positions (in the stretch with the pre-trigger buffer in
        front, see :attr:`LogPlan.offset`), ``stop`` exclusive.
    end_reason : str or None
        The session ends at ``stop`` (``"idle"``, ``"battery"``).
    trigger : str
    """

    session_id: int
    new: bool
    start: int
    stop: int
    end_reason: str | None = None
    trigger: str = "host"


@dataclass(frozen=True)
class LogPlan:
    """What the detector decided for a stretch, before anything is written.

    Attributes
    ----------
    offset : int
        Samples of the pre-trigger buffer in front of the stretch.
    codes, tau_us, index : numpy.ndarray
        The buffer and the stretch.
    segments : tuple of Segment
    state, auto : str, bool
        The logger's state after the stretch.
    detector : DetectorState
    next_session_id : int
    """

    offset: int
    codes: np.ndarray
    tau_us: np.ndarray
    index: np.ndarray
    segments: tuple[Segment, ...]
    state: str
    detector: DetectorState
    next_session_id: int

    def spans_us(self) -> list[tuple[int, int, int]]:
        """``(session_id, first device time, end device time)`` logged, per segment."""
        period = int(self.tau_us[1] - self.tau_us[0]) if self.tau_us.size > 1 else 0
        return [(s.session_id, int(self.tau_us[s.start]), int(self.tau_us[s.stop - 1]) + period)
                for s in self.segments if s.stop > s.start]


@dataclass(frozen=True)
class LogOutcome:
    """What :meth:`Logger.log_samples` did.

    Attributes
    ----------
    pages_written : int
    started : tuple of int
        Sessions started.
    ended : tuple of (int, str)
        Sessions ended and why.
    """

    pages_written: int
    started: tuple[int, ...]
    ended: tuple[tuple[int, str], ...]


# --- the firmware ------------------------------------------------------------------------
class Logger:
    """One insole's logging firmware on its flash.

    Parameters
    ----------
    flash : NorFlash
    side : str
    layout : bytes
        The v1 sensor-layout characteristic value (copied into headers).
    device : dict
        ``manufacturer``, ``model``, ``serial``, ``firmware``, ``hardware``.
    ram : LoggerRam, optional
        The RAM kept since the last command (default: just powered on).
    zeroed : bool
        The header's zeroed flag (the model's codes are zeroed sensors).
    """

    def __init__(self, flash: NorFlash, *, side: str, layout: bytes, device: dict[str, str],
                 ram: LoggerRam | None = None, zeroed: bool = True) -> None:
        self.flash = flash
        self.side = side
        self.layout = bytes(layout)
        self.device = dict(device)
        self.zeroed = zeroed
        self.ram = ram if ram is not None else self._boot_ram(LoggerRam())

    # -- directory -------------------------------------------------------------------
    def _headers(self) -> np.ndarray:
        h = self.flash.headers(32)
        return np.frombuffer(h.tobytes(), dtype=_HDR) if h.size else np.zeros(0, _HDR)

    def sessions(self) -> list[StoredSession]:
        """The sessions on the flash, oldest first (ring order from the head),
        rebuilt by scanning page headers."""
        h = self._headers()
        valid = np.flatnonzero((h["magic"] == logfmt.MAGIC) & (h["version"] == logfmt.LOG_FORMAT_VERSION))
        n = self.flash.n_pages
        out = []
        for sid in np.unique(h["session"][valid]):
            pos = valid[h["session"][valid] == sid]
            o = np.argsort(h["seq"][pos], kind="stable")
            pos = pos[o]
            hh = h[pos]
            kinds = hh["kind"]
            data = kinds == logfmt.PageKind.DATA
            rate, host_us = self._header_info(pos[kinds == logfmt.PageKind.HEADER])
            start = int(hh["device_time_us"][0])
            ends = hh[kinds == logfmt.PageKind.END]
            if ends.size:
                end_us = int(ends["device_time_us"][-1])
            elif data.any() and rate:
                last = hh[data][-1]
                end_us = int(last["device_time_us"]) + int(last["n_samples"]) * (1_000_000 // rate)
            else:
                end_us = int(hh["device_time_us"][-1])
            is_open = self.ram.state == "logging" and int(sid) == self.ram.session_id
            out.append(StoredSession(session_id=int(sid), pages=tuple(int(p) for p in pos),
                                     samples=int(hh["n_samples"][data].sum()), sampling_rate_hz=rate,
                                     start_device_time_us=start, end_device_time_us=end_us,
                                     start_host_time_us=host_us, complete=bool(ends.size), open=is_open))
        head = self.ram.head
        out.sort(key=lambda s: (s.pages[0] - head - 1) % n)
        return out

    def _header_info(self, pages: np.ndarray) -> tuple[int | None, int]:
        """Rate and start host time from a header page."""
        if not pages.size:
            return None, 0
        page = self.flash.read(int(pages[0]))
        hdr = np.frombuffer(page[:32], dtype=_HDR)[0]
        rate = _RATE_HZ.get(page[33])
        nrec, used = int(hdr["n_records"]), int(hdr["body_used"])
        lo = 32 + used - 24 * nrec
        host_us = 0
        if 0 <= lo and lo + 24 * nrec <= PAGE_SIZE - 4 and nrec:
            rec = np.frombuffer(page[lo:lo + 24 * nrec], dtype=_REC)
            sync = rec[rec["type"] == logfmt.RecordType.SYNC]
            if sync.size:
                host_us = int(sync["b"][-1])
        return rate, host_us

    def used_pages(self) -> int:
        """Pages that are not erased (as the header scan sees them)."""
        h = self.flash.headers(4)
        return int((h != 0xFF).any(axis=1).sum()) if h.size else 0

    def find(self, session_id: int) -> StoredSession:
        """The stored session ``session_id``.

        Raises
        ------
        LoggerError
            0x85 when there is none.
        """
        for s in self.sessions():
            if s.session_id == session_id:
                return s
        raise LoggerError(f"no session {session_id} on the {self.side} insole", LogAttError.NO_SESSION)

    def image(self, session_id: int) -> bytes:
        """The session image (pages in seq order) for download.

        Raises
        ------
        LoggerError
            0x85 no such session, 0x82 it is still logging.
        """
        s = self.find(session_id)
        if s.open:
            raise LoggerError(f"session {session_id} is still logging", LogAttError.STATE)
        return self.flash.read_pages(s.pages)

    def erase(self, session_id: int, image_crc32: int) -> None:
        """ERASE: free the session's pages when ``image_crc32`` is the crc32
        of its image.

        Raises
        ------
        LoggerError
            0x85 no such session, 0x82 still logging, 0x86 crc mismatch
            (nothing erased).
        """
        image = self.image(session_id)
        if zlib.crc32(image) != int(image_crc32):
            raise LoggerError(f"session {session_id}: crc32 {int(image_crc32):08x} is not the image's "
                              f"{zlib.crc32(image):08x}", LogAttError.VERIFY_FAILED)
        for p in self.find(session_id).pages:
            self.flash.erase(p)
        log.debug("%s: session %d erased", self.side, session_id)

    # -- boot / power -------------------------------------------------------------------
    def _boot_ram(self, ram: LoggerRam) -> LoggerRam:
        """RAM after a power-on: the head after the newest session (ids
        compared on the ring of ids), retained session counter kept."""
        self.ram = ram
        sessions = self.sessions()
        if sessions:
            ids = np.array(sorted(s.session_id for s in sessions))
            gaps = np.diff(np.concatenate([ids, [ids[0] + 0xFFFE]]))
            newest = int(ids[int(np.argmax(gaps))])
            s = next(x for x in sessions if x.session_id == newest)
            ram.head = (s.pages[-1] + 1) % self.flash.n_pages
            if (ram.next_session_id - newest - 1) % 0xFFFE > 0x7FFF:  # retained counter behind the flash
                ram.next_session_id = _next_id(newest)
        return ram

    def power_loss(self) -> None:
        """The power fails: RAM is lost (the page being filled, the kept sync
        point, the detector); the open session keeps its programmed pages
        and has no end page."""
        keep = LoggerRam(next_session_id=self.ram.next_session_id, head=self.ram.head,
                         next_index=self.ram.next_index, rate_hz=self.ram.rate_hz)
        if self.ram.state == "logging":
            log.debug("%s: power lost during session %d", self.side, self.ram.session_id)
        self._boot_ram(keep)

    # -- state ----------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self.ram.state

    @property
    def wants_samples(self) -> bool:
        """Armed or logging: the insole samples."""
        return self.ram.state in ("armed", "logging")

    @property
    def period_us(self) -> int:
        return 1_000_000 // self.ram.rate_hz

    def _free_ahead(self, n_pages: int) -> bool:
        n = self.flash.n_pages
        return all(self.flash.is_erased((self.ram.head + i) % n) for i in range(n_pages))

    def start(self, *, device_time_us: int, rate_hz: int, auto: bool = False, idle_stop_s: int = 300,
              note: dict | None = None, battery_pct: float | None = None,
              temperature_c: float | None = None) -> int:
        """LOG_START at device time ``device_time_us``: a session now, or
        armed for auto start.

        Returns
        -------
        int
            The new session's id (0 when armed).

        Raises
        ------
        LoggerError
            0x82: already armed or logging, the flash has no room for a
            session, or the battery is at or below 5 %.
        """
        ram = self.ram
        if ram.state != "idle":
            raise LoggerError(f"the {self.side} insole is already {ram.state}", LogAttError.STATE)
        if not self._free_ahead(_START_PAGES):
            raise LoggerError(f"the {self.side} insole's flash is full", LogAttError.STATE)
        if battery_pct is not None and battery_pct <= BATTERY_STOP_PCT:
            raise LoggerError(f"the {self.side} insole's battery is low ({battery_pct:.0f} %)", LogAttError.STATE)
        ram.rate_hz, ram.auto, ram.idle_stop_s, ram.note = int(rate_hz), bool(auto), int(idle_stop_s), dict(note or {})
        ram.next_tau_us = int(device_time_us)
        ram.detector = DetectorState()
        ram.buffer_codes = np.zeros((0, 16), np.uint16)
        ram.buffer_tau_us = np.zeros(0, np.int64)
        ram.buffer_index = np.zeros(0, np.int64)
        if battery_pct is not None:
            ram.last_battery = (int(device_time_us), float(battery_pct))
        if temperature_c is not None:
            ram.last_temperature = (int(device_time_us), float(temperature_c))
        if auto:
            ram.state, ram.armed_at_us = "armed", int(device_time_us)
            return 0
        sid = ram.next_session_id
        ram.next_session_id = _next_id(sid)
        self._open_session(sid, start_index=ram.next_index, start_tau_us=ram.next_tau_us, trigger="host")
        ram.detector = DetectorState(last_contact_us=ram.next_tau_us)
        return sid

    def stop(self, *, device_time_us: int, reason: str = "host") -> int | None:
        """LOG_STOP (or another end) at device time ``device_time_us``: the
        page being filled is programmed, then the end page. Armed: disarm.

        Returns
        -------
        int or None
            The session ended (None: there was none).
        """
        ram = self.ram
        if ram.state == "armed":
            ram.state = "idle"
            return None
        if ram.state != "logging":
            return None
        sid = ram.session_id
        try:
            self._flush(final=True)
            self._end(reason, device_time_us)
        except PowerLost:
            self.power_loss()
        return sid

    def sync_point(self, device_time_us: int, host_time_us: int, uncertainty_us: int) -> None:
        """SYNC_POINT: a record in the open session's current page, else
        kept as the next session's start sync point (it is that too)."""
        point = (int(device_time_us), int(host_time_us), int(uncertainty_us))
        if self.ram.state == "logging":
            self.ram.pending_sync.append(point)
        self.ram.start_sync = point

    # -- sampling -------------------------------------------------------------------------
    def sample_clock(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Device times (us, int64) and v1 indices of the next ``n`` samples."""
        k = np.arange(n, dtype=np.int64)
        return self.ram.next_tau_us + k * self.period_us, self.ram.next_index + k

    def plan(self, codes: np.ndarray, *, battery: tuple[np.ndarray, np.ndarray] | None = None) -> LogPlan:
        """The detector's decisions for the next ``len(codes)`` samples
        (pure: nothing changes).

        Parameters
        ----------
        codes : numpy.ndarray
            ``(n, 16)`` codes of the next samples of :meth:`sample_clock`.
        battery : tuple of arrays, optional
            ``(device_time_us, pct)`` measurements; the session ends at the
            first at or below 5 %.
        """
        ram = self.ram
        codes = np.asarray(codes, dtype=np.uint16)
        tau, index = self.sample_clock(codes.shape[0])
        offset = ram.buffer_codes.shape[0] if ram.state == "armed" else 0
        if offset:
            codes = np.concatenate([ram.buffer_codes, codes])
            tau = np.concatenate([ram.buffer_tau_us, tau])
            index = np.concatenate([ram.buffer_index, index])
        sums = codes.sum(axis=1, dtype=np.int64)
        low_us = None
        if battery is not None and len(battery[0]):
            bt, bp = (np.asarray(x) for x in battery)
            low = np.flatnonzero(bp <= BATTERY_STOP_PCT)
            low_us = int(bt[low[0]]) if low.size else None
        state, det, sid, next_sid, auto = ram.state, ram.detector, ram.session_id, ram.next_session_id, ram.auto
        segments: list[Segment] = []
        pos, n = offset, codes.shape[0]
        seg_start, new, trigger = offset, False, ram.trigger
        floor_us = ram.armed_at_us
        while pos < n and state != "idle":
            d = detect_contacts(sums[pos:], tau[pos:], det)
            if state == "armed":
                j = d.trigger()
                if j is None:
                    det = d.state_at(n - pos)
                    break
                first_us = int(d.chain_first_us[np.searchsorted(d.onsets, j)])
                start_us = max(first_us - int(PRETRIGGER_S * 1e6), floor_us, int(tau[0]))
                seg_start = int(np.searchsorted(tau, start_us))
                sid, next_sid, new, trigger = next_sid, _next_id(next_sid), True, "auto"
                det = d.state_at(j)
                pos += j
                state = "logging"
                continue
            last_c = np.maximum.accumulate(np.where(d.contact, d.tau, det.last_contact_us))
            idle = np.flatnonzero((last_c >= 0) & (d.tau - last_c >= ram.idle_stop_s * 1_000_000))
            stop, reason = n, None
            if idle.size:
                stop, reason = pos + int(idle[0]), "idle"
            if low_us is not None:
                b = int(np.searchsorted(tau, low_us))
                if b < stop:
                    stop, reason = max(b, pos), "battery"
            segments.append(Segment(sid, new, seg_start, stop, reason, trigger))
            det = d.state_at(stop - pos)
            pos, new = stop, False
            if reason is not None:
                state = "armed" if (auto and reason == "idle") else "idle"
                det = dataclasses.replace(det, chain=0, chain_first_us=-1, last_onset_us=-1)
                seg_start = pos
                floor_us = int(tau[min(pos, n - 1)])
                if reason == "battery":
                    break
        return LogPlan(offset=offset, codes=codes, tau_us=tau, index=index, segments=tuple(segments), state=state,
                       detector=det, next_session_id=next_sid)

    def log_samples(self, codes: np.ndarray, *, plan: LogPlan | None = None, beacons: Beacons | None = None,
                    temperature: tuple[np.ndarray, np.ndarray] | None = None,
                    battery: tuple[np.ndarray, np.ndarray] | None = None) -> LogOutcome:
        """Take the next ``len(codes)`` samples of :meth:`sample_clock`:
        detect, start, log, stop (idle, battery, flash full).

        Parameters
        ----------
        codes : numpy.ndarray
            ``(n, 16)`` uint16 codes.
        plan : LogPlan, optional
            :meth:`plan` of the same codes (when the caller needed it first,
            e.g. for the other insole's beacons).
        beacons : Beacons, optional
            Beacons heard during the stretch (kept only inside sessions).
        temperature, battery : tuple of arrays, optional
            ``(device_time_us, value)`` measurements (degC, %).
        """
        ram = self.ram
        if not self.wants_samples:
            raise LoggerError(f"the {self.side} insole is not sampling", LogAttError.STATE)
        plan = plan if plan is not None else self.plan(codes, battery=battery)
        n_new = plan.codes.shape[0] - plan.offset
        pages0 = self.flash.programs
        started, ended = [], []
        try:
            for seg in plan.segments:
                if seg.new:
                    if not self._free_ahead(_START_PAGES):
                        log.debug("%s: armed start refused, flash full", self.side)
                        ram.state = "idle"
                        break
                    self._open_session(seg.session_id, start_index=int(plan.index[seg.start]),
                                       start_tau_us=int(plan.tau_us[seg.start]), trigger="auto",
                                       at_us=int(plan.tau_us[seg.start]), temperature=temperature, battery=battery)
                    started.append(seg.session_id)
                full = self._append(plan, seg, beacons, temperature, battery)
                if full:
                    ended.append((seg.session_id, "flash_full"))
                    break
                if seg.end_reason is not None:
                    period = self.period_us
                    if self._flush(final=True, temperature=temperature, battery=battery):
                        ended.append((seg.session_id, "flash_full"))
                        break
                    self._end(seg.end_reason, int(plan.tau_us[seg.stop - 1]) + period if seg.stop > seg.start
                              else int(plan.tau_us[min(seg.stop, plan.tau_us.size - 1)]))
                    ended.append((seg.session_id, seg.end_reason))
            else:
                ram.state = plan.state
                ram.detector = plan.detector
                ram.next_session_id = plan.next_session_id
        except PowerLost:
            self.power_loss()
            return LogOutcome(self.flash.programs - pages0, tuple(started), tuple(ended))
        self._remember(plan, temperature, battery, n_new)
        return LogOutcome(self.flash.programs - pages0, tuple(started), tuple(ended))

    def _remember(self, plan: LogPlan, temperature, battery, n_new: int) -> None:
        ram = self.ram
        ram.next_tau_us += n_new * self.period_us
        ram.next_index += n_new
        # the latest measurement at or before the page being filled (it needs it)
        t_ref = ram.pending_tau_us if (ram.state == "logging" and ram.pending_codes.shape[0]) else np.inf
        for name, series in (("last_temperature", temperature), ("last_battery", battery)):
            if series is not None and len(series[0]):
                t = np.asarray(series[0], dtype=np.float64)
                i = int(np.searchsorted(t, t_ref, side="right")) - 1
                if i >= 0:
                    setattr(ram, name, (int(series[0][i]), float(series[1][i])))
        if ram.state == "armed":
            keep = plan.tau_us >= plan.tau_us[-1] - int(PRETRIGGER_KEEP_S * 1e6) if plan.tau_us.size else []
            ram.buffer_codes = plan.codes[keep]
            ram.buffer_tau_us = plan.tau_us[keep]
            ram.buffer_index = plan.index[keep]
        else:
            ram.buffer_codes = np.zeros((0, 16), np.uint16)
            ram.buffer_tau_us = np.zeros(0, np.int64)
            ram.buffer_index = np.zeros(0, np.int64)

    # -- pages ------------------------------------------------------------------------------
    def _program(self, data: bytes) -> None:
        self.flash.program(self.ram.head, data)
        self.ram.head = (self.ram.head + 1) % self.flash.n_pages

    def _open_session(self, sid: int, *, start_index: int, start_tau_us: int, trigger: str, at_us: int | None = None,
                      temperature=None, battery=None) -> None:
        ram = self.ram
        header = logfmt.SessionHeader(session_id=sid, side=self.side, sampling_rate_hz=ram.rate_hz,
                                      start_index=start_index % 2**32, start_device_time_us=start_tau_us,
                                      trigger=trigger, zeroed=self.zeroed, time_synced=False, layout=self.layout,
                                      device=self.device, note=ram.note)
        records = []
        if ram.start_sync is not None:
            records.append(SyncPoints(*(np.array([v]) for v in ram.start_sync)))
        temp = _latest_value(temperature, start_tau_us, ram.last_temperature)
        batt = _latest_value(battery, start_tau_us, ram.last_battery)
        page = logfmt.encode_header_page(header, records=records, battery_pct=batt, temperature_c=temp)
        ram.state, ram.session_id, ram.session_first_page, ram.trigger = "logging", sid, ram.head, trigger
        ram.next_seq, ram.data_pages, ram.samples = 1, 0, 0
        ram.pending_codes = np.zeros((0, 16), np.uint16)
        ram.pending_first_index, ram.pending_tau_us = start_index, start_tau_us
        ram.pending_sync = []
        ram.pending_beacons = np.zeros(0, _REC)
        self._program(page)
        log.debug("%s: session %d started (%s) at device %d us", self.side, sid, trigger, start_tau_us)

    def _append(self, plan: LogPlan, seg: Segment, beacons, temperature, battery) -> bool:
        """Log the segment's samples: full pages are programmed, the rest
        stays in RAM. True when the flash got full (session ended)."""
        ram = self.ram
        if seg.stop <= seg.start:
            return False
        codes = plan.codes[seg.start:seg.stop]
        if ram.pending_codes.shape[0] == 0:
            ram.pending_first_index = int(plan.index[seg.start])
            ram.pending_tau_us = int(plan.tau_us[seg.start])
        ram.pending_codes = np.concatenate([ram.pending_codes, codes])
        if beacons is not None and len(beacons):
            t0, t1 = int(plan.tau_us[seg.start]), int(plan.tau_us[seg.stop - 1]) + self.period_us
            keep = (beacons.device_time_us >= t0) & (beacons.device_time_us < t1)
            if keep.any():
                rec = _beacon_records(beacons, keep)
                ram.pending_beacons = np.concatenate([ram.pending_beacons, rec])
        return self._flush(final=False, temperature=temperature, battery=battery)

    def _flush(self, *, final: bool, temperature=None, battery=None) -> bool:
        """Encode RAM into pages; program all (final) or all but the last.
        True when the flash got full."""
        ram = self.ram
        if ram.pending_codes.shape[0] == 0:
            return False
        temp = _series(temperature, ram.last_temperature)
        batt = _series(battery, ram.last_battery)
        points, recs = ram.pending_sync, ram.pending_beacons
        if final:  # records after the last sample: the end page's (sync) or nobody's
            t_end = ram.pending_tau_us + ram.pending_codes.shape[0] * self.period_us
            points = [s for s in points if s[0] < t_end]
            recs = recs[recs["a"] < t_end]
        sync = _sync_points(points)
        beacons = _records_to_beacons(recs)
        pages = logfmt.encode_data_pages(ram.pending_codes, session_id=ram.session_id,
                                         first_index=ram.pending_first_index % 2**32,
                                         device_time_us=ram.pending_tau_us, sampling_rate_hz=ram.rate_hz,
                                         first_seq=ram.next_seq, sync=sync, beacons=beacons, temperature=temp,
                                         battery=batt)
        keep = 0 if final else 1
        done = len(pages) - keep
        for page in pages[:done]:
            if not self._free_ahead(2):  # this page and the end page's
                self._drop_pending_upto(page)
                self._end("flash_full", int(np.frombuffer(page[16:24], "<u8")[0]))
                return True
            self._program(page)
            n = int.from_bytes(page[24:26], "little")
            ram.next_seq += 1
            ram.data_pages += 1
            ram.samples += n
            self._drop_pending_upto(page, through=True)
        return False

    def _drop_pending_upto(self, page: bytes, *, through: bool = False) -> None:
        """Forget RAM samples before this page (``through``: and its own)."""
        ram = self.ram
        hdr = np.frombuffer(page[:32], dtype=_HDR)[0]
        first = int(hdr["device_time_us"])
        n = int(hdr["n_samples"]) if through else 0
        skip = (first - ram.pending_tau_us) // self.period_us + n
        t_next = ram.pending_tau_us + skip * self.period_us
        ram.pending_codes = ram.pending_codes[skip:]
        ram.pending_first_index += skip
        ram.pending_tau_us = t_next
        if through:
            ram.pending_sync = [s for s in ram.pending_sync if s[0] >= t_next]
            ram.pending_beacons = ram.pending_beacons[ram.pending_beacons["a"] >= t_next]

    def _end(self, reason: str, device_time_us: int) -> None:
        ram = self.ram
        sync = _sync_points(ram.pending_sync)
        end = logfmt.SessionEnd(reason=reason, end_index=(ram.pending_first_index) % 2**32,
                                end_device_time_us=int(device_time_us), n_samples=ram.samples,
                                n_data_pages=ram.data_pages, lost_samples=0)
        page = logfmt.encode_end_page(end, session_id=ram.session_id, seq=ram.next_seq, sync=sync)
        if self.flash.is_erased(ram.head):
            self._program(page)
        log.debug("%s: session %d ended (%s), %d samples", self.side, ram.session_id, reason, ram.samples)
        ram.state = "idle"
        ram.session_id = 0
        ram.pending_codes = np.zeros((0, 16), np.uint16)
        ram.pending_sync = []
        ram.pending_beacons = np.zeros(0, _REC)

    # -- status -------------------------------------------------------------------------------
    def pending_samples(self) -> int:
        """Samples of the open session still in RAM."""
        return int(self.ram.pending_codes.shape[0]) if self.ram.state == "logging" else 0


def _latest_value(series, t_us: int, fallback: tuple | None) -> float | None:
    if series is not None and len(series[0]):
        t, v = (np.asarray(x) for x in series)
        i = int(np.searchsorted(t, t_us, side="right")) - 1
        if i >= 0:
            return float(v[i])
        return float(v[0])
    return None if fallback is None else float(fallback[1])


def _series(series, last: tuple | None):
    """A measurement series with the last RAM value in front."""
    if last is None:
        return series
    if series is None or not len(series[0]):
        return (np.array([last[0]], np.uint64), np.array([last[1]]))
    return (np.concatenate([[last[0]], np.asarray(series[0])]).astype(np.uint64),
            np.concatenate([[last[1]], np.asarray(series[1], np.float64)]))


def _sync_points(points: list) -> SyncPoints | None:
    if not points:
        return None
    a = np.array(points, dtype=np.uint64).reshape(-1, 3)
    return SyncPoints(a[:, 0], a[:, 1], a[:, 2])


def _beacon_records(b: Beacons, keep: np.ndarray) -> np.ndarray:
    r = np.zeros(int(keep.sum()), _REC)
    r["type"] = logfmt.RecordType.BEACON
    r["a"], r["b"] = b.device_time_us[keep], b.peer_device_time_us[keep]
    r["aux8"] = b.rssi_dbm[keep].view(np.uint8)
    r["aux16"] = b.counter[keep]
    r["aux32"] = b.peer_session[keep].astype(np.uint32) | (b.peer_side[keep].astype(np.uint32) << 16)
    return r


def _records_to_beacons(r: np.ndarray) -> Beacons | None:
    if r.size == 0:
        return None
    return Beacons(r["a"], r["b"], (r["aux32"] >> 16).astype(np.uint8), (r["aux32"] & 0xFFFF).astype(np.uint16),
                   r["aux16"], r["aux8"].view(np.int8))

