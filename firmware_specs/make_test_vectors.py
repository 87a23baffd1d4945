#!/usr/bin/env python3
"""Generate ``test_vectors.json`` for insole protocol v1.

This is an independent reference implementation of the wire format in
``protocol_v1.md``. It deliberately does NOT import the ``insole`` package
and uses only the Python standard library (``struct``), so the vectors it
writes cross-check the host codec (``insole/protocol``), the virtual insole
and any firmware.

Every vector is built from its inputs by the encoder below, then decoded
again by the independent decoder below; the expected values written to the
JSON come from the inputs, and the script stops if its own decoder disagrees.

Usage::

    python firmware_specs/make_test_vectors.py                 # writes test_vectors.json next to this file
    python firmware_specs/make_test_vectors.py -o OUT.json     # writes elsewhere

The output is deterministic (no randomness, no timestamps): running the script
twice gives identical bytes. ``tests/test_protocol.py`` checks that the
committed JSON equals a fresh run.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import uuid
from pathlib import Path

# --------------------------------------------------------------------------
# constants of protocol v1 (repeated here on purpose; see protocol_v1.md)
# --------------------------------------------------------------------------
PROTOCOL_VERSION = 1
N_SENSORS = 16
HEADER = struct.Struct("<BBIQB")  # version, flags, first_index, device_time_us, count
assert HEADER.size == 15
PRESSURE_BYTES = 24
IMU = struct.Struct("<6h")
assert IMU.size == 12
MAX_CODE = 0xFFF
PRESSURE_LSB_KPA = 0.25

FLAG_IMU = 0x01
FLAG_RATE_SHIFT = 1
FLAG_RATE_MASK = 0x06
FLAG_ZEROED = 0x08
FLAG_TIME_SYNCED = 0x10
FLAG_SATURATED = 0x20
FLAG_RESERVED = 0xC0

RATE_HZ_BY_CODE = {0: 50, 1: 100, 2: 200}
RATE_CODE_BY_HZ = {hz: code for code, hz in RATE_HZ_BY_CODE.items()}

SERVICE_UUID = "7a1e0001-3c5b-4f9e-a8d2-5b1c0e9f4d21"
ADVERTISED_NAMES = {"left": "insole-L", "right": "insole-R"}

OPCODES = {
    0x01: ("START_STREAM", None),
    0x02: ("STOP_STREAM", None),
    0x03: ("SET_RATE", "<B"),
    0x04: ("ZERO", "<H"),
    0x05: ("TIME_SYNC", "<Q"),
    0x06: ("IDENTIFY", "<B"),
    0x07: ("SET_IMU", "<B"),
}
OPCODE_BY_NAME = {name: code for code, (name, _) in OPCODES.items()}
ATT_OPCODE_NOT_SUPPORTED = 0x80
ATT_INVALID_PARAMETER = 0x81
ATT_INVALID_STATE = 0x82

STATUS = struct.Struct("<BBBBI")
STATUS_BITS = ("streaming", "charging", "battery_low", "sensor_fault", "imu_on", "zeroed", "time_synced")

LAYOUT_HEAD = struct.Struct("<BBBBHHH")  # format, side, size EU, n, length 0.1 mm, width 0.1 mm, LSB Pa
LAYOUT_SENSOR = struct.Struct("<hhH")  # x 0.1 mm, y 0.1 mm, area mm^2
SIDE_CODE = {"left": 0, "right": 1}
SIDE_BY_CODE = {0: "left", 1: "right"}

#: reference layout, EU 42, insole 270 x 100 mm: (x mm, y mm, area mm^2)
REFERENCE_SENSORS = [
    (-13.0, 22.0, 1300), (13.0, 22.0, 1300), (0.0, 50.0, 1300),
    (28.0, 95.0, 1200), (32.0, 130.0, 1200), (-12.0, 115.0, 900),
    (38.0, 170.0, 1100), (22.0, 182.0, 1100), (5.0, 190.0, 1100), (-15.0, 192.0, 1100), (-32.0, 185.0, 1200),
    (-28.0, 215.0, 1000), (0.0, 215.0, 1000),
    (-30.0, 245.0, 1000), (-8.0, 250.0, 800), (15.0, 240.0, 800),
]

# error names of invalid packets, in the order a decoder checks them
PACKET_ERRORS = ("short", "unknown_version", "bad_rate", "zero_count", "truncated", "oversized")


class VectorError(ValueError):
    """The reference decoder's rejection, with a stable error name."""

    def __init__(self, error: str, att_error: int | None = None):
        super().__init__(error)
        self.error = error
        self.att_error = att_error


# --------------------------------------------------------------------------
# data packets
# --------------------------------------------------------------------------
def pack12(codes: list[int]) -> bytes:
    """16 codes -> 24 bytes: per pair (a, b): a[7:0], b[3:0]<<4 | a[11:8], b[11:4]."""
    assert len(codes) == N_SENSORS and all(0 <= c <= MAX_CODE for c in codes)
    out = bytearray()
    for j in range(0, N_SENSORS, 2):
        a, b = codes[j], codes[j + 1]
        out += bytes([a & 0xFF, (a >> 8) | ((b & 0x0F) << 4), b >> 4])
    return bytes(out)


