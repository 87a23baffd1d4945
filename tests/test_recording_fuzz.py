"""Property-based tests of the recording loader and of the whole pipeline
on mutated recordings: whatever the bytes or the rows, it either loads and
analyses or raises the package's own error."""

from __future__ import annotations

import functools
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import insole
from insole.errors import InsoleError
from insole.sim.session import default_insoles, simulate_recording

_SQLITE_MAGIC = b"SQLite format 3\x00"


# --- the pipeline and the budget ---------------------------------------------------
#
# Each example mutates a good file, then runs what `insole info` and `insole
# analyze --json` run: load, describe, analyze, to_dict, and the report's
# words. Anything but an InsoleError is a bug. The budget is fixed and the
# examples are derandomised (no example database), so a run is bounded and
# repeatable; INSOLE_FUZZ_SCALE=50 runs fifty times as many examples locally.

FUZZ_SCALE = max(1, int(os.environ.get("INSOLE_FUZZ_SCALE", "1")))
#: bootstrap replicates in the fuzzed analyses: the code path of the default
#: 2000, at a fraction of the time, so the budget goes to the mutations
FUZZ_N_BOOT = 50


def fuzz_settings(n: int) -> settings:
    return settings(max_examples=n * FUZZ_SCALE, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large], print_blob=True)


def run_pipeline(path) -> None:
    """load -> describe -> analyze -> JSON and report text; only the
    package's own errors may come out."""
    from insole.analysis.gait import GaitOptions
    from insole.analysis.standing import StandingOptions
    from insole.info import describe
    from insole.report import text

    try:
        rec = insole.load(path)
        json.dumps(describe(rec))
        result = insole.analyze(rec, standing_options=StandingOptions(n_boot=FUZZ_N_BOOT),
                                gait_options=GaitOptions(n_boot=FUZZ_N_BOOT))
    except InsoleError as exc:
        assert str(exc)
        return
    json.dumps(result.to_dict(), allow_nan=False)
    text.headline(result.standing, result.gait)
    text.key_numbers(result.standing, result.gait)
    text.quality_verdict([rec], [result.gait])
    text.quality_rows(rec, result.standing, result.gait)
    text.methods_text(result.standing, result.gait)


@pytest.fixture(scope="module")
def good_file(tmp_path_factory):
    from conftest import StepScenario

    path = tmp_path_factory.mktemp("fuzz") / "good.insole"
    simulate_recording(path, StepScenario(duration_s=8.0), insoles=default_insoles(drop_pct=2.0))
    return path.read_bytes()


def _load_bytes(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("case") / "f.insole"
    path.write_bytes(data)
    run_pipeline(path)


@fuzz_settings(60)
@given(data=st.binary(max_size=3000), sqlite_header=st.booleans())
def test_random_bytes_raise_only_own_errors(tmp_path_factory, data, sqlite_header):
    _load_bytes(tmp_path_factory, (_SQLITE_MAGIC + data) if sqlite_header else data)


@fuzz_settings(60)
@given(edits=st.lists(st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.binary(min_size=1, max_size=64)),
                      min_size=1, max_size=6),
       cut=st.one_of(st.none(), st.floats(0.0, 1.0)))
def test_corrupted_recordings_load_or_raise_own_errors(tmp_path_factory, good_file, edits, cut):
    data = bytearray(good_file)
    for where, junk in edits:
        at = int(where * len(data))
        data[at:at + len(junk)] = junk
    if cut is not None:
        data = data[: int(cut * len(data))]
    _load_bytes(tmp_path_factory, bytes(data))


# --- SQL-level mutations: rows deleted, repeated, reordered; values and types changed ---

@pytest.fixture(scope="module")
def base_recordings(tmp_path_factory):
    """Small simulated files of each protocol (100 Hz; the run with lost
    packets), so a mutated one is analysed in a few hundredths of a second."""
    from insole.sim import make_scenario

    folder = tmp_path_factory.mktemp("fuzz-base")
    out = {}
    for name, duration_s, drop_pct in (("run", 12.0, 1.0), ("standing", 20.0, 0.0)):
        path = folder / f"{name}.insole"
        simulate_recording(path, make_scenario(name, duration_s=duration_s, seed=5),
                           insoles=default_insoles(sampling_rate_hz=100, drop_pct=drop_pct))
        out[name] = path
    return out


