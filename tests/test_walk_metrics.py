"""Walking metrics (docs/science.md "Clinical walking"; docs/formats.md "gait block
(v2 keys)"): swing and stance, their variability, double support, the phase
coordination index, speed and stride length, and which asymmetry decides the
verdict. Known answers on simulated walks, published group values on real
PhysioNet gaitpdb walks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import insole
from insole.analysis.gait import phase_coordination, variability_cv_pct
from insole.analysis.steps import steady_mask
from insole.sim.gait import GaitScenario
from insole.sim.session import default_insoles, simulate_recording

DATA = Path(__file__).parent / "data" / "gaitpdb"
CONTROL = DATA / "GaCo01_01.txt"
PATIENT = DATA / "GaPt03_01.txt"
V2_SIDE_KEYS = ("swing_time_s", "swing_pct", "stance_pct", "swing_time_cv_pct", "stance_time_cv_pct",
                "stride_time_cv_pct")


# --- the rules, on hand-made series --------------------------------------------

def test_each_series_is_screened_on_its_own_and_neighbours_of_exclusions_go():
    rng = np.random.default_rng(0)
    x = 0.40 + 0.005 * rng.standard_normal(40)
    x[10] = 0.60  # a swing-time outlier the stride-time screen did not see
    excluded = np.full(40, "", dtype=object)
    excluded[25] = "outlier"  # a turn
    use = steady_mask(x, excluded)
    assert not use[10] and use[9] and use[11]  # the outlier only
    assert not use[24] and not use[25] and not use[26]  # the turn and the strides next to it
    assert use.sum() == 36
    clean = x[use]
    assert variability_cv_pct(x, excluded) == pytest.approx(100 * clean.std(ddof=1) / clean.mean())
    assert variability_cv_pct(x[:8], excluded[:8]) is None  # too few strides


def _table(ic_left, ic_right, contact_s=0.65):
    """A step table as step_table makes it, from initial contacts only."""
    rows = [(s, t) for s, ics in (("left", ic_left), ("right", ic_right)) for t in ics]
    t = pd.DataFrame(rows, columns=["side", "ic_s"]).sort_values("ic_s").reset_index(drop=True)
    t["to_s"] = t["ic_s"] + contact_s
    t["stride_time_s"] = t.groupby("side")["ic_s"].shift(-1) - t["ic_s"]
    t["swing_time_s"] = t["stride_time_s"] - contact_s
    t["excluded"] = ""
    return t


def test_pci_is_zero_for_exact_anti_phase_and_follows_the_published_formula():
    left = np.arange(60) * 1.1
    assert phase_coordination(_table(left, left + 0.55)).pci_pct == pytest.approx(0.0, abs=1e-9)
    # the right foot lands 10 % of a stride late on every other stride: phi = 180 or 216 degrees
    late = np.where(np.arange(60) % 2 == 0, 0.55, 0.66)
    t = _table(left, left + late)
    t.loc[t["side"] == "left", "swing_time_s"] += 0.01  # left: the reference leg
    pc = phase_coordination(t)
    assert pc.reference_side == "left"
    phi = np.where(np.arange(59) % 2 == 0, 180.0, 216.0)
    expected = 100 * phi.std(ddof=1) / phi.mean() + 100 * np.mean(np.abs(phi - 180)) / 180
    assert pc.n_strides == 59
    assert pc.pci_pct == pytest.approx(expected, rel=1e-9)
    assert pc.phi_abs_deg == pytest.approx(36.0 * 29 / 59)  # 29 of the 59 strides are 36 degrees late


def test_reference_leg_is_the_one_with_the_longer_swing():
    left = np.arange(40) * 1.1
    t = _table(left, left + 0.5)
    t.loc[t["side"] == "right", "swing_time_s"] += 0.02
    pc = phase_coordination(t)
    assert pc.reference_side == "right"
    # right's IC at t, the next left IC 0.6 s later in a 1.1 s stride
    assert pc.phi_mean_deg == pytest.approx(360 * 0.6 / 1.1)


# --- known answers on a simulated walk ----------------------------------------

def _truth_metrics(sc):
    """Swing, stance, variability, double support and PCI from the
    simulator's exact contact instants, by the same definitions."""
    tr = sc.truth()["steps"]
    side, ic, to = np.array(tr["side"]), np.array(tr["ic_s"]), np.array(tr["to_s"])
    out, ds = {}, []
    for s in ("left", "right"):
        m = side == s
        i, o = ic[m], to[m]
        oi, oo = ic[~m], to[~m]
        stride = np.diff(i)
        stance = (o - i)[:-1]
        swing = stride - stance
        out[s] = {"swing_time_s": swing.mean(), "swing_pct": 100 * np.mean(swing / stride),
                  "swing_time_cv_pct": 100 * swing.std(ddof=1) / swing.mean(),
                  "stance_time_cv_pct": 100 * stance.std(ddof=1) / stance.mean(), "ic": i, "stride": stride}
        for k in range(stride.size):
            prev = np.flatnonzero(oi < i[k])
            nxt = np.flatnonzero(oi > i[k])
            if prev.size and nxt.size:
                ds.append((max(oo[prev[-1]] - i[k], 0) + max(o[k] - oi[nxt[0]], 0)) / stride[k])
    ref = max(("left", "right"), key=lambda s: out[s]["swing_time_s"])
    other = "right" if ref == "left" else "left"
    oi = ic[side == other]
    phi = []
    for t0, st in zip(out[ref]["ic"][:-1], out[ref]["stride"]):
        inside = oi[(oi >= t0) & (oi < t0 + st)]
        if inside.size == 1:
            phi.append(360 * (inside[0] - t0) / st)
    phi = np.array(phi)
    pci = 100 * phi.std(ddof=1) / phi.mean() + 100 * np.mean(np.abs(phi - 180)) / 180
    return out, 100 * np.mean(ds), pci, ref


