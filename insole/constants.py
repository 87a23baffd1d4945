"""The one place for constants: UUIDs, sides, column names, sensor layout,
colours.

Frames (see docs/science.md): each insole reports sensor positions in its own foot
frame, in millimetres: ``x`` toward the LATERAL side of that foot, ``y`` from
the back edge of the heel toward the toes, origin on the insole's long axis at
the back of the heel. With ``x`` lateral on both feet the left and right
layouts have the same numbers; physically the left insole is the mirror image
of the right one.
"""

from __future__ import annotations

from typing import Final

import numpy as np

# --- sides -----------------------------------------------------------------
LEFT: Final = "left"
RIGHT: Final = "right"
SIDES: Final = (LEFT, RIGHT)
#: side code used on the wire (sensor-layout characteristic) and in the file
SIDE_CODE: Final = {LEFT: 0, RIGHT: 1}
SIDE_FROM_CODE: Final = {0: LEFT, 1: RIGHT}

#: fixed colours for left and right in every figure (colour-blind safe pair)
SIDE_COLOURS: Final = {LEFT: "#1f77b4", RIGHT: "#d95f02"}

# --- BLE: insole protocol v1 (firmware_specs/protocol_v1.md) ----------------
_BASE = "7a1e{:04x}-3c5b-4f9e-a8d2-5b1c0e9f4d21"
SERVICE_UUID: Final = _BASE.format(0x0001)
DATA_CHAR_UUID: Final = _BASE.format(0x0002)
CONTROL_POINT_UUID: Final = _BASE.format(0x0003)
LAYOUT_CHAR_UUID: Final = _BASE.format(0x0004)
STATUS_CHAR_UUID: Final = _BASE.format(0x0005)

BATTERY_SERVICE_UUID: Final = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID: Final = "00002a19-0000-1000-8000-00805f9b34fb"
DEVICE_INFO_SERVICE_UUID: Final = "0000180a-0000-1000-8000-00805f9b34fb"
DEVICE_INFO_CHARS: Final = {
    "manufacturer": "00002a29-0000-1000-8000-00805f9b34fb",
    "model": "00002a24-0000-1000-8000-00805f9b34fb",
    "serial": "00002a25-0000-1000-8000-00805f9b34fb",
    "hardware_revision": "00002a27-0000-1000-8000-00805f9b34fb",
    "firmware_revision": "00002a26-0000-1000-8000-00805f9b34fb",
}

# --- BLE: Log service of protocol v1.1 (on-insole log, same UUID base) -------
LOG_SERVICE_UUID: Final = _BASE.format(0x0100)
#: Log control point: write with response + notify
LOG_CONTROL_UUID: Final = _BASE.format(0x0101)
#: Log data: notify (download chunks)
LOG_DATA_UUID: Final = _BASE.format(0x0102)
#: Log info: read (open), 32 bytes
LOG_INFO_UUID: Final = _BASE.format(0x0103)
#: Challenge: read, the 16-byte nonce protected commands are signed with
LOG_CHALLENGE_UUID: Final = _BASE.format(0x0104)

#: advertised short names; the last character carries the side
ADVERTISED_NAMES: Final = {LEFT: "insole-L", RIGHT: "insole-R"}

PROTOCOL_VERSION: Final = 1
#: sampling rates by the 2-bit rate code in the packet flags
RATE_CODES_HZ: Final = {0: 50, 1: 100, 2: 200}
SAMPLING_RATES_HZ: Final = tuple(RATE_CODES_HZ.values())
N_SENSORS: Final = 16
#: one pressure LSB in kPa (layout characteristic field pressure_lsb_pa = 250)
DEFAULT_PRESSURE_LSB_KPA: Final = 0.25
#: longest stretch of samples one notification may hold (firmware rule)
MAX_BATCH_S: Final = 0.040

# --- samples DataFrame columns ---------------------------------------------
SENSOR_CHANNELS: Final = tuple(f"p{i:02d}" for i in range(1, N_SENSORS + 1))
FORCE: Final = "force_n"
COP_X: Final = "cop_x_mm"
COP_Y: Final = "cop_y_mm"
IMU_CHANNELS: Final = ("acc_x_g", "acc_y_g", "acc_z_g", "gyro_x_dps", "gyro_y_dps", "gyro_z_dps")
TIME_INDEX: Final = "time_s"

STANDARD_GRAVITY_M_S2: Final = 9.80665

# --- reference sensor layout (size EU 42, insole length 270 mm) ------------
#: insole length of the reference layout, mm
REFERENCE_LENGTH_MM: Final = 270.0
REFERENCE_WIDTH_MM: Final = 100.0
REFERENCE_SIZE_EU: Final = 42

#: (x_mm, y_mm, area_mm2) per sensor p01..p16 in the foot frame above;
#: area is the share of the insole each sensor represents (its tile).
REFERENCE_LAYOUT: Final = np.array(
    [
        # heel
        (-13.0, 22.0, 1300.0),   # p01 heel medial
        (13.0, 22.0, 1300.0),    # p02 heel lateral
        (0.0, 50.0, 1300.0),     # p03 heel front
        # midfoot
        (28.0, 95.0, 1200.0),    # p04 midfoot lateral
        (32.0, 130.0, 1200.0),   # p05 midfoot lateral, front
        (-12.0, 115.0, 900.0),   # p06 midfoot medial (arch)
        # forefoot: metatarsal heads 5..1, then front row
        (38.0, 170.0, 1100.0),   # p07 MTH5
        (22.0, 182.0, 1100.0),   # p08 MTH4
        (5.0, 190.0, 1100.0),    # p09 MTH3
        (-15.0, 192.0, 1100.0),  # p10 MTH2
        (-32.0, 185.0, 1200.0),  # p11 MTH1
        (-28.0, 215.0, 1000.0),  # p12 forefoot medial, front
        (0.0, 215.0, 1000.0),    # p13 forefoot central, front
        # toes
        (-30.0, 245.0, 1000.0),  # p14 hallux
        (-8.0, 250.0, 800.0),    # p15 second toe
        (15.0, 240.0, 800.0),    # p16 lesser toes
    ],
    dtype=np.float64,
)

#: sensor indices (0-based) of each region, heel to toes
REGIONS: Final = {
    "heel": (0, 1, 2),
    "midfoot": (3, 4, 5),
    "forefoot": (6, 7, 8, 9, 10, 11, 12),
    "toes": (13, 14, 15),
}
