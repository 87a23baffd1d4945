"""The sensor-layout characteristic: which foot, which size, where each
sensor sits and how large an area it stands for.

Wire format (little-endian, read-only characteristic, 106 bytes for 16
sensors)::

    offset size  field
    0      u8    layout format version (1)
    1      u8    side: 0 left, 1 right
    2      u8    insole size, EU
    3      u8    sensor count N
    4      u16   insole length, 0.1 mm
    6      u16   insole width, 0.1 mm
    8      u16   pressure LSB, Pa (250 = 0.25 kPa per code)
    10     N x { i16 x, 0.1 mm; i16 y, 0.1 mm; u16 area, mm^2 }

Positions are in the foot frame of :mod:`insole.constants` (x lateral,
y from the back of the heel toward the toes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..constants import (
    DEFAULT_PRESSURE_LSB_KPA,
    N_SENSORS,
    REFERENCE_LAYOUT,
    REFERENCE_LENGTH_MM,
    REFERENCE_SIZE_EU,
    REFERENCE_WIDTH_MM,
    SIDE_CODE,
    SIDE_FROM_CODE,
)
from ..errors import ProtocolError

__all__ = ["SensorLayout", "reference_layout", "encode_layout", "decode_layout"]

LAYOUT_FORMAT_VERSION = 1
_HEAD = np.dtype([("fmt", "u1"), ("side", "u1"), ("size", "u1"), ("n", "u1"),
                  ("length", "<u2"), ("width", "<u2"), ("lsb_pa", "<u2")])
_SENSOR = np.dtype([("x", "<i2"), ("y", "<i2"), ("area", "<u2")])


@dataclass(frozen=True, eq=False)
class SensorLayout:
    """Geometry and scale of one insole.

    Attributes
    ----------
    side : str
        ``"left"`` or ``"right"``.
    size_eu : int
        Shoe size (EU).
    length_mm, width_mm : float
        Insole outline, mm.
    pressure_lsb_kpa : float
        kPa per pressure code.
    x_mm, y_mm : numpy.ndarray
        Sensor centres in the foot frame, mm (x lateral, y toward the toes).
    area_mm2 : numpy.ndarray
        Area each sensor stands for, mm^2; force = sum(pressure * area).
    """

    side: str
    size_eu: int
    length_mm: float
    width_mm: float
    pressure_lsb_kpa: float
    x_mm: np.ndarray
    y_mm: np.ndarray
    area_mm2: np.ndarray

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SensorLayout):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def force_per_code_n(self) -> np.ndarray:
        """Force of one pressure code on each sensor, N: ``pressure_lsb_kpa *
        area_mm2 / 1000`` (so ``codes @ force_per_code_n()`` is the foot's
        force before zeroing and calibration)."""
        return self.pressure_lsb_kpa * np.asarray(self.area_mm2, dtype=float) / 1000.0

    def to_dict(self) -> dict:
        """JSON-serialisable form (stored in the recording's device table)."""
        return {
            "side": self.side,
            "size_eu": int(self.size_eu),
            "length_mm": float(self.length_mm),
            "width_mm": float(self.width_mm),
            "pressure_lsb_kpa": float(self.pressure_lsb_kpa),
            "x_mm": [float(v) for v in self.x_mm],
            "y_mm": [float(v) for v in self.y_mm],
            "area_mm2": [float(v) for v in self.area_mm2],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "SensorLayout":
        return cls(
            side=d["side"],
            size_eu=int(d["size_eu"]),
            length_mm=float(d["length_mm"]),
            width_mm=float(d["width_mm"]),
            pressure_lsb_kpa=float(d["pressure_lsb_kpa"]),
            x_mm=np.asarray(d["x_mm"], dtype=float),
            y_mm=np.asarray(d["y_mm"], dtype=float),
            area_mm2=np.asarray(d["area_mm2"], dtype=float),
        )


def reference_layout(side: str, *, size_eu: int = REFERENCE_SIZE_EU) -> SensorLayout:
    """The 16-sensor layout of the virtual and simulated insoles.

    Positions scale with the insole length (about 6.67 mm per EU size);
    areas scale with length squared.
    """
    if side not in SIDE_CODE:
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    scale = (size_eu * 20.0 / 3.0 - 10.0) / (REFERENCE_SIZE_EU * 20.0 / 3.0 - 10.0)
    return SensorLayout(
        side=side,
        size_eu=size_eu,
        length_mm=round(REFERENCE_LENGTH_MM * scale, 1),
        width_mm=round(REFERENCE_WIDTH_MM * scale, 1),
        pressure_lsb_kpa=DEFAULT_PRESSURE_LSB_KPA,
        x_mm=np.round(REFERENCE_LAYOUT[:, 0] * scale, 1),
        y_mm=np.round(REFERENCE_LAYOUT[:, 1] * scale, 1),
        area_mm2=np.round(REFERENCE_LAYOUT[:, 2] * scale**2),
    )


def encode_layout(layout: SensorLayout) -> bytes:
    """Bytes of the sensor-layout characteristic for ``layout``."""
    n = len(layout.x_mm)
    head = np.zeros(1, dtype=_HEAD)
    head["fmt"] = LAYOUT_FORMAT_VERSION
    head["side"] = SIDE_CODE[layout.side]
    head["size"] = layout.size_eu
    head["n"] = n
    head["length"] = round(layout.length_mm * 10)
    head["width"] = round(layout.width_mm * 10)
    head["lsb_pa"] = round(layout.pressure_lsb_kpa * 1000)
    sensors = np.zeros(n, dtype=_SENSOR)
    sensors["x"] = np.round(np.asarray(layout.x_mm) * 10)
    sensors["y"] = np.round(np.asarray(layout.y_mm) * 10)
    sensors["area"] = np.round(layout.area_mm2)
    return head.tobytes() + sensors.tobytes()


def decode_layout(payload: bytes) -> SensorLayout:
    """Parse the sensor-layout characteristic.

    Raises
    ------
    ProtocolError
        When the payload is short, of another format version, names an
        unknown side, or its length does not match its sensor count.
    """
    payload = bytes(payload)
    if len(payload) < _HEAD.itemsize:
        raise ProtocolError(f"sensor layout too short: {len(payload)} bytes, need at least {_HEAD.itemsize}")
    head = np.frombuffer(payload[: _HEAD.itemsize], dtype=_HEAD)[0]
    if head["fmt"] != LAYOUT_FORMAT_VERSION:
        raise ProtocolError(f"unknown sensor-layout format version {int(head['fmt'])}")
    if int(head["side"]) not in SIDE_FROM_CODE:
        raise ProtocolError(f"sensor layout names unknown side code {int(head['side'])}")
    n = int(head["n"])
    if n != N_SENSORS:
        raise ProtocolError(f"sensor layout has {n} sensors; protocol v1 packets carry {N_SENSORS}")
    if len(payload) != _HEAD.itemsize + n * _SENSOR.itemsize:
        raise ProtocolError(f"sensor layout is {len(payload)} bytes, expected {_HEAD.itemsize + n * _SENSOR.itemsize}")
    if head["lsb_pa"] == 0:
        raise ProtocolError("sensor layout gives a pressure LSB of 0 Pa")
    s = np.frombuffer(payload[_HEAD.itemsize:], dtype=_SENSOR)
    return SensorLayout(
        side=SIDE_FROM_CODE[int(head["side"])],
        size_eu=int(head["size"]),
        length_mm=int(head["length"]) / 10.0,
        width_mm=int(head["width"]) / 10.0,
        pressure_lsb_kpa=int(head["lsb_pa"]) / 1000.0,
        x_mm=s["x"].astype(float) / 10.0,
        y_mm=s["y"].astype(float) / 10.0,
        area_mm2=s["area"].astype(float),
    )
