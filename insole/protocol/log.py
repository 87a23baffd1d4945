"""On-insole log, format 1 (protocol v1.1): the host codec of flash pages.

A log is a sequence of 4096-byte pages: one session header page, data pages
of Rice-coded pressure samples, and an end page. Every page is
``header (32 bytes) | body (4060 bytes) | crc32 (u32 at 4092)``; the format is
specified in ``firmware_specs`` (protocol v1.1, section "Log format 1").

Data page body: a reference sample (16 codes packed 12-bit as in v1), then
blocks of up to 32 samples. A block holds, per sensor, a Rice parameter k
(4 bits), then the unary parts of all its values (sensor-major, then
sample; ``q = zz >> k`` one-bits and a zero-bit), then their k-bit
remainders, where ``zz`` is the zigzag of the sample-to-sample difference.
Records (24 bytes: sync points, beacons) follow the samples.

The decoder (:func:`decode_log`) is vectorised across pages and values: the
zero-bits of the unary streams are the value terminators, so one
``unpackbits`` + ``flatnonzero`` gives every quotient; remainder offsets are
a cumulative sum of k; a cumulative sum per sensor from each page's
reference restores the codes. It never raises on damaged page bytes: a bad
page is counted in :attr:`DecodedLog.problems` and left out.

The encoder (:func:`encode_data_pages`) models the firmware and is
byte-exact with the normative Rice parameter rule
``k = max(0, bit_length(floor(sum(zz) / m)) - 1)``.
"""

from __future__ import annotations

import json
import logging
import math
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from ..constants import N_SENSORS, RATE_CODES_HZ, SIDE_CODE, SIDE_FROM_CODE
from ..errors import LogFormatError, ProtocolError
from .logrecords import Beacons, SyncPoints
from .packet import MAX_RAW, PRESSURE_BYTES, _pack12, _unpack12

log = logging.getLogger(__name__)

__all__ = [
    "BLOCK_SAMPLES",
    "BODY_SIZE",
    "HEADER_SIZE",
    "LOG_FORMAT_VERSION",
    "MAGIC",
    "PAGE_SIZE",
    "RECORD_SIZE",
    "Beacons",
    "CompressionStats",
    "DecodedLog",
    "EndReason",
    "PageKind",
    "RecordType",
    "SessionEnd",
    "SessionHeader",
    "SyncPoints",
    "block_size",
    "compressed_bits",
    "decode_block",
    "decode_log",
    "encode_block",
    "encode_data_pages",
    "encode_end_page",
    "encode_header_page",
    "page_crc",
    "rice_k",
    "unzigzag",
    "zigzag",
]

PAGE_SIZE = 4096
BLOCK_SAMPLES = 32
RECORD_SIZE = 24
MAGIC = b"ILOG"
LOG_FORMAT_VERSION = 1
HEADER_SIZE = 32
CRC_OFFSET = PAGE_SIZE - 4
BODY_SIZE = CRC_OFFSET - HEADER_SIZE  # 4060
BLOCK_HEADER = 10  # 8 bytes of k nibbles + u16 U
MAX_K = 12
#: largest zigzagged difference of 12-bit codes (d = +4095)
_MAX_ZZ = 8190
#: a block of 32 samples takes at least 10 + 64 bytes (one zero-bit per value)
_MIN_FULL_BLOCK = BLOCK_HEADER + N_SENSORS * BLOCK_SAMPLES // 8
#: most blocks a valid data page can hold (whole blocks plus one short one)
MAX_BLOCKS = (BODY_SIZE - PRESSURE_BYTES) // _MIN_FULL_BLOCK + 1
END_SECTION = 20
#: largest host note, bytes; longest device string, bytes
MAX_NOTE = 512
MAX_STRING = 32
UNKNOWN_BATTERY = 0xFF
UNKNOWN_TEMPERATURE = -32768
DEVICE_KEYS = ("manufacturer", "model", "serial", "firmware", "hardware")
PROBLEMS = ("crc", "bad_magic", "unknown_version", "erased", "corrupt", "other_session", "duplicate_seq")

_HDR = np.dtype([("magic", "S4"), ("version", "u1"), ("kind", "u1"), ("session", "<u2"), ("seq", "<u4"),
                 ("first_index", "<u4"), ("device_time_us", "<u8"), ("n_samples", "<u2"), ("n_records", "u1"),
                 ("battery", "u1"), ("temperature", "<i2"), ("body_used", "<u2")])
_REC = np.dtype([("type", "u1"), ("aux8", "u1"), ("aux16", "<u2"), ("aux32", "<u4"), ("a", "<u8"), ("b", "<u8")])
assert _HDR.itemsize == HEADER_SIZE and _REC.itemsize == RECORD_SIZE
_RATE_CODE = {hz: code for code, hz in RATE_CODES_HZ.items()}


class PageKind(IntEnum):
    HEADER = 1
    DATA = 2
    END = 3


class EndReason(IntEnum):
    HOST = 1
    IDLE = 2
    BATTERY = 3
    FLASH_FULL = 4


class RecordType(IntEnum):
    SYNC = 1
    BEACON = 2


_TRIGGERS = {1: "host", 2: "auto"}
_END_REASONS = {1: "host", 2: "idle", 3: "battery", 4: "flash_full"}


@dataclass(frozen=True)
class SessionHeader:
    """What the session header page says.

    Attributes
    ----------
    session_id : int
        1 .. 0xFFFE.
    side : str
        ``"left"`` or ``"right"``.
    sampling_rate_hz : int
        50, 100 or 200.
    start_index : int
        v1 sample index of the session's first sample (u32).
    start_device_time_us : int
        Device time of the session's first sample, us.
    trigger : str
        ``"host"`` (LOG_START now) or ``"auto"`` (armed auto start).
    zeroed, time_synced : bool
        Sensors zeroed; device clock set by TIME_SYNC.
    layout : bytes
        The v1 sensor-layout characteristic value, verbatim.
    device : dict
        ``manufacturer``, ``model``, ``serial``, ``firmware``, ``hardware``.
    note : dict
        The host note (a JSON object) given by LOG_START; ``{}`` if none.
    """

    session_id: int
    side: str
    sampling_rate_hz: int
    start_index: int
    start_device_time_us: int
    trigger: str = "host"
    zeroed: bool = False
    time_synced: bool = False
    layout: bytes = b""
    device: dict[str, str] = field(default_factory=dict)
    note: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SessionEnd:
    """What the end page says.

    Attributes
    ----------
    reason : str
        ``"host"``, ``"idle"``, ``"battery"`` or ``"flash_full"``.
    end_index : int
        Sample index one past the session's last sample (u32).
    end_device_time_us : int
        Device time when logging stopped, us.
    n_samples, n_data_pages, lost_samples : int
        Samples logged, data pages written, samples lost on the device.
    """

    reason: str
    end_index: int
    end_device_time_us: int
    n_samples: int
    n_data_pages: int
    lost_samples: int = 0


