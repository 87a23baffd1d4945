"""Control point and status characteristic of insole protocol v1.

Control point (write with response): one opcode byte, then parameters::

    0x01 START_STREAM                     start notifications on the data char
    0x02 STOP_STREAM
    0x03 SET_RATE        u8 rate code     0 = 50, 1 = 100, 2 = 200 Hz
    0x04 ZERO            u16 duration ms  average the unloaded sensors, subtract
    0x05 TIME_SYNC       u64 time, us     set the device clock
    0x06 IDENTIFY        u8 seconds       blink / buzz
    0x07 SET_IMU         u8 0 or 1        IMU block off / on

A rejected write answers with an ATT error: 0x80 opcode not supported,
0x81 invalid parameter, 0x82 not allowed in the current state.

Status characteristic (read, notify), 8 bytes::

    0 u8 battery %   1 u8 state flags (bit0 streaming, bit1 charging,
    bit2 battery low, bit3 sensor fault, bit4 IMU on, bit5 zeroed,
    bit6 time synced)   2 u8 rate code   3 u8 samples per packet
    4 u32 samples dropped on the device (buffer overflow), since power-on
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from ..constants import RATE_CODES_HZ
from ..errors import ProtocolError

__all__ = ["Opcode", "AttError", "Command", "encode_command", "decode_command", "Status", "encode_status", "decode_status"]


class Opcode(IntEnum):
    START_STREAM = 0x01
    STOP_STREAM = 0x02
    SET_RATE = 0x03
    ZERO = 0x04
    TIME_SYNC = 0x05
    IDENTIFY = 0x06
    SET_IMU = 0x07


class AttError(IntEnum):
    """Application ATT error codes the control point answers with."""

    OPCODE_NOT_SUPPORTED = 0x80
    INVALID_PARAMETER = 0x81
    INVALID_STATE = 0x82


_PARAMS = {
    Opcode.START_STREAM: "",
    Opcode.STOP_STREAM: "",
    Opcode.SET_RATE: "<B",
    Opcode.ZERO: "<H",
    Opcode.TIME_SYNC: "<Q",
    Opcode.IDENTIFY: "<B",
    Opcode.SET_IMU: "<B",
}


@dataclass(frozen=True)
class Command:
    """A control-point command: opcode and its one parameter (or None)."""

    opcode: Opcode
    value: int | None = None


def encode_command(opcode: Opcode, value: int | None = None) -> bytes:
    """Bytes to write to the control point.

    ``SET_RATE`` takes the rate in Hz (50, 100, 200) and sends its code.
    """
    opcode = Opcode(opcode)
    fmt = _PARAMS[opcode]
    if not fmt:
        if value is not None:
            raise ProtocolError(f"{opcode.name} takes no parameter")
        return bytes([opcode])
    if value is None:
        raise ProtocolError(f"{opcode.name} needs a parameter")
    if opcode is Opcode.SET_RATE:
        codes = {hz: c for c, hz in RATE_CODES_HZ.items()}
        if value not in codes:
            raise ProtocolError(f"sampling rate must be one of {sorted(codes)} Hz, got {value}")
        value = codes[value]
    try:
        return bytes([opcode]) + struct.pack(fmt, value)
    except struct.error as exc:
        raise ProtocolError(f"{opcode.name}: parameter {value} out of range") from exc


def decode_command(payload: bytes) -> Command:
    """Parse a control-point write (what the firmware does).

    Raises
    ------
    ProtocolError
        With ``.att_error`` set to the :class:`AttError` the device answers.
    """
    payload = bytes(payload)
    if not payload:
        raise _cp_error("empty control-point write", AttError.INVALID_PARAMETER)
    try:
        opcode = Opcode(payload[0])
    except ValueError:
        raise _cp_error(f"unknown opcode 0x{payload[0]:02x}", AttError.OPCODE_NOT_SUPPORTED) from None
    fmt = _PARAMS[opcode]
    if len(payload) - 1 != struct.calcsize(fmt or "<"):
        raise _cp_error(f"{opcode.name}: wrong parameter length {len(payload) - 1}", AttError.INVALID_PARAMETER)
    if not fmt:
        return Command(opcode)
    (value,) = struct.unpack(fmt, payload[1:])
    if opcode is Opcode.SET_RATE:
        if value not in RATE_CODES_HZ:
            raise _cp_error(f"invalid rate code {value}", AttError.INVALID_PARAMETER)
        value = RATE_CODES_HZ[value]
    if opcode is Opcode.SET_IMU and value not in (0, 1):
        raise _cp_error(f"SET_IMU takes 0 or 1, got {value}", AttError.INVALID_PARAMETER)
    return Command(opcode, value)


def _cp_error(msg: str, code: AttError) -> ProtocolError:
    err = ProtocolError(msg)
    err.att_error = code  # type: ignore[attr-defined]
    return err


_STATUS = struct.Struct("<BBBBI")


@dataclass(frozen=True)
class Status:
    """Decoded status characteristic."""

    battery_pct: int
    streaming: bool = False
    charging: bool = False
    battery_low: bool = False
    sensor_fault: bool = False
    imu_on: bool = False
    zeroed: bool = False
    time_synced: bool = False
    sampling_rate_hz: int = 100
    samples_per_packet: int = 0
    device_dropped_samples: int = 0


_STATE_BITS = ("streaming", "charging", "battery_low", "sensor_fault", "imu_on", "zeroed", "time_synced")


def encode_status(status: Status) -> bytes:
    flags = sum(1 << i for i, name in enumerate(_STATE_BITS) if getattr(status, name))
    code = {hz: c for c, hz in RATE_CODES_HZ.items()}[status.sampling_rate_hz]
    return _STATUS.pack(status.battery_pct, flags, code, status.samples_per_packet, status.device_dropped_samples)


def decode_status(payload: bytes) -> Status:
    payload = bytes(payload)
    if len(payload) != _STATUS.size:
        raise ProtocolError(f"status characteristic is {len(payload)} bytes, expected {_STATUS.size}")
    battery, flags, code, spp, dropped = _STATUS.unpack(payload)
    if code not in RATE_CODES_HZ:
        raise ProtocolError(f"status names invalid rate code {code}")
    if battery > 100:
        raise ProtocolError(f"status battery {battery} % is over 100")
    bits = {name: bool(flags >> i & 1) for i, name in enumerate(_STATE_BITS)}
    return Status(battery_pct=battery, sampling_rate_hz=RATE_CODES_HZ[code], samples_per_packet=spp,
                  device_dropped_samples=dropped, **bits)
