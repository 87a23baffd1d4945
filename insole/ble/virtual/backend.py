"""A bleak backend (scanner + client) that runs on the virtual radio.

Application code keeps using bleak's public API and only names the backend::

    from bleak import BleakClient, BleakScanner
    from insole.ble.virtual.backend import VirtualClient, VirtualScanner

    found = await BleakScanner.discover(timeout=1.0, backend=VirtualScanner,
                                        service_uuids=[SERVICE], return_adv=True)
    device, adv = next(iter(found.values()))
    async with BleakClient(device, backend=VirtualClient) as client:
        await client.start_notify(DATA_UUID, on_data)

Both classes drive the central (host) Bumble device of the running event
loop's :class:`~insole.ble.virtual.radio.VirtualRadio`. Everything below the
backend is real Bumble code (HCI, link layer, L2CAP, ATT, GATT); only the
radio waves are simulated by Bumble's ``LocalLink``.

Notes
-----
Bumble's in-process controller (0.0.236) acknowledges *LE Create Connection
Cancel* without cancelling anything: the pending connection is never
completed, so ``Device.connect(timeout=...)`` to an address that does not
answer hangs forever and the controller refuses every later connection. The
client therefore gives the central's controller a spec-conforming cancel
handler (clear the pending request, report *LE Connection Complete* with
status *Unknown Connection Identifier*) the first time it connects; see
:func:`_fix_connect_cancel`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid as _uuid
import weakref
from collections.abc import Callable, Iterator
from typing import Any, Literal, Optional

from bleak.assigned_numbers import CHARACTERISTIC_PROPERTIES
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import (
    PROTOCOL_ERROR_CODES,
    BleakCharacteristicNotFoundError,
    BleakDeviceNotFoundError,
    BleakError,
    BleakGATTProtocolError,
)
from bleak.uuids import normalize_uuid_str

from insole.ble.virtual.radio import VirtualRadio

log = logging.getLogger(__name__)

__all__ = ["VirtualClient", "VirtualGATTProtocolError", "VirtualScanner"]

#: ATT MTU the client asks for right after connecting (what phones and
#: BlueZ typically get from an nRF52 peripheral: 251-byte LL packets).
REQUESTED_MTU = 247
_DEFAULT_MTU = 23
_DISCONNECT_TIMEOUT_S = 10.0


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def _uuid_from_le(raw: bytes) -> str:
    """A 16/32/128-bit UUID in advertising (little-endian) byte order as
    bleak's lowercase 128-bit string."""
    if len(raw) == 16:
        return str(_uuid.UUID(bytes=raw[::-1]))
    return f"{int.from_bytes(raw, 'little'):08x}-0000-1000-8000-00805f9b34fb"


def _uuid_str(bumble_uuid: Any) -> str:
    """A Bumble ``core.UUID`` as bleak's lowercase 128-bit string."""
    return _uuid_from_le(bumble_uuid.uuid_128_bytes)


def _address_str(address: Any) -> str:
    """A Bumble ``hci.Address`` as ``"C0:00:00:00:00:02"`` (no type suffix)."""
    return address.to_string(False)


def _property_names(flags: int) -> list[Any]:
    return [name for bit, name in CHARACTERISTIC_PROPERTIES.items() if flags & bit]


class VirtualGATTProtocolError(BleakGATTProtocolError):
    """An ATT error response from the peripheral.

    A :class:`bleak.exc.BleakGATTProtocolError` (``code`` is the ATT error
    code) whose message spells the code in hex, e.g.
    ``"ATT error 0x81 (Application-specific Error 0x81) on handle 0x000E"``.

    Parameters
    ----------
    error_code : int
        The ATT error code from the peer's Error Response.
    handle : int, optional
        The attribute handle the request addressed.
    """

    def __init__(self, error_code: int, handle: int | None = None) -> None:
        super().__init__(error_code)
        self.handle = handle

    def __str__(self) -> str:
        code = int(self.args[0])
        text = f"ATT error 0x{code:02X} ({PROTOCOL_ERROR_CODES.get(code, 'Unknown code')})"
        if self.handle is not None:
            text += f" on handle 0x{self.handle:04X}"
        return text


