"""Alicat mass flow meters and controllers over their serial ASCII protocol.

Poll `A\\r` (A = the unit id) -> `A +014.70 +025.00 +02.004 +02.004 2.000 Air\\r`: unit id,
absolute pressure (psia by default), temperature (degC), volumetric flow (L/min),
mass flow (SLPM), set-point, gas; status codes (MOV, VOV, HLD, ...) may follow. Reference
for the fields: numat/alicat. Quantities: `sample_pressure_kpa`, `sample_temperature_c`,
`sample_volumetric_flow_lpm`, `sample_flow_slpm`, `sample_flow_setpoint_slpm`.
"""

from __future__ import annotations

from .base import DeviceError, DeviceProtocolError, Sensor, Transport

__all__ = ["PSI_KPA", "STATUS_CODES", "AlicatFlowMeter"]

PSI_KPA = 6.894757  # kPa per psi
TERMINATOR = b"\r"
# status codes an Alicat appends when a reading is not to be trusted
STATUS_CODES = {
    "ADC": "internal communication error",
    "EXH": "exhaust valve open",
    "HLD": "valve held",
    "LCK": "display locked",
    "MOV": "mass flow over range",
    "OPL": "over pressure limit",
    "POV": "pressure over range",
    "TMF": "totalizer missed data",
    "TOV": "temperature over range",
    "VOV": "volumetric flow over range",
}
HARMLESS = {"LCK", "HLD"}  # the readings are still good


class AlicatFlowMeter(Sensor):
    def __init__(self, transport: Transport, unit_id: str = "A", name: str | None = None):
        if len(unit_id) != 1 or not unit_id.isalpha():
            raise ValueError(f"an Alicat unit id is one letter A-Z, not {unit_id!r}")
        self.transport = transport
        self.unit_id = unit_id.upper()
        self.name = name or f"Alicat flow meter {self.unit_id} on {transport.description}"

    def read(self) -> dict[str, float]:
        line = self.transport.query(self.unit_id.encode() + TERMINATOR, TERMINATOR)
        text = line[:-1].decode("ascii", "replace").strip()
        fields = text.split()
        if len(fields) < 7 or fields[0] != self.unit_id:
            raise DeviceProtocolError(
                f"{self.name}: unreadable data frame {line[:60]!r} (expected '{self.unit_id} "
                "+pressure +temperature +flow +mass flow setpoint gas'; check the unit id and "
                "the baud rate)"
            )
        try:
            pressure, temperature, volumetric, mass, setpoint = (float(f) for f in fields[1:6])
        except ValueError:
            raise DeviceProtocolError(f"{self.name}: unreadable numbers in {text!r}") from None
        bad = [c for c in fields[7:] if c not in HARMLESS]
        if bad:
            what = ", ".join(f"{c} ({STATUS_CODES.get(c, 'unknown status')})" for c in bad)
            raise DeviceError(f"{self.name}: the meter reports {what}; readings not used")
        return {
            "sample_pressure_kpa": round(pressure * PSI_KPA, 3),
            "sample_temperature_c": temperature,
            "sample_volumetric_flow_lpm": volumetric,
            "sample_flow_slpm": mass,
            "sample_flow_setpoint_slpm": setpoint,
        }

    def close(self) -> None:
        self.transport.close()
