"""Known answers for the pure functions that the end-to-end tests only reach
through whole analyses: symmetry index and angle, bootstrap intervals, trend
and change point, the low-pass filter, contact detection and the step
table's outlier rules. Each value here is worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insole.analysis.asymmetry import (bootstrap_means, ratio_to_si_pct, sa_to_si_pct, si_to_sa_pct, symmetry_angle,
                                       symmetry_index)
from insole.analysis.contacts import detect_contacts
from insole.analysis.drift import change_point, trend
from insole.analysis.stats import block_bootstrap_sums, percentile_ci
from insole.analysis.steps import exclusion_reasons, flag_outliers
from insole.signals.filters import lowpass

FAST = settings(derandomize=True, max_examples=40, deadline=None)


# --- symmetry ------------------------------------------------------------------------------------

@pytest.mark.parametrize("left,right,si", [(100, 110, 100 * 10 / 105), (110, 100, -100 * 10 / 105),
                                           (50, 50, 0.0), (0, 10, 200.0)])
def test_symmetry_index_known_values(left, right, si):
    assert symmetry_index(left, right) == pytest.approx(si)


@pytest.mark.parametrize("left,right,sa", [(1, 1, 0.0), (0, 1, 50.0), (1, 0, -50.0),
                                           (1, np.sqrt(3), 100 * (45 - 30) / 90)])
def test_symmetry_angle_known_values(left, right, sa):
    assert symmetry_angle(left, right) == pytest.approx(sa)


@FAST
@given(st.floats(1.0, 1000.0), st.floats(1.0, 1000.0))
def test_si_and_sa_describe_the_same_pair(left, right):
    si, sa = float(symmetry_index(left, right)), float(symmetry_angle(left, right))
    assert si_to_sa_pct(si) == pytest.approx(sa, abs=1e-9)
    assert sa_to_si_pct(sa) == pytest.approx(si, abs=1e-7)
    assert np.sign(si) == np.sign(sa) and abs(sa) <= 50.0
    assert float(symmetry_index(right, left)) == pytest.approx(-si)


def test_small_asymmetry_sa_is_about_si_over_pi():
    si = float(symmetry_index(100.0, 102.0))
    assert float(symmetry_angle(100.0, 102.0)) == pytest.approx(si / np.pi, rel=1e-3)


def test_ratio_to_si():
    assert ratio_to_si_pct(1.05) == pytest.approx(200 * 0.05 / 2.05)
    assert ratio_to_si_pct(1.0) == 0.0


# --- bootstrap intervals -------------------------------------------------------------------------

def test_percentile_interval_of_a_uniform_grid():
    r = np.linspace(0.0, 1.0, 100_001)
    lo, hi = percentile_ci(np.r_[r, np.nan])
    assert lo == pytest.approx(0.025, abs=1e-6) and hi == pytest.approx(0.975, abs=1e-6)
    assert all(np.isnan(percentile_ci(np.array([np.nan]))))


def test_bootstrap_of_means_has_the_standard_error():
    rng = np.random.default_rng(1)
    x = rng.normal(10.0, 2.0, size=400)
    reps = bootstrap_means(x, n_boot=4000, rng=np.random.default_rng(2))
    assert reps.mean() == pytest.approx(x.mean(), abs=0.02)
    assert reps.std() == pytest.approx(x.std() / np.sqrt(x.size), rel=0.08)


def test_block_bootstrap_sums_keep_the_length_and_a_constant():
    x = np.full((50, 2), 3.0)
    sums = block_bootstrap_sums(x, block_len=7, n_boot=200, rng=np.random.default_rng(0))
    assert sums.shape == (200, 2) and np.allclose(sums, 150.0)


def test_block_bootstrap_sums_match_an_explicit_resample():
    x = np.arange(20, dtype=float)[:, None]
    n, b = 20, 6
    sums = block_bootstrap_sums(x, block_len=b, n_boot=5, rng=np.random.default_rng(3))
    starts = np.random.default_rng(3).integers(0, n, size=(5, -(-n // b)))
    idx = ((starts[:, :, None] + np.arange(b)) % n).reshape(5, -1)[:, :n]
    assert np.allclose(sums[:, 0], x[idx, 0].sum(axis=1))


# --- trend and change point ----------------------------------------------------------------------

def test_trend_of_a_line_is_its_slope_per_10_minutes():
    t = np.arange(0.0, 3600.0, 60.0)
    y = 2.0 + 0.5 * t / 600.0
    r = trend(t, y, n_boot=300, block=3, rng=np.random.default_rng(0))
    assert r["value"] == pytest.approx(0.5) and r["n_windows"] == t.size
    assert r["ci95"][0] == pytest.approx(0.5) and r["ci95"][1] == pytest.approx(0.5)


def test_trend_needs_three_windows():
    r = trend(np.array([0.0, 60.0]), np.array([1.0, 2.0]), n_boot=10, block=1, rng=np.random.default_rng(0))
    assert r["value"] is None


def test_change_point_finds_a_step_and_not_noise():
    rng = np.random.default_rng(4)
    t = np.arange(40) * 60.0
    y = np.r_[np.zeros(25), np.full(15, 3.0)] + rng.normal(0, 0.3, 40)
    cp = change_point(t, y)
    assert cp is not None and cp["time_s"] == 25 * 60.0
    assert cp["before"] == pytest.approx(0.0, abs=0.2) and cp["after"] == pytest.approx(3.0, abs=0.3)
    assert change_point(t, rng.normal(0, 0.3, 40)) is None


# --- low-pass ------------------------------------------------------------------------------------

def test_lowpass_keeps_a_slow_sine_and_removes_a_fast_one():
    fs = 100.0
    t = np.arange(0, 20, 1 / fs)
    slow, fast = np.sin(2 * np.pi * 0.5 * t), 0.5 * np.sin(2 * np.pi * 30.0 * t)
    y = lowpass(slow + fast, sampling_rate_hz=fs, cutoff_hz=10.0)
    mid = slice(200, -200)
    assert np.abs(y[mid] - slow[mid]).max() < 0.01  # zero lag: no phase shift of the slow part


def test_lowpass_keeps_gaps_and_filters_each_segment():
    x = np.ones(1000)
    x[400:420] = np.nan
    y = lowpass(x, sampling_rate_hz=100.0, cutoff_hz=5.0)
    assert np.isnan(y[400:420]).all() and np.allclose(y[:400], 1.0) and np.allclose(y[420:], 1.0)


# --- contacts and the step table's rules ---------------------------------------------------------

def _trapezoid_walk(fs=200.0, n=20, stride_s=1.1, stance_s=0.66, ramp_s=0.05, peak_n=800.0, base_n=0.0):
    t = np.arange(0, n * stride_s + 1.0, 1 / fs)
    ph = t % stride_s
    up = np.clip(ph / ramp_s, 0, 1)
    down = np.clip((stance_s - ph) / ramp_s, 0, 1)
    return t, base_n + peak_n * np.minimum(up, down) * (ph < stance_s)


def test_contacts_of_trapezoids_are_at_the_20_n_crossings():
    fs = 200.0
    t, f = _trapezoid_walk(fs=fs)
    c, _ = detect_contacts(f, sampling_rate_hz=fs, mode="walk", options=None)
    starts = np.arange(0, 21) * 1.1
    ic_true = starts + 0.05 * 20 / 800  # 20 N on a 50 ms ramp to 800 N
    to_true = starts + 0.66 - 0.05 * 20 / 800
    j = np.searchsorted(starts, c.ic_s - 0.1)
    assert c.ic_s.size >= 18
    assert np.abs(c.ic_s - ic_true[j]).max() < 1e-3 and np.abs(c.to_s - to_true[j]).max() < 1e-3


def test_contacts_do_not_move_with_a_high_preload():
    fs = 200.0
    t, f = _trapezoid_walk(fs=fs)
    c0, _ = detect_contacts(f, sampling_rate_hz=fs, mode="walk")
    c1, _ = detect_contacts(f + 500.0, sampling_rate_hz=fs, mode="walk")
    assert c1.ic_s.size == c0.ic_s.size and np.abs(c1.ic_s - c0.ic_s).max() < 1e-3


def test_outlier_rule_is_three_scaled_mads():
    # 21 values 0.99..1.01 plus 1.05 and 0.96: median 1.0, MAD 0.006 (the 12th of the 23 sorted
    # deviations), bound 3 x 1.4826 x 0.006 = 0.0267: the two added values lie beyond it, the rest within
    x = np.r_[1.0 + 0.01 * np.linspace(-1, 1, 21), 1.05, 0.96]
    out = flag_outliers(x)
    assert out[-2:].all() and not out[:-2].any()
    assert not flag_outliers(np.r_[x[:-2], 1.026, 0.974])[-2:].any()  # MAD 0.006 again: 0.026 < 0.0267


def test_exclusion_names_a_stop():
    stride = np.r_[np.full(10, 1.1), 3.0, np.full(10, 1.1)]
    contact = np.r_[np.full(10, 0.66), 2.5, np.full(10, 0.66)]
    reasons = exclusion_reasons(stride, contact)
    assert reasons[10] == "stop" and (np.asarray(reasons)[:10] == "").all()


def test_the_old_spelling_favored_side_still_works_with_a_warning():
    from insole.analysis.asymmetry import metric_asymmetry

    a = metric_asymmetry("contact_time", np.full(20, 0.30), np.full(20, 0.25), n_boot=50,
                         rng=np.random.default_rng(0))
    with pytest.warns(DeprecationWarning, match="favoured_side"):
        old = a.favored_side
    assert old == a.favoured_side == "left"
    assert a.to_dict()["favored_side"] == "left"  # the JSON keeps its documented key
