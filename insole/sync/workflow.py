"""What ``insole claim``, ``insole log start|status`` and ``insole sync`` do
with a pair of insoles (real ones through the OS stack, or virtual ones:
the ``backend`` decides).

Each command scans once, connects the two feet one after the other, and
works on both feet's Log services at the same time where it can (downloads
run in parallel). Nothing is erased on an insole before its session is in a
recording file that has been read back and compared with the download, and
the insole itself checks the image's CRC before it erases.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..ble.link import FoundInsole, pick_pair, read_device_info, scan_insoles
from ..constants import RATE_CODES_HZ, SIDES
from ..errors import InsoleError
from ..paths import write_atomic
from ..protocol.logctl import DEFAULT_IDLE_STOP_S, SessionEntry
from .ingest import LoggedSession, holds_sessions, pair_sessions, recording_name, write_synced
from .keys import KeyStore
from .link import Download, LinkLost, LogLink

log = logging.getLogger(__name__)

__all__ = ["Reach", "virtual_reach", "InsoleLogStatus", "claim_pair", "log_start", "log_status", "sync_pair", "SyncResult",
           "PARTIAL_DIR"]

#: where unfinished downloads wait inside the output folder
PARTIAL_DIR = ".insole-sync"
#: reconnections tried per foot when a download's link drops
RECONNECTS = 5
#: verified bytes of a download are added to its partial file every this
#: many bytes (so a sync that is killed resumes close to where it stopped)
PARTIAL_SAVE_BYTES = 16 * 1024
#: log bytes per second at 200 Hz when no stored session tells better
#: (the spec's capacity table: compression of real gait data)
NOMINAL_LOG_BYTES_PER_S_200HZ = 2300.0


def _wall_clock_us() -> int:
    return time.time_ns() // 1000


@dataclass
class Reach:
    """How to reach the pair and who this host is.

    Attributes
    ----------
    keys : KeyStore
        This host's id and claim keys.
    backend : (scanner, client), optional
        bleak backends (None: the operating system's stack).
    host_clock_us : callable
        The host clock for sync points, Unix microseconds.
    scan_timeout_s : float
    truth : callable, optional
        ``truth(side, session_id)`` -> a virtual session's simulated truth.
    """

    keys: KeyStore
    backend: tuple[Any, Any] | None = None
    host_clock_us: Callable[[], int] = _wall_clock_us
    scan_timeout_s: float = 10.0
    truth: Callable[[str, int], dict | None] | None = None


@contextlib.asynccontextmanager
async def virtual_reach(state: Any, *, time_scale: float = 1.0, link_kB_s: float = 120.0) -> AsyncIterator[Reach]:
    """The virtual pair kept in ``state`` (a
    :class:`~insole.ble.virtual.state.VirtualPairState`), powered on the
    virtual radio for the block, as a :class:`Reach`: its bleak backend, the
    virtual world's host clock, its simulated truth, and this host's keys
    kept in the state folder (where a real host keeps them in its config
    folder).

    Parameters
    ----------
    time_scale : float
        How much faster than real time the virtual insoles run.
    link_kB_s : float
        The modelled download throughput per insole at scale 1, kB/s.
    """
    from ..ble.virtual.pair import virtual_log_pair

    async with virtual_log_pair(state, time_scale=time_scale, link_kB_s=link_kB_s) as pair:
        yield Reach(keys=KeyStore(state.folder / "host"), backend=pair.backend, host_clock_us=state.host_time_us,
                    truth=state.truth_for)


@dataclass
class _Foot:
    found: FoundInsole
    client: Any
    link: LogLink
    device: dict[str, Any]


async def _connect(reach: Reach, found: FoundInsole) -> _Foot:
    from bleak import BleakClient

    kwargs = {"backend": reach.backend[1]} if reach.backend else {}
    client = BleakClient(found.device, timeout=reach.scan_timeout_s, **kwargs)
    try:
        await client.connect()
    except Exception as exc:  # bleak raises several types across platforms
        raise InsoleError(f"could not connect to the {found.side} insole ({found.address}): {exc}") from None
    try:
        device = await read_device_info(client, found)
        device["link_encrypted"] = await _encrypt(client, found.side)
        serial = device.get("serial") or found.address
        link = LogLink(client, side=found.side, serial=serial, host_id=reach.keys.host_id,
                       key=reach.keys.key(serial), host_clock_us=reach.host_clock_us)
        await link.open()
    except Exception as exc:
        with contextlib.suppress(Exception):
            await client.disconnect()
        if isinstance(exc, InsoleError):
            raise
        raise InsoleError(f"the {found.side} insole has no usable Log service (firmware older than protocol "
                          f"v1.1?): {exc}") from None
    return _Foot(found, client, link, device)


async def _encrypt(client: Any, side: str) -> bool:
    """Pair (LE Secure Connections) where the stack allows it, so the log
    travels encrypted. bleak's ``pair()`` works on BlueZ and WinRT; on macOS
    CoreBluetooth pairs by itself when an encrypted characteristic is first
    used and ``pair()`` is not available; the virtual radio has no pairing.
    The commands are authenticated by the claim key either way."""
    try:
        await client.pair()
        return True
    except NotImplementedError as exc:
        log.info("%s insole: link not encrypted (%s); commands are still authenticated", side, exc)
    except Exception as exc:  # bleak raises several types across platforms
        log.warning("%s insole: pairing failed (%s); commands are still authenticated", side, exc)
    return False


@contextlib.asynccontextmanager
async def _pair(reach: Reach) -> AsyncIterator[dict[str, _Foot]]:
    """Both feet connected (one after the other), disconnected on exit."""
    found = await scan_insoles(timeout_s=reach.scan_timeout_s, backend=reach.backend[0] if reach.backend else None,
                               until_pair=True)
    pair = pick_pair(found)
    feet: dict[str, _Foot] = {}
    try:
        for side in SIDES:
            feet[side] = await _connect(reach, pair[side])
        yield feet
    finally:
        for f in feet.values():
            with contextlib.suppress(Exception):
                await f.client.disconnect()


async def _ensure_claimed(reach: Reach, foot: _Foot, *, claim: bool) -> bool:
    """True when this host holds the foot's key (claiming it first when
    allowed and the insole's window is open)."""
    if foot.link.key is not None and not claim:
        return True
    info = await foot.link.info()
    if not info.window_open:
        if foot.link.key is not None:
            return True
        raise InsoleError(f"this computer has not claimed the {foot.found.side} insole, and its claiming window is "
                          "closed: switch it off and on again (or take it off its charger), then run `insole claim` "
                          "within 2 minutes")
    key = await foot.link.claim()
    reach.keys.remember(foot.link.serial, key, side=foot.found.side)
    log.info("%s insole %s claimed", foot.found.side, foot.link.serial)
    return True


async def claim_pair(reach: Reach) -> dict[str, str]:
    """Claim both insoles for this host (each must be in its claiming
    window). Returns side -> serial."""
    async with _pair(reach) as feet:
        for foot in feet.values():
            await _ensure_claimed(reach, foot, claim=True)
        return {side: f.link.serial for side, f in feet.items()}


async def log_start(reach: Reach, *, note: dict[str, Any], auto: bool = False, sampling_rate_hz: int = 200,
                    idle_stop_s: int = DEFAULT_IDLE_STOP_S) -> dict[str, str]:
    """Connect both insoles, claim them if needed (in their window), log a
    sync point and start logging (or arm the auto start) on both.

    Parameters
    ----------
    note : dict
        Kept in each session's header (subject, body_mass_kg, protocol).
    auto : bool
        Arm the insoles to start by themselves when stepping is detected.
    sampling_rate_hz : int
        50, 100 or 200.
    idle_stop_s : int
        The insoles stop logging after this long without a step, s.

    Returns
    -------
    dict
        Side -> serial of the insoles now logging (or armed).
    """
    if sampling_rate_hz not in RATE_CODES_HZ.values():
        raise InsoleError(f"the sampling rate must be 50, 100 or 200 Hz, not {sampling_rate_hz}")
    async with _pair(reach) as feet:
        for foot in feet.values():
            await _ensure_claimed(reach, foot, claim=False)
        for foot in feet.values():
            info = await foot.link.info()
            if info.state != "idle":
                raise InsoleError(f"the {foot.found.side} insole is already {info.state}; run `insole sync` first "
                                  "to bring that run home")
        for foot in feet.values():
            await foot.link.sync_point()
            await foot.link.start(sampling_rate_hz=sampling_rate_hz, auto=auto, idle_stop_s=idle_stop_s, note=note)
        return {side: f.link.serial for side, f in feet.items()}


@dataclass(frozen=True)
class InsoleLogStatus:
    """One insole's log, as ``insole log status`` shows it.

    Attributes
    ----------
    side : str
    logging : bool
        Logging now (or armed for the auto start: ``state``).
    state : str
        "idle", "armed" or "logging".
    sessions : list of SessionEntry
        Stored sessions (empty when this host has not claimed the insole).
    used_bytes, capacity_bytes : int
    battery_pct : int
    claimed_here : bool
        This host holds the insole's key.
    bytes_per_s : float
        Log bytes per second of logging (from the stored sessions, else the
        spec's nominal figure at 200 Hz).
    """

    side: str
    logging: bool
    state: str
    sessions: list[SessionEntry]
    used_bytes: int
    capacity_bytes: int
    battery_pct: int
    claimed_here: bool
    bytes_per_s: float

    @property
    def free_bytes(self) -> int:
        return max(0, self.capacity_bytes - self.used_bytes)

    @property
    def free_hours(self) -> float:
        return self.free_bytes / self.bytes_per_s / 3600.0


async def log_status(reach: Reach) -> list[InsoleLogStatus]:
    """Both insoles' logs: state, sessions, used and free capacity, battery."""
    out = []
    async with _pair(reach) as feet:
        for side, foot in feet.items():
            info = await foot.link.info()
            sessions = await foot.link.sessions() if foot.link.key is not None else []
            seconds = sum(s.duration_ms for s in sessions) / 1000.0
            rate = sum(s.image_bytes for s in sessions) / seconds if seconds > 60 else NOMINAL_LOG_BYTES_PER_S_200HZ
            out.append(InsoleLogStatus(
                side=side, logging=info.state == "logging", state=info.state, sessions=sessions,
                used_bytes=info.used_pages * info.page_size, capacity_bytes=info.capacity_pages * info.page_size,
                battery_pct=info.battery_pct, claimed_here=foot.link.key is not None, bytes_per_s=rate))
    return out


@dataclass
class SyncResult:
    """What ``insole sync`` did.

    Attributes
    ----------
    written : list of Path
        Recordings written (or found already written), one per run.
    erased : dict
        Side -> session ids erased on the insole.
    downloaded_bytes : int
    seconds : float
        Wall time of the downloads, s.
    """

    written: list[Path] = field(default_factory=list)
    erased: dict[str, list[int]] = field(default_factory=dict)
    downloaded_bytes: int = 0
    seconds: float = 0.0


async def sync_pair(reach: Reach, out_dir: str | Path, *, keep: bool = False,
                    on_total: Callable[[int], None] | None = None,
                    on_bytes: Callable[[int], None] | None = None,
                    on_written: Callable[[Path], None] | None = None) -> SyncResult:
    """Stop logging, log a sync point, download every session of both feet,
    verify, write one recording per run into ``out_dir``, then erase the
    sessions on the insoles (unless ``keep``).

    Parameters
    ----------
    out_dir : path
        An existing folder. Unfinished downloads wait in its
        ``.insole-sync`` folder, so an interrupted sync resumes.
    keep : bool
        Leave the sessions on the insoles.
    on_total, on_bytes : callable, optional
        Progress: the total bytes to download (once), then each chunk's bytes.
    on_written : callable, optional
        Called with each recording's path as soon as it is written.
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise InsoleError(f"{out} is not a folder: create it first")
    partial = out / PARTIAL_DIR
    result = SyncResult()
    async with _pair(reach) as feet:
        for foot in feet.values():
            if foot.link.key is None:
                raise InsoleError(f"this computer has not claimed the {foot.found.side} insole ({foot.link.serial}); "
                                  "only the computer that started the log can sync it")
        lists = await asyncio.gather(*(_stop_and_list(f) for f in feet.values()))
        # a session cut by a power loss has no end page but is closed: it is synced too
        entries = {side: [e for e in lst if not e.open] for side, lst in zip(feet, lists)}
        total = sum(e.image_bytes - _partial_size(partial, feet[s], e) for s, es in entries.items() for e in es)
        if on_total is not None:
            on_total(total)
        t0 = time.perf_counter()
        images = await asyncio.gather(*(_download_all(reach, feet, side, es, partial, on_bytes)
                                        for side, es in entries.items()))
        result.seconds = time.perf_counter() - t0
        result.downloaded_bytes = total
        sessions = [s for group in images for s in group]
        for group in pair_sessions(sessions):
            path = _write_group(out, group)
            result.written.append(path)
            if on_written is not None:
                on_written(path)
            for side, s in group.items():
                if not keep:
                    await feet[side].link.erase(s.session_id, s.image)
                    result.erased.setdefault(side, []).append(s.session_id)
                _partial_path(partial, feet[side], s.session_id).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        partial.rmdir()
    return result


async def _stop_and_list(foot: _Foot) -> list[SessionEntry]:
    """A sync point into the open session (its end evidence), then stop."""
    info = await foot.link.info()
    await foot.link.sync_point()
    if info.state != "idle":
        await foot.link.stop()
    return await foot.link.sessions()


def _partial_path(partial: Path, foot: _Foot, session_id: int) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in foot.link.serial)
    return partial / f"{foot.found.side}-{safe}-{session_id}.part"


def _partial_size(partial: Path, foot: _Foot, entry: SessionEntry) -> int:
    p = _partial_path(partial, foot, entry.session_id)
    return min(p.stat().st_size, entry.image_bytes) if p.exists() else 0


async def _download_all(reach: Reach, feet: dict[str, _Foot], side: str, entries: list[SessionEntry],
                        partial: Path, on_bytes) -> list[LoggedSession]:
    """Every complete session of one foot, resuming from the partial files
    and reconnecting when the link drops."""
    out = []
    for e in entries:
        path = _partial_path(partial, feet[side], e.session_id)
        data = bytearray(path.read_bytes()[:e.image_bytes]) if path.exists() else bytearray()
        dl = Download(e.session_id, e.image_bytes, data)
        saved = len(data)

        def progress(n: int) -> None:
            nonlocal saved
            if on_bytes is not None:
                on_bytes(n)
            if len(dl.data) - saved >= PARTIAL_SAVE_BYTES:
                saved = _extend_partial(path, dl.data, saved)

        for attempt in range(RECONNECTS + 1):
            try:
                await feet[side].link.download(dl, on_bytes=progress)
                break
            except LinkLost as exc:
                _save_partial(path, dl.data)
                if attempt == RECONNECTS:
                    raise InsoleError(f"{exc}; {len(dl.data)} of {dl.size} bytes are kept: run `insole sync` "
                                      "again to resume") from None
                log.info("%s: %s; reconnecting to resume at byte %d", side, exc, len(dl.data))
                feet[side] = await _reconnect(reach, feet[side])
        image = bytes(dl.data)
        _save_partial(path, image)
        truth = reach.truth(side, e.session_id) if reach.truth else None
        try:
            out.append(LoggedSession.from_image(side, e.session_id, image, device=feet[side].device, truth=truth))
        except InsoleError as exc:  # ProtocolError and RecordingError are InsoleErrors
            raise InsoleError(f"the {side} insole's session {e.session_id} cannot be read ({exc}); nothing was "
                              "erased on the insoles") from None
    return out


async def _reconnect(reach: Reach, foot: _Foot) -> _Foot:
    with contextlib.suppress(Exception):
        await foot.client.disconnect()
    delay = 0.2
    for _ in range(RECONNECTS):
        try:
            return await _connect(reach, foot.found)
        except InsoleError:
            await asyncio.sleep(delay)
            delay = min(2 * delay, 5.0)
    return await _connect(reach, foot.found)


def _extend_partial(path: Path, data: bytes, saved: int) -> int:
    """Write ``data[saved:]`` after the first ``saved`` bytes of the partial
    file (which already hold ``data[:saved]``); returns ``len(data)``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "r+b" if saved else "wb") as f:
        f.seek(saved)
        f.write(data[saved:])
        f.truncate()
    return len(data)


def _save_partial(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)


def _write_group(out: Path, group: dict[str, LoggedSession]) -> Path:
    """The group's recording: a file already holding exactly these sessions
    (an earlier sync stopped after writing it) is kept; another file of the
    same name is never replaced (a numbered name is used)."""
    name = recording_name(group)
    stem, suffix = name[: -len(".insole")], ".insole"
    for n in range(1, 1000):
        path = out / (name if n == 1 else f"{stem}-{n}{suffix}")
        if path.exists():
            if holds_sessions(path, group):
                return path
            continue
        return write_synced(path, group)
    raise InsoleError(f"{out}: too many recordings named {stem}-*")
