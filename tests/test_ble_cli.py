"""The Bluetooth commands as a user runs them, on the virtual radio:
``insole scan --virtual``, ``insole record --virtual`` (killed with SIGKILL),
``insole replay`` and ``insole demo``, each in its own process."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import committed, committed_sides, killed_after, run_cli, wait_until

import insole

pytest.importorskip("bumble")


def test_scan_virtual_lists_a_left_and_a_right_insole_and_stops_once_both_are_there():
    """One line per insole, with battery and firmware; the scan ends as soon
    as a left and a right are there: with the longest timeout allowed (10
    minutes) it returns at once, not after the timeout."""
    out = run_cli("scan", "--virtual", "--timeout", "600", timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    assert sorted(line.split()[0] for line in lines) == ["left", "right"]
    for line in lines:
        assert re.search(r"battery \d+ %", line) and re.search(r"firmware \S+", line)


#: how late the newest stored packet of a foot may be, beyond the commit
#: interval, at a SIGKILL: a packet comes every 40 ms per foot (8 samples at
#: 200 Hz), a commit happens with a packet, and the loop may run a little late
KILL_MARGIN_S = 0.1


@pytest.mark.slow
def test_record_virtual_run_killed_with_sigkill_loses_at_most_the_commit_interval(tmp_path):
    """The issue's check: `insole record --virtual --protocol run` killed
    with SIGKILL 8 s after it was started (and not before both feet are in
    the file) has kept both feet, without a gap, up to the commit interval
    before the kill (placed on the recording's time axis by the file's own
    host clock origin, whatever the start-up took); then the file replays
    through the live view."""
    from insole.ble.session import COMMIT_S
    from insole.recording.store import read_raw

    path = tmp_path / "r.insole"
    killed_ns = killed_after(8.0, "record", "--virtual", "--protocol", "run", "--duration", "30", "-o", str(path),
                             until=lambda: committed_sides(path) == 2)
    raw = read_raw(path)
    kill_s = (killed_ns - raw.meta["host_monotonic_origin_ns"]) / 1e9  # on the recording's host time axis
    rec = insole.load(path)
    assert rec.meta.source == "virtual-radio"
    assert set(rec.sides) == {"left", "right"}
    for side in rec.sides:
        last_s = raw.host_time_ns[side][-1] / 1e9
        assert kill_s - COMMIT_S - KILL_MARGIN_S <= last_s <= kill_s
        q = rec.quality["sides"][side]
        assert q["samples_lost"] == 0  # nothing missing before that either
        first_s = raw.host_time_ns[side][0] / 1e9
        assert q["samples_received"] >= (last_s - first_s) * 200 - 2 * 8

    out = run_cli("replay", str(path), "--speed", "20")
    assert out.returncode == 0, out.stderr
    packets = int(re.search(r"replayed (\d+) packets", out.stdout).group(1))
    info = json.loads(run_cli("info", str(path), "--json").stdout)
    assert packets == sum(info["sides"][s]["packets"] for s in ("left", "right"))


@pytest.mark.slow
def test_demo_streams_over_the_virtual_radio(tmp_path):
    """`insole demo`: four recordings streamed from two virtual insoles, the
    metadata says so, `insole info` shows both feet and the packet counts,
    and the report names the side the demo person favours."""
    from pypdf import PdfReader

    out = run_cli("demo", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    names = ["earlier_standing", "earlier_run", "standing"]
    for name in names:
        info = run_cli("info", str(tmp_path / f"{name}.insole"), "--json")
        assert info.returncode == 0, info.stderr
        info = json.loads(info.stdout)
        assert info["source"] == "virtual-radio"
        assert info["feet"] == ["left", "right"]
        for side in ("left", "right"):
            s = info["sides"][side]
            assert s["device"]["firmware_revision"] == "1.0.0-virtual"
            # 25 packets/s of 8 samples at 200 Hz, no injected loss
            assert s["packets"] >= 25 * (65 if "standing" in name else 85)
            assert s["packet_loss_pct"] == 0.0
        text = run_cli("info", str(tmp_path / f"{name}.insole")).stdout
        assert re.search(r"left .* \d+ packets", text) and re.search(r"right .* \d+ packets", text)
    rec = insole.load(tmp_path / "standing.insole")
    assert [p.name for p in rec.meta.phases] == ["lift_left", "lift_right", "eyes_open", "eyes_closed"]
    assert rec.meta.truth["scenario"]["protocol"] == "standing"
    first_page = PdfReader(tmp_path / "report.pdf").pages[0].extract_text()
    assert "left" in first_page.lower() and "favoured" in first_page
    # today's run was logged on the insoles and synced: 40 min of both feet, whole, and a FIT file
    info = json.loads(run_cli("info", str(tmp_path / "run.insole"), "--json").stdout)
    assert info["source"] == "insole-log" and info["feet"] == ["left", "right"]
    assert info["duration_s"] > 39.5 * 60
    for side in ("left", "right"):
        assert info["sides"][side]["samples_received"] == info["sides"][side]["samples_expected"] > 39.5 * 60 * 200
    run = insole.load(tmp_path / "run.insole")
    slope = insole.analyze(run).gait.drift["slope_pp_per_10min"]["contact_time"]
    lo, hi = slope["ci95"]
    assert lo <= -1.5 <= hi and hi < 0  # the fatigue trend (demo: -1.5 pp per 10 min) is found, with its interval
    assert (tmp_path / "run.fit").stat().st_size > 1000
    assert "synced" in out.stdout and "run.fit" in out.stdout


@pytest.mark.slow
def test_ctrl_c_ends_a_guided_standing_test_cleanly(tmp_path):
    """Ctrl-C (SIGINT) during the guided standing test, once the file shows
    that the left foot's lift has begun: exit 0, the file is closed and holds
    both feet up to that moment, and the phase in progress is closed there,
    not at its planned end."""
    from insole.ble.session import GUIDED
    from insole.recording.store import read_raw

    path = tmp_path / "s.insole"
    proc = subprocess.Popen([sys.executable, "-m", "insole", "record", "--virtual", "--protocol", "standing",
                             "-o", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: committed(path, "SELECT 1 FROM markers WHERE kind = 'phase_start' AND name = 'lift_left'"),
                   proc=proc)
        sent_ns = time.monotonic_ns()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "wrote" in out and "Traceback" not in err
    assert not (tmp_path / "s.insole-wal").exists()  # closed: checkpointed into one file
    raw = read_raw(path)
    sent_s = (sent_ns - raw.meta["host_monotonic_origin_ns"]) / 1e9  # on the recording's host time axis
    phases = [(m["kind"], m["name"], m["host_time_ns"] / 1e9) for m in raw.markers if m["kind"].startswith("phase")]
    assert [(kind, name) for kind, name, _ in phases] == [("phase_start", "lift_left"), ("phase_end", "lift_left")]
    lift_s = {name: seconds for name, seconds, _ in GUIDED["standing"]}["lift_left"]
    start_s, end_s = phases[0][2], phases[1][2]
    assert sent_s <= end_s < start_s + lift_s  # closed at Ctrl-C, after the signal, before its planned end
    rec = insole.load(path)
    assert set(rec.sides) == {"left", "right"}
    for side in rec.sides:  # every foot recorded up to the moment the session stopped
        assert raw.host_time_ns[side][-1] / 1e9 >= end_s - KILL_MARGIN_S
        assert rec.quality["sides"][side]["samples_lost"] == 0
    assert rec.meta.phases[0].name == "lift_left"


def test_without_usable_bluetooth_scan_and_record_exit_2_with_one_line(tmp_path):
    """No adapter, BlueZ not running (as on the CI machines), or simply no
    insole in range: either way one line, exit 2, no traceback, no file."""
    for args in (("scan", "--timeout", "1"), ("record", "--protocol", "run", "-o", str(tmp_path / "x.insole"))):
        out = run_cli(*args, timeout=60)
        assert out.returncode == 2, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("insole: error:") and "Traceback" not in out.stderr
    assert not (tmp_path / "x.insole").exists()


def test_record_refuses_an_existing_file_before_connecting(tmp_path):
    path = tmp_path / "taken.insole"
    path.write_bytes(b"keep me")
    out = run_cli("record", "--virtual", "--protocol", "run", "--duration", "5", "-o", str(path), timeout=60)
    assert out.returncode == 2 and out.stderr.strip().splitlines() == [
        f"insole: error: {path} already exists; choose another name or remove it"]
    assert path.read_bytes() == b"keep me"
