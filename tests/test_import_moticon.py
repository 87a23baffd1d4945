"""Moticon OpenGo text export import (docs/formats.md, "Importable files"):
real export excerpts, a synthetic walk with a late-starting insole, the COP
frame conversion, and fuzzing."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import insole
from insole.constants import COP_X, COP_Y, FORCE, IMU_CHANNELS, SENSOR_CHANNELS
from insole.errors import InsoleError, RecordingError, UnknownFormatError
from insole.importers import formats, import_file, sniff
from insole.importers import moticon
from insole.model import Recording

DATA = Path(__file__).parent / "data" / "moticon"
SYNTHETIC = DATA / "synthetic_walk.txt"
REAL_STANDING = DATA / "opengo_230927_102114_first_064_rows.txt"
REAL_WALK = DATA / "opengo_walk_with_events_first_030_rows.txt"
GAITPDB = Path(__file__).parent / "data" / "gaitpdb" / "GaCo01_01.txt"


def _spec_module():
    spec = importlib.util.spec_from_file_location("make_synthetic", DATA / "make_synthetic.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


make_synthetic = _spec_module()
COLUMNS = make_synthetic.columns()
HEADER = ["# Start time: 14.03.2024 09:30:00.000", "# Duration: 00:00.030", "# Sensor insoles: Left SN1, Right SN2",
          "# Size: 5", "# Recording type: normal", "# Name: test", "# Notes: ", "# Tag: "]


def raw_table(path: Path) -> pd.DataFrame:
    """The export's table as the file has it (column names as written)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    n = next(i for i, ln in enumerate(lines) if ln.startswith("# time"))
    return pd.read_csv(path, sep="\t", skiprows=n, header=0, dtype=np.float64).rename(columns={"# time": "time"})


def export(tmp_path: Path, rows: list[dict[str, float | str]], *, columns: list[str] = COLUMNS,
           header: list[str] = HEADER, name: str = "export.txt") -> Path:
    """An export with the given columns; fields missing from a row are empty."""
    text = [*header, "# " + "\t".join(columns)]
    for r in rows:
        text.append("\t".join("" if r.get(c, "") == "" else str(r[c]) for c in columns))
    path = tmp_path / name
    path.write_bytes(("\n".join(text) + "\n").encode("utf-8"))
    return path


def side_row(side: str, *, force: float = 500.0, x: float = -0.2, y: float = -0.05, p: float = 2.5) -> dict:
    row = {f"{side} pressure {i}[N/cm\u00b2]": p for i in range(1, 17)}
    row.update({f"{side} acceleration {a}[g]": 0.1 for a in "XYZ"})
    row.update({f"{side} angular {a}[dps]": 1.0 for a in "XYZ"})
    row.update({f"{side} total force[N]": force, f"{side} center of pressure X[-0.5...+0.5]": x,
                f"{side} center of pressure Y[-0.5...+0.5]": y})
    return row


# --- the registry and sniffing ----------------------------------------------------

def test_registered_and_sniffed_by_content(tmp_path):
    assert "moticon" in formats()
    assert sniff(SYNTHETIC) == "moticon"
    assert sniff(REAL_STANDING) == "moticon" and sniff(REAL_WALK) == "moticon"
    renamed = tmp_path / "walk.csv"
    renamed.write_bytes(SYNTHETIC.read_bytes())
    assert sniff(renamed) == "moticon"
    assert import_file(renamed).meta.source == "import:moticon"
    assert sniff(GAITPDB) != "moticon"


def test_a_bare_column_line_is_not_claimed(tmp_path):
    # Moticon's own reader wants Start time, Duration and Sensor insoles; one of them is not enough
    p = tmp_path / "x.txt"
    p.write_text("# Start time: 2024\n# time\tleft total force[N]\tright total force[N]\n0.0\t1\t2\n")
    assert sniff(p) is None
    with pytest.raises(UnknownFormatError):
        import_file(p)
    # asked for explicitly, the column line is enough
    rows = [{"time": 0.0, "left total force[N]": 1}, {"time": 0.01, "left total force[N]": 2}]
    rec = import_file(export(tmp_path, rows, columns=["time", "left total force[N]"], header=["# Start time: x"]),
                      "moticon")
    assert rec.sides == ("left",)


