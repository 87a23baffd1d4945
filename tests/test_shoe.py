"""Insoles laced into shoes (docs/science.md, "What real insoles do"): the
simulator's preload, slow release, mid-swing bump and drift, and the analysis
that must see through them. Known answers against the simulator's truth."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import insole
from insole.analysis.contacts import _edge_toe_off, swing_baseline
from insole.protocol.layout import reference_layout
from insole.sim import make_scenario
from insole.sim.session import default_insoles, simulate_recording
from insole.sim.shoe import LACED_SHOE, InShoe, ShoeModel
from test_gait import events_vs_truth

AREA = np.asarray(reference_layout("left").area_mm2, dtype=np.float64)


def _force(scenario, side, t):
    return scenario.pressures_kpa(side, t) @ AREA / 1000.0


@pytest.fixture(scope="module")
def walk_body():
    return make_scenario("walk", duration_s=30.0, seed=3)


def test_bare_shoe_is_the_body_itself():
    assert not isinstance(make_scenario("walk", duration_s=10.0), InShoe)
    assert isinstance(make_scenario("walk", duration_s=10.0, shoe="laced"), InShoe)


@pytest.mark.parametrize("bad", [{"preload_n": -1.0}, {"release_frac": 0.9}, {"release_tau_s": 0.0},
                                 {"swing_bump_n": float("nan")}])
def test_shoe_options_out_of_range_are_refused(bad):
    with pytest.raises(ValueError):
        ShoeModel(**bad)
    with pytest.raises(insole.InsoleError):
        make_scenario("walk", shoe="sandal")


def test_preload_out_of_range_is_one_line_on_the_command_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "insole", "simulate", "--scenario", "walk", "--shoe", "laced",
                        "--preload-n", "5000", "-o", str(tmp_path / "x.insole")], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.insole").exists()


def test_reading_does_not_depend_on_chunking(walk_body):
    shoe = InShoe(walk_body, LACED_SHOE)
    t = np.arange(2.0, 6.0, 1 / 200)
    whole = shoe.pressures_kpa("left", t)
    one_by_one = np.vstack([shoe.pressures_kpa("left", t[i:i + 1]) for i in range(0, t.size, 37)])
    assert np.array_equal(whole[::37], one_by_one)
    assert np.array_equal(shoe.pressures_kpa("left", t[::-1]), whole[::-1])


def test_preload_in_mid_swing_and_a_slow_release_after_toe_off(walk_body):
    shoe = InShoe(walk_body, replace(LACED_SHOE, swing_bump_n=0.0, preload_change_pct_per_h=0.0))
    ic, to = walk_body.contact_times_s("right")
    k = 5
    mid = 0.5 * (to[k] + ic[k + 1])
    assert _force(shoe, "right", np.array([mid]))[0] == pytest.approx(LACED_SHOE.preload_n, rel=0.01)
    after = to[k] + np.array([0.0, 0.02, 0.05, 0.1, 0.2])
    extra = _force(shoe, "right", after) - LACED_SHOE.preload_n
    assert (np.diff(extra) < 0).all() and extra[0] > 20.0  # tens of N at toe-off, letting go slowly
    assert extra[-1] < 0.1 * extra[0]
    assert (_force(walk_body, "right", after) == 0).all()  # the body has lifted the foot


def test_bump_sits_in_mid_swing(walk_body):
    shoe = InShoe(walk_body, ShoeModel(swing_bump_n=30.0))
    ic, to = walk_body.contact_times_s("left")
    mid = 0.5 * (to[4] + ic[5])
    f = _force(shoe, "left", np.array([mid, mid - 0.1]))
    assert f[0] == pytest.approx(30.0, rel=0.01) and f[1] < 1.0


def test_swing_baseline_follows_a_high_preload():
    fs = 100.0
    t = np.arange(0, 60, 1 / fs)
    stance = (t % 1.1) < 0.65
    load = np.where(stance, 800.0 * np.sin(np.pi * (t % 1.1) / 0.65), 0.0)
    preload = 600.0 + 2.0 * t  # and creeping
    base = swing_baseline(load + preload, sampling_rate_hz=fs)
    assert np.abs(base - preload)[200:-200].max() < 5.0


@settings(max_examples=60, deadline=None)
@given(slope=st.floats(2.0, 40.0), tail_n=st.floats(0.0, 60.0), tau=st.floats(3.0, 20.0),
       phase=st.floats(0.0, 1.0))
def test_edge_toe_off_finds_the_crossing_under_a_tail(slope, tail_n, tau, phase):
    """A straight unloading edge (slope N per sample) plus a slow-release
    tail: the edge estimate is the edge's own crossing of the level."""
    peak, level = 800.0, 20.0
    k = np.arange(300, dtype=np.float64)
    t_zero = 150.0 + phase  # where the edge reaches 0
    edge = np.clip(slope * (t_zero - k), 0.0, peak)
    tail = tail_n * np.exp(-np.maximum(k - t_zero, 0.0) / tau)  # held through stance, let go after
    f = edge + tail
    k_to = np.array([int(np.flatnonzero(f >= level)[-1])])
    got = _edge_toe_off(f, np.array([10]), k_to, levels=(0.25 * peak, 0.10 * peak), level=level)[0]
    want_clean = t_zero - level / slope
    # the tail lifts both edge crossings by tail_n / slope samples, and nothing more
    assert got == pytest.approx(want_clean + tail_n / slope, abs=0.05)
    if tail_n == 0.0:
        assert got == pytest.approx(want_clean, abs=0.05)


