"""PhysioNet gaitpdb import (docs/formats.md, "Importable files"): two real walks
(a control and a person with Parkinson's disease), their demographics, the
sensor geometry, and fuzzing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import insole
from insole.constants import COP_X, COP_Y, FORCE
from insole.errors import InsoleError, RecordingError, UnknownFormatError
from insole.importers import formats, gaitpdb, import_file, sniff
from insole.model import Recording
from insole.signals.forces import force_and_cop, layout_for

DATA = Path(__file__).parent / "data" / "gaitpdb"
CONTROL = DATA / "GaCo01_01.txt"
PATIENT = DATA / "GaPt03_01.txt"
WALKS = {CONTROL: 83.0, PATIENT: 50.0}  # body mass from demographics.txt


@pytest.fixture(scope="module")
def walks() -> dict[Path, Recording]:
    return {p: import_file(p) for p in WALKS}


def file_columns(path: Path) -> np.ndarray:
    return np.loadtxt(path, delimiter="\t", dtype=np.float64)


def stances(y: np.ndarray, min_samples: int = 30) -> list[tuple[int, int]]:
    """Runs where the foot's COP is defined (the foot is loaded)."""
    ok = np.isfinite(y).astype(np.int8)
    e = np.flatnonzero(np.diff(np.concatenate([[0], ok, [0]])))
    return [(a, b) for a, b in zip(e[::2], e[1::2]) if b - a >= min_samples]


# --- real walks ---------------------------------------------------------------

def test_registered_and_sniffed_by_content(tmp_path):
    assert "gaitpdb" in formats()
    for p in WALKS:
        assert sniff(p) == "gaitpdb"
    renamed = tmp_path / "walk.csv"
    shutil.copy(CONTROL, renamed)
    assert sniff(renamed) == "gaitpdb"


@pytest.mark.parametrize("path", list(WALKS), ids=lambda p: p.stem)
def test_walk_imports_at_100_hz(walks, path):
    rec = walks[path]
    assert rec.meta.source == "import:gaitpdb" and rec.meta.protocol == "walk"
    assert rec.meta.sampling_rate_hz == 100.0
    s = rec.samples
    assert len(s) == 12119 and s.index.name == "time_s"
    assert np.allclose(np.diff(s.index.to_numpy()), 0.01) and s.index[0] == 0.0
    sensors = tuple(f"p{i:02d}" for i in range(1, 9))
    assert list(s.columns) == [(side, ch) for side in ("left", "right") for ch in (FORCE, COP_X, COP_Y, *sensors)]
    assert rec.quality["packet_loss_pct"] == {"left": 0.0, "right": 0.0} and rec.quality["gaps"] == []
    assert rec.meta.extra["time_column_rate_hz"] == pytest.approx(100.007, abs=1e-3)
    assert insole.load(path).samples.equals(s)


@pytest.mark.parametrize("path", list(WALKS), ids=lambda p: p.stem)
def test_totals_are_the_file_columns(walks, path):
    raw = file_columns(path)
    s = walks[path].samples
    for side, total_col, sensors in (("left", 17, slice(1, 9)), ("right", 18, slice(9, 17))):
        got = s[(side, FORCE)].to_numpy()
        np.testing.assert_array_equal(got, raw[:, total_col].astype(np.float32))  # exactly, as stored (float32)
        np.testing.assert_allclose(got, raw[:, sensors].sum(axis=1), rtol=1e-6, atol=1e-3)


@pytest.mark.parametrize("path", list(WALKS), ids=lambda p: p.stem)
def test_each_sensor_is_kept_with_its_layout(walks, path):
    """p01..p08 times the layout's area are the file's sensor newtons, and the
    layout's COP of them is the importer's COP: the maps and regions rest on it."""
    raw = file_columns(path)
    rec = walks[path]
    assert rec.meta.extra["sensor_unit"] == "N"
    for side, cols in (("left", slice(1, 9)), ("right", slice(9, 17))):
        lay = layout_for(rec.meta, side)
        assert lay.x_mm.size == 8 and lay.length_mm == gaitpdb.FOOT_LENGTH_MM
        p = rec.samples[[(side, f"p{i:02d}") for i in range(1, 9)]].to_numpy(dtype=np.float64)
        np.testing.assert_allclose(p * lay.area_mm2 / 1000.0, raw[:, cols], rtol=1e-6, atol=1e-3)
        f, cx, cy = force_and_cop(p.astype(np.float32), x_mm=lay.x_mm, y_mm=lay.y_mm, area_mm2=lay.area_mm2,
                                  min_force_n=0.0)
        have = np.isfinite(rec.samples[(side, COP_X)].to_numpy())
        np.testing.assert_allclose(cx[have], rec.samples[(side, COP_X)].to_numpy()[have], atol=0.05)
        np.testing.assert_allclose(cy[have], rec.samples[(side, COP_Y)].to_numpy()[have], atol=0.05)