# Per-radio shared state. The radio has one central and one controller, so
# scanners share one "scan enable" (reference counted) and link-layer
# connection attempts are serialised (the controller can only have one pending).
class _RadioState:
    def __init__(self) -> None:
        self.scan_lock = asyncio.Lock()
        self.scanners = 0
        self.connect_lock = asyncio.Lock()
        self.cancel_fixed = False


_states: "weakref.WeakKeyDictionary[VirtualRadio, _RadioState]" = weakref.WeakKeyDictionary()


def _state(radio: VirtualRadio) -> _RadioState:
    state = _states.get(radio)
    if state is None:
        state = _states[radio] = _RadioState()
    return state


def _central_controller(radio: VirtualRadio) -> Any:
    """The Bumble ``Controller`` behind the radio's central (or ``None``)."""
    host = radio.central.host
    for controller in radio.link.controllers:
        if controller.host is host:
            return controller
    return None


def _fix_connect_cancel(radio: VirtualRadio) -> None:
    """Make the central's virtual controller honour *LE Create Connection Cancel*.

    Bumble 0.0.236's ``Controller`` answers the command with success but keeps
    the connection pending and never reports its end, so a timed-out
    ``Device.connect`` waits forever. The replacement does what the Core spec
    (Vol 4, Part E, 7.8.13) asks: drop the pending request and send an *LE
    Connection Complete* event with status *Unknown Connection Identifier*
    after the command's *Command Complete*. When nothing is pending (the
    connection won the race) it answers success, so Bumble then picks up the
    completed connection. Installed once per radio, on that one controller
    instance only.
    """
    state = _state(radio)
    if state.cancel_fixed:
        return
    controller = _central_controller(radio)
    if controller is None:  # pragma: no cover - radio layout changed
        log.warning("virtual radio: central controller not found; connect timeouts may hang")
        return
    from bumble import hci

    def on_hci_le_create_connection_cancel_command(_command: Any) -> Any:
        pending = controller.pending_le_connection
        if pending is not None:
            controller.pending_le_connection = None
            event = hci.HCI_LE_Connection_Complete_Event(
                status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
                connection_handle=0,
                role=hci.Role.CENTRAL,
                peer_address_type=pending.peer_address_type,
                peer_address=pending.peer_address,
                connection_interval=0,
                peripheral_latency=0,
                supervision_timeout=0,
                central_clock_accuracy=0,
            )
            # after the Command Complete that the caller sends on return
            asyncio.get_running_loop().call_soon(controller.send_hci_packet, event)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)

    controller.on_hci_le_create_connection_cancel_command = on_hci_le_create_connection_cancel_command
    state.cancel_fixed = True


def _drop_pending_connection(radio: VirtualRadio) -> None:
    """Forget a connection attempt abandoned by cancellation (no HCI traffic)."""
    controller = _central_controller(radio)
    if controller is not None and controller.pending_le_connection is not None \
            and not radio.central.is_le_connecting:
        controller.pending_le_connection = None
        log.debug("virtual radio: dropped abandoned connection attempt")


