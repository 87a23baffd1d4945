"""With real insoles switched on and in range (INSOLE_HARDWARE=1): the same
link code as the virtual tests, on the operating system's Bluetooth stack."""

from __future__ import annotations

import asyncio

import pytest

import insole
from insole.ble.link import describe_insoles
from insole.ble.session import record_session

pytestmark = pytest.mark.hardware


def test_real_insoles_are_found_with_battery_and_firmware():
    rows = asyncio.run(describe_insoles(timeout_s=10.0))
    assert {r["side"] for r in rows} == {"left", "right"}
    assert all(r["battery_pct"] is not None and r["firmware_revision"] for r in rows)


def test_ten_seconds_from_real_insoles(tmp_path):
    path = tmp_path / "hw.insole"
    asyncio.run(record_session(path, protocol="run", duration_s=10.0))
    rec = insole.load(path)
    assert set(rec.sides) == {"left", "right"} and rec.duration_s > 9.0
