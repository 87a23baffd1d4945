"""Generic per-foot CSV import (docs/formats.md, "Importable files"): force
plates and other systems as the same Recording as a decoded insole file."""

from __future__ import annotations

import codecs
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import insole
from insole.constants import COP_X, COP_Y, FORCE
from insole.errors import InsoleError, RecordingError, UnknownFormatError
from insole.export import flat_samples
from insole.importers import IMPORTERS, formats, import_file, sniff
from insole.importers.generic_csv import FORMAT
from insole.model import Phase, Recording, RecordingMeta

DATA = Path(__file__).parent / "data" / "csv"
HEADER = "time_s,left_force_n,right_force_n,left_cop_x_mm,left_cop_y_mm,right_cop_x_mm,right_cop_y_mm,phase"


def load(path) -> Recording:
    """``insole.load``; while the loader does not dispatch to the importers
    yet, the importer it would call."""
    try:
        return insole.load(path)
    except UnknownFormatError:
        if sniff(path) == FORMAT:
            return import_file(path, FORMAT)
        raise


def write(tmp_path: Path, text: str, name: str = "plates.csv", *, newline: str = "\n", bom: bool = False) -> Path:
    path = tmp_path / name
    data = text.replace("\n", newline).encode("utf-8")
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + data)
    return path


def standing_table(*, rate: float = 100.0, duration_s: float = 20.0, left_share: float = 0.57) -> pd.DataFrame:
    """Two force plates, quiet standing: total force wobbles around 640 N,
    the left plate always carries exactly ``left_share`` of it; eyes open in
    the first half, closed in the second."""
    n = int(round(duration_s * rate))
    t = np.arange(n) / rate
    total = 640.0 + 12.0 * np.sin(2 * np.pi * 0.35 * t) + 3.0 * np.cos(2 * np.pi * 1.7 * t)
    left = left_share * total
    return pd.DataFrame({
        "time_s": t,
        "left_force_n": left,
        "right_force_n": total - left,
        "left_cop_x_mm": -90.0 + 2.0 * np.sin(2 * np.pi * 0.5 * t),
        "left_cop_y_mm": 95.0 + 3.0 * np.cos(2 * np.pi * 0.3 * t),
        "right_cop_x_mm": 90.0 + 2.0 * np.sin(2 * np.pi * 0.6 * t),
        "right_cop_y_mm": 96.0 + 3.0 * np.cos(2 * np.pi * 0.2 * t),
        "phase": np.where(t < duration_s / 2, "eyes_open", "eyes_closed"),
    })


def to_csv(df: pd.DataFrame, comments: str = "") -> str:
    """Full precision (``repr``) so that the file holds exactly the table."""
    rows = [",".join(df.columns)]
    for rec in df.itertuples(index=False):
        rows.append(",".join("" if isinstance(v, float) and math.isnan(v) else (repr(float(v)) if isinstance(
            v, (float, np.floating)) else str(v)) for v in rec))
    return comments + "\n".join(rows) + "\n"


def share_pct(samples: pd.DataFrame, phase: Phase) -> float:
    t = samples.index.to_numpy()
    sel = (t >= phase.start_s) & (t < phase.end_s)
    fl = samples[("left", FORCE)].to_numpy(np.float64)[sel]
    fr = samples[("right", FORCE)].to_numpy(np.float64)[sel]
    return 100.0 * np.nanmean(fl) / np.nanmean(fl + fr)


# --- registry and sniffing ------------------------------------------------------

def test_registry_lists_the_generic_csv():
    assert formats()[0] == "csv" and IMPORTERS[0].name == "csv"
    with pytest.raises(UnknownFormatError, match="unknown import format"):
        import_file(DATA / "two_plates_standing.csv", "nope")


def test_sniff_is_by_content_not_by_name(tmp_path):
    good = write(tmp_path, "# body_mass_kg: 70\n\ntime_s,left_force_n,right_force_n\n0,1,2\n0.01,1,2\n",
                 name="data.txt")
    assert sniff(good) == "csv"
    assert import_file(good).meta.source == "import:csv"  # fmt sniffed
    other = write(tmp_path, "a,b,c\n1,2,3\n", name="other.csv")
    assert sniff(other) is None
    with pytest.raises(UnknownFormatError):
        import_file(other, "csv")
    with pytest.raises(UnknownFormatError):
        import_file(other)
    moticon = write(tmp_path, "# Start time: 2024\n# time\tleft total force[N]\tright total force[N]\n0.0\t1\t2\n")
    assert sniff(moticon) is None
    with pytest.raises(RecordingError):
        sniff(tmp_path / "missing.csv")


