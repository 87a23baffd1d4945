"""The gait analysis on real insole data: PhysioNet gaitpdb walks (two in
tests/data, the 12-walk subset in ../shared/datasets when it is there) and
Moticon OpenGo exports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import insole

HERE = Path(__file__).parent
SHIPPED = sorted((HERE / "data" / "gaitpdb").glob("*.txt"))
SHIPPED = [p for p in SHIPPED if p.name != "demographics.txt"]
DATASET = HERE.parent.parent / "shared" / "datasets" / "gaitpdb" / "data"
ALL_WALKS = sorted(DATASET.glob("*.txt")) if DATASET.is_dir() else []


def _controls(paths):
    return [p for p in paths if "Co" in p.name[2:4]]


@pytest.mark.parametrize("path", _controls(SHIPPED) + _controls(ALL_WALKS), ids=lambda p: p.name)
def test_controls_walk_with_normal_stride_times(path):
    """Healthy controls: stride time 1.0-1.3 s with a CV of a few % after
    outlier removal (docs/science.md)."""
    g = insole.analyze(insole.load(path)).gait
    assert g.mode == "walk"
    for side in ("left", "right"):
        ps = g.per_side[side]
        assert 1.0 <= ps["stride_time_s"] <= 1.3
        assert ps["stride_time_cv_pct"] < 4.0
        assert 0.55 < ps["duty_factor"] < 0.70  # stance about 60-65 % of the stride
        assert ps["flight_time_s"] < 0  # double support
    assert 90 <= g.cadence_spm <= 125
    steps = g.steps[g.steps["excluded"] == ""]
    assert (steps["side"].to_numpy()[1:] != steps["side"].to_numpy()[:-1]).mean() > 0.9  # feet alternate
    assert sum(g.n_steps.values()) > 60


@pytest.mark.parametrize("path", SHIPPED + ALL_WALKS, ids=lambda p: p.name)
def test_every_walk_analyses_with_plausible_events(path):
    rec = insole.load(path)
    g = insole.analyze(rec).gait
    kept = g.steps[g.steps["excluded"] == ""]
    assert len(kept) > 40
    # every contact lies inside a stretch of force above zero
    for side in ("left", "right"):
        f = rec.samples[(side, "force_n")].to_numpy()
        t = rec.samples.index.to_numpy()
        k = kept[kept["side"] == side]
        mid = np.interp(0.5 * (k["ic_s"] + k["to_s"]), t, f)
        assert (mid > 100).mean() > 0.95
    # the COP runs heel to toe during stance on most steps (gaitpdb: proxy COP)
    if rec.meta.source == "import:gaitpdb":
        assert np.nanmedian(kept["strike_index_pct"]) < 50


def test_patient_walks_vary_more_than_control_walks():
    """On the shipped pair: the Parkinson's patient's stride times vary more
    than the control's (Hausdorff et al.)."""
    g = {p.name[:4]: insole.analyze(insole.load(p)).gait for p in SHIPPED}
    cv = {k: np.mean([v.per_side[s]["stride_time_cv_pct"] for s in ("left", "right")]) for k, v in g.items()}
    assert cv["GaPt"] > cv["GaCo"]


@pytest.fixture(scope="module")
def moticon_walk(tmp_path_factory):
    out = tmp_path_factory.mktemp("moticon") / "walk.txt"
    subprocess.run([sys.executable, str(HERE / "data" / "moticon" / "make_synthetic.py"), "--minutes", "2", "-o",
                    str(out)], check=True)
    return out


def test_moticon_export_analyses_and_steps(moticon_walk, capsys):
    from insole.cli import main

    rec = insole.load(moticon_walk)
    assert rec.meta.source == "import:moticon"
    g = insole.analyze(rec, protocol="walk").gait
    assert sum(g.n_steps.values()) > 100
    assert main(["steps", str(moticon_walk), "--csv", "--protocol", "walk"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("side,ic_s,to_s,contact_time_s,peak_force_n") or lines[0].startswith("side,ic_s,to_s")
    assert len(lines) > 100


VENDOR = HERE / "data" / "moticon" / "vendor"


@pytest.mark.parametrize("name", ["230927_102114.txt", "230927_102137.txt", "230927_102231.txt"])
def test_events_agree_with_the_vendors_gait_report(name):
    """Moticon's own gait report of the same recordings: every initial
    contact and toe-off it found is matched by ours within a few samples."""
    import pandas as pd

    vendor = pd.read_csv(VENDOR / "vendor_gait_events.csv")
    vendor = vendor[vendor["recording"] == name]
    rec = insole.load(VENDOR / name)
    g = insole.analyze(rec, protocol="walk").gait
    fs = rec.meta.sampling_rate_hz
    for side in ("left", "right"):
        v = vendor[vendor["side"] == side]
        ours = g.steps[g.steps["side"] == side]
        j = np.abs(v["initial_contact_s"].to_numpy()[:, None] - ours["ic_s"].to_numpy()[None, :]).argmin(axis=1)
        d_ic = (ours["ic_s"].to_numpy()[j] - v["initial_contact_s"].to_numpy()) * fs
        d_to = (ours["to_s"].to_numpy()[j] - v["toe_off_s"].to_numpy()) * fs
        assert len(set(j)) == len(v)  # one of ours for each of theirs
        assert np.abs(d_ic).max() <= 1.5, d_ic
        assert np.abs(d_to).max() <= 2.5, d_to


def test_paired_convention_is_the_default_for_our_own_insoles():
    """Our own insoles: the force plate's 20 N shared out by each foot's own
    loading (a calibrated pair: about 20 N on both feet)."""
    rec = insole.load(HERE.parent / "recordings" / "run_example.insole")
    g = insole.analyze(rec).gait
    assert g.options.contact.convention == "paired"
    levels = [g.thresholds_n[s]["event"] for s in ("left", "right")]
    assert sum(levels) / 2 == pytest.approx(20.0, rel=0.01)
    moticon = insole.analyze(insole.load(VENDOR / "230927_102231.txt"), protocol="walk").gait
    assert moticon.options.contact.convention == "moticon"
