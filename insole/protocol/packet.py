"""Data packets of insole protocol v1: encode one, decode one, decode many.

Layout (little-endian, see ``firmware_specs/protocol_v1.md``)::

    offset size  field
    0      u8    protocol version (1)
    1      u8    flags: bit0 IMU block present; bits1-2 rate code
                 (0 = 50 Hz, 1 = 100 Hz, 2 = 200 Hz, 3 = invalid);
                 bit3 sensors zeroed; bit4 device time synchronised;
                 bit5 saturated (some value is 4095); bits6-7 reserved
    2      u32   index of the first sample (counts samples since power-on,
                 wraps modulo 2**32)
    6      u64   device time of the first sample, microseconds
    14     u8    sample count n (>= 1)
    15     ...   n samples, each 24 bytes of packed 12-bit pressures
                 (16 sensors), followed by 12 bytes of IMU (6 x i16) when
                 bit0 is set

Pressures: two 12-bit values per 3 bytes; for sensor pair (2j, 2j+1) the
little-endian 24-bit word ``w = b0 | b1 << 8 | b2 << 16`` holds sensor 2j in
bits 0-11 and sensor 2j+1 in bits 12-23.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..constants import N_SENSORS, PROTOCOL_VERSION, RATE_CODES_HZ
from ..errors import ProtocolError

log = logging.getLogger(__name__)

__all__ = [
    "HEADER_SIZE",
    "PRESSURE_BYTES",
    "IMU_BYTES",
    "MAX_RAW",
    "Flags",
    "DecodedPacket",
    "DecodedBatch",
    "encode_packet",
    "encode_packets",
    "decode_packet",
    "decode_packets",
    "decode_headers",
    "PacketHeaders",
    "sample_size",
    "max_samples_per_packet",
]

HEADER_SIZE = 15
PRESSURE_BYTES = N_SENSORS * 12 // 8  # 24
IMU_BYTES = 12
MAX_RAW = 0x0FFF
#: IMU scale: acceleration LSB in g, angular rate LSB in degrees per second
ACC_LSB_G = 0.001
GYRO_LSB_DPS = 0.1

_HEADER_DTYPE = np.dtype(
    [("version", "u1"), ("flags", "u1"), ("first_index", "<u4"), ("device_time_us", "<u8"), ("count", "u1")]
)
assert _HEADER_DTYPE.itemsize == HEADER_SIZE
_RATE_BY_CODE = np.array([RATE_CODES_HZ.get(c, 0) for c in range(4)], dtype=np.int64)
_CODE_BY_RATE = {hz: code for code, hz in RATE_CODES_HZ.items()}


class Flags:
    """Bit masks of the packet's flags byte."""

    IMU = 0x01
    RATE_MASK = 0x06
    RATE_SHIFT = 1
    ZEROED = 0x08
    TIME_SYNCED = 0x10
    SATURATED = 0x20
    RESERVED = 0xC0


# error reasons reported by decode_packets
REASONS = {
    1: "short (no complete header)",
    2: "unknown protocol version",
    3: "invalid sampling-rate code",
    4: "zero sample count",
    5: "truncated (shorter than its sample count says)",
    6: "oversized (longer than its sample count says)",
}


def sample_size(*, imu: bool) -> int:
    """Bytes one sample takes in a packet (24, or 36 with the IMU block)."""
    return PRESSURE_BYTES + (IMU_BYTES if imu else 0)


def max_samples_per_packet(*, att_mtu: int, sampling_rate_hz: int, imu: bool = False) -> int:
    """How many samples the firmware puts in one notification.

    The firmware rule: as many as fit in ``att_mtu - 3`` bytes, and no more
    than cover :data:`insole.constants.MAX_BATCH_S` (40 ms) of signal.

    Parameters
    ----------
    att_mtu : int
        Negotiated ATT MTU in bytes (23 .. 517).
    sampling_rate_hz : int
        50, 100 or 200.
    imu : bool
        Whether samples carry the IMU block.
    """
    from ..constants import MAX_BATCH_S

    fit = (att_mtu - 3 - HEADER_SIZE) // sample_size(imu=imu)
    by_time = max(1, int(round(MAX_BATCH_S * sampling_rate_hz)))
    n = min(fit, by_time, 255)
    if n < 1:
        raise ProtocolError(f"ATT MTU {att_mtu} is too small for one sample; insoles need an MTU of at least 42")
    return n