# --- round trips ----------------------------------------------------------------

def test_two_force_plate_standing_round_trip(tmp_path):
    df = standing_table(rate=100.0, duration_s=20.0, left_share=0.57)
    comments = "# subject: P07\n# body_mass_kg: 65.3\n# protocol: standing\n# started_utc: 2025-03-01T10:00:00Z\n"
    rec = load(write(tmp_path, to_csv(df, comments)))

    s = rec.samples
    assert s.index.name == "time_s"
    assert list(s.columns.names) == ["side", "channel"]
    assert list(s.columns) == [(side, ch) for side in ("left", "right") for ch in (FORCE, COP_X, COP_Y)]
    assert rec.sides == ("left", "right")
    assert len(s) == 2000
    np.testing.assert_allclose(s.index.to_numpy(), np.arange(2000) / 100.0, rtol=0, atol=1e-12)
    for col in df.columns[1:-1]:
        side, _, ch = col.partition("_")
        np.testing.assert_allclose(s[(side, ch)].to_numpy(np.float64), df[col], rtol=1e-6)

    m = rec.meta
    assert (m.source, m.protocol, m.sampling_rate_hz, m.subject) == ("import:csv", "standing", 100.0, "P07")
    assert m.body_mass_kg == 65.3 and m.started_utc == "2025-03-01T10:00:00Z" and m.devices == {}
    assert m.extra["cop_frame"] == "ground"
    assert m.phases == (Phase("eyes_open", 0.0, 10.0), Phase("eyes_closed", 10.0, 20.0))
    assert rec.duration_s == pytest.approx(20.0)
    for phase in m.phases:
        assert share_pct(s, phase) == pytest.approx(57.0, abs=1e-4)
        sel = (df.time_s >= phase.start_s) & (df.time_s < phase.end_s)
        exact = 100.0 * df.left_force_n[sel].mean() / (df.left_force_n[sel] + df.right_force_n[sel]).mean()
        assert share_pct(s, phase) == pytest.approx(exact, abs=1e-4)

    q = rec.quality
    assert q["packet_loss_pct"] == {"left": 0.0, "right": 0.0}
    assert q["gaps"] == [] and q["damaged_file"] is False
    assert q["cop_min_force_n"] == pytest.approx(0.05 * 65.3 * 9.80665)
    for side in ("left", "right"):
        assert q["sides"][side]["samples_received"] == q["sides"][side]["samples_expected"] == 2000
        assert q["sides"][side]["loss_pct"] == 0.0 and q["sides"][side]["gaps"] == []


def test_the_example_file(caplog):
    rec = load(DATA / "two_plates_standing.csv")
    assert rec.meta.sampling_rate_hz == 50.0 and len(rec.samples) == 200
    assert [p.name for p in rec.meta.phases] == ["eyes_open", "eyes_closed"]
    assert rec.meta.phases[1] == Phase("eyes_closed", 2.0, 4.0)
    assert rec.meta.extra["stance_width_mm"] == 180.0 and rec.meta.extra["lab"] == "gait lab 2"
    assert rec.meta.extra["comments"][0].startswith("synthetic two-force-plate")
    for phase in rec.meta.phases:
        assert share_pct(rec.samples, phase) == pytest.approx(57.0, abs=0.01)