def unpack12(data: bytes) -> list[int]:
    assert len(data) == PRESSURE_BYTES
    codes = []
    for j in range(0, PRESSURE_BYTES, 3):
        b0, b1, b2 = data[j], data[j + 1], data[j + 2]
        codes.append(b0 | (b1 & 0x0F) << 8)
        codes.append(b1 >> 4 | b2 << 4)
    return codes


def encode_packet(raw, *, first_index, device_time_us, rate_hz, imu=None, zeroed=False, time_synced=False,
                  extra_flags=0, version=PROTOCOL_VERSION, count=None) -> bytes:
    """Build a data packet; ``extra_flags``, ``version`` and ``count`` exist to forge bad packets."""
    flags = RATE_CODE_BY_HZ[rate_hz] << FLAG_RATE_SHIFT
    flags |= FLAG_IMU if imu is not None else 0
    flags |= FLAG_ZEROED if zeroed else 0
    flags |= FLAG_TIME_SYNCED if time_synced else 0
    flags |= FLAG_SATURATED if any(c == MAX_CODE for s in raw for c in s) else 0
    flags |= extra_flags
    n = len(raw) if count is None else count
    out = HEADER.pack(version, flags, first_index % 2**32, device_time_us, n)
    for k, sample in enumerate(raw):
        out += pack12(sample)
        if imu is not None:
            out += IMU.pack(*imu[k])
    return out


def decode_packet(payload: bytes) -> dict:
    """Reference decoder; raises VectorError(name) for a packet the host drops."""
    if len(payload) < HEADER.size:
        raise VectorError("short")
    version, flags, first_index, device_time_us, n = HEADER.unpack_from(payload)
    if version != PROTOCOL_VERSION:
        raise VectorError("unknown_version")
    rate_code = (flags & FLAG_RATE_MASK) >> FLAG_RATE_SHIFT
    if rate_code not in RATE_HZ_BY_CODE:
        raise VectorError("bad_rate")
    if n == 0:
        raise VectorError("zero_count")
    has_imu = bool(flags & FLAG_IMU)
    size = PRESSURE_BYTES + (IMU.size if has_imu else 0)
    expected_len = HEADER.size + n * size
    if len(payload) < expected_len:
        raise VectorError("truncated")
    if len(payload) > expected_len:
        raise VectorError("oversized")
    raw, imu = [], []
    for k in range(n):
        at = HEADER.size + k * size
        raw.append(unpack12(payload[at:at + PRESSURE_BYTES]))
        if has_imu:
            imu.append(list(IMU.unpack_from(payload, at + PRESSURE_BYTES)))
    return {
        "version": version,
        "flags": flags,
        "rate_code": rate_code,
        "first_index": first_index,
        "sample_index": [first_index + k for k in range(n)],
        "device_time_us": device_time_us,
        "sampling_rate_hz": RATE_HZ_BY_CODE[rate_code],
        "sample_count": n,
        "imu_present": has_imu,
        "zeroed": bool(flags & FLAG_ZEROED),
        "time_synced": bool(flags & FLAG_TIME_SYNCED),
        "saturated": bool(flags & FLAG_SATURATED),
        "reserved_bits": flags & FLAG_RESERVED,
        "raw": raw,
        "imu": imu if has_imu else None,
        "pressure_kpa": [[c * PRESSURE_LSB_KPA for c in s] for s in raw],
    }


def _valid(name, description, raw, **kw) -> dict:
    payload = encode_packet(raw, **kw)
    expected = decode_packet(payload)
    # the expected values come from the inputs; the reference decoder must agree
    imu = kw.get("imu")
    rate_hz = kw["rate_hz"]
    flags = (RATE_CODE_BY_HZ[rate_hz] << 1) | (FLAG_IMU if imu is not None else 0) \
        | (FLAG_ZEROED if kw.get("zeroed") else 0) | (FLAG_TIME_SYNCED if kw.get("time_synced") else 0) \
        | (FLAG_SATURATED if any(MAX_CODE in s for s in raw) else 0) | kw.get("extra_flags", 0)
    from_inputs = {
        "version": 1, "flags": flags, "rate_code": RATE_CODE_BY_HZ[rate_hz],
        "first_index": kw["first_index"] % 2**32,
        "sample_index": [kw["first_index"] % 2**32 + k for k in range(len(raw))],
        "device_time_us": kw["device_time_us"], "sampling_rate_hz": rate_hz, "sample_count": len(raw),
        "imu_present": imu is not None, "zeroed": bool(kw.get("zeroed")), "time_synced": bool(kw.get("time_synced")),
        "saturated": any(MAX_CODE in s for s in raw), "reserved_bits": kw.get("extra_flags", 0) & FLAG_RESERVED,
        "raw": [list(s) for s in raw], "imu": [list(r) for r in imu] if imu is not None else None,
        "pressure_kpa": [[c / 4 for c in s] for s in raw],
    }
    assert expected == from_inputs, (name, expected, from_inputs)
    assert len(payload) == 15 + len(raw) * (36 if imu is not None else 24)
    return {"name": name, "description": description, "hex": payload.hex(), "valid": True, "expected": expected}