def test_not_an_export_is_unknown_format(tmp_path):
    with pytest.raises(UnknownFormatError, match="Moticon"):
        import_file(GAITPDB, "moticon")


# --- the synthetic walk ---------------------------------------------------------

def test_synthetic_walk_imports():
    rec = insole.load(SYNTHETIC)
    assert rec.meta.source == "import:moticon" and rec.meta.sampling_rate_hz == 100.0
    s = rec.samples
    assert len(s) == 1000 and s.index.name == "time_s"
    assert np.allclose(np.diff(s.index.to_numpy()), 0.01)
    expected = [*SENSOR_CHANNELS, FORCE, COP_X, COP_Y, *IMU_CHANNELS]
    for side in ("left", "right"):
        assert list(s[side].columns) == expected
    assert set(s.dtypes) == {np.dtype(np.float32)}
    assert rec.meta.subject == "synthetic walk" and rec.meta.protocol == "unknown"
    assert rec.meta.devices["left"].serial == "SN1001" and rec.meta.devices["right"].serial == "SN1002"
    assert rec.meta.started_utc == "2024-03-14T09:30:00.000"
    assert rec.meta.extra["cop_frame"] == "foot"
    conv = rec.meta.extra["cop_conversion"]
    assert (conv["insole_size"], conv["insole_length_mm"], conv["insole_width_mm"]) == (5, 261.1, 93.8)
    assert rec.meta.extra["foot_length_mm"] == 261.1
    assert rec.meta.extra["ignored_columns"] == ["right steps[]", "left steps[]"]
    assert rec.quality["damaged_file"] is False and rec.quality["gaps"] == []


def test_late_right_insole_is_nan_not_zero():
    rec = import_file(SYNTHETIC)
    s = rec.samples
    early = s.index < 0.5 - 1e-9
    assert early.sum() == 50
    assert s.loc[early, "right"].isna().all().all()  # every right channel, pressures included
    assert s.loc[~early, ("right", FORCE)].notna().all()
    assert s[("left", FORCE)].notna().all()
    q = rec.quality["sides"]
    assert q["right"]["first_sample_s"] == pytest.approx(0.5) and q["left"]["first_sample_s"] == 0.0
    assert rec.quality["packet_loss_pct"] == {"left": 0.0, "right": 0.0}  # not started is not lost


def test_units_pressure_kpa_force_as_in_file_imu_unchanged():
    rec = import_file(SYNTHETIC)
    raw = raw_table(SYNTHETIC)
    s = rec.samples
    for side in ("left", "right"):
        for i, ch in enumerate(SENSOR_CHANNELS, start=1):
            file_ncm2 = raw[f"{side} pressure {i}[N/cm\u00b2]"].to_numpy()
            np.testing.assert_array_equal(s[(side, ch)].to_numpy(), (file_ncm2 * 10.0).astype(np.float32))
        force = raw[f"{side} total force[N]"].to_numpy()
        np.testing.assert_array_equal(s[(side, FORCE)].to_numpy(), force.astype(np.float32))
        np.testing.assert_array_equal(s[(side, "acc_z_g")].to_numpy(),
                                      raw[f"{side} acceleration Z[g]"].to_numpy().astype(np.float32))
        np.testing.assert_array_equal(s[(side, "gyro_y_dps")].to_numpy(),
                                      raw[f"{side} angular Y[dps]"].to_numpy().astype(np.float32))


def test_cop_is_undefined_in_swing():
    rec = import_file(SYNTHETIC)
    s = rec.samples
    for side in ("left", "right"):
        f = s[(side, FORCE)].to_numpy()
        cx = s[(side, COP_X)].to_numpy()
        assert np.isnan(cx[f < 20]).all()
        assert np.isfinite(cx[f > 100]).all()


