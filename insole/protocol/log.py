"""On-insole log, format 1 (protocol v1.1): the host codec of flash pages.

A log is a sequence of 4096-byte pages: one session header page, data pages
of Rice-coded pressure samples, and an end page. Every page is
``header (32 bytes) | body (4060 bytes) | crc32 (u32 at 4092)``; the format is
specified in ``firmware_specs`` (protocol v1.1, section "Log format 1").

Data page body: a reference sample (16 codes packed 12-bit as in v1), then
blocks of up to 16 samples. A block holds, per sensor, a 4-bit nibble (Rice
parameter k 0..14, or 15: all the sensor's residuals in the block are 0 and
it writes nothing), then the unary parts of the other sensors' values
(sensor-major, then sample; ``q = zz >> k`` one-bits and a zero-bit), then
their k-bit remainders. ``zz`` is the zigzag of the prediction residual:
``e_1 = x_1 - x_0`` after the page's reference ``x_0``, then the
second-order ``e_j = x_j - 2 x_(j-1) + x_(j-2)`` (counted across the blocks
of the page). Records (24 bytes: sync points, beacons) follow the samples.

The decoder (:func:`decode_log`) is vectorised across pages and values: the
zero-bits of the unary streams are the value terminators, so one
``unpackbits`` + ``flatnonzero`` gives every quotient; remainder offsets are
a cumulative sum of k; two cumulative sums per sensor, restarted at each
page's reference, restore the codes. It never raises on damaged page bytes:
a bad page is counted in :attr:`DecodedLog.problems` and left out.

The encoder (:func:`encode_data_pages`) models the firmware and is
byte-exact with the normative Rice parameter rule (nibble 15 when all of a
sensor's zz in the block are 0, else
``k = max(0, bit_length(floor(sum(zz) / m)) - 1)``).
"""

from __future__ import annotations

import json
import logging
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
    "ZERO_NIBBLE",
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
    "reconstruct",
    "residuals",
    "rice_k",
    "unzigzag",
    "zigzag",
]

PAGE_SIZE = 4096
BLOCK_SAMPLES = 16
RECORD_SIZE = 24
MAGIC = b"ILOG"
LOG_FORMAT_VERSION = 1
HEADER_SIZE = 32
CRC_OFFSET = PAGE_SIZE - 4
BODY_SIZE = CRC_OFFSET - HEADER_SIZE  # 4060
BLOCK_HEADER = 10  # 8 bytes of nibbles + u16 U
#: largest Rice parameter; nibble 15 = all the sensor's residuals in the block are 0
MAX_K = 14
ZERO_NIBBLE = 15
#: most blocks a data page can hold: all-zero blocks take only their header
MAX_BLOCKS = (BODY_SIZE - PRESSURE_BYTES) // BLOCK_HEADER
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
    """Map signed residuals to 0, 1, 2, ...: ``2e`` for ``e >= 0``, else
    ``-2e - 1`` (int32 in, int32 out)."""
    d = np.asarray(d, dtype=np.int32)
    return (d << 1) ^ (d >> 31)


def unzigzag(zz: np.ndarray) -> np.ndarray:
    """Inverse of :func:`zigzag` (int64)."""
    zz = np.asarray(zz, dtype=np.int64)
    return (zz >> 1) ^ -(zz & 1)


def residuals(codes: np.ndarray) -> np.ndarray:
    """Prediction residuals of one data page's samples 2..n.

    Parameters
    ----------
    codes : numpy.ndarray
        ``(n, 16)`` codes of one page, ``codes[0]`` its reference sample.

    Returns
    -------
    numpy.ndarray
        ``(n - 1, 16)`` int32: ``e_1 = x_1 - x_0``, then the second-order
        residual ``e_j = x_j - 2 x_(j-1) + x_(j-2)`` (prediction
        ``2 x_(j-1) - x_(j-2)``, not clamped) for ``j >= 2``.
    """
    x = np.asarray(codes, dtype=np.int32)
    e = np.diff(x, axis=0)
    e[1:] = np.diff(e, axis=0)
    return e


