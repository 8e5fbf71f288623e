"""Simulated SAMPLEPHDs with known chamber activities, from the project's simulator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from shared.formats.phd import Phd, StackConditions
from shared.formats.sample_phd import make_sample_phd
from shared.release import FlowThroughChamber
from shared.simulation.detector import (
    DetectorModel,
    default_detector,
    efficiency_points,
    energy_points,
    resolution_points,
)
from shared.simulation.spectrum import ExpectedSpectrum, expected_spectrum, sample

REAL_TIME_S = 900.0
T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
STACK = StackConditions(
    chamber_volume_m3=0.0017,
    stack_flow_m3_s=20.0,
    sample_flow_m3_s=1.0e-4,
    transit_time_s=60.0,
    chamber_pressure_kpa=101.3,
    chamber_temperature_k=293.15,
    reference_pressure_kpa=101.325,
    reference_temperature_k=273.15,
)


@dataclass
class Simulated:
    phd: Phd
    expected: ExpectedSpectrum
    sources: dict[str, float]

    def truth(self, nuclide: str) -> float:
        return self.sources.get(nuclide, 0.0)

    def area(self, nuclide: str, energy_kev: float) -> float:
        """Expected full-energy counts of one line from the chamber."""
        return sum(
            ln.area
            for ln in self.expected.lines
            if ln.nuclide == nuclide
            and ln.origin == "chamber"
            and abs(ln.energy_kev - energy_kev) < 0.05
        )

    def resample(self, seed: int) -> Phd:
        return _phd(self.expected, sample(self.expected, seed), self.phd.stack)


def simulate(
    sources: dict[str, float],
    seed: int = 1,
    gain_drift: float = 0.0,
    detector: DetectorModel | None = None,
    stack: StackConditions | None = STACK,
    library=None,
) -> Simulated:
    """One sampled spectrum of `sources` (Bq in the chamber) with the ambient background
    (library: the world's nuclear data, when it differs from the analyses')."""
    det = detector or default_detector()
    exp = expected_spectrum(
        det, sources, real_time=REAL_TIME_S, gain_drift=gain_drift, library=library
    )
    return Simulated(_phd(exp, sample(exp, seed), stack), exp, dict(sources))


def release_truth(sim: Simulated, nuclide: str, decay_constant: float) -> float:
    chamber = FlowThroughChamber.from_stack(sim.phd.stack, REAL_TIME_S)
    return float(chamber.chamber_activity_to_release(sim.truth(nuclide), decay_constant))


def _phd(exp: ExpectedSpectrum, counts: np.ndarray, stack: StackConditions | None) -> Phd:
    det = exp.detector
    return make_sample_phd(
        station="TST01",
        detector="TST01_001",
        counts=counts,
        energy_span_kev=det.energy_span_kev,
        collection_start=T0,
        collection_stop=T0 + timedelta(seconds=REAL_TIME_S),
        sampled_volume_m3=0.09,
        acquisition_start=T0,
        real_time_s=exp.real_time,
        live_time_s=round(exp.live_time, 3),
        calibration_time=T0 - timedelta(days=30),
        energy_points=energy_points(det),
        resolution_points=resolution_points(det),
        efficiency_points=efficiency_points(det),
        stack=stack,
    )