def test_cop_heel_to_toe_in_each_synthetic_stance():
    s = import_file(SYNTHETIC).samples
    for side in ("left", "right"):
        y = s[(side, COP_Y)].to_numpy()
        ok = np.isfinite(y).astype(np.int8)
        e = np.flatnonzero(np.diff(np.concatenate([[0], ok, [0]])))
        stances = [(a, b) for a, b in zip(e[::2], e[1::2]) if b - a > 30][1:-1]  # whole stances only
        assert len(stances) >= 6
        for a, b in stances:
            assert y[a] < 0.25 * 261.1 and y[b - 1] > 0.7 * 261.1


# --- the COP frame ---------------------------------------------------------------

def test_cop_conversion_heel_end_toe_end_and_lateral_sign(tmp_path):
    length, width = moticon.INSOLE_SIZES_MM[5]
    points = [(-0.5, 0.0), (0.5, 0.0), (-0.2, -0.5), (-0.2, 0.5), (0.0, 0.1)]
    rows = []
    for i, (x, y) in enumerate(points):
        rows.append({"time": f"{i / 100:.2f}", **side_row("left", x=x, y=y), **side_row("right", x=x, y=y)})
    rec = import_file(export(tmp_path, rows))
    s = rec.samples
    for side in ("left", "right"):
        cx, cy = s[(side, COP_X)].to_numpy(), s[(side, COP_Y)].to_numpy()
        # normalised (X=-0.5, Y=0): the heel end, on the long axis
        assert cy[0] == pytest.approx(0.0, abs=1e-4) and cx[0] == pytest.approx(0.0, abs=1e-4)
        assert cy[1] == pytest.approx(length, rel=1e-6)  # X=+0.5: the toe end
        # Y=-0.5 is the LATERAL edge on both feet (Moticon's Y is side agnostic, + medial)
        assert cx[2] == pytest.approx(width / 2, rel=1e-6) and cx[3] == pytest.approx(-width / 2, rel=1e-6)
        assert cy[4] == pytest.approx(length / 2, rel=1e-6) and cx[4] == pytest.approx(-0.1 * width, rel=1e-5)


def test_cop_undefined_below_20_n_and_at_exact_zero(tmp_path):
    rows = [{"time": "0.00", **side_row("left", force=19.0, x=-0.3, y=0.0), **side_row("right", force=25.0, x=0.0,
                                                                                          y=0.0)},
            {"time": "0.01", **side_row("left", force=21.0, x=-0.3, y=0.0), **side_row("right", force=500.0)}]
    s = import_file(export(tmp_path, rows)).samples
    assert np.isnan(s[("left", COP_Y)].iloc[0]) and np.isfinite(s[("left", COP_Y)].iloc[1])
    assert np.isnan(s[("right", COP_X)].iloc[0])  # the export writes (0, 0) for a lifted foot
    assert s[("right", FORCE)].iloc[0] == 25.0


@pytest.mark.parametrize("size,length,source", [(7, 288.0, "datasheet"), (10, 317.5 * 1.05, "extrapolated")])
def test_size_table(size, length, source):
    got = moticon.insole_size_mm(size)
    assert got[0] == pytest.approx(length) and source in got[2]
    assert moticon.insole_size_mm(None)[0] == moticon.INSOLE_SIZES_MM[moticon.DEFAULT_SIZE][0]


def test_missing_size_is_a_labelled_assumption(tmp_path, caplog):
    rows = [{"time": f"{i / 100:.2f}", **side_row("left")} for i in range(3)]
    header = [h for h in HEADER if not h.startswith("# Size")]
    rec = import_file(export(tmp_path, rows, header=header))
    assert "assumed" in rec.meta.extra["cop_conversion"]["size_source"]
    assert "Size" in caplog.text


# --- the real exports --------------------------------------------------------------