def reconstruct(reference: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Inverse of :func:`residuals`: ``d = cumsum(e)``, ``x = x_0 + cumsum(d)``.

    Parameters
    ----------
    reference : numpy.ndarray
        ``(16,)`` reference codes ``x_0``.
    e : numpy.ndarray
        ``(n - 1, 16)`` residuals.

    Returns
    -------
    numpy.ndarray
        ``(n, 16)`` int64 codes (not range-checked).
    """
    d = np.cumsum(np.asarray(e, dtype=np.int64), axis=0)
    x = np.asarray(reference, dtype=np.int64) + np.cumsum(d, axis=0)
    return np.concatenate([np.asarray(reference, dtype=np.int64)[None], x])


def rice_k(zz: np.ndarray, *, m: np.ndarray | int | None = None) -> np.ndarray:
    """The encoder's normative Rice parameter nibble of each sensor of a block.

    Parameters
    ----------
    zz : numpy.ndarray
        ``(..., m, 16)`` zigzagged residuals of one or more blocks (a short
        block zero-padded to 16 rows when ``m`` is given).
    m : int or numpy.ndarray, optional
        Samples in each block (shape ``zz.shape[:-2]``); default
        ``zz.shape[-2]``.

    Returns
    -------
    numpy.ndarray
        ``(..., 16)`` int32: 15 (:data:`ZERO_NIBBLE`) when all the sensor's
        values are 0, else ``max(0, bit_length(floor(sum_j zz / m)) - 1)``.
    """
    zz = np.asarray(zz)
    m = zz.shape[-2] if m is None else np.asarray(m)[..., None]
    total = zz.sum(axis=-2, dtype=np.int64)
    k = np.maximum(np.frexp((total // m).astype(np.float64))[1] - 1, 0)
    return np.where(total == 0, ZERO_NIBBLE, k).astype(np.int32)


def _block_bits(zz: np.ndarray, nibble: np.ndarray, m: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
    """Unary and remainder stream lengths (bits) of blocks ``(..., 16, 16)``
    with their nibbles (sensors with nibble 15 write nothing)."""
    active = nibble != ZERO_NIBBLE
    k = np.where(active, nibble, 0)
    m = np.asarray(m)
    unary = (zz >> k[..., None, :]).sum(axis=(-2, -1), dtype=np.int64) + m * active.sum(axis=-1)
    rem = k.sum(axis=-1, dtype=np.int64) * m
    return unary, rem


def block_size(zz: np.ndarray, *, m: np.ndarray | int | None = None) -> np.ndarray:
    """Bytes each block takes (vectorised; ``zz`` as in :func:`rice_k`)."""
    zz = np.asarray(zz, dtype=np.int32)
    m = zz.shape[-2] if m is None else np.asarray(m)
    unary, rem = _block_bits(zz, rice_k(zz, m=m), m)
    return BLOCK_HEADER + (unary + 7) // 8 + (rem + 7) // 8


def _k_bytes(k: np.ndarray) -> np.ndarray:
    """(..., 16) nibbles -> (..., 8) bytes: sensor 2i low nibble of byte i."""
    k = np.asarray(k, dtype=np.uint8)
    return (k[..., 0::2] | (k[..., 1::2] << 4)).astype(np.uint8)


def encode_block(zz: np.ndarray) -> bytes:
    """Encode one block (the reference algorithm, one block at a time).

    Parameters
    ----------
    zz : numpy.ndarray
        ``(m, 16)`` zigzagged residuals, ``1 <= m <= 16``, values 0..24569.

    Returns
    -------
    bytes
        ``nibbles (8) | U (u16) | unary (U) | remainders (R)``.
    """
    zz = np.asarray(zz, dtype=np.int64)
    nib = rice_k(zz)
    active = nib != ZERO_NIBBLE
    vals = zz[:, active].T.ravel()  # sensor-major, then sample
    kv = np.repeat(nib[active], zz.shape[0]).astype(np.int64)
    q = vals >> kv
    unary = np.ones(int((q + 1).sum()), dtype=np.uint8)
    unary[np.cumsum(q + 1) - 1] = 0
    shifts = kv[:, None] - 1 - np.arange(MAX_K)
    rbits = ((vals[:, None] >> np.maximum(shifts, 0)) & 1)[shifts >= 0].astype(np.uint8)
    u = np.packbits(unary).tobytes()
    return _k_bytes(nib).tobytes() + len(u).to_bytes(2, "little") + u + np.packbits(rbits).tobytes()


def decode_block(data: bytes, m: int) -> tuple[np.ndarray, int]:
    """Decode one block of ``m`` samples (reference decoder).

    Returns
    -------
    zz : numpy.ndarray
        ``(m, 16)`` int64 zigzagged residuals (0 for nibble-15 sensors).
    n_bytes : int
        Bytes the block took.

    Raises
    ------
    ProtocolError
        For a stream running past ``data`` or too few terminators.
    """
    b = np.frombuffer(bytes(data), dtype=np.uint8)
    if b.size < BLOCK_HEADER:
        raise ProtocolError("block shorter than its header")
    nib = np.empty(N_SENSORS, dtype=np.int64)
    nib[0::2], nib[1::2] = b[:8] & 15, b[:8] >> 4
    active = nib != ZERO_NIBBLE
    k = np.where(active, nib, 0)
    u = int(b[8]) | int(b[9]) << 8
    r = (int((k * m).sum()) + 7) // 8
    if BLOCK_HEADER + u + r > b.size:
        raise ProtocolError("bad block: a stream runs past the data")
    nv = int(active.sum()) * m
    term = np.flatnonzero(np.unpackbits(b[BLOCK_HEADER:BLOCK_HEADER + u]) == 0)[:nv]
    if term.size < nv:
        raise ProtocolError("bad block: too few values in the unary stream")
    q = np.diff(term, prepend=-1) - 1
    kv = np.repeat(k[active], m)
    rem = _read_bits(np.concatenate([b[BLOCK_HEADER + u:BLOCK_HEADER + u + r], np.zeros(4, np.uint8)]),
                     np.cumsum(kv) - kv, kv)
    zz = np.zeros((m, N_SENSORS), dtype=np.int64)
    zz[:, active] = ((q << kv) | rem).reshape(-1, m).T
    return zz, BLOCK_HEADER + u + r


def _read_bits(buf: np.ndarray, bit_offset: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Read ``k`` (0..14) bits MSB first at each bit offset of ``buf``
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


def _second_zz(codes: np.ndarray) -> np.ndarray:
    """Zigzagged residuals of a whole run as if it were one page, uint16
    ``(n - 1, 16)``: row ``t - 1`` is sample t's second-order residual (row
    0: the first difference). A page's first row is replaced by
    :func:`_first_zz`."""
    zz = np.empty((max(codes.shape[0] - 1, 0), N_SENSORS), dtype=np.uint16)
    step = 1 << 18
    for lo in range(0, zz.shape[0], step):
        hi = min(lo + step, zz.shape[0])
        zz[lo:hi] = zigzag(np.diff(codes[lo - 1:hi + 1], n=2, axis=0) if lo else residuals(codes[:hi + 1]))
    return zz


def _first_zz(codes: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Zigzagged first residual ``x_1 - x_0`` of pages starting at ``starts``."""
    return zigzag(codes[starts + 1] - codes[starts])