def _invalid(name, description, payload: bytes, error: str) -> dict:
    assert error in PACKET_ERRORS
    try:
        decode_packet(payload)
    except VectorError as exc:
        assert exc.error == error, (name, exc.error, error)
    else:
        raise AssertionError(f"{name}: reference decoder accepted an invalid vector")
    return {"name": name, "description": description, "hex": payload.hex(), "valid": False, "error": error}


def packet_vectors() -> list[dict]:
    nibbles = [0x123, 0x456, 0x789, 0xABC, 0xDEF, 0x012, 0x345, 0x678,
               0x9AB, 0xCDE, 0xF01, 0x234, 0x567, 0x89A, 0xBCD, 0xEF0]
    eight = [[(k * 311 + i * 97 + 40) % 4000 for i in range(N_SENSORS)] for k in range(8)]
    v = []
    v.append(_valid(
        "single_sample_100hz", "One sample at 100 Hz; 16 distinct codes whose three nibbles all differ, so any "
        "nibble-order or pair-order mistake shows. This is the worked example of protocol_v1.md.",
        [nibbles], first_index=0, device_time_us=0, rate_hz=100))
    v.append(_valid(
        "eight_samples_200hz", "Full batch at 200 Hz with ATT MTU 247 (8 samples = 40 ms, 207 bytes).",
        eight, first_index=1000, device_time_us=5_000_000, rate_hz=200))
    v.append(_valid("all_zeros", "Two samples, every code 0, 50 Hz.",
                    [[0] * 16] * 2, first_index=7, device_time_us=140_000, rate_hz=50))
    v.append(_valid("all_4095_saturated", "Every code 4095 (1023.75 kPa): the saturated flag (bit 5) is set.",
                    [[MAX_CODE] * 16], first_index=12, device_time_us=60_000, rate_hz=200))
    v.append(_valid("alternating_000_fff", "Even sensors 0x000, odd sensors 0xFFF: pair order must not swap.",
                    [[0x000, 0xFFF] * 8], first_index=1, device_time_us=5_000, rate_hz=200))
    v.append(_valid("alternating_fff_000", "Even sensors 0xFFF, odd sensors 0x000.",
                    [[0xFFF, 0x000] * 8], first_index=2, device_time_us=10_000, rate_hz=200))
    v.append(_valid("alternating_abc_123",
                    "Even sensors 0xABC, odd 0x123; second sample swapped: catches nibble order.",
                    [[0xABC, 0x123] * 8, [0x123, 0xABC] * 8], first_index=3, device_time_us=15_000, rate_hz=200))
    v.append(_valid(
        "index_wrap", "first_index = 0xFFFFFFFF with 2 samples: the second sample's index is 2**32 (0 on the "
        "device's u32 counter); the host keeps it unreduced (sample_index) and unwraps across packets.",
        [[100] * 16, [200] * 16], first_index=0xFFFFFFFF, device_time_us=21_474_836_475_000, rate_hz=200))
    v.append(_valid("index_after_wrap", "The packet after index_wrap: first_index 1 (= 2**32 + 1 unwrapped); device "
                    "time advanced by 2 x 5000 us.", [[300] * 16], first_index=1, device_time_us=21_474_836_485_000,
                    rate_hz=200))
    v.append(_valid("device_time_max", "device_time_us = 2**64 - 1: all eight bytes 0xFF.",
                    [[1] * 16], first_index=42, device_time_us=2**64 - 1, rate_hz=100))
    v.append(_valid("device_time_near_max", "device_time_us = 2**64 - 2 (u64 needs 64-bit integers in the parser).",
                    [[2] * 16], first_index=43, device_time_us=2**64 - 2, rate_hz=100))
    for hz in (50, 100, 200):
        code = RATE_CODE_BY_HZ[hz]
        v.append(_valid(f"rate_code_{code}_{hz}hz", f"Rate code {code} in flag bits 1-2 means {hz} Hz.",
                        [[hz + i for i in range(16)]], first_index=hz, device_time_us=hz * 1000, rate_hz=hz))
    v.append(_valid(
        "imu_extremes", "IMU block present (bit 0) with int16 extremes; each sample is 24 pressure bytes then 12 "
        "IMU bytes (acc x,y,z in mg; gyro x,y,z in 0.1 deg/s).",
        [nibbles, [0x800] * 16],
        imu=[[-32768, 32767, 0, -1, 1, 1000], [32767, -32768, -1000, 0, -1, 1]],
        first_index=500, device_time_us=2_500_000, rate_hz=200))
    v.append(_valid(
        "imu_six_samples_200hz", "Full batch with IMU at 200 Hz and ATT MTU 247 (6 samples, 231 bytes).",
        eight[:6], imu=[[k * 10, -k * 10, 1000 - k, 123 * k, -450 + k, 7] for k in range(6)],
        first_index=2000, device_time_us=10_000_000, rate_hz=200))
    v.append(_valid(
        "doc_example_imu", "The annotated IMU example of protocol_v1.md: one sample, p16 saturated, IMU block, "
        "zeroed and time synced at 200 Hz (flags 0x3D); header fields chosen so byte order shows.",
        [[0] * 15 + [MAX_CODE]], imu=[[12, -20, 1003, -150, 25, -3]], first_index=0x01020304,
        device_time_us=0x1122334455667788, rate_hz=200, zeroed=True, time_synced=True))
    v.append(_valid("zeroed", "Sensors zeroed (flag bit 3).",
                    [[10 * i for i in range(16)]], first_index=9, device_time_us=90_000, rate_hz=100, zeroed=True))
    v.append(_valid("time_synced", "Device time set by TIME_SYNC (flag bit 4): device_time_us is host epoch time.",
                    [[4 * i for i in range(16)]], first_index=9, device_time_us=1_732_190_400_000_000,
                    rate_hz=100, time_synced=True))
    v.append(_valid("zeroed_time_synced_imu", "Bits 0, 3 and 4 together at 50 Hz.",
                    [[0] * 16, [1] * 16], imu=[[0, 0, 1000, 0, 0, 0], [0, 0, 1000, 0, 0, 0]], first_index=77,
                    device_time_us=1_732_190_400_020_000, rate_hz=50, zeroed=True, time_synced=True))
    v.append(_valid("reserved_bits_set", "Reserved flag bits 6 and 7 set: still valid, a v1 host ignores them.",
                    [[5] * 16], first_index=10, device_time_us=50_000, rate_hz=100, extra_flags=0xC0))
    v.append(_valid("reserved_bit6_set", "Reserved flag bit 6 set: still valid, ignored.",
                    [[6] * 16], first_index=11, device_time_us=55_000, rate_hz=100, extra_flags=0x40))

    good = encode_packet([[0x100] * 16, [0x200] * 16], first_index=100, device_time_us=1_000_000, rate_hz=100)
    good_imu = encode_packet([[0x100] * 16], imu=[[1, 2, 3, 4, 5, 6]], first_index=100,
                             device_time_us=1_000_000, rate_hz=100)
    v.append(_invalid("empty", "Zero bytes.", b"", "short"))
    v.append(_invalid("header_14_bytes", "14 bytes: one short of a header.", good[:14], "short"))
    v.append(_invalid("header_only_count_1", "15-byte header announcing one sample, no body.", good[:14] + b"\x01",
                      "truncated"))
    v.append(_invalid("version_0", "Protocol version 0.", b"\x00" + good[1:], "unknown_version"))
    v.append(_invalid("version_2", "Protocol version 2 (a future format): refused, kept raw.", b"\x02" + good[1:],
                      "unknown_version"))
    v.append(_invalid("version_255", "Protocol version 255.", b"\xff" + good[1:], "unknown_version"))
    v.append(_invalid("rate_code_3", "Rate code 3 is invalid.", good[:1] + bytes([good[1] | FLAG_RATE_MASK]) + good[2:],
                      "bad_rate"))
    v.append(_invalid("count_0", "Sample count 0 (with no body).", good[:14] + b"\x00", "zero_count"))
    v.append(_invalid("count_0_with_body", "Sample count 0 followed by a sample's bytes.",
                      good[:14] + b"\x00" + good[15:39], "zero_count"))
    v.append(_invalid("truncated_by_one", "Two samples announced, last byte missing.", good[:-1], "truncated"))
    v.append(_invalid("one_extra_byte", "Two samples and one byte too many.", good + b"\x00", "oversized"))
    v.append(_invalid("one_extra_sample", "Count says 1 but two samples follow.",
                      good[:14] + b"\x01" + good[15:], "oversized"))
    v.append(_invalid("imu_flag_without_imu", "IMU flag set but samples carry no IMU bytes.",
                      good[:1] + bytes([good[1] | FLAG_IMU]) + good[2:], "truncated"))
    v.append(_invalid("imu_truncated_by_one", "IMU packet with its last byte missing.", good_imu[:-1], "truncated"))
    v.append(_invalid("imu_bytes_without_flag", "IMU bytes present but IMU flag clear.",
                      good_imu[:1] + bytes([good_imu[1] & ~FLAG_IMU]) + good_imu[2:], "oversized"))
    v.append(_invalid("version_checked_before_rate", "Version 2 and rate code 3: reported as unknown_version.",
                      b"\x02" + bytes([good[1] | FLAG_RATE_MASK]) + good[2:], "unknown_version"))
    v.append(_invalid("rate_checked_before_count", "Rate code 3 and count 0: reported as bad_rate.",
                      good[:1] + bytes([good[1] | FLAG_RATE_MASK]) + good[2:14] + b"\x00", "bad_rate"))
    return v