def test_real_export_with_the_left_insole_starting_late():
    rec = import_file(REAL_STANDING)
    s = rec.samples
    assert len(s) == 64 and rec.meta.sampling_rate_hz == 100.0
    assert s.loc[s.index < 0.495, "left"].isna().all().all()
    assert s.loc[s.index > 0.495, ("left", FORCE)].tolist()[:3] == [477.0, 461.0, 446.0]
    assert s[("right", FORCE)].iloc[0] == 509.0 and s[("right", "p01")].iloc[0] == 65.0  # 6.50 N/cm²
    assert rec.meta.devices["left"].serial == "SN5968" and rec.meta.devices["right"].serial == "SN9171"
    assert rec.meta.subject == "230927_10:21:14"
    assert rec.meta.started_utc == "2023-09-27T10:21:14.922"  # local time: the file has no zone
    assert "unknown" in rec.meta.extra["start_time_zone"]
    assert rec.meta.extra["cop_conversion"]["insole_size"] == 7
    assert rec.meta.extra["moticon"]["notes"] == "Some walking steps"
    # quiet standing: COP about a quarter of the insole from the heel, slightly lateral on both feet
    for side in ("left", "right"):
        y = s[(side, COP_Y)].dropna().to_numpy()
        x = s[(side, COP_X)].dropna().to_numpy()
        assert 0.15 * 288 < y.mean() < 0.4 * 288 and 0 < x.mean() < 15


def test_real_walk_export_with_event_columns():
    rec = import_file(REAL_WALK)
    s = rec.samples
    assert rec.meta.started_utc == "2022-09-15T13:58:36.241+00:00"  # from '# Start timestamp' (UTC)
    assert rec.meta.extra["ignored_columns"] == ["Right Events label[]", "Right Events[]", "Left Events label[]",
                                                 "Left Events[]", "left COP velocity[1]", "right COP velocity[1]"]
    length = rec.meta.extra["cop_conversion"]["insole_length_mm"]
    assert length == 236.8  # size 3
    # the left foot swings (12-25 N, COP written as 0, 0) until its heel strike at 0.23 s
    left_y = s[("left", COP_Y)]
    assert left_y.loc[:0.225].isna().all()
    assert (left_y.loc[0.225:] < 0.2 * length).all()  # heel strike: the rear fifth of the insole
    # meanwhile the right foot pushes off over its forefoot
    assert (s[("right", COP_Y)] > 0.55 * length).all()


# --- tolerance -----------------------------------------------------------------------

def test_columns_in_another_order(tmp_path):
    raw_lines = SYNTHETIC.read_text(encoding="utf-8").splitlines()
    n = next(i for i, ln in enumerate(raw_lines) if ln.startswith("# time"))
    names = raw_lines[n][2:].split("\t")
    rng = np.random.default_rng(1)
    order = [0, *(1 + rng.permutation(len(names) - 1))]
    body = ["\t".join(ln.split("\t")[j] for j in order) for ln in raw_lines[n + 1:]]
    shuffled = tmp_path / "shuffled.txt"
    shuffled.write_text("\n".join([*raw_lines[:n], "# " + "\t".join(names[j] for j in order), *body]) + "\n",
                        encoding="utf-8")
    a, b = import_file(SYNTHETIC), import_file(shuffled)
    pd.testing.assert_frame_equal(a.samples, b.samples)


@pytest.mark.parametrize("rename", [
    lambda n: n.upper(),
    lambda n: n.replace("\u00b2", "^2"),
    lambda n: n.replace("\u00b2", ""),
    lambda n: n.replace(" ", "  ").replace("[", " ["),
    lambda n: n.replace("center", "centre"),
])
def test_tolerant_column_names(tmp_path, rename):
    raw_lines = SYNTHETIC.read_text(encoding="utf-8").splitlines()
    n = next(i for i, ln in enumerate(raw_lines) if ln.startswith("# time"))
    names = raw_lines[n][2:].split("\t")
    raw_lines[n] = "# " + "\t".join(rename(x) for x in names)
    p = tmp_path / "renamed.txt"
    p.write_text("\n".join(raw_lines) + "\n", encoding="utf-8")
    pd.testing.assert_frame_equal(import_file(p).samples, import_file(SYNTHETIC).samples)


def test_crlf_latin1_squared_and_a_missing_row(tmp_path):
    data = SYNTHETIC.read_bytes().replace("\u00b2".encode(), b"\xb2")  # a cp1252 "²"
    lines = data.split(b"\n")
    del lines[500]  # one row missing: a NaN row, not interpolated
    p = tmp_path / "crlf.txt"
    p.write_bytes(b"\r\n".join(lines))
    rec = import_file(p)
    s = rec.samples
    assert len(s) == 1000
    gap = s.loc[(s.index > 4.905) & (s.index < 4.915)]
    assert len(gap) == 1 and gap.isna().all().all()
    assert rec.quality["sides"]["left"]["samples_lost"] == 1


