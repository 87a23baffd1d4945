"""The Python front door: ``AnalysisResult.summary()``, ``Recording.from_frame``
and ``insole.analyze(df, ...)``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import insole
from insole.sim import make_scenario
from insole.sim.session import default_insoles, simulate_recording

GAITPDB = Path(__file__).parent / "data" / "gaitpdb" / "GaCo01_01.txt"

ALWAYS = ("subject", "source", "protocol", "sampling_rate_hz", "duration_s", "body_mass_kg", "favoured_side",
          "data_quality", "packet_loss_left_pct", "packet_loss_right_pct")
SIDE_METRICS = ("contact_time_s", "flight_time_s", "swing_time_s", "swing_pct", "stance_pct", "stride_time_s",
                "peak_force_n", "impulse_ns", "loading_rate_n_s", "stride_time_cv_pct", "swing_time_cv_pct",
                "stance_time_cv_pct")
GAIT = ("cadence_spm", "n_steps_left", "n_steps_right", "double_support_pct", "pci_pct", "speed_m_s",
        "stride_length_m", "contact_time_slope_pp_per_10min")
ASYM_SUFFIXES = ("si_pct", "si_ci_low_pct", "si_ci_high_pct", "sa_pct", "used_for_verdict")
STANDING = ("left_load_pct", "left_load_ci_low_pct", "left_load_ci_high_pct", "romberg_velocity", "romberg_area",
            "eyes_closed_shift_pp")


def _simulated(tmp_path_factory, name, **kw):
    path = tmp_path_factory.mktemp(name) / f"{name}.insole"
    simulate_recording(path, make_scenario(name, seed=3, **kw), insoles=default_insoles(seed=5))
    return insole.load(path)


@pytest.fixture(scope="module")
def standing_rec(tmp_path_factory):
    return _simulated(tmp_path_factory, "standing", duration_s=50.0, asymmetry_pct=-25.0)


@pytest.fixture(scope="module")
def run_rec(tmp_path_factory):
    return _simulated(tmp_path_factory, "run", duration_s=40.0)


@pytest.fixture(scope="module")
def walk_rec():
    return insole.load(GAITPDB)


def _is_scalar(v):
    return v is None or isinstance(v, (bool, int, float, str, np.bool_, np.integer, np.floating))


def _same(a, b):
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return a == pytest.approx(b)


# --- summary() ---------------------------------------------------------------

def _check_common(s, res, rec):
    assert isinstance(s, pd.Series)
    for key in ALWAYS:
        assert key in s.index, key
    assert all(_is_scalar(v) for v in s.to_numpy()), [k for k, v in s.items() if not _is_scalar(v)]
    assert s["protocol"] == res.protocol
    assert s["source"] == rec.meta.source
    assert s["subject"] == rec.meta.subject
    assert s["sampling_rate_hz"] == rec.meta.sampling_rate_hz
    assert s["duration_s"] == pytest.approx(rec.duration_s)
    assert s["data_quality"] in ("good", "fair", "poor")
    assert s["favoured_side"] in ("left", "right", "none")
    assert s.index.is_unique


@pytest.mark.parametrize("which", ["walk", "run"])
def test_summary_of_a_gait_result_has_the_contract_keys_and_its_numbers(which, walk_rec, run_rec):
    rec = walk_rec if which == "walk" else run_rec
    res = insole.analyze(rec)
    s = res.summary()
    _check_common(s, res, rec)
    g = res.gait
    assert res.protocol == which
    for key in GAIT:
        assert key in s.index, key
    for name in SIDE_METRICS:
        for side in ("left", "right"):
            assert _same(s[f"{name}_{side}"], g.per_side[side].get(name)), (name, side)
    asym = {**g.asymmetry, **({"swing_time": g.swing_asymmetry} if g.swing_asymmetry else {})}
    for name, a in asym.items():
        for suffix in ASYM_SUFFIXES:
            assert f"{name}_{suffix}" in s.index
        assert _same(s[f"{name}_si_pct"], a.si_pct)
        assert _same(s[f"{name}_sa_pct"], a.sa_pct)
        if a.ci95_si_pct:
            assert s[f"{name}_si_ci_low_pct"] == pytest.approx(a.ci95_si_pct[0])
            assert s[f"{name}_si_ci_high_pct"] == pytest.approx(a.ci95_si_pct[1])
        assert s[f"{name}_used_for_verdict"] == a.used_for_verdict
    assert "contact_time_si_pct" in s.index and math.isfinite(s["contact_time_si_pct"])
    assert s["cadence_spm"] == pytest.approx(g.cadence_spm)
    assert s["n_steps_left"] == g.n_steps["left"] and s["n_steps_right"] == g.n_steps["right"]
    assert _same(s["pci_pct"], g.pci_pct)
    assert _same(s["double_support_pct"], g.double_support_pct)
    assert s["favoured_side"] == g.favoured_side
    if which == "walk":
        assert s["body_mass_kg"] == pytest.approx(83.0)  # from the gaitpdb demographics
        assert math.isnan(s["flight_time_si_pct"])  # walking has no flight
    else:
        assert math.isfinite(s["flight_time_si_pct"])


def test_summary_of_a_standing_result_has_the_contract_keys_and_its_numbers(standing_rec):
    res = insole.analyze(standing_rec)
    s = res.summary()
    _check_common(s, res, standing_rec)
    st = res.standing
    for key in STANDING:
        assert key in s.index, key
    assert s["left_load_pct"] == pytest.approx(st.left_load_pct)
    assert (s["left_load_ci_low_pct"], s["left_load_ci_high_pct"]) == pytest.approx(st.ci95_left_load_pct)
    assert {p.name for p in st.phases} == {"eyes_open", "eyes_closed"}
    for p in st.phases:
        assert s[f"{p.name}_left_load_pct"] == pytest.approx(p.left_load_pct)
        assert s[f"{p.name}_sway_velocity_mm_s"] == pytest.approx(p.sway["mean_velocity_mm_s"])
        assert s[f"{p.name}_ellipse95_area_mm2"] == pytest.approx(p.sway["ellipse95_area_mm2"])
    assert s["romberg_velocity"] == pytest.approx(st.romberg["mean_velocity"])
    assert s["romberg_area"] == pytest.approx(st.romberg["ellipse95_area"])
    assert s["eyes_closed_shift_pp"] == pytest.approx(st.eyes_closed_shift_pp)
    assert s["favoured_side"] == st.favoured_side == "left"  # SI -25: the left foot carries about 56 %
    assert s["body_mass_kg"] == pytest.approx(standing_rec.meta.body_mass_kg)


def test_summaries_stack_into_a_cohort_table(walk_rec, run_rec):
    rows = pd.DataFrame([insole.analyze(r).summary() for r in (walk_rec, run_rec)])
    assert list(rows["protocol"]) == ["walk", "run"]
    assert "contact_time_si_pct" in rows.columns


# --- from_frame and analyze(df) ----------------------------------------------

def _flat(rec, *, cop=True, sensors=False):
    """A recording's samples as a flat, force-plate-like DataFrame (COP in the
    ground frame, as a force plate gives it)."""
    from insole.signals.cop import foot_cop_ground

    s = rec.samples
    cols = {"time_s": s.index.to_numpy()}
    for side in ("left", "right"):
        cols[f"{side}_force_n"] = s[(side, "force_n")].to_numpy()
        if cop:
            x, y = foot_cop_ground(s, side, cop_frame=rec.meta.extra.get("cop_frame", "foot"))
            cols[f"{side}_cop_x_mm"], cols[f"{side}_cop_y_mm"] = x, y
        if sensors:
            cols.update({f"{side}_p{i:02d}": s[(side, f"p{i:02d}")].to_numpy() for i in range(1, 17)})
    return pd.DataFrame(cols)


def test_a_walk_as_a_dataframe_gives_the_same_contact_time_si(walk_rec):
    df = _flat(walk_rec, cop=False)
    got = insole.analyze(df, sampling_rate_hz=100, protocol="walk", body_mass_kg=walk_rec.meta.body_mass_kg)
    want = insole.analyze(walk_rec)
    assert got.recording_source == "frame" and got.source == ""
    a, b = got.gait.asymmetry["contact_time"], want.gait.asymmetry["contact_time"]
    assert a.si_pct == pytest.approx(b.si_pct, abs=1e-9)
    assert a.ci95_si_pct == pytest.approx(b.ci95_si_pct, abs=1e-9)
    assert got.gait.n_steps == want.gait.n_steps
    assert got.summary()["contact_time_si_pct"] == pytest.approx(b.si_pct)


def test_a_float_index_in_seconds_works_like_a_time_column(walk_rec):
    df = _flat(walk_rec, cop=False).set_index("time_s")
    rec = insole.Recording.from_frame(df, sampling_rate_hz=100, protocol="walk")
    assert rec.meta.source == "frame" and rec.meta.protocol == "walk"
    np.testing.assert_allclose(rec.samples.index, walk_rec.samples.index)
    np.testing.assert_allclose(rec.samples[("left", "force_n")], walk_rec.samples[("left", "force_n")])
    assert rec.samples[("left", "cop_x_mm")].isna().all()  # no COP given: NaN, as the generic CSV


def test_a_standing_test_as_a_flat_dataframe_gives_the_same_load_share_and_sway(standing_rec):
    df = _flat(standing_rec)
    rec = insole.Recording.from_frame(df, sampling_rate_hz=standing_rec.meta.sampling_rate_hz, protocol="standing",
                                      body_mass_kg=standing_rec.meta.body_mass_kg, phases=standing_rec.meta.phases)
    assert rec.meta.extra["cop_frame"] == "ground"
    # per-sensor zeroing needs the insole's stored layout, which a DataFrame does not carry: compare without it
    o = insole.StandingOptions(zero=False)
    got = insole.analyze(rec, standing_options=o).standing
    want = insole.analyze(standing_rec, standing_options=o).standing
    assert got.calibration.gains == pytest.approx(want.calibration.gains)
    assert got.left_load_pct == pytest.approx(want.left_load_pct, abs=1e-6)
    for p in want.phases:
        q = got.phase(p.name)
        assert q.left_load_pct == pytest.approx(p.left_load_pct, abs=1e-6)
        assert q.sway["mean_velocity_mm_s"] == pytest.approx(p.sway["mean_velocity_mm_s"], rel=1e-4)


def test_standing_forces_only_without_phases_is_one_phase_all(standing_rec):
    df = _flat(standing_rec, cop=False)
    res = insole.analyze(df, sampling_rate_hz=standing_rec.meta.sampling_rate_hz, protocol="standing")
    st = res.standing
    assert [p.name for p in st.phases] == ["all"]
    assert 50.0 < st.left_load_pct < 60.0
    assert st.phases[0].sway is None  # no COP: no sway
    s = res.summary()
    assert s["all_left_load_pct"] == pytest.approx(st.phases[0].left_load_pct)
    assert math.isnan(s["all_sway_velocity_mm_s"])


def test_multiindex_columns_as_insoles_own_frame_round_trip(standing_rec):
    rec = insole.Recording.from_frame(standing_rec.samples, sampling_rate_hz=standing_rec.meta.sampling_rate_hz,
                                      protocol="standing", phases=[(p.name, p.start_s, p.end_s)
                                                                   for p in standing_rec.meta.phases])
    assert rec.meta.extra["cop_frame"] == "foot"
    assert list(rec.samples.columns) == list(standing_rec.samples.columns)
    np.testing.assert_array_equal(rec.samples.to_numpy(), standing_rec.samples.to_numpy())
    assert rec.meta.phases == standing_rec.meta.phases


def test_jittered_times_are_resampled_onto_the_grid():
    rng = np.random.default_rng(1)
    n, rate = 2000, 100.0
    t = np.arange(n) / rate + rng.uniform(-0.002, 0.002, n)
    t[0] = 0.0
    df = pd.DataFrame({"time_s": t, "left_force_n": 300.0 + t, "right_force_n": 400.0 - t})
    rec = insole.Recording.from_frame(df, sampling_rate_hz=rate, protocol="standing")
    assert rec.quality["import"]["resampled"]
    np.testing.assert_allclose(np.diff(rec.samples.index), 1 / rate)
    f = rec.samples[("left", "force_n")].to_numpy()
    ok = np.isfinite(f)
    np.testing.assert_allclose(f[ok], 300.0 + rec.samples.index.to_numpy()[ok], atol=1e-3)


def test_a_default_range_index_counts_samples():
    df = pd.DataFrame({"left_force_n": np.full(50, 300.0), "right_force_n": np.full(50, 300.0)})
    rec = insole.Recording.from_frame(df, sampling_rate_hz=50, protocol="walk")
    assert rec.samples.index[-1] == pytest.approx(49 / 50)
    assert rec.duration_s == pytest.approx(1.0)


def _good(n=200):
    return pd.DataFrame({"time_s": np.arange(n) / 100.0, "left_force_n": 300.0, "right_force_n": 300.0})


def _with(**cols):
    df = _good()
    for k, v in cols.items():
        df[k] = v
    return df


BAD = [
    ("not a frame", lambda: {"left_force_n": [1.0]}, {}, "pandas DataFrame"),
    ("no right force", lambda: _good().drop(columns="right_force_n"), {}, "left_force_n and right_force_n"),
    ("text in a force", lambda: _with(left_force_n=["a"] * 200), {}, "not a number"),
    ("dates as forces", lambda: _with(left_force_n=pd.date_range("2020", periods=200)), {}, "not numbers"),
    ("bools as forces", lambda: _with(left_force_n=True), {}, "not numbers"),
    ("infinite force", lambda: _with(left_force_n=np.r_[np.inf, np.zeros(199)]), {}, "finite"),
    ("text time", lambda: _with(time_s=["x"] * 200), {}, "not a number"),
    ("time going back", lambda: _with(time_s=np.r_[np.arange(100), np.arange(100)] / 100.0), {}, "must increase"),
    ("NaN time", lambda: _with(time_s=np.r_[np.nan, np.arange(1, 200) / 100.0]), {}, "finite time"),
    ("time in ms", lambda: _with(time_s=np.arange(200) * 10.0), {}, "in seconds"),
    ("string index", lambda: _good().drop(columns="time_s").set_axis([f"r{i}" for i in range(200)]), {}, "index"),
    ("rate zero", _good, {"sampling_rate_hz": 0}, "positive"),
    ("rate negative", _good, {"sampling_rate_hz": -100}, "positive"),
    ("rate text", _good, {"sampling_rate_hz": "100"}, "positive"),
    ("rate wrong", _good, {"sampling_rate_hz": 250}, "sampling_rate_hz is 250"),
    ("unknown protocol", _good, {"protocol": "jump"}, "protocol must be one of"),
    ("bad mass", _good, {"body_mass_kg": 2000}, "body mass"),
    ("text mass", _good, {"body_mass_kg": "70"}, "body_mass_kg"),
    ("phase not a tuple", _good, {"phases": ["eyes_open"]}, "a phase must be"),
    ("phase backwards", _good, {"phases": [("eo", 5.0, 1.0)]}, "start_s < end_s"),
    ("phases a string", _good, {"phases": "eyes_open"}, "phases must be"),
    ("one cop axis", lambda: _with(left_cop_x_mm=0.0), {}, "give both or neither"),
    ("negative forces", lambda: _with(left_force_n=-300.0), {}, "flip its sign"),
    ("duplicate", lambda: _with(LEFT_FORCE_N=1.0), {}, "more than once"),
    ("one row", lambda: _good(1), {}, "at least two"),
]


@pytest.mark.parametrize("make,kw,words", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_raises_an_insole_error_that_says_what_is_wrong(make, kw, words):
    args = {"sampling_rate_hz": 100, "protocol": "standing", **kw}
    with pytest.raises(insole.RecordingError, match=words):
        insole.Recording.from_frame(make(), **args)
    with pytest.raises(insole.InsoleError, match=words):
        insole.analyze(make(), **args)


@pytest.mark.parametrize("kw", [{}, {"sampling_rate_hz": 100}, {"protocol": "walk"}])
def test_analyze_of_a_dataframe_says_what_to_pass(kw):
    with pytest.raises(insole.InsoleError, match="sampling_rate_hz and protocol"):
        insole.analyze(_good(), **kw)


def test_analyze_of_a_recording_refuses_dataframe_arguments(walk_rec):
    with pytest.raises(insole.InsoleError, match="for a DataFrame"):
        insole.analyze(walk_rec, sampling_rate_hz=100)


def test_the_public_names_are_exported():
    for name in ("Recording", "analyze", "load", "InsoleError", "RecordingError", "write_report", "GaitOptions",
                 "StandingOptions", "ContactOptions", "figures", "AnalysisResult"):
        assert name in insole.__all__ and getattr(insole, name) is not None
    assert insole.figures.__name__ == "insole.report.figures"
    assert insole.AnalysisResult.summary


# --- fuzz: nothing but InsoleError ---------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_NAMES = st.sampled_from(["time_s", "left_force_n", "right_force_n", "left_cop_x_mm", "left_cop_y_mm",
                          "right_cop_x_mm", "right_cop_y_mm", "left_p01", "LEFT_FORCE_N ", "phase", "x", "", "left_",
                          "_force_n"]) | st.text(max_size=12) | st.integers(-3, 3)
_COLUMN = st.one_of(
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=0, max_size=30),
    st.lists(st.integers(-10**6, 10**6), min_size=0, max_size=30),
    st.lists(st.text(max_size=4), min_size=0, max_size=30),
    st.lists(st.booleans(), min_size=0, max_size=30),
    st.lists(st.none() | st.floats(0, 1000), min_size=0, max_size=30),
)


@st.composite
def _frames(draw):
    n = draw(st.integers(0, 30))
    cols = draw(st.dictionaries(_NAMES, _COLUMN, max_size=6))
    data = {k: (list(v) * (n // max(len(v), 1) + 1))[:n] if v else [None] * n for k, v in cols.items()}
    df = pd.DataFrame(data, index=pd.RangeIndex(n)) if data else pd.DataFrame(index=pd.RangeIndex(n))
    if draw(st.booleans()) and n:
        df.index = draw(st.sampled_from([np.arange(n) / 100.0, np.arange(n)[::-1] / 100.0, [str(i) for i in range(n)],
                                         pd.to_timedelta(np.arange(n) * 10, unit="ms")]))
    return df


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=_frames(), rate=st.sampled_from([100, 100.0, 0, -1, float("nan"), 1e9, "100"]),
       protocol=st.sampled_from(["standing", "walk", "run", "auto", "jump", None]))
def test_from_frame_raises_nothing_but_insole_errors(df, rate, protocol):
    try:
        rec = insole.Recording.from_frame(df, sampling_rate_hz=rate, protocol=protocol)
    except insole.InsoleError:
        return
    assert rec.meta.source == "frame"
    assert {("left", "force_n"), ("right", "force_n")} <= set(rec.samples.columns)
