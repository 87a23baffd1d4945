"""What a virtual pair keeps between commands, as real insoles keep it:
flash, clocks, battery, claims, the firmware's RAM, and the truth of what
the virtual runner logged.

A state is a folder (``--virtual-state DIR``; default
:func:`default_state_dir`)::

    state.json            insoles: serial, battery, claim slots, power-on
                          time, clock segments, flash counters, logger RAM;
                          the world clock; which run each session logged
    left.flash            the chips (NorFlash files: grown only as far as written)
    right.flash
    left.ram.npz          array parts of the logger RAM (page being filled, ...)
    right.ram.npz
    truth/run-N.json      the virtual truth of run N (scenario truth with
                          ``steps`` and ``options``, clocks, models): beside
                          the flash, never in it
    state.lock            held while a command uses the state

Time: the world clock is ``time.time() + advance_s`` (Unix s); a run of the
virtual runner "at once" advances it by the run's length, and a
:func:`~insole.ble.virtual.pair.virtual_log_pair` at ``time_scale`` makes it
run that much faster while it is open. The pair's true time (the clocks'
axis) is world time minus the state's ``origin_unix_s``. Each insole's device
clock is a sequence of :class:`~insole.sim.clock.DeviceClock` segments (a
run starts a new one: its shoe warms from the run's start), continuous in
device time.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from ...constants import SIDES
from ...errors import InsoleError
from ...paths import write_atomic
from ...protocol.layout import encode_layout
from ...sim.clock import CrystalClock, DeviceClock, ShoeTemperature, clocks_for_run
from ...sim.device import InsoleModel
from ...sim.session import default_insoles
from .flash import DEFAULT_CAPACITY_BYTES, NorFlash
from .logger import Logger, LoggerRam

log = logging.getLogger(__name__)

__all__ = [
    "CLAIM_WINDOW_S",
    "MAX_CLAIMS",
    "STATE_ENV",
    "ClockTrack",
    "StateLockedError",
    "VirtualPairState",
    "default_state_dir",
]

STATE_ENV = "INSOLE_VIRTUAL_STATE"
#: the claim window after power-on, s of world time
CLAIM_WINDOW_S = 120.0
#: claim slots per insole
MAX_CLAIMS = 4
_FORMAT = 1
#: device uptime at the state's creation, us (the clocks differ, as two insoles' do)
_UPTIME_US = {"left": 3_600_000_000.0, "right": 7_300_000_000.0}


class StateLockedError(InsoleError):
    """Another command is using the virtual pair's state."""


def default_state_dir() -> Path:
    """``$INSOLE_VIRTUAL_STATE``, else the user cache folder ``insole/virtual``
    (``%LOCALAPPDATA%`` on Windows, ``~/Library/Caches`` on macOS,
    ``$XDG_CACHE_HOME`` or ``~/.cache`` elsewhere)."""
    env = os.environ.get(STATE_ENV)
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "insole" / "virtual"


def _atomic_write(path: Path, data: bytes) -> None:
    write_atomic(path, data)


def _clock_to_dict(c: DeviceClock) -> dict[str, Any]:
    return {"crystal": dataclasses.asdict(c.crystal), "temperature": dataclasses.asdict(c.temperature),
            "device_time_at_zero_us": c.device_time_at_zero_us}


def _clock_from_dict(d: dict[str, Any]) -> DeviceClock:
    return DeviceClock(CrystalClock(**d["crystal"]), ShoeTemperature(**d["temperature"]),
                       float(d["device_time_at_zero_us"]))


