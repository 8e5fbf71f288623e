"""Drivers: the vendor-neutral interface (base.py) and one module per device family;
emulators of each device in `emulators/`.

`open_hardware` opens what the configuration names: the `[mca]` driver over its transport
and every `[[sensors]]` table. MCA drivers: simulated, ortec-mcb, amptek-dp5,
vendor-files; sensors: alicat, cryotel, modbus.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import DeviceError, Hardware, Sensor

if TYPE_CHECKING:
    from ..clock import Clock
    from ..config import AgentConfig, McaConfig, SensorConfig
    from .base import Mca

__all__ = ["open_hardware", "open_mca", "open_mca_driver", "open_sensor"]

SENSOR_BAUDRATES = {"alicat": 19200, "cryotel": 4800, "modbus": 9600}


def open_mca_driver(mca: McaConfig, clock: Clock) -> Mca:
    """The MCA of a real driver (not the simulated one, which comes with its world)."""
    from .base import open_transport

    if mca.driver == "ortec-mcb":
        from .ortec import OrtecMcb

        port = open_transport(mca.port, baudrate=mca.baudrate or 9600, timeout=mca.timeout_seconds)
        return OrtecMcb(port)
    if mca.driver == "amptek-dp5":
        from .amptek import AmptekDp5

        port = open_transport(
            mca.port, baudrate=mca.baudrate or 115200, timeout=mca.timeout_seconds
        )
        return AmptekDp5(port)
    if mca.driver == "vendor-files":
        from .vendor_files import VendorFilesMca

        return VendorFilesMca(
            mca.folder,
            clock,
            channels=mca.channels,
            timezone=mca.timezone,
            settle_seconds=mca.settle_seconds,
            wait_seconds=mca.wait_seconds,
        )
    raise DeviceError(f"[mca] driver: unknown driver {mca.driver!r}")


def open_sensor(sensor: SensorConfig) -> Sensor:
    """One `[[sensors]]` table's device."""
    from .base import open_transport

    baudrate = sensor.baudrate or SENSOR_BAUDRATES[sensor.driver]
    if sensor.driver == "modbus":
        from .modbus import ModbusSensor

        return ModbusSensor(
            sensor.port,
            [r.register() for r in sensor.registers],
            framing=sensor.framing,
            unit=sensor.unit,
            baudrate=baudrate,
            timeout=sensor.timeout_seconds,
            name=sensor.name,
        )
    port = open_transport(sensor.port, baudrate=baudrate, timeout=sensor.timeout_seconds)
    if sensor.driver == "alicat":
        from .alicat import AlicatFlowMeter

        return AlicatFlowMeter(port, sensor.unit_id, name=sensor.name)
    if sensor.driver == "cryotel":
        from .cryotel import CryoTelGt

        return CryoTelGt(port, name=sensor.name)
    raise DeviceError(f"[[sensors]] driver: unknown driver {sensor.driver!r}")


def open_hardware(config: AgentConfig, clock: Clock) -> Hardware:
    """The MCA that `[mca] driver` names and the `[[sensors]]`. A device that cannot be
    opened is a DeviceError naming it; whatever was opened before is closed again."""
    if config.mca.driver == "simulated":
        from .simulated import open_simulated

        hardware = open_simulated(config, clock)
    else:
        hardware = Hardware(mca=open_mca_driver(config.mca, clock))
    try:
        for sensor in config.sensors:
            hardware.sensors.append(open_sensor(sensor))
    except Exception:
        hardware.close()
        raise
    return hardware


open_mca = open_hardware  # the name service.py knows
