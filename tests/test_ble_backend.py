"""The bleak backend on the virtual radio, driven only through bleak's public API.

The peripherals are plain Bumble devices on the same virtual link (no insole
firmware model involved), so these tests pin the backend contract itself:
scanning and filtering, connection set-up, GATT I/O, ATT errors,
notifications, link loss and reconnection, connect timeouts and teardown.
"""

from __future__ import annotations

import asyncio
import gc

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble.att import ATT_Error
from bumble.core import UUID, AdvertisingData
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.hci import Address

from insole.ble.virtual.backend import VirtualClient, VirtualScanner
from insole.ble.virtual.radio import VirtualRadio

pytestmark = pytest.mark.filterwarnings("error")

SERVICE = "7a1e0001-3c5b-4f9e-a8d2-5b1c0e9f4d21"
OTHER_SERVICE = "5e7f0001-1111-4222-8333-944455556666"
DATA = "7a1e0002-3c5b-4f9e-a8d2-5b1c0e9f4d21"      # notify
CONTROL = "7a1e0003-3c5b-4f9e-a8d2-5b1c0e9f4d21"   # write (+ without response)
INFO = "7a1e0004-3c5b-4f9e-a8d2-5b1c0e9f4d21"      # read
SLOW = "7a1e0005-3c5b-4f9e-a8d2-5b1c0e9f4d21"      # read that answers only when released
CCCD = "00002902-0000-1000-8000-00805f9b34fb"
COMPANY = 0x0059
REJECT = {0xE0: 0x80, 0xE1: 0x81, 0xE2: 0x82}     # control opcode -> ATT error it gets


def run(main, *, timeout: float = 60.0, allow_pending: bool = False):
    """``asyncio.run(main())`` that also fails on loop-level errors (e.g. task
    exceptions never retrieved) and on tasks still pending at the end. The
    timeout only guards against a hang: no test here asserts a wall-clock
    budget (the machine may be busy)."""
    errors: list[dict] = []
    leftovers: list[asyncio.Task] = []

    async def wrapper():
        asyncio.get_running_loop().set_exception_handler(lambda _loop, context: errors.append(context))
        try:
            return await asyncio.wait_for(main(), timeout)
        finally:
            me = asyncio.current_task()
            for _ in range(100):  # Bumble finishes in-flight HCI commands within a few iterations
                others = [t for t in asyncio.all_tasks() if t is not me]
                if not others or allow_pending:
                    break
                await asyncio.sleep(0.01)
            leftovers.extend(others if not allow_pending else ())

    with asyncio.Runner() as runner:
        result = runner.run(wrapper())
    gc.collect()
    assert not errors, errors
    assert not leftovers, leftovers
    return result


class Peripheral:
    """A Bumble GATT server advertising like an insole."""

    def __init__(self, radio: VirtualRadio, name: str, service: str = SERVICE) -> None:
        self.device = radio.new_device(name)
        self.name, self.service = name, service
        self.writes: list[bytes] = []
        self.release_slow = asyncio.Event()
        self.data = Characteristic(DATA, Characteristic.Properties.NOTIFY, Characteristic.READABLE, b"")
        control = Characteristic(
            CONTROL, Characteristic.Properties.WRITE | Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
            Characteristic.WRITEABLE, CharacteristicValue(write=self._on_write))
        info = Characteristic(INFO, Characteristic.Properties.READ, Characteristic.READABLE, b"fw 1.2.3")
        slow = Characteristic(SLOW, Characteristic.Properties.READ, Characteristic.READABLE,
                              CharacteristicValue(read=self._slow_read))
        self.device.add_service(Service(service, [self.data, control, info, slow]))

    def _on_write(self, _connection, value: bytes) -> None:
        if value and value[0] in REJECT:
            raise ATT_Error(REJECT[value[0]])
        self.writes.append(bytes(value))

    async def _slow_read(self, _connection) -> bytes:
        await self.release_slow.wait()
        return b"late"

    async def start(self) -> "Peripheral":
        await self.device.power_on()
        await self.device.start_advertising(auto_restart=True, advertising_data=self.advertising_data(),
                                            advertising_interval_min=20, advertising_interval_max=20)
        return self

    def advertising_data(self) -> bytes:
        """What an insole advertises: its 128-bit service and its name (31 bytes).

        Everything has to fit in the advertising PDU: Bumble's virtual
        controller answers a scan request by echoing the advertising data,
        not the advertiser's scan response data."""
        adv = bytes(AdvertisingData([
            (AdvertisingData.FLAGS, bytes([0x06])),
            (AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, UUID(self.service).to_bytes()),
            (AdvertisingData.SHORTENED_LOCAL_NAME, self.name.encode()),
        ]))
        assert len(adv) <= 31
        return adv

    @property
    def connection(self):
        return next(iter(self.device.connections.values()))

    async def notify(self, payload: bytes) -> None:
        await self.device.notify_subscriber(self.connection, self.data, payload)

    async def stream(self, n: int, start: int = 0) -> None:
        for i in range(start, start + n):
            await self.notify(i.to_bytes(4, "little") + bytes(40))