def test_columns_in_any_order_with_extra_columns_and_whitespace(tmp_path, caplog):
    df = standing_table(duration_s=2.0)
    shuffled = df[["phase", "right_cop_y_mm", "right_force_n", "time_s", "left_cop_x_mm", "left_force_n",
                   "right_cop_x_mm", "left_cop_y_mm"]].copy()
    shuffled.insert(2, "Fz_total", df.left_force_n + df.right_force_n)
    shuffled["note"] = "ok"
    text = to_csv(shuffled).replace(",", " , ")  # spaces around every name and value
    text = text.replace(" , time_s , ", " , Time_S , ", 1)  # names are not case-sensitive
    with caplog.at_level(logging.DEBUG, logger="insole"):
        rec = load(write(tmp_path, text))
    assert "fz_total" in caplog.text and "note" in caplog.text  # ignored columns are logged at debug
    np.testing.assert_allclose(rec.samples[("right", COP_Y)], df.right_cop_y_mm, rtol=1e-6)
    np.testing.assert_allclose(rec.samples[("left", FORCE)], df.left_force_n, rtol=1e-6)
    assert [p.name for p in rec.meta.phases] == ["eyes_open", "eyes_closed"]


def test_without_cop_columns_cop_is_nan(tmp_path):
    df = standing_table(duration_s=1.0)[["time_s", "left_force_n", "right_force_n"]]
    rec = load(write(tmp_path, to_csv(df)))
    assert list(rec.samples.columns.get_level_values(1)) == [FORCE, COP_X, COP_Y] * 2
    assert rec.samples.xs(COP_X, axis=1, level="channel").isna().all().all()
    assert rec.samples.xs(COP_Y, axis=1, level="channel").isna().all().all()
    assert rec.meta.phases == () and rec.meta.protocol == "unknown" and rec.meta.body_mass_kg is None


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_crlf_line_ends_and_utf8_bom(tmp_path, newline):
    df = standing_table(duration_s=1.0)
    rec = load(write(tmp_path, to_csv(df, "# body_mass_kg: 70\n"), newline=newline, bom=True))
    assert rec.meta.body_mass_kg == 70.0 and len(rec.samples) == 100
    np.testing.assert_allclose(rec.samples[("left", FORCE)], df.left_force_n, rtol=1e-6)
    assert rec.meta.phases[0].name == "eyes_open"  # no stray \r in the labels


def test_utf16_with_bom(tmp_path):
    path = tmp_path / "u16.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + "time_s,left_force_n,right_force_n\r\n0,1,2\r\n0.01,3,4\r\n"
                     .encode("utf-16-le"))
    assert sniff(path) == "csv"
    assert load(path).samples[("right", FORCE)].tolist() == [2.0, 4.0]


def test_comment_lines(tmp_path):
    text = ("# Exported by PlateLab 3.1\n#\n# subject: Anna B.\n# Body mass kg : 58.5 kg\n# sampling_rate_hz: 100\n"
            "# stance-width-mm: 160mm\n# protocol: Standing\n# trial: 4\n# Recorded at 10:30 in lab 2\n\n"
            "time_s,left_force_n,right_force_n\n0,300,270\n0.01,301,269\n0.02,302,268\n")
    rec = load(write(tmp_path, text))
    m = rec.meta
    assert (m.subject, m.body_mass_kg, m.sampling_rate_hz, m.protocol) == ("Anna B.", 58.5, 100.0, "standing")
    assert m.extra["stance_width_mm"] == 160.0 and m.extra["trial"] == "4"
    assert m.extra["comments"] == ["Exported by PlateLab 3.1", "Recorded at 10:30 in lab 2"]


def test_force_plates_at_1000_hz(tmp_path):
    df = standing_table(rate=1000.0, duration_s=3.0)[["time_s", "left_force_n", "right_force_n"]]
    text = "time_s,left_force_n,right_force_n\n" + "".join(
        f"{t:.3f},{fl:.3f},{fr:.3f}\n" for t, fl, fr in df.itertuples(index=False))
    rec = load(write(tmp_path, text))
    assert rec.meta.sampling_rate_hz == 1000.0
    assert len(rec.samples) == 3000 and rec.quality["import"]["resampled"] is False
    np.testing.assert_allclose(np.diff(rec.samples.index.to_numpy()), 0.001, rtol=1e-9)
    np.testing.assert_allclose(rec.samples[("left", FORCE)], df.left_force_n.round(3), rtol=1e-6)