@dataclass(frozen=True)
class DecodedLog:
    """A decoded session log; per-page arrays cover the kept data pages in
    seq order.

    Attributes
    ----------
    header, end : SessionHeader or SessionEnd or None
        None when the page is missing or rejected.
    first_index : numpy.ndarray
        int64 v1 sample index of each page's first sample (raw u32 value).
    device_time_us : numpy.ndarray
        uint64 device time of each page's first sample, us.
    count : numpy.ndarray
        int64 samples per page.
    page_seq : numpy.ndarray
        int64 page seq.
    temperature_c : numpy.ndarray
        float64 die temperature at the page's start, degC (NaN unknown).
    battery_pct : numpy.ndarray
        float64 battery at the page's start, % (NaN unknown).
    codes : numpy.ndarray or None
        ``(sum(count), 16)`` uint16 codes in page order; None when not
        decoded.
    sync : SyncPoints
        Sync points of all kept pages (header, data, end), time order.
    beacons : Beacons
        Beacons of all kept pages, time order.
    problems : dict
        Reason -> rejected pages (keys of :data:`PROBLEMS` that occurred).
    bad_pages : list of int
        Positions (0-based, in the given sequence) of rejected pages.
    session_id : int or None
    """

    header: SessionHeader | None
    end: SessionEnd | None
    first_index: np.ndarray
    device_time_us: np.ndarray
    count: np.ndarray
    page_seq: np.ndarray
    temperature_c: np.ndarray
    battery_pct: np.ndarray
    codes: np.ndarray | None
    sync: SyncPoints
    beacons: Beacons
    problems: dict[str, int]
    bad_pages: list[int]
    session_id: int | None


# --- small pure helpers ------------------------------------------------------
def zigzag(d: np.ndarray) -> np.ndarray:
    """Map signed differences to 0, 1, 2, ...: ``2d`` for ``d >= 0``, else
    ``-2d - 1`` (int32 in, int32 out)."""
    d = np.asarray(d, dtype=np.int32)
    return (d << 1) ^ (d >> 31)


def unzigzag(zz: np.ndarray) -> np.ndarray:
    """Inverse of :func:`zigzag` (int64)."""
    zz = np.asarray(zz, dtype=np.int64)
    return (zz >> 1) ^ -(zz & 1)


def rice_k(zz: np.ndarray, *, m: np.ndarray | int | None = None) -> np.ndarray:
    """The encoder's normative Rice parameter of each sensor of a block.

    Parameters
    ----------
    zz : numpy.ndarray
        ``(..., m, 16)`` zigzagged differences of one or more blocks (a
        short block zero-padded to 32 rows when ``m`` is given).
    m : int or numpy.ndarray, optional
        Samples in each block (shape ``zz.shape[:-2]``); default
        ``zz.shape[-2]``.

    Returns
    -------
    numpy.ndarray
        ``(..., 16)`` int32, ``max(0, bit_length(floor(sum_j zz / m)) - 1)``.
    """
    zz = np.asarray(zz)
    m = zz.shape[-2] if m is None else np.asarray(m)[..., None]
    mean = zz.sum(axis=-2, dtype=np.int64) // m
    return np.maximum(np.frexp(mean.astype(np.float64))[1] - 1, 0).astype(np.int32)


