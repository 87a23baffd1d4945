"""Gait analysis: known answers on simulated runs and walks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import insole
from insole.sim.gait import GaitScenario
from insole.sim.session import default_insoles, simulate_recording


def simulate(tmp_path, name="g", *, rate=200, insoles=None, **scenario):
    sc = GaitScenario(**scenario)
    path = tmp_path / f"{name}.insole"
    ins = insoles or default_insoles(sampling_rate_hz=rate, seed=4)
    simulate_recording(path, sc, insoles=ins)
    return insole.load(path), sc, ins


def events_vs_truth(steps, sc, ins):
    """Match detected contacts to true ones per foot. The samples are on the
    host clock, which the lower-envelope clock fit places one minimum link
    latency after the true sampling instant (common to both feet)."""
    truth = sc.truth()["steps"]
    out = {}
    for side in ("left", "right"):
        lat_s = ins[side].latency_min_ms / 1000.0
        tic = np.array([t for s, t in zip(truth["side"], truth["ic_s"]) if s == side]) + lat_s
        tto = np.array([t for s, t in zip(truth["side"], truth["to_s"]) if s == side]) + lat_s
        got = steps[steps["side"] == side]
        ic, to = got["ic_s"].to_numpy(), got["to_s"].to_numpy()
        j = np.clip(np.searchsorted(tic, ic), 1, tic.size - 1)
        j = np.where(np.abs(tic[j - 1] - ic) < np.abs(tic[j] - ic), j - 1, j)
        hit = np.abs(tic[j] - ic) < 0.05
        tp = int(np.unique(j[hit]).size)
        precision, recall = tp / max(ic.size, 1), tp / tic.size
        out[side] = {"f1": 2 * precision * recall / (precision + recall), "ic_err_ms": 1000 * (ic[hit] - tic[j[hit]]),
                     "to_err_ms": 1000 * (to[hit] - tto[j[hit]])}
    return out


@pytest.mark.parametrize("mode", ["run", "walk"])
def test_events_f1_and_initial_contact_error_at_200_hz(tmp_path, mode):
    rec, sc, ins = simulate(tmp_path, mode=mode, duration_s=90.0, seed=11)
    g = insole.analyze(rec).gait
    assert g.mode == mode
    for side, r in events_vs_truth(g.steps, sc, ins).items():
        assert r["f1"] >= 0.99, side
        assert np.abs(r["ic_err_ms"]).max() <= 5.0
        assert np.abs(r["to_err_ms"]).max() <= 10.0


@pytest.mark.parametrize("rate", [50, 100])
def test_contacts_found_at_lower_rates(tmp_path, rate):
    rec, sc, ins = simulate(tmp_path, rate=rate, mode="run", duration_s=60.0, seed=12)
    g = insole.analyze(rec).gait
    for r in events_vs_truth(g.steps, sc, ins).values():
        assert r["f1"] >= 0.99
        assert np.median(np.abs(r["ic_err_ms"])) <= 1000.0 / rate
    assert any("loading rate needs 200 Hz" in n for n in g.notes)


def test_contact_time_asymmetry_recovered_with_ci(tmp_path):
    rec, sc, _ = simulate(tmp_path, mode="run", duration_s=240.0, contact_time_si_pct=6.0, seed=13)
    g = insole.analyze(rec).gait
    true_si = sc.truth()["symmetry_index_pct"]["contact_time_s"]
    a = g.asymmetry["contact_time"]
    assert a.si_pct == pytest.approx(6.0, abs=1.0)
    assert a.si_pct == pytest.approx(true_si, abs=0.5)
    assert a.ci95_si_pct[0] <= true_si <= a.ci95_si_pct[1]
    assert a.favoured_side == "right" and g.favoured_side == "right"
    assert "right side is favoured" in g.verdict
    # symmetric metrics stay within typical variation
    assert g.asymmetry["peak_force"].favoured_side == "none"


def test_fatigue_drift_detected_with_the_right_sign(tmp_path):
    rec, sc, _ = simulate(tmp_path, mode="run", duration_s=1200.0, contact_time_si_pct=0.0,
                          contact_time_si_growth_pp_per_10min=4.0, seed=14)
    g = insole.analyze(rec).gait
    slope = g.drift["slope_pp_per_10min"]["contact_time"]
    assert slope["ci95"][0] > 0
    assert slope["value"] == pytest.approx(4.0, abs=1.5)
    assert not g.sensor.drifted
    assert "contact time asymmetry grows toward the right" in g.drift["verdict"]


def test_baseline_creep_on_one_insole_is_sensor_drift_not_asymmetry(tmp_path):
    ins = default_insoles(seed=5)
    ins["left"] = replace(ins["left"], creep_kpa_per_h=30.0)  # about 0.5 kN per hour over the insole
    rec, sc, _ = simulate(tmp_path, insoles=ins, mode="run", duration_s=900.0, seed=15)
    g = insole.analyze(rec).gait
    assert g.sensor.drifted
    assert any("left insole's baseline" in r for r in g.sensor.reasons)
    assert "sensor drifted" in g.drift["verdict"]
    for metric in ("contact_time", "peak_force", "impulse"):
        assert g.asymmetry[metric].favoured_side == "none", metric
        lo, hi = g.drift["slope_pp_per_10min"][metric]["ci95"]
        assert lo < 0.5 and hi > -0.5, metric  # no growing asymmetry from the creep


def test_walk_has_double_support_and_no_flight_index(tmp_path):
    rec, sc, _ = simulate(tmp_path, mode="walk", duration_s=90.0, seed=16)
    g = insole.analyze(rec).gait
    assert g.per_side["left"]["flight_time_s"] < 0
    assert "flight_time" not in g.asymmetry
    assert g.cadence_spm == pytest.approx(110.0, rel=0.03)
    assert g.per_side["left"]["stride_time_cv_pct"] < 4.0


def test_swapping_feet_flips_the_signs(tmp_path):
    # twice the typical SA of peak force is 6.4 %, i.e. an SI of about 20 %: set 25 %
    rec, _, _ = simulate(tmp_path, mode="run", duration_s=120.0, peak_force_si_pct=25.0, seed=17)
    s = rec.samples.rename(columns={"left": "right", "right": "left"}, level=0)[["left", "right"]]
    swapped = replace(rec, samples=s, meta=replace(rec.meta, devices={
        ("right" if k == "left" else "left"): v for k, v in rec.meta.devices.items()}))
    a = insole.analyze(rec).gait
    b = insole.analyze(swapped).gait
    for m in a.asymmetry:
        assert b.asymmetry[m].si_pct == pytest.approx(-a.asymmetry[m].si_pct, abs=1e-6)
    assert (a.asymmetry["peak_force"].favoured_side, b.asymmetry["peak_force"].favoured_side) == ("right", "left")


def test_steps_csv_and_json(tmp_path, capsys):
    from insole.cli import main

    rec, _, _ = simulate(tmp_path, mode="run", duration_s=30.0, seed=18)
    assert main(["steps", rec.path, "--csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("side,ic_s,to_s,contact_time_s")
    assert len(lines) > 80
    d = insole.analyze(rec).to_dict()
    assert d["protocol"] == "run" and d["standing"] is None
    g = d["gait"]
    assert set(g["n_steps"]) == {"left", "right"}
    for side in ("left", "right"):
        assert {"contact_time_s", "flight_time_s", "peak_force_n", "impulse_ns", "loading_rate_n_s",
                "strike_index_pct"} <= set(g[side])
        assert 5 < g[side]["strike_index_pct"] < 25  # rearfoot
    for m in ("contact_time", "peak_force", "impulse", "loading_rate"):
        assert {"si_pct", "sa_pct", "ci95_si_pct"} <= set(g["asymmetry"][m])
    assert g["favored_side"] in ("left", "right", "none")


def test_standing_recording_has_no_steps(tmp_path, capsys):
    from insole.cli import main

    assert main(["steps", "recordings/standing_example.insole", "--csv"]) == 2


def test_per_km_windows_when_the_distance_is_known(tmp_path):
    rec, _, _ = simulate(tmp_path, mode="run", duration_s=600.0, contact_time_si_pct=5.0, seed=19)
    d = insole.analyze(rec, distance_m=2500.0).to_dict()["gait"]["drift"]
    assert [w["km"] for w in d["per_km"]] == [1, 2, 3]
    assert all(w["contact_time"] == pytest.approx(5.0, abs=1.5) for w in d["per_km"])
    assert d["per_km"][-1]["end_s"] == pytest.approx(d["windows"][-1]["end_s"])