def _page_blocks(codes: np.ndarray, zz: np.ndarray, s0: int, n_blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n_blocks`` blocks of a page starting at sample ``s0``:
    ``(n_blocks, 16, 16)`` int32 zigzagged residuals (zero-padded) and m."""
    rows = zz[s0:s0 + n_blocks * BLOCK_SAMPLES]
    z = np.zeros((n_blocks * BLOCK_SAMPLES, N_SENSORS), dtype=np.int32)
    z[:rows.shape[0]] = rows
    z[0] = _first_zz(codes, np.array([s0]))[0]
    m = np.minimum(BLOCK_SAMPLES, codes.shape[0] - 1 - s0 - BLOCK_SAMPLES * np.arange(n_blocks))
    return z.reshape(n_blocks, BLOCK_SAMPLES, N_SENSORS), m


def _plan_pages(codes: np.ndarray, zz: np.ndarray, rec_sample: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each page starts, how many samples and records it holds.

    ``rec_sample[i]`` is the sample at or before record i's time (clipped
    to the run; a record goes in the page whose span holds its time). A page
    takes the most whole blocks that fit together with the records pending
    for it.
    """
    n = codes.shape[0]
    starts, counts, n_recs = [], [], []
    s0, ri, guess = 0, 0, 32
    while s0 < n:
        most = min(-(-(n - 1 - s0) // BLOCK_SAMPLES), MAX_BLOCKS)
        while True:
            cand = min(most, guess)
            used = np.full(cand + 1, PRESSURE_BYTES, dtype=np.int64)
            if cand:
                z, m = _page_blocks(codes, zz, s0, cand)
                used[1:] += np.cumsum(block_size(z, m=m))
            ends = np.minimum(s0 + 1 + BLOCK_SAMPLES * np.arange(cand + 1), n)
            pending = np.searchsorted(rec_sample, ends, side="left") - ri
            fits = used + RECORD_SIZE * pending <= BODY_SIZE
            b = int(np.flatnonzero(fits)[-1]) if fits.any() else 0
            if b < cand or cand == most:
                break
            guess = cand * 2
        guess = b + 4
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
    zz = _second_zz(codes)
    rec = _records_array([sync, beacons])
    t0 = np.uint64(device_time_us)
    after = np.where(rec["a"] >= t0, rec["a"] - t0, np.uint64(0)) // np.uint64(period_us)
    rec_sample = np.minimum(after, n - 1).astype(np.int64)  # the sample at or before each record
    starts, counts, n_recs = _plan_pages(codes, zz, rec_sample)
    page_t = np.uint64(device_time_us) + (starts * period_us).astype(np.uint64)
    temp = _latest(temperature, page_t)
    batt = _latest(battery, page_t)
    rec_lo = np.concatenate([[0], np.cumsum(n_recs)])
    refs = _pack12(codes[starts])
    pages: list[bytes] = []
    n_bits = np.zeros(2, dtype=np.int64)
    for lo in range(0, starts.size, 512):
        sl = slice(lo, lo + 512)
        stream, page_off, ubits, rbits = _encode_blocks(codes, zz, starts[sl], counts[sl])
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


def _run_blocks(codes: np.ndarray, zz: np.ndarray, starts: np.ndarray,
                counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All blocks of a run of pages: ``(B, 16, 16)`` int32 zigzagged
    residuals (zero-padded), m, and blocks per page."""
    nb = -(-(counts - 1) // BLOCK_SAMPLES)
    page_of = np.repeat(np.arange(starts.size), nb)
    first = np.cumsum(nb) - nb
    bi = np.arange(page_of.size) - first[page_of]
    row0 = starts[page_of] + BLOCK_SAMPLES * bi  # zz row of each block's first value
    m = np.minimum(BLOCK_SAMPLES, starts[page_of] + counts[page_of] - 1 - row0)
    valid = np.arange(BLOCK_SAMPLES)[None, :] < m[:, None]
    z = zz[np.minimum(row0[:, None] + np.arange(BLOCK_SAMPLES), zz.shape[0] - 1)].astype(np.int32)
    z *= valid[:, :, None]
    has = nb > 0
    z[first[has], 0] = _first_zz(codes, starts[has])
    return z, m, nb


def _encode_blocks(codes: np.ndarray, zz: np.ndarray, starts: np.ndarray,
                   counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """The block bytes of a run of pages, vectorised across blocks.

    Returns the byte stream of all their blocks, each page's offset in it
    (length ``pages + 1``), and the unary and remainder bits written.
    """
    z, m, nb = _run_blocks(codes, zz, starts, counts)
    nib = rice_k(z, m=m)
    ubits, rbits = _block_bits(z, nib, m)
    ub, rb = (ubits + 7) // 8, (rbits + 7) // 8
    boff = np.concatenate([[0], np.cumsum(BLOCK_HEADER + ub + rb)])
    # values in stream order: block, active sensor, then sample j < m
    active = nib != ZERO_NIBBLE
    sel = active[:, :, None] & (np.arange(BLOCK_SAMPLES)[None, None, :] < m[:, None, None])
    vals = z.transpose(0, 2, 1)[sel]
    kv = np.broadcast_to(nib[:, :, None], sel.shape)[sel]
    nv = sel.sum(axis=(1, 2))
    blk = np.repeat(np.arange(m.size), nv)
    q = vals >> kv
    first = np.cumsum(nv) - nv  # each block's first value
    # unary: bytes of ones (the last one padded with zero-bits), then each
    # terminator's bit cleared (they are distinct bits: subtracting clears)
    u0 = boff[:-1] + BLOCK_HEADER
    edges = np.zeros(int(boff[-1]) + 3, dtype=np.int8)  # 2 spare bytes: a remainder window's end
    edges[u0] += 1
    edges[u0 + ub] -= 1
    out = np.cumsum(edges[:-1], dtype=np.int8).view(np.uint8)
    out *= 255
    tail = ub > 0
    out[(u0 + ub - 1)[tail]] = (0xFF00 >> (ubits - 8 * (ub - 1))[tail]) & 0xFF
    cq = np.cumsum(q + 1)
    term = 8 * u0[blk] + cq - np.concatenate([[0], cq])[first][blk] - 1
    np.subtract.at(out, term >> 3, (0x80 >> (term & 7)).astype(np.uint8))
    # remainders: k bits MSB first at a running bit offset, added byte-wise
    ck = np.cumsum(kv)
    roff = 8 * (u0 + ub)[blk] + ck - kv - np.concatenate([[0], ck])[first][blk]
    word = (vals & ((1 << kv) - 1)) << (24 - (roff & 7) - kv)  # the value's bits in a 3-byte window
    byte = np.minimum(roff >> 3, out.size - 3)  # only a k = 0 value (adding nothing) can point past the end
    for i, shift in enumerate((16, 8, 0)):
        np.add.at(out, byte + i, ((word >> shift) & 255).astype(np.uint8))
    out = out[:-2]
    hdr = np.concatenate([_k_bytes(nib), ub.astype("<u2").view(np.uint8).reshape(-1, 2)], axis=1)
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
#: samples per vectorised pass: its work arrays (about 1 MB each) stay in cache and on the heap
_DECODE_CHUNK_ROWS = 12_000


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
    n = hdr["n_samples"][pos].astype(np.int64)
    ok = np.ones(pos.size, dtype=bool)
    if not pos.size:
        return np.zeros((0, N_SENSORS), dtype=np.uint16), ok
    blk = _locate_blocks(buf.reshape(-1), pos, hdr[pos], ok)
    out = np.empty((int(n.sum()), N_SENSORS), dtype=np.uint16)
    # chunks of about _DECODE_CHUNK_ROWS samples (whole pages)
    ends = np.cumsum(n)
    cut = np.unique(np.searchsorted(ends, np.arange(1, ends[-1] // _DECODE_CHUNK_ROWS + 1) * _DECODE_CHUNK_ROWS,
                                    side="right"))
    cut = np.concatenate([[0], cut[(cut > 0) & (cut < pos.size)], [pos.size]])
    bounds = np.searchsorted(blk.page, cut)
    filled = 0
    for c in range(cut.size - 1):
        sl = slice(cut[c], cut[c + 1])
        chunk = _Blocks(*(getattr(blk, f)[bounds[c]:bounds[c + 1]] for f in _Blocks.__dataclass_fields__))
        filled += _decode_chunk(buf[pos[sl]], n[sl], chunk, int(cut[c]), ok[sl], out[filled:])
    return out[:filled], ok


@dataclass(frozen=True)
class _Blocks:
    """Where the blocks of the data pages are (one entry per block, page-major)."""

    page: np.ndarray      # page (position in the decoded order)
    index: np.ndarray     # block number in its page
    m: np.ndarray         # samples
    nibble: np.ndarray    # (n, 16) Rice parameter nibbles (15: all zero)
    unary_at: np.ndarray  # byte offset of the unary stream in its page
    unary_n: np.ndarray   # its length, bytes
    rem_at: np.ndarray    # byte offset of the remainder stream in its page


def _locate_blocks(flat: np.ndarray, pos: np.ndarray, hdr: np.ndarray, ok: np.ndarray) -> _Blocks:
    """Walk the blocks of all pages at once, one block number at a time
    (only pages that still have blocks); pages whose blocks run past their
    section lose ``ok``."""
    n = hdr["n_samples"].astype(np.int64)
    section_end = HEADER_SIZE + hdr["body_used"].astype(np.int64) - RECORD_SIZE * hdr["n_records"].astype(np.int64)
    nb = -(-(n - 1) // BLOCK_SAMPLES)
    off = np.full(pos.size, HEADER_SIZE + PRESSURE_BYTES, dtype=np.int64)
    base = pos.astype(np.int64) * PAGE_SIZE
    found = []
    a = np.flatnonzero(nb > 0)
    for b in range(int(nb.max(initial=0))):
        a = a[ok[a] & (nb[a] > b)]
        bad = off[a] + BLOCK_HEADER > section_end[a]
        at = base[a] + np.minimum(off[a], CRC_OFFSET - BLOCK_HEADER)
        head = flat[at[:, None] + np.arange(BLOCK_HEADER)].astype(np.int64)
        nib = np.empty((a.size, N_SENSORS), dtype=np.int64)
        nib[:, 0::2], nib[:, 1::2] = head[:, :8] & 15, head[:, :8] >> 4
        m = np.minimum(BLOCK_SAMPLES, n[a] - 1 - BLOCK_SAMPLES * b)
        u = head[:, 8] | head[:, 9] << 8
        r = (m * np.where(nib == ZERO_NIBBLE, 0, nib).sum(axis=1) + 7) // 8
        end = off[a] + BLOCK_HEADER + u + r
        bad |= end > section_end[a]
        ok[a[bad]] = False
        g = ~bad
        found.append((a[g], np.full(int(g.sum()), b), m[g], nib[g], (off[a] + BLOCK_HEADER)[g], u[g],
                      (off[a] + BLOCK_HEADER + u)[g]))
        off[a] = end
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


def _decode_chunk(pages: np.ndarray, n: np.ndarray, blk: _Blocks, first_page: int, ok: np.ndarray,
                  out: np.ndarray) -> int:
    """Decode a chunk of data pages into ``out`` (rows of the pages still
    ``ok``, in order); clears ``ok`` of corrupt pages; returns rows written."""
    flat = np.concatenate([pages.reshape(-1), np.zeros(32, dtype=np.uint8)])
    chunk_base = PAGE_SIZE * (blk.page - first_page)
    page = blk.page - first_page
    # unary streams: their zero-bits are the terminators
    ubytes = _region_bytes(flat, chunk_base + blk.unary_at, blk.unary_n)
    term = np.flatnonzero(np.unpackbits(~ubytes))
    ustart = 8 * (np.cumsum(blk.unary_n) - blk.unary_n)
    lo = np.searchsorted(term, ustart)
    hi = np.searchsorted(term, ustart + 8 * blk.unary_n)
    active = blk.nibble != ZERO_NIBBLE
    nv = blk.m * active.sum(axis=1)
    ok[page[hi - lo < nv]] = False
    # quotient of every terminator: bits since the previous one (or the block start)
    q_all = np.zeros(term.size + 256, dtype=np.int32)  # padded: a corrupt block may read past the end
    np.subtract(term[1:], term[:-1], out=q_all[1:term.size], casting="unsafe")
    q_all[1:term.size] -= 1
    starts = np.flatnonzero((nv > 0) & (lo < term.size))
    q_all[lo[starts]] = term[lo[starts]] - ustart[starts]
    # one row per sample of the chunk, sensor-major; a last spare column
    # takes the padding of short blocks
    row0 = np.cumsum(n) - n
    n_rows = int(n.sum())
    e = np.zeros((N_SENSORS, n_rows + 1), dtype=np.int32)
    words = np.ndarray((flat.size - 3,), dtype=">u4", buffer=flat, strides=(1,)).astype(np.uint32)
    _residuals_into(e, q_all, words, blk, active, lo, chunk_base, row0[page] + 1 + BLOCK_SAMPLES * blk.index)
    # x = x_0 + cumsum(cumsum(e)), restarted at each page's reference row
    ref = _unpack12(pages[:, HEADER_SIZE:HEADER_SIZE + PRESSURE_BYTES]).astype(np.int32)
    body = e[:, :n_rows]
    body[:, row0] = -_previous(np.add.reduceat(body, row0, axis=1))  # d restarts at 0 ...
    np.cumsum(body, axis=1, out=body)
    body[:, row0] = ref.T - _previous(ref.T + np.add.reduceat(body, row0, axis=1))  # ... and x at x_0
    np.cumsum(body, axis=1, out=body)
    ok &= ~(np.maximum.reduceat(body.view(np.uint32), row0, axis=1) > MAX_RAW).any(axis=0)
    keep = np.repeat(ok, n)
    got = int(keep.sum())
    out[:got] = (body if got == n_rows else body[:, keep]).T
    return got


def _previous(a: np.ndarray) -> np.ndarray:
    """Each column's left neighbour (0 for the first): what a running sum
    carries into the next page's reference row, to cancel there."""
    out = np.zeros_like(a)
    out[:, 1:] = a[:, :-1]
    return out


def _residuals_into(e: np.ndarray, q_all: np.ndarray, words: np.ndarray, blk: _Blocks, active: np.ndarray,
                    lo: np.ndarray, chunk_base: np.ndarray, first_row: np.ndarray) -> None:
    """Write every residual of the chunk's blocks into ``e`` (16, rows + 1),
    one (block, active sensor) run of 16 slots at a time, broadcast without
    per-value index arrays.

    ``q_all``: the quotient ending at each terminator (zero-padded by 256);
    ``words``: the big-endian u32 starting at each byte of the chunk. No
    range check here: a residual too large for valid codes always decodes
    to a code outside 0..4095 (it is at most ``32480 << 14``, so int32 holds
    it and the page-level check catches it).
    """
    ub, us = np.nonzero(active)  # block-major, then sensor: stream order
    m = blk.m[ub]
    k = blk.nibble[ub, us].astype(np.uint32)[:, None]
    rank = (np.cumsum(active, axis=1) - active)[ub, us]
    kk = np.where(active, blk.nibble, 0)
    kbefore = (np.cumsum(kk, axis=1) - kk)[ub, us]
    j = np.arange(BLOCK_SAMPLES)
    zz = np.take(q_all, (lo[ub] + m * rank)[:, None] + j)  # int64 indices: numpy's own index type
    zz <<= k.astype(np.int32)
    roff = (8 * (chunk_base + blk.rem_at)[ub] + m * kbefore)[:, None] + j * k.astype(np.int64)
    w = np.take(words, roff >> 3)
    w <<= (roff & 7).astype(np.uint32)
    w >>= np.uint32(32) - k  # the k bits at the offset (k = 0: shifted out entirely)
    zz |= w.view(np.int32)
    tgt = (us * e.shape[1] + first_row[ub])[:, None] + j
    short = np.flatnonzero(m < BLOCK_SAMPLES)
    if short.size:  # samples past m go to the spare last column
        pad = j >= m[short, None]
        tgt[short] = np.where(pad, (us[short, None] + 1) * e.shape[1] - 1, tgt[short])
    sign = zz & 1
    np.negative(sign, out=sign)
    zz >>= 1
    zz ^= sign
    np.put(e, tgt, zz)