def test_a_gap_in_time_becomes_nan_rows_not_interpolated(tmp_path):
    df = standing_table(rate=100.0, duration_s=2.0)
    cut = df[(df.time_s < 0.5) | (df.time_s >= 0.55)]  # 5 samples missing
    rec = load(write(tmp_path, to_csv(cut)))
    s = rec.samples
    assert len(s) == 200 and rec.meta.sampling_rate_hz == 100.0
    missing = s[("left", FORCE)].isna().to_numpy()
    assert np.flatnonzero(missing).tolist() == [50, 51, 52, 53, 54]
    assert s.iloc[50:55].isna().all().all()
    np.testing.assert_allclose(s[("left", FORCE)].to_numpy()[~missing], cut.left_force_n, rtol=1e-6)
    q = rec.quality
    assert q["sides"]["left"]["samples_lost"] == 5 and q["packet_loss_pct"]["left"] == pytest.approx(2.5)
    gap = q["sides"]["right"]["gaps"][0]
    assert gap["start_s"] == pytest.approx(0.49) and gap["end_s"] == pytest.approx(0.55)
    assert gap["missing_samples"] == 5 and len(q["gaps"]) == 2


def test_empty_fields_are_missing(tmp_path):
    rec = load(write(tmp_path, "time_s,left_force_n,right_force_n,left_cop_x_mm\n0,1,2,3\n0.01,,2,\n"
                               "0.02,NaN,2,5\n0.03,4,2,6\n"))
    assert rec.samples[("left", FORCE)].isna().tolist() == [False, True, True, False]
    assert rec.samples[("left", COP_X)].isna().tolist() == [False, True, False, False]
    assert rec.quality["sides"]["left"]["gaps"][0]["missing_samples"] == 2


def test_uneven_times_are_resampled_without_bridging_gaps(tmp_path):
    rng = np.random.default_rng(1)
    t = np.arange(400) / 100.0 + rng.uniform(-0.002, 0.002, 400)  # 20 % jitter
    t = np.delete(t, np.arange(200, 210))  # a 0.1 s gap
    f = 500.0 + 100.0 * t  # linear: interpolation is exact
    text = "time_s,left_force_n,right_force_n\n" + "".join(
        f"{float(a)!r},{float(b)!r},{float(b)!r}\n" for a, b in zip(t, f))
    rec = load(write(tmp_path, text))
    assert rec.meta.sampling_rate_hz == pytest.approx(100.0, abs=0.2)
    assert rec.quality["import"]["resampled"] is True
    s = rec.samples
    grid = s.index.to_numpy()
    np.testing.assert_allclose(np.diff(grid), 1 / rec.meta.sampling_rate_hz, rtol=1e-9)
    ok = s[("left", FORCE)].notna().to_numpy()
    np.testing.assert_allclose(s[("left", FORCE)].to_numpy()[ok], 500.0 + 100.0 * grid[ok], rtol=1e-6)
    in_gap = (grid > t[199]) & (grid < t[200])
    assert in_gap.sum() >= 9 and not ok[in_gap].any()
    assert ok[~in_gap].all()


def test_own_export_imports_with_its_foot_frame_cop_ignored(tmp_path):
    t = np.arange(50) / 100.0
    cols = pd.MultiIndex.from_product([["left", "right"], ["p01", FORCE, COP_X, COP_Y]], names=["side", "channel"])
    rng = np.random.default_rng(2)
    values = rng.uniform(1, 400, (50, 8)).astype(np.float32)
    decoded = Recording(pd.DataFrame(values, index=pd.Index(t, name="time_s"), columns=cols),
                        RecordingMeta(source="simulator", protocol="standing", sampling_rate_hz=100.0))
    path = tmp_path / "export.csv"
    flat_samples(decoded).to_csv(path, index=False)
    rec = load(path)
    np.testing.assert_array_equal(rec.samples[("left", FORCE)].to_numpy(), decoded.samples[("left", FORCE)])
    assert rec.samples.xs(COP_X, axis=1, level="channel").isna().all().all()  # foot-frame COP not misread


# --- errors ---------------------------------------------------------------------