@pytest.fixture(scope="module")
def sim_walk(tmp_path_factory):
    sc = GaitScenario(mode="walk", duration_s=120.0, cadence_spm=110.0, contact_time_s=0.62,
                      contact_time_si_pct=8.0, seed=21)
    path = tmp_path_factory.mktemp("walk") / "w.insole"
    simulate_recording(path, sc, insoles=default_insoles(sampling_rate_hz=100, seed=4))
    return insole.load(path), sc


def test_swing_stance_and_variability_match_the_truth(sim_walk):
    rec, sc = sim_walk
    g = insole.analyze(rec).gait
    truth, ds_pct, pci, ref = _truth_metrics(sc)
    for side in ("left", "right"):
        got, want = g.per_side[side], truth[side]
        assert got["swing_time_s"] == pytest.approx(want["swing_time_s"], abs=0.003)
        assert got["swing_pct"] == pytest.approx(want["swing_pct"], abs=0.3)
        assert got["stance_pct"] == pytest.approx(100 - want["swing_pct"], abs=0.3)
        assert got["swing_time_cv_pct"] == pytest.approx(want["swing_time_cv_pct"], rel=0.15)
        assert got["stance_time_cv_pct"] == pytest.approx(want["stance_time_cv_pct"], rel=0.15)
    assert g.double_support_pct == pytest.approx(ds_pct, abs=0.5)
    assert g.phase.reference_side == ref
    assert g.pci_pct == pytest.approx(pci, abs=0.4)


def test_swing_asymmetry_is_reported_but_does_not_vote(sim_walk):
    rec, sc = sim_walk
    g = insole.analyze(rec).gait
    d = g.to_dict()
    sw = d["asymmetry"]["swing_time"]
    # the right foot's longer contact leaves it the shorter swing
    assert sw["si_pct"] < -5 and sw["beyond_typical"] and sw["favored_side"] == "none"
    assert sw["used_for_verdict"] is False and "timing" in sw["note"]
    assert set(d["asymmetry"]["contact_time"]) >= set(sw)
    assert d["asymmetry"]["contact_time"]["used_for_verdict"] is True
    lr = d["asymmetry"]["loading_rate"]  # 100 Hz: too slow for a loading rate
    assert lr["used_for_verdict"] is False and "200 Hz" in lr["note"] and lr["favored_side"] == "none"