def _in_shoes(tmp_path, mode, preload_n):
    """The same run or walk in bare insoles, laced ones, and laced ones whose sensors let go at once."""
    laced = LACED_SHOE if preload_n is None else replace(LACED_SHOE, preload_n=preload_n)
    out = {}
    for name, sh in (("bare", "bare"), ("laced", laced), ("preload", replace(laced, release_frac=0.0))):
        sc = make_scenario(mode, duration_s=90.0, seed=11, shoe=sh)
        ins = default_insoles(sampling_rate_hz=200, seed=4)
        path = tmp_path / f"{mode}_{name}.insole"
        simulate_recording(path, sc, insoles=ins)
        g = insole.analyze(insole.load(path)).gait
        out[name] = (g, events_vs_truth(g.steps, sc.body if isinstance(sc, InShoe) else sc, ins))
    return out


@pytest.mark.parametrize("mode,preload_n", [("walk", None), ("walk", 670.0), ("run", None)])
def test_events_and_walking_metrics_see_through_a_laced_shoe(tmp_path, mode, preload_n):
    got = _in_shoes(tmp_path, mode, preload_n)
    (gb, eb), (gl, el), (gp, _) = got["bare"], got["laced"], got["preload"]
    assert all(v["toe_off_from_edge"] == 0.0 for v in gb.thresholds_n.values())
    assert all(v["toe_off_from_edge"] == 1.0 for v in gl.thresholds_n.values())
    for side in ("left", "right"):
        assert el[side]["f1"] >= 0.99
        # without the edge the slow release puts toe-off 50-60 ms late; with it, within 8 ms of the bare insole
        assert abs(np.median(el[side]["to_err_ms"]) - np.median(eb[side]["to_err_ms"])) < 8.0
        assert abs(np.median(el[side]["ic_err_ms"]) - np.median(eb[side]["ic_err_ms"])) < 2.0
        assert gl.per_side[side]["contact_time_s"] == pytest.approx(gb.per_side[side]["contact_time_s"], abs=0.008)
        # the preload is zeroed out of the regional shares (a slow release also moves some load from the
        # forefoot to the heel, as the sensors' hysteresis does on real insoles: not tested here)
        for k in ("heel_pct", "midfoot_pct", "forefoot_pct", "toes_pct", "medial_pct"):
            assert gp.regions.feet[side].shares_pct[k] == pytest.approx(gb.regions.feet[side].shares_pct[k], abs=0.3)
    if mode == "walk":
        assert gl.double_support_pct == pytest.approx(gb.double_support_pct, abs=1.5)
        for side in ("left", "right"):
            assert gl.per_side[side]["swing_pct"] == pytest.approx(gb.per_side[side]["swing_pct"], abs=1.0)


def test_standing_in_a_laced_shoe_reads_as_barefoot(tmp_path):
    res = {}
    for sh in ("bare", "laced"):
        path = tmp_path / f"{sh}.insole"
        simulate_recording(path, make_scenario("standing", asymmetry_pct=8.0, seed=2, shoe=sh),
                           insoles=default_insoles(seed=2))
        res[sh] = insole.analyze(insole.load(path)).standing
    for pb, pl in zip(res["bare"].phases, res["laced"].phases):
        assert pl.left_load_pct == pytest.approx(pb.left_load_pct, abs=0.3)
        for side in ("left", "right"):
            for k in ("heel_pct", "forefoot_pct", "toes_pct", "lateral_pct"):
                assert pl.regions.feet[side].shares_pct[k] == pytest.approx(pb.regions.feet[side].shares_pct[k],
                                                                            abs=1.0)


def test_each_foot_cop_moves_across_the_foot_in_two_legged_standing():
    sc = make_scenario("standing", seed=5)
    t = np.arange(10.0, 35.0, 0.01)
    x, y = sc.foot_cop_mm("left", t)
    ratio = np.std(x) / np.std(y)
    assert 0.25 < ratio < 0.8  # a 2-D path, narrower across the foot than along it
    ap, ml = sc.net_cop_mm(t)
    assert np.std(ml) == pytest.approx(sc.options["sway_ml_rms_mm"], rel=0.25)


# --- a walk calibrated with the standing test of the same insoles ---------------------------------

def _pair(seed: int, left_gain: float):
    ins = default_insoles(seed=seed)
    return {**ins, "left": replace(ins["left"], gain=left_gain)}


def test_a_walk_calibrated_by_the_standing_test_lets_the_forces_vote(tmp_path):
    from insole.analysis.gait import analyze_gait
    from insole.errors import InsoleError
    from insole.signals.calibrate import calibrated_from

    simulate_recording(tmp_path / "st.insole", make_scenario("standing", seed=1), insoles=_pair(7, 1.2))
    simulate_recording(tmp_path / "w.insole", make_scenario("walk", duration_s=60.0, seed=1), insoles=_pair(7, 1.2))
    standing, walk = insole.load(tmp_path / "st.insole"), insole.load(tmp_path / "w.insole")
    raw = analyze_gait(walk, protocol="walk").asymmetry["peak_force"]
    assert raw.si_pct == pytest.approx(-18.2, abs=1.5) and not raw.used_for_verdict  # the left insole reads 20 % high
    cal_walk, cal = calibrated_from(walk, standing)
    assert cal.method == "single_leg" and cal.gains["left"] / cal.gains["right"] == pytest.approx(1 / 1.2, rel=0.01)
    fixed = analyze_gait(cal_walk, protocol="walk").asymmetry["peak_force"]
    assert abs(fixed.si_pct) < 1.0 and fixed.used_for_verdict
    # another pair's standing test is refused
    simulate_recording(tmp_path / "other.insole", make_scenario("standing", seed=1), insoles=_pair(8, 1.0))
    with pytest.raises(InsoleError, match="another left insole"):
        calibrated_from(walk, insole.load(tmp_path / "other.insole"))