@pytest.mark.parametrize("text, exc, words", [
    ("time_s,left_force_n\n0,1\n", RecordingError, ["right_force_n", "line 1"]),
    ("time_s,left_force_n,right_force_n\n0,1,2\n0.01,1,2\n0.02,12.5 N,3\n", RecordingError,
     ["line 4", "left_force_n", "'12.5 N'", "not a number"]),
    ("# body_mass_kg: 60\ntime_s,left_force_n,right_force_n\n0,1,2\n0.01,1,abc\n", RecordingError,
     ["line 4", "right_force_n", "'abc'"]),
    ("time_s,left_force_n,right_force_n\n0,1,2\n0.02,1,2\n0.01,1,2\n", RecordingError,
     ["line 4", "earlier", "sort"]),
    ("time_s,left_force_n,right_force_n\n0,1,2\n0.01,1,2\n0.01,1,2\n", RecordingError, ["line 4", "repeats line 3"]),
    ("time_s,left_force_n,right_force_n\n", RecordingError, ["no data rows"]),
    ("time_s,left_force_n,right_force_n\n\n\n", RecordingError, ["no data rows"]),
    ("time_s,left_force_n,right_force_n\n0,1,2\n,1,2\n", RecordingError, ["line 3", "time_s is empty"]),
    ("time_s,left_force_n,right_force_n\n0,1,2\n0.01,1,5,3\n", RecordingError, ["line 3", "4 fields", "'.'"]),
    ("time_s;left_force_n;right_force_n\n0;1;2\n", RecordingError, ["line 1", "';'", "comma-separated"]),
    ("# body_mass_kg: heavy\ntime_s,left_force_n,right_force_n\n0,1,2\n", RecordingError,
     ["line 1", "body_mass_kg", "positive number"]),
    ("# body_mass_kg: -3\ntime_s,left_force_n,right_force_n\n0,1,2\n", RecordingError, ["line 1", "body_mass_kg"]),
    ("# protocol: hopping\ntime_s,left_force_n,right_force_n\n0,1,2\n0.01,1,2\n", RecordingError,
     ["line 1", "hopping", "standing"]),
    ("time_s,left_force_n,right_force_n\n0,1,2\n", RecordingError, ["one data row", "sampling_rate_hz"]),
    ("# sampling_rate_hz: 200\ntime_s,left_force_n,right_force_n\n0,1,2\n0.01,1,2\n", RecordingError,
     ["disagrees", "100"]),
    ("time_s,left_force_n,right_force_n\n0,1,2\n10,1,2\n20,1,2\n", RecordingError, ["milliseconds"]),
    ("time_s,left_force_n,right_force_n\n0,1,2\n0.01,inf,2\n", RecordingError, ["line 3", "finite"]),
    ("time_s,left_force_n,right_force_n\n0,-400,2\n0.01,-390,2\n", RecordingError, ["negative", "sign"]),
    ("time_s,left_force_n,right_force_n\n0,,\n0.01,,\n", RecordingError, ["no forces"]),
    ("time_s,left_force_n,right_force_n\n0,1,2\n0.01,1,\"2\n", RecordingError, ["line 3", "quote"]),
    ("time_s,left_force_n,left_force_n,right_force_n\n0,1,1,2\n", RecordingError, ["twice"]),
    ("time_s,left_force_n,right_force_n\n0,1,2\n0.01,1,2\n0.02,1,2\n1e7,1,2\n", RecordingError,
     ["line 5", "gap", "split"]),
    ("hello,world\n1,2\n", UnknownFormatError, ["time_s"]),
    ("# only comments\n# body_mass_kg: 3\n", UnknownFormatError, ["time_s"]),
])
def test_broken_files_say_what_and_where(tmp_path, text, exc, words):
    path = write(tmp_path, text)
    with pytest.raises(exc) as info:
        load(path)
    if exc is UnknownFormatError:  # the loader words this one; the importer's own message:
        with pytest.raises(exc) as info:
            import_file(path, "csv")
    msg = str(info.value)
    assert str(path) in msg
    for w in words:
        assert w in msg, msg


def test_small_negative_forces_are_kept(tmp_path):
    rec = load(write(tmp_path, "time_s,left_force_n,right_force_n\n0,-1.5,300\n0.01,-0.4,301\n0.02,0.3,300\n"))
    assert rec.samples[("left", FORCE)].tolist() == pytest.approx([-1.5, -0.4, 0.3])