# --------------------------------------------------------------------------
# sensor layout characteristic
# --------------------------------------------------------------------------
def encode_layout(side_code, size_eu, length_01mm, width_01mm, lsb_pa, sensors, fmt=1, n=None) -> bytes:
    out = LAYOUT_HEAD.pack(fmt, side_code, size_eu, len(sensors) if n is None else n, length_01mm, width_01mm, lsb_pa)
    for x, y, a in sensors:
        out += LAYOUT_SENSOR.pack(x, y, a)
    return out


def decode_layout(payload: bytes) -> dict:
    if len(payload) < LAYOUT_HEAD.size:
        raise VectorError("short")
    fmt, side, size, n, length, width, lsb = LAYOUT_HEAD.unpack_from(payload)
    if fmt != 1:
        raise VectorError("unknown_format")
    if side not in SIDE_BY_CODE:
        raise VectorError("bad_side")
    if n != N_SENSORS:
        raise VectorError("bad_sensor_count")
    if len(payload) != LAYOUT_HEAD.size + n * LAYOUT_SENSOR.size:
        raise VectorError("bad_length")
    if lsb == 0:
        raise VectorError("zero_lsb")
    s = [LAYOUT_SENSOR.unpack_from(payload, LAYOUT_HEAD.size + i * LAYOUT_SENSOR.size) for i in range(n)]
    return {
        "side": SIDE_BY_CODE[side], "size_eu": size, "length_mm": length / 10, "width_mm": width / 10,
        "pressure_lsb_kpa": lsb / 1000, "x_mm": [x / 10 for x, _, _ in s], "y_mm": [y / 10 for _, y, _ in s],
        "area_mm2": [float(a) for _, _, a in s],
    }