class Thermometer(Peripheral):
    """Another kind of peripheral: 16-bit service, manufacturer and service data, TX power."""

    def __init__(self, radio: VirtualRadio, name: str = "thermo") -> None:
        super().__init__(radio, name, service=OTHER_SERVICE)

    def advertising_data(self) -> bytes:
        adv = bytes(AdvertisingData([  # no flags: 31 bytes are tight
            (AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, (0x181A).to_bytes(2, "little")),
            (AdvertisingData.SHORTENED_LOCAL_NAME, b"th"),
            (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
            (AdvertisingData.MANUFACTURER_SPECIFIC_DATA, COMPANY.to_bytes(2, "little") + b"\x01\x02"),
            (AdvertisingData.SERVICE_DATA_16_BIT_UUID, (0x181A).to_bytes(2, "little") + b"\x07"),
            (AdvertisingData.TX_POWER_LEVEL, (-8).to_bytes(1, "little", signed=True)),
        ]))
        assert len(adv) <= 31
        return adv


async def setup(*names: str):
    radio = VirtualRadio.current()
    await radio.start()
    return [await Peripheral(radio, name).start() for name in names]


async def find(name: str) -> BLEDevice:
    device = await BleakScanner.find_device_by_name(name, timeout=2.0, backend=VirtualScanner)
    assert device is not None
    return device


def counters(payloads: list[bytearray]) -> list[int]:
    return [int.from_bytes(p[:4], "little") for p in payloads]


async def until(predicate, timeout: float = 20.0) -> None:
    """Wait for ``predicate()`` (the timeout guards against a hang)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


# ---------------------------------------------------------------------------
# scanning
# ---------------------------------------------------------------------------
def test_discover_reports_advertisement_data_and_filters_by_service():
    async def main():
        (left,) = await setup("insole-L")
        other = await Thermometer(VirtualRadio.current()).start()
        everything = await BleakScanner.discover(timeout=0.3, backend=VirtualScanner, return_adv=True)
        filtered = await BleakScanner.discover(timeout=0.3, backend=VirtualScanner, return_adv=True,
                                               service_uuids=[SERVICE.upper()])
        by_16_bit = await BleakScanner.discover(timeout=0.3, backend=VirtualScanner, return_adv=True,
                                                service_uuids=["181a"])
        return left, other, everything, filtered, by_16_bit

    left, other, everything, filtered, by_16_bit = run(main)
    left_address = left.device.public_address.to_string(False)
    other_address = other.device.public_address.to_string(False)
    assert {left_address, other_address} <= set(everything)
    assert set(filtered) == {left_address}
    assert set(by_16_bit) == {other_address}

    device, adv = filtered[left_address]
    assert device.address == left_address and left_address.startswith("C0:00:00:00:")
    assert device.name == "insole-L"
    assert isinstance(device.details, Address)
    assert adv.local_name == "insole-L"
    assert adv.service_uuids == [SERVICE]          # lowercase 128-bit, no duplicates
    assert adv.manufacturer_data == {} and adv.service_data == {} and adv.tx_power is None
    assert isinstance(adv.rssi, int) and adv.platform_data

    device, adv = everything[other_address]
    assert device.name == adv.local_name == "thermo"   # the complete name wins over the shortened one
    assert adv.service_uuids == ["0000181a-0000-1000-8000-00805f9b34fb"]
    assert adv.manufacturer_data == {COMPANY: b"\x01\x02"}
    assert adv.service_data == {"0000181a-0000-1000-8000-00805f9b34fb": b"\x07"}
    assert adv.tx_power == -8


def test_passive_scan_and_scanners_share_the_radio():
    async def main():
        await setup("insole-L")
        radio = VirtualRadio.current()
        seen: list[str] = []
        async with BleakScanner(lambda d, a: seen.append(a.local_name), scanning_mode="passive",
                                backend=VirtualScanner):
            await until(lambda: seen)
            async with BleakScanner(backend=VirtualScanner):
                pass                         # a second scanner stops ...
            seen.clear()
            await until(lambda: seen)        # ... without stopping the first
            assert radio.central.is_scanning
        assert not radio.central.is_scanning
        return seen

    assert set(run(main)) == {"insole-L"}


def test_scanner_stops_cleanly_when_cancelled_or_left_running_at_shutdown():
    async def main():
        await setup("insole-L")
        radio = VirtualRadio.current()

        async def scan_forever():
            async with BleakScanner(backend=VirtualScanner):
                await asyncio.sleep(3600)

        task = asyncio.create_task(scan_forever())
        await until(lambda: radio.central.is_scanning)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not radio.central.is_scanning
        asyncio.create_task(scan_forever())   # left for asyncio's shutdown to cancel
        await asyncio.sleep(0.05)

    run(main, allow_pending=True)


# ---------------------------------------------------------------------------
# connection and GATT
# ---------------------------------------------------------------------------
def test_connect_services_mtu_read_write_and_att_errors():
    async def main():
        (left,) = await setup("insole-L")
        device = await find("insole-L")
        async with BleakClient(device, backend=VirtualClient, timeout=2.0) as client:
            assert client.is_connected
            assert client.mtu_size == 247
            assert client.name == "insole-L"
            services = client.services
            service = services.get_service(SERVICE)
            assert service is not None
            data = services.get_characteristic(DATA)
            control = services.get_characteristic(CONTROL)
            info = services.get_characteristic(INFO)
            assert data.properties == ["notify"]
            assert sorted(control.properties) == ["write", "write-without-response"]
            assert info.properties == ["read"]
            assert {c.uuid for c in service.characteristics} == {DATA, CONTROL, INFO, SLOW}
            assert data.service_uuid == SERVICE and data.get_descriptor(CCCD) is not None
            assert services.get_characteristic(data.handle) is data
            assert control.max_write_without_response_size == 244

            assert await client.read_gatt_char(INFO) == bytearray(b"fw 1.2.3")
            assert await client.read_gatt_char(info) == b"fw 1.2.3"
            assert await client.read_gatt_char(info.handle) == b"fw 1.2.3"
            cccd = data.get_descriptor(CCCD)
            assert await client.read_gatt_descriptor(cccd.handle) == b"\x00\x00"

            await client.write_gatt_char(CONTROL, b"\x01\x02", response=True)
            assert left.writes == [b"\x01\x02"]
            await client.write_gatt_char(control, b"\x03", response=False)
            await until(lambda: len(left.writes) == 2)
            assert left.writes[-1] == b"\x03"

            for opcode, code in REJECT.items():
                with pytest.raises(BleakGATTProtocolError) as info_:
                    await client.write_gatt_char(CONTROL, bytes([opcode]), response=True)
                assert isinstance(info_.value, BleakError)
                assert info_.value.code == code
                assert f"0x{code:02X}" in str(info_.value)
            assert client.is_connected            # an ATT error does not drop the link
        assert not client.is_connected

    run(main)


def test_notifications_arrive_in_order_and_stop():
    async def main():
        (left,) = await setup("insole-L")
        received: list[bytearray] = []
        senders: list[BleakGATTCharacteristic] = []

        def on_data(sender: BleakGATTCharacteristic, payload: bytearray) -> None:
            senders.append(sender)
            received.append(payload)

        async with BleakClient(await find("insole-L"), backend=VirtualClient) as client:
            await client.start_notify(DATA, on_data)
            await left.stream(500)
            await until(lambda: len(received) == 500)
            assert counters(received) == list(range(500))
            assert all(type(p) is bytearray and len(p) == 44 for p in received)
            assert senders[0].uuid == DATA and all(s is senders[0] for s in senders)

            await client.stop_notify(DATA)
            await left.stream(20, start=500)
            await asyncio.sleep(0.05)
            assert len(received) == 500

            await client.start_notify(client.services.get_characteristic(DATA).handle, on_data)
            await left.stream(5, start=1000)
            await until(lambda: len(received) == 505)
            assert counters(received[500:]) == list(range(1000, 1005))

            other: list[bytearray] = []           # starting again replaces the callback
            await client.start_notify(DATA, lambda _c, p: other.append(p))
            await left.stream(3, start=2000)
            await until(lambda: len(other) == 3)
            assert len(received) == 505 and counters(other) == [2000, 2001, 2002]

    run(main)


def test_peripheral_disconnect_fires_callback_and_reconnect_works():
    async def main():
        (left,) = await setup("insole-L")
        device = await find("insole-L")
        dropped = asyncio.Event()
        calls: list[BleakClient] = []

        def on_disconnect(client: BleakClient) -> None:
            calls.append(client)
            dropped.set()

        client = BleakClient(device, on_disconnect, backend=VirtualClient, timeout=2.0)
        await client.connect()
        await left.connection.disconnect()
        await asyncio.wait_for(dropped.wait(), 20.0)  # a guard against hanging
        assert calls == [client] and not client.is_connected
        with pytest.raises(BleakError):
            await client.read_gatt_char(INFO)

        # the same client reconnects (the peripheral restarted advertising) ...
        await client.connect()
        received: list[bytearray] = []
        await client.start_notify(DATA, lambda _c, p: received.append(p))
        await left.stream(10)
        await until(lambda: len(received) == 10)
        await client.disconnect()
        assert len(calls) == 2                 # a local disconnect fires it too, like bleak's OS backends

        # ... and so does a new one (here discovering only the insole service)
        async with BleakClient(device, services=[SERVICE], backend=VirtualClient) as again:
            assert [s.uuid for s in again.services] == [SERVICE]
            assert await again.read_gatt_char(INFO) == b"fw 1.2.3"

    run(main)


def test_link_loss_during_a_request_raises_bleak_error():
    async def main():
        (left,) = await setup("insole-L")
        client = BleakClient(await find("insole-L"), backend=VirtualClient)
        await client.connect()
        read = asyncio.create_task(client.read_gatt_char(SLOW))
        await asyncio.sleep(0.05)
        await left.connection.disconnect()
        with pytest.raises(BleakError, match="disconnected"):
            await read
        left.release_slow.set()                 # let the server's pending read finish
        assert not client.is_connected

    run(main)


def test_connect_to_silent_address_times_out_and_radio_recovers():
    async def main():
        await setup("insole-L")
        silent = BLEDevice("C0:00:00:00:7F:7F", None, Address("C0:00:00:00:7F:7F"))
        loop = asyncio.get_running_loop()
        # each gives up after its own timeout, not at once (a hang would fail
        # on run()'s guard; no test here has a time budget)
        t0 = loop.time()
        with pytest.raises((asyncio.TimeoutError, BleakError)):
            await BleakClient(silent, backend=VirtualClient, timeout=1.0).connect()
        assert loop.time() - t0 >= 1.0 - 0.01

        t0 = loop.time()
        with pytest.raises(BleakDeviceNotFoundError):
            await BleakClient("C0:00:00:00:7F:7E", backend=VirtualClient, timeout=0.3).connect()
        assert loop.time() - t0 >= 0.3 - 0.01

        # the caller giving up (cancellation) mid-attempt must not wedge the controller either
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(BleakClient(silent, backend=VirtualClient, timeout=30).connect(), 0.2)

        # a string address that does advertise is found by scanning first
        address = (await find("insole-L")).address
        async with BleakClient(address, backend=VirtualClient, timeout=2.0) as client:
            assert client.is_connected and client.mtu_size == 247

    run(main)


def test_two_peripherals_connected_one_after_the_other_stream_together():
    async def main():
        left, right = await setup("insole-L", "insole-R")
        received: dict[str, list[bytearray]] = {"L": [], "R": []}
        clients = []
        for side in "LR":
            client = BleakClient(await find(f"insole-{side}"), backend=VirtualClient, timeout=2.0)
            await client.connect()
            await client.start_notify(DATA, lambda _c, p, side=side: received[side].append(p))
            clients.append(client)
        assert all(c.is_connected and c.mtu_size == 247 for c in clients)
        await asyncio.gather(left.stream(200), right.stream(200))
        await until(lambda: len(received["L"]) == len(received["R"]) == 200)
        assert counters(received["L"]) == counters(received["R"]) == list(range(200))
        for client in clients:
            await client.disconnect()

    run(main)
