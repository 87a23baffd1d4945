"""Where the load goes: regional shares, their left-right differences and
words, pressure maps, the gait line and the report page."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insole.analysis.regions import (CELL_KEYS, REGION_KEYS, gait_regions, region_weights, regional_shares,
                                     standing_regions, stance_impulses)
from insole.constants import COP_X, COP_Y, FORCE, SENSOR_CHANNELS, SIDES
from insole.importers.gaitpdb import FOOT_LENGTH_MM, SENSOR_POSITIONS_MM
from insole.model import Phase, Recording, RecordingMeta
from insole.protocol.layout import SensorLayout, reference_layout
from insole.report.maps import difference_map, gait_line, pressure_map, sensor_means_and_peaks

FAST = settings(derandomize=True, max_examples=25, deadline=None)
REGIONS4 = REGION_KEYS[:4]


def _gaitpdb_layout() -> SensorLayout:
    xy = SENSOR_POSITIONS_MM
    return SensorLayout("left", 40, FOOT_LENGTH_MM, 96.0, 1.0, xy[:, 0].copy(), xy[:, 1].copy(), np.full(8, 1000.0))


# --- shares ----------------------------------------------------------------------------------------

@FAST
@given(st.integers(36, 47), st.floats(1.0, 500.0))
def test_uniform_pressure_gives_shares_proportional_to_area(size_eu, kpa):
    lay = reference_layout("left", size_eu=size_eu)
    shares = regional_shares(kpa * lay.area_mm2 / 1000.0, lay)
    _, w = region_weights(lay)
    expected = 100.0 * (w @ lay.area_mm2) / lay.area_mm2.sum()
    got = np.array([shares[k] for k in REGION_KEYS + CELL_KEYS])
    np.testing.assert_allclose(got, expected, atol=1e-9)


@FAST
@given(st.lists(st.floats(0.0, 1e4), min_size=16, max_size=16).filter(lambda v: sum(v) > 1e-3))
def test_shares_sum_to_100(loads):
    lay = reference_layout("right")
    s = regional_shares(np.array(loads), lay)
    assert sum(s[k] for k in REGIONS4) == pytest.approx(100.0)
    assert s["medial_pct"] + s["lateral_pct"] == pytest.approx(100.0)
    assert sum(s[k] for k in CELL_KEYS if s[k] is not None) == pytest.approx(100.0)


def test_sensors_are_assigned_by_position_and_a_region_without_one_is_missing():
    lay = _gaitpdb_layout()  # heel at 10 %, rows at 30 %, 50 %, 70 %, front at 90 % of 260 mm
    keys, w = region_weights(lay)
    region = dict(zip(keys, w))
    assert region["heel_pct"].tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
    assert region["midfoot_pct"].tolist() == [0, 1, 1, 1, 1, 0, 0, 0]  # 30 % is the midfoot's first point
    assert region["toes_pct"].tolist() == [0, 0, 0, 0, 0, 0, 0, 1]
    assert region["heel_medial_pct"].tolist()[0] == 0.5  # on the long axis: half to each edge
    no_toes = SensorLayout("left", 40, FOOT_LENGTH_MM, 96.0, 1.0, lay.x_mm[:7], lay.y_mm[:7], lay.area_mm2[:7])
    s = regional_shares(np.ones(7), no_toes)
    assert s["toes_pct"] is None and s["toes_lateral_pct"] is None  # missing, not 0
    assert sum(s[k] for k in REGIONS4 if s[k] is not None) == pytest.approx(100.0)
    assert regional_shares(np.zeros(7), no_toes)["heel_pct"] is None  # no load: no share


def test_stance_impulse_sums_the_stance_and_a_gap_makes_it_missing():
    f = np.arange(20.0)[:, None] * np.ones((1, 3))
    f[15, 1] = np.nan
    imp = stance_impulses(f, np.array([2, 12]), np.array([5, 18]), sampling_rate_hz=10.0)
    np.testing.assert_allclose(imp[0], (2 + 3 + 4) / 10.0)
    assert np.isnan(imp[1]).all()


# --- hand-built walks --------------------------------------------------------------------------------

def _walk(*, extra_right_lateral_forefoot: float = 1.0, n_steps: int = 40, seed: int = 0):
    """Both feet loaded alike (noise per step and sensor), the right lateral
    forefoot (MTH5, MTH4) times ``extra_right_lateral_forefoot``."""
    rng = np.random.default_rng(seed)
    fs, stance, period = 100.0, 60, 100
    n = n_steps * period + 50
    t = np.arange(n) / fs
    lay = reference_layout("left")
    base = np.full(16, 60.0)  # kPa at mid-stance
    data, rows = {}, []
    for k, side in enumerate(SIDES):
        p = np.zeros((n, 16))
        offset = k * period // 2
        shape = np.sin(np.linspace(0, np.pi, stance))[:, None]
        for i in range(n_steps):
            a = offset + i * period
            gain = base * rng.lognormal(0.0, 0.15, 16)
            if side == "right":
                gain[[6, 7]] *= extra_right_lateral_forefoot
            p[a:a + stance] = shape * gain
            rows.append((side, t[a], t[a + stance], ""))
        force = p @ (lay.area_mm2 / 1000.0)
        with np.errstate(invalid="ignore"):
            data[(side, COP_X)] = np.where(force > 20, p @ (lay.area_mm2 * lay.x_mm) / 1000.0 / force, np.nan)
            data[(side, COP_Y)] = np.where(force > 20, p @ (lay.area_mm2 * lay.y_mm) / 1000.0 / force, np.nan)
        data[(side, FORCE)] = force
        for j, ch in enumerate(SENSOR_CHANNELS):
            data[(side, ch)] = p[:, j]
    samples = pd.DataFrame(data, index=pd.Index(t, name="time_s"))
    samples.columns = pd.MultiIndex.from_tuples(samples.columns, names=["side", "channel"])
    meta = RecordingMeta(source="test", protocol="walk", sampling_rate_hz=fs)
    steps = pd.DataFrame(rows, columns=["side", "ic_s", "to_s", "excluded"]).sort_values("ic_s")
    return Recording(samples=samples, meta=meta), steps


def test_extra_load_on_the_right_lateral_forefoot_is_named():
    rec, steps = _walk(extra_right_lateral_forefoot=2.0)
    r = gait_regions(rec, steps, n_boot=500)
    d = r.differences["forefoot_lateral_pct"]
    assert d.left_minus_right_pp < -5 and d.ci95_pp[1] < 0
    assert r.statements and "outer edge of the right forefoot" in r.statements[0]
    assert not any("left forefoot" in s or "outer edge of the left" in s for s in r.statements)
    for side in SIDES:  # JSON shape of the v2 `regions` key
        assert set(r.feet[side].to_dict()) == set(REGION_KEYS)


def test_a_symmetric_walk_gets_no_statement():
    rec, steps = _walk()
    r = gait_regions(rec, steps, n_boot=500)
    assert r.statements == ()
    assert all(abs(d.left_minus_right_pp) < 3 for d in r.differences.values() if d.left_minus_right_pp is not None)


def _feet_and_diffs(left: dict, right: dict, ci_halfwidth: float = 0.5):
    """FootRegions and RegionDifference of given shares (tight intervals)."""
    from insole.analysis.regions import FootRegions, RegionDifference
    feet = {"left": FootRegions("left", left, 100), "right": FootRegions("right", right, 100)}
    diffs = {}
    for k in left:
        d = left[k] - right[k]
        diffs[k] = RegionDifference(k, d, (d - ci_halfwidth, d + ci_halfwidth))
    return feet, diffs


def test_the_two_edges_of_a_foot_are_said_once():
    from insole.analysis.regions import describe_differences
    base = dict.fromkeys(REGION_KEYS + CELL_KEYS, 10.0)
    left = {**base, "medial_pct": 45.0, "lateral_pct": 55.0}
    right = {**base, "medial_pct": 38.0, "lateral_pct": 62.0}
    out = describe_differences(*_feet_and_diffs(left, right), basis="stance_impulse")
    assert len(out) == 1 and "outer edge of the right foot" in out[0]


def test_a_region_whose_sensors_lie_on_the_axis_gets_no_edge_words():
    from insole.analysis.regions import describe_differences
    base = dict.fromkeys(REGION_KEYS + CELL_KEYS, 10.0)
    left = {**base, "toes_pct": 9.0, "toes_medial_pct": 4.5, "toes_lateral_pct": 4.5}
    right = {**base, "toes_pct": 3.0, "toes_medial_pct": 1.5, "toes_lateral_pct": 1.5}
    out = describe_differences(*_feet_and_diffs(left, right), basis="stance_impulse")
    assert out == (out[0],) and "the left toes" in out[0] and "edge" not in out[0]


def test_standing_shares_are_of_the_mean_load_with_block_intervals():
    rec, _ = _walk(extra_right_lateral_forefoot=2.0)
    r = standing_regions(rec, stretches_s=[(0.0, 20.0), (25.0, 40.0)], n_boot=300, block_s=1.0)
    assert r.basis == "mean_load"
    lo, hi = r.differences["forefoot_lateral_pct"].ci95_pp
    assert lo < r.differences["forefoot_lateral_pct"].left_minus_right_pp < hi < 0


# --- maps -------------------------------------------------------------------------------------------

@FAST
@given(st.floats(1.0, 800.0), st.integers(36, 47))
def test_uniform_pressure_gives_a_flat_map(kpa, size_eu):
    m = pressure_map(np.full(16, kpa), reference_layout("left", size_eu=size_eu))
    v = m.values[np.isfinite(m.values)]
    assert v.size > 1000
    np.testing.assert_allclose(v, kpa, rtol=1e-6)


@FAST
@given(st.lists(st.floats(0.0, 400.0), min_size=16, max_size=16), st.lists(st.floats(0.0, 400.0), min_size=16, max_size=16))
def test_swapping_the_feet_swaps_the_sign_of_the_difference_map(a, b):
    lay = reference_layout("left")
    ma, mb = pressure_map(np.array(a), lay), pressure_map(np.array(b), lay)
    d, back = difference_map(ma, mb).values, difference_map(mb, ma).values
    np.testing.assert_allclose(d, -back, atol=1e-9)
    assert (ma.values[np.isfinite(ma.values)] >= 0).all()  # clipped to >= 0
    assert np.nanmax(ma.values) <= max(a) + 1e-9


def test_map_works_for_an_8_sensor_layout():
    m = pressure_map(np.arange(8.0) * 10, _gaitpdb_layout())
    assert np.isfinite(m.values).sum() > 1000 and m.sensor_x_mm.size == 8


def test_means_and_peaks_match_a_loop():
    rng = np.random.default_rng(1)
    p = rng.random((50, 4))
    start, end = np.array([0, 10, 40]), np.array([5, 30, 50])
    mean, peak = sensor_means_and_peaks(p, start, end)
    stance = np.concatenate([p[a:b] for a, b in zip(start, end)])
    np.testing.assert_allclose(mean, stance.mean(axis=0))
    np.testing.assert_allclose(peak, np.mean([p[a:b].max(axis=0) for a, b in zip(start, end)], axis=0))


def test_gait_line_runs_heel_to_toe():
    rec, steps = _walk()
    from insole.analysis.regions import cop_through_stance
    g = gait_line(*cop_through_stance(rec, steps, "left"))
    assert g.n_steps == 40 and g.x_mm.shape == (101,)
    assert np.all(np.isfinite(g.y_mm[5:-5])) and np.all(g.sd_x_mm[5:-5] >= 0)


# --- the report page --------------------------------------------------------------------------------

def test_report_has_the_page_after_walking_and_before_quality(tmp_path):
    import subprocess
    import shutil

    from pypdf import PdfReader

    import insole
    from insole.report.pdf import write_report
    from insole.sim.gait import GaitScenario
    from insole.sim.session import default_insoles, simulate_recording

    path = tmp_path / "walk.insole"
    simulate_recording(path, GaitScenario(mode="walk", duration_s=40.0, seed=2), insoles=default_insoles(seed=3),
                       subject="Test Person")
    rec = insole.load(path)
    out = write_report([rec], [insole.analyze(rec)], tmp_path / "r.pdf")
    pages = [p.extract_text() for p in PdfReader(str(out)).pages]
    at = next(i for i, p in enumerate(pages) if "Where the load goes" in p)
    assert "Walking: over the walk" in pages[at - 1] and "Data quality" in pages[at + 1]
    text = pages[at]
    assert "mean pressure" in text and "peak pressure" in text and "Gait line" in text
    assert "left minus right" in text and "forefoot" in text
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-f", str(at + 1), "-l", str(at + 1), "-r", "40", "-png", str(out),
                        str(tmp_path / "page")], check=True)
        assert list(tmp_path.glob("page*.png"))