def layout_vectors() -> list[dict]:
    ref = [(round(x * 10), round(y * 10), a) for x, y, a in REFERENCE_SENSORS]
    # an EU 45 insole of another hardware revision: positions scaled by 290/270, 0.5 kPa per code
    big = [(round(x * 2900 / 270), round(y * 2900 / 270), round(a * (290 / 270) ** 2)) for x, y, a in REFERENCE_SENSORS]
    out = []

    def valid(name, description, payload):
        out.append({"name": name, "description": description, "hex": payload.hex(), "valid": True,
                    "expected": decode_layout(payload)})

    def invalid(name, description, payload, error):
        try:
            decode_layout(payload)
        except VectorError as exc:
            assert exc.error == error
        else:
            raise AssertionError(name)
        out.append({"name": name, "description": description, "hex": payload.hex(), "valid": False, "error": error})

    left = encode_layout(0, 42, 2700, 1000, 250, ref)
    assert len(left) == 106
    valid("reference_left_eu42", "Reference 16-sensor layout, left insole, EU 42, 270 x 100 mm, 250 Pa per code.", left)
    valid("reference_right_eu42", "Same layout on the right insole: only the side byte differs (x is lateral on "
          "both feet).", encode_layout(1, 42, 2700, 1000, 250, ref))
    valid("other_hardware_eu45", "EU 45, 290 x 107.4 mm, 500 Pa per code (a hypothetical revision): decoders must "
          "use the LSB from this characteristic, not a constant.", encode_layout(0, 45, 2900, 1074, 500, big))
    invalid("short", "9 bytes: shorter than the 10-byte head.", left[:9], "short")
    invalid("format_2", "Layout format version 2.", b"\x02" + left[1:], "unknown_format")
    invalid("side_2", "Side code 2 is neither left nor right.", left[:1] + b"\x02" + left[2:], "bad_side")
    invalid("fifteen_sensors", "15 sensors: v1 packets always carry 16.",
            encode_layout(0, 42, 2700, 1000, 250, ref[:15]),
            "bad_sensor_count")
    invalid("one_extra_byte", "106 + 1 bytes.", left + b"\x00", "bad_length")
    invalid("truncated_by_one", "105 bytes.", left[:-1], "bad_length")
    invalid("lsb_zero", "Pressure LSB of 0 Pa.", encode_layout(0, 42, 2700, 1000, 0, ref), "zero_lsb")
    return out