@dataclass(frozen=True)
class DecodedPacket:
    """One decoded notification.

    Attributes
    ----------
    version, flags : int
        Header bytes as sent.
    first_index : int
        Sample index of the first sample (0 .. 2**32-1, wraps).
    device_time_us : int
        Device clock at the first sample, microseconds.
    sampling_rate_hz : int
        From the flags' rate code.
    raw : numpy.ndarray
        ``(n, 16)`` uint16 pressure codes, 0 .. 4095 (multiply by the
        layout's pressure LSB for kPa).
    imu : numpy.ndarray or None
        ``(n, 6)`` int16: acceleration x, y, z (1 mg per LSB) and angular
        rate x, y, z (0.1 deg/s per LSB), or None when absent.
    """

    version: int
    flags: int
    first_index: int
    device_time_us: int
    sampling_rate_hz: int
    raw: np.ndarray
    imu: np.ndarray | None = None

    @property
    def count(self) -> int:
        return int(self.raw.shape[0])

    @property
    def zeroed(self) -> bool:
        return bool(self.flags & Flags.ZEROED)

    @property
    def time_synced(self) -> bool:
        return bool(self.flags & Flags.TIME_SYNCED)

    @property
    def saturated(self) -> bool:
        return bool(self.flags & Flags.SATURATED)


