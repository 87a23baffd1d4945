"""The ``insole claim``, ``insole log start|status`` and ``insole sync``
commands: runs logged on the insoles and brought home afterwards. Like
:mod:`insole.cli`, this only parses arguments, calls the public API
(:mod:`insole.sync.workflow`) and talks to the terminal."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from .cli import _BODY_MASS, _console, _number, _safe
from .errors import InsoleError

__all__ = ["add_log_commands"]

_MINUTES = _number("min", 0.0, 8 * 60.0, above=True)
_LINK = _number("kB/s", 1.0, 2000.0)
_SPEED = _number("x real time", 0.0, 1000.0, above=True)


def _state_dir(args: argparse.Namespace) -> Path:
    from .ble.virtual.state import default_state_dir

    return Path(args.virtual_state) if args.virtual_state else default_state_dir()


@contextlib.asynccontextmanager
async def _reach(args: argparse.Namespace) -> AsyncIterator[Any]:
    """How the command reaches the pair: the OS stack, or the virtual pair
    kept in its state folder (whose keys and host clock it also holds)."""
    from .sync.keys import KeyStore, config_dir
    from .sync.workflow import Reach

    if not args.virtual:
        yield Reach(keys=KeyStore(config_dir()))
        return
    from .ble.virtual.state import VirtualPairState
    from .sync.workflow import virtual_reach

    with VirtualPairState.open(_state_dir(args)) as state:
        async with virtual_reach(state, time_scale=getattr(args, "virtual_speed", 1.0),
                                 link_kB_s=getattr(args, "virtual_link_kB_s", 120.0)) as reach:
            yield reach


def cmd_claim(args: argparse.Namespace) -> int:
    from .sync.workflow import claim_pair

    async def run() -> dict[str, str]:
        async with _reach(args) as reach:
            return await claim_pair(reach)

    serials = asyncio.run(run())
    _console().print("claimed for this computer: " + ", ".join(f"{s} {_safe(n)}" for s, n in serials.items()))
    return 0


def cmd_log_start(args: argparse.Namespace) -> int:
    from .sync.workflow import log_start

    if args.virtual_run_min and not args.virtual:
        raise InsoleError("--virtual-run-min needs --virtual (a real runner runs in real time)")
    note = {"protocol": "run", "subject": args.subject, "body_mass_kg": args.body_mass_kg}
    note = {k: v for k, v in note.items() if v is not None}

    async def run() -> dict[str, str]:
        async with _reach(args) as reach:
            return await log_start(reach, note=note, auto=args.auto, sampling_rate_hz=args.rate)

    con = _console()
    serials = asyncio.run(run())
    what = "armed: they start logging by themselves once you run" if args.auto else "logging"
    con.print(f"both insoles {what} ({', '.join(f'{s} {_safe(n)}' for s, n in serials.items())}, {args.rate} Hz)")
    if args.virtual and args.virtual_run_min:
        _virtual_run(args, con)
    con.print("go for your run; afterwards bring the insoles near this computer and run "
              f"`insole sync{' --virtual' if args.virtual else ''} -o DIR`")
    return 0


def _virtual_run(args: argparse.Namespace, con: Any) -> None:
    from .ble.virtual.run import run_virtual
    from .ble.virtual.state import VirtualPairState

    t0 = time.perf_counter()
    with VirtualPairState.open(_state_dir(args)) as state:
        run_virtual(state, minutes=args.virtual_run_min, asymmetry_pct=args.asymmetry_pct,
                    fatigue_pp_per_10min=args.fatigue_pp_per_10min, seed=args.seed)
    con.print(f"the virtual runner ran {args.virtual_run_min:g} min into both insoles' flash "
              f"(contact-time asymmetry {args.asymmetry_pct:+g} %, changing {args.fatigue_pp_per_10min:+g} pp per "
              f"10 min; simulated in {time.perf_counter() - t0:.1f} s)")


def cmd_log_status(args: argparse.Namespace) -> int:
    from .sync.workflow import log_status

    async def run():
        async with _reach(args) as reach:
            return await log_status(reach)

    statuses = asyncio.run(run())
    if args.json:
        print(json.dumps(_status_json(statuses), indent=1))
        return 0
    con = _console()
    for st in statuses:
        con.print(f"[bold]{st.side}[/bold]: {st.state}, battery {st.battery_pct} %, "
                  f"{st.used_bytes / 1e6:.1f} of {st.capacity_bytes / 1e6:.1f} MB used, "
                  f"{st.free_hours:.1f} h free at {st.bytes_per_s / 1e3:.1f} kB/s")
        if not st.claimed_here:
            con.print("  not claimed by this computer: its sessions are not listed (`insole claim`)")
        for s in st.sessions:
            con.print(f"  session {s.session_id}: {_utc(s.start_host_time_us)}, {s.duration_ms / 60000:.1f} min, "
                      f"{s.image_bytes / 1e6:.2f} MB{'' if s.complete or s.open else ', cut short (no end record)'}"
                      f"{', still logging' if s.open else ''}")
    return 0


def _utc(us: int) -> str:
    import datetime as dt

    if not us:
        return "start time unknown"
    return dt.datetime.fromtimestamp(us / 1e6, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _status_json(statuses: list) -> dict[str, Any]:
    return {"schema": "insole.log-status/1", "insoles": [
        {"side": st.side, "logging": st.logging, "state": st.state,
         "sessions": [{"id": s.session_id, "start_utc": _utc(s.start_host_time_us) if s.start_host_time_us else None,
                       "duration_s": s.duration_ms / 1000.0, "bytes": s.image_bytes, "complete": s.complete}
                      for s in st.sessions],
         "used_bytes": st.used_bytes, "capacity_bytes": st.capacity_bytes, "battery_pct": st.battery_pct,
         "free_hours": round(st.free_hours, 2), "claimed_here": st.claimed_here}
        for st in statuses]}


def cmd_sync(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    from .sync.workflow import sync_pair

    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise InsoleError(f"-o {out}: not a folder")
    out.mkdir(parents=True, exist_ok=True)
    err = _console(stderr=True)
    prog = Progress(TextColumn("downloading"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    TimeRemainingColumn(), console=err, transient=True, disable=not err.is_terminal)
    task = prog.add_task("download", total=None)

    def written(path: Path) -> None:  # a pipe gets each path at once; a terminal after the progress bar
        if not err.is_terminal:
            print(path, flush=True)

    async def run():
        async with _reach(args) as reach:
            return await sync_pair(reach, out, keep=args.keep, on_total=lambda n: prog.update(task, total=n),
                                   on_bytes=lambda n: prog.advance(task, n), on_written=written)

    with prog:
        result = asyncio.run(run())
    if err.is_terminal and result.written:
        for p in result.written:
            print(p)
    if not result.written:
        err.print("nothing to sync: the insoles hold no finished sessions")
    rate = result.downloaded_bytes / result.seconds / 1e3 if result.seconds > 0 else 0.0
    erased = "kept on the insoles (--keep)" if args.keep else "erased on the insoles after verification"
    scale = getattr(args, "virtual_speed", 1.0) if args.virtual else 1.0
    pace = f", the virtual insoles at {scale:g}x real time" if scale != 1.0 else ""
    err.print(f"{result.downloaded_bytes / 1e6:.2f} MB downloaded in {result.seconds:.1f} s ({rate:.0f} kB/s{pace}); "
              f"{erased}")
    return 0


def _virtual_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--virtual", action="store_true", help="the virtual pair kept in --virtual-state")
    p.add_argument("--virtual-state", default=os.environ.get("INSOLE_VIRTUAL_STATE"), metavar="DIR",
                   help="folder holding the virtual pair's flash, clocks and battery (default: $INSOLE_VIRTUAL_STATE, "
                        "else the user cache folder insole/virtual)")


def add_log_commands(sub: Any) -> None:
    """Add ``claim``, ``log start``, ``log status`` and ``sync`` to the
    parser's subcommands."""
    c = sub.add_parser("claim", help="claim a pair for this computer (the insoles just switched on)")
    _virtual_args(c)
    c.set_defaults(func=cmd_claim)

    lg = sub.add_parser("log", help="logging on the insoles: start a run without the computer, or see what they hold")
    lsub = lg.add_subparsers(dest="log_command", required=True, metavar="{start,status}")
    ls = lsub.add_parser("start", help="connect, log a sync point, start logging on both insoles, disconnect")
    _virtual_args(ls)
    ls.add_argument("--subject", default=None)
    ls.add_argument("--body-mass-kg", type=_BODY_MASS, default=None, metavar="KG")
    ls.add_argument("--auto", action="store_true", help="arm the insoles to start by themselves once you run")
    ls.add_argument("--rate", type=int, default=200, choices=(50, 100, 200), help="sampling rate, Hz")
    ls.add_argument("--virtual-run-min", type=_MINUTES, default=None, metavar="M",
                    help="with --virtual: the virtual runner runs M minutes at once into the insoles")
    ls.add_argument("--asymmetry-pct", type=_number("%", -50.0, 50.0), default=0.0, metavar="X",
                    help="virtual runner: contact-time asymmetry index at the start, %% (negative: the left "
                         "contact is longer; default %(default)s)")
    ls.add_argument("--fatigue-pp-per-10min", type=_number("pp per 10 min", -20.0, 20.0), default=0.0,
                    metavar="G", help="virtual runner: change of that index per 10 min, signed like "
                                      "--asymmetry-pct (default %(default)s)")
    ls.add_argument("--seed", type=_number("", 0, 2**32 - 1, integer=True), default=0)
    ls.set_defaults(func=cmd_log_start)
    st = lsub.add_parser("status", help="per insole: logging or not, sessions, used and free capacity, battery")
    _virtual_args(st)
    st.add_argument("--json", action="store_true", help="the documented JSON object on stdout")
    st.set_defaults(func=cmd_log_status)

    sy = sub.add_parser("sync", help="stop logging, download every session of both feet, verify, write one "
                                     "recording per run, erase them on the insoles")
    _virtual_args(sy)
    sy.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the recordings")
    sy.add_argument("--keep", action="store_true", help="do not erase the sessions on the insoles")
    sy.add_argument("--virtual-link-kB-s", dest="virtual_link_kB_s", type=_LINK, default=120.0, metavar="KBS",
                    help="with --virtual: the modelled link throughput, kB/s (default %(default)s)")
    sy.add_argument("--virtual-speed", type=_SPEED, default=1.0, metavar="X",
                    help="with --virtual: run the virtual insoles X times faster than real time (default 1: the "
                         "sync takes as long as it would)")
    sy.set_defaults(func=cmd_sync)
