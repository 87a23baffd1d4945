#!/usr/bin/env python3
"""Generate ``log_vectors.json`` for insole protocol v1.1 (the on-insole log).

This is an independent reference implementation of ``protocol_v1_1.md``: log
format 1 (pages, compression, records), the Log service commands, download
chunks, Log info, and claiming / command authentication. It deliberately does
NOT import the ``insole`` package and uses only the Python standard library
(``struct``, ``zlib``, ``hashlib``, ``hmac``, ``json``); X25519 (RFC 7748)
and HKDF-SHA256 (RFC 5869) are written out below and checked against the
RFCs' own test vectors every time the script runs.

Every vector is built from its inputs by the encoder below, then decoded
again by the decoder below; the script stops if they disagree.

Usage::

    python firmware_specs/make_log_vectors.py               # writes log_vectors.json next to this file
    python firmware_specs/make_log_vectors.py -o OUT.json   # writes elsewhere
    python firmware_specs/make_log_vectors.py --ratio FILE...  # compression ratio of recordings (prints JSON)

``--ratio`` reads PhysioNet gaitpdb text files (time, 8 + 8 sensors in N,
two totals) and Moticon OpenGo text exports (16 pressures per side in
N/cm^2), re-quantises each file to 12 bits (one LSB per file, its 99.9th
percentile at code 3900) and encodes each foot with this encoder.

The output is deterministic (no randomness, no timestamps).
``tests/test_log_vectors.py`` checks that the committed JSON equals a fresh
run.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import struct
import sys
import zlib
from pathlib import Path

# --------------------------------------------------------------------------
# constants of log format 1 (repeated here on purpose; see protocol_v1_1.md)
# --------------------------------------------------------------------------
PAGE_SIZE = 4096
HEADER = struct.Struct("<4sBBHIIQHBBhH")  # magic, version, kind, session, seq, first_index, time, n, n_rec, batt, temp, used
assert HEADER.size == 32
BODY_START = 32
BODY_SIZE = 4060
CRC_AT = 4092
MAGIC = b"ILOG"
LOG_FORMAT_VERSION = 1
KIND_HEADER, KIND_DATA, KIND_END = 1, 2, 3
RECORD = struct.Struct("<BbHIQQ")  # type, aux8 (int8 for BEACON rssi), aux16, aux32, a, b
assert RECORD.size == 24
REC_SYNC, REC_BEACON = 1, 2
N_SENSORS = 16
BLOCK_SAMPLES = 16
MAX_K = 14  # the largest Rice parameter a decoder accepts (the encoder's rule never exceeds 13)
ZERO_NIBBLE = 15  # nibble 15: every residual of the sensor in the block is 0, no bits in either stream
MAX_RESIDUAL = 2 * 0xFFF  # |x_j - 2 x_(j-1) + x_(j-2)| <= 8190 (|e_1| <= 4095)
MAX_CODE = 0xFFF
REFERENCE_BYTES = 24
END = struct.Struct("<B3xIIII")
assert END.size == 20
BATTERY_UNKNOWN = 0xFF
TEMPERATURE_UNKNOWN = -32768

RATE_HZ_BY_CODE = {0: 50, 1: 100, 2: 200}
RATE_CODE_BY_HZ = {hz: code for code, hz in RATE_HZ_BY_CODE.items()}
SIDE_BY_CODE = {0: "left", 1: "right"}
SIDE_CODE = {v: k for k, v in SIDE_BY_CODE.items()}
TRIGGERS = {1: "host", 2: "auto"}
TRIGGER_CODE = {v: k for k, v in TRIGGERS.items()}
END_REASONS = {1: "host", 2: "idle", 3: "battery", 4: "flash_full"}
END_REASON_CODE = {v: k for k, v in END_REASONS.items()}
DEVICE_STRINGS = ("manufacturer", "model", "serial", "firmware", "hardware")
PAGE_ERRORS = ("erased", "crc", "bad_magic", "unknown_version", "corrupt")  # in the order a decoder checks

# Log service
SERVICE_UUID = "7a1e0100-3c5b-4f9e-a8d2-5b1c0e9f4d21"
CHAR_UUIDS = {
    "log_control": "7a1e0101-3c5b-4f9e-a8d2-5b1c0e9f4d21",
    "log_data": "7a1e0102-3c5b-4f9e-a8d2-5b1c0e9f4d21",
    "log_info": "7a1e0103-3c5b-4f9e-a8d2-5b1c0e9f4d21",
    "challenge": "7a1e0104-3c5b-4f9e-a8d2-5b1c0e9f4d21",
}
OP_CLAIM, OP_LOG_START, OP_LOG_STOP, OP_SYNC_POINT = 0x20, 0x21, 0x22, 0x23
OP_LIST_SESSIONS, OP_READ, OP_ACK, OP_ERASE = 0x24, 0x25, 0x26, 0x27
#: opcode -> (name, struct of the fixed params, protected)
OPCODES = {
    OP_CLAIM: ("CLAIM", struct.Struct("<8s32s"), False),
    OP_LOG_START: ("LOG_START", struct.Struct("<BBHH"), True),  # + N bytes note
    OP_LOG_STOP: ("LOG_STOP", struct.Struct("<"), True),
    OP_SYNC_POINT: ("SYNC_POINT", struct.Struct("<QQI"), True),
    OP_LIST_SESSIONS: ("LIST_SESSIONS", struct.Struct("<"), True),
    OP_READ: ("READ", struct.Struct("<HIH"), True),
    OP_ACK: ("ACK", struct.Struct("<HI"), False),
    OP_ERASE: ("ERASE", struct.Struct("<HI"), True),
}
AUTH_BYTES = 8 + 16
NONCE_BYTES = 16
MAX_NOTE = 512
E_UNSUPPORTED, E_INVALID, E_STATE, E_NOT_AUTHORISED = 0x80, 0x81, 0x82, 0x83
E_WINDOW_CLOSED, E_NO_SESSION, E_VERIFY_FAILED = 0x84, 0x85, 0x86
RESPONSE = 0x80
LOG_INFO = struct.Struct("<BBBBIIIHHQI")
assert LOG_INFO.size == 32
LOG_STATES = {0: "idle", 1: "armed", 2: "logging"}
SESSION_ENTRY = struct.Struct("<HIIQQIB")
assert SESSION_ENTRY.size == 31
LIST_END = 0xFFFF
CHUNK_OVERHEAD = 8
CLAIM_INFO = b"insole-claim-v1"


class VectorError(ValueError):
    """The reference decoder's rejection, with a stable reason name."""

    def __init__(self, error: str, att_error: int | None = None):
        super().__init__(error)
        self.error = error
        self.att_error = att_error


# --------------------------------------------------------------------------
# CRC, zigzag, 12-bit packing (v1 section 5.4)
# --------------------------------------------------------------------------
def crc32(data: bytes) -> int:
    """IEEE 802.3 CRC-32: reflected, poly 0x04C11DB7 (0xEDB88320 reflected), init and xorout 0xFFFFFFFF."""
    return zlib.crc32(data) & 0xFFFFFFFF


def crc32_bitwise(data: bytes) -> int:
    """The same CRC, bit by bit, as a firmware would write it (checks zlib)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def zigzag(d: int) -> int:
    return 2 * d if d >= 0 else -2 * d - 1


def unzigzag(z: int) -> int:
    return z >> 1 if z % 2 == 0 else -((z + 1) >> 1)


def pack12(codes) -> bytes:
    out = bytearray()
    for j in range(0, N_SENSORS, 2):
        a, b = codes[j], codes[j + 1]
        out += bytes([a & 0xFF, (a >> 8) | ((b & 0x0F) << 4), b >> 4])
    return bytes(out)


def unpack12(data: bytes) -> list[int]:
    codes = []
    for j in range(0, REFERENCE_BYTES, 3):
        b0, b1, b2 = data[j], data[j + 1], data[j + 2]
        codes += [b0 | (b1 & 0x0F) << 8, b1 >> 4 | b2 << 4]
    return codes


# --------------------------------------------------------------------------
# bit streams (MSB first) and one compressed block
# --------------------------------------------------------------------------
class BitWriter:
    def __init__(self):
        self.acc = 0
        self.n = 0

    def write(self, value: int, width: int) -> None:
        self.acc = (self.acc << width) | value
        self.n += width

    def to_bytes(self) -> bytes:
        pad = -self.n % 8
        return ((self.acc << pad).to_bytes((self.n + pad) // 8, "big")) if self.n else b""


def bits_of(data: bytes) -> str:
    return "".join(format(b, "08b") for b in data)


def rice_k(zz: list[int]) -> int:
    """The normative encoder rule for one sensor's nibble in a block: 15 (zero mode) if every zz is 0,
    else k = max(0, bit_length(floor(sum / m)) - 1)."""
    if not any(zz):
        return ZERO_NIBBLE
    return max(0, (sum(zz) // len(zz)).bit_length() - 1)


def encode_block(zz: list[list[int]], nibbles: list[int] | None = None) -> tuple[bytes, list[int], bytes, bytes]:
    """zz[s][j] for 16 sensors x m samples -> (block bytes, nibble per sensor, unary stream, remainder stream).

    ``nibbles`` overrides the normative choice (for decoder-only vectors: any legal k 0..14, or 15 where
    every zz is 0)."""
    ks = [rice_k(row) for row in zz] if nibbles is None else list(nibbles)
    unary, rem = BitWriter(), BitWriter()
    for s in range(N_SENSORS):
        k = ks[s]
        if k == ZERO_NIBBLE:
            assert not any(zz[s])
            continue  # zero mode: no bits in either stream
        assert k <= MAX_K
        for z in zz[s]:
            q = z >> k
            unary.write(((1 << q) - 1) << 1, q + 1)
            if k:
                rem.write(z & ((1 << k) - 1), k)
    u, r = unary.to_bytes(), rem.to_bytes()
    kbytes = bytes(ks[2 * i] | ks[2 * i + 1] << 4 for i in range(8))
    return kbytes + struct.pack("<H", len(u)) + u + r, ks, u, r


def decode_block(section: bytes, at: int, m: int) -> tuple[list[list[int]], int]:
    """Decode one block of m samples at section[at:]; returns (zz[s][j], next offset). Raises 'corrupt'."""
    if at + 10 > len(section):
        raise VectorError("corrupt")
    ks = []
    for i in range(8):
        ks += [section[at + i] & 0x0F, section[at + i] >> 4]
    coded = [s for s in range(N_SENSORS) if ks[s] != ZERO_NIBBLE]  # every nibble is legal: 0..14 and 15
    (u_len,) = struct.unpack_from("<H", section, at + 8)
    at += 10
    r_len = (sum(m * ks[s] for s in coded) + 7) // 8
    if at + u_len + r_len > len(section):
        raise VectorError("corrupt")
    runs = bits_of(section[at:at + u_len]).split("0")
    if len(runs) - 1 < len(coded) * m:  # one zero-bit per value of the coded sensors; later bits are padding
        raise VectorError("corrupt")
    qs = iter(len(run) for run in runs[:len(coded) * m])
    rbits = bits_of(section[at + u_len:at + u_len + r_len])
    zz, pos = [], 0
    for s in range(N_SENSORS):
        k, row = ks[s], []
        if k == ZERO_NIBBLE:
            zz.append([0] * m)
            continue
        for _ in range(m):
            low = int(rbits[pos:pos + k], 2) if k else 0
            pos += k
            row.append(next(qs) << k | low)
        zz.append(row)
    return zz, at + u_len + r_len


def prediction(history: list[list[int]]) -> list[int]:
    """Prediction of the next sample from the page's samples so far: the reference alone -> itself
    (first order); else 2 x[j-1] - x[j-2] (second order, not clamped)."""
    if len(history) == 1:
        return list(history[-1])
    return [2 * a - b for a, b in zip(history[-1], history[-2])]


def block_zz(previous: list[list[int]], samples: list[list[int]]) -> list[list[int]]:
    """Zigzagged prediction residuals, sensor-major: zz[s][j] of samples[j][s] minus its prediction.

    ``previous``: [reference] for a page's first block, else the two samples of the page before the block."""
    history = [list(x) for x in previous[-2:]]
    rows = [[0] * len(samples) for _ in range(N_SENSORS)]
    for j, sample in enumerate(samples):
        pred = prediction(history)
        for s in range(N_SENSORS):
            rows[s][j] = zigzag(sample[s] - pred[s])
        history = [history[-1], list(sample)]
    return rows


