"""Damaged, one-footed and load-free data: a correct analysis, or the
package's own error saying what is wrong; never a traceback.

One test per failure found by mutating recordings and CSVs (see also
``tests/test_fuzz_files.py``)."""

from __future__ import annotations

import json
import shutil
import sqlite3

import numpy as np
import pandas as pd
import pytest

import insole
from insole.analysis.contacts import Contacts, detect_contacts
from insole.analysis.drift import DriftOptions, sensor_drift
from insole.analysis.steps import step_table
from insole.errors import InsoleError
from insole.info import describe
from insole.model import DeviceInfo
from insole.report.text import quality_verdict
from insole.sim import make_scenario
from insole.sim.session import default_insoles, simulate_recording

RUN_EXAMPLE = "recordings/run_example.insole"


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("robust") / "run.insole"
    simulate_recording(path, make_scenario("run", duration_s=20.0, seed=3), insoles=default_insoles(sampling_rate_hz=100))
    return path


@pytest.fixture(scope="module")
def standing_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("robust") / "standing.insole"
    simulate_recording(path, make_scenario("standing", duration_s=24.0, seed=3),
                       insoles=default_insoles(sampling_rate_hz=100))
    return path


def mutated(src, dst, *statements, params=()):
    """A copy of ``src`` with SQL statements applied."""
    shutil.copy(src, dst)
    with sqlite3.connect(dst) as conn:
        for sql in statements:
            conn.execute(sql, params) if "?" in sql else conn.execute(sql)
    conn.close()
    return dst


def pipeline(path):
    rec = insole.load(path)
    describe(rec)
    return rec, insole.analyze(rec)


def running_force(t, *, offset_s=0.0, period_s=0.7, contact_s=0.25, peak_n=1500.0):
    """Half-sine contacts of one foot, N."""
    phase = (t - offset_s) % period_s
    return np.where(phase < contact_s, peak_n * np.sin(np.pi * phase / contact_s), 0.0)


def write_csv(path, t, left, right, phase=None):
    df = pd.DataFrame({"time_s": t, "left_force_n": left, "right_force_n": right})
    if phase is not None:
        df["phase"] = phase
    df.to_csv(path, index=False, float_format="%.4f")
    return path


# --- IndexError in the step table: one foot without contacts ------------------

def test_step_table_with_one_foot_without_contacts(run_file):
    rec = insole.load(run_file)
    force = rec.samples[("left", "force_n")].to_numpy(dtype=np.float64)
    left, zeroed = detect_contacts(force, sampling_rate_hz=rec.meta.sampling_rate_hz,
                                   t0_s=float(rec.samples.index[0]))
    empty = Contacts(np.zeros(0), np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64), {})
    steps = step_table(rec, {"left": left, "right": empty}, {"left": zeroed, "right": zeroed}, body_weight_n=None)
    assert len(steps) == left.ic_s.size > 5
    assert steps["step_time_s"].isna().all()  # no other foot to step onto
    assert steps["stride_time_s"].notna().sum() == left.ic_s.size - 1


def test_a_loaded_foot_without_contacts_is_named(tmp_path):
    t = np.arange(0, 20, 0.01)
    path = write_csv(tmp_path / "one.csv", t, running_force(t), np.full(t.size, 700.0))
    with pytest.raises(InsoleError, match="right foot has no contacts"):
        insole.analyze(insole.load(path), protocol="run")


def test_right_insole_dead_after_three_packets_is_named(run_file, tmp_path):
    path = mutated(run_file, tmp_path / "dead.insole",
                   "DELETE FROM packets WHERE side = 1 AND id NOT IN "
                   "(SELECT id FROM packets WHERE side = 1 ORDER BY id LIMIT 3)")
    with pytest.raises(InsoleError, match="right insole"):
        pipeline(path)


# --- TypeError on a zero-length notification ----------------------------------