def test_one_insole_only(tmp_path):
    cols = ["time", *(c for c in COLUMNS if c.startswith("right"))]
    rows = [{"time": f"{i / 100:.2f}", **side_row("right")} for i in range(5)]
    rec = import_file(export(tmp_path, rows, columns=cols))
    assert rec.sides == ("right",)


def test_without_imu_or_pressure_columns(tmp_path):
    cols = ["time", "left total force[N]", "left center of pressure X[-0.5...+0.5]",
            "left center of pressure Y[-0.5...+0.5]", "right total force[N]"]
    rows = [{"time": f"{i / 100:.2f}", **side_row("left"), **side_row("right")} for i in range(5)]
    s = import_file(export(tmp_path, rows, columns=cols)).samples
    assert list(s["left"].columns) == [FORCE, COP_X, COP_Y]
    assert s[("right", COP_X)].isna().all()


# --- broken exports ---------------------------------------------------------------------

def _broken(tmp_path, mutate) -> Path:
    lines = SYNTHETIC.read_text(encoding="utf-8").splitlines()
    mutate(lines)
    p = tmp_path / "broken.txt"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_a_value_that_is_not_a_number_names_the_line(tmp_path):
    def mutate(lines):
        f = lines[109].split("\t")
        f[23] = "4,5"
        lines[109] = "\t".join(f)
    with pytest.raises(RecordingError, match=r"line 110: left total force\[N\] is '4,5'"):
        import_file(_broken(tmp_path, mutate))


def test_a_blank_line_is_skipped_and_lines_still_counted(tmp_path):
    def mutate(lines):
        lines.insert(100, "")
        f = lines[150].split("\t")
        f[23] = "x"
        lines[150] = "\t".join(f)
    with pytest.raises(RecordingError, match=r"line 151: left total force\[N\] is 'x'"):
        import_file(_broken(tmp_path, mutate))
    assert len(import_file(_broken(tmp_path, lambda lines: lines.insert(100, ""))).samples) == 1000


def test_times_must_increase(tmp_path):
    def mutate(lines):
        lines[200] = lines[199]
    with pytest.raises(RecordingError, match="line 201.*times must increase"):
        import_file(_broken(tmp_path, mutate))


def test_a_side_without_total_force(tmp_path):
    cols = [c for c in COLUMNS if c != "right total force[N]"]
    rows = [{"time": "0.00", **side_row("left"), **side_row("right")}]
    with pytest.raises(RecordingError, match="right total force"):
        import_file(export(tmp_path, rows, columns=cols))


def test_an_unknown_unit(tmp_path):
    cols = [c.replace("left pressure 3[N/cm\u00b2]", "left pressure 3[psi]") for c in COLUMNS]
    rows = [{"time": "0.00", **side_row("left"), **side_row("right")}]
    with pytest.raises(RecordingError, match=r"unit \[psi\]"):
        import_file(export(tmp_path, rows, columns=cols))


def test_no_rows(tmp_path):
    with pytest.raises(RecordingError, match="no data rows|only 0"):
        import_file(export(tmp_path, []))


# --- the generator ----------------------------------------------------------------------

def test_generator_writes_longer_walks(tmp_path):
    out = tmp_path / "long.txt"
    make_synthetic.main(["--minutes", "0.5", "-o", str(out)])
    rec = import_file(out)
    assert len(rec.samples) == 3000 and rec.quality["sides"]["right"]["first_sample_s"] == pytest.approx(0.5)
    assert out.read_text(encoding="utf-8").startswith("# Start time: ")


# --- properties --------------------------------------------------------------------------

