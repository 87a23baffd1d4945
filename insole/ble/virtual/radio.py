"""The virtual radio: Bumble's in-process link layer with virtual controllers.

One :class:`VirtualRadio` per asyncio event loop holds a Bumble ``LocalLink``
and the host's own (central) Bumble device. Virtual insoles join the same
link as peripherals; the bleak backend in :mod:`insole.ble.virtual.backend`
drives the central, so application code talks to bleak's ordinary API
(``BleakScanner(backend=...)``, ``BleakClient(..., backend=...)``) and
nothing above the link layer is mocked.

Bumble is 0.0.x: its API changes between releases, so the project pins it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import ClassVar

log = logging.getLogger(__name__)

__all__ = ["VirtualRadio"]

_CENTRAL_ADDRESS = "F0:00:00:00:00:01"


class VirtualRadio:
    """The link and the central device of one event loop.

    Use :meth:`current` to get the radio of the running loop (created on
    first use). ``await radio.start()`` powers the central on (idempotent).
    """

    _by_loop: ClassVar[dict[int, "VirtualRadio"]] = {}
    _addresses = itertools.count(2)

    def __init__(self) -> None:
        from bumble.controller import Controller
        from bumble.device import Device
        from bumble.hci import Address
        from bumble.host import Host
        from bumble.link import LocalLink
        from bumble.transport.common import AsyncPipeSink

        self.link = LocalLink()
        controller = Controller("insole-host", link=self.link, public_address=_CENTRAL_ADDRESS)
        self.central = Device(name="insole-host", address=Address(_CENTRAL_ADDRESS),
                              host=Host(controller, AsyncPipeSink(controller)))
        self._started = False
        self._lock = asyncio.Lock()

    @classmethod
    def current(cls) -> "VirtualRadio":
        """The radio of the running event loop."""
        loop = asyncio.get_running_loop()
        radio = cls._by_loop.get(id(loop))
        if radio is None or radio._loop is not loop:
            radio = cls()
            radio._loop = loop
            cls._by_loop[id(loop)] = radio
        return radio

    async def start(self) -> None:
        """Power the central on (once)."""
        async with self._lock:
            if not self._started:
                await self.central.power_on()
                self._started = True

    @classmethod
    def next_address(cls) -> str:
        """A fresh static address for a new virtual peripheral."""
        n = next(cls._addresses)
        return "C0:00:00:00:{:02X}:{:02X}".format((n >> 8) & 0xFF, n & 0xFF)

    def new_device(self, name: str, address: str | None = None):
        """A Bumble device on this radio's link (for a virtual peripheral)."""
        from bumble.controller import Controller
        from bumble.device import Device
        from bumble.hci import Address
        from bumble.host import Host
        from bumble.transport.common import AsyncPipeSink

        address = address or self.next_address()
        controller = Controller(name, link=self.link, public_address=address)
        return Device(name=name, address=Address(address), host=Host(controller, AsyncPipeSink(controller)))