# ---------------------------------------------------------------------------
# scanner
# ---------------------------------------------------------------------------
class VirtualScanner(BaseBleakScanner):
    """bleak scanner backend on the virtual radio.

    Use through bleak: ``BleakScanner(..., backend=VirtualScanner)`` or
    ``BleakScanner.discover(..., backend=VirtualScanner)``.

    Parameters
    ----------
    detection_callback : callable, optional
        ``callback(BLEDevice, AdvertisementData)`` for every advertisement.
    service_uuids : list of str, optional
        Report only devices that advertise at least one of these services
        (16-, 32- or 128-bit, any case).
    scanning_mode : {"active", "passive"}
        Active scanning also collects scan responses.
    **kwargs
        Platform arguments bleak passes to every backend (``bluez``, ``cb``);
        ignored.

    Notes
    -----
    ``BLEDevice.details`` is the Bumble ``hci.Address`` (with its address
    type) that :class:`VirtualClient` connects to; ``platform_data`` of the
    advertisement data is ``(bumble Advertisement,)``. Several scanners may
    run at once: they share the central's scan (started by the first,
    stopped by the last).
    """

    def __init__(
        self,
        detection_callback: Optional[AdvertisementDataCallback] = None,
        service_uuids: Optional[list[str]] = None,
        scanning_mode: Literal["active", "passive"] = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        if self._service_uuids is not None:
            self._service_uuids = [normalize_uuid_str(u) for u in self._service_uuids]
        self._active = scanning_mode != "passive"
        self._radio: VirtualRadio | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scanning = False

    async def start(self) -> None:
        """Start scanning (clears :attr:`seen_devices`)."""
        if self._scanning:
            await self.stop()
        radio = VirtualRadio.current()
        await radio.start()
        state = _state(radio)
        self.seen_devices = {}
        self._radio = radio
        self._loop = asyncio.get_running_loop()
        radio.central.on("advertisement", self._on_advertisement)
        self._scanning = True
        try:
            async with state.scan_lock:
                state.scanners += 1
                if state.scanners == 1 or not radio.central.is_scanning:
                    await radio.central.start_scanning(active=self._active, filter_duplicates=False)
        except BaseException as exc:
            self._release(radio)
            if isinstance(exc, Exception) and not isinstance(exc, BleakError):
                raise BleakError(f"virtual radio: cannot start scanning: {exc}") from exc
            raise
        log.debug("virtual scan started (filter=%s)", self._service_uuids)

    def _release(self, radio: VirtualRadio) -> bool:
        """Detach from the shared scan; ``True`` if this was the last scanner."""
        self._scanning = False
        radio.central.remove_listener("advertisement", self._on_advertisement)
        state = _state(radio)
        state.scanners = max(state.scanners - 1, 0)
        return state.scanners == 0

    async def stop(self) -> None:
        """Stop scanning (no-op when not scanning).

        Errors from a closing loop or a dead host are logged at debug level,
        not raised; the scanner is detached from the radio in any case."""
        radio = self._radio
        if not self._scanning or radio is None:
            return
        last = self._release(radio)
        if not last:
            return
        state = _state(radio)
        try:
            if self._loop is not asyncio.get_running_loop():
                return  # the radio's loop is gone; its controller went with it
            async with state.scan_lock:
                if state.scanners == 0 and radio.central.is_scanning:
                    await radio.central.stop_scanning()
        except Exception as exc:  # noqa: BLE001 - teardown must not raise
            log.debug("virtual scan stop: %r", exc)
        else:
            log.debug("virtual scan stopped")

    # Called by Bumble for each (merged) advertisement.
    def _on_advertisement(self, adv: Any) -> None:
        local_name = short_name = None
        service_uuids: list[str] = []
        manufacturer_data: dict[int, bytes] = {}
        service_data: dict[str, bytes] = {}
        tx_power = None
        for ad_type, value in adv.data.ad_structures:
            if ad_type == 0x09:  # complete local name
                local_name = value.decode("utf-8", "replace")
            elif ad_type == 0x08:  # shortened local name
                short_name = value.decode("utf-8", "replace")
            elif 0x02 <= ad_type <= 0x07:  # (in)complete 16/32/128-bit service UUID lists
                size = (2, 4, 16)[(ad_type - 2) // 2]
                service_uuids.extend(_uuid_from_le(value[i:i + size])
                                     for i in range(0, len(value) - size + 1, size))
            elif ad_type == 0xFF and len(value) >= 2:  # manufacturer specific
                manufacturer_data[int.from_bytes(value[:2], "little")] = bytes(value[2:])
            elif ad_type in (0x16, 0x20, 0x21):  # service data, 16/32/128-bit UUID
                size = {0x16: 2, 0x20: 4, 0x21: 16}[ad_type]
                if len(value) >= size:
                    service_data[_uuid_from_le(value[:size])] = bytes(value[size:])
            elif ad_type == 0x0A and value:  # TX power level (signed)
                tx_power = int.from_bytes(value[:1], "little", signed=True)
        if local_name is None:
            local_name = short_name
        if len(service_uuids) > 1:  # advertisement + scan response may repeat them
            service_uuids = list(dict.fromkeys(service_uuids))
        if not self.is_allowed_uuid(service_uuids):
            return
        advertisement_data = AdvertisementData(
            local_name=local_name,
            manufacturer_data=manufacturer_data,
            service_data=service_data,
            service_uuids=service_uuids,
            tx_power=tx_power,
            rssi=adv.rssi,
            platform_data=(adv,),
        )
        address = _address_str(adv.address)
        name = local_name
        if name is None and address in self.seen_devices:
            name = self.seen_devices[address][0].name  # keep a name seen earlier
        device = self.create_or_update_device(address, address, name, adv.address, advertisement_data)
        try:
            self.call_detection_callbacks(device, advertisement_data)
        except Exception:  # noqa: BLE001 - a user callback must not break the radio
            log.exception("virtual scan: detection callback raised")


# ---------------------------------------------------------------------------
# client
# ---------------------------------------------------------------------------
class VirtualClient(BaseBleakClient):
    """bleak client backend on the virtual radio.

    Use through bleak: ``BleakClient(device_or_address, backend=VirtualClient)``.

    Parameters
    ----------
    address_or_ble_device : BLEDevice or str
        A device from :class:`VirtualScanner` (connects straight to
        ``device.details``) or an address string (found by scanning first,
        like BlueZ; :class:`bleak.exc.BleakDeviceNotFoundError` if it does
        not advertise within the timeout).
    services : set of str, optional
        Discover only these services (bleak passes them normalised).
    disconnected_callback : callable, optional
        Called (with no arguments; bleak binds the client) whenever an
        established connection ends: dropped by the peripheral or closed by
        :meth:`disconnect`, like bleak's BlueZ, WinRT and CoreBluetooth
        backends.
    timeout : float
        Default timeout (s) of :meth:`connect`.
    **kwargs
        Platform arguments bleak passes to every backend; ignored.

    Notes
    -----
    After the link is up the client requests an ATT MTU of
    :data:`REQUESTED_MTU` and discovers all services, characteristics and
    descriptors into :attr:`services`. Characteristic and descriptor handles
    are ATT attribute handles (a characteristic's handle is its *value*
    handle). Notification callbacks run synchronously inside the Bumble
    packet handler, in the event loop, as each notification arrives.
    """

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        services: Optional[set[str]] = None,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        self._peer_address: Any = None
        self._device_name: str | None = None
        if isinstance(address_or_ble_device, BLEDevice):
            self._device_name = address_or_ble_device.name
            details = address_or_ble_device.details
            if details is not None and hasattr(details, "address_type"):
                self._peer_address = details
        self._requested_services = services
        self._radio: VirtualRadio | None = None
        self._connection: Any = None   # bumble Connection while the link is up
        self._peer: Any = None          # bumble Peer on it
        self._established = False       # connect() finished for this connection
        self._chars: dict[int, Any] = {}        # value handle -> CharacteristicProxy
        self._subscribers: dict[int, Callable[[bytes], None]] = {}  # handle -> bumble subscriber

    # -- properties ---------------------------------------------------------
    @property
    def name(self) -> str:
        """The advertised or GAP device name, else the address with dashes."""
        return self._device_name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        """The negotiated ATT MTU (23 when not connected)."""
        connection = self._connection
        return connection.att_mtu if connection is not None else _DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        """Whether :meth:`connect` succeeded and the link is still up."""
        return self._established and self._connection is not None

    # -- connection -----------------------------------------------------------
    async def connect(self, pair: bool = False, **kwargs: Any) -> None:
        """Connect, request the MTU and discover the GATT database.

        Parameters
        ----------
        pair : bool
            Not supported on the virtual radio (logged and ignored, as bleak
            asks of backends that cannot pair).
        **kwargs
            ``timeout`` (s) overrides the constructor's.

        Raises
        ------
        BleakDeviceNotFoundError
            An address string that no device advertised within the timeout.
        asyncio.TimeoutError
            The peripheral did not answer within the timeout.
        BleakError
            Already connected; the link failed or dropped during setup.
        """
        if self.is_connected:
            raise BleakError("Client is already connected")
        timeout = float(kwargs.get("timeout", self._timeout))
        if pair:
            log.info("virtual radio: pairing is not supported; connecting without it")
        radio = VirtualRadio.current()
        await radio.start()
        self._radio = radio
        _fix_connect_cancel(radio)

        if self._peer_address is None:
            device = await _find_device(self.address, timeout)
            if device is None:
                raise BleakDeviceNotFoundError(self.address, f"Device with address {self.address} was not found.")
            self._peer_address = device.details
            self._device_name = self._device_name or device.name

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        connection = await self._create_link(radio, deadline)
        try:
            async with asyncio.timeout_at(deadline):
                with self._gatt_errors(connection, "connect"):
                    await self._setup(connection)
            if self._connection is not connection:  # dropped right after the last request
                raise BleakError(f"connect: {self.address} disconnected")
        except BaseException:
            await self._abandon(connection)
            raise
        self._established = True
        log.info("virtual radio: connected to %s (MTU %d)", self.address, connection.att_mtu)

    async def _create_link(self, radio: VirtualRadio, deadline: float) -> Any:
        """The link-layer connection (one attempt at a time per radio)."""
        from bumble import core

        loop = asyncio.get_running_loop()
        state = _state(radio)
        try:
            async with asyncio.timeout_at(deadline):
                await state.connect_lock.acquire()
        except TimeoutError:
            raise asyncio.TimeoutError(f"connect to {self.address}: radio busy with another connection") from None
        try:
            remaining = max(deadline - loop.time(), 0.001)
            try:
                connection = await radio.central.connect(self._peer_address, timeout=remaining)
            except core.TimeoutError as exc:
                raise asyncio.TimeoutError(f"connect to {self.address}: no answer within the timeout") from exc
            except core.ConnectionError as exc:
                raise BleakError(f"connect to {self.address} failed: {exc}") from exc
            except core.BaseBumbleError as exc:  # HCI_Error, InvalidStateError, ...
                raise BleakError(f"connect to {self.address} failed: {exc!r}") from exc
            except BaseException:
                _drop_pending_connection(radio)
                raise
        finally:
            state.connect_lock.release()
        self._connection = connection
        self._established = False
        connection.on("disconnection", lambda reason, c=connection: self._on_disconnection(c, reason))
        return connection

    async def _setup(self, connection: Any) -> None:
        from bumble import core
        from bumble.device import Peer

        peer = self._peer = Peer(connection)
        try:
            await peer.request_mtu(REQUESTED_MTU)
        except core.BaseBumbleError as exc:
            log.warning("virtual radio: MTU exchange with %s failed (%r); staying at %d",
                        self.address, exc, connection.att_mtu)
        if self._requested_services:
            from bumble.core import UUID

            wanted = [UUID(u) for u in self._requested_services]
            services = await peer.discover_services(wanted)
        else:
            services = await peer.discover_services()
        for service in services:
            await peer.discover_characteristics(service=service)
            for characteristic in service.characteristics:
                await peer.discover_descriptors(characteristic=characteristic)
        self.services = self._collection(services)
        if not self._device_name:
            await self._read_device_name(peer)

    def _collection(self, services: list[Any]) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        chars: dict[int, Any] = {}
        max_wwr = self._max_write_without_response_size
        for service in services:
            bleak_service = BleakGATTService(service, service.handle, _uuid_str(service.uuid))
            collection.add_service(bleak_service)
            for char in service.characteristics:
                bleak_char = BleakGATTCharacteristic(char, char.handle, _uuid_str(char.uuid),
                                                     _property_names(int(char.properties)), max_wwr, bleak_service)
                collection.add_characteristic(bleak_char)
                chars[char.handle] = char
                for descriptor in char.descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(descriptor, descriptor.handle, _uuid_str(descriptor.type), bleak_char))
        self._chars = chars
        return collection

    def _max_write_without_response_size(self) -> int:
        return self.mtu_size - 3

    async def _read_device_name(self, peer: Any) -> None:
        from bumble import core

        for char in self._chars.values():
            if _uuid_str(char.uuid) == "00002a00-0000-1000-8000-00805f9b34fb" and char.properties & 0x02:
                try:
                    self._device_name = (await peer.read_value(char.handle)).decode("utf-8", "replace") or None
                except core.BaseBumbleError as exc:
                    log.debug("virtual radio: reading the device name failed: %r", exc)
                return

    async def _abandon(self, connection: Any) -> None:
        """Tear down a connection whose setup failed (no disconnected callback)."""
        self._forget(connection)
        radio = self._radio
        if radio is None or radio.central.lookup_connection(connection.handle) is not connection:
            return  # already gone
        try:
            async with asyncio.timeout(_DISCONNECT_TIMEOUT_S):
                await connection.disconnect()
        except Exception as exc:  # noqa: BLE001 - already failing; keep the first error
            log.debug("virtual radio: disconnect after failed setup: %r", exc)

    def _forget(self, connection: Any) -> bool:
        """Drop all state of ``connection``; ``True`` if it was the live one."""
        if self._connection is not connection:
            return False
        self._connection = None
        self._peer = None
        self._chars = {}
        self._subscribers = {}
        self.services = None
        return True

    def _on_disconnection(self, connection: Any, reason: int) -> None:
        established = self._established
        if not self._forget(connection):
            return
        self._established = False
        if not established:
            return  # connect() is still running and reports the failure itself
        log.info("virtual radio: %s disconnected (reason 0x%02X)", self.address, reason)
        callback = self._disconnected_callback
        if callback is not None:
            try:
                callback()
            except Exception:  # noqa: BLE001 - must not break the radio
                log.exception("virtual radio: disconnected callback raised")

    async def disconnect(self) -> None:
        """Close the link (no-op when not connected); fires the disconnected
        callback like bleak's OS backends do."""
        connection = self._connection
        if connection is None:
            return
        try:
            async with asyncio.timeout(_DISCONNECT_TIMEOUT_S):
                await connection.disconnect()
        except Exception as exc:  # noqa: BLE001 - the link is gone either way
            log.debug("virtual radio: disconnect from %s: %r", self.address, exc)
        # normally done by the disconnection event already
        self._on_disconnection(connection, 0x16)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Not supported on the virtual radio.

        Raises
        ------
        NotImplementedError
            Always (the insoles use no security).
        """
        raise NotImplementedError("pairing is not supported on the virtual radio")

    async def unpair(self) -> None:
        """Not supported on the virtual radio.

        Raises
        ------
        NotImplementedError
            Always (the insoles use no security).
        """
        raise NotImplementedError("unpairing is not supported on the virtual radio")

    # -- GATT -------------------------------------------------------------------
    def _require_peer(self) -> Any:
        if not self.is_connected:
            raise BleakError("Not connected")
        return self._peer

    @contextlib.contextmanager
    def _gatt_errors(self, connection: Any, what: str, handle: int | None = None) -> Iterator[None]:
        """Translate Bumble failures into bleak's exceptions."""
        from bumble import att, core

        try:
            yield
        except att.ATT_Error as exc:
            handle = getattr(exc.message, "attribute_handle_in_error", None) or exc.att_handle or handle
            raise VirtualGATTProtocolError(int(exc.error_code), handle) from exc
        except asyncio.CancelledError:
            # Bumble cancels the pending ATT request when the link drops; that
            # is not a cancellation of the caller's task.
            task = asyncio.current_task()
            if self._connection is not connection and task is not None and not task.cancelling():
                raise BleakError(f"{what}: {self.address} disconnected") from None
            raise
        except core.TimeoutError as exc:
            raise asyncio.TimeoutError(f"{what}: GATT request to {self.address} timed out") from exc
        except core.BaseBumbleError as exc:
            raise BleakError(f"{what} failed: {exc!r}") from exc

    def _proxy(self, characteristic: BleakGATTCharacteristic) -> Any:
        proxy = self._chars.get(characteristic.handle)
        if proxy is None:
            raise BleakCharacteristicNotFoundError(characteristic.handle)
        return proxy

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False,
                             **kwargs: Any) -> bytearray:
        """Read a characteristic value (long values via Read Blob)."""
        peer = self._require_peer()
        handle = characteristic.handle
        if use_cached:
            cached = peer.gatt_client.cached_values.get(handle)
            if cached is not None:
                return bytearray(cached[1])
        with self._gatt_errors(self._connection, "read", handle):
            return bytearray(await peer.read_value(handle))

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False,
                                   **kwargs: Any) -> bytearray:
        """Read a descriptor value."""
        peer = self._require_peer()
        with self._gatt_errors(self._connection, "read descriptor", descriptor.handle):
            return bytearray(await peer.read_value(descriptor.handle))

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: Any, response: bool) -> None:
        """Write Request (``response=True``, waits for the peer's answer) or
        Write Command (``response=False``)."""
        peer = self._require_peer()
        with self._gatt_errors(self._connection, "write", characteristic.handle):
            await peer.write_value(characteristic.handle, bytes(data), with_response=response)

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        """Write a descriptor (with response)."""
        peer = self._require_peer()
        with self._gatt_errors(self._connection, "write descriptor", descriptor.handle):
            await peer.write_value(descriptor.handle, bytes(data), with_response=True)

    async def start_notify(self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback,
                           **kwargs: Any) -> None:
        """Subscribe (notifications preferred over indications).

        ``callback(bytearray)`` runs directly in Bumble's packet handler for
        each notification; an exception it raises is logged, not propagated.
        Starting again on the same characteristic replaces the callback.
        """
        peer = self._require_peer()
        proxy = self._proxy(characteristic)
        if not proxy.properties & 0x30:
            raise BleakError(f"Characteristic {characteristic.uuid} does not support notify or indicate")

        def on_value(value: bytes, _callback: NotifyCallback = callback) -> None:
            try:
                _callback(bytearray(value))
            except Exception:  # noqa: BLE001 - must not break the radio
                log.exception("virtual radio: notification callback raised")

        gatt_client = peer.gatt_client
        old = self._subscribers.pop(characteristic.handle, None)
        if old is not None:  # replace in place: no CCCD traffic
            for subscribers in (gatt_client.notification_subscribers, gatt_client.indication_subscribers):
                bucket = subscribers.get(characteristic.handle)
                if bucket is not None and old in bucket:
                    bucket.discard(old)
                    bucket.add(on_value)
            self._subscribers[characteristic.handle] = on_value
            return
        self._subscribers[characteristic.handle] = on_value
        try:
            with self._gatt_errors(self._connection, "start_notify", characteristic.handle):
                await gatt_client.subscribe(proxy, on_value, prefer_notify=True)
        except BaseException:
            if self._subscribers.get(characteristic.handle) is on_value:
                del self._subscribers[characteristic.handle]
            raise

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Unsubscribe (writes 0 to the CCCD); no-op if not subscribed."""
        peer = self._require_peer()
        subscriber = self._subscribers.pop(characteristic.handle, None)
        if subscriber is None:
            return
        with self._gatt_errors(self._connection, "stop_notify", characteristic.handle):
            await peer.gatt_client.unsubscribe(self._proxy(characteristic), subscriber)


async def _find_device(address: str, timeout: float) -> BLEDevice | None:
    """Scan for ``address`` like bleak's BlueZ backend does for address strings."""
    from bleak import BleakScanner

    return await BleakScanner.find_device_by_address(address, timeout=timeout, backend=VirtualScanner)
