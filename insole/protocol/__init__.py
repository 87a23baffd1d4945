"""Insole protocol v1: data packets, sensor layout, control point, status."""

from .control import AttError, Command, Opcode, Status, decode_command, decode_status, encode_command, encode_status
from .layout import SensorLayout, decode_layout, encode_layout, reference_layout
from .packet import (
    DecodedBatch,
    DecodedPacket,
    Flags,
    decode_packet,
    decode_packets,
    encode_packet,
    encode_packets,
    max_samples_per_packet,
    sample_size,
)

__all__ = [
    "AttError", "Command", "Opcode", "Status", "decode_command", "decode_status", "encode_command",
    "encode_status", "SensorLayout", "decode_layout", "encode_layout", "reference_layout", "DecodedBatch",
    "DecodedPacket", "Flags", "decode_packet", "decode_packets", "encode_packet", "encode_packets", "max_samples_per_packet",
    "sample_size",
]