def _pack12(raw: np.ndarray) -> np.ndarray:
    """(n, 16) codes -> (n, 24) bytes."""
    r = raw.astype(np.uint32).reshape(-1, N_SENSORS // 2, 2)
    w = r[..., 0] | (r[..., 1] << 12)
    out = np.empty((raw.shape[0], N_SENSORS // 2, 3), dtype=np.uint8)
    out[..., 0] = w & 0xFF
    out[..., 1] = (w >> 8) & 0xFF
    out[..., 2] = (w >> 16) & 0xFF
    return out.reshape(raw.shape[0], PRESSURE_BYTES)


def _unpack12(data: np.ndarray, *, out: np.ndarray | None = None, chunk: int = 65536) -> np.ndarray:
    """(n, 24) bytes -> (n, 16) uint16 codes, in chunks to bound temporaries."""
    n = data.shape[0]
    if out is None:
        out = np.empty((n, N_SENSORS), dtype=np.uint16)
    for lo in range(0, n, chunk):
        b = data[lo:lo + chunk].reshape(-1, N_SENSORS // 2, 3)
        w = b[..., 0].astype(np.uint32)
        w |= b[..., 1].astype(np.uint32) << 8
        w |= b[..., 2].astype(np.uint32) << 16
        o = out[lo:lo + chunk]
        o[:, 0::2] = w & 0xFFF
        o[:, 1::2] = w >> 12
    return out


def encode_packet(
    raw: np.ndarray,
    *,
    first_index: int,
    device_time_us: int,
    sampling_rate_hz: int,
    imu: np.ndarray | None = None,
    zeroed: bool = False,
    time_synced: bool = False,
) -> bytes:
    """Build one v1 data notification (what the firmware sends).

    Parameters
    ----------
    raw : array_like
        ``(n, 16)`` pressure codes, integers 0 .. 4095.
    first_index : int
        Sample index of the first sample; reduced modulo 2**32.
    device_time_us : int
        Device time of the first sample, microseconds (0 .. 2**64-1).
    sampling_rate_hz : int
        50, 100 or 200.
    imu : array_like, optional
        ``(n, 6)`` int16 IMU codes (see :class:`DecodedPacket`).
    zeroed, time_synced : bool
        Flag bits 3 and 4.

    Returns
    -------
    bytes
        ``15 + n * (24 or 36)`` bytes. The saturated flag is set when any
        code equals 4095.
    """
    raw = np.asarray(raw)
    if raw.ndim != 2 or raw.shape[1] != N_SENSORS or not 1 <= raw.shape[0] <= 255:
        raise ProtocolError(f"raw must be (n, {N_SENSORS}) with 1 <= n <= 255, got {raw.shape}")
    if raw.min() < 0 or raw.max() > MAX_RAW:
        raise ProtocolError("pressure codes must lie in 0 .. 4095")
    if sampling_rate_hz not in _CODE_BY_RATE:
        raise ProtocolError(f"sampling rate must be one of {sorted(_CODE_BY_RATE)} Hz, got {sampling_rate_hz}")
    n = raw.shape[0]
    flags = _CODE_BY_RATE[sampling_rate_hz] << Flags.RATE_SHIFT
    if imu is not None:
        imu = np.asarray(imu)
        if imu.shape != (n, 6):
            raise ProtocolError(f"imu must be ({n}, 6), got {imu.shape}")
        if imu.min() < -32768 or imu.max() > 32767:
            raise ProtocolError("IMU codes must fit int16 (-32768 .. 32767)")
        flags |= Flags.IMU
    if not 0 <= int(device_time_us) < 2**64:
        raise ProtocolError(f"device time {device_time_us} us does not fit u64")
    flags |= Flags.ZEROED if zeroed else 0
    flags |= Flags.TIME_SYNCED if time_synced else 0
    flags |= Flags.SATURATED if raw.max() == MAX_RAW else 0
    header = np.zeros(1, dtype=_HEADER_DTYPE)
    header["version"] = PROTOCOL_VERSION
    header["flags"] = flags
    header["first_index"] = int(first_index) % 2**32
    header["device_time_us"] = int(device_time_us)
    header["count"] = n
    body = _pack12(raw)
    if imu is not None:
        body = np.concatenate([body, imu.astype("<i2").view(np.uint8).reshape(n, IMU_BYTES)], axis=1)
    return header.tobytes() + body.tobytes()


def encode_packets(
    raw: np.ndarray,
    *,
    first_index: int,
    device_time_us: np.ndarray,
    sampling_rate_hz: int,
    samples_per_packet: int,
    imu: np.ndarray | None = None,
    zeroed: bool = False,
    time_synced: bool = False,
) -> list[bytes]:
    """Split a run of consecutive samples into packets (vectorised).

    Parameters
    ----------
    raw : numpy.ndarray
        ``(n, 16)`` pressure codes 0 .. 4095 of consecutive samples.
    first_index : int
        Index of ``raw[0]``.
    device_time_us : numpy.ndarray
        Device time of every sample, microseconds (length n).
    sampling_rate_hz : int
        50, 100 or 200.
    samples_per_packet : int
        Batch size; the last packet may be shorter.
    imu : numpy.ndarray, optional
        ``(n, 6)`` int16 IMU codes.

    Returns
    -------
    list of bytes
        The same bytes :func:`encode_packet` gives for each batch.
    """
    raw = np.asarray(raw)
    n = raw.shape[0]
    if n == 0:
        return []
    if raw.min() < 0 or raw.max() > MAX_RAW:
        raise ProtocolError("pressure codes must lie in 0 .. 4095")
    if sampling_rate_hz not in _CODE_BY_RATE or not 1 <= samples_per_packet <= 255:
        raise ProtocolError("invalid sampling rate or batch size")
    m = samples_per_packet
    n_full = n // m
    out: list[bytes] = []
    if n_full:
        size = sample_size(imu=imu is not None)
        body = _pack12(raw[: n_full * m])
        if imu is not None:
            body = np.concatenate([body, np.asarray(imu[: n_full * m]).astype("<i2").view(np.uint8)], axis=1)
        body = body.reshape(n_full, m * size)
        starts = np.arange(n_full) * m
        flags = np.full(n_full, _CODE_BY_RATE[sampling_rate_hz] << Flags.RATE_SHIFT, dtype=np.uint8)
        flags |= np.uint8(Flags.IMU if imu is not None else 0)
        flags |= np.uint8((Flags.ZEROED if zeroed else 0) | (Flags.TIME_SYNCED if time_synced else 0))
        sat = (raw[: n_full * m].reshape(n_full, -1) == MAX_RAW).any(axis=1)
        flags[sat] |= np.uint8(Flags.SATURATED)
        hdr = np.zeros(n_full, dtype=_HEADER_DTYPE)
        hdr["version"] = PROTOCOL_VERSION
        hdr["flags"] = flags
        hdr["first_index"] = (int(first_index) + starts) % 2**32
        hdr["device_time_us"] = np.asarray(device_time_us)[starts]
        hdr["count"] = m
        packed = np.concatenate([hdr.view(np.uint8).reshape(n_full, HEADER_SIZE), body], axis=1)
        out = [row.tobytes() for row in packed]
    if n_full * m < n:
        lo = n_full * m
        out.append(encode_packet(raw[lo:], first_index=first_index + lo, device_time_us=int(device_time_us[lo]),
                                 sampling_rate_hz=sampling_rate_hz, imu=None if imu is None else imu[lo:],
                                 zeroed=zeroed, time_synced=time_synced))
    return out


def decode_packet(payload: bytes) -> DecodedPacket:
    """Decode one v1 data notification.

    Raises
    ------
    ProtocolError
        For a short, truncated, oversized or unknown-version packet, or an
        invalid rate code or zero sample count.
    """
    batch = decode_packets([bytes(payload)])
    if batch.reasons[0]:
        raise ProtocolError(f"bad packet ({len(payload)} bytes): {REASONS[int(batch.reasons[0])]}")
    return DecodedPacket(
        version=int(batch.version[0]),
        flags=int(batch.flags[0]),
        first_index=int(batch.first_index[0]),
        device_time_us=int(batch.device_time_us[0]),
        sampling_rate_hz=int(batch.sampling_rate_hz[0]),
        raw=batch.raw,
        imu=batch.imu if batch.imu is not None and batch.flags[0] & Flags.IMU else None,
    )


@dataclass(frozen=True)
class PacketHeaders:
    """Headers of many packets, validated (vectorised).

    Attributes
    ----------
    reasons : numpy.ndarray
        uint8 per packet: 0 valid, else a key of :data:`REASONS`.
    version, flags, count : numpy.ndarray
        uint8 per packet (0 where the header was short).
    first_index : numpy.ndarray
        int64, 0 .. 2**32-1.
    device_time_us : numpy.ndarray
        uint64.
    sampling_rate_hz : numpy.ndarray
        int64 (0 where invalid).
    """

    reasons: np.ndarray
    version: np.ndarray
    flags: np.ndarray
    count: np.ndarray
    first_index: np.ndarray
    device_time_us: np.ndarray
    sampling_rate_hz: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        return self.reasons == 0

    @property
    def has_imu(self) -> np.ndarray:
        return (self.flags & Flags.IMU).astype(bool)

    def reason_counts(self) -> dict[str, int]:
        """Invalid packets counted by reason (empty when all are valid)."""
        codes, counts = np.unique(self.reasons[self.reasons > 0], return_counts=True)
        return {REASONS[int(c)]: int(k) for c, k in zip(codes, counts)}


@dataclass(frozen=True)
class DecodedBatch(PacketHeaders):
    """Many packets decoded at once (vectorised): their headers (all of
    :class:`PacketHeaders`, one entry per input payload, invalid ones
    included) and the samples of the valid packets in input order.

    Attributes
    ----------
    sample_packet : numpy.ndarray
        int64 per sample: position of its packet in the input.
    sample_index : numpy.ndarray
        int64 per sample: first_index + k, NOT reduced modulo 2**32 (the
        caller unwraps across packets).
    raw : numpy.ndarray
        ``(n_samples, 16)`` uint16 pressure codes.
    imu : numpy.ndarray or None
        ``(n_samples, 6)`` int16, rows of samples without IMU are 0; None when
        no valid packet had the IMU block.
    sample_has_imu : numpy.ndarray
        bool per sample.
    """

    sample_packet: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    sample_index: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    raw: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    imu: np.ndarray | None = field(default=None, repr=False)
    sample_has_imu: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]


def decode_headers(header_bytes: np.ndarray, lengths: np.ndarray) -> PacketHeaders:
    """Validate and parse packet headers.

    Parameters
    ----------
    header_bytes : numpy.ndarray
        ``(n, 15)`` uint8: each packet's first 15 bytes, zero-padded when the
        packet is shorter.
    lengths : numpy.ndarray
        Full length of each packet, bytes.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    n = lengths.size
    reasons = np.zeros(n, dtype=np.uint8)
    reasons[lengths < HEADER_SIZE] = 1
    hdr = np.ascontiguousarray(header_bytes, dtype=np.uint8).reshape(n, HEADER_SIZE).view(_HEADER_DTYPE).ravel()
    version = np.where(reasons == 0, hdr["version"], 0).astype(np.uint8)
    flags = np.where(reasons == 0, hdr["flags"], 0).astype(np.uint8)
    count = np.where(reasons == 0, hdr["count"], 0).astype(np.uint8)
    rate_code = (flags & Flags.RATE_MASK) >> Flags.RATE_SHIFT
    for code, bad in ((2, version != PROTOCOL_VERSION), (3, rate_code == 3), (4, count == 0)):
        reasons[(reasons == 0) & bad] = code
    imu_flag = (flags & Flags.IMU).astype(bool)
    expected = HEADER_SIZE + count.astype(np.int64) * np.where(imu_flag, PRESSURE_BYTES + IMU_BYTES, PRESSURE_BYTES)
    ok = reasons == 0
    reasons[ok & (lengths < expected)] = 5
    reasons[ok & (lengths > expected)] = 6
    valid = reasons == 0
    return PacketHeaders(
        reasons=reasons,
        version=version,
        flags=flags,
        count=count,
        first_index=np.where(reasons == 1, 0, hdr["first_index"]).astype(np.int64),
        device_time_us=np.where(reasons == 1, np.uint64(0), hdr["device_time_us"]).astype(np.uint64),
        sampling_rate_hz=np.where(valid, _RATE_BY_CODE[rate_code], 0),
    )


def decode_packets(payloads: Sequence[bytes]) -> DecodedBatch:
    """Decode a sequence of notifications without a per-sample Python loop.

    Invalid packets do not raise: they are marked in ``reasons`` and
    contribute no samples (a recording with one bad packet still loads).

    Parameters
    ----------
    payloads : sequence of bytes
        Notification payloads in arrival order.
    """
    n = len(payloads)
    lengths = np.fromiter(map(len, payloads), dtype=np.int64, count=n)
    buf = np.frombuffer(b"".join(payloads), dtype=np.uint8)
    starts = np.zeros(n, dtype=np.int64)
    if n:
        np.cumsum(lengths[:-1], out=starts[1:])
    head = np.zeros((n, HEADER_SIZE), dtype=np.uint8)
    full = lengths >= HEADER_SIZE
    if full.any():
        head[full] = buf[starts[full, None] + np.arange(HEADER_SIZE)]
    h = decode_headers(head, lengths)
    valid = h.valid
    imu_flag = h.has_imu

    # samples of the valid packets, grouped by sample size so each group's
    # data bytes reshape into one (m, size) block
    vcount = h.count.astype(np.int64) * valid
    n_samples = int(vcount.sum())
    sample_packet = np.repeat(np.arange(n, dtype=np.int64), vcount)
    sample_start = np.zeros(n, dtype=np.int64)
    if n:
        np.cumsum(vcount[:-1], out=sample_start[1:])
    sample_index = h.first_index[sample_packet] + (np.arange(n_samples, dtype=np.int64) - sample_start[sample_packet])
    raw = np.empty((n_samples, N_SENSORS), dtype=np.uint16)
    has_imu = imu_flag[sample_packet]
    imu = np.zeros((n_samples, 6), dtype=np.int16) if has_imu.any() else None
    for with_imu in (False, True):
        group = valid & (imu_flag == with_imu)
        if not group.any():
            continue
        size = sample_size(imu=with_imu)
        data = _gather_regions(buf, starts[group] + HEADER_SIZE, lengths[group] - HEADER_SIZE).reshape(-1, size)
        rows = np.flatnonzero(has_imu == with_imu)
        if rows.size == n_samples:
            _unpack12(data[:, :PRESSURE_BYTES], out=raw)
        else:
            raw[rows] = _unpack12(data[:, :PRESSURE_BYTES])
        if with_imu:
            imu[rows] = np.ascontiguousarray(data[:, PRESSURE_BYTES:]).view("<i2").reshape(-1, 6)
    if (h.reasons > 0).any():
        log.debug("decode_packets: %d of %d packets invalid", int((h.reasons > 0).sum()), n)
    return DecodedBatch(**vars(h), sample_packet=sample_packet, sample_index=sample_index, raw=raw, imu=imu,
                        sample_has_imu=has_imu)


def _gather_regions(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenate ``buf[s:s+l]`` for each region, vectorised.

    Uses a +1/-1 edge mask and a cumulative sum instead of an index array per
    byte, so memory stays at about one byte per input byte.
    """
    if len(starts) and (lengths == lengths[0]).all() and (np.diff(starts) == lengths[0] + HEADER_SIZE).all():
        # common case: equal packets back to back, a strided view suffices
        first = int(starts[0])
        step = int(lengths[0] + HEADER_SIZE)
        block = np.lib.stride_tricks.as_strided(
            buf[first:], shape=(len(starts), int(lengths[0])), strides=(step, 1), writeable=False
        )
        return np.ascontiguousarray(block).ravel()
    edges = np.zeros(buf.size + 1, dtype=np.int8)
    np.add.at(edges, starts, 1)
    np.add.at(edges, starts + lengths, -1)
    mask = np.cumsum(edges[:-1], dtype=np.int8).astype(bool)
    return buf[mask]