@dataclass(frozen=True)
class ClockTrack:
    """One insole's device clock over its life: segments of DeviceClock,
    each valid from its ``starts_s`` (true time of the pair) on.

    Attributes
    ----------
    starts_s : tuple of float
    clocks : tuple of DeviceClock
    """

    starts_s: tuple[float, ...]
    clocks: tuple[DeviceClock, ...]

    def device_time_us(self, t_s) -> np.ndarray:
        """Device time (us, float64) at true times ``t_s`` (s)."""
        t = np.asarray(t_s, dtype=np.float64)
        seg = np.clip(np.searchsorted(self.starts_s, t, side="right") - 1, 0, len(self.clocks) - 1)
        out = np.empty(t.shape)
        for i in np.unique(seg):
            sel = seg == i
            out[sel] = self.clocks[i].device_time_us(t[sel])
        return out

    def true_time_s(self, device_time_us) -> np.ndarray:
        """True time (s) at device times (us): the inverse."""
        d = np.asarray(device_time_us, dtype=np.float64)
        edges = np.array([self.clocks[i].device_time_us(s) for i, s in enumerate(self.starts_s)])
        seg = np.clip(np.searchsorted(edges, d, side="right") - 1, 0, len(self.clocks) - 1)
        out = np.empty(d.shape)
        for i in np.unique(seg):
            sel = seg == i
            out[sel] = self.clocks[i].true_time_s(d[sel])
        return out

    def clock_at(self, t_s: float) -> DeviceClock:
        """The segment in force at true time ``t_s``."""
        i = max(0, int(np.searchsorted(self.starts_s, t_s, side="right")) - 1)
        return self.clocks[i]

    def continued(self, t_s: float, clock: DeviceClock) -> ClockTrack:
        """This track with ``clock`` in force from ``t_s`` on, shifted so that
        device time is continuous there (its ``device_time_at_zero_us`` is
        replaced)."""
        now = float(self.device_time_us(t_s))
        base = dataclasses.replace(clock, device_time_at_zero_us=0.0)
        clock = dataclasses.replace(clock, device_time_at_zero_us=now - float(base.device_time_us(t_s)))
        keep = [i for i, s in enumerate(self.starts_s) if s < t_s]
        return ClockTrack(tuple(self.starts_s[i] for i in keep) + (float(t_s),),
                          tuple(self.clocks[i] for i in keep) + (clock,))

    def to_list(self) -> list[dict[str, Any]]:
        return [{"from_s": s, **_clock_to_dict(c)} for s, c in zip(self.starts_s, self.clocks)]

    @classmethod
    def from_list(cls, items: list[dict[str, Any]]) -> ClockTrack:
        return cls(tuple(float(d["from_s"]) for d in items), tuple(_clock_from_dict(d) for d in items))


