"""From the mean activity in the counting chamber to concentration and release.

For a flow-through chamber (physics notes, section 6):
    V_ref = V_c (p / p0) (T0 / T)                      chamber volume at reference conditions
    C     = A e^(lambda tau) / V_ref * lambda t_res / (1 - e^(-lambda t_res)),  t_res = V_ref / F_s
    R     = C Q_stack dt                               Bq released in the interval dt
where A = N / (eps I t_live) is the chamber's mean activity, tau the transit time from the
stack to the chamber, F_s the sample flow and Q_stack the stack flow (both at reference
conditions). The reference conditions default to 0 degC and 101.325 kPa. Written for
the central method alone; the station method has its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from shared.formats.phd import StackConditions

# Stack flows are reported at 0 degC and one standard atmosphere unless #Stack says otherwise.
REFERENCE_PRESSURE_KPA = 101.325
REFERENCE_TEMPERATURE_K = 273.15
NEEDED = (
    "chamber_volume_m3",
    "stack_flow_m3_s",
    "sample_flow_m3_s",
    "transit_time_s",
    "chamber_pressure_kpa",
    "chamber_temperature_k",
)


@dataclass(frozen=True)
class ReleaseFactors:
    concentration_per_bq: float  # Bq/m3 (reference conditions) per Bq in the chamber
    release_per_bq: float  # Bq per interval per Bq in the chamber
    half_life_rel: float = 0.0  # u(factor)/factor from the half-life's uncertainty


def missing(stack: StackConditions | None) -> list[str]:
    """The #Stack values a release needs and this block lacks."""
    if stack is None:
        return ["the #Stack block"]
    return [name for name in NEEDED if getattr(stack, name) is None]


def chamber_volume_ref(stack: StackConditions) -> float:
    p0 = stack.reference_pressure_kpa or REFERENCE_PRESSURE_KPA
    t0 = stack.reference_temperature_k or REFERENCE_TEMPERATURE_K
    p, t = stack.chamber_pressure_kpa, stack.chamber_temperature_k
    return float(stack.chamber_volume_m3) * (p / p0) * (t0 / t)


def residence_correction(decay_constant: float, residence_s: float) -> float:
    """lambda t / (1 - e^(-lambda t)): the chamber holds older gas than it receives."""
    x = decay_constant * residence_s
    return x / -math.expm1(-x) if x > 1e-12 else 1.0


def half_life_sensitivity(decay_constant: float, transit_s: float, residence_s: float) -> float:
    """lambda d ln(factor) / d lambda = -T d ln(factor) / dT of both factors: the factor is
    e^(lambda tau) lambda t / (1 - e^(-lambda t)), whose log's derivative in lambda is
    tau + 1/lambda - t / (e^(lambda t) - 1)."""
    x = decay_constant * residence_s
    if x < 1e-4:  # 1/lambda - t/(e^x - 1) = t (1/x - 1/(e^x - 1)) -> t (1/2 - x/12)
        residence_term = residence_s * (0.5 - x / 12.0)
    else:
        residence_term = 1.0 / decay_constant - residence_s / math.expm1(x)
    return decay_constant * (transit_s + residence_term)


def release_factors(
    stack: StackConditions | None,
    decay_constant: float,
    interval_s: float,
    half_life_rel_unc: float = 0.0,
) -> ReleaseFactors | None:
    """None when #Stack lacks a value a release needs (see `missing`) or has a zero."""
    if missing(stack) or not (stack.chamber_volume_m3 > 0 and stack.sample_flow_m3_s > 0):
        return None
    if not (stack.chamber_pressure_kpa > 0 and stack.chamber_temperature_k > 0):
        return None
    v_ref = chamber_volume_ref(stack)
    factor = math.exp(decay_constant * stack.transit_time_s) / v_ref
    factor *= residence_correction(decay_constant, v_ref / stack.sample_flow_m3_s)
    # u(T)/T is u(lambda)/lambda: the half-life's share of the factors' uncertainty
    hl = abs(
        half_life_sensitivity(decay_constant, stack.transit_time_s, v_ref / stack.sample_flow_m3_s)
    )
    return ReleaseFactors(
        factor, factor * stack.stack_flow_m3_s * interval_s, hl * half_life_rel_unc
    )