def test_a_gaitpdb_walk_gets_regional_shares():
    g = insole.analyze(insole.load(CONTROL)).gait
    assert g.regions is not None
    for side in ("left", "right"):
        sh = g.regions.feet[side].shares_pct
        assert sum(sh[k] for k in ("heel_pct", "midfoot_pct", "forefoot_pct", "toes_pct")) == pytest.approx(100.0)
        assert sh["heel_pct"] > 10.0 and sh["forefoot_pct"] > 20.0


@pytest.mark.parametrize("path", list(WALKS), ids=lambda p: p.stem)
def test_cop_runs_heel_to_toe_in_stance(walks, path):
    s = walks[path].samples
    for side in ("left", "right"):
        y = s[(side, COP_Y)].to_numpy()
        runs = stances(y)
        assert len(runs) > 60  # about 2 minutes of walking
        early = np.array([y[a:a + max(1, (b - a) // 10)].mean() for a, b in runs])
        late = np.array([y[b - max(1, (b - a) // 10):b].mean() for a, b in runs])
        assert (early < late).mean() > 0.95
        assert late.mean() - early.mean() > 100.0  # mm: most of the insole
        assert 0 <= np.nanmin(y) and np.nanmax(y) <= gaitpdb.FOOT_LENGTH_MM


def test_cop_is_undefined_in_swing(walks):
    s = walks[CONTROL].samples
    thr = walks[CONTROL].quality["cop_min_force_n_by_side"]
    for side in ("left", "right"):
        f = s[(side, FORCE)].to_numpy()
        assert thr[side] >= 20.0
        assert np.isnan(s[(side, COP_X)].to_numpy()[f < thr[side]]).all()
        assert np.isfinite(s[(side, COP_X)].to_numpy()[f >= thr[side]]).all()
        assert 0.25 < np.isnan(s[(side, COP_Y)].to_numpy()).mean() < 0.5  # swing is about 40 % of a stride


def test_metadata_and_body_mass(walks):
    c, p = walks[CONTROL].meta, walks[PATIENT].meta
    assert c.subject == "GaCo01_01" and p.subject == "GaPt03_01"
    assert c.body_mass_kg == 83.0 and p.body_mass_kg == 50.0
    assert (c.extra["study"], c.extra["group"], c.extra["walk"], c.extra["dual_task"]) == ("Ga", "control", 1, False)
    assert (p.extra["study"], p.extra["group"]) == ("Ga", "parkinson")
    assert c.extra["cop_frame"] == "foot"
    assert "not calibrated" in c.extra["force_calibration_note"]
    assert c.extra["demographics"]["age"] == 66.0 and c.extra["demographics"]["tuag"] is None  # NaN in the file
    pos = np.array(c.extra["sensor_positions_mm"]["left"])
    assert pos.shape == (8, 2) and c.extra["sensor_positions_mm"]["right"] == c.extra["sensor_positions_mm"]["left"]


def test_sensor_positions_follow_format_txt():
    pos = gaitpdb.SENSOR_POSITIONS_MM
    assert gaitpdb.MM_PER_UNIT == pytest.approx(0.13)
    assert pos[0].tolist() == pytest.approx([0.0, 26.0])  # L1 / R1: the heel, at 10 % of 260 mm
    assert pos[7].tolist() == pytest.approx([0.0, 234.0])  # L8 / R8: the front sensor, at 90 %
    lateral, medial = [1, 3, 5], [2, 4, 6]  # |X| = 700 (away from the other foot) vs |X| = 300
    assert (pos[lateral, 0] > 0).all() and (pos[medial, 0] < 0).all()
    assert np.all(np.diff(pos[[0, 1, 3, 5, 7], 1]) > 0)  # heel to toe along y


def test_lateral_is_positive_on_both_feet(tmp_path):
    # load only the lateral sensors (L2, L4, L6 / R2, R4, R6), then only the heel sensor
    rows = []
    for i in range(6):
        left = [0.0, 100.0, 0.0, 100.0, 0.0, 100.0, 0.0, 0.0] if i < 3 else [300.0] + [0.0] * 7
        right = list(left)
        rows.append([i / 100, *left, *right, sum(left), sum(right)])
    p = tmp_path / "synthetic.txt"
    p.write_bytes(b"".join(("\t".join(f"{v:g}" for v in r) + "\r\n").encode() for r in rows))
    s = import_file(p).samples
    for side in ("left", "right"):
        assert s[(side, COP_X)].iloc[0] == pytest.approx(26.0)
        assert s[(side, COP_Y)].iloc[0] == pytest.approx(130.0)
        assert s[(side, COP_X)].iloc[5] == pytest.approx(0.0) and s[(side, COP_Y)].iloc[5] == pytest.approx(26.0)


def test_without_demographics_the_body_mass_is_unknown(tmp_path):
    shutil.copy(CONTROL, tmp_path / CONTROL.name)
    rec = import_file(tmp_path / CONTROL.name)
    assert rec.meta.body_mass_kg is None and "demographics" not in rec.meta.extra


def test_demographics_in_the_folder_above(tmp_path):
    (tmp_path / "data").mkdir()
    shutil.copy(PATIENT, tmp_path / "data" / PATIENT.name)
    shutil.copy(DATA / "demographics.txt", tmp_path / "demographics.txt")
    assert import_file(tmp_path / "data" / PATIENT.name).meta.body_mass_kg == 50.0


def test_demographics_parsing_is_robust(tmp_path):
    text = ("ID\tStudy\tGroup\tWeight\t\t\r\n\t\t\t\t\t\r\nJuCo07\tJu\t2\tNaN\t\t\r\nJuCo08\tJu\t2\t71\r\n"
            "broken line without tabs\r\n\t\t\t\t\t\r\n")
    (tmp_path / "demographics.txt").write_text(text)
    assert gaitpdb.demographics(tmp_path / "demographics.txt", "JuCo07")["weight"] is None
    assert gaitpdb.demographics(tmp_path / "demographics.txt", "jUcO08")["weight"] == 71.0
    assert gaitpdb.demographics(tmp_path / "demographics.txt", "JuCo09") is None
    assert gaitpdb.demographics(tmp_path / "missing.txt", "JuCo07") is None
    # a walk whose subject has no usable weight imports with body_mass_kg None
    walk = tmp_path / "JuCo07_01.txt"
    shutil.copy(CONTROL, walk)
    rec = import_file(walk)
    assert rec.meta.body_mass_kg is None and rec.meta.extra["study"] == "Ju"


def test_dual_task_walk(tmp_path):
    walk = tmp_path / "GaCo01_10.txt"
    shutil.copy(CONTROL, walk)
    extra = import_file(walk).meta.extra
    assert extra["walk"] == 10 and extra["dual_task"] is True


# --- broken walks ---------------------------------------------------------------

def _lines(path: Path = CONTROL) -> list[bytes]:
    return path.read_bytes().split(b"\r\n")


def _write(tmp_path: Path, lines: list[bytes]) -> Path:
    p = tmp_path / "GaCo01_01.txt"
    p.write_bytes(b"\r\n".join(lines))
    return p


def test_a_short_line_is_reported_with_its_number(tmp_path):
    lines = _lines()
    lines[99] = b"\t".join(lines[99].split(b"\t")[:12])
    with pytest.raises(RecordingError, match="line 100: 12 values"):
        import_file(_write(tmp_path, lines))


def test_a_value_that_is_not_a_number(tmp_path):
    lines = _lines()
    f = lines[49].split(b"\t")
    f[3] = b"12,5"
    lines[49] = b"\t".join(f)
    with pytest.raises(RecordingError, match="line 50: column 4 is '12,5'"):
        import_file(_write(tmp_path, lines))


def test_time_must_step_by_a_hundredth(tmp_path):
    lines = _lines()
    lines[10], lines[11] = lines[11], lines[10]
    with pytest.raises(RecordingError, match="line 12: time"):
        import_file(_write(tmp_path, lines))


def test_a_missing_row_is_a_nan_row(tmp_path):
    lines = _lines()
    del lines[500]
    rec = import_file(_write(tmp_path, lines))
    s = rec.samples
    assert len(s) == 12119 and s.iloc[500].isna().all()
    assert rec.quality["sides"]["left"]["samples_lost"] == 1


def test_other_files_are_not_claimed(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("time_s,left_force_n,right_force_n\n0,1,2\n0.01,1,2\n")
    assert sniff(p) == "csv"
    with pytest.raises(UnknownFormatError):
        import_file(p, "gaitpdb")
    q = tmp_path / "y.txt"
    q.write_text("\t".join(["0.0"] * 19) + "\n" + "\t".join(["0.5"] * 19) + "\n")  # 19 numbers, not 0.01 s apart
    assert sniff(q) is None


# --- properties ---------------------------------------------------------------------

_CASE = {"max_examples": 80, "deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}


def _must_fail_cleanly(path: Path) -> Recording | None:
    try:
        assert sniff(path) in (None, "gaitpdb", "csv", "moticon")
        return import_file(path, "gaitpdb")
    except InsoleError as exc:
        assert str(exc)
        return None


@settings(**_CASE)
@given(data=st.binary(max_size=3000), prefix=st.sampled_from([b"", CONTROL.read_bytes()[:400], b"\r\n\r\n"]))
def test_random_bytes_raise_only_own_errors(tmp_path_factory, data, prefix):
    path = tmp_path_factory.mktemp("bytes") / "GaCo01_01.txt"
    path.write_bytes(prefix + data)
    assert gaitpdb.sniff(prefix + data) in (True, False)
    _must_fail_cleanly(path)


@settings(**_CASE)
@given(text=st.text(max_size=800))
def test_random_text_raises_only_own_errors(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("text") / "f.txt"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    _must_fail_cleanly(path)


_NUM = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                 st.floats(-50, 2000).map(lambda v: f"{v:.2f}"),
                 st.sampled_from(["0", "", "-0", "1e308", "1e-320", "NaN", "abc", "9" * 40]))


@st.composite
def numeric_tables(draw):
    n = draw(st.integers(1, 40))
    t0 = draw(st.sampled_from([0.0, 1.5, -0.02, 1e9]))
    steps = draw(st.lists(st.sampled_from([0.01, 0.0099, 0.0101, 0.02, 0.03, 0.0, -0.01, 0.5, 0.015]),
                          min_size=n, max_size=n))
    times = t0 + np.concatenate([[0.0], np.cumsum(steps[:-1])])
    rows = []
    for t in times:
        width = draw(st.sampled_from([19, 19, 19, 18, 20]))
        if draw(st.booleans()):
            cells = [f"{v:.2f}" for v in draw(st.lists(st.floats(0, 1500), min_size=width - 1, max_size=width - 1))]
        else:
            cells = draw(st.lists(_NUM, min_size=width - 1, max_size=width - 1))
        rows.append("\t".join([f"{t:.4f}", *cells]))
    return rows


@settings(**_CASE)
@given(rows=numeric_tables(), crlf=st.booleans())
def test_random_numeric_tables_raise_only_own_errors(tmp_path_factory, rows, crlf):
    path = tmp_path_factory.mktemp("tables") / "JuPt01_02.txt"
    path.write_bytes(("\r\n" if crlf else "\n").join(rows).encode())
    rec = _must_fail_cleanly(path)
    if rec is not None:
        s = rec.samples
        assert np.allclose(np.diff(s.index.to_numpy()), 0.01) and rec.meta.sampling_rate_hz == 100.0
        for side in ("left", "right"):
            y = s[(side, COP_Y)].to_numpy()
            assert np.isnan(y).all() or np.isfinite(np.nanmax(np.abs(y)))