@pytest.mark.parametrize("payload", ["x''", "x'01'", "zeroblob(14)"])
def test_empty_and_short_payloads_are_counted_not_fatal(run_file, tmp_path, payload):
    path = mutated(run_file, tmp_path / "short.insole",
                   f"UPDATE packets SET payload = {payload} WHERE id = (SELECT min(id) + 50 FROM packets WHERE side = 0)")
    rec, result = pipeline(path)
    assert rec.quality["sides"]["left"]["invalid_packets"] == {"short (no complete header)": 1}
    assert result.gait is not None


def test_rows_of_the_wrong_type_are_counted(run_file, tmp_path):
    path = mutated(run_file, tmp_path / "typed.insole",
                   "UPDATE packets SET payload = CAST(payload AS TEXT) WHERE id IN "
                   "(SELECT id FROM packets WHERE side = 1 ORDER BY id LIMIT 4 OFFSET 20)")
    rec = insole.load(path)
    q = rec.quality["sides"]["right"]
    assert q["invalid_packets"] == {"not a packet (stored with the wrong column types)": 4}
    assert describe(rec)["sides"]["right"]["packets"] == q["packets"]


# --- AttributeError on a malformed stored layout --------------------------------

@pytest.mark.parametrize("layout", ['"oops"', "[1, 2]", "42", '{"length_mm": "long"}', '{"length_mm": [1]}',
                                    "LENGTH_INF", "SIZE_HUGE"])
def test_malformed_stored_layout_falls_back_to_the_reference(run_file, tmp_path, layout):
    info = json.loads(sqlite3.connect(run_file).execute("SELECT info FROM devices WHERE side = 'right'").fetchone()[0])
    good = dict(info["layout"])
    bad = {"LENGTH_INF": {**good, "length_mm": float("inf")}, "SIZE_HUGE": {**good, "size_eu": 10**400}}
    info["layout"] = bad[layout] if layout in bad else json.loads(layout)
    path = mutated(run_file, tmp_path / "layout.insole", "UPDATE devices SET info = ? WHERE side = 'right'",
                   params=(json.dumps(info),))
    _, result = pipeline(path)
    steps = result.gait.steps
    right = steps.loc[steps["side"] == "right", "strike_index_pct"]
    left = steps.loc[steps["side"] == "left", "strike_index_pct"]
    if isinstance(info["layout"], dict):  # damaged contents: the reference layout (the same insole) stands in
        assert right.notna().all() and abs(right.mean() - left.mean()) < 10.0
    else:  # not a layout at all: as if none were stored (no insole length, no strike index)
        assert right.isna().all() and left.notna().all()


def test_device_info_of_the_wrong_types_is_dropped():
    d = DeviceInfo.from_dict({"side": "left", "name": 5, "battery_pct": "full", "layout": [1], "serial": None})
    assert (d.name, d.serial, d.battery_pct, d.layout) == ("", "", None, None)
    assert DeviceInfo.from_dict({"side": "left", "battery_pct": 87}).battery_pct == 87
    assert DeviceInfo.from_dict({"side": "left", "battery_pct": 187}).battery_pct is None


@pytest.mark.parametrize("key, value", [("distance_m", '"5 km"'), ("distance_m", "[5000]"),
                                        ("event_convention", "[1]"), ("foot_length_mm", "-3")])