# --------------------------------------------------------------------------
# control point
# --------------------------------------------------------------------------
def decode_command(payload: bytes) -> dict:
    if not payload:
        raise VectorError("empty", ATT_INVALID_PARAMETER)
    if payload[0] not in OPCODES:
        raise VectorError("unknown_opcode", ATT_OPCODE_NOT_SUPPORTED)
    name, fmt = OPCODES[payload[0]]
    if len(payload) - 1 != (struct.calcsize(fmt) if fmt else 0):
        raise VectorError("bad_length", ATT_INVALID_PARAMETER)
    if fmt is None:
        return {"opcode": name, "value": None, "param": None}
    (param,) = struct.unpack(fmt, payload[1:])
    value = param
    if name == "SET_RATE":
        if param not in RATE_HZ_BY_CODE:
            raise VectorError("bad_rate_code", ATT_INVALID_PARAMETER)
        value = RATE_HZ_BY_CODE[param]
    if name == "SET_IMU" and param not in (0, 1):
        raise VectorError("bad_imu_switch", ATT_INVALID_PARAMETER)
    return {"opcode": name, "value": value, "param": param}


def command_bytes(name: str, param: int | None = None) -> bytes:
    code = OPCODE_BY_NAME[name]
    fmt = OPCODES[code][1]
    return bytes([code]) + (struct.pack(fmt, param) if fmt else b"")


def control_vectors() -> list[dict]:
    out = []

    def valid(name, description, payload):
        out.append({"name": name, "description": description, "hex": payload.hex(), "valid": True,
                    "expected": decode_command(payload)})

    def invalid(name, description, payload, att_error):
        try:
            decode_command(payload)
        except VectorError as exc:
            assert exc.att_error == att_error
        else:
            raise AssertionError(name)
        out.append({"name": name, "description": description, "hex": payload.hex(), "valid": False,
                    "att_error": att_error})

    def refused_in_state(name, description, payload, state):
        # well-formed, so decode_command accepts it; the device's state makes it answer 0x82
        out.append({"name": name, "description": description, "hex": payload.hex(), "valid": True,
                    "expected": decode_command(payload), "state": state, "att_error": ATT_INVALID_STATE})

    valid("start_stream", "START_STREAM, no parameter.", command_bytes("START_STREAM"))
    valid("stop_stream", "STOP_STREAM, no parameter.", command_bytes("STOP_STREAM"))
    for code, hz in RATE_HZ_BY_CODE.items():
        valid(f"set_rate_{hz}hz", f"SET_RATE with rate code {code} ({hz} Hz); value is the rate in Hz, param the "
              "byte on the wire.", command_bytes("SET_RATE", code))
    valid("zero_1000ms", "ZERO averaging the unloaded sensors over 1000 ms (u16 LE 0x03E8).",
          command_bytes("ZERO", 1000))
    valid("zero_0ms_clears", "ZERO with duration 0: clears the zero offsets.", command_bytes("ZERO", 0))
    valid("zero_65535ms", "ZERO with the longest duration.", command_bytes("ZERO", 65535))
    valid("time_sync_epoch", "TIME_SYNC to 2024-11-21T12:00:00Z in microseconds since the Unix epoch (u64 LE).",
          command_bytes("TIME_SYNC", 1_732_190_400_000_000))
    valid("time_sync_max", "TIME_SYNC to 2**64-1.", command_bytes("TIME_SYNC", 2**64 - 1))
    valid("identify_5s", "IDENTIFY for 5 s.", command_bytes("IDENTIFY", 5))
    valid("identify_0_stops", "IDENTIFY 0: stop identifying.", command_bytes("IDENTIFY", 0))
    valid("set_imu_off", "SET_IMU 0.", command_bytes("SET_IMU", 0))
    valid("set_imu_on", "SET_IMU 1.", command_bytes("SET_IMU", 1))

    invalid("empty", "Empty write.", b"", ATT_INVALID_PARAMETER)
    invalid("opcode_0x00", "Opcode 0x00 is not defined.", b"\x00", ATT_OPCODE_NOT_SUPPORTED)
    invalid("opcode_0x08", "Opcode 0x08 is not defined in v1.", b"\x08", ATT_OPCODE_NOT_SUPPORTED)
    invalid("opcode_0xff_with_params", "Unknown opcode with parameter bytes: the opcode is checked first.",
            b"\xff\x01\x02", ATT_OPCODE_NOT_SUPPORTED)
    invalid("start_with_parameter", "START_STREAM takes no parameter.", b"\x01\x00", ATT_INVALID_PARAMETER)
    invalid("stop_with_parameter", "STOP_STREAM takes no parameter.", b"\x02\x01", ATT_INVALID_PARAMETER)
    invalid("set_rate_missing", "SET_RATE without its byte.", b"\x03", ATT_INVALID_PARAMETER)
    invalid("set_rate_code_3", "SET_RATE with rate code 3.", b"\x03\x03", ATT_INVALID_PARAMETER)
    invalid("set_rate_hz_not_code", "SET_RATE 200 (0xC8): the parameter is a code, not Hz.", b"\x03\xc8",
            ATT_INVALID_PARAMETER)
    invalid("set_rate_two_bytes", "SET_RATE with two bytes.", b"\x03\x02\x00", ATT_INVALID_PARAMETER)
    invalid("zero_one_byte", "ZERO needs a u16.", b"\x04\xe8", ATT_INVALID_PARAMETER)
    invalid("zero_three_bytes", "ZERO with three bytes.", b"\x04\xe8\x03\x00", ATT_INVALID_PARAMETER)
    invalid("time_sync_seven_bytes", "TIME_SYNC needs a u64.", command_bytes("TIME_SYNC", 1)[:-1],
            ATT_INVALID_PARAMETER)
    invalid("time_sync_nine_bytes", "TIME_SYNC with nine bytes.", command_bytes("TIME_SYNC", 1) + b"\x00",
            ATT_INVALID_PARAMETER)
    invalid("identify_missing", "IDENTIFY without its byte.", b"\x06", ATT_INVALID_PARAMETER)
    invalid("set_imu_2", "SET_IMU takes 0 or 1.", b"\x07\x02", ATT_INVALID_PARAMETER)
    invalid("set_imu_missing", "SET_IMU without its byte.", b"\x07", ATT_INVALID_PARAMETER)

    refused_in_state("set_rate_while_streaming", "SET_RATE is refused while streaming.",
                     command_bytes("SET_RATE", 2), "streaming")
    refused_in_state("set_imu_while_streaming", "SET_IMU is refused while streaming.",
                     command_bytes("SET_IMU", 1), "streaming")
    refused_in_state("zero_while_streaming", "ZERO is refused while streaming.", command_bytes("ZERO", 1000),
                     "streaming")
    refused_in_state("time_sync_while_streaming", "TIME_SYNC is refused while streaming (a clock jump would break "
                     "the host's clock fit).", command_bytes("TIME_SYNC", 1), "streaming")
    refused_in_state("zero_while_zeroing", "ZERO while a ZERO is still averaging.", command_bytes("ZERO", 1000),
                     "zeroing")
    refused_in_state("start_while_zeroing", "START_STREAM while a ZERO is still averaging.",
                     command_bytes("START_STREAM"), "zeroing")
    refused_in_state("start_without_subscription", "START_STREAM before this client enabled notifications on the "
                     "data characteristic (CCCD 0x0001).", command_bytes("START_STREAM"), "data_not_subscribed")
    refused_in_state("start_with_mtu_23", "START_STREAM while the ATT MTU is 23 (< 42 needed for one sample).",
                     command_bytes("START_STREAM"), "att_mtu_23")
    refused_in_state("start_imu_with_mtu_50", "START_STREAM with the IMU on and ATT MTU 50 (< 54 needed for one "
                     "sample with IMU).", command_bytes("START_STREAM"), "imu_on_att_mtu_50")
    return out


