"""Simulated people and insoles: seeded, deterministic, with ground truth.

- :class:`~insole.sim.standing.StandingScenario`, :class:`~insole.sim.gait.GaitScenario`:
  the body (true pressure under each sensor).
- :class:`~insole.sim.device.InsoleModel`: the hardware and the link.
- :func:`~insole.sim.session.simulate_recording`: both written to a file.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import InsoleError
from .base import Scenario
from .shoe import LACED_SHOE, InShoe, ShoeModel

#: the shoes of ``insole simulate --shoe``
SHOES = {"bare": ShoeModel(), "laced": LACED_SHOE}

__all__ = ["Scenario", "make_scenario", "DEFAULT_DURATION_S", "SHOES"]

#: default durations of ``insole simulate``, seconds
DEFAULT_DURATION_S = {"standing": 70.0, "run": 120.0, "walk": 120.0}


def make_scenario(name: str, *, duration_s: float | None = None, asymmetry_pct: float = 0.0, seed: int = 0,
                  body_mass_kg: float = 70.0, fatigue_pp_per_10min: float = 0.0,
                  region_bias: dict | None = None, shoe: str | ShoeModel = "bare",
                  preload_n: float | None = None) -> Scenario:
    """The scenario behind ``insole simulate --scenario NAME``.

    Parameters
    ----------
    name : str
        ``"standing"``, ``"run"`` or ``"walk"``.
    duration_s : float, optional
        Total length, seconds (default :data:`DEFAULT_DURATION_S`). For
        standing, what is left after the two foot lifts is split evenly
        between eyes open and eyes closed.
    asymmetry_pct : float
        Symmetry index ``SI = 100 (R - L) / (0.5 (R + L))``, %, positive =
        RIGHT larger. Standing: of the load (SI 8 -> left 48 %, right 52 %);
        run and walk: of contact time, peak force and loading rate.
    seed : int
    body_mass_kg : float
    fatigue_pp_per_10min : float
        Run and walk: the contact-time SI changes by this many points per
        10 minutes, signed like ``asymmetry_pct`` (-8 and -1.5: the left
        foot's longer contacts grow by 1.5 points every 10 minutes).
    region_bias : dict, optional
        More or less load on regions of a foot (see
        :func:`insole.sim.base.check_region_bias`).
    shoe : str or ShoeModel
        What the insoles read on top of the true load: ``"bare"`` (nothing),
        ``"laced"`` (:data:`insole.sim.shoe.LACED_SHOE`: preload, slow
        release, a mid-swing bump, settling laces) or a
        :class:`~insole.sim.shoe.ShoeModel`.
    preload_n : float, optional
        Overrides the shoe's preload, N (the force read with the foot in
        the air).

    Raises
    ------
    InsoleError
        For options out of range (a user error on the command line).
    """
    duration_s = DEFAULT_DURATION_S.get(name, 0.0) if duration_s is None else duration_s
    try:
        model = _shoe(shoe, preload_n)
        body = _body(name, duration_s=duration_s, asymmetry_pct=asymmetry_pct, seed=seed, body_mass_kg=body_mass_kg,
                     fatigue_pp_per_10min=fatigue_pp_per_10min, region_bias=region_bias)
    except ValueError as exc:
        raise InsoleError(str(exc)) from None
    return body if model == ShoeModel() else InShoe(body, model)


def _shoe(shoe: str | ShoeModel, preload_n: float | None) -> ShoeModel:
    """The shoe model of a name (``bare``, ``laced``), with the preload overridden."""
    if isinstance(shoe, str):
        if shoe not in SHOES:
            raise ValueError(f"unknown shoe {shoe!r}; use {' or '.join(SHOES)}")
        shoe = SHOES[shoe]
    return shoe if preload_n is None else replace(shoe, preload_n=float(preload_n))


def _body(name: str, *, duration_s: float, asymmetry_pct: float, seed: int, body_mass_kg: float,
          fatigue_pp_per_10min: float, region_bias: dict | None) -> Scenario:
    """The person of :func:`make_scenario` (raises ValueError for a bad option)."""
    if name == "standing" and fatigue_pp_per_10min:
        raise ValueError("--fatigue-pp-per-10min is for a run or a walk, not a standing test")
    if name == "standing":
        from .standing import StandingScenario

        left_pct = 50.0 - asymmetry_pct / 4.0
        probe = StandingScenario(body_mass_kg=body_mass_kg, left_load_pct=left_pct, seed=seed)
        overhead_s = probe.duration_s - probe.options["eyes_open_s"] - probe.options["eyes_closed_s"]
        each_s = (duration_s - overhead_s) / 2.0
        if each_s < 5.0:
            raise ValueError(f"a standing test needs at least {overhead_s + 10:.0f} s "
                             f"({overhead_s:.0f} s of foot lifts, then eyes open and eyes closed)")
        return StandingScenario(body_mass_kg=body_mass_kg, left_load_pct=left_pct, eyes_open_s=each_s,
                                eyes_closed_s=each_s, seed=seed, region_bias=region_bias)
    if name in ("run", "walk"):
        from .gait import GaitScenario

        if duration_s < 5.0:
            raise ValueError("a run or walk needs at least 5 s")
        return GaitScenario(mode=name, duration_s=duration_s, body_mass_kg=body_mass_kg,
                            contact_time_si_pct=asymmetry_pct, peak_force_si_pct=asymmetry_pct,
                            loading_rate_si_pct=asymmetry_pct,
                            contact_time_si_growth_pp_per_10min=fatigue_pp_per_10min, seed=seed,
                            region_bias=region_bias)
    raise ValueError(f"unknown scenario {name!r}; use standing, run or walk")
