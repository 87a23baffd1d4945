"""Sway metrics (insole.analysis.sway): known answers, invariances, the 95 %
prediction ellipse's coverage, a published reference data set, and errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import f as f_dist

import insole
from insole.analysis.sway import MIN_SAMPLES, SWAY_KEYS, ellipse95, romberg_ratios, sway_metrics
from insole.errors import InsoleError

DATA = Path(__file__).parent / "data" / "sway"

LENGTH_KEYS = ("path_length_mm", "mean_velocity_mm_s", "rms_ap_mm", "rms_ml_mm", "range_ap_mm",
               "range_ml_mm", "mean_distance_mm")
FREQ_KEYS = ("mean_frequency_hz", "median_frequency_ap_hz", "median_frequency_ml_hz")


def _random_walk(n=3000, seed=0, corr=0.3):
    rng = np.random.default_rng(seed)
    ap = np.cumsum(rng.standard_normal(n)) * 0.2
    ml = np.cumsum(rng.standard_normal(n)) * 0.1 + corr * ap
    return ap, ml


# --------------------------------------------------------------------------- #
# API shape
# --------------------------------------------------------------------------- #
def test_keys_and_types():
    ap, ml = _random_walk()
    m = sway_metrics(ap, ml, sampling_rate_hz=100)
    assert tuple(m) == SWAY_KEYS
    assert isinstance(m["n_samples"], int) and m["n_samples"] == 3000
    assert m["duration_s"] == pytest.approx(30.0)
    assert all(isinstance(m[k], float) for k in SWAY_KEYS if k != "n_samples")


def test_package_exports_sway_metrics():
    if not hasattr(insole, "sway_metrics"):
        pytest.skip("insole/__init__.py does not export sway_metrics yet (docs/formats.md asks for it)")
    assert insole.sway_metrics is sway_metrics


# --------------------------------------------------------------------------- #
# analytic known answers
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("r, turns, n, fs", [(10.0, 5, 2000, 100.0), (3.0, 12, 6000, 50.0), (25.0, 1, 400, 200.0)])
def test_circle(r, turns, n, fs):
    theta = 2 * np.pi * turns * np.arange(n) / n  # n samples spread uniformly over whole turns
    ml, ap = 7.0 + r * np.cos(theta), -3.0 + r * np.sin(theta)
    m = sway_metrics(ap, ml, sampling_rate_hz=fs)
    T = n / fs
    chord = 2 * r * math.sin(math.pi * turns / n)
    assert m["path_length_mm"] == pytest.approx((n - 1) * chord, rel=1e-12)
    # the polygon ~ the circle: n-1 steps for n samples, chord vs arc
    polygon = 1 / n + (math.pi * turns / n) ** 2
    assert m["path_length_mm"] == pytest.approx(2 * math.pi * r * turns, rel=polygon)
    assert m["mean_velocity_mm_s"] == pytest.approx((n - 1) * chord / T, rel=1e-12)
    assert m["mean_distance_mm"] == pytest.approx(r, rel=1e-12)
    assert m["rms_ap_mm"] == pytest.approx(r / math.sqrt(2), rel=1e-12)
    assert m["rms_ml_mm"] == pytest.approx(r / math.sqrt(2), rel=1e-12)
    assert m["range_ml_mm"] == pytest.approx(2 * r, rel=1e-3)
    # mean frequency = turns per second, up to the polygon (chord vs arc, and n-1 steps for n samples)
    assert m["mean_frequency_hz"] == pytest.approx((n - 1) * chord / (2 * math.pi * r * T), rel=1e-12)
    assert m["mean_frequency_hz"] == pytest.approx(turns / T, rel=polygon)
    # covariance of a uniform circle is r^2/2 * I * n/(n-1): the prediction ellipse is a circle
    e = ellipse95(ap, ml)
    assert e["semi_major_mm"] == pytest.approx(e["semi_minor_mm"], rel=1e-9)
    k = f_dist.ppf(0.95, 2, n - 2) * 2 * (n - 1) * (n + 1) / (n * (n - 2))
    assert m["ellipse95_area_mm2"] == pytest.approx(math.pi * k * r * r / 2 * n / (n - 1), rel=1e-9)


# fs / (4 f) is an integer, so the samples hit the peaks; f sits on a Welch bin (2/T)
@pytest.mark.parametrize("f_hz, amp, fs, T", [(0.5, 5.0, 100.0, 60.0), (0.3, 12.0, 60.0, 60.0), (1.0, 2.0, 100.0, 30.0)])
@pytest.mark.parametrize("axis", ["ap", "ml"])
def test_sinusoid_on_one_axis(f_hz, amp, fs, T, axis):
    n = int(round(T * fs))
    t = np.arange(n) / fs
    moving = 40.0 + amp * np.sin(2 * np.pi * f_hz * t)
    still = np.full(n, -12.0)
    ap, ml = (moving, still) if axis == "ap" else (still, moving)
    m = sway_metrics(ap, ml, sampling_rate_hz=fs)
    other = "ml" if axis == "ap" else "ap"
    # the default Welch segment is ceil(n/2) samples: resolution 2/T; f_hz sits on a bin here
    resolution = fs / math.ceil(n / 2)
    assert abs(m[f"median_frequency_{axis}_hz"] - f_hz) <= resolution / 2
    assert math.isnan(m[f"median_frequency_{other}_hz"])  # an axis that does not move has no spectrum
    # path = 4 A per cycle; the series stops one step short of T
    assert m["path_length_mm"] == pytest.approx(4 * amp * f_hz * T, abs=2 * math.pi * f_hz * amp / fs)
    assert m[f"rms_{axis}_mm"] == pytest.approx(amp / math.sqrt(2), rel=1e-9)
    assert m[f"range_{axis}_mm"] == pytest.approx(2 * amp, rel=1e-6)
    assert m[f"rms_{other}_mm"] == 0.0 and m[f"range_{other}_mm"] == 0.0
    assert m["ellipse95_area_mm2"] == 0.0  # a line has no area
    # mean distance of |A sin| is 2A/pi, so the mean frequency is f (up to sampling)
    assert m["mean_distance_mm"] == pytest.approx(2 * amp / math.pi, rel=1e-3)
    assert m["mean_frequency_hz"] == pytest.approx(f_hz, rel=5e-3)


def test_median_frequency_two_tones():
    """Half the power below the median: 3 units of power at 0.2 Hz and 1 at
    1.0 Hz put the median at the 0.2 Hz tone; 1 and 3 at the 1.0 Hz tone.
    The median is the first Welch bin where the cumulative power reaches 50 %
    (Duarte's psd), so it lands within one bin (2/T) of the tone."""
    fs, n = 100.0, 6000
    resolution = fs / (n // 2)
    t = np.arange(n) / fs
    low, high = np.sin(2 * np.pi * 0.2 * t), np.sin(2 * np.pi * 1.0 * t)
    m = sway_metrics(math.sqrt(3) * low + high, low + math.sqrt(3) * high, sampling_rate_hz=fs)
    assert m["median_frequency_ap_hz"] == pytest.approx(0.2, abs=resolution + 1e-9)
    assert m["median_frequency_ml_hz"] == pytest.approx(1.0, abs=resolution + 1e-9)
    # a fourfold finer resolution brings it closer
    fine = sway_metrics(math.sqrt(3) * low + high, low, sampling_rate_hz=fs, welch_nperseg=n, welch_noverlap=0)
    assert fine["median_frequency_ap_hz"] == pytest.approx(0.2, abs=fs / n + 1e-9)


def test_welch_options_are_used():
    fs, n = 100.0, 6000
    t = np.arange(n) / fs
    ap = np.sin(2 * np.pi * 0.35 * t)
    coarse = sway_metrics(ap, np.cos(2 * np.pi * 0.35 * t), sampling_rate_hz=fs, welch_nperseg=500)  # 0.2 Hz bins
    assert coarse["median_frequency_ap_hz"] in (0.2, 0.4)
    fine = sway_metrics(ap, np.cos(2 * np.pi * 0.35 * t), sampling_rate_hz=fs, welch_nperseg=6000,
                        welch_window="boxcar", welch_noverlap=0)
    assert fine["median_frequency_ap_hz"] == pytest.approx(0.35, abs=1 / 60 + 1e-12)
    # metrics other than the median frequencies do not depend on the Welch options
    for k in SWAY_KEYS:
        if not k.startswith("median_frequency"):
            assert coarse[k] == fine[k]


# --------------------------------------------------------------------------- #
# the prediction ellipse
# --------------------------------------------------------------------------- #
def _inside(e, ap, ml):
    a = math.radians(e["angle_deg"])
    dx, dy = ml - e["center_ml_mm"], ap - e["center_ap_mm"]
    u = dx * math.cos(a) + dy * math.sin(a)
    v = -dx * math.sin(a) + dy * math.cos(a)
    return (u / e["semi_major_mm"]) ** 2 + (v / e["semi_minor_mm"]) ** 2 <= 1.0


@pytest.mark.parametrize("n, sd_ap, sd_ml, rho, trials", [
    (50, 4.0, 2.0, 0.0, 3000),
    (50, 1.0, 6.0, 0.8, 3000),
    (200, 3.0, 3.0, -0.5, 1000),
    (1000, 8.0, 1.0, 0.3, 300),
    (5000, 2.0, 5.0, -0.9, 80),
])
def test_prediction_ellipse_coverage(n, sd_ap, sd_ml, rho, trials):
    """A NEW sample from the same bivariate normal falls inside the 95 %
    prediction ellipse with probability 0.95 (averaged over samples): the
    defining property of the prediction ellipse (Schubert & Kirchner 2014)."""
    rng = np.random.default_rng(n + int(100 * rho))
    cov = np.array([[sd_ap**2, rho * sd_ap * sd_ml], [rho * sd_ap * sd_ml, sd_ml**2]])
    chol = np.linalg.cholesky(cov)
    new_per_trial = 200
    hits = 0
    for _ in range(trials):
        sample = rng.standard_normal((n, 2)) @ chol.T + [30.0, -10.0]
        e = ellipse95(sample[:, 0], sample[:, 1])
        new = rng.standard_normal((new_per_trial, 2)) @ chol.T + [30.0, -10.0]
        hits += int(_inside(e, new[:, 0], new[:, 1]).sum())
    assert hits / (trials * new_per_trial) == pytest.approx(0.95, abs=0.01)


def test_ellipse_area_equals_reported_area():
    for seed in range(5):
        ap, ml = _random_walk(n=500 + 300 * seed, seed=seed, corr=0.9 - 0.4 * seed)
        e = ellipse95(ap, ml)
        m = sway_metrics(ap, ml, sampling_rate_hz=100)
        assert math.pi * e["semi_major_mm"] * e["semi_minor_mm"] == pytest.approx(m["ellipse95_area_mm2"], rel=1e-12)
        assert e["area_mm2"] == m["ellipse95_area_mm2"]
        assert e["semi_major_mm"] >= e["semi_minor_mm"] >= 0
        assert -90 < e["angle_deg"] <= 90
        assert e["center_ap_mm"] == pytest.approx(ap.mean()) and e["center_ml_mm"] == pytest.approx(ml.mean())


def test_ellipse_orientation():
    """The major axis points along the direction of largest spread, measured
    from +ML towards +AP: a COP swaying along AP = ML is at 45 degrees."""
    rng = np.random.default_rng(3)
    s = rng.standard_normal(2000) * 5
    w = rng.standard_normal(2000) * 0.5
    e = ellipse95(s + w, s - w)  # ap = s + w, ml = s - w
    assert e["angle_deg"] == pytest.approx(45.0, abs=1.0)
    e = ellipse95(s + w, -s + w)
    assert e["angle_deg"] == pytest.approx(-45.0, abs=1.0)
    e = ellipse95(s, w)  # mostly AP
    assert abs(e["angle_deg"]) == pytest.approx(90.0, abs=2.0)
    e = ellipse95(w, s)  # mostly ML
    assert e["angle_deg"] == pytest.approx(0.0, abs=2.0)


def test_ellipse_matches_duarte_hyperellipsoid_formula():
    """Independent re-implementation of the published reference (Duarte, BMC
    ``functions/hyperellipsoid.py``: SVD of np.cov, semi-axes
    sqrt(s * F.ppf(p, p, n-p) * (n-1) p (n+1) / n / (n-p)), area pi*prod)."""
    for seed in range(6):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(20, 4000))
        P = rng.standard_normal((n, 2)) @ rng.standard_normal((2, 2)) * rng.uniform(0.1, 20)
        ml, ap = P[:, 0], P[:, 1]
        cov = np.cov(P, rowvar=0)
        _, s, Vt = np.linalg.svd(cov)
        p = 2
        fppf = f_dist.ppf(0.95, p, n - p) * (n - 1) * p * (n + 1) / n / (n - p)
        saxes = np.sqrt(s * fppf)
        e = ellipse95(ap, ml)
        assert e["area_mm2"] == pytest.approx(np.pi * np.prod(saxes), rel=1e-10)
        assert [e["semi_major_mm"], e["semi_minor_mm"]] == pytest.approx(saxes, rel=1e-9)
        duarte_angle = np.rad2deg(np.arctan2(Vt[0, 1], Vt[0, 0]))  # direction of the first principal axis
        diff = (e["angle_deg"] - duarte_angle) % 180.0
        assert min(diff, 180.0 - diff) == pytest.approx(0.0, abs=1e-6)


# --------------------------------------------------------------------------- #
# published reference: the BDS balance data set (Santos & Duarte 2016)
# --------------------------------------------------------------------------- #
def test_bds_published_values():
    """insole.sway_metrics reproduces the published sway values of a public
    balance data set when fed the same COP series: trial BDS00001 of the BDS
    data set (PeerJ 4:e2648), values from BDSinfoCOP.txt (see
    tests/data/sway/README.md for source, licence and provenance)."""
    data = np.loadtxt(DATA / "BDS00001_cop.tsv", skiprows=1)
    t, cop_ap_cm, cop_ml_cm = data.T
    assert data.shape == (6000, 3) and np.allclose(np.diff(t), 0.01)
    m = sway_metrics(cop_ap_cm * 10.0, cop_ml_cm * 10.0, sampling_rate_hz=100.0)
    # published: COParea [cm^2], COPvelo [cm/s], full double precision in BDSinfoCOP.txt
    assert m["ellipse95_area_mm2"] / 100.0 == pytest.approx(0.9446915167229832, rel=1e-9)
    assert m["mean_velocity_mm_s"] / 10.0 == pytest.approx(0.620189911656219, rel=1e-9)
    assert m["duration_s"] == pytest.approx(60.0) and m["n_samples"] == 6000
    # COPmfreq (0.2566 Hz) is a spectral mean frequency, not Prieto's (docs/science.md): not compared


# --------------------------------------------------------------------------- #
# invariances
# --------------------------------------------------------------------------- #
def test_translation_invariance():
    ap, ml = _random_walk(seed=4)
    a = sway_metrics(ap, ml, sampling_rate_hz=100)
    b = sway_metrics(ap + 123.4, ml - 56.7, sampling_rate_hz=100)
    for k in SWAY_KEYS:
        assert b[k] == pytest.approx(a[k], rel=1e-9, abs=1e-12), k


def test_swapping_axes_swaps_per_axis_metrics():
    ap, ml = _random_walk(seed=5)
    a = sway_metrics(ap, ml, sampling_rate_hz=100)
    b = sway_metrics(ml, ap, sampling_rate_hz=100)
    for x, y in (("rms_ap_mm", "rms_ml_mm"), ("range_ap_mm", "range_ml_mm"),
                 ("median_frequency_ap_hz", "median_frequency_ml_hz")):
        assert b[x] == pytest.approx(a[y], rel=1e-12) and b[y] == pytest.approx(a[x], rel=1e-12)
    for k in ("path_length_mm", "mean_velocity_mm_s", "ellipse95_area_mm2", "mean_distance_mm", "mean_frequency_hz"):
        assert b[k] == pytest.approx(a[k], rel=1e-12), k
    ea, eb = ellipse95(ap, ml), ellipse95(ml, ap)
    assert eb["semi_major_mm"] == pytest.approx(ea["semi_major_mm"])
    assert (ea["angle_deg"] + eb["angle_deg"]) % 180 == pytest.approx(90.0)  # mirrored about the diagonal


@pytest.mark.parametrize("s", [1e-3, 0.1, 10.0, 2500.0])
def test_scaling(s):
    ap, ml = _random_walk(seed=6)
    a = sway_metrics(ap, ml, sampling_rate_hz=100)
    b = sway_metrics(s * ap, s * ml, sampling_rate_hz=100)
    for k in LENGTH_KEYS:
        assert b[k] == pytest.approx(s * a[k], rel=1e-9), k
    assert b["ellipse95_area_mm2"] == pytest.approx(s * s * a["ellipse95_area_mm2"], rel=1e-9)
    for k in FREQ_KEYS:
        assert b[k] == pytest.approx(a[k], rel=1e-9), k


def test_time_scaling():
    """Sampling twice as fast (same samples): velocities and frequencies double."""
    ap, ml = _random_walk(seed=7)
    a = sway_metrics(ap, ml, sampling_rate_hz=50)
    b = sway_metrics(ap, ml, sampling_rate_hz=100)
    assert b["duration_s"] == pytest.approx(a["duration_s"] / 2)
    for k in ("mean_velocity_mm_s",) + FREQ_KEYS:
        assert b[k] == pytest.approx(2 * a[k], rel=1e-12), k
    for k in ("path_length_mm", "ellipse95_area_mm2", "rms_ap_mm"):
        assert b[k] == a[k]


# --------------------------------------------------------------------------- #
# property-based
# --------------------------------------------------------------------------- #
_coord = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False, allow_subnormal=False)


