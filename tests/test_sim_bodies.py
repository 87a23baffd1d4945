"""Known-answer tests of the simulated bodies (standing, running, walking).

Every check recomputes the quantity from the sensor pressures the way the
analysis would (force = sum(p * area) / 1000, COP = force-weighted sensor
position), and compares it with the set options and with the truth.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from insole.constants import STANDARD_GRAVITY_M_S2
from insole.protocol.layout import reference_layout
from insole.sim._distribute import distribute_kpa, tilt_fractions
from insole.sim.gait import GaitScenario
from insole.sim.standing import StandingScenario

LAYOUT = reference_layout("left")
AREA = LAYOUT.area_mm2


def foot_force_n(p_kpa: np.ndarray) -> np.ndarray:
    return p_kpa @ AREA / 1000.0


def foot_cop_mm(p_kpa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w = p_kpa * AREA
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return w @ LAYOUT.x_mm / total, w @ LAYOUT.y_mm / total


def chunked(scn, side: str, t: np.ndarray, seed: int = 0) -> np.ndarray:
    """Evaluate in random chunks of 1-8 samples, as a real-time stream would."""
    cuts = np.cumsum(np.random.default_rng(seed).integers(1, 9, t.size))
    return np.concatenate([scn.pressures_kpa(side, c) for c in np.split(t, cuts[cuts < t.size])])


def si_pct(left: float, right: float) -> float:
    return 100.0 * (right - left) / (0.5 * (right + left))


# --------------------------------------------------------------------------
# shared distribution
# --------------------------------------------------------------------------
def test_distribution_hits_force_and_cop_and_stays_non_negative():
    from scipy.spatial import Delaunay

    rng = np.random.default_rng(3)
    n = 4000
    tx = rng.uniform(-60, 60, n)
    ty = rng.uniform(-20, 300, n)
    force = rng.uniform(0, 1500, n)
    base = np.ones(16)
    p = distribute_kpa(force, tx, ty, base, x_mm=LAYOUT.x_mm, y_mm=LAYOUT.y_mm, area_mm2=AREA)
    assert np.isfinite(p).all() and p.min() >= 0.0
    np.testing.assert_allclose(foot_force_n(p), force, rtol=1e-12, atol=1e-9)
    cx, cy = foot_cop_mm(p)
    sensors = np.column_stack([LAYOUT.x_mm, LAYOUT.y_mm])
    hull = Delaunay(sensors)
    # well inside the sensors' convex hull: exact; shrink the hull 3 % to stay clear of its edges
    centre = sensors.mean(axis=0)
    inner = hull.find_simplex(centre + (np.column_stack([tx, ty]) - centre) / 0.97) >= 0
    assert inner.sum() > 1000
    ok = force > 1e-6
    np.testing.assert_allclose(cx[inner & ok], tx[inner & ok], atol=1e-6)
    np.testing.assert_allclose(cy[inner & ok], ty[inner & ok], atol=1e-6)
    # anywhere else: the COP lands inside the insole
    assert np.all(hull.find_simplex(np.column_stack([cx, cy])[ok]) >= 0)
    frac = tilt_fractions(base, np.array([80.0]), np.array([300.0]), x_mm=LAYOUT.x_mm, y_mm=LAYOUT.y_mm)
    assert frac.min() >= 0.0 and abs(frac.sum() - 1.0) < 1e-12
    assert frac @ LAYOUT.y_mm > 230.0


# --------------------------------------------------------------------------
# standing
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def standing():
    return StandingScenario(left_load_pct=46.0, eyes_closed_shift_pp=4.0, seed=11)


@pytest.fixture(scope="module")
def standing_samples(standing):
    t = np.arange(0.0, standing.duration_s, 0.01)
    return t, standing.pressures_kpa("left", t), standing.pressures_kpa("right", t)


def phase_mask(scn, t, name):
    p = {ph.name: ph for ph in scn.phases}[name]
    return (t >= p.start_s) & (t < p.end_s)


def test_standing_phases_and_interface(standing):
    assert standing.protocol == "standing"
    assert [p.name for p in standing.phases] == ["lift_left", "lift_right", "eyes_open", "eyes_closed"]
    assert standing.phases[-1].end_s == pytest.approx(standing.duration_s)
    assert all(a.end_s <= b.start_s for a, b in zip(standing.phases, standing.phases[1:]))
    assert standing.phases[2].duration_s == pytest.approx(30.0)
    p = standing.pressures_kpa("left", np.array([1.0, 20.0]))
    assert p.shape == (2, 16) and p.dtype == np.float64
    assert standing.pressures_kpa("right", 12.0).shape == (1, 16)
    assert standing.pressures_kpa("right", np.zeros(0)).shape == (0, 16)
    # outside the scenario: clamped
    np.testing.assert_array_equal(
        standing.pressures_kpa("left", [-5.0, 1e6]), standing.pressures_kpa("left", [0.0, standing.duration_s])
    )
    with pytest.raises(ValueError, match="side"):
        standing.pressures_kpa("middle", np.array([1.0]))
    with pytest.raises(ValueError):
        standing.pressures_kpa("left", np.array([np.nan]))
    json.dumps(standing.truth())


def test_standing_deterministic_and_chunk_invariant(standing):
    t = np.arange(0.0, standing.duration_s, 0.005)
    again = StandingScenario(left_load_pct=46.0, eyes_closed_shift_pp=4.0, seed=11)
    other = StandingScenario(left_load_pct=46.0, eyes_closed_shift_pp=4.0, seed=12)
    for side in ("left", "right"):
        whole = standing.pressures_kpa(side, t)
        np.testing.assert_array_equal(whole, again.pressures_kpa(side, t))
        np.testing.assert_array_equal(whole, chunked(standing, side, t))
        # any order
        perm = np.random.default_rng(1).permutation(t.size)
        np.testing.assert_array_equal(whole[perm], standing.pressures_kpa(side, t[perm]))
        assert not np.array_equal(whole, other.pressures_kpa(side, t))
    assert again.truth() == standing.truth()


def test_standing_force_is_body_weight(standing, standing_samples):
    t, pl, pr = standing_samples
    assert np.isfinite(pl).all() and np.isfinite(pr).all()
    assert pl.min() >= 0.0 and pr.min() >= 0.0
    bw = 70.0 * STANDARD_GRAVITY_M_S2
    np.testing.assert_allclose(foot_force_n(pl) + foot_force_n(pr), bw, rtol=1e-10)
    np.testing.assert_allclose(foot_force_n(pl), standing.force_n("left", t), rtol=1e-10, atol=1e-9)


def test_standing_phase_shares_match_set_values(standing, standing_samples):
    t, pl, pr = standing_samples
    fl, fr = foot_force_n(pl), foot_force_n(pr)
    truth = {p["name"]: p for p in standing.truth()["phases"]}
    for name, set_pct in (("eyes_open", 46.0), ("eyes_closed", 50.0)):
        m = phase_mask(standing, t, name)
        share = 100.0 * fl[m].mean() / (fl[m] + fr[m]).mean()
        assert share == pytest.approx(set_pct, abs=0.1)
        assert truth[name]["left_load_pct"] == pytest.approx(set_pct, abs=0.01)
        assert truth[name]["left_load_sd_pct"] > 0.3  # the share does fluctuate
    assert standing.truth()["delta_left_load_pp"] == pytest.approx(4.0, abs=0.02)
    # foot lifts: the lifted foot's insole is unloaded, the other carries everything
    m = phase_mask(standing, t, "lift_left")
    assert fl[m].max() == 0.0 and 100.0 * fl[m].mean() / (fl[m] + fr[m]).mean() < 0.1
    m = phase_mask(standing, t, "lift_right")
    assert fr[m].max() == 0.0 and 100.0 * fl[m].mean() / (fl[m] + fr[m]).mean() > 99.9


def net_cop_from_pressures(scn, pl, pr):
    fl, fr = foot_force_n(pl), foot_force_n(pr)
    half = scn.options["stance_width_mm"] / 2.0
    xl, yl = foot_cop_mm(pl)
    xr, yr = foot_cop_mm(pr)
    xl_g = np.where(fl > 0, -half - xl, 0.0)  # left foot: lateral is -x in the ground frame
    xr_g = np.where(fr > 0, half + xr, 0.0)
    yl, yr = np.where(fl > 0, yl, 0.0), np.where(fr > 0, yr, 0.0)
    total = fl + fr
    return (fl * yl + fr * yr) / total, (fl * xl_g + fr * xr_g) / total


def sway(ap, ml, rate_hz):
    ap, ml = ap - ap.mean(), ml - ml.mean()
    velocity = np.hypot(np.diff(ap), np.diff(ml)).sum() / (ap.size / rate_hz)
    return {
        "rms_ap": np.sqrt(np.mean(ap**2)),
        "rms_ml": np.sqrt(np.mean(ml**2)),
        "velocity": velocity,
        "mean_freq": velocity / (2 * np.pi * np.hypot(ap, ml).mean()),
    }


def test_standing_sway_amplitude_frequency_and_eyes_closed(standing, standing_samples):
    t, pl, pr = standing_samples
    ap, ml = net_cop_from_pressures(standing, pl, pr)
    ap_model, ml_model = standing.net_cop_mm(t)
    np.testing.assert_allclose(ap, ap_model, atol=1e-6)
    np.testing.assert_allclose(ml, ml_model, atol=1e-6)
    m_eo, m_ec = phase_mask(standing, t, "eyes_open"), phase_mask(standing, t, "eyes_closed")
    eo = sway(ap[m_eo], ml[m_eo], 100.0)
    ec = sway(ap[m_ec], ml[m_ec], 100.0)
    assert eo["rms_ap"] == pytest.approx(4.0, rel=0.3)
    assert eo["rms_ml"] == pytest.approx(2.5, rel=0.3)
    assert 0.1 <= eo["mean_freq"] <= 1.0 and 0.1 <= ec["mean_freq"] <= 1.0
    assert ec["rms_ap"] > 1.2 * eo["rms_ap"] and ec["rms_ml"] > 1.2 * eo["rms_ml"]
    assert ec["velocity"] > eo["velocity"]
    # mostly below 1 Hz
    spec = np.abs(np.fft.rfft(ap[m_eo] - ap[m_eo].mean())) ** 2
    freq = np.fft.rfftfreq(int(m_eo.sum()), 0.01)
    assert spec[freq < 1.0].sum() > 0.9 * spec.sum()
    truth = {p["name"]: p for p in standing.truth()["phases"]}
    assert truth["eyes_open"]["net_cop_rms_ap_mm"] == pytest.approx(eo["rms_ap"], rel=0.02)
    assert truth["eyes_closed"]["net_cop_rms_ml_mm"] == pytest.approx(ec["rms_ml"], rel=0.02)
    # foot COP along the foot: weight over heel and forefoot
    _, y_left = foot_cop_mm(pl[m_eo])
    assert 0.38 * 270 < y_left.mean() < 0.46 * 270


def test_standing_options_are_validated():
    for bad in (
        {"left_load_pct": 120.0},
        {"left_load_pct": 90.0, "eyes_closed_shift_pp": 8.0},
        {"sway_ap_rms_mm": -1.0},
        {"eyes_open_s": 1.0},
        {"transition_s": 0.0},
        {"body_mass_kg": float("nan")},
        {"seed": 1.5},
    ):
        with pytest.raises(ValueError):
            StandingScenario(**bad)
    short = StandingScenario(lift_s=0.0, eyes_closed_s=0.0, eyes_open_s=20.0)
    assert [p.name for p in short.phases] == ["eyes_open"] and short.duration_s == pytest.approx(20.0)


# --------------------------------------------------------------------------
# gait
# --------------------------------------------------------------------------
def detect_contacts(t, force):
    """(ic, to) from a finely sampled force that is exactly 0 in swing."""
    on = (force > 0).astype(np.int8)
    edges = np.diff(on)
    ic = t[1:][edges == 1]
    to = t[1:][edges == -1]
    if to.size and ic.size and to[0] < ic[0]:
        to = to[1:]
    n = min(ic.size, to.size)
    return ic[:n], to[:n]


@pytest.fixture(scope="module")
def run():
    return GaitScenario(mode="run", duration_s=120.0, contact_time_si_pct=6.0, peak_force_si_pct=8.0, seed=5)


@pytest.fixture(scope="module")
def walk():
    return GaitScenario(mode="walk", duration_s=60.0, seed=5)


@pytest.mark.parametrize("mode", ["run", "walk"])
def test_gait_deterministic_and_chunk_invariant(mode):
    a = GaitScenario(mode=mode, duration_s=20.0, seed=3)
    b = GaitScenario(mode=mode, duration_s=20.0, seed=3)
    c = GaitScenario(mode=mode, duration_s=20.0, seed=4)
    t = np.arange(0.0, 20.0, 0.005)
    for side in ("left", "right"):
        whole = a.pressures_kpa(side, t)
        assert whole.shape == (t.size, 16) and np.isfinite(whole).all() and whole.min() >= 0.0
        np.testing.assert_array_equal(whole, b.pressures_kpa(side, t))
        np.testing.assert_array_equal(whole, chunked(a, side, t, seed=7))
        assert not np.array_equal(whole, c.pressures_kpa(side, t))
    assert a.truth() == b.truth()
    json.dumps(a.truth())
    assert a.protocol == mode and [p.name for p in a.phases] == [mode]


def test_gait_steps_alternate_and_events_are_exact(run):
    steps = run.truth()["steps"]
    sides = steps["side"]
    assert sides[0] == "left"
    assert all(s == ("left" if i % 2 == 0 else "right") for i, s in enumerate(sides))
    ic, to = np.array(steps["ic_s"]), np.array(steps["to_s"])
    assert np.all(np.diff(ic) > 0) and to[-1] <= run.duration_s
    for side in ("left", "right"):
        m = np.array(sides) == side
        eps = 1e-7
        f_ic = run.force_n(side, ic[m])
        f_to = run.force_n(side, to[m])
        assert np.all(f_ic == 0.0) and np.all(f_to == 0.0)
        assert np.all(run.force_n(side, ic[m] - eps) == 0.0)
        assert np.all(run.force_n(side, ic[m] + 1e-4) > 0.0)
        assert np.all(run.force_n(side, to[m] - 1e-4) > 0.0)
        assert np.all(run.force_n(side, to[m] + eps) == 0.0)
        # the same contacts from the pressures at 1 kHz
        t = np.arange(0.0, run.duration_s, 0.001)
        force = foot_force_n(run.pressures_kpa(side, t))
        d_ic, d_to = detect_contacts(t, force)
        assert d_ic.size == m.sum()
        assert np.abs(d_ic - ic[m]).max() <= 0.001 and np.abs(d_to - to[m]).max() <= 0.001
        # exactly zero in swing
        in_stance = np.zeros(t.size, dtype=bool)
        for a, b in zip(ic[m], to[m]):
            in_stance[np.searchsorted(t, a, "right") : np.searchsorted(t, b, "left")] = True
        assert np.all(force[~in_stance] == 0.0) and np.all(force[in_stance] > 0.0)


def test_gait_contact_and_flight_times(run, walk):
    for scn, ct_set, cadence in ((run, 0.25, 170.0), (walk, 0.67, 110.0)):
        truth = scn.truth()
        steps = truth["steps"]
        ct = np.array(steps["contact_time_s"])
        assert ct.mean() == pytest.approx(ct_set, rel=0.02)
        assert 1.0 < 100 * ct.std() / ct.mean() < 5.5  # 2 % CV plus the set asymmetry
        flight = np.array([f for f in steps["flight_time_s"] if f is not None])
        step_time = 60.0 / cadence
        assert flight.mean() == pytest.approx(step_time - ct_set, abs=0.01)
        assert truth["cadence_spm"] == pytest.approx(cadence, rel=0.02)
    assert np.all(np.array(run.truth()["steps"]["flight_time_s"][:-1]) > 0)  # running: flight
    assert np.mean(walk.truth()["steps"]["flight_time_s"][:-1]) < 0  # walking: double support
    # double support is visible in the signal: both feet loaded at once
    t = np.arange(10.0, 30.0, 0.005)
    both = (walk.force_n("left", t) > 0) & (walk.force_n("right", t) > 0)
    assert 0.1 < both.mean() < 0.4
    both = (run.force_n("left", t) > 0) & (run.force_n("right", t) > 0)
    assert not both.any()


@pytest.mark.parametrize("mode", ["run", "walk"])
def test_gait_body_weight_identity(mode, run, walk):
    scn = run if mode == "run" else walk
    steps = scn.truth()["steps"]
    left_ic = np.array(steps["ic_s"])[np.array(steps["side"]) == "left"]
    t = np.arange(left_ic[0], left_ic[-1], 1 / 200.0)
    total = foot_force_n(scn.pressures_kpa("left", t)) + foot_force_n(scn.pressures_kpa("right", t))
    bw = scn.body_mass_kg * STANDARD_GRAVITY_M_S2
    assert total.mean() / bw == pytest.approx(1.0, abs=0.02)
    assert scn.truth()["mean_total_force_bw"] == pytest.approx(1.0, abs=1e-6)
    # per-step impulse in truth is the integral of the force
    k = 7
    a, b = steps["ic_s"][k], steps["to_s"][k]
    tt = np.linspace(a, b, 20001)
    f = scn.force_n(steps["side"][k], tt)
    assert np.trapezoid(f, tt) == pytest.approx(steps["impulse_ns"][k], rel=1e-5)
    assert f.max() == pytest.approx(steps["peak_force_n"][k], rel=1e-5)


def test_gait_asymmetry_known_answers(run):
    truth = run.truth()
    si = truth["symmetry_index_pct"]
    assert si["contact_time_s"] == pytest.approx(6.0, abs=1.0)
    assert si["peak_force_n"] > 3.0
    # the same from the signal
    t = np.arange(0.0, run.duration_s, 0.001)
    measured = {}
    for side in ("left", "right"):
        force = run.force_n(side, t)
        ic, to = detect_contacts(t, force)
        peaks = [force[np.searchsorted(t, a) : np.searchsorted(t, b)].max() for a, b in zip(ic, to)]
        measured[side] = ((to - ic).mean(), np.mean(peaks))
    assert si_pct(measured["left"][0], measured["right"][0]) == pytest.approx(6.0, abs=1.0)
    assert si_pct(measured["left"][1], measured["right"][1]) > 3.0
    mirrored = GaitScenario(mode="run", duration_s=60.0, peak_force_si_pct=-8.0, seed=5)
    assert mirrored.truth()["symmetry_index_pct"]["peak_force_n"] < -3.0
    assert abs(mirrored.truth()["symmetry_index_pct"]["contact_time_s"]) < 1.5


@pytest.mark.parametrize("strike", ["rearfoot", "forefoot"])
def test_gait_loading_rate_definition_and_asymmetry(strike):
    scn = GaitScenario(mode="run", duration_s=60.0, loading_rate_si_pct=10.0, strike=strike, seed=2)
    truth = scn.truth()
    assert truth["symmetry_index_pct"]["loading_rate_n_s"] == pytest.approx(10.0, abs=2.5)
    steps = truth["steps"]
    for k in (3, 4):
        a, b = steps["ic_s"][k], steps["to_s"][k]
        tt = np.linspace(a, b, 50001)
        f = scn.force_n(steps["side"][k], tt)
        s = (tt - a) / (b - a)
        if strike == "rearfoot":
            window = s <= 0.2
            d = np.diff(f[window])
            i = np.flatnonzero((d[:-1] > 0) & (d[1:] <= 0))[0] + 1
            fi = f[i]
            assert fi == pytest.approx(steps["impact_peak_n"][k], rel=1e-4)
            t20 = np.interp(0.2 * fi, f[: i + 1], tt[: i + 1])
            t80 = np.interp(0.8 * fi, f[: i + 1], tt[: i + 1])
            rate = 0.6 * fi / (t80 - t20)
        else:
            assert steps["impact_peak_n"][k] is None
            rate = (np.interp(0.12, s, f) - np.interp(0.03, s, f)) / (0.09 * (b - a))
        assert rate == pytest.approx(steps["loading_rate_n_s"][k], rel=2e-3)


def test_gait_force_curve_shapes(run, walk):
    bw = 70.0 * STANDARD_GRAVITY_M_S2
    steps = run.truth()["steps"]
    k = 10
    a, b = steps["ic_s"][k], steps["to_s"][k]
    tt = np.linspace(a, b, 2001)
    f = run.force_n(steps["side"][k], tt) / bw
    s = np.linspace(0, 1, 2001)
    impact = steps["impact_peak_n"][k] / bw
    s_impact = s[np.argmin(np.abs(f[s < 0.2] - impact))]
    assert 1.5 <= impact <= 2.0 and 0.08 <= s_impact <= 0.16
    assert 2.2 <= f.max() <= 2.9 and 0.38 <= s[np.argmax(f)] <= 0.52
    forefoot = GaitScenario(mode="run", duration_s=20.0, strike="forefoot")
    assert all(x is None for x in forefoot.truth()["steps"]["impact_peak_n"])
    steps = walk.truth()["steps"]
    a, b = steps["ic_s"][k], steps["to_s"][k]
    f = walk.force_n(steps["side"][k], np.linspace(a, b, 2001)) / bw
    first, second, valley = f[s < 0.5].max(), f[s > 0.5].max(), f[(s > 0.4) & (s < 0.6)].min()
    assert 1.0 <= first <= 1.3 and 1.0 <= second <= 1.3 and 0.6 <= valley <= 0.9
    assert 0.18 <= s[np.argmax(np.where(s < 0.5, f, 0))] <= 0.32


@pytest.mark.parametrize("strike,lo,hi", [("rearfoot", 0, 33), ("midfoot", 34, 67), ("forefoot", 68, 100)])
def test_gait_strike_index_and_cop_progression(strike, lo, hi):
    scn = GaitScenario(mode="run", duration_s=10.0, strike=strike)
    steps = scn.truth()["steps"]
    assert all(lo <= x <= hi for x in steps["strike_index_pct"])
    a, b = steps["ic_s"][2], steps["to_s"][2]
    t = a + np.array([0.002, 0.5, 0.97]) * (b - a)
    x, y = foot_cop_mm(scn.pressures_kpa(steps["side"][2], t))
    assert lo <= 100 * y[0] / 270 <= hi + 2
    assert y[2] > 0.8 * 270 and y[2] > y[0]
    assert x[2] < -5  # toe-off medially


def test_gait_fatigue_grows_contact_time_asymmetry():
    scn = GaitScenario(mode="run", duration_s=1200.0, contact_time_si_growth_pp_per_10min=6.0, seed=9)
    w = scn.truth()["windows"]
    mid = 0.5 * (np.array(w["start_s"]) + np.array(w["end_s"]))
    slope_pp_per_10min = np.polyfit(mid, np.array(w["contact_time_si_pct"], dtype=float), 1)[0] * 600.0
    assert 3.0 < slope_pp_per_10min < 9.0
    flat = GaitScenario(mode="run", duration_s=1200.0, seed=9)
    w = flat.truth()["windows"]
    assert abs(np.polyfit(mid, np.array(w["contact_time_si_pct"], dtype=float), 1)[0] * 600.0) < 1.0


def test_gait_options_are_validated():
    for bad in (
        {"mode": "swim"},
        {"strike": "heel"},
        {"contact_time_s": 0.05},
        {"mode": "walk", "contact_time_s": 1.2},  # overlaps the same foot's next contact
        {"contact_time_si_pct": 50.0, "contact_time_si_growth_pp_per_10min": 30.0, "duration_s": 1200.0},
        {"duration_s": 1.0},
        {"step_time_cv_pct": -1.0},
        {"seed": "x"},
    ):
        with pytest.raises(ValueError):
            GaitScenario(**bad)


def test_evaluation_speed_sanity():
    """1 hour at 200 Hz for one foot (loose: a sanity check, not a benchmark)."""
    t = np.arange(720_000) / 200.0
    for scn in (
        GaitScenario(mode="run", duration_s=3600.0),
        StandingScenario(eyes_open_s=1800.0, eyes_closed_s=1800.0),
    ):
        scn.pressures_kpa("left", t[:1000])  # warm-up
        start = time.perf_counter()
        p = scn.pressures_kpa("left", t)
        assert time.perf_counter() - start < 1.5
        assert p.shape == (720_000, 16)
    start = time.perf_counter()
    for i in range(0, 8000, 8):
        scn.pressures_kpa("right", t[i : i + 8])
    assert (time.perf_counter() - start) / 1000 < 1e-3


def test_a_cued_person_stands_quietly_until_the_start_then_plays_the_scenario():
    """sim.cued: before the cue the eyes-open stretch loops (both feet down);
    from the cued start the scenario plays from its beginning (the left foot
    lifted first), exactly."""
    from insole.sim.cued import CuedScenario

    inner = StandingScenario(left_load_pct=56.0, seed=3)
    body = CuedScenario(inner)
    quiet = next(p for p in inner.phases if p.name == "eyes_open")
    assert body.idle == (quiet.start_s, quiet.end_s)
    t = np.array([0.0, 1.0, 17.3, 95.0])
    loop = quiet.start_s + np.mod(t, quiet.end_s - quiet.start_s)
    np.testing.assert_array_equal(body.pressures_kpa("left", t), inner.pressures_kpa("left", loop))
    body.start_at(100.0)
    np.testing.assert_array_equal(body.pressures_kpa("left", t), inner.pressures_kpa("left", loop))
    after = np.array([100.0, 101.5, 130.0])
    np.testing.assert_array_equal(body.pressures_kpa("right", after), inner.pressures_kpa("right", after - 100.0))
    assert body.pressures_kpa("left", np.array([101.5])).sum() == 0.0  # lift_left: the left foot in the air
    assert body.truth() == inner.truth() and body.phases == inner.phases
    with pytest.raises(ValueError):
        CuedScenario(inner, idle=(10.0, 5.0))
