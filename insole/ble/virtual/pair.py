"""A pair of virtual insoles on the virtual radio, for ``--virtual`` and the demo."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from ...constants import SIDES
from ...sim.base import Scenario
from ...sim.device import InsoleModel
from ...sim.session import default_insoles

__all__ = ["virtual_pair", "BACKEND"]


def _backend():
    from .backend import VirtualClient, VirtualScanner

    return VirtualScanner, VirtualClient


@contextlib.asynccontextmanager
async def virtual_pair(scenario: Scenario, *, time_scale: float = 1.0, insoles: dict[str, InsoleModel] | None = None,
                       seed: int = 0) -> AsyncIterator[tuple[object, object]]:
    """Two virtual insoles "worn" by ``scenario``, advertising on this loop's
    virtual radio; yields the bleak ``(scanner, client)`` backends to use.

    Parameters
    ----------
    time_scale : float
        How much faster than real time they stream.
    insoles : dict, optional
        Side -> :class:`~insole.sim.device.InsoleModel` (faults, drift, rate);
        :func:`~insole.sim.session.default_insoles` by default.
    """
    from .insole import VirtualInsole
    from .radio import VirtualRadio

    radio = VirtualRadio.current()
    await radio.start()
    models = insoles or default_insoles(seed=seed)
    # one person wears both insoles: they share the scenario's time origin
    epoch = asyncio.get_running_loop().time()
    pair = [VirtualInsole(models[side], scenario, radio=radio, time_scale=time_scale, epoch=epoch) for side in SIDES]
    try:
        for v in pair:
            await v.start()
        yield _backend()
    finally:
        for v in pair:
            await v.stop()