def block_context(codes: list[list[int]], start: int, b: int) -> list[list[int]]:
    """The samples before the block that starts at codes[b] of the page that starts at codes[start]."""
    return codes[start:start + 1] if b == start + 1 else codes[b - 2:b]


def encode_section(samples: list[list[int]]) -> tuple[bytes, list[int]]:
    """Data section (reference + blocks) of consecutive samples; returns (bytes, block sizes)."""
    out, sizes = bytearray(pack12(samples[0])), []
    for b in range(1, len(samples), BLOCK_SAMPLES):
        block = encode_block(block_zz(block_context(samples, 0, b), samples[b:b + BLOCK_SAMPLES]))[0]
        sizes.append(len(block))
        out += block
    return bytes(out), sizes


def reconstruct(reference: list[int], residuals: list[list[int]]) -> list[list[int]]:
    """x = x_0 + cumsum(d), d = cumsum(e) (exact integers); raises 'corrupt' when a code leaves 0..4095."""
    samples, d = [list(reference)], [0] * N_SENSORS
    for e in residuals:
        d = [a + b for a, b in zip(d, e)]
        sample = [a + b for a, b in zip(samples[-1], d)]
        if min(sample) < 0 or max(sample) > MAX_CODE:
            raise VectorError("corrupt")
        samples.append(sample)
    return samples


def decode_section(section: bytes, n_samples: int) -> list[list[int]]:
    if n_samples < 1 or len(section) < REFERENCE_BYTES:
        raise VectorError("corrupt")
    residuals, at = [], REFERENCE_BYTES
    for b in range(1, n_samples, BLOCK_SAMPLES):
        m = min(BLOCK_SAMPLES, n_samples - b)
        zz, at = decode_block(section, at, m)
        residuals += [[unzigzag(zz[s][j]) for s in range(N_SENSORS)] for j in range(m)]
    return reconstruct(unpack12(section[:REFERENCE_BYTES]), residuals)


# --------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------
def sync_record(device_time_us: int, host_time_us: int, uncertainty_us: int) -> bytes:
    return RECORD.pack(REC_SYNC, 0, 0, uncertainty_us, device_time_us, host_time_us)


def beacon_record(device_time_us, peer_device_time_us, peer_side, peer_session, counter, rssi_dbm) -> bytes:
    aux32 = peer_session & 0xFFFF | SIDE_CODE[peer_side] << 16
    return RECORD.pack(REC_BEACON, rssi_dbm, counter, aux32, device_time_us, peer_device_time_us)


def decode_record(data: bytes) -> dict | None:
    rtype, aux8, aux16, aux32, a, b = RECORD.unpack(data)
    if rtype == REC_SYNC:
        return {"type": "sync", "device_time_us": a, "host_time_us": b, "uncertainty_us": aux32}
    if rtype == REC_BEACON:
        return {"type": "beacon", "device_time_us": a, "peer_device_time_us": b,
                "peer_side": SIDE_BY_CODE.get(aux32 >> 16 & 0xFF, aux32 >> 16 & 0xFF),
                "peer_session": aux32 & 0xFFFF, "counter": aux16, "rssi_dbm": aux8}
    return None  # other types: ignored (forward compatible)


def records_of(sync=(), beacons=()) -> list[tuple[int, bytes, dict]]:
    """(device time, bytes, decoded) in time order; equal times: SYNC before BEACON, then input order."""
    out = [(s["device_time_us"], 0, i, sync_record(s["device_time_us"], s["host_time_us"], s["uncertainty_us"]))
           for i, s in enumerate(sync)]
    out += [(b["device_time_us"], 1, i, beacon_record(b["device_time_us"], b["peer_device_time_us"],
                                                       b["peer_side"], b["peer_session"], b["counter"],
                                                       b["rssi_dbm"])) for i, b in enumerate(beacons)]
    out.sort(key=lambda r: r[:3])
    return [(t, raw, decode_record(raw)) for t, _, _, raw in out]


# --------------------------------------------------------------------------
# pages
# --------------------------------------------------------------------------
def temperature_code(temperature_c) -> int:
    return TEMPERATURE_UNKNOWN if temperature_c is None else round(temperature_c * 100)


def battery_code(battery_pct) -> int:
    return BATTERY_UNKNOWN if battery_pct is None else round(battery_pct)


def make_page(kind, *, session_id, seq, first_index, device_time_us, n_samples, section: bytes,
              records: list[bytes], battery_pct=None, temperature_c=None, version=LOG_FORMAT_VERSION,
              magic=MAGIC) -> bytes:
    body = section + b"".join(records)
    assert len(body) <= BODY_SIZE and len(records) <= 255
    head = HEADER.pack(magic, version, kind, session_id, seq, first_index % 2**32, device_time_us, n_samples,
                       len(records), battery_code(battery_pct), temperature_code(temperature_c), len(body))
    page = head + body + b"\xff" * (BODY_SIZE - len(body))
    return page + struct.pack("<I", crc32(page))


def encode_strings(device: dict) -> bytes:
    out = bytearray()
    for name in DEVICE_STRINGS:
        raw = device[name].encode("utf-8")
        assert len(raw) <= 32
        out += bytes([len(raw)]) + raw
    return bytes(out)