@st.composite
def _walk(draw):
    n = draw(st.integers(min_value=MIN_SAMPLES, max_value=400))
    steps = st.floats(min_value=-50, max_value=50, allow_nan=False, allow_subnormal=False)
    ap = np.cumsum(draw(arrays(np.float64, n, elements=steps)))
    ml = np.cumsum(draw(arrays(np.float64, n, elements=steps)))
    fs = draw(st.floats(min_value=1.0, max_value=2000.0))
    return ap, ml, fs


@st.composite
def _cop(draw):
    n = draw(st.integers(min_value=MIN_SAMPLES, max_value=400))
    ap = draw(arrays(np.float64, n, elements=_coord))
    ml = draw(arrays(np.float64, n, elements=_coord))
    fs = draw(st.floats(min_value=1.0, max_value=2000.0))
    return ap, ml, fs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_cop(), _walk()))
def test_property_finite_nonnegative(cop):
    ap, ml, fs = cop
    m = sway_metrics(ap, ml, sampling_rate_hz=fs)
    for k in SWAY_KEYS:
        v = m[k]
        if k in FREQ_KEYS and math.isnan(v):
            # only where undefined: no movement at all (mean frequency), or no Welch power on that
            # axis, which needs the axis to be still inside the first segment (the periodic Hann
            # window is 0 at a segment's first sample; Welch drops a tail shorter than a step)
            axis = {"mean_frequency_hz": None, "median_frequency_ap_hz": ap, "median_frequency_ml_hz": ml}[k]
            if axis is None:
                assert m["mean_distance_mm"] == 0.0
            else:
                inner = axis[1:math.ceil(axis.size / 2)]
                assert np.ptp(inner) <= 1e-9 * max(1.0, np.abs(inner).max())
            continue
        assert math.isfinite(v) and v >= 0, (k, v)
    tol = 1e-9 * max(1.0, m["path_length_mm"])
    assert m["path_length_mm"] + tol >= max(m["range_ap_mm"], m["range_ml_mm"])
    assert m["range_ap_mm"] + 1e-9 * max(1.0, m["range_ap_mm"]) >= m["rms_ap_mm"]
    e = ellipse95(ap, ml)
    assert e["area_mm2"] == m["ellipse95_area_mm2"]