# --------------------------------------------------------------------------
# status characteristic
# --------------------------------------------------------------------------
def encode_status(battery, bits: dict, rate_hz, spp, dropped, extra=0) -> bytes:
    flags = sum(1 << i for i, name in enumerate(STATUS_BITS) if bits.get(name)) | extra
    return STATUS.pack(battery, flags, RATE_CODE_BY_HZ[rate_hz], spp, dropped)


def decode_status(payload: bytes) -> dict:
    if len(payload) != STATUS.size:
        raise VectorError("bad_length")
    battery, flags, code, spp, dropped = STATUS.unpack(payload)
    if code not in RATE_HZ_BY_CODE:
        raise VectorError("bad_rate")
    if battery > 100:
        raise VectorError("bad_battery")
    out = {"battery_pct": battery}
    out.update({name: bool(flags >> i & 1) for i, name in enumerate(STATUS_BITS)})
    out.update({"sampling_rate_hz": RATE_HZ_BY_CODE[code], "samples_per_packet": spp,
                "device_dropped_samples": dropped})
    return out


def status_vectors() -> list[dict]:
    out = []

    def valid(name, description, payload):
        out.append({"name": name, "description": description, "hex": payload.hex(), "valid": True,
                    "expected": decode_status(payload)})

    def invalid(name, description, payload, error):
        try:
            decode_status(payload)
        except VectorError as exc:
            assert exc.error == error
        else:
            raise AssertionError(name)
        out.append({"name": name, "description": description, "hex": payload.hex(), "valid": False, "error": error})

    idle = encode_status(87, {}, 100, 4, 0)
    valid("idle_100hz", "Connected, not streaming, 87 % battery, 100 Hz, 4 samples per packet at MTU 247.", idle)
    valid("streaming_200hz_imu", "Streaming at 200 Hz with IMU, zeroed, time synced, 6 samples per packet, 12 "
          "samples dropped since power-on.", encode_status(64, {"streaming": True, "imu_on": True, "zeroed": True,
                                                                  "time_synced": True}, 200, 6, 12))
    valid("charging_low_fault", "Charging, battery low, sensor fault, 50 Hz, MTU 23 (0 samples per packet: cannot "
          "stream).", encode_status(9, {"charging": True, "battery_low": True, "sensor_fault": True}, 50, 0, 0))
    valid("all_bits_dropped_max", "Every state bit, battery 100 %, dropped counter 0xFFFFFFFF.",
          encode_status(100, dict.fromkeys(STATUS_BITS, True), 200, 8, 0xFFFFFFFF))
    valid("reserved_bit7_set", "State bit 7 is reserved: ignored.", encode_status(50, {}, 100, 4, 0, extra=0x80))
    invalid("empty", "Zero bytes.", b"", "bad_length")
    invalid("seven_bytes", "7 bytes.", idle[:7], "bad_length")
    invalid("nine_bytes", "9 bytes.", idle + b"\x00", "bad_length")
    invalid("rate_code_3", "Rate code 3.", idle[:2] + b"\x03" + idle[3:], "bad_rate")
    invalid("battery_101", "Battery 101 %.", b"\x65" + idle[1:], "bad_battery")
    return out


