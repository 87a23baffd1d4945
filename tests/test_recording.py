"""The recording file: round trip, crash safety, damaged and foreign files."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from conftest import committed, killed_after

import insole
from insole.errors import OutputError, RecordingError, UnknownFormatError
from insole.recording.store import RecordingWriter, read_raw
from insole.sim.session import default_insoles, simulate_recording


def test_round_trip_keeps_bytes_order_and_metadata(tmp_path):
    path = tmp_path / "a.insole"
    with RecordingWriter(path, meta={"protocol": "run", "subject": "Ann", "body_mass_kg": 61.5}) as w:
        w.set_device("left", {"name": "insole-L", "firmware_revision": "1.2.3"})
        w.add_packet("left", 10, b"\x01\x02")
        w.add_packet("right", 11, b"\x03")
        w.add_packets("left", [12, 13], [b"\x04", b"\x05\x06"])
        w.add_marker(5, "phase_start", "eyes_open")
    raw = read_raw(path)
    assert raw.meta["subject"] == "Ann" and raw.meta["body_mass_kg"] == 61.5
    assert raw.meta["format"] == "insole.recording/1"
    assert raw.devices["left"]["firmware_revision"] == "1.2.3"
    assert raw.payloads["left"] == [b"\x01\x02", b"\x04", b"\x05\x06"]
    assert raw.host_time_ns["left"].tolist() == [10, 12, 13]
    assert raw.payloads["right"] == [b"\x03"]
    assert raw.markers[0]["name"] == "eyes_open"
    # closed file is self-contained: no WAL beside it
    assert not Path(str(path) + "-wal").exists()


def test_writer_refuses_to_overwrite(tmp_path):
    path = tmp_path / "a.insole"
    RecordingWriter(path).close()
    with pytest.raises(OutputError, match="already exists"):
        RecordingWriter(path)
    RecordingWriter(path, overwrite=True).close()


def test_simulated_recording_loads_with_exact_loss(tmp_path, step_scenario):
    path = tmp_path / "s.insole"
    res = simulate_recording(path, step_scenario, insoles=default_insoles(drop_pct=3.0))
    rec = insole.load(path)
    for side in ("left", "right"):
        st = res.streams[side]
        lost = st.lost_packets
        kept = np.setdiff1d(np.arange(st.sent), lost)
        # a loss before the first or after the last received packet is invisible
        inner = lost[(lost > kept[0]) & (lost < kept[-1])]
        q = rec.quality["sides"][side]
        assert inner.size > 5
        assert q["samples_lost"] == st.samples_per_packet * inner.size
        assert q["packets"] == res.packets[side]
        assert q["loss_pct"] == pytest.approx(100 * q["samples_lost"] / q["samples_expected"])


def test_gaps_are_nan_rows_never_interpolated(tmp_path, step_scenario):
    path = tmp_path / "g.insole"
    insoles = default_insoles(link_drops=((5.0, 1.0),))
    simulate_recording(path, step_scenario, insoles=insoles)
    rec = insole.load(path)
    f = rec.samples[("left", "force_n")]
    gap = f.loc[5.1:5.9]
    assert len(gap) > 100 and gap.isna().all()
    assert f.loc[2.0:4.9].notna().all()
    gaps = rec.quality["sides"]["left"]["gaps"]
    assert len(gaps) == 1 and 0.95 < gaps[0]["duration_s"] < 1.1
    assert gaps[0]["missing_samples"] == pytest.approx(200, abs=8)


def test_empty_garbage_and_foreign_files_raise_own_errors(tmp_path):
    empty = tmp_path / "empty.insole"
    empty.write_bytes(b"")
    with pytest.raises(RecordingError, match="empty"):
        insole.load(empty)
    garbage = tmp_path / "garbage.insole"
    garbage.write_bytes(os.urandom(5000))
    with pytest.raises(UnknownFormatError):
        insole.load(garbage)
    foreign = tmp_path / "other.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE t(x)")
    con.commit()
    con.close()
    with pytest.raises(UnknownFormatError, match="not an insole recording"):
        insole.load(foreign)
    with pytest.raises(RecordingError, match="no such file"):
        insole.load(tmp_path / "missing.insole")


@pytest.mark.parametrize("keep", [0.02, 0.3, 0.6, 0.9])
def test_truncated_file_loads_intact_part_or_fails_clearly(tmp_path, step_scenario, keep):
    path = tmp_path / "t.insole"
    simulate_recording(path, step_scenario)
    data = path.read_bytes()
    cut = tmp_path / "cut.insole"
    cut.write_bytes(data[: int(len(data) * keep)])
    try:
        rec = insole.load(cut)
    except (RecordingError, UnknownFormatError) as exc:
        assert str(exc)
    else:
        assert rec.duration_s > 0
        assert rec.quality["damaged_file"] or rec.duration_s <= step_scenario.duration_s


def test_corrupted_middle_is_skipped(tmp_path, step_scenario):
    path = tmp_path / "c.insole"
    simulate_recording(path, step_scenario)
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 8192] = os.urandom(8192)
    path.write_bytes(bytes(data))
    try:
        rec = insole.load(path)
    except RecordingError as exc:
        assert "damaged" in str(exc)
    else:
        assert rec.duration_s > 1.0


@pytest.mark.slow
def test_sigkill_during_realtime_simulate_keeps_everything_committed(tmp_path):
    """`insole simulate --realtime` killed with SIGKILL once both feet have
    at least 5 s committed: everything committed before the kill is in the
    file, both feet, without a gap (the data lost are only the writes since
    the last commit, whatever the machine's speed)."""
    path = tmp_path / "k.insole"
    newest = "SELECT side, max(host_time_ns) FROM packets GROUP BY side"
    seen: dict[int, int] = {}

    def enough() -> bool:
        rows = committed(path, newest)
        seen.update(dict(rows))
        return len(rows) == 2 and min(t for _, t in rows) >= 5e9

    killed_after(0.0, "simulate", "--scenario", "run", "--duration", "60", "--realtime", "-o", str(path),
                 until=enough)
    rec = insole.load(path)
    assert set(rec.sides) == {"left", "right"}
    raw = read_raw(path)
    for code, side in enumerate(("left", "right")):
        assert raw.host_time_ns[side][-1] >= seen[code]  # nothing committed was lost
        assert rec.quality["sides"][side]["samples_lost"] == 0
    # samples span what was committed, less the arrival stamps' lag behind the sample clock (link latency
    # and queueing, which a loaded machine lengthens): under a second
    assert rec.duration_s >= min(seen.values()) / 1e9 - 1.0
