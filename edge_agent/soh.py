"""The station's state of health: a sample of every sensor and MCA reading each interval,
and every `report_hours` a STAXSOH message made of those samples (docs/formats.md §3).

Quantities are named after what they are and end in their unit (`sample_flow_slpm`,
`cold_tip_temperature_k`, `hv_volts`), so the report converts each into the unit its
field needs from the name alone. A value a sample does not have is written -9999.999
("not measured"), never guessed. Pure functions: the engine reads the devices and keeps
the samples in the outbox; this module turns them into the blocks of the seed
(#AirSamplerFlow, #DetEnv, #PowerSupply, #EquipStatus, #ProcessSensors).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.formats import Soh, SohBlock, SohRow

if TYPE_CHECKING:
    from .config import SohConfig

__all__ = [
    "MISSING",
    "SohSample",
    "check_fields",
    "convert",
    "field_value",
    "make_soh",
    "period_start",
]

MISSING = "-9999.999"  # STAX's "not measured" (the seed's #AirSamplerFlow standard deviation)

# a quantity's unit suffix -> (unit family, factor, offset) to the family's SOH unit
_UNITS: dict[str, tuple[str, float, float]] = {
    "_c": ("C", 1.0, 0.0),
    "_k": ("C", 1.0, -273.15),
    "_m3_h": ("m3/h", 1.0, 0.0),
    "_m3_s": ("m3/h", 3600.0, 0.0),
    "_slpm": ("m3/h", 0.06, 0.0),  # standard litres per minute (Alicat)
    "_lpm": ("m3/h", 0.06, 0.0),
    "_volts": ("V", 1.0, 0.0),
    "_v": ("V", 1.0, 0.0),
    "_kv": ("V", 1000.0, 0.0),
    "_pct": ("%", 1.0, 0.0),
    "_na": ("nA", 1.0, 0.0),
    "_pa": ("nA", 1e-3, 0.0),
}
# the SOH unit of each numeric field; the others are states (ON/OFF, OPEN/CLOSED)
_FIELD_UNITS = {
    "sample_flow": "m3/h",
    "room_temperature": "C",
    "humidity": "%",
    "high_voltage": "V",
    "crystal_temperature": "C",
    "ln2_fill": "%",
    "leakage_current": "nA",
}
_STATES = {"shield": ("CLOSED", "OPEN"), "cooler": ("ON", "OFF")}  # (nonzero, zero)


@dataclass(frozen=True)
class SohSample:
    """What the station read at the end of one interval."""

    interval_start: datetime
    duration: float  # s
    values: Mapping[str, float] = field(default_factory=dict)
    srid: str | None = None  # the interval's spectrum, when one was made

    def to_json(self) -> dict:
        return {"values": dict(self.values), "srid": self.srid, "duration": self.duration}

    @classmethod
    def from_json(cls, interval_start: datetime, data: dict) -> SohSample:
        return cls(interval_start, float(data["duration"]), data["values"], data.get("srid"))


def _names(quantities: str | list[str]) -> list[str]:
    return [quantities] if isinstance(quantities, str) else list(quantities)


def convert(quantity: str, value: float, unit: str) -> float:
    """`value` of `quantity` (named with its unit suffix) in `unit`; ValueError when the
    name's unit is not one of `unit`'s family."""
    for suffix, (family, factor, offset) in sorted(_UNITS.items(), key=lambda u: -len(u[0])):
        if quantity.endswith(suffix) and family == unit:
            return value * factor + offset
    raise ValueError(
        f"{quantity!r} does not end in a unit convertible to {unit} "
        f"(known endings: {', '.join(s for s, u in _UNITS.items() if u[0] == unit)})"
    )


def check_fields(config: SohConfig) -> None:
    """Every numeric field's quantities must carry a unit the field can be converted from."""
    for key, unit in _FIELD_UNITS.items():
        for quantity in _names(getattr(config, key)):
            try:
                convert(quantity, 0.0, unit)
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None


def field_value(key: str, quantities: str | list[str], values: Mapping[str, float]) -> str:
    """One field's token: the first quantity present, converted; MISSING when none is."""
    for quantity in _names(quantities):
        value = values.get(quantity)
        if value is None:
            continue
        if key in _STATES:
            on, off = _STATES[key]
            return on if value > 0 else off
        if key in _FIELD_UNITS:
            return f"{convert(quantity, value, _FIELD_UNITS[key]):.4g}"
        return f"{value:.6g}"
    return MISSING


def _on_off(value: float | None) -> str:
    return MISSING if value is None else ("ON" if value > 0 else "OFF")


def period_start(t: datetime, hours: int) -> datetime:
    """The start of the report period (aligned on 00:00 UTC) that `t` falls in."""
    midnight = t.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + timedelta(hours=hours * (t.hour // hours))


def make_soh(
    *,
    station: str,
    detector: str,
    start: datetime,
    end: datetime,
    samples: Iterable[SohSample],
    config: SohConfig,
    transmit_time: datetime,
    cycle: timedelta,
) -> Soh:
    """The STAXSOH of [start, end): one row per interval in every block, also for intervals
    without a sample (the agent was not running), whose values are all MISSING."""
    by_interval = {s.interval_start: s for s in samples}
    intervals = []
    t = start
    while t < end:
        intervals.append(by_interval.get(t, SohSample(t, cycle.total_seconds())))
        t += cycle
    flow, detenv, power, equip, process = ([] for _ in range(5))
    seen = {q for s in intervals for q in s.values}
    sensors = [p for p in config.process_sensors if p.quantity in seen]
    detenv_keys = (
        "room_temperature",
        "shield",
        "humidity",
        "high_voltage",
        "crystal_temperature",
        "cooler",
        "ln2_fill",
        "leakage_current",
    )
    for s in intervals:

        def row(values, _s=s) -> SohRow:
            return SohRow(tuple(values), _s.interval_start, _s.duration)

        v = s.values
        flow.append(row([field_value("sample_flow", config.sample_flow, v), MISSING]))
        detenv.append(row(field_value(k, getattr(config, k), v) for k in detenv_keys))
        power.append(
            row(t for supply, q in config.power.items() for t in (supply, _on_off(v.get(q))))
        )
        srid = s.srid or MISSING
        equip.append(row(["C:", srid, "P:", srid, "A:", srid]))
        for p in sensors:
            value = v.get(p.quantity)
            process.append(row([p.type, p.name, MISSING if value is None else f"{value:.6g}"]))
    blocks = [
        SohBlock("AirSamplerFlow", flow),
        SohBlock("DetEnv", detenv),
        SohBlock("PowerSupply", power),
        SohBlock("EquipStatus", equip),
    ]
    if process:
        blocks.append(SohBlock("ProcessSensors", process))
    return Soh("STAXSOH", station, detector, start, end, transmit_time, blocks)