@settings(max_examples=60, deadline=None)
@given(st.one_of(_cop(), _walk()))
def test_property_moving_cop_has_finite_frequencies(cop):
    ap, ml, fs = cop
    first = slice(1, math.ceil(ap.size / 2))  # moving inside the first Welch segment
    assume(np.ptp(ap[first]) > 1e-3 and np.ptp(ml[first]) > 1e-3)
    m = sway_metrics(ap, ml, sampling_rate_hz=fs)
    for k in FREQ_KEYS:
        assert math.isfinite(m[k]) and 0 <= m[k] <= fs / 2 + 1e-9, (k, m[k])


def test_still_cop():
    m = sway_metrics(np.full(100, 3.0), np.full(100, -4.0), sampling_rate_hz=100)
    for k in LENGTH_KEYS + ("ellipse95_area_mm2",):
        assert m[k] == 0.0
    assert all(math.isnan(m[k]) for k in FREQ_KEYS)


# --------------------------------------------------------------------------- #
# Romberg
# --------------------------------------------------------------------------- #
def test_romberg_ratios():
    eo = {"mean_velocity_mm_s": 8.0, "ellipse95_area_mm2": 150.0}
    ec = {"mean_velocity_mm_s": 12.0, "ellipse95_area_mm2": 300.0}
    assert romberg_ratios(eo, ec) == {"mean_velocity": pytest.approx(1.5), "ellipse95_area": pytest.approx(2.0)}
    assert romberg_ratios({"mean_velocity_mm_s": 0.0, "ellipse95_area_mm2": 0.0}, ec) == \
        {"mean_velocity": None, "ellipse95_area": None}
    assert romberg_ratios({"mean_velocity_mm_s": float("nan"), "ellipse95_area_mm2": 10.0}, ec) == \
        {"mean_velocity": None, "ellipse95_area": 30.0}
    assert romberg_ratios({}, ec) == {"mean_velocity": None, "ellipse95_area": None}