# --------------------------------------------------------------------------
# advertising and batching
# --------------------------------------------------------------------------
def advertising_vectors() -> list[dict]:
    out = []
    for side, name in ADVERTISED_NAMES.items():
        flags = bytes([2, 0x01, 0x06])  # LE General Discoverable, BR/EDR not supported
        uuids = bytes([17, 0x07]) + uuid.UUID(SERVICE_UUID).bytes[::-1]  # 128-bit UUIDs are little-endian on air
        local = bytes([1 + len(name), 0x08]) + name.encode("ascii")
        payload = flags + uuids + local
        assert len(payload) == 31
        out.append({
            "name": f"advertising_{side}", "side": side, "local_name": name, "service_uuid": SERVICE_UUID,
            "hex": payload.hex(),
            "structures": [
                {"type": "0x01 Flags", "hex": flags.hex()},
                {"type": "0x07 Complete List of 128-bit Service UUIDs", "hex": uuids.hex()},
                {"type": "0x08 Shortened Local Name", "hex": local.hex()},
            ],
        })
    return out


def samples_per_packet(att_mtu: int, rate_hz: int, imu: bool) -> int:
    fit = (att_mtu - 3 - HEADER.size) // (PRESSURE_BYTES + (IMU.size if imu else 0))
    by_time = rate_hz * 40 // 1000  # 40 ms of signal
    return max(0, min(fit, by_time, 255))


def batching_vectors() -> list[dict]:
    out = []
    for mtu in (23, 41, 42, 53, 54, 66, 100, 185, 247, 517):
        for hz in (50, 100, 200):
            for imu in (False, True):
                n = samples_per_packet(mtu, hz, imu)
                out.append({"att_mtu": mtu, "sampling_rate_hz": hz, "imu": imu, "samples_per_packet": n,
                            "packet_bytes": 15 + n * (36 if imu else 24) if n else None,
                            "notifications_per_s": hz / n if n else None})
    return out


# --------------------------------------------------------------------------
def build() -> dict:
    return {
        "protocol_version": PROTOCOL_VERSION,
        "generator": "firmware_specs/make_test_vectors.py (standard library only; independent of the insole package)",
        "notes": [
            "hex is the exact ATT payload (notification value / characteristic value / write value), lowercase.",
            "packets: valid vectors give the decoded fields; invalid ones the reason a host drops them "
            "(short, unknown_version, bad_rate, zero_count, truncated, oversized - checked in that order).",
            "sample_index is first_index + k, NOT reduced modulo 2**32; pressure_kpa uses 0.25 kPa per code.",
            "device_time_us and TIME_SYNC values can exceed 2**53: parse them as 64-bit integers.",
            "control: value is the decoded parameter (SET_RATE in Hz), param the integer on the wire; entries with "
            "a state are well-formed commands the device must refuse with att_error 130 (0x82) in that state.",
            "layouts/status: error names are informative; every invalid one raises ProtocolError in the host codec.",
        ],
        "packets": packet_vectors(),
        "layouts": layout_vectors(),
        "control": control_vectors(),
        "status": status_vectors(),
        "advertising": advertising_vectors(),
        "batching": batching_vectors(),
    }


def dumps(obj, indent: int = 0) -> str:
    """JSON with lists of scalars kept on one line (compact, diff-friendly, deterministic)."""
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{inner}{json.dumps(k)}: {dumps(v, indent + 2)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if all(not isinstance(x, (dict, list, str)) for x in obj):
            return json.dumps(obj)
        if all(isinstance(x, list) and all(not isinstance(y, (dict, list)) for y in x) for x in obj):
            return "[\n" + ",\n".join(inner + json.dumps(x) for x in obj) + "\n" + pad + "]"
        return "[\n" + ",\n".join(inner + dumps(x, indent + 2) for x in obj) + "\n" + pad + "]"
    return json.dumps(obj)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).with_name("test_vectors.json"))
    args = parser.parse_args(argv)
    text = dumps(build()) + "\n"
    json.loads(text)  # well-formed
    args.output.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