_FRACTION = st.floats(0.0, 1.0)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=6)
    | st.sampled_from(["left", "right", "standing", "run", "walk", "lift_left", "eyes_open", "insole.recording/1"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)
#: a value as SQLite may hold it after damage: JSON text, other text, a blob, a number
_STORED = st.one_of(_JSON.map(json.dumps), st.text(max_size=12), st.binary(max_size=12),
                    st.integers(-(2**63), 2**63 - 1), st.floats())
_META_KEYS = st.sampled_from(["format", "source", "protocol", "sampling_rate_hz", "subject", "body_mass_kg",
                              "started_utc", "app_version", "truth", "distance_m", "event_convention",
                              "foot_length_mm", "cop_frame", "stance_width_mm"])
_LAYOUT_KEYS = st.sampled_from(["side", "size_eu", "length_mm", "width_mm", "pressure_lsb_kpa", "x_mm", "y_mm",
                                "area_mm2"])
_DEVICE_KEYS = st.sampled_from(["name", "address", "serial", "firmware_revision", "battery_pct", "layout"])
_PAYLOAD = st.one_of(
    st.tuples(st.just("empty")), st.tuples(st.just("short"), st.binary(min_size=1, max_size=14)),
    st.tuples(st.just("long"), st.binary(min_size=1, max_size=48)), st.tuples(st.just("garbage"), st.binary(max_size=80)),
    st.tuples(st.just("header_byte"), st.integers(0, 14), st.integers(0, 255)),
    st.tuples(st.just("body_byte"), st.integers(15, 400), st.integers(0, 255)),
    st.tuples(st.just("zero_body")))

_SQL_MUTATION = st.one_of(
    st.tuples(st.just("delete"), st.sampled_from(["packets", "markers", "devices", "meta"]), _FRACTION, _FRACTION),
    st.tuples(st.just("duplicate"), _FRACTION, _FRACTION, st.integers(-(10**10), 10**10)),
    st.tuples(st.just("reorder"), _FRACTION, _FRACTION),
    st.tuples(st.just("shift_time"), _FRACTION, _FRACTION, st.integers(-(10**11), 10**11)),
    st.tuples(st.just("packet_column"), _FRACTION, _FRACTION, st.sampled_from(["side", "host_time_ns", "payload"]),
              st.one_of(st.sampled_from([0, 1, 2, -1]), _STORED)),
    st.tuples(st.just("payload"), _FRACTION, _FRACTION, _PAYLOAD),
    st.tuples(st.just("meta"), _META_KEYS, _STORED),
    st.tuples(st.just("rate"), st.sampled_from([50, 100, 200, 0, -100, 1e9, "200", None])),
    st.tuples(st.just("device"), st.sampled_from(["left", "right"]), _DEVICE_KEYS, _JSON),
    st.tuples(st.just("layout"), st.sampled_from(["left", "right"]), _LAYOUT_KEYS, _JSON),
    st.tuples(st.just("device_raw"), st.sampled_from(["left", "right", "middle"]), _STORED),
    st.tuples(st.just("marker"), st.sampled_from(["phase_start", "phase_end", "battery", "note", "link", "x"]),
              st.sampled_from(["lift_left", "lift_right", "eyes_open", "eyes_closed", "all", "left", "right"]),
              st.one_of(st.integers(-(10**10), 4 * 10**10), st.integers(-(2**63), 2**63 - 1)), _STORED),
    st.tuples(st.just("marker_column"), _FRACTION, _FRACTION, st.sampled_from(["host_time_ns", "kind", "name", "data"]),
              _STORED),
    st.tuples(st.just("truncate_side"), st.sampled_from([0, 1]), _FRACTION),
)


def _ids(conn: sqlite3.Connection, table: str, a: float, b: float) -> tuple[int, int]:
    lo, hi = conn.execute(f"SELECT min(rowid), max(rowid) FROM {table}").fetchone()
    if lo is None:
        return 0, -1
    a, b = sorted((a, b))
    return lo + int(a * (hi - lo)), lo + int(b * (hi - lo))


def _new_payload(p: bytes, how: tuple) -> bytes:
    kind = how[0]
    if kind == "empty":
        return b""
    if kind in ("short", "garbage"):
        return how[1]
    if kind == "long":
        return p + how[1]
    if kind in ("header_byte", "body_byte"):
        b = bytearray(p)
        if how[1] < len(b):
            b[how[1]] = how[2]
        return bytes(b)
    return p[:15] + bytes(max(0, len(p) - 15))  # zero_body: every sensor reads 0


def apply_sql(conn: sqlite3.Connection, m: tuple) -> None:
    """Apply one mutation drawn from _SQL_MUTATION."""
    op = m[0]
    if op == "delete":
        lo, hi = _ids(conn, m[1], m[2], m[3])
        conn.execute(f"DELETE FROM {m[1]} WHERE rowid BETWEEN ? AND ?", (lo, hi))
    elif op == "duplicate":
        lo, hi = _ids(conn, "packets", m[1], m[2])
        conn.execute("INSERT INTO packets(side, host_time_ns, payload) SELECT side, host_time_ns + ?, payload "
                     "FROM packets WHERE id BETWEEN ? AND ?", (m[3], lo, hi))
    elif op == "reorder":  # the block moves to the front, reversed
        lo, hi = _ids(conn, "packets", m[1], m[2])
        conn.execute("UPDATE packets SET id = -id WHERE id BETWEEN ? AND ?", (lo, hi))
    elif op == "shift_time":
        lo, hi = _ids(conn, "packets", m[1], m[2])
        conn.execute("UPDATE packets SET host_time_ns = host_time_ns + ? WHERE id BETWEEN ? AND ?", (m[3], lo, hi))
    elif op == "packet_column":
        lo, hi = _ids(conn, "packets", m[1], m[2])
        conn.execute(f"UPDATE packets SET {m[3]} = ? WHERE id BETWEEN ? AND ?", (m[4], lo, hi))
    elif op == "payload":
        lo, hi = _ids(conn, "packets", m[1], m[2])
        rows = conn.execute("SELECT id, payload FROM packets WHERE id BETWEEN ? AND ? AND typeof(payload) = 'blob'",
                            (lo, hi)).fetchall()
        conn.executemany("UPDATE packets SET payload = ? WHERE id = ?", [(_new_payload(p, m[3]), i) for i, p in rows])
    elif op == "meta":
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (m[1], m[2]))
    elif op == "rate":
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('sampling_rate_hz', ?)", (json.dumps(m[1]),))
    elif op in ("device", "layout"):
        row = conn.execute("SELECT info FROM devices WHERE side = ?", (m[1],)).fetchone()
        try:
            info = json.loads(row[0]) if row else {}
        except (TypeError, ValueError):  # an earlier mutation left no JSON object
            info = {}
        info = info if isinstance(info, dict) else {}
        if op == "device":
            info[m[2]] = m[3]
        elif isinstance(info.get("layout"), dict):
            info["layout"][m[2]] = m[3]
        conn.execute("INSERT OR REPLACE INTO devices(side, info) VALUES (?, ?)", (m[1], json.dumps(info)))
    elif op == "device_raw":
        conn.execute("INSERT OR REPLACE INTO devices(side, info) VALUES (?, ?)", (m[1], m[2]))
    elif op == "marker":
        conn.execute("INSERT INTO markers(host_time_ns, kind, name, data) VALUES (?, ?, ?, ?)", (m[3], m[1], m[2], m[4]))
    elif op == "marker_column":
        lo, hi = _ids(conn, "markers", m[1], m[2])
        conn.execute(f"UPDATE markers SET {m[3]} = ? WHERE id BETWEEN ? AND ?", (m[4], lo, hi))
    elif op == "truncate_side":
        n = conn.execute("SELECT count(*) FROM packets WHERE side = ?", (m[1],)).fetchone()[0]
        conn.execute("DELETE FROM packets WHERE id IN (SELECT id FROM packets WHERE side = ? ORDER BY id DESC "
                     "LIMIT ?)", (m[1], int(m[2] * n)))


