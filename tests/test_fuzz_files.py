"""Mutation fuzz of the importable files (generic CSV, Moticon OpenGo
exports, PhysioNet gaitpdb walks) through the whole pipeline: load,
describe, analyze, the JSON and the report's words. Anything but an
InsoleError is a bug.

The mutations work on real files (``tests/data``) and on two generated
generic CSVs long enough to be analysed (a standing test with foot lifts and
a run): byte-level (bit flips, overwritten and zeroed runs, spliced chunks,
a cut) and line-level (lines deleted, repeated, swapped; a field or a whole
column stretch set to a hostile value such as 0, a negative or a huge
number, NaN or text). The budget is fixed and the examples derandomised
(see tests/test_recording_fuzz.py for the settings and INSOLE_FUZZ_SCALE).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st
from test_recording_fuzz import _BYTE_MUTATION, fuzz_settings, mutate_bytes, run_pipeline

DATA = Path(__file__).resolve().parent / "data"
REAL_FILES = ("csv/two_plates_standing.csv", "gaitpdb/GaCo01_01.txt", "gaitpdb/GaPt03_01.txt",
              "moticon/synthetic_walk.txt", "moticon/opengo_230927_102114_first_064_rows.txt",
              "moticon/opengo_walk_with_events_first_030_rows.txt", "moticon/vendor/230927_102231.txt")
_EOL = re.compile(rb"(\r\n|\r|\n)")
#: hostile field values: mostly numbers a parser accepts (so the analysis sees them), some that it must refuse
_NUMBERS = st.sampled_from(["0", "-0", "0.0", "-1", "-1500", "1e9", "1e300", "-1e300", "nan", "inf", "-inf", "",
                            "1e-300", "5e-324", "99999999999999999999", "3000", "0.001"])
_FIELD = st.one_of(_NUMBERS, _NUMBERS, _NUMBERS, st.sampled_from(["NA", "abc", "1,5", "\"", "#"]),
                   st.floats().map(repr), st.text(alphabet=st.characters(codec="utf-8"), max_size=6))
#: where in the file, as a fraction of its lines (mostly past the header)
_AT = st.one_of(st.floats(0.1, 1.0), st.floats(0.0, 1.0))
#: how many lines an operation spans: a few, or a long stretch (a whole column set to 0)
_COUNT = st.one_of(st.integers(1, 5), st.integers(1, 10**6))
_LINE_MUTATION = st.one_of(
    st.tuples(st.just("delete"), _AT, _COUNT),
    st.tuples(st.just("repeat"), _AT, _COUNT),
    st.tuples(st.just("swap"), _AT, _AT),
    st.tuples(st.just("field"), _AT, st.integers(1, 1), _AT, _FIELD),
    st.tuples(st.just("column"), _AT, _COUNT, _AT, _FIELD),
)


def _generated() -> dict[str, bytes]:
    """A standing test with foot lifts and a run as generic CSVs."""
    rng = np.random.default_rng(1)
    t = np.arange(0.0, 30.0, 0.02)
    phase = np.select([t < 3, t < 6, t < 18], ["lift_left", "lift_right", "eyes_open"], "eyes_closed")
    sway = 15 * np.sin(2 * np.pi * 0.2 * t) + rng.normal(0, 2, t.size)
    left = np.select([phase == "lift_left", phase == "lift_right"], [0.0, 690.0], 370.0 + sway)
    right = np.select([phase == "lift_left", phase == "lift_right"], [690.0, 0.0], 320.0 - sway)
    standing = pd.DataFrame({"time_s": t, "left_force_n": left, "right_force_n": right,
                             "left_cop_x_mm": -90 + sway / 10, "left_cop_y_mm": 60.0, "right_cop_x_mm": 90 + sway / 10,
                             "right_cop_y_mm": 60.0, "phase": phase})
    t = np.arange(0.0, 30.0, 0.01)

    def foot(offset_s: float, peak_n: float) -> np.ndarray:
        ph = (t - offset_s) % 0.72
        return np.where(ph < 0.26, peak_n * np.sin(np.pi * ph / 0.26), 0.0) + rng.normal(0, 3, t.size)

    run = pd.DataFrame({"time_s": t, "left_force_n": foot(0.0, 1500.0), "right_force_n": foot(0.36, 1580.0)})
    out = {}
    for name, df, head in (("standing.csv", standing, "# body_mass_kg: 70\n# protocol: standing\n"),
                           ("run.csv", run, "# body_mass_kg: 70\n")):
        out[name] = (head + df.to_csv(index=False, float_format="%.3f")).encode()
    return out


@functools.cache
def originals() -> dict[str, bytes]:
    """The files to mutate, by name (read once; not a fixture, so that a
    failing example's report does not print megabytes of them)."""
    files = {name: (DATA / name).read_bytes() for name in REAL_FILES}
    files.update(_generated())
    return files


def mutate_lines(data: bytes, mutations) -> bytes:
    """Delete, repeat or swap lines; set a field, or one column over a
    stretch of lines, to a hostile value (fields split at the line's own
    separator: comma, tab or spaces)."""
    parts = _EOL.split(data)
    lines, ends = parts[0::2], parts[1::2] + [b""]
    rows = list(zip(lines, ends))
    for m in mutations:
        if not rows:
            break
        n = len(rows)
        i = min(int(m[1] * n), n - 1)
        if m[0] == "swap":
            j = min(int(m[2] * n), n - 1)
            rows[i], rows[j] = rows[j], rows[i]
            continue
        j = min(i + m[2], n)
        if m[0] == "delete":
            del rows[i:j]
        elif m[0] == "repeat":
            rows[j:j] = rows[i:j][:500]
        else:  # field (one line) or column (a stretch of lines)
            value = m[4].encode("utf-8", "replace")
            for k in range(i, j):
                line, end = rows[k]
                sep = b"," if b"," in line else b"\t" if b"\t" in line else b" "
                fields = line.split(sep)
                fields[min(int(m[3] * len(fields)), len(fields) - 1)] = value
                rows[k] = (sep.join(fields), end)
    return b"".join(line + end for line, end in rows)


_NAMES = st.sampled_from(sorted([*REAL_FILES, "standing.csv", "run.csv"]))


@fuzz_settings(150)
@given(name=_NAMES, mutations=st.lists(_LINE_MUTATION, min_size=1, max_size=4))
def test_line_mutations_of_imported_files_raise_only_own_errors(tmp_path_factory, name, mutations):
    path = tmp_path_factory.mktemp("lines") / Path(name).name
    path.write_bytes(mutate_lines(originals()[name], mutations))
    run_pipeline(path)


@fuzz_settings(80)
@given(name=_NAMES, mutations=st.lists(_BYTE_MUTATION, min_size=1, max_size=5))
def test_byte_mutations_of_imported_files_raise_only_own_errors(tmp_path_factory, name, mutations):
    path = tmp_path_factory.mktemp("bytes") / Path(name).name
    path.write_bytes(mutate_bytes(originals()[name], mutations))
    run_pipeline(path)