def test_one_row_with_a_stated_rate(tmp_path):
    rec = load(write(tmp_path, "# sampling_rate_hz: 200\ntime_s,left_force_n,right_force_n\n0.5,1,2\n"))
    assert rec.meta.sampling_rate_hz == 200.0 and rec.samples.index.tolist() == [0.5]


def test_a_foot_without_any_force_is_left_out(tmp_path):
    rec = load(write(tmp_path, "time_s,left_force_n,right_force_n\n0,1,\n0.01,2,\n"))
    assert rec.sides == ("left",) and set(rec.quality["sides"]) == {"left"}


# --- properties -----------------------------------------------------------------

def _must_fail_cleanly(path: Path) -> Recording | None:
    try:
        assert sniff(path) in (None, "csv")
        return import_file(path, "csv")
    except InsoleError as exc:
        assert str(exc)
        return None


_CASE = {"max_examples": 80, "deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}


@settings(**_CASE)
@given(data=st.binary(max_size=2000), prefix=st.sampled_from([b"", b"time_s,left_force_n,right_force_n\n",
                                                            b"\xef\xbb\xbf", b"\xff\xfe", b"# a: b\n"]))
def test_random_bytes_raise_only_own_errors(tmp_path_factory, data, prefix):
    path = tmp_path_factory.mktemp("bytes") / "f.csv"
    path.write_bytes(prefix + data)
    _must_fail_cleanly(path)


_CELL = st.one_of(st.sampled_from(["", " ", "nan", "1", "-0.5", "1e308", "1e-320", "abc", '"', "\r", "#", "0x1f",
                                   "inf", "1,5", "12.5.6", "\x00", "é", "9" * 30]),
                  st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=6))


@settings(**_CASE)
@given(header=st.permutations(["time_s", "left_force_n", "right_force_n", "phase", "left_cop_x_mm", "x"]),
       rows=st.lists(st.lists(_CELL, min_size=0, max_size=8), max_size=12),
       comments=st.lists(st.text(max_size=20).map(lambda s: "# " + s.replace("\n", " ")), max_size=3))
def test_random_text_under_a_valid_header_raises_only_own_errors(tmp_path_factory, header, rows, comments):
    text = "\n".join([*comments, ",".join(header), *(",".join(r) for r in rows)])
    path = tmp_path_factory.mktemp("text") / "f.csv"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    rec = _must_fail_cleanly(path)
    if rec is not None:
        assert rec.samples.index.is_monotonic_increasing and rec.meta.sampling_rate_hz > 0


@settings(**_CASE)
@given(text=st.text(max_size=600))
def test_random_text_raises_only_own_errors(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("anytext") / "f.csv"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    _must_fail_cleanly(path)


@settings(**_CASE)
@given(times=st.lists(st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                                st.floats(-10.0, 100.0), st.integers(-5, 5).map(lambda i: i / 100.0)),
                      min_size=1, max_size=40),
       sort=st.booleans(), rate=st.sampled_from(["", "# sampling_rate_hz: 100\n", "# sampling_rate_hz: 1e-300\n"]))
def test_any_time_column_loads_or_raises_own_errors(tmp_path_factory, times, sort, rate):
    if sort:
        times = sorted(times)
    text = rate + "time_s,left_force_n,right_force_n\n" + "".join(f"{t!r},{i},1\n" for i, t in enumerate(times))
    path = tmp_path_factory.mktemp("times") / "f.csv"
    path.write_text(text)
    rec = _must_fail_cleanly(path)
    if rec is not None:
        idx = rec.samples.index.to_numpy()
        assert np.all(np.diff(idx) > 0) and 1.0 <= rec.meta.sampling_rate_hz <= 1e6
        assert len(idx) <= 10 * len(times) + 1_000_000


_LABELS = st.sampled_from(["eyes_open", "eyes_closed", "", "quiet stance"])
_FORCE = st.one_of(st.floats(-5.0, 3000.0, allow_nan=False), st.just(math.nan))
_POS = st.one_of(st.floats(-300.0, 300.0, allow_nan=False), st.just(math.nan))


