"""Clock fitting and index unwrapping, against known answers."""

from __future__ import annotations

import numpy as np
import pytest

import insole
from insole.signals.timebase import fit_clock, unwrap_indices
from insole.sim.session import default_insoles, simulate_recording


def test_unwrap_across_32_bit_wrap_and_restart():
    first = np.array([2**32 - 16, 2**32 - 8, 0, 8, 16, 3, 11, 19], dtype=np.int64)
    first[3:5] += 5000  # the link lost 5000 samples, then the device restarted (index back to 3)
    un, epoch = unwrap_indices(first)
    assert un[:5].tolist() == [2**32 - 16, 2**32 - 8, 2**32, 2**32 + 5008, 2**32 + 5016]
    assert epoch.tolist() == [0, 0, 0, 0, 0, 1, 1, 1]
    assert un[5:].tolist() == [3, 11, 19]


def test_stop_start_is_a_new_epoch_by_device_time():
    # 200 Hz: 8-sample packets 40 ms apart; after the 3rd the device stopped for 2 s
    first = np.array([0, 8, 16, 24, 32])
    dev_us = np.array([0, 40_000, 80_000, 2_120_000, 2_160_000], dtype=np.uint64)
    un, epoch = unwrap_indices(first, device_time_us=dev_us, sampling_rate_hz=200)
    assert epoch.tolist() == [0, 0, 0, 1, 1]
    assert un.tolist() == [0, 8, 16, 24, 32]
    # jitter well under half a period is not a restart
    _, epoch = unwrap_indices(first, device_time_us=np.array([0, 40_050, 79_990, 120_040, 160_000], dtype=np.uint64),
                              sampling_rate_hz=200)
    assert epoch.tolist() == [0] * 5


def test_small_backward_step_is_not_a_restart():
    un, epoch = unwrap_indices(np.array([100, 108, 100, 116]))
    assert epoch.tolist() == [0, 0, 0, 0]
    assert un.tolist() == [100, 108, 100, 116]


@pytest.mark.parametrize("ppm", [-50.0, 0.0, 35.0])
def test_fit_recovers_drift_despite_latency(ppm):
    rng = np.random.default_rng(3)
    fs = 200.0
    last = np.arange(7, 120_000, 8)  # 10 minutes of 8-sample packets
    true_ns = 2.5e9 + last * (1e9 / fs) * (1 + ppm * 1e-6)
    arrival = true_ns + 7.5e6 + rng.exponential(5e6, last.size)
    arrival[rng.random(last.size) < 0.01] += 2e8  # delayed bursts
    arrival = np.maximum.accumulate(arrival)
    fit = fit_clock(last, arrival, sampling_rate_hz=fs)
    assert not fit.fallback
    assert fit.rate_ppm == pytest.approx(ppm, abs=0.5)
    err_ms = (fit.host_ns(last) - (true_ns + 7.5e6)) / 1e6
    assert np.abs(err_ms).max() < 0.2
    assert fit.latency_ms["median"] == pytest.approx(np.log(2) * 5.0, abs=0.5)


def test_fit_with_one_packet_falls_back_to_nominal():
    fit = fit_clock(np.array([7]), np.array([1e9]), sampling_rate_hz=100)
    assert fit.fallback and fit.period_ns == 1e7


def test_left_right_aligned_within_2_ms_after_10_min_of_50_ppm(tmp_path):
    """The samples frame aligns the two feet although their clocks differ by 50 ppm."""
    from conftest import StepScenario

    sc = StepScenario(duration_s=620.0, saw_period_s=1.0)
    insoles = default_insoles(clock_ppm=0.0)
    insoles = {"left": insoles["left"].__class__(**{**insoles["left"].__dict__, "clock_ppm": -25.0}),
               "right": insoles["right"].__class__(**{**insoles["right"].__dict__, "clock_ppm": 25.0})}
    path = tmp_path / "drift.insole"
    simulate_recording(path, sc, insoles=insoles)
    rec = insole.load(path)
    assert rec.quality["clock_drift_between_feet_ppm"] == pytest.approx(-50.0, abs=2.0)
    # sensor p16 carries a 400 kPa-per-second ramp of TRUE time: read each foot's time back
    s = rec.samples.loc[600.0:610.0]
    ramp_l = s[("left", "p16")].to_numpy(float) / 400.0
    ramp_r = s[("right", "p16")].to_numpy(float) / 400.0
    ok = np.isfinite(ramp_l) & np.isfinite(ramp_r) & (ramp_l > 0.05) & (ramp_l < 0.95) & (ramp_r > 0.05) & (ramp_r < 0.95)
    offset_ms = (ramp_r[ok] - ramp_l[ok]) * 1000.0
    assert ok.sum() > 1000
    # quantisation of the ramp is 0.25 kPa = 0.6 ms; the median is far finer
    assert abs(np.median(offset_ms)) < 2.0
