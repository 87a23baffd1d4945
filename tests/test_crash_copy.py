"""A recording killed with SIGKILL keeps its data in the ``-wal`` file until a
checkpoint: the writer checkpoints at the start and at least every second,
so a user who copies only the ``.insole`` file still has a recording, and the
loader says that the ``-wal`` was missing."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap

from conftest import run_cli

import insole
from insole.ble.session import COMMIT_S
from insole.recording.store import RecordingWriter, wal_missing

#: the child writes a packet every SPACING_S of its own clock, stamped with
#: the writer's clock (as a live session does), then kills itself with SIGKILL
#: right after packet N: a real kill at a known point, at any machine speed
_CHILD = textwrap.dedent("""
    import os, signal, sys, time
    from insole.recording.store import RecordingWriter
    from insole.sim.session import default_insoles
    from insole.sim.device import sample_packets
    from insole.sim import make_scenario

    path, n_kill, spacing_s, commit_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    model = default_insoles()["left"]
    stream = sample_packets(model, make_scenario("run", duration_s=30.0), duration_s=30.0)
    w = RecordingWriter(path, meta={"source": "test", "protocol": "run", "sampling_rate_hz": 200},
                        commit_interval_s=commit_s)
    w.set_device("left", {"name": "insole-L", "layout": model.layout.to_dict()})
    for i, payload in enumerate(stream.payloads[:n_kill]):
        time.sleep(spacing_s)
        w.add_packet("left", w.now_ns(), payload)
    os.kill(os.getpid(), signal.SIGKILL)
""")
SPACING_S = 0.02


def _killed_writer(path, n_packets: int) -> None:
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(n_packets), str(SPACING_S), str(COMMIT_S)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def _last_packet_s(path) -> float:
    from insole.recording.store import read_raw

    return float(read_raw(path).host_time_ns["left"][-1]) / 1e9


def _copy_alone(path):
    copy_dir = path.parent / "copied"
    copy_dir.mkdir()
    copy = copy_dir / path.name
    shutil.copy(path, copy)  # the user copies only the .insole file
    return copy


def test_a_copy_of_the_main_file_alone_lacks_at_most_a_checkpoint_interval(tmp_path):
    path = tmp_path / "killed.insole"
    _killed_writer(path, 180)
    assert (tmp_path / "killed.insole-wal").exists()  # the crash left its WAL

    copy = _copy_alone(path)
    assert wal_missing(copy) and not wal_missing(path)

    # with its WAL: everything but the last commit interval
    full = _last_packet_s(path)
    copied = _last_packet_s(copy)
    ckpt = RecordingWriter.__init__.__kwdefaults__["checkpoint_interval_s"]
    assert full - copied <= ckpt + COMMIT_S + 2 * SPACING_S
    rec = insole.load(copy)
    assert rec.quality["missing_wal"] and not insole.load(path).quality["missing_wal"]

    info = run_cli("info", str(copy))
    assert info.returncode == 0, info.stderr
    assert "-wal is not beside it" in info.stdout
    assert json.loads(run_cli("info", str(copy), "--json").stdout)["missing_wal"] is True


def test_a_copy_taken_right_after_the_start_is_still_a_recording(tmp_path):
    path = tmp_path / "early.insole"
    _killed_writer(path, 2)
    out = run_cli("info", str(_copy_alone(path)))
    # its metadata were checkpointed at once: a recording without samples yet, not a foreign file
    assert out.returncode == 2 and "not an insole recording" not in out.stderr
    assert "no decodable samples" in out.stderr


def test_a_closed_recording_needs_no_wal(tmp_path):
    from insole.sim import make_scenario
    from insole.sim.session import simulate_recording

    path = tmp_path / "closed.insole"
    simulate_recording(path, make_scenario("standing", duration_s=20))
    assert not (tmp_path / "closed.insole-wal").exists() and not wal_missing(path)
    assert insole.load(path).quality["missing_wal"] is False
