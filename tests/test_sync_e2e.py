"""End to end: a run logged on the virtual insoles and brought home through
the host workflow (``insole claim``, ``insole log start|status``,
``insole sync``) over the virtual radio, on bleak's own API.

The happy path runs the CLI exactly as a user types it (its own process);
the faults run the workflow in this process (faster), each checking that
the recording is correct and that nothing that was on the flash is lost.
Runs are 0.5-3 min of running, the radio runs fast (``time_scale``); nothing
asserts a wall-clock duration.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import types
import zlib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("bumble")

from bleak import BleakClient, BleakScanner

from conftest import killed_after, run_cli
from insole import analyze
from insole.ble.virtual import logger as virtual_logger
from insole.ble.virtual.pair import virtual_log_pair
from insole.ble.virtual.run import catch_up, run_virtual
from insole.ble.virtual.state import CLAIM_WINDOW_S, VirtualPairState
from insole.cli import main as cli_main
from insole.constants import DEVICE_INFO_CHARS, SIDES
from insole.errors import InsoleError
from insole.info import describe
from insole.loader import load
from insole.protocol import log as logfmt
from insole.protocol import logctl
from insole.recording.store import RecordingReader
from insole.sync.keys import KeyStore
from insole.sync.link import WINDOW_CHUNKS, Download, LogLink
from insole.sync.workflow import PARTIAL_DIR, Reach, claim_pair, log_start, log_status, sync_pair

PAGE = logfmt.PAGE_SIZE
#: in-process pairs run this much faster than real time
SPEED = 50.0
NOTE = {"protocol": "run", "subject": "E2E"}


# --- helpers -----------------------------------------------------------------------------------
def on_pair(folder: Path, action, *, keys: Path | None = None, capacity_bytes: int | None = None,
            link_kB_s: float = 400.0, faults=None):
    """``await action(reach)`` with the pair of the state in ``folder``
    powered on (``faults(pair)`` first), as host ``keys`` (default: the
    state's own host, the one the CLI's --virtual uses)."""
    async def main():
        kw = {"capacity_bytes": capacity_bytes} if capacity_bytes else {}
        with VirtualPairState.open(folder, **kw) as st:
            async with virtual_log_pair(st, time_scale=SPEED, link_kB_s=link_kB_s) as pair:
                if faults is not None:
                    faults(pair)
                reach = Reach(keys=KeyStore(keys or folder / "host"), backend=pair.backend,
                              host_clock_us=st.host_time_us, truth=st.truth_for, scan_timeout_s=5.0)
                return await action(reach)

    return asyncio.run(main())


def started_run(folder: Path, minutes: float, *, capacity_bytes: int | None = None, seed: int = 1, **run):
    """``insole log start`` (claims the fresh pair), then the virtual runner."""
    on_pair(folder, lambda r: log_start(r, note=NOTE), capacity_bytes=capacity_bytes)
    with VirtualPairState.open(folder) as st:
        return run_virtual(st, minutes=minutes, seed=seed, **run)


def listed(folder: Path) -> dict[str, list]:
    """Side -> the sessions ``insole log status`` lists."""
    return {st.side: st.sessions for st in on_pair(folder, log_status)}


def sync(folder: Path, out: Path, *, keep: bool = False, **kw):
    out.mkdir(exist_ok=True)
    return on_pair(folder, lambda r: sync_pair(r, out, keep=keep), **kw)


def flash_images(folder: Path) -> dict[str, dict[int, bytes]]:
    """Side -> session id -> image, read off the flash (closed sessions)."""
    with VirtualPairState.open(folder) as st:
        return {side: {s.session_id: st.loggers[side].image(s.session_id)
                       for s in st.loggers[side].sessions() if not s.open} for side in SIDES}


def log_images(path: Path) -> dict[str, bytes]:
    with RecordingReader(path) as r:
        return {side: r.log_image(side) for side in r.log_sides()}


def side_quality(path: Path) -> dict[str, dict]:
    return load(path).quality["sides"]


def stop_both(st: VirtualPairState) -> None:
    """Stop logging on the insoles themselves (as a host's LOG_STOP does)."""
    catch_up(st)
    for side in SIDES:
        if st.loggers[side].state == "logging":
            st.loggers[side].stop(device_time_us=st.device_time_us(side))


# --- 1. the happy path, as a user types it ----------------------------------------------------------
STATUS_KEYS = {"side", "logging", "state", "sessions", "used_bytes", "capacity_bytes", "battery_pct", "free_hours",
               "claimed_here"}
SESSION_KEYS = {"id", "start_utc", "duration_s", "bytes", "complete"}


def status_json(*extra: str) -> dict:
    done = run_cli("log", "status", "--virtual", "--json", *extra)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["schema"] == "insole.log-status/1"
    assert [i["side"] for i in doc["insoles"]] == ["left", "right"]
    for ins in doc["insoles"]:
        assert set(ins) == STATUS_KEYS and ins["claimed_here"] is True
        assert all(set(s) == SESSION_KEYS for s in ins["sessions"])
    return doc


def test_log_start_status_sync_info_analyze_through_the_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("INSOLE_VIRTUAL_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("INSOLE_CONFIG_DIR", str(tmp_path / "config"))
    started = run_cli("log", "start", "--virtual", "--virtual-run-min", "3", "--asymmetry-pct", "-8",
                      "--fatigue-pp-per-10min", "-2")
    assert started.returncode == 0, started.stderr
    doc = status_json()
    for ins in doc["insoles"]:
        assert ins["logging"] is True and ins["state"] == "logging"
        (s,) = ins["sessions"]
        assert 175.0 <= s["duration_s"] <= 200.0 and s["bytes"] > 0 and s["bytes"] % PAGE == 0
        assert s["start_utc"].endswith("UTC") and 0 < ins["used_bytes"] <= ins["capacity_bytes"]

    out = tmp_path / "runs"
    kept = run_cli("sync", "--virtual", "-o", str(out), "--virtual-speed", "20", "--keep")
    assert kept.returncode == 0, kept.stderr
    (path,) = sorted(out.glob("*.insole"))
    assert kept.stdout.splitlines() == [str(path)]          # exactly the written paths, one per line
    doc = status_json()                                      # --keep: still there, stopped and complete
    assert [len(i["sessions"]) for i in doc["insoles"]] == [1, 1]
    assert all(not i["logging"] and i["sessions"][0]["complete"] for i in doc["insoles"])

    synced = run_cli("sync", "--virtual", "-o", str(out), "--virtual-speed", "20")
    assert synced.returncode == 0, synced.stderr
    assert synced.stdout.splitlines() == [str(path)]         # the same run: its file is kept, not rewritten
    assert sorted(out.glob("*.insole")) == [path] and not (out / PARTIAL_DIR).exists()
    assert [i["sessions"] for i in status_json()["insoles"]] == [[], []]   # erased after verification

    info = run_cli("info", "--json", str(path))
    assert info.returncode == 0, info.stderr
    info = json.loads(info.stdout)
    assert info["source"] == "insole-log" and info["feet"] == ["left", "right"] and info["gaps"] == []
    for side in SIDES:
        s = info["sides"][side]
        assert s["packet_loss_pct"] == 0.0 and s["gaps"] == 0 and s["samples_received"] >= 0.99 * 3 * 60 * 200
    assert info["has_ground_truth"]

    done = run_cli("analyze", "--json", str(path))
    assert done.returncode == 0, done.stderr
    si = json.loads(done.stdout)["gait"]["asymmetry"]["contact_time"]["si_pct"]
    with RecordingReader(path) as r:
        truth = r.meta["truth"]["scenario"]
    assert truth["options"]["contact_time_si_pct"] == -8.0
    assert truth["options"]["contact_time_si_growth_pp_per_10min"] == -2.0
    assert si == pytest.approx(truth["symmetry_index_pct"]["contact_time_s"], abs=1.0)


# --- 2. faults: a correct file, and nothing that was on the flash lost ----------------------------------
def test_power_loss_while_logging_keeps_every_closed_page(tmp_path):
    state = tmp_path / "state"
    started_run(state, 1.0)
    with VirtualPairState.open(state) as st:
        st.power_cycle("left")
    sessions = listed(state)
    assert not sessions["left"][0].complete and not sessions["left"][0].open   # no end page
    on_flash = flash_images(state)["left"]
    (image,) = on_flash.values()
    decoded = logfmt.decode_log(image)
    assert decoded.end is None and decoded.problems == {}

    result = sync(state, tmp_path / "out")
    (path,) = result.written
    q = side_quality(path)
    assert q["left"]["samples_received"] == int(decoded.count.sum()) > 50 * 200
    assert q["left"]["end"]["reason"] is None and q["right"]["end"]["reason"] == "host"
    assert log_images(path)["left"] == image
    rec = load(path)
    assert describe(rec)["feet"] == ["left", "right"]
    assert analyze(rec).gait is not None


def test_a_full_flash_ends_the_session_and_every_page_is_synced(tmp_path):
    state = tmp_path / "state"
    started_run(state, 1.0, capacity_bytes=20 * PAGE)        # 1 min at 200 Hz needs about 28 pages
    with VirtualPairState.open(state) as st:
        assert all(st.loggers[s].state == "idle" for s in SIDES)
    on_flash = flash_images(state)
    result = sync(state, tmp_path / "out")
    (path,) = result.written
    q, images = side_quality(path), log_images(path)
    for side in SIDES:
        (image,) = on_flash[side].values()
        d = logfmt.decode_log(image)
        assert len(image) == 20 * PAGE                       # the whole chip: the kept page holds the end page
        assert d.end.reason == "flash_full" and images[side] == image
        assert q[side]["end"]["reason"] == "flash_full"
        assert q[side]["samples_received"] == d.end.n_samples == int(d.count.sum())
        assert q[side]["gaps"] == []


def test_a_corrupted_page_is_a_gap_of_its_samples_and_the_rest_is_kept(tmp_path):
    state = tmp_path / "state"
    started_run(state, 1.0)
    with VirtualPairState.open(state) as st:
        stop_both(st)
        (s,) = st.loggers["left"].sessions()
        good = logfmt.decode_log(st.loggers["left"].image(s.session_id))
        bad = len(s.pages) // 2                              # a data page in the middle (seq = position)
        missing = int(good.count[good.page_seq == bad][0])
        st.flashes["left"].flip_byte(s.pages[bad], 1500, mask=0x04)
        image = st.loggers["left"].image(s.session_id)
    result = sync(state, tmp_path / "out")
    (path,) = result.written
    assert log_images(path)["left"] == image
    q = side_quality(path)["left"]
    assert q["invalid_pages"] == {"crc": 1}
    (gap,) = q["gaps"]
    assert gap["missing_samples"] == missing > 0
    assert q["samples_received"] == int(good.count.sum()) - missing
    assert q["samples_lost"] == missing
    # every other page's samples are in the recording, exactly
    i = int(np.flatnonzero(good.page_seq == bad)[0])
    before = int(good.count[:i].sum())
    kept = np.r_[0:before, before + missing:good.codes.shape[0]]
    assert np.array_equal(logfmt.decode_log(log_images(path)["left"]).codes, good.codes[kept])
    assert analyze(load(path)).gait is not None


def test_a_link_dropped_mid_download_resumes_without_a_byte_missing_or_doubled(tmp_path, caplog):
    state = tmp_path / "state"
    started_run(state, 1.0)

    services = {}

    def drop(pair):
        services.update(pair.log_services)
        services["left"].drop_link_after(5 * PAGE + 100)
        services["right"].drop_link_after(9 * PAGE + 7)

    with caplog.at_level(logging.INFO, logger="insole.sync.workflow"):
        result = sync(state, tmp_path / "out", faults=drop, keep=True)
    resumed = [r.getMessage() for r in caplog.records if "reconnecting to resume" in r.getMessage()]
    assert {m.split(":")[0] for m in resumed} == {"left", "right"}
    (path,) = result.written
    images, on_flash = log_images(path), flash_images(state)
    for side in SIDES:
        (image,) = on_flash[side].values()
        assert images[side] == image                         # byte-identical
        # resumed, not restarted: at most a window of chunks in flight was sent again
        assert services[side].bytes_sent <= len(image) + WINDOW_CHUNKS * logctl.chunk_data_bytes(247)
    assert not (tmp_path / "out" / PARTIAL_DIR).exists()


def test_a_host_killed_mid_sync_erases_nothing_and_the_next_sync_resumes(tmp_path):
    state, out = tmp_path / "state", tmp_path / "out"
    started_run(state, 1.0)
    partial = out / PARTIAL_DIR

    def downloading() -> bool:
        return partial.is_dir() and any(p.suffix == ".part" and p.stat().st_size > 0 for p in partial.iterdir())

    killed_after(0.0, "sync", "--virtual", "--virtual-state", str(state), "-o", str(out),
                 "--virtual-link-kB-s", "10", "--virtual-speed", "1", until=downloading)
    assert not list(out.glob("*.insole"))
    # the state as the killed sync left it: a fresh, uninterrupted sync of it is the reference
    shutil.copytree(state, tmp_path / "reference")
    on_flash = flash_images(state)
    held = {p.name.split("-")[0]: p.read_bytes() for p in partial.glob("*.part")}
    assert held
    for side, data in held.items():
        (image,) = on_flash[side].values()
        assert 0 < len(data) < len(image) and image.startswith(data)   # verified bytes, kept
    assert [len(s) for s in listed(state).values()] == [1, 1]   # nothing erased

    resumed = run_cli("sync", "--virtual", "--virtual-state", str(state), "-o", str(out), "--virtual-speed", "50")
    assert resumed.returncode == 0, resumed.stderr
    fresh = run_cli("sync", "--virtual", "--virtual-state", str(tmp_path / "reference"), "-o",
                    str(tmp_path / "ref-out"), "--virtual-speed", "50")
    assert fresh.returncode == 0, fresh.stderr
    (path,), (ref,) = [Path(p) for p in resumed.stdout.split()], [Path(p) for p in fresh.stdout.split()]
    assert path.name == ref.name and log_images(path) == log_images(ref)
    assert log_images(path) == {side: next(iter(on_flash[side].values())) for side in SIDES}
    assert not partial.exists() and [len(s) for s in listed(state).values()] == [0, 0]


def test_feet_holding_different_numbers_of_sessions_pair_by_their_sync_points(tmp_path):
    state = tmp_path / "state"
    started_run(state, 1.0)
    with VirtualPairState.open(state) as st:
        st.power_cycle("left")                               # the left foot's session ends here
        run_virtual(st, minutes=0.5, seed=2)                 # it starts again; the right one logs on
    assert [len(s) for s in listed(state).values()] == [2, 1]
    result = sync(state, tmp_path / "out")
    assert len(result.written) == 2
    metas = []
    for path in result.written:
        with RecordingReader(path) as r:
            metas.append({side: v["session_id"] for side, v in r.meta["log_sessions"].items()})
    assert metas == [{"left": 1, "right": 1}, {"left": 2}]
    assert [describe(load(p))["feet"] for p in result.written] == [["left", "right"], ["left"]]
    assert result.erased == {"left": [1, 2], "right": [1]}
    assert [len(s) for s in listed(state).values()] == [0, 0]


def test_a_log_of_a_newer_format_is_a_one_line_error_and_nothing_is_erased(tmp_path, monkeypatch, capsys):
    state, out = tmp_path / "state", tmp_path / "out"
    started_run(state, 0.5)
    with VirtualPairState.open(state) as st:
        stop_both(st)
        for side in SIDES:                                   # what a firmware logging format 2 left
            (s,) = st.loggers[side].sessions()
            for p in s.pages:
                page = bytearray(st.flashes[side].read(p))
                page[4] = 2
                page[-4:] = zlib.crc32(page[:-4]).to_bytes(4, "little")
                st.flashes[side].erase(p)
                st.flashes[side].program(p, bytes(page))
    # that firmware lists and serves its own format (this virtual one only format 1)
    newer = types.SimpleNamespace(**{**vars(logfmt), "LOG_FORMAT_VERSION": 2})
    monkeypatch.setattr(virtual_logger, "logfmt", newer)
    assert [len(s) for s in listed(state).values()] == [1, 1]
    capsys.readouterr()
    code = cli_main(["sync", "--virtual", "--virtual-state", str(state), "-o", str(out), "--virtual-speed", "50"])
    err = capsys.readouterr().err
    assert code == 2
    (line,) = [x for x in err.splitlines() if x.strip()]
    assert line.startswith("insole: error:") and "log format 2" in line and "update insole" in line
    assert not list(out.glob("*.insole"))
    assert [len(s) for s in listed(state).values()] == [1, 1]


# --- 3. security through the host -------------------------------------------------------------------
async def _connected(reach: Reach, side: str) -> tuple[BleakClient, str]:
    name = "insole-L" if side == "left" else "insole-R"
    device = await BleakScanner.find_device_by_name(name, timeout=5.0, backend=reach.backend[0])
    client = BleakClient(device, backend=reach.backend[1], timeout=5.0)
    await client.connect()
    serial = bytes(await client.read_gatt_char(DEVICE_INFO_CHARS["serial"])).decode()
    return client, serial


def test_a_second_host_cannot_list_download_erase_or_stop_and_claims_only_after_a_power_cycle(tmp_path):
    state = tmp_path / "state"
    started_run(state, 0.5)
    with VirtualPairState.open(state) as st:
        st.advance(CLAIM_WINDOW_S + 1)                       # the pair's claim window is closed
        catch_up(st)
        st.loggers["left"].stop(device_time_us=st.device_time_us("left"))   # a closed session to go after
        (left,) = st.loggers["left"].sessions()
        image = st.loggers["left"].image(left.session_id)
    other = tmp_path / "other-host"

    async def stranger(reach: Reach):
        # without a key: the workflow refuses before asking
        with pytest.raises(InsoleError, match="has not claimed the left insole"):
            await sync_pair(reach, tmp_path)
        assert [(s.claimed_here, s.sessions) for s in await log_status(reach)] == [(False, [])] * 2
        with pytest.raises(InsoleError, match="claiming window is closed"):
            await log_start(reach, note=NOTE)
        # with a key it made up: the insole refuses every protected command
        client, serial = await _connected(reach, "left")
        link = LogLink(client, side="left", serial=serial, host_id=reach.keys.host_id, key=b"\x5a" * 16,
                       host_clock_us=lambda: 0)
        await link.open()
        attempts = {"list": link.sessions,
                    "download": lambda: link.download(Download(left.session_id, len(image), bytearray())),
                    "erase": lambda: link.erase(left.session_id, image), "stop": link.stop}
        for what, attempt in attempts.items():
            with pytest.raises(InsoleError, match="has not claimed the insole") as exc:
                await attempt()
            assert "refused" in str(exc.value), what
        await client.disconnect()

    on_pair(state, stranger, keys=other)
    with VirtualPairState.open(state) as st:                  # nothing stopped, nothing erased
        assert st.loggers["right"].state == "logging"
        assert st.loggers["left"].image(left.session_id) == image

    # `insole claim` by this second host: refused outside the window, works after a power cycle
    (state / "host").rename(state / "first-host")            # the CLI's host is now a new one
    refused = run_cli("claim", "--virtual", "--virtual-state", str(state))
    assert refused.returncode == 2
    assert "switch it off and on again" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    with VirtualPairState.open(state) as st:
        for side in SIDES:
            st.power_cycle(side)
    claimed = run_cli("claim", "--virtual", "--virtual-state", str(state))
    assert claimed.returncode == 0, claimed.stderr
    assert all(len(s) >= 1 for s in listed(state).values())   # now it may list them
    # and the first host keeps its claim
    assert all(st.claimed_here for st in on_pair(state, log_status, keys=state / "first-host"))
    # a claim by the in-process workflow too (window open again after a power cycle)
    with VirtualPairState.open(state) as st:
        st.power_cycle("left")
        st.power_cycle("right")
    assert set(on_pair(state, claim_pair, keys=tmp_path / "third-host")) == set(SIDES)
