"""Property-based tests of the recording loader: whatever the bytes, it
either loads or raises the package's own error."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import insole
from insole.errors import InsoleError
from insole.sim.session import default_insoles, simulate_recording

_SQLITE_MAGIC = b"SQLite format 3\x00"


@pytest.fixture(scope="module")
def good_file(tmp_path_factory):
    from conftest import StepScenario

    path = tmp_path_factory.mktemp("fuzz") / "good.insole"
    simulate_recording(path, StepScenario(duration_s=8.0), insoles=default_insoles(drop_pct=2.0))
    return path.read_bytes()


def _load_bytes(tmp_path_factory, data: bytes):
    path = tmp_path_factory.mktemp("case") / "f.insole"
    path.write_bytes(data)
    try:
        rec = insole.load(path)
    except InsoleError as exc:
        assert str(exc)
        return None
    assert rec.samples.shape[0] >= 0
    return rec


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000), sqlite_header=st.booleans())
def test_random_bytes_raise_only_own_errors(tmp_path_factory, data, sqlite_header):
    _load_bytes(tmp_path_factory, (_SQLITE_MAGIC + data) if sqlite_header else data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
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