def mutate_recording(src, dst, mutations) -> None:
    shutil.copy(src, dst)
    conn = sqlite3.connect(dst, isolation_level=None)
    try:
        for m in mutations:
            try:
                apply_sql(conn, m)
            except (sqlite3.IntegrityError, OverflowError):
                pass  # NOT NULL, a repeated key, an integer beyond 64 bits: not storable, so not a case
    finally:
        conn.close()


@fuzz_settings(100)
@given(base=st.sampled_from(["run", "standing"]), mutations=st.lists(_SQL_MUTATION, min_size=1, max_size=4))
def test_sql_mutations_of_recordings_raise_only_own_errors(tmp_path_factory, base_recordings, base, mutations):
    path = tmp_path_factory.mktemp("sql") / "m.insole"
    mutate_recording(base_recordings[base], path, mutations)
    run_pipeline(path)


# --- byte-level mutations of the example recordings ---------------------------------

_BYTE_MUTATION = st.one_of(
    st.tuples(st.just("flip"), _FRACTION, st.integers(0, 7)),
    st.tuples(st.just("junk"), _FRACTION, st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("zero"), _FRACTION, st.integers(1, 8192)),
    st.tuples(st.just("splice"), _FRACTION, _FRACTION, st.integers(1, 8192)),
    st.tuples(st.just("cut"), _FRACTION),
)


def mutate_bytes(data: bytes, mutations) -> bytes:
    """Bit flips, overwritten and zeroed runs, a chunk copied elsewhere, a cut."""
    b = bytearray(data)
    for m in mutations:
        if not b:
            break
        at = min(int(m[1] * len(b)), len(b) - 1)
        if m[0] == "flip":
            b[at] ^= 1 << m[2]
        elif m[0] == "junk":
            b[at:at + len(m[2])] = m[2]
        elif m[0] == "zero":
            b[at:at + m[2]] = bytes(len(b[at:at + m[2]]))
        elif m[0] == "splice":
            src = min(int(m[2] * len(b)), len(b) - 1)
            b[at:at + m[3]] = b[src:src + m[3]]
        else:
            del b[at:]
    return bytes(b)


_EXAMPLES = Path(__file__).resolve().parent.parent / "recordings"


@functools.cache
def example_bytes() -> dict[str, bytes]:
    """The example recordings by name (read once; not a fixture, so that a
    failing example's report does not print them)."""
    return {p.name: p.read_bytes() for p in sorted(_EXAMPLES.glob("*.insole"))}


@fuzz_settings(60)
@given(name=st.sampled_from(["run_example.insole", "standing_example.insole"]),
       mutations=st.lists(_BYTE_MUTATION, min_size=1, max_size=5))
def test_byte_mutations_of_the_example_recordings_raise_only_own_errors(tmp_path_factory, name, mutations):
    path = tmp_path_factory.mktemp("bytes") / name
    path.write_bytes(mutate_bytes(example_bytes()[name], mutations))
    run_pipeline(path)
