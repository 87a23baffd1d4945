"""The gait line across the foot and the regional load bias of the simulated bodies.

Known answers: the per-foot COP (computed from the sensor pressures, as the
pipeline does) swings lateral -> medial through stance by a plausible amount
on the reference layout; a ``region_bias`` moves the truth's regional shares
by the set factors (renormalised) and leaves forces and contact times alone.
"""

from __future__ import annotations

import numpy as np
import pytest

from insole.protocol.layout import reference_layout
from insole.sim.gait import GaitScenario
from insole.sim.standing import StandingScenario

LAYOUT = reference_layout("left")
A, X = LAYOUT.area_mm2, LAYOUT.x_mm


def _scaled(share_pct: float, factor: float) -> float:
    """A share (%) multiplied by ``factor``, the rest unchanged, renormalised."""
    s = share_pct / 100.0
    return 100.0 * s * factor / (1.0 + s * (factor - 1.0))


def _step_cop_x(scn: GaitScenario, k: int) -> np.ndarray:
    st = scn.truth()["steps"]
    t = np.linspace(st["ic_s"][k], st["to_s"][k], 300)
    p = scn.pressures_kpa(st["side"][k], t)
    force = p @ A / 1000.0
    on = force > 0.05 * scn.body_weight_n
    return (p[on] * A) @ X / (p[on] @ A)