def _block_bits(zz: np.ndarray, k: np.ndarray, m: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
    """Unary and remainder stream lengths (bits) of blocks ``(..., 32, 16)``."""
    unary = (zz >> k[..., None, :]).sum(axis=(-2, -1), dtype=np.int64) + N_SENSORS * np.asarray(m)
    rem = k.sum(axis=-1, dtype=np.int64) * np.asarray(m)
    return unary, rem


def block_size(zz: np.ndarray, *, m: np.ndarray | int | None = None) -> np.ndarray:
    """Bytes each block takes (vectorised; ``zz`` as in :func:`rice_k`)."""
    zz = np.asarray(zz, dtype=np.int32)
    m = zz.shape[-2] if m is None else np.asarray(m)
    k = rice_k(zz, m=m)
    unary, rem = _block_bits(zz, k, m)
    return BLOCK_HEADER + (unary + 7) // 8 + (rem + 7) // 8


def _k_bytes(k: np.ndarray) -> np.ndarray:
    """(..., 16) k -> (..., 8) bytes: sensor 2i low nibble of byte i."""
    k = np.asarray(k, dtype=np.uint8)
    return (k[..., 0::2] | (k[..., 1::2] << 4)).astype(np.uint8)


def encode_block(zz: np.ndarray) -> bytes:
    """Encode one block (the reference algorithm, one block at a time).

    Parameters
    ----------
    zz : numpy.ndarray
        ``(m, 16)`` zigzagged differences, ``1 <= m <= 32``, values 0..8190.

    Returns
    -------
    bytes
        ``k nibbles (8) | U (u16) | unary (U) | remainders (R)``.
    """
    zz = np.asarray(zz, dtype=np.int64)
    k = rice_k(zz)
    vals = zz.T.ravel()  # sensor-major, then sample
    kv = np.repeat(k, zz.shape[0]).astype(np.int64)
    q = vals >> kv
    unary = np.ones(int((q + 1).sum()), dtype=np.uint8)
    unary[np.cumsum(q + 1) - 1] = 0
    shifts = kv[:, None] - 1 - np.arange(MAX_K)
    rbits = ((vals[:, None] >> np.maximum(shifts, 0)) & 1)[shifts >= 0].astype(np.uint8)
    u = np.packbits(unary).tobytes()
    return _k_bytes(k).tobytes() + len(u).to_bytes(2, "little") + u + np.packbits(rbits).tobytes()


def decode_block(data: bytes, m: int) -> tuple[np.ndarray, int]:
    """Decode one block of ``m`` samples (reference decoder).

    Returns
    -------
    zz : numpy.ndarray
        ``(m, 16)`` int64 zigzagged differences.
    n_bytes : int
        Bytes the block took.

    Raises
    ------
    ProtocolError
        For k > 12, a stream running past ``data`` or too few terminators.
    """
    b = np.frombuffer(bytes(data), dtype=np.uint8)
    if b.size < BLOCK_HEADER:
        raise ProtocolError("block shorter than its header")
    k = np.empty(N_SENSORS, dtype=np.int64)
    k[0::2], k[1::2] = b[:8] & 15, b[:8] >> 4
    u = int(b[8]) | int(b[9]) << 8
    r = (int((k * m).sum()) + 7) // 8
    if (k > MAX_K).any() or BLOCK_HEADER + u + r > b.size:
        raise ProtocolError("bad block: k > 12 or a stream runs past the data")
    term = np.flatnonzero(np.unpackbits(b[BLOCK_HEADER:BLOCK_HEADER + u]) == 0)[:N_SENSORS * m]
    if term.size < N_SENSORS * m:
        raise ProtocolError("bad block: too few values in the unary stream")
    q = np.diff(term, prepend=-1) - 1
    kv = np.repeat(k, m)
    rem = _read_bits(np.concatenate([b[BLOCK_HEADER + u:BLOCK_HEADER + u + r], np.zeros(4, np.uint8)]),
                     np.cumsum(kv) - kv, kv)
    return ((q << kv) | rem).reshape(N_SENSORS, m).T.copy(), BLOCK_HEADER + u + r


def _read_bits(buf: np.ndarray, bit_offset: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Read ``k`` (0..12) bits MSB first at each bit offset of ``buf``
    (which must extend 3 bytes past the last byte read); int64."""
    byte = bit_offset >> 3
    w = buf[byte].astype(np.uint32) << 16
    w |= buf[byte + 1].astype(np.uint32) << 8
    w |= buf[byte + 2]
    shift = (24 - (bit_offset & 7) - k).astype(np.uint32)
    return ((w >> shift) & ((np.uint32(1) << k.astype(np.uint32)) - np.uint32(1))).astype(np.int64)


def page_crc(page: bytes) -> int:
    """CRC32 (IEEE 802.3, as zlib) of a page's bytes 0..4091."""
    return zlib.crc32(memoryview(bytes(page))[:CRC_OFFSET])


# --- encoding ----------------------------------------------------------------
def _records_array(items: Sequence[SyncPoints | Beacons]) -> np.ndarray:
    """Sync points and beacons as 24-byte records in device-time order."""
    parts = []
    for it in items:
        if it is None or len(it) == 0:
            continue
        r = np.zeros(len(it), dtype=_REC)
        if isinstance(it, SyncPoints):
            r["type"], r["a"], r["b"] = RecordType.SYNC, it.device_time_us, it.host_time_us
            r["aux32"] = it.uncertainty_us
        elif isinstance(it, Beacons):
            r["type"], r["a"], r["b"] = RecordType.BEACON, it.device_time_us, it.peer_device_time_us
            r["aux8"] = it.rssi_dbm.view(np.uint8)
            r["aux16"] = it.counter
            r["aux32"] = it.peer_session.astype(np.uint32) | (it.peer_side.astype(np.uint32) << 16)
        else:
            raise ProtocolError(f"records must be SyncPoints or Beacons, got {type(it).__name__}")
        parts.append(r)
    if not parts:
        return np.zeros(0, dtype=_REC)
    r = np.concatenate(parts)
    return r[np.argsort(r["a"], kind="stable")]


def _page_header(*, kind: int, session_id: int, seq: int, first_index: int, device_time_us: int, n_samples: int,
                 n_records: int, battery: int, temperature: int, body_used: int) -> np.ndarray:
    h = np.zeros(1, dtype=_HDR)
    h["magic"], h["version"], h["kind"] = MAGIC, LOG_FORMAT_VERSION, kind
    h["session"], h["seq"], h["first_index"] = session_id, seq, int(first_index) % 2**32
    h["device_time_us"], h["n_samples"], h["n_records"] = device_time_us, n_samples, n_records
    h["battery"], h["temperature"], h["body_used"] = battery, temperature, body_used
    return h


def _finish_page(header: np.ndarray, body: bytes) -> bytes:
    """Header + body + 0xFF fill + CRC."""
    page = bytearray(b"\xff" * PAGE_SIZE)
    page[:HEADER_SIZE] = header.tobytes()
    page[HEADER_SIZE:HEADER_SIZE + len(body)] = body
    page[CRC_OFFSET:] = page_crc(page).to_bytes(4, "little")
    return bytes(page)


def _check_session(session_id: int) -> None:
    if not 1 <= int(session_id) <= 0xFFFE:
        raise ProtocolError(f"session id must be 1 .. 65534, got {session_id}")


def _battery_byte(pct: float | None) -> int:
    return UNKNOWN_BATTERY if pct is None or not np.isfinite(pct) else int(np.clip(round(pct), 0, 100))


def _temperature_word(c: float | None) -> int:
    return UNKNOWN_TEMPERATURE if c is None or not np.isfinite(c) else int(np.clip(round(c * 100), -32767, 32767))


def _short_string(name: str, text: str, limit: int) -> bytes:
    b = str(text).encode("utf-8")
    if len(b) > limit:
        raise ProtocolError(f"{name} is {len(b)} bytes in UTF-8; at most {limit} fit")
    return b


def encode_header_page(header: SessionHeader, *, records: Sequence[SyncPoints | Beacons] = (),
                       battery_pct: float | None = None, temperature_c: float | None = None) -> bytes:
    """The session header page (seq 0).

    Parameters
    ----------
    header : SessionHeader
    records : sequence of SyncPoints or Beacons
        The session's start sync point (if the device has one).
    battery_pct : float, optional
        Battery at the start, % (None unknown).
    temperature_c : float, optional
        Die temperature at the start, degC (None unknown).
    """
    _check_session(header.session_id)
    if header.side not in SIDE_CODE or header.sampling_rate_hz not in _RATE_CODE:
        raise ProtocolError(f"bad side {header.side!r} or sampling rate {header.sampling_rate_hz} Hz")
    trigger = {v: k for k, v in _TRIGGERS.items()}.get(header.trigger)
    if trigger is None:
        raise ProtocolError(f"trigger must be 'host' or 'auto', got {header.trigger!r}")
    flags = (1 if header.zeroed else 0) | (2 if header.time_synced else 0)
    sec = bytearray([SIDE_CODE[header.side], _RATE_CODE[header.sampling_rate_hz], trigger, flags])
    sec += len(header.layout).to_bytes(2, "little") + bytes(header.layout)
    for key in DEVICE_KEYS:
        s = _short_string(key, header.device.get(key, ""), MAX_STRING)
        sec += bytes([len(s)]) + s
    note = json.dumps(header.note, separators=(",", ":")).encode("utf-8") if header.note else b""
    if len(note) > MAX_NOTE:
        raise ProtocolError(f"host note is {len(note)} bytes; at most {MAX_NOTE} fit")
    sec += len(note).to_bytes(2, "little") + note
    rec = _records_array(records)
    body = bytes(sec) + rec.tobytes()
    if len(body) > BODY_SIZE or len(rec) > 255:
        raise ProtocolError(f"session header needs {len(body)} bytes; a page body holds {BODY_SIZE}")
    h = _page_header(kind=PageKind.HEADER, session_id=header.session_id, seq=0, first_index=header.start_index,
                     device_time_us=header.start_device_time_us, n_samples=0, n_records=len(rec),
                     battery=_battery_byte(battery_pct), temperature=_temperature_word(temperature_c),
                     body_used=len(body))
    return _finish_page(h, body)


def encode_end_page(end: SessionEnd, *, session_id: int, seq: int, sync: SyncPoints | None = None) -> bytes:
    """The end page (seq = last data page's seq + 1).

    Parameters
    ----------
    end : SessionEnd
    session_id : int
    seq : int
    sync : SyncPoints, optional
        The sync point logged when a host stopped the session.
    """
    _check_session(session_id)
    reason = {v: k for k, v in _END_REASONS.items()}.get(end.reason)
    if reason is None:
        raise ProtocolError(f"end reason must be one of {', '.join(_END_REASONS.values())}, got {end.reason!r}")
    sec = np.zeros(5, dtype="<u4")
    sec[0], sec[1], sec[2], sec[3] = reason, end.n_samples, end.n_data_pages, end.lost_samples
    rec = _records_array([sync])
    body = sec.tobytes() + rec.tobytes()
    if len(body) > BODY_SIZE:
        raise ProtocolError("too many sync points for one end page")
    h = _page_header(kind=PageKind.END, session_id=session_id, seq=seq, first_index=end.end_index,
                     device_time_us=end.end_device_time_us, n_samples=0, n_records=len(rec),
                     battery=UNKNOWN_BATTERY, temperature=UNKNOWN_TEMPERATURE, body_used=len(body))
    return _finish_page(h, body)


def _check_codes(codes: np.ndarray) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != N_SENSORS:
        raise ProtocolError(f"codes must be (n, {N_SENSORS}), got {codes.shape}")
    if codes.size and (codes.min() < 0 or codes.max() > MAX_RAW):
        raise ProtocolError("pressure codes must lie in 0 .. 4095")
    return codes.astype(np.int32)


def _candidate_sizes(zz: np.ndarray, lo: int, n_blocks: int) -> np.ndarray:
    """Bytes of the blocks starting at difference row ``lo`` (vectorised)."""
    rows = zz[lo:lo + n_blocks * BLOCK_SAMPLES]
    m = np.minimum(BLOCK_SAMPLES, rows.shape[0] - BLOCK_SAMPLES * np.arange(n_blocks))
    if rows.shape[0] < n_blocks * BLOCK_SAMPLES:
        rows = np.concatenate([rows, np.zeros((n_blocks * BLOCK_SAMPLES - rows.shape[0], N_SENSORS), np.int32)])
    return block_size(rows.reshape(n_blocks, BLOCK_SAMPLES, N_SENSORS), m=m)


def _plan_pages(zz: np.ndarray, n: int, rec_sample: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each page starts, how many samples and records it holds.

    ``rec_sample[i]`` is the sample at or before record i's time (clipped
    to the run; a record goes in the page whose span holds its time). A page takes the
    most whole blocks that fit together with the records pending for it.
    """
    starts, counts, n_recs = [], [], []
    s0, ri, guess = 0, 0, 16
    while s0 < n:
        left = math.ceil((n - 1 - s0) / BLOCK_SAMPLES)
        while True:
            cand = min(left, MAX_BLOCKS, guess)
            used = np.concatenate([[0], np.cumsum(_candidate_sizes(zz, s0, cand))]) + PRESSURE_BYTES
            ends = np.minimum(s0 + 1 + BLOCK_SAMPLES * np.arange(cand + 1), n)
            pending = np.searchsorted(rec_sample, ends, side="left") - ri
            fits = used + RECORD_SIZE * pending <= BODY_SIZE
            b = int(np.flatnonzero(fits)[-1]) if fits.any() else 0
            if b < cand or cand == min(left, MAX_BLOCKS):
                break
            guess = cand * 2
        guess = b + 8
        nr = int(min(pending[b], (BODY_SIZE - used[b]) // RECORD_SIZE, 255))
        starts.append(s0)
        counts.append(int(ends[b]) - s0)
        n_recs.append(nr)
        s0, ri = int(ends[b]), ri + nr
    return np.array(starts, np.int64), np.array(counts, np.int64), np.array(n_recs, np.int64)


def _latest(series: tuple[np.ndarray, np.ndarray] | None, t_us: np.ndarray) -> np.ndarray:
    """Latest value at or before each time (NaN before the first)."""
    if series is None:
        return np.full(t_us.size, np.nan)
    ts, v = (np.asarray(x) for x in series)
    o = np.argsort(ts, kind="stable")
    i = np.searchsorted(ts[o].astype(np.uint64), t_us, side="right") - 1
    return np.where(i >= 0, np.asarray(v, np.float64)[o][np.maximum(i, 0)], np.nan)


def encode_data_pages(codes: np.ndarray, *, session_id: int, first_index: int, device_time_us: int,
                      sampling_rate_hz: int, first_seq: int = 1, sync: SyncPoints | None = None,
                      beacons: Beacons | None = None, temperature: tuple[np.ndarray, np.ndarray] | None = None,
                      battery: tuple[np.ndarray, np.ndarray] | None = None) -> list[bytes]:
    """Data pages of consecutive samples, as the firmware writes them.

    Parameters
    ----------
    codes : numpy.ndarray
        ``(n, 16)`` pressure codes 0..4095 of consecutive samples.
    session_id : int
        1 .. 65534.
    first_index : int
        v1 sample index of ``codes[0]`` (reduced modulo 2**32).
    device_time_us : int
        Device time of ``codes[0]``, us; sample i is at
        ``device_time_us + i * 1e6 / sampling_rate_hz``.
    sampling_rate_hz : int
        50, 100 or 200.
    first_seq : int
        Seq of the first page.
    sync, beacons : optional
        Records, each placed in the page whose time span holds its device
        time (records before the first sample go in the first page, after
        the last page's start in the last page).
    temperature, battery : tuple of arrays, optional
        ``(device_time_us, value)`` measurements in degC and %; each page
        gets the latest value at or before its first sample (else unknown).

    Returns
    -------
    list of bytes
        4096-byte pages with seq ``first_seq, first_seq + 1, ...``.
    """
    return _encode_pages(codes, session_id=session_id, first_index=first_index, device_time_us=device_time_us,
                         sampling_rate_hz=sampling_rate_hz, first_seq=first_seq, sync=sync, beacons=beacons,
                         temperature=temperature, battery=battery)[0]


def _encode_pages(codes, *, session_id, first_index, device_time_us, sampling_rate_hz, first_seq, sync, beacons,
                  temperature, battery) -> tuple[list[bytes], CompressionStats]:
    """:func:`encode_data_pages` and the statistics of what it wrote."""
    _check_session(session_id)
    if sampling_rate_hz not in _RATE_CODE:
        raise ProtocolError(f"sampling rate must be one of {sorted(_RATE_CODE)} Hz, got {sampling_rate_hz}")
    codes = _check_codes(codes)
    n = codes.shape[0]
    if n == 0:
        return [], CompressionStats(0, 0, 0, 0, 0, 0, 0)
    period_us = 1_000_000 // sampling_rate_hz
    zz = zigzag(np.diff(codes, axis=0))
    rec = _records_array([sync, beacons])
    t0 = np.uint64(device_time_us)
    after = np.where(rec["a"] >= t0, rec["a"] - t0, np.uint64(0)) // np.uint64(period_us)
    rec_sample = np.minimum(after, n - 1).astype(np.int64)  # the sample at or before each record
    starts, counts, n_recs = _plan_pages(zz, n, rec_sample)
    page_t = np.uint64(device_time_us) + (starts * period_us).astype(np.uint64)
    temp = _latest(temperature, page_t)
    batt = _latest(battery, page_t)
    rec_lo = np.concatenate([[0], np.cumsum(n_recs)])
    refs = _pack12(codes[starts])
    pages: list[bytes] = []
    n_bits = np.zeros(2, dtype=np.int64)
    for lo in range(0, starts.size, 512):
        sl = slice(lo, lo + 512)
        stream, page_off, ubits, rbits = _encode_blocks(zz, starts[sl], counts[sl])
        n_bits += (ubits, rbits)
        for i, p in enumerate(range(lo, min(lo + 512, starts.size))):
            r = rec[rec_lo[p]:rec_lo[p + 1]]
            body = refs[p].tobytes() + stream[page_off[i]:page_off[i + 1]].tobytes() + r.tobytes()
            h = _page_header(kind=PageKind.DATA, session_id=session_id, seq=first_seq + p,
                             first_index=int(first_index) + int(starts[p]), device_time_us=int(page_t[p]),
                             n_samples=int(counts[p]), n_records=len(r), battery=_battery_byte(batt[p]),
                             temperature=_temperature_word(temp[p]), body_used=len(body))
            pages.append(_finish_page(h, body))
    n_blocks = int((-(-(counts - 1) // BLOCK_SAMPLES)).sum())
    return pages, CompressionStats(n_samples=n, n_pages=len(pages), n_blocks=n_blocks, n_records=int(n_recs.sum()),
                                   page_bytes=PAGE_SIZE * len(pages), unary_bits=int(n_bits[0]),
                                   remainder_bits=int(n_bits[1]))


def _encode_blocks(zz: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """The block bytes of a run of pages, vectorised across blocks.

    Returns the byte stream of all their blocks, each page's offset in it
    (length ``pages + 1``), and the unary and remainder bits written.
    """
    nb = -(-(counts - 1) // BLOCK_SAMPLES)
    page_of = np.repeat(np.arange(starts.size), nb)
    bi = np.arange(page_of.size) - np.repeat(np.cumsum(nb) - nb, nb)
    row0 = starts[page_of] + BLOCK_SAMPLES * bi  # first difference row of each block
    m = np.minimum(BLOCK_SAMPLES, starts[page_of] + counts[page_of] - 1 - row0)
    j = np.arange(BLOCK_SAMPLES)
    valid = j[None, :] < m[:, None]
    z = zz[np.minimum(row0[:, None] + j, zz.shape[0] - 1)] * valid[:, :, None]  # (B, 32, 16)
    k = rice_k(z, m=m)
    ubits, rbits = _block_bits(z, k, m)
    ub, rb = (ubits + 7) // 8, (rbits + 7) // 8
    size = BLOCK_HEADER + ub + rb
    boff = np.concatenate([[0], np.cumsum(size)])
    bits = np.zeros(8 * int(boff[-1]), dtype=np.uint8)
    # value order inside a block: sensor-major, then sample; only j < m
    zt = z.transpose(0, 2, 1)  # (B, 16, 32)
    sel = np.broadcast_to(valid[:, None, :], zt.shape)
    vals = zt[sel].astype(np.int64)
    kv = np.broadcast_to(k[:, :, None], zt.shape)[sel].astype(np.int64)
    blk = np.broadcast_to(np.arange(m.size)[:, None, None], zt.shape)[sel]
    q = vals >> kv
    # unary: ones over [start, start + ubits), then a zero at each terminator
    u0 = 8 * (boff[:-1] + BLOCK_HEADER)
    edges = np.zeros(bits.size + 1, dtype=np.int8)
    edges[u0] += 1
    edges[u0 + ubits] -= 1
    bits[:] = np.cumsum(edges[:-1], dtype=np.int8)
    cq = np.cumsum(q + 1)
    first = np.cumsum(16 * m) - 16 * m
    base = np.repeat(cq[first] - (q[first] + 1), 16 * m)  # terminators counted before the block
    bits[u0[blk] + (cq - base) - 1] = 0
    # remainders: k bits MSB first at a running offset
    ck = np.cumsum(kv)
    r0 = 8 * (boff[:-1] + BLOCK_HEADER + ub)
    roff = r0[blk] + ck - kv - np.repeat(ck[first] - kv[first], 16 * m)
    for b in range(MAX_K):
        s = kv > b
        bits[roff[s] + b] = (vals[s] >> (kv[s] - 1 - b)) & 1
    out = np.packbits(bits)
    hdr = np.concatenate([_k_bytes(k), ub.astype("<u2").view(np.uint8).reshape(-1, 2)], axis=1)
    out[boff[:-1, None] + np.arange(BLOCK_HEADER)] = hdr
    page_off = boff[np.concatenate([[0], np.cumsum(nb)])]
    return out, page_off, int(ubits.sum()), int(rbits.sum())




@dataclass(frozen=True)
class CompressionStats:
    """What a run of codes takes as data pages.

    Attributes
    ----------
    n_samples, n_pages, n_blocks, n_records : int
    page_bytes : int
        Flash bytes, ``4096 * n_pages``.
    unary_bits, remainder_bits : int
        Bits of the unary streams (quotients + terminators) and remainder
        streams written, before byte padding.
    """

    n_samples: int
    n_pages: int
    n_blocks: int
    n_records: int
    page_bytes: int
    unary_bits: int
    remainder_bits: int

    @property
    def bytes_per_sample(self) -> float:
        return self.page_bytes / max(self.n_samples, 1)

    @property
    def ratio(self) -> float:
        """Raw 12-bit size (24 bytes per sample) over flash bytes."""
        return PRESSURE_BYTES * self.n_samples / max(self.page_bytes, 1)


def compressed_bits(codes: np.ndarray, *, sampling_rate_hz: int = 200) -> CompressionStats:
    """How a run of codes compresses into data pages (for benchmarks).

    Parameters
    ----------
    codes : numpy.ndarray
        ``(n, 16)`` codes 0..4095.
    sampling_rate_hz : int
        50, 100 or 200 (only sets the page times).
    """
    return _encode_pages(codes, session_id=1, first_index=0, device_time_us=0, sampling_rate_hz=sampling_rate_hz,
                         first_seq=1, sync=None, beacons=None, temperature=None, battery=None)[1]


# --- decoding ----------------------------------------------------------------
_DECODE_CHUNK_PAGES = 500


def _as_pages(pages: bytes | np.ndarray | Sequence[bytes]) -> np.ndarray:
    """Any accepted input as an ``(n, 4096)`` uint8 array."""
    if isinstance(pages, np.ndarray):
        buf = np.ascontiguousarray(pages, dtype=np.uint8).reshape(-1)
    elif isinstance(pages, (bytes, bytearray, memoryview)):
        buf = np.frombuffer(bytes(pages), dtype=np.uint8)
    else:
        items = [bytes(p) for p in pages]
        bad = [i for i, p in enumerate(items) if len(p) != PAGE_SIZE]
        if bad:
            raise ProtocolError(f"log page {bad[0]} is {len(items[bad[0]])} bytes; pages are {PAGE_SIZE} bytes")
        buf = np.frombuffer(b"".join(items), dtype=np.uint8)
    if buf.size % PAGE_SIZE:
        raise ProtocolError(f"a log is whole {PAGE_SIZE}-byte pages; got {buf.size} bytes "
                            f"({buf.size % PAGE_SIZE} bytes over)")
    return buf.reshape(-1, PAGE_SIZE)


def _screen(buf: np.ndarray, hdr: np.ndarray) -> np.ndarray:
    """Reason index (into :data:`PROBLEMS`, -1 = fine) per page from its
    header and CRC alone."""
    reason = np.full(buf.shape[0], -1, dtype=np.int8)

    def mark(name: str, bad: np.ndarray) -> None:
        reason[(reason < 0) & bad] = PROBLEMS.index(name)

    mark("erased", (buf[:, :4] == 0xFF).all(axis=1))
    mark("bad_magic", hdr["magic"] != MAGIC)
    mark("unknown_version", hdr["version"] != LOG_FORMAT_VERSION)
    todo = np.flatnonzero(reason < 0)
    stored = buf[:, CRC_OFFSET:].copy().view("<u4").ravel()
    crc = np.fromiter((zlib.crc32(buf[i, :CRC_OFFSET]) for i in todo), dtype=np.uint32, count=todo.size)
    bad_crc = np.zeros(buf.shape[0], dtype=bool)
    bad_crc[todo] = crc != stored[todo]
    mark("crc", bad_crc)
    kind, used = hdr["kind"], hdr["body_used"].astype(np.int64)
    section = used - RECORD_SIZE * hdr["n_records"].astype(np.int64)
    n = hdr["n_samples"].astype(np.int64)
    bad = (kind < PageKind.HEADER) | (kind > PageKind.END) | (used > BODY_SIZE) | (section < 0)
    too_many = -(-(n - 1) // BLOCK_SAMPLES) > MAX_BLOCKS
    bad |= (kind == PageKind.DATA) & ((n == 0) | (section < PRESSURE_BYTES) | too_many)
    bad |= (kind == PageKind.END) & (section < END_SECTION)
    bad |= (kind == PageKind.HEADER) & (section < 6)
    mark("corrupt", bad)
    return reason


class _Reader:
    """Bounds-checked reads from a page section (raises ValueError)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("section too short")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "little")


def _section(page: np.ndarray, h: np.void) -> bytes:
    return page[HEADER_SIZE:HEADER_SIZE + int(h["body_used"]) - RECORD_SIZE * int(h["n_records"])].tobytes()


def _parse_header(page: np.ndarray, h: np.void) -> SessionHeader | None:
    """The header page's section, or None when it does not parse."""
    try:
        r = _Reader(_section(page, h))
        side, rate, trigger, flags = r.u8(), r.u8(), r.u8(), r.u8()
        layout = r.take(r.u16())
        device = {key: r.take(r.u8()).decode("utf-8", "replace") for key in DEVICE_KEYS}
        note_bytes = r.take(r.u16())
    except ValueError:
        return None
    if side not in SIDE_FROM_CODE or rate not in RATE_CODES_HZ or trigger not in _TRIGGERS:
        return None
    try:
        note = json.loads(note_bytes.decode("utf-8")) if note_bytes else {}
    except (UnicodeDecodeError, ValueError, RecursionError):
        note = {}
    return SessionHeader(
        session_id=int(h["session"]), side=SIDE_FROM_CODE[side], sampling_rate_hz=RATE_CODES_HZ[rate],
        start_index=int(h["first_index"]), start_device_time_us=int(h["device_time_us"]),
        trigger=_TRIGGERS[trigger], zeroed=bool(flags & 1), time_synced=bool(flags & 2), layout=layout,
        device=device, note=note if isinstance(note, dict) else {})


def _parse_end(page: np.ndarray, h: np.void) -> SessionEnd | None:
    sec = np.frombuffer(_section(page, h)[:END_SECTION], dtype="<u4")
    reason = int(sec[0] & 0xFF)
    if reason not in _END_REASONS:
        return None
    return SessionEnd(reason=_END_REASONS[reason], end_index=int(h["first_index"]),
                      end_device_time_us=int(h["device_time_us"]), n_samples=int(sec[1]),
                      n_data_pages=int(sec[2]), lost_samples=int(sec[3]))


def _choose_session(hdr: np.ndarray, ok: np.ndarray, header_at: int | None) -> int:
    """The header page's session, else the commonest among valid data pages."""
    if header_at is not None:
        return int(hdr["session"][header_at])
    data = hdr["session"][ok & (hdr["kind"] == PageKind.DATA)]
    counts = Counter(data.tolist())
    best = max(counts.values())
    return next(s for s in data.tolist() if counts[s] == best)


def _first_of_each(keys: np.ndarray) -> np.ndarray:
    """Mask of the first occurrence of each key."""
    _, first = np.unique(keys, return_index=True)
    out = np.zeros(keys.size, dtype=bool)
    out[first] = True
    return out


def decode_log(pages: bytes | np.ndarray | Sequence[bytes], *, decode_codes: bool = True) -> DecodedLog:
    """Decode one session's log pages (vectorised across pages and values).

    Pages may come in any order; data pages are ordered by seq and one copy
    of a duplicated seq is kept (the first CRC-valid one). The session is the
    first valid header page's, else the commonest among the data pages.

    Parameters
    ----------
    pages : bytes, numpy.ndarray or sequence of bytes
        Pages concatenated (length a multiple of 4096), an ``(n, 4096)``
        uint8 array, or a list of 4096-byte pages.
    decode_codes : bool
        Decode the samples (False: headers and records only; data pages are
        then only checked by header and CRC).

    Returns
    -------
    DecodedLog
        Rejected pages are counted in ``problems`` by reason and listed in
        ``bad_pages``; damaged bytes never raise.

    Raises
    ------
    LogFormatError
        When the pages are of a newer log format (update insole; nothing on
        the insole was erased).
    ProtocolError
        When the length is not whole pages or no valid header or data page
        of log format 1 exists.
    """
    buf = _as_pages(pages)
    hdr = buf[:, :HEADER_SIZE].copy().view(_HDR).ravel()
    reason = _screen(buf, hdr)
    header, header_at = _find_header(buf, hdr, reason)
    ok = reason < 0
    if header is None and not (ok & (hdr["kind"] == PageKind.DATA)).any():
        _nothing_decodable(hdr, reason)
    session = _choose_session(hdr, ok, header_at)
    reason[ok & (hdr["session"] != session)] = PROBLEMS.index("other_session")
    data_pos = _dedupe(hdr, reason, header_at)
    data_pos = data_pos[np.argsort(hdr["seq"][data_pos], kind="stable")]
    end, end_at = _find_end(buf, hdr, reason)
    codes = None
    if decode_codes:
        codes, good = _decode_samples(buf, hdr, data_pos)
        reason[data_pos[~good]] = PROBLEMS.index("corrupt")
        data_pos = data_pos[good]
        if header is None and not data_pos.size:
            _nothing_decodable(hdr, reason)
    kept = np.concatenate([[header_at] if header_at is not None else [], data_pos,
                           [end_at] if end_at is not None else []]).astype(np.int64)
    sync, beacons = _records(buf, hdr, kept)
    h = hdr[data_pos]
    bad = np.flatnonzero(reason >= 0)
    problems = {PROBLEMS[int(c)]: int(k) for c, k in zip(*np.unique(reason[bad], return_counts=True))}
    if bad.size:
        log.debug("decode_log: %d of %d pages rejected: %s", bad.size, buf.shape[0], problems)
    temp = h["temperature"].astype(np.float64)
    batt = h["battery"].astype(np.float64)
    return DecodedLog(
        header=header, end=end, first_index=h["first_index"].astype(np.int64),
        device_time_us=h["device_time_us"].astype(np.uint64), count=h["n_samples"].astype(np.int64),
        page_seq=h["seq"].astype(np.int64),
        temperature_c=np.where(temp == UNKNOWN_TEMPERATURE, np.nan, temp / 100.0),
        battery_pct=np.where(batt > 100, np.nan, batt), codes=codes, sync=sync, beacons=beacons,
        problems=problems, bad_pages=bad.tolist(), session_id=session)


def _nothing_decodable(hdr: np.ndarray, reason: np.ndarray) -> None:
    newer = (hdr["magic"] == MAGIC) & (hdr["version"] > LOG_FORMAT_VERSION)
    newer &= reason == PROBLEMS.index("unknown_version")
    if newer.any():
        v = int(hdr["version"][newer].max())
        raise LogFormatError(f"log format {v}: this log is newer than this version of insole reads (format "
                             f"{LOG_FORMAT_VERSION}); update insole (pip install -U insole) and download again. "
                             "Nothing was erased from the insole.")
    raise ProtocolError(f"no valid header or data page of log format {LOG_FORMAT_VERSION} among "
                        f"{hdr.size} pages; nothing was erased from the insole")


def _find_header(buf: np.ndarray, hdr: np.ndarray, reason: np.ndarray) -> tuple[SessionHeader | None, int | None]:
    """The first valid header page that parses (others that fail: corrupt)."""
    for i in np.flatnonzero((reason < 0) & (hdr["kind"] == PageKind.HEADER)):
        parsed = _parse_header(buf[i], hdr[i])
        if parsed is not None:
            return parsed, int(i)
        reason[i] = PROBLEMS.index("corrupt")
    return None, None


def _find_end(buf: np.ndarray, hdr: np.ndarray, reason: np.ndarray) -> tuple[SessionEnd | None, int | None]:
    for i in np.flatnonzero((reason < 0) & (hdr["kind"] == PageKind.END)):
        parsed = _parse_end(buf[i], hdr[i])
        if parsed is not None:
            reason[(reason < 0) & (hdr["kind"] == PageKind.END)] = PROBLEMS.index("duplicate_seq")
            reason[i] = -1
            return parsed, int(i)
        reason[i] = PROBLEMS.index("corrupt")
    return None, None


def _dedupe(hdr: np.ndarray, reason: np.ndarray, header_at: int | None) -> np.ndarray:
    """Mark extra header pages and repeated data seqs; the data pages kept."""
    ok = reason < 0
    extra_header = ok & (hdr["kind"] == PageKind.HEADER)
    if header_at is not None:
        extra_header[header_at] = False
    reason[extra_header] = PROBLEMS.index("duplicate_seq")
    data = np.flatnonzero(ok & (hdr["kind"] == PageKind.DATA))
    first = _first_of_each(hdr["seq"][data])
    reason[data[~first]] = PROBLEMS.index("duplicate_seq")
    return data[first]


def _records(buf: np.ndarray, hdr: np.ndarray, kept: np.ndarray) -> tuple[SyncPoints, Beacons]:
    """Sync points and beacons of the kept pages, in device-time order."""
    h = hdr[kept]
    nrec = h["n_records"].astype(np.int64)
    at = np.repeat(kept * PAGE_SIZE + HEADER_SIZE + h["body_used"].astype(np.int64) - RECORD_SIZE * nrec, nrec)
    at += RECORD_SIZE * (np.arange(at.size) - np.repeat(np.cumsum(nrec) - nrec, nrec))
    rec = buf.reshape(-1)[at[:, None] + np.arange(RECORD_SIZE)].view(_REC).ravel()
    rec = rec[np.argsort(rec["a"], kind="stable")]
    s = rec[rec["type"] == RecordType.SYNC]
    b = rec[rec["type"] == RecordType.BEACON]
    sync = SyncPoints(s["a"], s["b"], s["aux32"])
    beacons = Beacons(b["a"], b["b"], (b["aux32"] >> 16) & 0xFF, b["aux32"] & 0xFFFF, b["aux16"],
                      b["aux8"].view(np.int8))
    return sync, beacons


def _decode_samples(buf: np.ndarray, hdr: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of data pages ``pos`` (in that order) and which decoded."""
    good = np.zeros(pos.size, dtype=bool)
    out = np.empty((int(hdr["n_samples"][pos].astype(np.int64).sum()), N_SENSORS), dtype=np.uint16)
    filled = 0
    for lo in range(0, pos.size, _DECODE_CHUNK_PAGES):
        sel = pos[lo:lo + _DECODE_CHUNK_PAGES]
        codes, ok = _decode_chunk(buf[sel], hdr[sel])
        out[filled:filled + codes.shape[1]] = codes.T
        filled += codes.shape[1]
        good[lo:lo + sel.size] = ok
    return out[:filled], good


@dataclass(frozen=True)
class _Blocks:
    """Where the blocks of a chunk of pages are (one entry per block)."""

    page: np.ndarray    # page in the chunk
    index: np.ndarray   # block number in its page
    m: np.ndarray       # samples
    k: np.ndarray       # (n, 16) Rice parameters
    unary_at: np.ndarray  # byte offset of the unary stream in the chunk
    unary_n: np.ndarray   # its length, bytes
    rem_at: np.ndarray    # byte offset of the remainder stream


def _locate_blocks(flat: np.ndarray, n: np.ndarray, section_end: np.ndarray, ok: np.ndarray) -> _Blocks:
    """Walk the blocks of all pages at once, one block number at a time;
    pages whose blocks break the rules lose ``ok``."""
    n_pages = n.size
    nb = -(-(n - 1) // BLOCK_SAMPLES)
    off = np.full(n_pages, HEADER_SIZE + PRESSURE_BYTES, dtype=np.int64)
    base = np.arange(n_pages, dtype=np.int64) * PAGE_SIZE
    found = []
    for b in range(int(nb.max(initial=0))):
        a = np.flatnonzero(ok & (nb > b))
        m = np.minimum(BLOCK_SAMPLES, n[a] - 1 - BLOCK_SAMPLES * b)
        at = base[a] + off[a]
        kb = flat[at[:, None] + np.arange(8)]
        k = np.empty((a.size, N_SENSORS), dtype=np.int64)
        k[:, 0::2], k[:, 1::2] = kb & 15, kb >> 4
        u = flat[at + 8].astype(np.int64) | flat[at + 9].astype(np.int64) << 8
        r = (m * k.sum(axis=1) + 7) // 8
        end = off[a] + BLOCK_HEADER + u + r
        bad = (k > MAX_K).any(axis=1) | (end > section_end[a])
        ok[a[bad]] = False
        off[a] = end
        g = ~bad
        found.append((a[g], np.full(int(g.sum()), b), m[g], k[g], (at + BLOCK_HEADER)[g], u[g],
                      (at + BLOCK_HEADER + u)[g]))
    if not found:
        e = np.zeros(0, dtype=np.int64)
        return _Blocks(e, e, e, np.zeros((0, N_SENSORS), np.int64), e, e, e)
    cols = [np.concatenate(c) for c in zip(*found)]
    order = np.lexsort((cols[1], cols[0]))  # page-major, then block number: stream order
    return _Blocks(*(c[order] for c in cols))


def _region_bytes(flat: np.ndarray, at: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Concatenate ``flat[a:a+l]`` of ascending, disjoint regions."""
    edges = np.zeros(flat.size + 1, dtype=np.int8)
    edges[at] += 1
    edges[at + length] -= 1
    return flat[np.cumsum(edges[:-1], dtype=np.int8).astype(bool)]


def _decode_chunk(pages: np.ndarray, hdr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of a chunk of data pages (in order) and which pages decoded."""
    n = hdr["n_samples"].astype(np.int64)
    section_end = HEADER_SIZE + hdr["body_used"].astype(np.int64) - RECORD_SIZE * hdr["n_records"].astype(np.int64)
    flat = np.concatenate([pages.reshape(-1), np.zeros(16, dtype=np.uint8)])
    ok = np.ones(n.size, dtype=bool)
    blk = _locate_blocks(flat, n, section_end, ok)
    # unary streams: their zero-bits are the terminators
    ubytes = _region_bytes(flat, blk.unary_at, blk.unary_n)
    term = np.flatnonzero(np.unpackbits(~ubytes))
    ustart = 8 * (np.cumsum(blk.unary_n) - blk.unary_n)
    lo = np.searchsorted(term, ustart)
    hi = np.searchsorted(term, ustart + 8 * blk.unary_n)
    ok[blk.page[hi - lo < N_SENSORS * blk.m]] = False
    # rows: each page's reference, then its samples; sensor-major so the
    # cumulative sums run over contiguous memory
    n_ok = np.where(ok, n, 0)
    row0 = np.cumsum(n_ok) - n_ok
    diffs = np.zeros((N_SENSORS, int(n_ok.sum())), dtype=np.int32)
    use = ok[blk.page]
    first_row = row0[blk.page] + 1 + BLOCK_SAMPLES * blk.index
    full = np.flatnonzero(use & (blk.m == BLOCK_SAMPLES))
    short = np.flatnonzero(use & (blk.m < BLOCK_SAMPLES))
    term32 = term.astype(np.int32)
    be32 = np.ndarray((flat.size - 3,), dtype=">u4", buffer=flat, strides=(1,))
    too_big = np.zeros(blk.page.size, dtype=bool)
    block_sum = np.zeros((blk.page.size, N_SENSORS), dtype=np.int32)
    for sel in _slices(full.size, 2048):
        f = full[sel]
        d, too_big[f], block_sum[f] = _full_blocks(term32, be32, lo[f], ustart[f], blk.k[f], blk.rem_at[f])
        diffs[:, first_row[f, None] + np.arange(BLOCK_SAMPLES)] = d
    too_big[short], block_sum[short] = _short_blocks(diffs, term, flat, lo[short], ustart[short], blk.k[short],
                                                     blk.m[short], blk.rem_at[short], first_row[short])
    ok[blk.page[too_big]] = False
    # one cumulative sum over all rows: each reference row holds its page's
    # reference minus the code the previous page ended on
    ref = _unpack12(pages[:, HEADER_SIZE:HEADER_SIZE + PRESSURE_BYTES]).astype(np.int32)
    totals = np.zeros((n.size, N_SENSORS), dtype=np.int32)
    if blk.page.size:
        starts = np.flatnonzero(np.diff(blk.page, prepend=-1))
        totals[blk.page[starts]] = np.add.reduceat(block_sum, starts, axis=0)
    ends = (ref + totals)[ok]  # each page's last code
    refs_at = row0[ok]
    diffs[:, refs_at] = (ref[ok] - np.concatenate([np.zeros((1, N_SENSORS), np.int32), ends[:-1]])).T
    codes = np.cumsum(diffs, axis=1, out=diffs)
    rows_ok = np.repeat(ok, n_ok)
    out_of_range = (codes.view(np.uint32) > MAX_RAW).any(axis=0) & rows_ok
    pages_ok = np.flatnonzero(ok)
    bad = np.zeros(pages_ok.size, dtype=bool)
    hit = np.flatnonzero(out_of_range)
    if hit.size:
        bad[np.unique(np.searchsorted(refs_at, hit, side="right") - 1)] = True
    ok[pages_ok[bad]] = False
    keep = np.repeat(ok, n_ok)
    return (codes if keep.all() else codes[:, keep]), ok


def _slices(n: int, step: int):
    return [slice(lo, lo + step) for lo in range(0, n, step)]


def _full_blocks(term, be32, lo, ustart, k, rem_at) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Differences of full blocks, ``(16, n, 32)`` int32, broadcast over
    (block, sensor, sample) without per-value index arrays; which blocks
    hold a zigzag value over 8190 (corrupt); each block's sum per sensor."""
    nv = N_SENSORS * BLOCK_SAMPLES
    tpos = term[lo[:, None] + np.arange(nv)]
    q = np.empty(tpos.shape, dtype=np.int32)
    np.subtract(tpos[:, 1:], tpos[:, :-1], out=q[:, 1:])
    q[:, 0] = tpos[:, 0] - ustart + 1
    q -= 1
    q = q.reshape(-1, N_SENSORS, BLOCK_SAMPLES)
    kk = k.astype(np.int32)[:, :, None]
    roff = ((8 * rem_at).astype(np.int32)[:, None, None]
            + (BLOCK_SAMPLES * (np.cumsum(k, axis=1) - k)).astype(np.int32)[:, :, None]
            + np.arange(BLOCK_SAMPLES, dtype=np.int32) * kk)
    w = be32[roff >> 3]
    r = (w >> (32 - (roff & 7) - kk).astype(np.uint32)) & ((np.uint32(1) << kk.astype(np.uint32)) - np.uint32(1))
    zz = np.left_shift(q, kk, out=q)
    zz |= r.astype(np.int32)
    bad = zz.reshape(zz.shape[0], -1).max(axis=1) > _MAX_ZZ
    d = (zz >> 1) ^ -(zz & 1)
    return d.transpose(1, 0, 2), bad, d.sum(axis=2, dtype=np.int32)


def _short_blocks(diffs, term, flat, lo, ustart, k, m, rem_at, first_row) -> tuple[np.ndarray, np.ndarray]:
    """Differences of short blocks (one per page at most), written in place;
    returns which blocks hold a zigzag value over 8190 (corrupt) and each
    block's sum per sensor."""
    nv = N_SENSORS * m
    vfirst = np.cumsum(nv) - nv
    v_blk = np.repeat(np.arange(m.size), nv)
    within = np.arange(int(nv.sum())) - vfirst[v_blk]
    tpos = term[lo[v_blk] + within]
    q = np.diff(tpos, prepend=0) - 1
    q[vfirst] = tpos[vfirst] - ustart
    kv = np.repeat(k.ravel(), np.repeat(m, N_SENSORS))
    ck = np.cumsum(kv) - kv
    roff = 8 * rem_at[v_blk] + ck - ck[vfirst][v_blk]
    zz = (q << kv) | _read_bits(flat, roff, kv)
    bad = np.zeros(m.size, dtype=bool)
    bad[v_blk[zz > _MAX_ZZ]] = True
    d = unzigzag(np.minimum(zz, _MAX_ZZ))
    sensor, j = within // m[v_blk], within % m[v_blk]
    diffs.reshape(-1)[sensor * diffs.shape[1] + first_row[v_blk] + j] = d
    sums = np.zeros((m.size, N_SENSORS), dtype=np.int64)
    np.add.at(sums, (v_blk, sensor), d)
    return bad, sums.astype(np.int32)
