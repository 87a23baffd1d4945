"""FIT export: written with Garmin's SDK, read back with fitdecode (an
independent decoder) and compared with the analysis it came from."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import fitdecode
import numpy as np
import pytest

import insole
from insole.errors import InsoleError, OutputError
from insole.fit import DEV_FIELDS, write_fit
from insole.sim.gait import GaitScenario
from insole.sim.session import simulate_recording
from insole.sim.standing import StandingScenario

DURATION_S = 240.0
DISTANCE_M = 1200.0  # 5 m/s: two laps, 1000 m and 200 m


def decode(path) -> dict[str, list[dict]]:
    """Messages by name, each a dict of field name -> value (developer fields by their name)."""
    out: dict[str, list[dict]] = {}
    with fitdecode.FitReader(str(path), check_crc=fitdecode.CrcCheck.RAISE) as fr:
        for frame in fr:
            if isinstance(frame, fitdecode.FitDataMessage):
                out.setdefault(frame.name, []).append({f.name: f.value for f in frame.fields})
    return out


def spm(mesg: dict, prefix: str = "") -> float:
    """Steps/min from FIT cadence (strides/min) and its fraction."""
    whole = mesg.get(f"{prefix}cadence", mesg.get(f"{prefix}running_cadence"))
    return 2.0 * (whole + mesg[f"{prefix}fractional_cadence"])


class Run(NamedTuple):
    rec: Any
    result: Any
    out: Any
    m: dict[str, list[dict]]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("fit")
    simulate_recording(d / "run.insole", GaitScenario(mode="run", duration_s=DURATION_S, contact_time_si_pct=6.0,
                                                      peak_force_si_pct=-5.0, loading_rate_si_pct=8.0, seed=4))
    rec = insole.load(d / "run.insole")
    result = insole.analyze(rec, distance_m=DISTANCE_M)
    out = write_fit(rec, d / "run.fit", result=result)
    return Run(rec, result, out, decode(d / "run.fit"))


def left_share_pct(gait: dict) -> float:
    left, right = gait["left"]["contact_time_s"], gait["right"]["contact_time_s"]
    return 100.0 * left / (left + right)


def test_file_structure(run):
    out, m = run.out, run.m
    assert m["file_id"][0]["type"] == "activity"
    assert m["file_id"][0]["manufacturer"] == "development"
    assert m["file_id"][0]["product_name"] == "insole"
    assert [e["event_type"] for e in m["event"]] == ["start", "stop_all"]
    assert len(m["session"]) == 1 and len(m["activity"]) == 1
    assert m["session"][0]["sport"] == "running" and out.sport == "running"
    assert m["activity"][0]["num_sessions"] == 1
    assert {d["product_name"] for d in m["device_info"]} == {"insole", "insole left", "insole right"}
    # Garmin's own decoder finds the file intact too
    from garmin_fit_sdk import Decoder, Stream

    assert Decoder(Stream.from_file(str(out.path))).check_integrity()
    _, errors = Decoder(Stream.from_file(str(out.path))).read()
    assert errors == []


def test_records_once_a_second(run):
    rec, out, m = run.rec, run.out, run.m
    records = m["record"]
    assert len(records) == out.n_records == round(rec.duration_s)
    ts = np.array([r["timestamp"].timestamp() for r in records])
    assert np.all(np.diff(ts) == 1.0)
    start = datetime.fromisoformat(rec.meta.started_utc)
    assert records[0]["timestamp"] == start.replace(microsecond=0) + timedelta(seconds=int(rec.samples.index[0]))
    assert m["session"][0]["start_time"] == records[0]["timestamp"]


def test_record_cadence_and_stance(run):
    result, m = run.result, run.m
    gait = result.to_dict()["gait"]
    with_steps = [r for r in m["record"] if r.get("cadence") is not None]
    assert len(with_steps) >= 0.95 * len(m["record"])
    cadence = np.array([spm(r) for r in with_steps])
    assert abs(cadence.mean() - gait["cadence_spm"]) < 1.0
    stance_ms = np.array([r["stance_time"] for r in with_steps])
    kept = result.gait.steps[result.gait.steps["excluded"] == ""]
    assert abs(stance_ms.mean() - 1000 * kept["contact_time_s"].mean()) < 2.0
    balance = np.array([r["stance_time_balance"] for r in m["record"] if r.get("stance_time_balance") is not None])
    share = left_share_pct(gait)
    assert share < 49.0  # the right foot's contact is 6 % longer: the left's share is below half
    assert abs(balance.mean() - share) < 0.2


def test_a_second_without_steps_has_no_fields(run):
    rec, result, m = run.rec, run.result, run.m
    kept = result.gait.steps[result.gait.steps["excluded"] == ""]
    with_ic = set(np.floor(kept["ic_s"].to_numpy()).astype(int))
    first = int(np.floor(rec.samples.index[0]))
    for k, r in enumerate(m["record"]):
        if first + k not in with_ic:
            assert set(r) == {"timestamp"}, r  # omitted, never 0
        else:
            assert r["cadence"] > 0


def test_laps_per_km(run):
    rec, result, out, m = run
    gait = result.to_dict()["gait"]
    laps = m["lap"]
    assert len(laps) == out.n_laps == 2 and out.lap_by == "km"
    assert [lap["total_distance"] for lap in laps] == pytest.approx([1000.0, 200.0])
    assert sum(lap["total_elapsed_time"] for lap in laps) == pytest.approx(rec.duration_s, abs=0.1)
    assert m["session"][0]["num_laps"] == 2
    for lap, km in zip(laps, gait["drift"]["per_km"]):
        assert abs(spm(lap, "avg_") - gait["cadence_spm"]) < 1.0
        assert abs(lap["avg_stance_time_balance"] - left_share_pct(gait)) < 0.5
        # the lap's index is the analysis's own per-km index
        assert lap["gait.asymmetry.peak_force.si_pct"] == pytest.approx(km["peak_force"], rel=1e-5)
        assert lap["gait.asymmetry.loading_rate.si_pct"] == pytest.approx(km["loading_rate"], rel=1e-5)


def test_session_averages(run):
    rec, result, m = run.rec, run.result, run.m
    gait = result.to_dict()["gait"]
    s = m["session"][0]
    assert abs(spm(s, "avg_") - gait["cadence_spm"]) < 0.02
    assert s["avg_stance_time_balance"] == pytest.approx(left_share_pct(gait), abs=0.006)
    n = gait["n_steps"]
    mean_ct = (n["left"] * gait["left"]["contact_time_s"] + n["right"] * gait["right"]["contact_time_s"]) / (
        n["left"] + n["right"])
    assert s["avg_stance_time"] == pytest.approx(1000 * mean_ct, abs=0.06)
    assert s["total_elapsed_time"] == pytest.approx(rec.duration_s, abs=0.001)
    assert s["total_timer_time"] == pytest.approx(rec.duration_s, abs=0.001)
    assert s["total_distance"] == pytest.approx(DISTANCE_M)


def test_developer_fields_equal_the_analysis_json(run):
    result, m = run.result, run.m
    data = result.to_dict()
    descriptions = {d["field_name"]: d["units"] for d in m["field_description"]}
    assert descriptions == dict(DEV_FIELDS)
    s = m["session"][0]
    for name, _units in DEV_FIELDS:
        value = data
        for key in name.split("."):
            value = value[key]
        assert s[name] == pytest.approx(value, rel=1e-6), name  # float32
    # the simulated asymmetries come through with their signs
    assert s["gait.asymmetry.peak_force.si_pct"] < -2.0
    assert s["gait.asymmetry.loading_rate.si_pct"] > 2.0


def test_laps_by_time_without_a_distance(run, tmp_path):
    rec = run.rec
    bare = insole.analyze(rec)
    out = write_fit(rec, tmp_path / "t.fit", result=bare, lap_s=60.0)
    laps = decode(tmp_path / "t.fit")["lap"]
    assert len(laps) == out.n_laps == 4 and out.lap_by == "time"
    assert all("total_distance" not in lap for lap in laps)
    assert [lap["total_elapsed_time"] for lap in laps[:3]] == pytest.approx([60.0] * 3)
    assert len(decode(tmp_path / "t.fit")["session"]) == 1


def test_existing_output_refused_without_overwrite(run, tmp_path):
    rec, result, m = run.rec, run.result, run.m
    target = tmp_path / "x.fit"
    target.write_bytes(b"keep me")
    with pytest.raises(OutputError, match="already exists"):
        write_fit(rec, target, result=result)
    assert target.read_bytes() == b"keep me"
    write_fit(rec, target, result=result, overwrite=True)
    assert len(decode(target)["record"]) == len(m["record"])
    with pytest.raises(OutputError, match="inputs"):
        write_fit(rec, rec.path, result=result, overwrite=True)
    with pytest.raises(InsoleError, match="give the distance to insole.analyze"):
        write_fit(rec, tmp_path / "y.fit", result=result, distance_m=5000.0)  # would be ignored
    assert not (tmp_path / "y.fit").exists()


def test_start_time_when_the_recording_has_none(run, tmp_path):
    rec, result = run.rec, run.result
    bare = dataclasses.replace(rec, meta=dataclasses.replace(rec.meta, started_utc=""), path="")
    with pytest.raises(InsoleError, match="no start time"):
        write_fit(bare, tmp_path / "a.fit", result=result)
    start = datetime(2025, 6, 1, 7, 30, tzinfo=UTC)
    out = write_fit(bare, tmp_path / "a.fit", result=result, start_utc=start)
    assert out.start_from == "given"
    assert decode(tmp_path / "a.fit")["record"][0]["timestamp"] == start


def test_standing_recording_refused(tmp_path):
    path = tmp_path / "stand.insole"
    simulate_recording(path, StandingScenario(lift_s=0.0, eyes_open_s=8.0, eyes_closed_s=0.0, transition_s=0.5))
    rec = insole.load(path)
    with pytest.raises(InsoleError, match="FIT export is for runs and walks"):
        write_fit(rec, tmp_path / "s.fit")
    unknown = dataclasses.replace(rec, meta=dataclasses.replace(rec.meta, protocol="unknown"))
    with pytest.raises(InsoleError, match="FIT export is for runs and walks"):
        write_fit(unknown, tmp_path / "s.fit")  # told from the forces
    assert not (tmp_path / "s.fit").exists()


def test_walk_is_walking(tmp_path):
    path = tmp_path / "walk.insole"
    simulate_recording(path, GaitScenario(mode="walk", duration_s=60.0, contact_time_si_pct=-4.0, seed=2))
    rec = insole.load(path)
    result = insole.analyze(rec)
    out = write_fit(rec, tmp_path / "w.fit", result=result)
    m = decode(out.path)
    assert out.sport == "walking"
    assert m["session"][0]["sport"] == "walking" and m["lap"][0]["sport"] == "walking"
    gait = result.to_dict()["gait"]
    assert left_share_pct(gait) > 50.5  # the left contact is longer
    assert m["session"][0]["avg_stance_time_balance"] == pytest.approx(left_share_pct(gait), abs=0.006)
    assert abs(spm(m["session"][0], "avg_") - gait["cadence_spm"]) < 0.02