@st.composite
def valid_tables(draw):
    rate = draw(st.sampled_from([25.0, 50.0, 60.0, 100.0, 120.0, 148.5, 200.0, 1000.0, 1200.0]))
    n = draw(st.integers(1, 120))
    j0 = draw(st.integers(-500, 5000))
    keep = np.ones(n, dtype=bool)
    if n > 10:
        dropped = draw(st.lists(st.integers(1, n - 2), max_size=n // 4, unique=True))
        keep[dropped] = False
    k = j0 + np.flatnonzero(keep)
    m = k.size
    cols = {"time_s": k / rate,
            "left_force_n": np.array(draw(st.lists(_FORCE, min_size=m, max_size=m))),
            "right_force_n": np.array(draw(st.lists(_FORCE, min_size=m, max_size=m)))}
    for name in ("left_cop_x_mm", "left_cop_y_mm", "right_cop_x_mm", "right_cop_y_mm"):
        if draw(st.booleans()):
            cols[name] = np.array(draw(st.lists(_POS, min_size=m, max_size=m)))
    if draw(st.booleans()):
        runs = draw(st.lists(st.tuples(_LABELS, st.integers(1, 40)), min_size=1, max_size=6))
        labels = [lab for lab, r in runs for _ in range(r)]
        cols["phase"] = np.array((labels + [""] * m)[:m], dtype=object)
    df = pd.DataFrame(cols)
    extra = draw(st.sampled_from([[], ["note"], ["left_foot_cop_x_mm", "fz"]]))
    for e in extra:
        df[e] = 1.5
    order = draw(st.permutations(list(df.columns)))
    stated_rate = n == 1 or draw(st.booleans())
    return df[order], rate, k, stated_rate


@settings(**_CASE)
@given(table=valid_tables(), crlf=st.booleans())
def test_valid_tables_round_trip(tmp_path_factory, table, crlf):
    df, rate, k, stated_rate = table
    steps = np.diff(k)
    assume(steps.size == 0 or (steps == 1).mean() > 0.6)  # mostly regular: the rate is the step's
    comments = f"# sampling_rate_hz: {rate}\n" if stated_rate else ""
    path = tmp_path_factory.mktemp("valid") / "t.csv"
    path.write_bytes(to_csv(df, comments).replace("\n", "\r\n" if crlf else "\n").encode())

    forces = [side for side in ("left", "right") if np.isfinite(df[f"{side}_force_n"]).any()]
    if not forces:
        with pytest.raises(RecordingError, match="no forces"):
            import_file(path, "csv")
        return
    rec = import_file(path, "csv")
    s = rec.samples
    assert rec.meta.sampling_rate_hz == rate
    grid = np.arange(k[0], k[-1] + 1)
    np.testing.assert_allclose(s.index.to_numpy(), grid / rate, rtol=0, atol=1e-9)
    assert rec.sides == tuple(forces)
    rows = k - k[0]
    for side in forces:
        for ch in (FORCE, COP_X, COP_Y):
            got = s[(side, ch)].to_numpy()
            assert got.dtype == np.float32
            col = f"{side}_{ch}"
            want = np.full(grid.size, np.nan, dtype=np.float32)
            if col in df:
                want[rows] = df[col].to_numpy(np.float64).astype(np.float32)
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=0, equal_nan=True)
    if "phase" in df:
        labels = df["phase"].to_numpy()
        expected = []
        for i, lab in enumerate(labels):
            if i and lab == labels[i - 1]:
                continue
            j = i
            while j + 1 < labels.size and labels[j + 1] == lab:
                j += 1
            if lab:
                expected.append((lab, k[i] / rate, k[j] / rate + 1 / rate))
        got = [(p.name, p.start_s, p.end_s) for p in rec.meta.phases]
        assert [g[0] for g in got] == [e[0] for e in expected]
        if got:
            np.testing.assert_allclose([g[1:] for g in got], [e[1:] for e in expected], rtol=0, atol=1e-9)
    else:
        assert rec.meta.phases == ()
    for side in forces:
        q = rec.quality["sides"][side]
        ok = np.isfinite(s[(side, FORCE)].to_numpy())
        first, last = np.flatnonzero(ok)[[0, -1]]
        assert q["samples_received"] == ok.sum() and q["samples_expected"] == last - first + 1