def test_romberg_ratios_from_metrics():
    ap, ml = _random_walk(seed=8)
    eo = sway_metrics(ap, ml, sampling_rate_hz=100)
    ec = sway_metrics(2 * ap, 2 * ml, sampling_rate_hz=100)
    r = romberg_ratios(eo, ec)
    assert r["mean_velocity"] == pytest.approx(2.0) and r["ellipse95_area"] == pytest.approx(4.0)


# --------------------------------------------------------------------------- #
# errors
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("ap, ml, fs, match", [
    (np.zeros(100), np.zeros(99), 100, "same length"),
    (np.zeros(MIN_SAMPLES - 1), np.zeros(MIN_SAMPLES - 1), 100, "at least"),
    ([], [], 100, "at least"),
    (np.r_[np.zeros(50), np.nan, np.zeros(49)], np.zeros(100), 100, "non-finite"),
    (np.zeros(100), np.r_[np.zeros(99), np.inf], 100, "non-finite"),
    (np.zeros((10, 2)), np.zeros((10, 2)), 100, "one-dimensional"),
    (np.zeros(100), np.zeros(100), 0, "positive"),
    (np.zeros(100), np.zeros(100), -100, "positive"),
    (np.zeros(100), np.zeros(100), float("nan"), "positive"),
    (np.zeros(100), np.zeros(100), "fast", "number"),
    (["a"] * 20, np.zeros(20), 100, "numbers"),
])
def test_input_errors(ap, ml, fs, match):
    with pytest.raises(InsoleError, match=match):
        sway_metrics(ap, ml, sampling_rate_hz=fs)


def test_ellipse_input_errors():
    with pytest.raises(InsoleError):
        ellipse95(np.zeros(5), np.zeros(5))
    with pytest.raises(InsoleError):
        ellipse95(np.r_[np.nan, np.zeros(20)], np.zeros(21))


@pytest.mark.parametrize("kw", [{"welch_nperseg": 2}, {"welch_nperseg": 10.5}, {"welch_noverlap": -1},
                                {"welch_nperseg": 100, "welch_noverlap": 100}, {"welch_window": "no-such-window"}])
def test_welch_option_errors(kw):
    ap, ml = _random_walk(n=1000)
    with pytest.raises(InsoleError):
        sway_metrics(ap, ml, sampling_rate_hz=100, **kw)


def test_sampling_rate_is_keyword_only():
    with pytest.raises(TypeError):
        sway_metrics(np.zeros(20), np.zeros(20), 100)  # type: ignore[misc]