def note_bytes(note: dict) -> bytes:
    """The normative serialisation: compact JSON, keys in the given order, UTF-8; {} -> no bytes."""
    if not note:
        return b""
    raw = json.dumps(note, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert len(raw) <= MAX_NOTE
    return raw


def encode_header_page(header: dict, *, sync=(), battery_pct=None, temperature_c=None) -> bytes:
    layout = bytes.fromhex(header["layout"])
    note = note_bytes(header["note"])
    flags = (1 if header["zeroed"] else 0) | (2 if header["time_synced"] else 0)
    section = bytes([SIDE_CODE[header["side"]], RATE_CODE_BY_HZ[header["sampling_rate_hz"]],
                     TRIGGER_CODE[header["trigger"]], flags]) + struct.pack("<H", len(layout)) + layout
    section += encode_strings(header["device"]) + struct.pack("<H", len(note)) + note
    recs = [raw for _, raw, _ in records_of(sync)]
    return make_page(KIND_HEADER, session_id=header["session_id"], seq=0, first_index=header["start_index"],
                     device_time_us=header["start_device_time_us"], n_samples=0, section=section, records=recs,
                     battery_pct=battery_pct, temperature_c=temperature_c)


def encode_end_page(end: dict, *, session_id, seq, sync=()) -> bytes:
    section = END.pack(END_REASON_CODE[end["reason"]], end["n_samples"], end["n_data_pages"], end["lost_samples"], 0)
    recs = [raw for _, raw, _ in records_of(sync)]
    return make_page(KIND_END, session_id=session_id, seq=seq, first_index=end["end_index"],
                     device_time_us=end["end_device_time_us"], n_samples=0, section=section, records=recs)


def latest_at(series, t_us):
    """Latest value of a (device_time_us, value) series at or before t_us; None if none."""
    best = None
    for ts, value in series or ():
        if ts <= t_us:
            best = value
    return best


def encode_data_pages(codes: list[list[int]], *, session_id, first_index, device_time_us, sampling_rate_hz,
                      first_seq=1, sync=(), beacons=(), temperature=(), battery=()) -> list[bytes]:
    """Greedy page filling: a page takes whole blocks while the next block plus the records whose time is
    before the next page's first sample still fit; the last page takes every remaining record."""
    period_us = 1_000_000 // sampling_rate_hz
    assert period_us * sampling_rate_hz == 1_000_000
    pending = records_of(sync, beacons)
    pages, start, seq, n = [], 0, first_seq, len(codes)
    while start < n:
        section = bytearray(pack12(codes[start]))
        end = start + 1  # one past the page's last sample

        def n_rec(stop, pending=pending):
            """Records that belong to a page ending before sample `stop` (all of them on the last page)."""
            if stop >= n:
                return len(pending)
            t_next = device_time_us + stop * period_us
            return sum(1 for t, _, _ in pending if t < t_next)

        assert REFERENCE_BYTES + RECORD.size * n_rec(end) <= BODY_SIZE, "records alone overflow a page"
        while end < n:
            block = encode_block(block_zz(block_context(codes, start, end), codes[end:end + BLOCK_SAMPLES]))[0]
            stop = min(n, end + BLOCK_SAMPLES)
            if len(section) + len(block) + RECORD.size * n_rec(stop) > BODY_SIZE or n_rec(stop) > 255:
                break
            section += block
            end = stop
        take = n_rec(end)
        recs, pending = [raw for _, raw, _ in pending[:take]], pending[take:]
        t0 = device_time_us + start * period_us
        pages.append(make_page(KIND_DATA, session_id=session_id, seq=seq, first_index=first_index + start,
                               device_time_us=t0, n_samples=end - start, section=bytes(section), records=recs,
                               battery_pct=latest_at(battery, t0), temperature_c=latest_at(temperature, t0)))
        start, seq = end, seq + 1
    return pages


def decode_strings(section: bytes, at: int) -> tuple[dict, int]:
    out = {}
    for name in DEVICE_STRINGS:
        if at >= len(section) or at + 1 + section[at] > len(section):
            raise VectorError("corrupt")
        out[name] = section[at + 1:at + 1 + section[at]].decode("utf-8", "replace")
        at += 1 + section[at]
    return out, at


def decode_header_section(section: bytes) -> dict:
    if len(section) < 6:
        raise VectorError("corrupt")
    side, rate, trigger, flags, length = struct.unpack_from("<BBBBH", section)
    if side not in SIDE_BY_CODE or rate not in RATE_HZ_BY_CODE or trigger not in TRIGGERS:
        raise VectorError("corrupt")
    at = 6 + length
    if at > len(section):
        raise VectorError("corrupt")
    device, at = decode_strings(section, 6 + length)
    if at + 2 > len(section):
        raise VectorError("corrupt")
    (n_note,) = struct.unpack_from("<H", section, at)
    if at + 2 + n_note != len(section):
        raise VectorError("corrupt")
    note = {}
    if n_note:
        try:
            parsed = json.loads(section[at + 2:].decode("utf-8"))
            note = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            note = {}
    return {"side": SIDE_BY_CODE[side], "sampling_rate_hz": RATE_HZ_BY_CODE[rate], "trigger": TRIGGERS[trigger],
            "zeroed": bool(flags & 1), "time_synced": bool(flags & 2), "layout": section[6:6 + length].hex(),
            "device": device, "note": note}


def decode_page(page: bytes) -> dict:
    """Reference page decoder; raises VectorError(reason) with reasons checked in PAGE_ERRORS order."""
    assert len(page) == PAGE_SIZE
    if page[:4] == b"\xff\xff\xff\xff":
        raise VectorError("erased")
    if crc32(page[:CRC_AT]) != struct.unpack_from("<I", page, CRC_AT)[0]:
        raise VectorError("crc")
    magic, version, kind, session, seq, first, t_us, n, n_rec, batt, temp, used = HEADER.unpack_from(page)
    if magic != MAGIC:
        raise VectorError("bad_magic")
    if version != LOG_FORMAT_VERSION:
        raise VectorError("unknown_version")
    if kind not in (KIND_HEADER, KIND_DATA, KIND_END) or used > BODY_SIZE or RECORD.size * n_rec > used:
        raise VectorError("corrupt")
    body = page[BODY_START:BODY_START + used]
    section = body[:used - RECORD.size * n_rec]
    records = [decode_record(body[len(section) + i * RECORD.size:len(section) + (i + 1) * RECORD.size])
               for i in range(n_rec)]
    out = {"kind": {1: "header", 2: "data", 3: "end"}[kind], "session_id": session, "seq": seq,
           "first_index": first, "device_time_us": t_us, "n_samples": n,
           "battery_pct": None if batt == BATTERY_UNKNOWN else batt,
           "temperature_c": None if temp == TEMPERATURE_UNKNOWN else temp / 100,
           "records": [r for r in records if r is not None]}
    if kind == KIND_DATA:
        out["codes"] = decode_section(section, n)
    elif n != 0:
        raise VectorError("corrupt")
    elif kind == KIND_HEADER:
        out["header"] = decode_header_section(section)
    else:
        if len(section) != END.size:
            raise VectorError("corrupt")
        reason, samples, pages, lost, _ = END.unpack(section)
        if reason not in END_REASONS:
            raise VectorError("corrupt")
        out["end"] = {"reason": END_REASONS[reason], "n_samples": samples, "n_data_pages": pages,
                      "lost_samples": lost}
    return out


def decode_image(image: bytes) -> dict:
    """A session image (pages in seq order) -> header, end, codes, sync, beacons, problems."""
    assert len(image) % PAGE_SIZE == 0
    header = end = None
    codes, sync, beacons, problems, seen = [], [], [], {}, set()
    session = None
    for i in range(0, len(image), PAGE_SIZE):
        try:
            p = decode_page(image[i:i + PAGE_SIZE])
        except VectorError as exc:
            problems[exc.error] = problems.get(exc.error, 0) + 1
            continue
        session = p["session_id"] if session is None else session
        if p["session_id"] != session:
            problems["other_session"] = problems.get("other_session", 0) + 1
            continue
        if p["seq"] in seen:
            problems["duplicate_seq"] = problems.get("duplicate_seq", 0) + 1
            continue
        seen.add(p["seq"])
        if p["kind"] == "header":
            header = p["header"]
        elif p["kind"] == "end":
            end = p["end"]
        else:
            codes += p["codes"]
        sync += [r for r in p["records"] if r["type"] == "sync"]
        beacons += [r for r in p["records"] if r["type"] == "beacon"]
    sync.sort(key=lambda r: r["device_time_us"])
    beacons.sort(key=lambda r: r["device_time_us"])
    return {"session_id": session, "header": header, "end": end, "codes": codes, "sync": sync,
            "beacons": beacons, "problems": problems}


# --------------------------------------------------------------------------
# X25519 (RFC 7748), HKDF-SHA256 (RFC 5869), command authentication
# --------------------------------------------------------------------------
P25519 = 2**255 - 19
A24 = 121665


def x25519(scalar: bytes, u: bytes) -> bytes:
    """RFC 7748 section 5: the Montgomery ladder on Curve25519."""
    k = bytearray(scalar)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    k_int = int.from_bytes(k, "little")
    x1 = int.from_bytes(u, "little") & ((1 << 255) - 1)
    x2, z2, x3, z3, swap = 1, 0, x1, 1, 0
    for t in reversed(range(255)):
        bit = k_int >> t & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = (x2 + z2) % P25519, (x2 - z2) % P25519
        aa, bb = a * a % P25519, b * b % P25519
        e = (aa - bb) % P25519
        c, d = (x3 + z3) % P25519, (x3 - z3) % P25519
        da, cb = d * a % P25519, c * b % P25519
        x3, z3 = (da + cb) ** 2 % P25519, x1 * (da - cb) ** 2 % P25519
        x2, z2 = aa * bb % P25519, e * (aa + A24 * e) % P25519
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, P25519 - 2, P25519) % P25519).to_bytes(32, "little")


def x25519_public(private: bytes) -> bytes:
    return x25519(private, (9).to_bytes(32, "little"))