def test_json_keys_and_speed_only_from_a_known_distance(sim_walk):
    rec, _ = sim_walk
    d = insole.analyze(rec).to_dict()["gait"]
    for side in ("left", "right"):
        for k in V2_SIDE_KEYS:
            assert isinstance(d[side][k], float), (side, k)
    for k in ("double_support_pct", "pci_pct"):
        assert isinstance(d[k], float)
    assert d["speed_m_s"] is None and d["stride_length_m"] is None
    g = insole.analyze(rec, distance_m=150.0).gait
    dur = rec.samples.index[-1] - rec.samples.index[0]
    assert g.speed_m_s == pytest.approx(150.0 / dur)
    assert g.stride_length_m == pytest.approx(g.speed_m_s * np.mean([g.per_side[s]["stride_time_s"] for s in
                                                                     ("left", "right")]), rel=0.01)


def test_a_run_has_no_double_support_and_no_swing_index(tmp_path):
    sc = GaitScenario(mode="run", duration_s=40.0, seed=22)
    simulate_recording(tmp_path / "r.insole", sc, insoles=default_insoles(sampling_rate_hz=200, seed=4))
    g = insole.analyze(insole.load(tmp_path / "r.insole")).gait
    assert g.mode == "run"
    assert g.double_support_pct == pytest.approx(0.0)
    assert "swing_time" not in g.to_dict()["asymmetry"] and "flight_time" in g.asymmetry


# --- published group values on real walks --------------------------------------
# Frenkel-Toledo et al. 2005, J NeuroEng Rehabil 2:23, Table 2 (level ground,
# comfortable speed, the same lab's force-sensitive insoles, 100 Hz), healthy
# controls n = 30, mean +- SD: stride time 1.08 +- 0.09 s, swing 35.27 +- 1.97 %
# of the stride, stride-time CV 1.94 +- 0.36 %, swing-time CV 2.80 +- 1.99 %;
# PD n = 36: stride CV 2.24 +- 0.74 %, swing CV 3.27 +- 1.25 %. A control here
# must lie within 2 SD of the control means. PCI: Plotnik et al. 2007 (Exp
# Brain Res 181:561) report healthy adults at about 2-4 % and PD higher.

@pytest.fixture(scope="module")
def gaitpdb():
    return {p.name[:4]: insole.analyze(insole.load(p)).gait for p in (CONTROL, PATIENT)}


def test_control_walk_lies_within_the_published_control_range(gaitpdb):
    g = gaitpdb["GaCo"]
    for side in ("left", "right"):
        ps = g.per_side[side]
        assert 1.08 - 2 * 0.09 <= ps["stride_time_s"] <= 1.08 + 2 * 0.09
        assert 35.27 - 2 * 1.97 <= ps["swing_pct"] <= 35.27 + 2 * 1.97
        assert 1.94 - 2 * 0.36 <= ps["stride_time_cv_pct"] <= 1.94 + 2 * 0.36
        assert 0.5 <= ps["swing_time_cv_pct"] <= 2.80 + 2 * 1.99
        assert ps["stance_pct"] == pytest.approx(100 - ps["swing_pct"], abs=0.5)
    assert 2.0 <= g.pci_pct <= 4.0
    assert 20.0 <= g.double_support_pct <= 32.0  # docs/science.md: about 25-30 % in healthy adults
    assert g.speed_m_s is None  # gaitpdb gives no distance


def test_patient_is_less_rhythmic_and_less_coordinated_than_the_control(gaitpdb):
    co, pt = gaitpdb["GaCo"], gaitpdb["GaPt"]
    for key in ("swing_time_cv_pct", "stride_time_cv_pct"):
        assert min(pt.per_side[s][key] for s in ("left", "right")) > max(co.per_side[s][key] for s in ("left", "right"))
    assert pt.pci_pct > co.pci_pct


def test_the_report_summary_carries_the_walking_metrics(gaitpdb):
    """Page 1 of a walk's report: swing, double support, variability and PCI
    beside the asymmetries, each against healthy walkers' band; the
    patient's variability and PCI lie beyond it, the control's within."""
    from insole.report.text import key_numbers

    rows = {r[0]: r for r in key_numbers(None, gaitpdb["GaCo"])}
    for what in ("swing % of stride", "double support", "stride-time CV", "swing-time CV", "phase coordination"):
        assert any(what in k for k in rows), what
    assert all(r[4] == "typical" for k, r in rows.items() if "CV" in k or "PCI" in k)
    pt = {r[0]: r for r in key_numbers(None, gaitpdb["GaPt"])}
    assert pt["walk, phase coordination index (PCI)"][4] == "beyond typical"
    assert pt["walk, swing-time CV (left / right)"][4] == "beyond typical"
