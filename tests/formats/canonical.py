"""The canonical STAX-like SAMPLEPHD under tests/data/: what our writer produces, byte for byte.

The file is committed so that any change of the writer's layout shows up in review.
After a deliberate change, regenerate it with `python -m tests.formats.canonical`.
Counts come from Python's `random.random()`, whose sequence for a seed is stable across
Python versions (numpy's distributions are not promised to be).
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from shared.formats import (
    Acquisition,
    Collection,
    EfficiencyPoint,
    EnergyPoint,
    Message,
    Phd,
    PhdHeader,
    ResolutionPoint,
    Spectrum,
    StackConditions,
    write_message,
)

CANONICAL = (
    Path(__file__).resolve().parents[1]
    / "data"
    / "AUS02_856022299609035337_PHD_2023_11_17T14_15_00.TXT"
)
CHANNELS = 16384
SPAN_KEV = 3000.0
SEED = 20231117

# (energy keV, counts in the peak): Xe-133 and its x-rays, Xe-135, radon progeny, K-40
PEAKS = [(30.9, 9000), (81.0, 25000), (249.8, 2500), (351.9, 900), (609.3, 700), (1460.8, 300)]


def _poisson(mean: float, rng: random.Random) -> int:
    if mean < 30:  # Knuth: multiply uniforms until below e^-mean
        limit, k, p = math.exp(-mean), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    # Box-Muller from random() alone
    u1, u2 = 1.0 - rng.random(), rng.random()
    z = math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
    return max(0, round(mean + z * math.sqrt(mean)))


def _counts(rng: random.Random) -> np.ndarray:
    kev = SPAN_KEV / CHANNELS
    out = []
    for ch in range(CHANNELS):
        e = (ch + 0.5) * kev
        mean = 0.1 + 40 * math.exp(-e / 150) + 2 * math.exp(-e / 1500)
        for e0, area in PEAKS:
            sigma = math.sqrt(0.6 + 0.0015 * e0) / 2.3548
            if abs(e - e0) < 6 * sigma:
                mean += (
                    area
                    * kev
                    / (sigma * math.sqrt(2 * math.pi))
                    * math.exp(-0.5 * ((e - e0) / sigma) ** 2)
                )
        out.append(_poisson(mean, rng))
    return np.array(out, dtype=np.int64)


def canonical_message() -> Message:
    start = datetime(2023, 11, 17, 14, 15, tzinfo=UTC)
    stop = datetime(2023, 11, 17, 14, 30, tzinfo=UTC)
    phd = Phd(
        data_type="SAMPLEPHD",
        header=PhdHeader(
            station="AUS02",
            detector="AUS02_001",
            system_type="P",
            geometry="Marinelli",
            qualifier="FULL",
            srid="SM02202311171415",
            measurement_id="AUS02_001-2023/11/17-14:15",
            transmit_time=datetime(2023, 11, 17, 14, 31, 2, tzinfo=UTC),
        ),
        comment="simulated for stax-monitor tests (seed 20231117)",
        # as STAX writes it: no air volume (flow-through), then numbers of its own
        collection=Collection(start, stop, 0.0, ("0.01700", "21.2250", "-999.99")),
        acquisition=Acquisition(start, 900.0, 896.436),
        calibration_time=datetime(2023, 11, 1, 4, 6, 46, tzinfo=UTC),
        sample=(-999.0, -999.0),
        stack=StackConditions(
            chamber_volume_m3=0.0017,
            stack_flow_m3_s=21.225,
            sample_flow_m3_s=0.000283,
            transit_time_s=12.0,
            chamber_pressure_kpa=101.1,
            chamber_temperature_k=295.4,
            reference_pressure_kpa=101.325,
            reference_temperature_k=273.15,
        ),
        g_energy=[
            EnergyPoint(e, round(e / SPAN_KEV * CHANNELS, 3), 0.05)
            for e in (46.5390, 81.0, 351.932, 609.312, 1460.822)
        ],
        g_resolution=[
            ResolutionPoint(e, round(math.sqrt(0.6 + 0.0015 * e), 4), 0.01)
            for e in (46.5390, 81.0, 351.932, 609.312, 1460.822)
        ],
        g_efficiency=[
            EfficiencyPoint(e, round(0.05 * (e / 100) ** -0.8 if e > 100 else 0.05, 6), 0.001)
            for e in (46.5390, 81.0, 351.932, 609.312, 1460.822)
        ],
        g_spectrum=Spectrum(CHANNELS, SPAN_KEV, _counts(random.Random(SEED))),
    )
    return Message([phd], msg_id="856022299609035337", msg_source="AUS02", format="STX1.0")


if __name__ == "__main__":
    CANONICAL.parent.mkdir(parents=True, exist_ok=True)
    CANONICAL.write_bytes(write_message(canonical_message()).encode("ascii"))
    print(f"wrote {CANONICAL}")