def test_unusable_extra_metadata_is_ignored(run_file, tmp_path, key, value):
    path = mutated(run_file, tmp_path / "meta.insole", "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                   params=(key, value))
    rec, result = pipeline(path)
    assert key not in rec.meta.extra
    assert result.gait is not None


# --- ValueError when the stored rate disagrees with the packets -----------------

@pytest.mark.parametrize("stored", ["200", "50", "0", '"fast"'])
def test_packets_rate_wins_over_the_stored_rate(run_file, tmp_path, stored):
    path = mutated(run_file, tmp_path / "rate.insole", "UPDATE meta SET value = ? WHERE key = 'sampling_rate_hz'",
                   params=(stored,))
    rec, result = pipeline(path)
    assert rec.meta.sampling_rate_hz == 100.0
    assert 19.0 < rec.duration_s < 21.0
    assert result.gait.n_steps["left"] > 5


# --- ZeroDivisionError when the carrying foot reads 0 N during a lift ----------

def test_carrying_foot_reading_zero_during_a_lift_csv(tmp_path):
    t = np.arange(0, 40, 0.01)
    phase = np.select([t < 3, t < 6, t < 23], ["lift_left", "lift_right", "eyes_open"], "eyes_closed")
    left = np.select([phase == "lift_left", phase == "lift_right"], [0.0, 700.0], 380.0)
    right = np.select([phase == "lift_left", phase == "lift_right"], [0.0, 0.0], 320.0)
    path = write_csv(tmp_path / "lift.csv", t, left, right, phase)
    with pytest.raises(InsoleError, match="the right insole read 0 N while the left foot was lifted"):
        insole.analyze(insole.load(path))


def test_carrying_foot_reading_zero_during_a_lift_recording(standing_file, tmp_path):
    path = tmp_path / "lift.insole"
    shutil.copy(standing_file, path)
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT id, payload FROM packets WHERE side = 1 AND host_time_ns < 3e9").fetchall()
        conn.executemany("UPDATE packets SET payload = ? WHERE id = ?",
                         [(p[:15] + bytes(len(p) - 15), i) for i, p in rows])
    conn.close()
    with pytest.raises(InsoleError, match="calibration failed: the right insole read .* while the left foot"):
        pipeline(path)


# --- data without load ----------------------------------------------------------

def test_csv_without_load_is_an_own_error(tmp_path):
    t = np.arange(0, 40, 0.01)
    path = write_csv(tmp_path / "zero.csv", t, np.zeros(t.size), np.zeros(t.size), np.where(t < 20, "eyes_open",
                                                                                            "eyes_closed"))
    rec = insole.load(path)
    with pytest.raises(InsoleError, match="no load .* both feet"):
        insole.analyze(rec)
    for protocol in ("run", "walk"):
        with pytest.raises(InsoleError, match="no load"):
            insole.analyze(rec, protocol=protocol)


def test_report_of_data_without_load_fails_in_one_line(tmp_path):
    from conftest import run_cli

    t = np.arange(0, 40, 0.01)
    path = write_csv(tmp_path / "zero.csv", t, np.zeros(t.size), np.zeros(t.size))
    out = tmp_path / "r.pdf"
    p = run_cli("report", str(path), "-o", str(out))
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip().startswith("insole: error:") and "no load" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and not out.exists()


def test_recording_where_both_insoles_read_zero(standing_file, tmp_path):
    path = tmp_path / "zero.insole"
    shutil.copy(standing_file, path)
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT id, payload FROM packets").fetchall()
        conn.executemany("UPDATE packets SET payload = ? WHERE id = ?", [(p[:15] + bytes(len(p) - 15), i)
                                                                        for i, p in rows])
    conn.close()
    with pytest.raises(InsoleError, match="no load .* both feet"):
        pipeline(path)


def test_one_insole_reading_zero_is_named(tmp_path):
    t = np.arange(0, 40, 0.01)
    path = write_csv(tmp_path / "half.csv", t, np.full(t.size, 380.0), np.zeros(t.size))
    with pytest.raises(InsoleError, match="the right insole never reads more than 0 N"):
        insole.analyze(insole.load(path))


def test_a_phase_without_load_is_not_judged(tmp_path):
    t = np.arange(0, 40, 0.01)
    loaded = t < 20
    path = write_csv(tmp_path / "off.csv", t, np.where(loaded, 380.0, 0.0), np.where(loaded, 320.0, 0.0),
                     np.where(loaded, "eyes_open", "eyes_closed"))
    st = insole.analyze(insole.load(path), protocol="standing").standing
    assert [p.name for p in st.phases] == ["eyes_open"]
    assert any("eyes_closed" in w and "no load" in w for w in st.warnings)
    assert np.isfinite(st.left_load_pct) and "nan" not in st.verdict


# --- one foot cut short is not sensor drift -------------------------------------

def test_one_foot_ending_early_is_blamed_not_the_sensor(tmp_path):
    path = tmp_path / "cut.insole"
    shutil.copy(RUN_EXAMPLE, path)
    with sqlite3.connect(path) as conn:
        n = conn.execute("SELECT count(*) FROM packets WHERE side = 1").fetchone()[0]
        conn.execute("DELETE FROM packets WHERE id IN (SELECT id FROM packets WHERE side = 1 ORDER BY id DESC "
                     "LIMIT ?)", (n // 10,))
    conn.close()
    rec, result = pipeline(path)
    g = result.gait
    assert not g.sensor.drifted
    assert "drifted" not in g.drift["verdict"]
    assert g.drift["verdict"].startswith("The right insole's data ends 1")
    assert "with one foot only, were left out" in g.drift["verdict"]
    assert g.span.analysed_s[1] == pytest.approx(g.span.end_s["right"])
    assert g.steps["ic_s"].max() <= g.span.end_s["right"]
    assert any(n.startswith("the right insole's data ends") for n in g.notes)
    level, sentence = quality_verdict([rec], [g])
    assert level != "good" and "right insole's data ends" in sentence and "drift" not in sentence


def test_identity_counts_only_samples_with_both_feet():
    t = np.arange(0, 120, 0.01)
    left = running_force(t)
    right = running_force(t, offset_s=0.35)
    right[t > 100] = np.nan  # the right foot's data end early
    zeroed = {"left": left, "right": right}
    drift = sensor_drift(t, {s: np.zeros(t.size) for s in zeroed}, zeroed, edges_s=np.array([0.0, 60.0, 120.0]),
                         body_weight_n=700.0, options=DriftOptions())
    assert abs(drift.identity_change_pct) < 1.0 and not drift.drifted


def test_lift_without_data_from_the_carrying_foot_falls_back(standing_file, tmp_path):
    # the right insole connected late: it missed the left foot's lift
    path = mutated(standing_file, tmp_path / "late.insole", "DELETE FROM packets WHERE side = 1 AND host_time_ns < 3.2e9")
    rec, result = pipeline(path)
    cal = result.standing.calibration
    assert cal.method == "body_weight"
    assert "the right insole has no data while the left foot was lifted" in cal.note
    from insole.signals.calibrate import calibrate

    with pytest.raises(InsoleError, match="the right insole had no data while the left foot was lifted"):
        calibrate(rec, quiet_phases=(), method="single_leg")


# --- MemoryError: damaged arrival times, an impossible distance -----------------

def test_packets_stamped_before_the_start_are_counted(run_file, tmp_path):
    path = mutated(run_file, tmp_path / "early.insole", "UPDATE packets SET host_time_ns = -5450601503396992 "
                   "WHERE id IN (SELECT id FROM packets WHERE side = 0 ORDER BY id LIMIT 40 OFFSET 100)")
    rec, result = pipeline(path)
    assert rec.quality["sides"]["left"]["invalid_packets"] == {"arrival time before the recording started": 40}
    assert 19.0 < rec.duration_s < 21.0 and result.gait is not None


def test_a_foot_stamped_years_apart_is_refused(run_file, tmp_path):
    from insole.errors import RecordingError

    path = mutated(run_file, tmp_path / "late.insole",
                   "UPDATE packets SET host_time_ns = host_time_ns + 71012486039085550 WHERE side = 1")
    with pytest.raises(RecordingError, match="arrival times are damaged"):
        insole.load(path)


def test_impossible_distance(run_file, tmp_path):
    rec = insole.load(run_file)
    with pytest.raises(InsoleError, match="faster than anyone runs"):
        insole.analyze(rec, distance_m=2.0e16)
    path = mutated(run_file, tmp_path / "far.insole", "INSERT INTO meta(key, value) VALUES ('distance_m', '2e16')")
    rec, result = pipeline(path)
    assert "per_km" not in result.gait.drift
    assert insole.analyze(rec, distance_m=200.0).gait is not None  # 10 m/s: a sprint, but possible