@pytest.mark.parametrize("mode", ["walk", "run"])
def test_gait_line_swings_lateral_to_medial_by_a_plausible_amount(mode):
    scn = GaitScenario(mode=mode, duration_s=20.0, seed=3)
    n = len(scn.truth()["steps"]["ic_s"])
    ranges, early, late = [], [], []
    for k in range(n):
        x = _step_cop_x(scn, k)
        fifth = max(1, x.size // 5)
        ranges.append(np.ptp(x))
        early.append(x[:fifth].mean())
        late.append(x[-fifth:].mean())
    ranges, early, late = map(np.asarray, (ranges, early, late))
    assert 12.0 <= np.median(ranges) <= 25.0
    assert np.percentile(ranges, 5) >= 8.0 and np.percentile(ranges, 95) <= 30.0
    assert np.all(early > 0.0) and np.all(late < 0.0)  # lateral first, medial at push-off
    # step-to-step variability, but not a random walk
    assert 1.0 <= np.std(ranges) <= 5.0
    # the lateral excursion peaks in the first part of stance (midfoot)
    x = _step_cop_x(scn, 4)
    assert np.argmax(x) < 0.6 * x.size and np.argmin(x) > 0.8 * x.size


def test_gait_line_variability_can_be_switched_off():
    scn = GaitScenario(mode="walk", duration_s=15.0, cop_roll_cv_pct=0.0, cop_offset_sd_mm=0.0)
    r = [np.ptp(_step_cop_x(scn, k)) for k in range(2, 8)]
    assert np.ptp(r) < 0.5  # only the force curve's own variability is left
    assert set(scn.truth()["steps"]["cop_roll_gain"]) == {1.0}


@pytest.mark.parametrize("mode", ["walk", "run"])
def test_region_bias_moves_truth_shares_and_keeps_forces_and_times(mode):
    bias = {"right": {"forefoot": 1.25}, "left": {"lateral": 1.2}}
    plain = GaitScenario(mode=mode, duration_s=30.0, seed=5)
    biased = GaitScenario(mode=mode, duration_s=30.0, seed=5, region_bias=bias)
    tp, tb = plain.truth(), biased.truth()
    for key in ("ic_s", "to_s", "contact_time_s", "impulse_ns", "peak_force_n"):
        np.testing.assert_array_equal(tp["steps"][key], tb["steps"][key])
    t = np.linspace(0.0, 30.0, 6001)
    for side in ("left", "right"):
        np.testing.assert_allclose(biased.pressures_kpa(side, t) @ A / 1000.0, plain.force_n(side, t),
                                   rtol=1e-9, atol=1e-9)
    rp, rb = tp["per_side"]["right"]["regions"], tb["per_side"]["right"]["regions"]
    assert rb["forefoot"] == pytest.approx(_scaled(rp["forefoot"], 1.25), abs=0.5)
    assert rb["forefoot"] > rp["forefoot"] + 3.0
    lp, lb = tp["per_side"]["left"]["regions"], tb["per_side"]["left"]["regions"]
    assert lb["lateral"] == pytest.approx(_scaled(lp["lateral"], 1.2), abs=0.5)
    assert lb["medial_lateral_index"] < lp["medial_lateral_index"] - 0.05
    # shares sum to 100 and match the per-sensor impulses
    for r in (rp, rb, lp, lb):
        assert sum(r[k] for k in ("heel", "midfoot", "forefoot", "toes")) == pytest.approx(100.0)
        assert r["medial"] + r["lateral"] == pytest.approx(100.0)
        assert sum(r["sensor_impulse_pct"]) == pytest.approx(100.0)


def test_region_truth_agrees_with_impulse_and_pressures():
    scn = GaitScenario(mode="run", duration_s=10.0, seed=2)
    tr = scn.truth()
    t = np.arange(0.0, 10.0, 1e-4)
    for side in ("left", "right"):
        p = scn.pressures_kpa(side, t) * A / 1000.0
        sensor = p.sum(axis=0) * 1e-4
        steps = [i for i, s in enumerate(tr["steps"]["side"]) if s == side]
        assert sensor.sum() == pytest.approx(sum(tr["steps"]["impulse_ns"][i] for i in steps), rel=2e-3)
        np.testing.assert_allclose(100 * sensor / sensor.sum(), tr["per_side"][side]["regions"]["sensor_impulse_pct"],
                                   atol=0.05)


@pytest.mark.parametrize("mode", ["walk", "run"])
def test_symmetric_default_gives_equal_left_right_shares(mode):
    tr = GaitScenario(mode=mode, duration_s=60.0, seed=11).truth()
    left, right = tr["per_side"]["left"]["regions"], tr["per_side"]["right"]["regions"]
    for key in ("heel", "midfoot", "forefoot", "toes", "medial", "lateral"):
        assert left[key] == pytest.approx(right[key], abs=1.0)
    assert 5.0 < left["heel"] < 40.0 and 30.0 < left["forefoot"] < 60.0


def test_standing_region_bias_with_truth():
    kw = {"eyes_open_s": 10.0, "eyes_closed_s": 10.0, "seed": 4}
    plain = StandingScenario(**kw)
    biased = StandingScenario(region_bias={"left": {"heel": 1.3}, "right": {"medial": 0.8}}, **kw)
    t = np.linspace(0.0, plain.duration_s, 4001)
    for side in ("left", "right"):
        np.testing.assert_allclose(biased.pressures_kpa(side, t) @ A / 1000.0, plain.force_n(side, t), rtol=1e-9)
        x, y = biased.foot_cop_mm(side, t[2000:])
        p = biased.pressures_kpa(side, t[2000:])
        np.testing.assert_allclose((p * A) @ LAYOUT.x_mm / (p @ A), x, atol=1e-6)
        np.testing.assert_allclose((p * A) @ LAYOUT.y_mm / (p @ A), y, atol=1e-6)
    rp, rb = plain.truth()["regions"], biased.truth()["regions"]
    assert rp["left"]["heel"] == pytest.approx(rp["right"]["heel"], abs=0.5)
    assert rb["left"]["heel"] == pytest.approx(_scaled(rp["left"]["heel"], 1.3), abs=0.5)
    assert rb["right"]["medial"] == pytest.approx(_scaled(rp["right"]["medial"], 0.8), abs=0.5)
    assert biased.truth()["phases"][0]["region_load_pct"]["left"]["heel"] is None  # left foot in the air
    # load shares and sway truth are those of the unbiased person
    for a, b in zip(plain.truth()["phases"], biased.truth()["phases"]):
        assert a["left_load_pct"] == b["left_load_pct"]


@pytest.mark.parametrize("bad", [{"middle": {"heel": 1.2}}, {"left": {"arch": 1.2}}, {"left": {"heel": 0.0}},
                                 {"left": {"heel": "x"}}])
def test_region_bias_is_validated(bad):
    with pytest.raises(ValueError):
        GaitScenario(mode="walk", duration_s=10.0, region_bias=bad)
    with pytest.raises(ValueError):
        StandingScenario(region_bias=bad)
