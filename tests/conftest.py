"""Shared fixtures: a tiny deterministic scenario with an exact answer."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from insole.model import Phase
from insole.protocol import reference_layout
from insole.sim.base import Scenario


class StepScenario(Scenario):
    """Known-answer body: uniform pressure on every sensor; the left foot's
    force is ``left_n`` plus a slow sine, the right's ``right_n`` minus it,
    so the true left share is exactly ``left_n / (left_n + right_n)``.
    A sawtooth marker on sensor p01 encodes true time for alignment tests."""

    protocol = "standing"
    body_mass_kg = 70.0

    def __init__(self, duration_s: float = 20.0, left_n: float = 391.0, right_n: float = 295.0,
                 saw_period_s: float = 1.0) -> None:
        self.duration_s = duration_s
        self.left_n, self.right_n = left_n, right_n
        self.saw_period_s = saw_period_s
        self.phases = (Phase("eyes_open", 0.0, duration_s / 2), Phase("eyes_closed", duration_s / 2, duration_s))
        self._area = reference_layout("left").area_mm2

    def pressures_kpa(self, side, t_s):
        t = np.clip(np.asarray(t_s, dtype=float), 0.0, self.duration_s)
        wobble = 20.0 * np.sin(2 * np.pi * 0.3 * t)
        force = (self.left_n + wobble) if side == "left" else (self.right_n - wobble)
        p = np.repeat((force / self._area.sum() * 1000.0)[:, None], 16, axis=1)
        # p16 carries a time ramp (0..400 kPa per saw period): tests read time back from it
        p[:, 15] = 400.0 * ((t / self.saw_period_s) % 1.0)
        return p

    def truth(self):
        return {"left_load_pct": 100.0 * self.left_n / (self.left_n + self.right_n)}


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m insole ARGS`` in its own process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "insole", *args], capture_output=True, text=True, timeout=timeout)


def killed_after(seconds: float, *args: str, until=None, until_timeout_s: float = 120.0) -> int:
    """Start ``python -m insole ARGS`` and SIGKILL it ``seconds`` later (and
    not before ``until()`` is true, polled every 20 ms; after
    ``until_timeout_s`` the test fails).

    Returns
    -------
    int
        ``time.monotonic_ns()`` just before the SIGKILL was sent.
    """
    proc = subprocess.Popen([sys.executable, "-m", "insole", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        started = time.monotonic()
        if until is not None:
            wait_until(until, timeout_s=until_timeout_s, proc=proc)
        time.sleep(max(0.0, started + seconds - time.monotonic()))
        killed_ns = time.monotonic_ns()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return killed_ns


def wait_until(predicate, *, timeout_s: float = 120.0, proc: subprocess.Popen | None = None) -> None:
    """Poll ``predicate()`` every 20 ms until it is true. The timeout only
    guards against a hang; ``proc`` ending first fails the test too."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert proc is None or proc.poll() is None, f"the process ended (status {proc.returncode}) first"
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def committed(path, sql: str, *params) -> list[tuple]:
    """Rows of ``sql`` on what a recording being written has committed so
    far (read-only; [] while the file or its tables do not exist yet)."""
    import sqlite3

    if not os.path.exists(path):
        return []
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)) as db:
            return db.execute(sql, params).fetchall()
    except sqlite3.Error:
        return []


def committed_sides(path) -> int:
    """How many feet have a committed packet in a recording being written."""
    return len(committed(path, "SELECT DISTINCT side FROM packets"))


@pytest.fixture
def step_scenario():
    return StepScenario()


def pytest_collection_modifyitems(config, items):
    """Hardware tests need real insoles in range: skipped unless INSOLE_HARDWARE=1."""
    import os

    if os.environ.get("INSOLE_HARDWARE") == "1":
        return
    skip = pytest.mark.skip(reason="needs real insoles in range (set INSOLE_HARDWARE=1)")
    for item in items:
        if "hardware" in item.keywords:
            item.add_marker(skip)
