"""Walking verdicts a physio can trust (issue 12): walking references, force
metrics only with matched insole gains, healthy walks not called favoured."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import insole
from insole.analysis.asymmetry import WALK_LIMIT_SI_PCT, ratio_to_si_pct, sa_to_si_pct, si_to_sa_pct
from insole.report.text import key_numbers
from insole.sim.gait import GaitScenario
from insole.sim.session import default_insoles, simulate_recording

HERE = Path(__file__).parent
CONTROLS = sorted((HERE / "data" / "gaitpdb").glob("*Co*.txt"))


def _walk(tmp_path, *, seed, si=0.0, matched=False):
    sc = GaitScenario(mode="walk", duration_s=60.0, cadence_spm=110.0, contact_time_s=0.62,
                      contact_time_si_pct=si, seed=seed)
    path = tmp_path / f"w{seed}{'m' if matched else ''}.insole"
    simulate_recording(path, sc, insoles=default_insoles(sampling_rate_hz=100, seed=seed))
    rec = insole.load(path)
    if matched:
        rec = replace(rec, meta=replace(rec.meta, extra={**rec.meta.extra, "calibration": {"method": "single_leg"}}))
    return insole.analyze(rec).gait


def test_si_sa_conversions_and_published_ratios():
    assert ratio_to_si_pct(1.05) == pytest.approx(4.878, abs=1e-3)
    assert WALK_LIMIT_SI_PCT["swing_time"] == pytest.approx(ratio_to_si_pct(1.06))
    assert sa_to_si_pct(si_to_sa_pct(-12.0)) == pytest.approx(-12.0)
    assert si_to_sa_pct(5.0) == pytest.approx(5.0 / 3.1416, rel=0.01)  # SA ~ SI / pi


@pytest.mark.parametrize("seed", [31, 32, 33])
def test_symmetric_walks_are_not_favoured(tmp_path, seed):
    g = _walk(tmp_path, seed=seed)
    assert g.favoured_side == "none"
    assert "healthy walkers" in g.verdict and "runners" not in g.verdict


def test_contact_time_asymmetry_of_10_pct_is_favoured_on_the_right(tmp_path):
    g = _walk(tmp_path, seed=34, si=10.0)
    a = g.asymmetry["contact_time"]
    assert a.used_for_verdict and a.favoured_side == "right" and g.favoured_side == "right"
    assert a.ci95_si_pct[0] > a.bound_si_pct == pytest.approx(WALK_LIMIT_SI_PCT["contact_time"])
    assert "The right side is favoured" in g.verdict


def test_force_metrics_need_matched_gains(tmp_path):
    g = _walk(tmp_path, seed=35)
    for m in ("peak_force", "impulse"):
        a = g.asymmetry[m]
        assert not a.used_for_verdict and a.favoured_side == "none"
        assert "calibrated against each other" in a.to_dict()["note"]
    assert "Not used for this verdict" in g.verdict and "peak force" in g.verdict
    g2 = _walk(tmp_path, seed=35, matched=True)
    assert g2.asymmetry["peak_force"].used_for_verdict and g2.asymmetry["impulse"].used_for_verdict
    assert not g2.asymmetry["loading_rate"].used_for_verdict  # 100 Hz still too slow
    assert "200 Hz" in g2.asymmetry["loading_rate"].why_not_used


def test_summary_table_compares_si_with_si(tmp_path):
    g = _walk(tmp_path, seed=36, si=10.0)
    rows = {r[0]: r for r in key_numbers(None, g)}
    ct = rows["walk, contact time SI (+ = right larger)"]
    assert ct[3] == f"SI within +-{WALK_LIMIT_SI_PCT['contact_time']:.1f} %" and ct[4] == "right favoured"
    assert rows["walk, peak force SI (+ = right larger)"][4] == "not used (see note)"


@pytest.mark.parametrize("path", CONTROLS, ids=lambda p: p.name)
def test_gaitpdb_controls_are_not_favoured_and_forces_are_left_out(path):
    g = insole.analyze(insole.load(path)).gait
    assert g.favoured_side == "none"
    assert "healthy walkers" in g.verdict and "runners" not in g.verdict
    for m in ("peak_force", "impulse", "loading_rate"):
        assert not g.asymmetry[m].used_for_verdict
    assert "not calibrated to body weight" in g.asymmetry["impulse"].why_not_used


def test_runs_keep_the_runners_reference(tmp_path):
    sc = GaitScenario(mode="run", duration_s=40.0, seed=37)
    path = tmp_path / "r.insole"
    simulate_recording(path, sc, insoles=default_insoles(sampling_rate_hz=200, seed=37))
    g = insole.analyze(insole.load(path)).gait
    assert g.asymmetry["peak_force"].used_for_verdict
    assert "healthy runners" in g.verdict