_CASE = {"max_examples": 80, "deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}


def _must_fail_cleanly(path: Path) -> Recording | None:
    try:
        assert sniff(path) in (None, "moticon", "csv", "gaitpdb")
        return import_file(path, "moticon")
    except InsoleError as exc:
        assert str(exc)
        return None


@settings(**_CASE)
@given(data=st.binary(max_size=3000),
       prefix=st.sampled_from([b"", b"# Start time: 1\n# Duration: 2\n# time\tleft total force[N]\n",
                               "\n".join([*HEADER, "# " + "\t".join(COLUMNS)]).encode() + b"\n",
                               b"\xef\xbb\xbf# time\tright pressure 1[N/cm\xc2\xb2]\n", b"\xff\xfe#\x00 \x00"]))
def test_random_bytes_raise_only_own_errors(tmp_path_factory, data, prefix):
    path = tmp_path_factory.mktemp("bytes") / "f.txt"
    path.write_bytes(prefix + data)
    assert moticon.sniff((prefix + data)[:65536]) in (True, False)
    _must_fail_cleanly(path)


@settings(**_CASE)
@given(text=st.text(max_size=800))
def test_random_text_raises_only_own_errors(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("text") / "f.txt"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    _must_fail_cleanly(path)


_CELL = st.one_of(st.sampled_from(["", " ", "nan", "0", "1", "-0.5", "0.5", "500.00", "1e308", "1e39", "-1e-320",
                                   "abc", '"', "#", "inf", "-inf", "1,5", "\x00", "\u00b2", "9" * 40, "0x10"]),
                  st.floats(allow_nan=True, allow_infinity=True).map(repr),
                  st.floats(-1000, 1000).map(lambda v: f"{v:.2f}"))
_TIME = st.one_of(st.integers(-3, 400).map(lambda i: f"{i / 100:.2f}"), _CELL)


@st.composite
def header_valid_tables(draw):
    """A valid header (columns any subset, in any order, each side with its
    total force) over rows that are mostly well-formed or random cells."""
    columns = draw(st.lists(st.sampled_from(COLUMNS[1:] + ["left steps[]", "Left Events label[]", "x"]), min_size=1,
                            max_size=12, unique=True))
    for side in ("left", "right"):
        if any(c.startswith(side) for c in columns) and f"{side} total force[N]" not in columns:
            columns.insert(draw(st.integers(0, len(columns))), f"{side} total force[N]")
    n = draw(st.integers(0, 15))
    if draw(st.booleans()):
        ks = np.cumsum(draw(st.lists(st.sampled_from([1, 1, 1, 1, 2, 0, 5]), min_size=n, max_size=n)))
        times = [f"{k / 100:.2f}" for k in ks]
    else:
        times = draw(st.lists(_TIME, min_size=n, max_size=n))
    good = st.floats(-1, 900).map(lambda v: f"{v:.2f}")
    rows = []
    for t in times:
        cell = good if draw(st.integers(0, 3)) else _CELL
        width = len(columns) if draw(st.integers(0, 4)) else draw(st.integers(0, len(columns) + 2))
        rows.append([t, *draw(st.lists(st.one_of(cell, st.just("")), min_size=width, max_size=width))])
    return columns, rows


@settings(**_CASE)
@given(table=header_valid_tables(),
       header=st.lists(st.sampled_from(HEADER + ["# Size: 99", "# Size: abc", "# Start timestamp: 99999999999999999",
                                                 "# Start time: 31.02.2024 25:00:00.000", "#", "# : :"]),
                       max_size=10))
def test_random_header_valid_tables_raise_only_own_errors(tmp_path_factory, table, header):
    columns, rows = table
    lines = [*header, "# " + "\t".join(["time", *columns])]
    lines += ["\t".join(cells) for cells in rows]
    path = tmp_path_factory.mktemp("tables") / "f.txt"
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", errors="surrogatepass"))
    rec = _must_fail_cleanly(path)
    if rec is not None:
        idx = rec.samples.index.to_numpy()
        assert np.all(np.diff(idx) > 0) and rec.meta.sampling_rate_hz > 0
        assert set(rec.samples.dtypes) <= {np.dtype(np.float32)}
        for side in rec.sides:
            cx = rec.samples[(side, COP_X)].to_numpy()
            assert np.isnan(cx).all() or math.isfinite(float(np.nanmax(np.abs(cx))))