class VirtualPairState:
    """The virtual pair's lasting state, in a folder, locked while open.

    Use :meth:`open` (creates a fresh pair on first use) as a context
    manager: the state is saved and unlocked when it closes::

        with VirtualPairState.open(folder) as state:
            state.power_cycle("left")

    Attributes
    ----------
    folder : Path
    seed : int
        Seed of the pair's hardware models (:func:`~insole.sim.session.default_insoles`).
    origin_unix_s : float
        World time at which the pair's true time is 0.
    advance_s : float
        World time minus wall time, s.
    """

    def __init__(self, folder: Path, data: dict[str, Any]) -> None:
        self.folder = folder
        self._data = data
        self.seed = int(data["seed"])
        self.origin_unix_s = float(data["origin_unix_s"])
        self.advance_s = float(data["advance_s"])
        self._scale: tuple[float, float] | None = None  # (wall anchor, time scale)
        self.models: dict[str, InsoleModel] = default_insoles(seed=self.seed)
        self.tracks = {s: ClockTrack.from_list(data["insoles"][s]["clocks"]) for s in SIDES}
        self.flashes: dict[str, NorFlash] = {}
        self.loggers: dict[str, Logger] = {}
        for side in SIDES:
            d = data["insoles"][side]
            flash = NorFlash(folder / f"{side}.flash", capacity_bytes=int(d["capacity_bytes"]),
                             programs=d.get("flash_programs", 0), erases=d.get("flash_erases", 0))
            ram = None
            if d.get("ram") is not None:
                npz = folder / f"{side}.ram.npz"
                arrays = dict(np.load(npz)) if npz.exists() else {}
                ram = LoggerRam.from_json(d["ram"], arrays)
            logger = Logger(flash, side=side, layout=encode_layout(self.models[side].layout),
                            device=self.device_info(side), ram=ram)
            if ram is None:
                logger.ram.next_index = int(self.models[side].first_index)
            elif not flash.is_erased(ram.head) and _has_erased_page(flash):  # a full ring is no mismatch
                log.warning("virtual %s insole: its RAM does not match its flash (a command was killed?); "
                            "rebooting it", side)
                logger.power_loss()
            self.flashes[side], self.loggers[side] = flash, logger
        self._lock_path: Path | None = None

    # -- opening ---------------------------------------------------------------------
    @classmethod
    def open(cls, folder: str | os.PathLike | None = None, *, capacity_bytes: int = DEFAULT_CAPACITY_BYTES,
             seed: int = 0) -> VirtualPairState:
        """Open (and lock) the state in ``folder``, creating a fresh pair
        there on first use (both insoles just powered on: in their claim
        window, unclaimed, flash erased).

        Parameters
        ----------
        folder : str or Path, optional
            Default :func:`default_state_dir`.
        capacity_bytes : int
            Flash size of a fresh pair, bytes.
        seed : int
            Hardware models and clocks of a fresh pair.

        Raises
        ------
        StateLockedError
            Another command holds the state.
        InsoleError
            The folder holds something that is not a virtual pair's state.
        """
        folder = Path(folder) if folder is not None else default_state_dir()
        folder.mkdir(parents=True, exist_ok=True)
        lock = _acquire(folder / "state.lock")
        try:
            path = folder / "state.json"
            if path.exists():
                try:
                    data = json.loads(path.read_text())
                except ValueError as exc:
                    raise InsoleError(f"{path} is not a virtual pair's state ({exc}); remove the folder "
                                      "to start with a fresh pair") from None
                if data.get("format") != _FORMAT:
                    raise InsoleError(f"{path} is not a virtual pair's state of format {_FORMAT}")
            else:
                data = cls._fresh(capacity_bytes=capacity_bytes, seed=seed)
            state = cls(folder, data)
        except BaseException:
            lock.unlink(missing_ok=True)
            raise
        state._lock_path = lock
        if not path.exists():
            state.save()
        return state

    @staticmethod
    def _fresh(*, capacity_bytes: int, seed: int) -> dict[str, Any]:
        now = time.time()
        clocks = clocks_for_run(3600.0, apart_ppm=50.0, temperature_change_ppm=10.0, seed=seed)
        models = default_insoles(seed=seed)
        insoles = {}
        for side in SIDES:
            clock = dataclasses.replace(clocks[side], device_time_at_zero_us=_UPTIME_US[side])
            insoles[side] = {
                "serial": f"V{'L' if side == 'left' else 'R'}-{seed:04d}-LOG",
                "capacity_bytes": int(capacity_bytes),
                "battery_pct": float(models[side].battery_start_pct),
                "claims": [],
                "power_on_unix_s": now,
                "clocks": ClockTrack((0.0,), (clock,)).to_list(),
                "ram": None,
                "sessions": {},
            }
        return {"format": _FORMAT, "seed": int(seed), "origin_unix_s": now, "advance_s": 0.0, "runs": 0,
                "insoles": insoles}

    def save(self) -> None:
        """Write the state (atomically: temp file + rename)."""
        d = self._data
        d["advance_s"] = self.advance_s + self._scaled_extra_s()
        for side in SIDES:
            ins = d["insoles"][side]
            ins["clocks"] = self.tracks[side].to_list()
            flash, logger = self.flashes[side], self.loggers[side]
            ins["flash_programs"], ins["flash_erases"] = flash.programs, flash.erases
            ins["ram"] = logger.ram.to_json()
            tmp = self.folder / f".{side}.ram.{os.getpid()}.tmp.npz"
            np.savez(tmp, **logger.ram.arrays())
            os.replace(tmp, self.folder / f"{side}.ram.npz")
        _atomic_write(self.folder / "state.json", json.dumps(d, indent=1).encode())

    def close(self) -> None:
        """Save and unlock (idempotent)."""
        if self._lock_path is None:
            return
        try:
            self.save()
        finally:
            self._lock_path.unlink(missing_ok=True)
            self._lock_path = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the world clock ---------------------------------------------------------------
    def _scaled_extra_s(self) -> float:
        if self._scale is None:
            return 0.0
        anchor, scale = self._scale
        return (time.time() - anchor) * (scale - 1.0)

    def world_time_s(self) -> float:
        """World time now, Unix s (wall time + advance, faster while a pair
        runs at a time scale)."""
        return time.time() + self.advance_s + self._scaled_extra_s()

    def host_time_us(self) -> int:
        """The host clock the virtual world implies, Unix us (what a host
        logs as a sync point's host time in virtual mode)."""
        return round(self.world_time_s() * 1e6)

    def true_time_s(self) -> float:
        """The pair's true time now, s."""
        return self.world_time_s() - self.origin_unix_s

    def advance(self, seconds: float) -> None:
        """Move the world clock ``seconds`` forward (a run "at once")."""
        if seconds < 0:
            raise InsoleError(f"the world clock does not go back ({seconds} s)")
        self.advance_s += float(seconds)

    def run_scaled(self, time_scale: float) -> None:
        """From now until :meth:`end_scaled`, world time runs ``time_scale``
        times faster than the wall clock."""
        self.end_scaled()
        self._scale = (time.time(), float(time_scale))

    def end_scaled(self) -> None:
        self.advance_s += self._scaled_extra_s()
        self._scale = None

    def device_time_us(self, side: str, true_s: float | None = None) -> int:
        """``side``'s device clock (us) at the pair's true time (default now)."""
        t = self.true_time_s() if true_s is None else true_s
        return int(np.floor(self.tracks[side].device_time_us(t)))

    # -- insoles ------------------------------------------------------------------------------
    def _ins(self, side: str) -> dict[str, Any]:
        if side not in SIDES:
            raise InsoleError(f"side must be 'left' or 'right', got {side!r}")
        return self._data["insoles"][side]

    def serial(self, side: str) -> str:
        return str(self._ins(side)["serial"])

    def device_info(self, side: str) -> dict[str, str]:
        """The five strings a session header carries."""
        from .insole import VirtualInsole

        return {"manufacturer": VirtualInsole.manufacturer, "model": VirtualInsole.model_number,
                "serial": self.serial(side), "firmware": "1.1.0-virtual",
                "hardware": VirtualInsole.hardware_revision}

    def battery_pct(self, side: str) -> float:
        return float(self._ins(side)["battery_pct"])

    def set_battery_pct(self, side: str, pct: float) -> None:
        self._ins(side)["battery_pct"] = float(np.clip(pct, 0.0, 100.0))

    def claims(self, side: str) -> dict[bytes, bytes]:
        """Claim slots: host_id -> key (oldest first)."""
        return {bytes.fromhex(h): bytes.fromhex(k) for h, k in self._ins(side)["claims"]}

    def add_claim(self, side: str, host_id: bytes, key: bytes) -> None:
        """Store a claim (the same host again: its key is replaced; a fifth
        host replaces the oldest)."""
        slots = [s for s in self._ins(side)["claims"] if s[0] != host_id.hex()]
        slots.append([host_id.hex(), key.hex()])
        self._ins(side)["claims"] = slots[-MAX_CLAIMS:]

    def window_open(self, side: str) -> bool:
        """The claim window: 120 s after power-on, or unclaimed."""
        ins = self._ins(side)
        return not ins["claims"] or self.world_time_s() - float(ins["power_on_unix_s"]) < CLAIM_WINDOW_S

    def power_cycle(self, side: str) -> None:
        """Switch ``side`` off and on (physical access): the claim window
        opens again, the flash is kept, a running session stops without an
        end page (as a power loss does)."""
        from .run import catch_up

        catch_up(self)
        self.loggers[side].power_loss()
        self._ins(side)["power_on_unix_s"] = self.world_time_s()

    # -- truth ----------------------------------------------------------------------------------
    def new_run_id(self) -> int:
        self._data["runs"] = int(self._data.get("runs", 0)) + 1
        return self._data["runs"]

    def save_truth(self, run_id: int, truth: dict[str, Any], sessions: dict[str, list[int]]) -> Path:
        """Store a run's truth and which sessions it logged (per side)."""
        folder = self.folder / "truth"
        folder.mkdir(exist_ok=True)
        path = folder / f"run-{run_id}.json"
        _atomic_write(path, json.dumps(truth).encode())
        for side, ids in sessions.items():
            for sid in ids:
                self._ins(side)["sessions"][str(sid)] = run_id
        return path

    def link_session(self, side: str, session_id: int, run_id: int) -> None:
        self._ins(side)["sessions"][str(session_id)] = run_id

    def truth_for(self, side: str, session_id: int) -> dict[str, Any] | None:
        """The virtual truth of the run that logged ``side``'s session
        (``meta.truth`` of the synced recording), None if not a run's."""
        run_id = self._ins(side)["sessions"].get(str(session_id))
        if run_id is None:
            return None
        path = self.folder / "truth" / f"run-{run_id}.json"
        return json.loads(path.read_text()) if path.exists() else None


def _has_erased_page(flash: NorFlash) -> bool:
    """True when some page of the flash is still erased."""
    return flash.written_pages < flash.n_pages or bool((flash.headers(4) == 0xFF).all(axis=1).any())


def _acquire(path: Path) -> Path:
    """Create the lock file (exclusive); a stale one (its process gone) is taken over."""
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(path.read_text().strip() or "0")
            except (OSError, ValueError):
                pid = 0
            if pid and _alive(pid):
                raise StateLockedError(f"the virtual insoles' state {path.parent} is in use by another command "
                                       f"(process {pid}); wait for it to finish") from None
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return path
    raise StateLockedError(f"cannot lock the virtual insoles' state {path.parent}")


def _alive(pid: int) -> bool:
    if pid == os.getpid() or sys.platform == "win32":  # os.kill would end the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True
