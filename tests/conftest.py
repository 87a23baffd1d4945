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


def killed_after(seconds: float, *args: str) -> None:
    """Start ``python -m insole ARGS`` and SIGKILL it ``seconds`` later."""
    proc = subprocess.Popen([sys.executable, "-m", "insole", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        time.sleep(seconds)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


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


@pytest.fixture(autouse=True)
def _alone_when_marked(request, tmp_path_factory):
    """Tests marked ``alone`` (a SIGKILL after a fixed wall time, a start-up
    race) measure wall-clock behaviour: they run while no other test of this
    pytest run does, whatever ``-n``. Every test takes a shared lock on a
    file all xdist workers see; an ``alone`` test takes it exclusively. A
    gate lock, held while acquiring, stops new shared holders from starving a
    waiting exclusive one. (Notebook items do not take part.)"""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; the tests simply share the machine
        yield
        return
    alone = request.node.get_closest_marker("alone") is not None
    folder = tmp_path_factory.getbasetemp().parent  # shared by the workers of one run
    with open(folder / "alone.gate", "a") as gate, open(folder / "alone.lock", "a") as lock:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(lock, fcntl.LOCK_UN)