def hkdf_sha256(ikm: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    prk = hmac.new(salt or b"\x00" * 32, ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def claim_key(shared: bytes, *, host_id: bytes, serial: str) -> bytes:
    return hkdf_sha256(shared, salt=host_id + serial.encode("utf-8"), info=CLAIM_INFO, length=16)


def self_check_crypto() -> None:
    # RFC 7748 section 5.2, first test vector
    assert x25519(bytes.fromhex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
                  bytes.fromhex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")).hex() == \
        "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"
    # RFC 7748 section 6.1 (Diffie-Hellman)
    a = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    b = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
    assert x25519_public(a).hex() == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    assert x25519_public(b).hex() == "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
    assert x25519(a, x25519_public(b)).hex() == "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    # RFC 5869 test case 1
    okm = hkdf_sha256(bytes([0x0B] * 22), salt=bytes(range(13)), info=bytes(range(0xF0, 0xFA)), length=42)
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                         "34007208d5b887185865")
    assert crc32(b"123456789") == crc32_bitwise(b"123456789") == 0xCBF43926


def tag_of(command: bytes, *, key: bytes, host_id: bytes, nonce: bytes) -> bytes:
    return hmac.new(key, nonce + command + host_id, hashlib.sha256).digest()[:16]


def sign(command: bytes, *, key: bytes, host_id: bytes, nonce: bytes) -> bytes:
    return command + host_id + tag_of(command, key=key, host_id=host_id, nonce=nonce)


# --------------------------------------------------------------------------
# commands and the device's checks
# --------------------------------------------------------------------------
def encode_command(name: str, **p) -> bytes:
    if name == "CLAIM":
        return bytes([OP_CLAIM]) + p["host_id"] + p["public_key"]
    if name == "LOG_START":
        note = note_bytes(p.get("note") or {})
        return bytes([OP_LOG_START]) + struct.pack("<BBHH", RATE_CODE_BY_HZ[p["rate_hz"]], 1 if p["auto"] else 0,
                                                   p["idle_stop_s"], len(note)) + note
    if name == "LOG_STOP":
        return bytes([OP_LOG_STOP])
    if name == "SYNC_POINT":
        return bytes([OP_SYNC_POINT]) + struct.pack("<QQI", p["device_time_us"], p["host_time_us"],
                                                    p["uncertainty_us"])
    if name == "LIST_SESSIONS":
        return bytes([OP_LIST_SESSIONS])
    if name == "READ":
        return bytes([OP_READ]) + struct.pack("<HIH", p["session_id"], p["offset"], p["window"])
    if name == "ACK":
        return bytes([OP_ACK]) + struct.pack("<HI", p["session_id"], p["offset"])
    if name == "ERASE":
        return bytes([OP_ERASE]) + struct.pack("<HI", p["session_id"], p["crc32"])
    raise KeyError(name)


def expected_length(data: bytes) -> int | None:
    """Length a write with this opcode must have (None: cannot tell yet, too short for its N)."""
    _, params, protected = OPCODES[data[0]]
    base = 1 + params.size + (AUTH_BYTES if protected else 0)
    if data[0] == OP_LOG_START:
        if len(data) < 7:
            return None
        return base + struct.unpack_from("<H", data, 5)[0]
    return base


def decode_params(op: int, body: bytes) -> dict:
    params = OPCODES[op][1]
    values = params.unpack_from(body, 1)
    if op == OP_CLAIM:
        return {"host_id": values[0].hex(), "public_key": values[1].hex()}
    if op == OP_LOG_START:
        rate, mode, idle, n = values
        note = json.loads(body[7:7 + n].decode("utf-8")) if n else {}
        return {"rate_code": rate, "mode": mode, "idle_stop_s": idle, "note": note}
    keys = {OP_SYNC_POINT: ("device_time_us", "host_time_us", "uncertainty_us"),
            OP_READ: ("session_id", "offset", "window"), OP_ACK: ("session_id", "offset"),
            OP_ERASE: ("session_id", "crc32")}.get(op, ())
    return dict(zip(keys, values))


def device_check(data: bytes, device: dict) -> int:
    """The device's answer to one write on the Log control point: 0 (accepted) or an ATT error code.

    ``device``: keys {host_id hex: key hex}, nonce hex, claim_window_open, state (idle/armed/logging),
    free_pages, battery_pct, sessions {id: {image_bytes, crc32, open}}. Checks: opcode, length, auth, value,
    state; for CLAIM the window (0x84) before the key (0x81: all-zero or low-order, shared secret 0).
    """
    if not data:
        return E_INVALID  # as in v1: an empty write is an invalid parameter
    if data[0] not in OPCODES:
        return E_UNSUPPORTED
    op = data[0]
    want = expected_length(data)
    if want is None or len(data) != want:
        return E_INVALID
    _, _, protected = OPCODES[op]
    body = data
    if protected:
        body, host_id, tag = data[:-AUTH_BYTES], data[-AUTH_BYTES:-16], data[-16:]
        key = device["keys"].get(host_id.hex())
        if key is None:
            return E_NOT_AUTHORISED
        good = tag_of(body, key=bytes.fromhex(key), host_id=host_id, nonce=bytes.fromhex(device["nonce"]))
        if not hmac.compare_digest(good, tag):
            return E_NOT_AUTHORISED
    p = decode_params(op, body)
    sessions = {int(k): v for k, v in device.get("sessions", {}).items()}
    if op == OP_CLAIM:
        if not device["claim_window_open"]:
            return E_WINDOW_CLOSED
        peer = bytes.fromhex(p["public_key"])
        if peer == bytes(32) or x25519(bytes(range(32)), peer) == bytes(32):  # a low-order key: shared secret 0
            return E_INVALID
    elif op == OP_LOG_START:
        if p["rate_code"] not in RATE_HZ_BY_CODE or p["mode"] not in (0, 1):
            return E_INVALID
        if p["idle_stop_s"] != 0 and not 60 <= p["idle_stop_s"] <= 3600:
            return E_INVALID
        if len(body) - 7 > MAX_NOTE:
            return E_INVALID
        if device["state"] != "idle" or device.get("free_pages", 100) < 3 or device.get("battery_pct", 87) <= 5:
            return E_STATE
    elif op in (OP_READ, OP_ERASE):
        if op == OP_READ and not 1 <= p["window"] <= 64:
            return E_INVALID
        s = sessions.get(p["session_id"])
        if s is None:
            return E_NO_SESSION
        if s["open"]:
            return E_STATE
        if op == OP_READ and p["offset"] > s["image_bytes"]:
            return E_NO_SESSION
        if op == OP_ERASE and p["crc32"] != s["crc32"]:
            return E_VERIFY_FAILED
    return 0


# --------------------------------------------------------------------------
# chunks, Log info, LIST_SESSIONS entries
# --------------------------------------------------------------------------
def encode_chunk(offset: int, data: bytes) -> bytes:
    head = struct.pack("<I", offset)
    return head + data + struct.pack("<I", crc32(head + data))


def decode_chunk(raw: bytes) -> tuple[int, bytes]:
    if len(raw) < CHUNK_OVERHEAD + 1:
        raise VectorError("short")
    if crc32(raw[:-4]) != struct.unpack_from("<I", raw, len(raw) - 4)[0]:
        raise VectorError("crc")
    return struct.unpack_from("<I", raw)[0], raw[4:-4]


def encode_log_info(info: dict) -> bytes:
    state = {v: k for k, v in LOG_STATES.items()}[info["state"]]
    flags = (1 if info["claimed"] else 0) | (2 if info["window_open"] else 0) | (4 if info["battery_low"] else 0)
    return LOG_INFO.pack(info["format_version"], state, flags, info["battery_pct"], info["page_size"],
                         info["capacity_pages"], info["used_pages"], info["sessions"], info["current_session"],
                         info["device_time_us"], 0)


def decode_log_info(raw: bytes) -> dict:
    if len(raw) != LOG_INFO.size:
        raise VectorError("bad_length")
    ver, state, flags, batt, page, cap, used, sessions, current, t_us, _ = LOG_INFO.unpack(raw)
    if state not in LOG_STATES:
        raise VectorError("bad_state")
    return {"format_version": ver, "state": LOG_STATES[state], "claimed": bool(flags & 1),
            "window_open": bool(flags & 2), "battery_low": bool(flags & 4), "battery_pct": batt, "page_size": page,
            "capacity_pages": cap, "used_pages": used, "sessions": sessions, "current_session": current,
            "device_time_us": t_us}


def encode_session_entry(e: dict) -> bytes:
    flags = (1 if e["complete"] else 0) | (2 if e["open"] else 0)
    return bytes([RESPONSE, OP_LIST_SESSIONS, 0]) + SESSION_ENTRY.pack(
        e["session_id"], e["image_bytes"], e["samples"], e["start_device_time_us"], e["start_host_time_us"],
        e["duration_ms"], flags)


def decode_response(raw: bytes) -> dict:
    if len(raw) < 3 or raw[0] != RESPONSE:
        raise VectorError("bad_response")
    out = {"opcode": raw[1], "result": raw[2]}
    payload = raw[3:]
    if raw[1] == OP_LIST_SESSIONS:
        if payload == b"\xff\xff":
            out["end"] = True
            return out
        sid, image, samples, t_dev, t_host, dur, flags = SESSION_ENTRY.unpack(payload)
        out["entry"] = {"session_id": sid, "image_bytes": image, "samples": samples, "start_device_time_us": t_dev,
                        "start_host_time_us": t_host, "duration_ms": dur, "complete": bool(flags & 1),
                        "open": bool(flags & 2)}
    elif raw[1] == OP_CLAIM:
        assert len(payload) == 32
        out["public_key"] = payload.hex()
    return out


# --------------------------------------------------------------------------
# test signals (integer formulas: identical on every platform)
# --------------------------------------------------------------------------
def lcg(seed: int):
    x = seed
    while True:
        x = (1103515245 * x + 12345) % 2**31
        yield x


def gait_codes(n: int, *, rate_hz: int = 200, seed: int = 1, noise: int = 3) -> list[list[int]]:
    """Gait-like codes: stride 1.1 s, stance 62 %, each sensor a parabolic hump inside stance (heel first,
    toes last), plus uniform noise of 0..2 x noise codes; clipped to 0..4095."""
    rnd = lcg(seed)
    stride = rate_hz * 11 // 10
    stance = stride * 62 // 100
    out = []
    for i in range(n):
        x = i % stride
        sample = []
        for s in range(N_SENSORS):
            start = s * stance // 24
            width = stance // 2
            amp = 900 + 150 * (s % 5) + 40 * s
            v = 0
            if start <= x < start + width:
                u = x - start
                v = amp * 4 * u * (width - u) // (width * width)
            v += next(rnd) % (2 * noise + 1)
            sample.append(max(0, min(MAX_CODE, v)))
        out.append(sample)
    return out


def layout_hex() -> str:
    """The v1 reference layout value (left) from test_vectors.json, verbatim."""
    vectors = json.loads(Path(__file__).with_name("test_vectors.json").read_text(encoding="utf-8"))
    return next(v["hex"] for v in vectors["layouts"] if v["name"] == "reference_left_eu42")


# --------------------------------------------------------------------------
# vectors
# --------------------------------------------------------------------------
def crc_vectors() -> list[dict]:
    out = []
    for name, data in (("check_123456789", b"123456789"), ("empty", b""), ("erased_page_body", b"\xff" * CRC_AT)):
        c = crc32(data)
        assert c == crc32_bitwise(data)
        out.append({"name": name, "hex": data.hex() if len(data) < 64 else None, "length": len(data),
                    "fill": "ff" if name == "erased_page_body" else None, "crc32": c, "crc32_hex": f"{c:08x}"})
    return out


def zigzag_vectors() -> list[dict]:
    out = []
    for e in (0, -1, 1, -2, 2, 100, -100, 4095, -4095, 8190, -8190):
        z = zigzag(e)
        assert unzigzag(z) == e
        out.append({"residual": e, "zz": z})
    return out


def page_residuals(previous: list[list[int]], samples: list[list[int]]) -> list[list[int]]:
    """Residuals e[s][j] (sensor-major) of a block, unzigzagged (for the vectors' readers)."""
    return [[unzigzag(z) for z in row] for row in block_zz(previous, samples)]


def block_vectors() -> list[dict]:
    """Single blocks: the page's samples before the block + m samples -> nibbles, streams, bytes."""
    cases = []
    ref = [100 + 10 * s for s in range(16)]
    tracks = {1: [113, 116, 119, 122], 2: [125, 128, 129, 128], 3: [131, 131, 130, 131], 15: [250, 251, 251, 251]}
    worked = [[tracks[s][j] if s in tracks else ref[s] for s in range(16)] for j in range(4)]
    cases.append(("worked_example_m4", "The worked example of protocol_v1_1.md: the first block of a page (previous = "
                  "the reference), 4 samples; 12 sensors constant (nibble 15).", [ref], worked, None))
    flat = [[1000 + s for s in range(16)]] * 2
    cases.append(("all_zero_m16", "16 samples continuing two equal samples: every residual 0, every nibble 15, "
                  "U = 0, no streams (10 bytes).", flat, [flat[0]] * 16, None))
    parab = [[(1200 + 40 * s) - (j - 8 - s % 4) ** 2 * (s % 4 + 1) + (j * (s + 3) % 5) for s in range(16)]
             for j in range(18)]
    cases.append(("parabolas_m16", "Parabolic rise and fall of each sensor plus a small periodic ripple: small "
                  "second-order residuals.", parab[:2], parab[2:], None))
    cases.append(("single_sample_m1", "m = 1 (a page's last block may be that short), after two samples.",
                  parab[:2], parab[2:3], None))
    alt = [[4095 * ((j + s) % 2) for s in range(16)] for j in range(18)]
    cases.append(("extremes_k13_m16", "0 <-> 4095 every sample (odd sensors in antiphase): residuals +-8190, zz "
                  "16380 / 16379, nibble 13 for every sensor (the largest the encoder's rule gives), every q = 1.",
                  alt[:2], alt[2:], None))
    cases.append(("first_block_extremes_m16", "The first block of a page whose reference is 0 / 4095 and which "
                  "then alternates: e_1 = +-4095 (first order), then +-8190.", alt[:1], alt[1:17], None))
    spike = [[2000] * 16 for _ in range(18)]
    for s in range(16):
        spike[2 + s][s] = 2000 + 4 * s  # one step of each sensor at its own sample
    cases.append(("steps_m16", "A step of 4 x s codes of sensor s at sample s of the block: residuals +a, -2a, "
                  "+a around it; sensor 0 stays in zero mode.", spike[:2], spike[2:], None))
    one = [[3000] * 16 for _ in range(18)]
    one[17][7] = 3000 - 1024
    cases.append(("one_step_q31_m16", "Sensor 7 drops by 1024 codes at the block's last sample: one residual -1024 "
                  "(zz 2047), mean 127, k = 6, q = 31: the longest unary run the rule allows (q < 2m = 32); the "
                  "other sensors in zero mode.", one[:2], one[2:], None))
    small = parab[2:18]
    zz_small = block_zz(parab[:2], small)
    forced = [14 if s % 2 else 13 for s in range(16)]
    forced[0] = 0
    cases.append(("k13_k14_decoder_only_m16", "The parabolas_m16 block written with nibbles 13 / 14 (sensor 0: 0) "
                  "instead of the encoder's choice: legal, so decoders must accept it (q = 0, 13 or 14 remainder "
                  "bits per value); an encoder never writes it (encoder_output false).", parab[:2], small, forced))
    assert max(max(r) for r in zz_small) < 2 ** 13
    out = []
    for name, desc, prev, samples, nibbles in cases:
        assert all(0 <= x <= MAX_CODE for sample in prev + samples for x in sample), name
        zz = block_zz(prev, samples)
        raw, ks, u, r = encode_block(zz, nibbles)
        back, at = decode_block(raw, 0, len(samples))
        assert back == zz and at == len(raw), name
        rows = [[unzigzag(zz[s][j]) for s in range(16)] for j in range(len(samples))]
        history = [list(x) for x in prev]
        rec = reconstruct(history[-1], rows) if len(history) == 1 else None
        if rec is None:  # continue the page: d starts at the last difference before the block
            d0 = [a - b for a, b in zip(history[-1], history[-2])]
            rec = [history[-1]]
            for e in rows:
                d0 = [a + b for a, b in zip(d0, e)]
                rec.append([a + b for a, b in zip(rec[-1], d0)])
        assert rec[1:] == [list(x) for x in samples], name
        coded = [k for k in ks if k != ZERO_NIBBLE]
        out.append({"name": name, "description": desc, "m": len(samples), "encoder_output": nibbles is None,
                    "previous": [list(x) for x in prev], "samples": [list(x) for x in samples],
                    "residuals": page_residuals(prev, samples), "zz": zz, "k": ks, "unary_hex": u.hex(),
                    "unary_bits": sum((z >> k) + 1 for row, k in zip(zz, ks) if k != ZERO_NIBBLE for z in row),
                    "remainder_hex": r.hex(), "remainder_bits": sum(len(samples) * k for k in coded),
                    "hex": raw.hex()})
    by_name = {v["name"]: v for v in out}
    assert by_name["all_zero_m16"]["hex"] == "ff" * 8 + "0000"
    assert set(by_name["extremes_k13_m16"]["k"]) == {13}
    assert max(max(row) >> k for row, k in zip(by_name["one_step_q31_m16"]["zz"], by_name["one_step_q31_m16"]["k"])
               if k != ZERO_NIBBLE) == 31
    return out


def header_vector_inputs():
    device = {"manufacturer": "Insole Lab", "model": "IL-16", "serial": "SIM-L-0000", "firmware": "1.1.0",
              "hardware": "B"}
    header = {"session_id": 7, "side": "left", "sampling_rate_hz": 200, "start_index": 123456,
              "start_device_time_us": 1_732_190_400_000_000, "trigger": "host", "zeroed": True,
              "time_synced": True, "layout": layout_hex(), "device": device,
              "note": {"subject": "Ann", "body_mass_kg": 61.0}}
    sync = [{"device_time_us": 1_732_190_399_950_000, "host_time_us": 1_732_190_399_951_234,
             "uncertainty_us": 3750}]
    return header, sync


def page_entry(name, description, page: bytes, inputs: dict, expected: dict, kind: str) -> dict:
    got = decode_page(page)
    for key, value in expected.items():
        assert got[key] == value, (name, key, got[key], value)
    return {"name": name, "description": description, "kind": kind, "valid": True, "encoder_output": True,
            "inputs": inputs, "expected": got, "hex": page.hex()}


def decoder_only_page() -> dict:
    """A legal data page that the normative encoder would not write: nibbles 13 / 14 where the rule gives 0..4,
    and a block with one sensor in zero mode next to coded ones; decoders must accept it."""
    codes = [[(1200 + 40 * s) - (j - 8 - s % 4) ** 2 * (s % 4 + 1) + (j * (s + 3) % 5) for s in range(16)]
             for j in range(17)]
    codes += [list(codes[-1]) for _ in range(5)]  # then 5 samples continuing the last difference: see below
    for j in range(17, 22):
        codes[j] = [2 * a - b for a, b in zip(codes[j - 1], codes[j - 2])]  # second-order residual 0
        codes[j][5] += 1  # except sensor 5
    section = bytearray(pack12(codes[0]))
    nibbles = [[14 if s % 2 else 13 for s in range(16)], None]
    for b, forced in zip(range(1, len(codes), BLOCK_SAMPLES), nibbles):
        zz = block_zz(block_context(codes, 0, b), codes[b:b + BLOCK_SAMPLES])
        if forced is None:  # the last block (m = 5): zero mode for all but sensor 5, which gets k = 14
            forced = [ZERO_NIBBLE if not any(row) else 14 for row in zz]
            assert forced.count(14) == 1
        section += encode_block(zz, forced)[0]
    page = make_page(KIND_DATA, session_id=7, seq=1, first_index=123456, device_time_us=1_732_190_400_000_000,
                     n_samples=len(codes), section=bytes(section), records=[])
    got = decode_page(page)
    assert got["codes"] == codes
    assert encode_data_pages(codes, session_id=7, first_index=123456, device_time_us=1_732_190_400_000_000,
                             sampling_rate_hz=200)[0] != page  # not what the encoder writes
    return {"name": "data_k13_k14_decoder_only", "description": "22 samples written with nibbles 13 / 14 (the "
            "encoder's rule gives 0..4 here) and, in the last block (m = 5), zero mode for 15 sensors and k = 14 "
            "for sensor 5: a legal page an encoder does not write; decoders must accept it (encoder_output false).",
            "kind": "data", "valid": True, "encoder_output": False,
            "inputs": {"codes": codes, "session_id": 7, "first_index": 123456,
                       "device_time_us": 1_732_190_400_000_000, "sampling_rate_hz": 200, "first_seq": 1, "sync": [],
                       "beacons": [], "temperature": [], "battery": []},
            "expected": got, "hex": page.hex()}


def data_expected(codes, *, session_id, seq, first_index, device_time_us, records=(), battery=None, temp=None):
    return {"kind": "data", "session_id": session_id, "seq": seq, "first_index": first_index % 2**32,
            "device_time_us": device_time_us, "n_samples": len(codes), "codes": [list(c) for c in codes],
            "battery_pct": battery, "temperature_c": temp, "records": list(records)}


def page_vectors() -> list[dict]:
    out = []
    header, sync = header_vector_inputs()
    page = encode_header_page(header, sync=sync, battery_pct=87, temperature_c=24.5)
    out.append(page_entry("session_header", "Session header page: left, 200 Hz, host start, zeroed and time "
                          "synced, the v1 reference layout (106 bytes), five device strings, a JSON note and the "
                          "start sync point as its one record.", page,
                          {"header": header, "sync": sync, "battery_pct": 87, "temperature_c": 24.5},
                          {"kind": "header", "session_id": 7, "seq": 0, "first_index": 123456, "n_samples": 0,
                           "battery_pct": 87, "temperature_c": 24.5,
                           "header": {k: header[k] for k in ("side", "sampling_rate_hz", "trigger", "zeroed",
                                                             "time_synced", "layout", "device", "note")},
                           "records": [dict(type="sync", **sync[0])]}, "header"))
    h2 = dict(header, session_id=8, trigger="auto", zeroed=False, time_synced=False, note={},
              start_device_time_us=90_000_000, start_index=0)
    page = encode_header_page(h2)
    out.append(page_entry("session_header_auto_no_note", "Armed auto start, no note (N = 0), no sync point, "
                          "battery and temperature unknown (0xFF, -32768).", page,
                          {"header": h2, "sync": [], "battery_pct": None, "temperature_c": None},
                          {"battery_pct": None, "temperature_c": None, "records": [],
                           "header": {k: h2[k] for k in ("side", "sampling_rate_hz", "trigger", "zeroed",
                                                         "time_synced", "layout", "device", "note")}}, "header"))

    def data(name, desc, codes, *, rate_hz=200, first_index=123456, t0=1_732_190_400_000_000, sync=(),
             beacons=(), temperature=(), battery=(), session_id=7):
        pages = encode_data_pages(codes, session_id=session_id, first_index=first_index, device_time_us=t0,
                                  sampling_rate_hz=rate_hz, sync=sync, beacons=beacons, temperature=temperature,
                                  battery=battery)
        assert len(pages) == 1, (name, len(pages))
        recs = [r for _, _, r in records_of(sync, beacons)]
        exp = data_expected(codes, session_id=session_id, seq=1, first_index=first_index, device_time_us=t0,
                            records=recs, battery=latest_at(battery, t0),
                            temp=None if latest_at(temperature, t0) is None else latest_at(temperature, t0))
        inputs = {"codes": [list(c) for c in codes], "session_id": session_id, "first_index": first_index,
                  "device_time_us": t0, "sampling_rate_hz": rate_hz, "first_seq": 1, "sync": list(sync),
                  "beacons": list(beacons), "temperature": [list(x) for x in temperature],
                  "battery": [list(x) for x in battery]}
        out.append(page_entry(name, desc, pages[0], inputs, exp, "data"))

    data("data_constant", "97 samples all at code 1000 (1 reference + 6 blocks of 16): every nibble 15 (zero "
         "mode), blocks of 10 bytes.", [[1000] * 16] * 97)
    data("data_single_sample", "n_samples 1: the reference alone, no block.", [[0x123 + s for s in range(16)]])
    ref = [100 + 10 * s for s in range(16)]
    tracks = {1: [113, 116, 119, 122], 2: [125, 128, 129, 128], 3: [131, 131, 130, 131], 15: [250, 251, 251, 251]}
    data("data_worked_example", "The worked example of protocol_v1_1.md as a page: reference 100 + 10 s, then "
         "the block of vector worked_example_m4.",
         [ref] + [[tracks[s][j] if s in tracks else ref[s] for s in range(16)] for j in range(4)])
    data("data_ramp", "A ramp: sensor s rises by s + 1 codes per sample, 50 samples, 100 Hz: e_1 = s + 1, then "
         "every second-order residual 0 (nibble 15 after the first block); blocks of 16, 16, 16 and 1 (m = 1).",
         [[10 * s + (s + 1) * j for s in range(16)] for j in range(50)], rate_hz=100)
    data("data_residual_extremes", "0 <-> 4095 every sample (odd sensors in antiphase), 65 samples: e_1 = "
         "+-4095, then every residual +-8190 (zz 16379 / 16380), nibble 13: the largest residuals and k.",
         [[4095 * ((j + s) % 2) for s in range(16)] for j in range(65)])
    data("data_gait_swing", "Gait-like codes without noise (gait_codes(161, seed 2, noise 0)): sensors at 0 in "
         "swing and before their contact use zero mode (nibble 15).", gait_codes(161, seed=2, noise=0))
    data("data_gait_noisy", "Gait-like codes (make_log_vectors.gait_codes, seed 1), 161 samples at 200 Hz, with "
         "battery and temperature series (the page takes the latest value at or before its first sample).",
         gait_codes(161), temperature=[(1_732_190_399_000_000, 23.25), (1_732_190_400_000_000, 23.5),
                                       (1_732_190_400_500_000, 23.75)],
         battery=[(1_732_190_399_000_000, 88), (1_732_190_400_000_000, 87)])
    t0 = 1_732_190_400_000_000
    data("data_with_records", "Gait-like codes with a SYNC and two BEACON records inside the page's span, "
         "in time order (a SYNC first at an equal time).", gait_codes(129, seed=5),
         sync=[{"device_time_us": t0 + 300_000, "host_time_us": t0 + 301_500, "uncertainty_us": 2_500}],
         beacons=[{"device_time_us": t0 + 300_000, "peer_device_time_us": t0 + 299_123, "peer_side": "right",
                   "peer_session": 12, "counter": 65535, "rssi_dbm": -67},
                  {"device_time_us": t0 + 100_000, "peer_device_time_us": t0 + 98_900, "peer_side": "right",
                   "peer_session": 12, "counter": 65534, "rssi_dbm": -128}])
    data("data_index_wrap", "first_index 0xFFFFFFF0, 40 samples at 50 Hz: the index wraps inside the page "
         "(the page stores only its first index).", gait_codes(40, rate_hz=50, seed=9), rate_hz=50,
         first_index=0xFFFFFFF0, t0=5_000_000)

    out.append(decoder_only_page())
    for reason, code in END_REASON_CODE.items():
        end = {"reason": reason, "end_index": 123456 + 161, "end_device_time_us": t0 + 805_000 + code,
               "n_samples": 161, "n_data_pages": 1, "lost_samples": 3 if reason == "flash_full" else 0}
        esync = [{"device_time_us": t0 + 900_000, "host_time_us": t0 + 901_000, "uncertainty_us": 4000}] \
            if reason == "host" else []
        page = encode_end_page(end, session_id=7, seq=2, sync=esync)
        out.append(page_entry(f"end_{reason}", f"End page, reason {code} ({reason})"
                              + (", with the sync point the stopping host logged." if esync else "."), page,
                              {"end": end, "session_id": 7, "seq": 2, "sync": esync},
                              {"kind": "end", "seq": 2, "first_index": end["end_index"],
                               "device_time_us": end["end_device_time_us"],
                               "end": {k: end[k] for k in ("reason", "n_samples", "n_data_pages", "lost_samples")},
                               "records": [dict(type="sync", **s) for s in esync]}, "end"))
    return out


def multi_page_vector() -> dict:
    """A whole session image: header, 3+ data pages (page closing), end; chunks and the erase crc."""
    header, sync = header_vector_inputs()
    header = dict(header, session_id=9)
    codes = gait_codes(900, seed=3, noise=6)
    t0 = header["start_device_time_us"]
    beacons = [{"device_time_us": t0 + 1_000_000 * i + 250_000, "peer_device_time_us": t0 + 1_000_000 * i + 249_000
                + 50 * i, "peer_side": "right", "peer_session": 4, "counter": 100 + i, "rssi_dbm": -70 - i}
               for i in range(4)]
    data_pages = encode_data_pages(codes, session_id=9, first_index=header["start_index"], device_time_us=t0,
                                   sampling_rate_hz=200, beacons=beacons)
    assert len(data_pages) >= 3
    end = {"reason": "host", "end_index": header["start_index"] + len(codes),
           "end_device_time_us": t0 + len(codes) * 5000 + 1234, "n_samples": len(codes),
           "n_data_pages": len(data_pages), "lost_samples": 0}
    end_sync = [{"device_time_us": t0 + 4_600_000, "host_time_us": t0 + 4_601_100, "uncertainty_us": 3000}]
    pages = [encode_header_page(header, sync=sync, battery_pct=90, temperature_c=22.0)] + data_pages + \
        [encode_end_page(end, session_id=9, seq=len(data_pages) + 1, sync=end_sync)]
    image = b"".join(pages)
    got = decode_image(image)
    assert got["codes"] == codes and got["end"]["n_samples"] == len(codes) and not got["problems"]
    assert [b["counter"] for b in got["beacons"]] == [100, 101, 102, 103]
    assert len(got["sync"]) == 2
    per_page = [decode_page(p)["n_samples"] for p in data_pages]
    # power loss: without its end page (and the last data page) the rest still decodes
    cut = decode_image(b"".join(pages[:-2]))
    assert cut["end"] is None and cut["codes"] == codes[:sum(per_page[:-1])]
    return {"name": "session_gait_900", "description": "A whole session image: header page, data pages of 900 "
            "gait-like samples (seed 3, noise 6) with one BEACON a second, end page (host stop, with a sync "
            "point). Shows page closing: the data pages hold whole blocks.",
            "inputs": {"header": header, "start_sync": sync, "codes_formula": "gait_codes(900, seed=3, noise=6)",
                       "codes": codes, "beacons": beacons, "end": end, "end_sync": end_sync},
            "pages_hex": [p.hex() for p in pages], "samples_per_data_page": per_page,
            "image_bytes": len(image), "image_crc32": crc32(image),
            "expected": {"n_samples": len(codes), "n_data_pages": len(data_pages), "sync": got["sync"],
                         "beacons": got["beacons"]}}


def invalid_page_vectors() -> list[dict]:
    good = encode_data_pages([[1000] * 16] * 33, session_id=7, first_index=0, device_time_us=0,
                             sampling_rate_hz=100)[0]

    def recrc(page: bytes) -> bytes:
        return page[:CRC_AT] + struct.pack("<I", crc32(page[:CRC_AT]))

    def forged_section(section: bytes, n_samples: int) -> bytes:
        head = HEADER.pack(MAGIC, 1, KIND_DATA, 7, 1, 0, 0, n_samples, 0, 0xFF, -32768, len(section))
        page = head + section + b"\xff" * (BODY_SIZE - len(section))
        return page + struct.pack("<I", crc32(page))

    ref = pack12([1000] * 16)
    zero_mode = bytes([0xFF] * 8)
    # a block of m = 1 with every nibble 0 needs 16 zero-bits: give a unary stream of one 0x00 byte (8 zero-bits)
    short_unary = bytes(8) + struct.pack("<H", 1) + b"\x00"
    beyond = bytes(8) + struct.pack("<H", 200) + b"\x00" * 2  # U = 200 but only 2 bytes follow
    all_k2 = bytes([0x22] * 8) + struct.pack("<H", 2) + b"\x00\x00"  # k = 2 each: R = 4 bytes missing
    # codes run below zero: reference 0, e_1 = -1 (zz 1) for sensor 0 (k 0), the others in zero mode
    below = pack12([0] * 16)
    neg = bytes([0xF0]) + zero_mode[1:] + struct.pack("<H", 1) + bytes([0b10000000])
    # second order leaves the range: reference 4000, e_1 = +20 (zz 40), then e = +10 (zz 20) for sensor 0:
    # d = 20, 30, 40, ... and x = 4020, 4050, 4090, 4140 > 4095 at the 4th sample
    climb = [[4000] * 16] + [[4000] * 16 for _ in range(16)]
    zz_climb = [[40] + [20] * 15] + [[0] * 16 for _ in range(15)]
    above = pack12([4000] * 16) + encode_block(zz_climb)[0]
    assert climb and encode_block(zz_climb)[1][0] == 4
    # a sensor written in zero mode (no bits) but given nibble 0: the decoder expects 16 more zero-bits
    gait = gait_codes(17, seed=2, noise=0)
    zz_gait = block_zz(gait[:1], gait[1:])
    block = bytearray(encode_block(zz_gait)[0])
    ks = encode_block(zz_gait)[1]
    zero_sensor = max(s for s in range(N_SENSORS) if ks[s] == ZERO_NIBBLE)
    coded = [s for s in range(N_SENSORS) if ks[s] != ZERO_NIBBLE]
    assert coded and zero_sensor > max(coded), ks  # the missing values come last: the stream runs out
    block[zero_sensor // 2] &= 0xF0 if zero_sensor % 2 == 0 else 0x0F
    missing_bits = pack12(gait[0]) + bytes(block)
    cases = [
        ("erased", "An erased page: 4096 x 0xFF.", b"\xff" * PAGE_SIZE, "erased"),
        ("crc_flipped_bit", "One bit of the body flipped: the CRC fails.",
         good[:100] + bytes([good[100] ^ 0x01]) + good[101:], "crc"),
        ("crc_wrong_field", "The CRC field is off by one.", good[:CRC_AT] + struct.pack(
            "<I", (struct.unpack_from("<I", good, CRC_AT)[0] + 1) % 2**32), "crc"),
        ("bad_magic", "Magic 'ILOH' with a valid CRC.", recrc(b"ILOH" + good[4:]), "bad_magic"),
        ("unknown_version_2", "Log format 2 (valid CRC): a host refuses it and never erases it.",
         recrc(good[:4] + b"\x02" + good[5:]), "unknown_version"),
        ("corrupt_kind_4", "Page kind 4 (valid CRC).", recrc(good[:5] + b"\x04" + good[6:]), "corrupt"),
        ("corrupt_unary_too_short", "m = 1 needs 16 zero-bits in the unary stream; it has 8.",
         forged_section(ref + short_unary, 2), "corrupt"),
        ("corrupt_stream_beyond_section", "U = 200 but the section ends 2 bytes later.",
         forged_section(ref + beyond, 2), "corrupt"),
        ("corrupt_remainder_beyond_section", "k = 2 for every sensor but the remainder stream is missing.",
         forged_section(ref + all_k2, 2), "corrupt"),
        ("corrupt_block_missing", "n_samples 34 needs 3 blocks (16, 16, 1); the section has the reference only.",
         forged_section(ref, 34), "corrupt"),
        ("corrupt_code_below_zero", "Reference 0 and e_1 = -1 for sensor 0 (the others in zero mode): a code "
         "below 0.", forged_section(below + neg, 2), "corrupt"),
        ("corrupt_code_above_4095", "Reference 4000, e_1 = +20 then e = +10 for sensor 0 (k 4, well-formed "
         "streams): the second-order reconstruction climbs 4020, 4050, 4090, 4140: a code above 4095.",
         forged_section(above, 17), "corrupt"),
        ("corrupt_zero_mode_nibble_0", f"A gait block (gait_codes(17, seed 2, noise 0)) whose sensor {zero_sensor} "
         "wrote no bits (all residuals 0) but carries nibble 0 instead of 15: the decoder expects 16 more "
         "zero-bits than the unary stream holds.", forged_section(missing_bits, 17), "corrupt"),
        ("corrupt_body_used_4061", "body_used 4061 > 4060.", recrc(good[:30] + struct.pack("<H", 4061) + good[32:]),
         "corrupt"),
        ("corrupt_data_zero_samples", "A data page with n_samples 0.",
         recrc(good[:24] + struct.pack("<H", 0) + good[26:]), "corrupt"),
    ]
    out = []
    for name, desc, page, error in cases:
        assert len(page) == PAGE_SIZE and error in PAGE_ERRORS
        try:
            decode_page(page)
        except VectorError as exc:
            assert exc.error == error, (name, exc.error, error)
        else:
            raise AssertionError(f"{name}: accepted")
        out.append({"name": name, "description": desc, "valid": False, "error": error, "hex": page.hex()})
    return out


KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
HOST_ID = bytes.fromhex("0102030405060708")
NONCE = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")
NONCE_2 = bytes.fromhex("b0b1b2b3b4b5b6b7b8b9babbbcbdbebf")


def command_vectors() -> list[dict]:
    cases = [
        ("claim", "CLAIM (unprotected): host_id + host X25519 public key (the claim vector's).", "CLAIM",
         {"host_id": HOST_ID, "public_key": x25519_public(HOST_PRIVATE)}),
        ("log_start_now", "LOG_START now at 200 Hz, default idle stop (0 = 300 s), with a note.", "LOG_START",
         {"rate_hz": 200, "auto": False, "idle_stop_s": 0, "note": {"subject": "Ann", "body_mass_kg": 61.0}}),
        ("log_start_auto", "LOG_START armed (auto start) at 100 Hz, idle stop 600 s, no note.", "LOG_START",
         {"rate_hz": 100, "auto": True, "idle_stop_s": 600, "note": {}}),
        ("log_start_unicode_note", "LOG_START at 50 Hz with a non-ASCII note (UTF-8, not \\u escapes).",
         "LOG_START", {"rate_hz": 50, "auto": False, "idle_stop_s": 3600, "note": {"subject": "Zoë 李"}}),
        ("log_stop", "LOG_STOP.", "LOG_STOP", {}),
        ("sync_point", "SYNC_POINT: device time, host Unix time (us), uncertainty.", "SYNC_POINT",
         {"device_time_us": 0x0102030405060708, "host_time_us": 1_732_190_400_123_456, "uncertainty_us": 3750}),
        ("list_sessions", "LIST_SESSIONS.", "LIST_SESSIONS", {}),
        ("read", "READ session 9 from offset 0x1234 with a window of 48 chunks.", "READ",
         {"session_id": 9, "offset": 0x1234, "window": 48}),
        ("ack", "ACK (unprotected): session 9, everything below 11328 bytes received.", "ACK",
         {"session_id": 9, "offset": 11328}),
        ("erase", "ERASE session 9 with the crc32 of its image.", "ERASE", {"session_id": 9, "crc32": 0xDEADBEEF}),
    ]
    out = []
    for name, desc, cmd, params in cases:
        body = encode_command(cmd, **params)
        op = body[0]
        protected = OPCODES[op][2]
        entry = {"name": name, "description": desc, "command": cmd, "opcode": op, "protected": protected,
                 "params": {k: (v.hex() if isinstance(v, bytes) else v) for k, v in params.items()},
                 "command_hex": body.hex()}
        if protected:
            signed = NONCE + body + HOST_ID
            tag = tag_of(body, key=KEY, host_id=HOST_ID, nonce=NONCE)
            wire = sign(body, key=KEY, host_id=HOST_ID, nonce=NONCE)
            entry.update({"key_hex": KEY.hex(), "host_id_hex": HOST_ID.hex(), "nonce_hex": NONCE.hex(),
                          "signed_hex": signed.hex(), "tag_hex": tag.hex()})
        else:
            wire = body
        device = {"keys": {HOST_ID.hex(): KEY.hex()}, "nonce": NONCE.hex(), "claim_window_open": True,
                  "state": "logging" if cmd == "LOG_STOP" else "idle", "free_pages": 100,
                  "sessions": {"9": {"image_bytes": 40960, "crc32": 0xDEADBEEF, "open": False}}}
        assert device_check(wire, device) == 0, name
        entry["hex"] = wire.hex()
        entry["decoded"] = decode_params(op, wire[:len(wire) - (AUTH_BYTES if protected else 0)])
        out.append(entry)
    return out


#: refusals with a codec error code that only the device's own state can decide (the claim key, after the window)
STATE_CHECKED = ("claim_zero_key", "claim_low_order_key")


def att_error_vectors() -> list[dict]:
    """Writes the device must refuse, each with the device state and the ATT error (checked in order)."""
    base = {"keys": {HOST_ID.hex(): KEY.hex()}, "nonce": NONCE.hex(), "claim_window_open": False,
            "state": "idle", "free_pages": 100, "battery_pct": 87,
            "sessions": {"9": {"image_bytes": 40960, "crc32": 0xDEADBEEF, "open": False},
                         "10": {"image_bytes": 8192, "crc32": 0x12345678, "open": True}}}

    def s(cmd, **p):
        return sign(encode_command(cmd, **p), key=KEY, host_id=HOST_ID, nonce=NONCE)

    good_start = s("LOG_START", rate_hz=200, auto=False, idle_stop_s=0, note={})
    other_key = bytes(16)
    cases = [
        ("empty_write", "Zero bytes (0x81 as in v1).", b"", {}, E_INVALID),
        ("opcode_0x28", "An opcode above the table.", b"\x28", {}, E_UNSUPPORTED),
        ("opcode_v1_start_stream", "0x01 (a v1 control point opcode) is not a Log control point opcode.",
         b"\x01", {}, E_UNSUPPORTED),
        ("opcode_response_0x80", "0x80 (the response marker) written by a host.", b"\x80\x21\x00", {},
         E_UNSUPPORTED),
        ("ack_short", "ACK one byte short.", encode_command("ACK", session_id=9, offset=0)[:-1], {}, E_INVALID),
        ("log_stop_without_auth", "LOG_STOP without host_id and tag: a length error, checked before auth.",
         b"\x22", {}, E_INVALID),
        ("read_extra_byte", "READ with one byte too many.", s("READ", session_id=9, offset=0, window=8) + b"\x00",
         {}, E_INVALID),
        ("log_start_note_length_mismatch", "LOG_START whose N says 5 but no note bytes follow.",
         good_start[:5] + struct.pack("<H", 5) + good_start[7:], {}, E_INVALID),
        ("unknown_host_id", "A command signed by a host_id the insole does not know.",
         sign(encode_command("LOG_STOP"), key=KEY, host_id=bytes(8), nonce=NONCE), {}, E_NOT_AUTHORISED),
        ("bad_tag", "Signed with another key.", sign(encode_command("LOG_STOP"), key=other_key, host_id=HOST_ID,
                                                    nonce=NONCE), {}, E_NOT_AUTHORISED),
        ("replayed_nonce", "A LOG_STOP signed with the previous nonce (accepted once) sent again after the "
         "challenge changed: refused, 0x83.", s("LOG_STOP"), {"nonce": NONCE_2.hex()}, E_NOT_AUTHORISED),
        ("bad_tag_before_bad_value", "LOG_START with rate code 3 AND a bad tag: auth (0x83) is checked before values.",
         sign(b"\x21\x03\x00\x00\x00\x00\x00", key=other_key, host_id=HOST_ID, nonce=NONCE), {}, E_NOT_AUTHORISED),
        ("claim_window_closed", "CLAIM outside the claim window.", encode_command(
            "CLAIM", host_id=HOST_ID, public_key=x25519_public(HOST_PRIVATE)), {}, E_WINDOW_CLOSED),
        ("log_start_rate_code_3", "LOG_START with rate code 3.",
         sign(b"\x21\x03\x00\x00\x00\x00\x00", key=KEY, host_id=HOST_ID, nonce=NONCE), {}, E_INVALID),
        ("log_start_idle_30", "LOG_START with idle_stop_s 30 (< 60, not 0).",
         s("LOG_START", rate_hz=200, auto=False, idle_stop_s=30, note={}), {}, E_INVALID),
        ("read_window_0", "READ with window 0.", s("READ", session_id=9, offset=0, window=0), {}, E_INVALID),
        ("read_window_65", "READ with window 65.", s("READ", session_id=9, offset=0, window=65), {}, E_INVALID),
        ("read_no_session", "READ of a session that does not exist.",
         s("READ", session_id=3, offset=0, window=8), {}, E_NO_SESSION),
        ("read_offset_beyond", "READ from an offset beyond the image (40960 bytes).",
         s("READ", session_id=9, offset=40961, window=8), {}, E_NO_SESSION),
        ("erase_no_session", "ERASE of a session that does not exist.",
         s("ERASE", session_id=3, crc32=0), {}, E_NO_SESSION),
        ("erase_verify_failed", "ERASE with a crc32 that is not the image's.",
         s("ERASE", session_id=9, crc32=0xDEADBEEE), {}, E_VERIFY_FAILED),
        ("log_start_while_logging", "LOG_START while logging.", good_start, {"state": "logging"}, E_STATE),
        ("log_start_while_armed", "LOG_START while armed.", good_start, {"state": "armed"}, E_STATE),
        ("log_start_flash_full", "LOG_START with fewer than 3 free pages.", good_start, {"free_pages": 2}, E_STATE),
        ("log_start_battery_low", "LOG_START with the battery at 5 %.", good_start, {"battery_pct": 5}, E_STATE),
        ("claim_zero_key", "CLAIM with an all-zero public key, window open: the key is checked after the window.",
         encode_command("CLAIM", host_id=HOST_ID, public_key=bytes(32)), {"claim_window_open": True}, E_INVALID),
        ("claim_low_order_key", "CLAIM with a low-order public key (u = 1), window open: the shared secret is 0.",
         encode_command("CLAIM", host_id=HOST_ID, public_key=(1).to_bytes(32, "little")),
         {"claim_window_open": True}, E_INVALID),
        ("read_open_session", "READ of the session being logged.", s("READ", session_id=10, offset=0, window=8),
         {"state": "logging"}, E_STATE),
        ("erase_open_session", "ERASE of the session being logged.", s("ERASE", session_id=10, crc32=0x12345678),
         {"state": "logging"}, E_STATE),
    ]
    out = []
    for name, desc, wire, changes, err in cases:
        device = dict(base, **changes)
        got = device_check(wire, device)
        assert got == err, (name, hex(got), hex(err))
        codec = name not in STATE_CHECKED and err in (E_UNSUPPORTED, E_INVALID, E_NOT_AUTHORISED)
        out.append({"name": name, "description": desc, "hex": wire.hex(), "device": device, "att_error": err,
                    "codec": codec})
    # the replay case's first use is accepted
    assert device_check(s("LOG_STOP"), dict(base, state="logging")) == 0
    return out


def chunk_vectors(session: dict) -> list[dict]:
    image = b"".join(bytes.fromhex(h) for h in session["pages_hex"])
    out = []
    for offset, length, desc in ((0, 236, "The first chunk of session_gait_900 (MTU 247: 236 data bytes)."),
                                 (236, 236, "The second chunk."),
                                 (len(image) - 120, 120, "The last chunk of a READ from offset 20360: shorter, it "
                                  "ends at the image's end (chunks are aligned on the READ's offset)."),
                                 (236 * ((len(image) - 1) // 236), (len(image) - 1) % 236 + 1,
                                  "The last chunk of a download from offset 0 at MTU 247."),
                                 (4096, 20, "A chunk of 20 bytes (ATT MTU 31) at a page boundary.")):
        data = image[offset:offset + length]
        raw = encode_chunk(offset, data)
        assert decode_chunk(raw) == (offset, data)
        out.append({"name": f"chunk_{offset}_{length}", "description": desc, "offset": offset, "data_hex": data.hex(),
                    "crc32": crc32(raw[:-4]), "hex": raw.hex(), "valid": True})
    raw = encode_chunk(0, image[:236])
    bad = raw[:10] + bytes([raw[10] ^ 0x80]) + raw[11:]
    for name, desc, b, err in (("chunk_crc_fails", "The first chunk with one data bit flipped.", bad, "crc"),
                               ("chunk_short", "8 bytes: no data.", raw[:4] + raw[-4:], "short")):
        try:
            decode_chunk(b)
        except VectorError as exc:
            assert exc.error == err
        else:
            raise AssertionError(name)
        out.append({"name": name, "description": desc, "hex": b.hex(), "valid": False, "error": err})
    return out


def log_info_vectors() -> list[dict]:
    infos = [
        ("idle_claimed", {"format_version": 1, "state": "idle", "claimed": True, "window_open": False,
                          "battery_low": False, "battery_pct": 87, "page_size": 4096, "capacity_pages": 16384,
                          "used_pages": 2345, "sessions": 2, "current_session": 0,
                          "device_time_us": 1_732_190_400_000_000}),
        ("logging_window_open", {"format_version": 1, "state": "logging", "claimed": True, "window_open": True,
                                 "battery_low": False, "battery_pct": 64, "page_size": 4096,
                                 "capacity_pages": 16384, "used_pages": 100, "sessions": 3, "current_session": 9,
                                 "device_time_us": 0x0102030405060708}),
        ("armed_unclaimed_battery_low", {"format_version": 1, "state": "armed", "claimed": False,
                                         "window_open": True, "battery_low": True, "battery_pct": 5,
                                         "page_size": 4096, "capacity_pages": 16384, "used_pages": 0,
                                         "sessions": 0, "current_session": 0, "device_time_us": 12_345}),
    ]
    out = []
    for name, info in infos:
        raw = encode_log_info(info)
        assert decode_log_info(raw) == info
        out.append({"name": name, "hex": raw.hex(), "valid": True, "expected": info})
    raw = encode_log_info(infos[0][1])
    for name, b, err in (("short_31", raw[:31], "bad_length"), ("state_3", raw[:1] + b"\x03" + raw[2:], "bad_state")):
        try:
            decode_log_info(b)
        except VectorError as exc:
            assert exc.error == err
        else:
            raise AssertionError(name)
        out.append({"name": name, "hex": b.hex(), "valid": False, "error": err})
    return out


def list_sessions_vectors(session: dict) -> list[dict]:
    entries = [
        {"session_id": 9, "image_bytes": session["image_bytes"], "samples": session["expected"]["n_samples"],
         "start_device_time_us": session["inputs"]["header"]["start_device_time_us"],
         "start_host_time_us": 1_732_190_399_951_234, "duration_ms": 4500, "complete": True, "open": False},
        {"session_id": 10, "image_bytes": 8192, "samples": 0, "start_device_time_us": 90_000_000,
         "start_host_time_us": 0, "duration_ms": 1500, "complete": False, "open": True},
    ]
    out = []
    for e in entries:
        raw = encode_session_entry(e)
        assert decode_response(raw)["entry"] == e
        out.append({"name": f"session_{e['session_id']}", "hex": raw.hex(), "expected": e})
    final = bytes([RESPONSE, OP_LIST_SESSIONS, 0]) + b"\xff\xff"
    assert decode_response(final)["end"]
    out.append({"name": "end_of_list", "hex": final.hex(), "expected": {"end": True}})
    return out


BEACON_COMPANY_ID = 0xFFFF
BEACON_MARK = b"IB"
BEACON_DATA = struct.Struct("<H2sBHHQ")  # company id, "IB", side code, session id, counter, device_time_us
assert BEACON_DATA.size == 17


def encode_beacon(*, side: str, session_id: int, counter: int, device_time_us: int) -> bytes:
    """The beacon's advertising data: one AD structure (length, type 0xFF, manufacturer specific data)."""
    data = BEACON_DATA.pack(BEACON_COMPANY_ID, BEACON_MARK, SIDE_CODE[side], session_id, counter, device_time_us)
    return bytes([1 + len(data), 0xFF]) + data


def decode_beacon(ad: bytes) -> dict | None:
    """The beacon fields, or None when these advertising data are not an insole beacon."""
    at = 0
    while at + 1 < len(ad):
        n, kind = ad[at], ad[at + 1]
        if n == 0:
            break
        if kind == 0xFF and n - 1 == BEACON_DATA.size and at + 1 + n <= len(ad):
            company, mark, side, sid, counter, t = BEACON_DATA.unpack_from(ad, at + 2)
            if company == BEACON_COMPANY_ID and mark == BEACON_MARK and side in SIDE_BY_CODE:
                return {"side": SIDE_BY_CODE[side], "session_id": sid, "counter": counter, "device_time_us": t}
        at += 1 + n
    return None


def beacon_vectors() -> list[dict]:
    cases = [
        ("beacon_left", "Left insole, session 7, counter 0 (its first beacon), at device time t0 + 1 s.",
         {"side": "left", "session_id": 7, "counter": 0, "device_time_us": 1_732_190_401_000_000}),
        ("beacon_right_wrap", "Right insole, session 12, counter 65535 (the next one is 0).",
         {"side": "right", "session_id": 12, "counter": 65535, "device_time_us": 0x0102030405060708}),
    ]
    out = []
    for name, desc, fields in cases:
        ad = encode_beacon(**fields)
        assert decode_beacon(ad) == fields and len(ad) == 19
        out.append({"name": name, "description": desc, "fields": fields, "hex": ad.hex()})
    other = bytes([0x02, 0x01, 0x06]) + encode_beacon(**cases[0][2])  # a flags AD structure first: still found
    assert decode_beacon(other) == cases[0][2]
    out.append({"name": "beacon_after_flags", "description": "A Flags AD structure, then the beacon: receivers "
                "look through every AD structure.", "fields": cases[0][2], "hex": other.hex()})
    foreign = bytes([0x12, 0xFF]) + BEACON_DATA.pack(0x004C, BEACON_MARK, 0, 7, 0, 0)
    assert decode_beacon(foreign) is None
    out.append({"name": "beacon_other_company", "description": "Company id 0x004C: not an insole beacon (ignored).",
                "fields": None, "hex": foreign.hex()})
    return out


HOST_PRIVATE = bytes.fromhex("c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7")
INSOLE_PRIVATE = bytes.fromhex("48494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f6061626364656667")


def claim_vector() -> dict:
    host_pub, insole_pub = x25519_public(HOST_PRIVATE), x25519_public(INSOLE_PRIVATE)
    shared = x25519(HOST_PRIVATE, insole_pub)
    assert shared == x25519(INSOLE_PRIVATE, host_pub)
    serial = "SIM-L-0000"
    key = claim_key(shared, host_id=HOST_ID, serial=serial)
    request = encode_command("CLAIM", host_id=HOST_ID, public_key=host_pub)
    response = bytes([RESPONSE, OP_CLAIM, 0]) + insole_pub
    assert decode_response(response)["public_key"] == insole_pub.hex()
    return {"host_private_hex": HOST_PRIVATE.hex(), "insole_private_hex": INSOLE_PRIVATE.hex(),
            "host_public_hex": host_pub.hex(), "insole_public_hex": insole_pub.hex(),
            "shared_secret_hex": shared.hex(), "host_id_hex": HOST_ID.hex(), "serial": serial,
            "hkdf_salt_hex": (HOST_ID + serial.encode()).hex(), "hkdf_info": CLAIM_INFO.decode(),
            "key_hex": key.hex(), "request_hex": request.hex(), "response_hex": response.hex(),
            "first_command": {"description": "LOG_STOP signed with the derived key and nonce a0..af",
                              "nonce_hex": NONCE.hex(),
                              "hex": sign(encode_command("LOG_STOP"), key=key, host_id=HOST_ID, nonce=NONCE).hex()}}


def build() -> dict:
    self_check_crypto()
    session = multi_page_vector()
    return {
        "log_format_version": LOG_FORMAT_VERSION,
        "generator": "firmware_specs/make_log_vectors.py (standard library only; independent of the insole package)",
        "notes": [
            "hex is exact bytes, lowercase: a 4096-byte flash page, an ATT write value or notification value.",
            "pages: valid vectors give inputs and the decoded fields (expected); invalid ones the reason a host "
            "rejects the page (erased, crc, bad_magic, unknown_version, corrupt - checked in that order).",
            "temperature_c null = unknown (-32768 on flash), battery_pct null = unknown (0xFF).",
            "commands: protected ones give key, host_id, nonce, signed bytes (nonce || command || host_id) and tag "
            "(HMAC-SHA256 truncated to 16 bytes); hex is the write value (command || host_id || tag).",
            "att_errors: the device state each write meets and the ATT error it must answer (checks: opcode, "
            "length, auth, value/state).",
            "device_time_us and host_time_us exceed 2**53: parse them as 64-bit integers.",
        ],
        "crc": crc_vectors(),
        "zigzag": zigzag_vectors(),
        "blocks": block_vectors(),
        "pages": page_vectors() + invalid_page_vectors(),
        "session": session,
        "commands": command_vectors(),
        "att_errors": att_error_vectors(),
        "chunks": chunk_vectors(session),
        "log_info": log_info_vectors(),
        "list_sessions": list_sessions_vectors(session),
        "claim": claim_vector(),
        "beacons": beacon_vectors(),
        "uuids": {"service": SERVICE_UUID, **CHAR_UUIDS},
    }


# --------------------------------------------------------------------------
# compression ratio of real recordings (--ratio)
# --------------------------------------------------------------------------
def read_recording(path: Path) -> list[list[list[float]]]:
    """-> feet, each a list of samples (8 or 16 sensor values); rows with empty fields of a foot are skipped."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    header = next((ln for ln in lines if ln.startswith("# time")), None)
    if header is None:  # gaitpdb: time, 8 left, 8 right, 2 totals
        rows = [ln.split() for ln in lines if ln.strip()]
        return [[[float(x) for x in r[1:9]] for r in rows], [[float(x) for x in r[9:17]] for r in rows]]
    names = header[2:].split("\t")
    feet = []
    for side in ("left", "right"):
        cols = [i for i, n in enumerate(names) if n.startswith(f"{side} pressure ")]
        assert len(cols) == 16, path
        foot = []
        for ln in lines:
            if ln.startswith("#") or not ln.strip():
                continue
            f = ln.split("\t")
            vals = [f[i] if i < len(f) else "" for i in cols]
            if all(v.strip() for v in vals):
                foot.append([float(v) for v in vals])
        feet.append(foot)
    return feet


def requantise(feet, *, code_at_p999: int = 3900) -> tuple[list[list[list[int]]], float]:
    values = sorted(v for foot in feet for s in foot for v in s)
    p999 = values[max(0, -(-999 * len(values) // 1000) - 1)]  # nearest rank
    lsb = p999 / code_at_p999
    return [[[max(0, min(MAX_CODE, int(v / lsb + 0.5))) for v in s] for s in foot] for foot in feet], lsb


def stream_bits(pages: list[bytes], real: int) -> tuple[int, int, float]:
    """(bits of the first `real` sensors' unary + remainder values, bits of all 16 sensors' values,
    share of the real sensors' blocks in zero mode)."""
    real_bits = all_bits = zero = blocks = 0
    for page in pages:
        p = decode_page(page)
        codes = p["codes"]
        for b in range(1, len(codes), BLOCK_SAMPLES):
            zz = block_zz(block_context(codes, 0, b), codes[b:b + BLOCK_SAMPLES])
            for s in range(N_SENSORS):
                k = rice_k(zz[s])
                bits = 0 if k == ZERO_NIBBLE else sum((z >> k) + 1 + k for z in zz[s])
                all_bits += bits
                real_bits += bits if s < real else 0
                zero += k == ZERO_NIBBLE and s < real
                blocks += s < real
    return real_bits, all_bits, zero / max(1, blocks)


def ratio_of(path: Path, *, rate_hz: int = 100, decimate: int = 1) -> dict:
    feet, lsb = requantise(read_recording(path))
    out = {"file": path.name, "lsb": lsb, "feet": []}
    for foot in feet:
        foot = foot[::decimate]
        real = len(foot[0])
        codes = [s + [0] * (N_SENSORS - real) for s in foot]
        pages = encode_data_pages(codes, session_id=1, first_index=0, device_time_us=0,
                                  sampling_rate_hz=rate_hz // decimate)
        real_bits, all_bits, zero_share = stream_bits(pages, real)
        tail = BODY_SIZE - struct.unpack_from("<H", pages[-1], 30)[0]  # the open page's unused rest: not lost
        overhead_bits = 8 * (PAGE_SIZE * len(pages) - tail) - all_bits
        counted = real_bits + overhead_bits
        out["feet"].append({"samples": len(codes), "sensors": real, "pages": len(pages),
                            "ratio": round(12 * real * len(codes) / counted, 3),
                            "bits_per_value": round(counted / (real * len(codes)), 3), "counted_bits": counted,
                            "zero_mode_pct": round(100 * zero_share, 1)})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).with_name("log_vectors.json"))
    parser.add_argument("--ratio", type=Path, nargs="+", help="print the compression ratio of these recordings")
    parser.add_argument("--decimate", type=int, default=1, help="with --ratio: keep every n-th sample")
    args = parser.parse_args(argv)
    if args.ratio:
        self_check_crypto()
        for path in args.ratio:
            print(json.dumps(ratio_of(path, decimate=args.decimate)))
        return 0
    sys.path.insert(0, str(Path(__file__).parent))
    from make_test_vectors import dumps  # the same compact JSON layout as the v1 vectors

    text = dumps(build()) + "\n"
    json.loads(text)
    args.output.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
