"""From a stack release to counts in the chamber, and back: physics.md section 6 as functions.

Gas is branched off the stack, reaches the counting chamber after a transit time tau and
flows through it. For one counting interval dt (s):

    C = R / (Q_stack dt)                           mean stack concentration, Bq/m3 (reference)
    A = C V_c,ref e^(-lambda tau) f(lambda t_res)  mean activity in the chamber, Bq
    N = A eps I t_live                              expected full-energy counts of one line

with V_c,ref the chamber volume converted to the reference conditions of the stack flow,
t_res = V_c,ref / F_sample the residence time in the chamber and
f(x) = (1 - e^(-x)) / x the mean survival of an atom while it crosses the chamber (plug
flow). The inverse chain turns a net area into a release; MDR = MDC Q_stack dt.

Units throughout: Bq, m3, m3/s, s, kPa, K, 1/s; efficiencies and intensities as fractions.
Every function works on floats and on numpy arrays alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.formats.phd import StackConditions

# Stack flows are usually reported at 0 degC and one standard atmosphere.
REFERENCE_PRESSURE_KPA = 101.325
REFERENCE_TEMPERATURE_K = 273.15


# ----------------------------------------------------------------- conditions
def volume_at_reference(
    volume_m3,
    pressure_kpa,
    temperature_k,
    reference_pressure_kpa=REFERENCE_PRESSURE_KPA,
    reference_temperature_k=REFERENCE_TEMPERATURE_K,
):
    """V_ref = V (p / p0) (T0 / T): the gas of volume V at (p, T) at reference conditions (m3)."""
    return (
        np.asarray(volume_m3, dtype=float)
        * (pressure_kpa / reference_pressure_kpa)
        * (reference_temperature_k / temperature_k)
    )[()]


def residence_time(chamber_volume_ref_m3, sample_flow_m3_s):
    """t_res = V_c,ref / F_sample (s); both at the same reference conditions."""
    return (np.asarray(chamber_volume_ref_m3, dtype=float) / sample_flow_m3_s)[()]


def residence_time_factor(decay_constant, residence_time_s):
    """f = (1 - e^(-lambda t_res)) / (lambda t_res): mean survival while crossing the chamber.

    Tends to 1 when lambda t_res -> 0; expm1 keeps the small-x values exact, and x = 0
    (a stable nuclide, or no residence time) gives exactly 1.
    """
    x = np.asarray(decay_constant, dtype=float) * residence_time_s
    safe = np.where(x > 0, x, 1.0)
    return np.where(x > 0, -np.expm1(-safe) / safe, 1.0)[()]


def transit_decay_factor(decay_constant, transit_time_s):
    """e^(-lambda tau): the fraction that survives the transit from stack to chamber."""
    return np.exp(-np.asarray(decay_constant, dtype=float) * transit_time_s)[()]


# --------------------------------------------------------------- forward chain
def release_to_concentration(release_bq, stack_flow_m3_s, interval_s):
    """C = R / (Q_stack dt): Bq per interval -> mean stack concentration (Bq/m3, reference)."""
    return (np.asarray(release_bq, dtype=float) / (stack_flow_m3_s * interval_s))[()]


def concentration_to_chamber_activity(
    concentration_bq_m3, chamber_volume_ref_m3, decay_constant, transit_time_s, residence_time_s
):
    """A = C V_c,ref e^(-lambda tau) f: mean activity in the counting chamber (Bq)."""
    return (
        np.asarray(concentration_bq_m3, dtype=float)
        * chamber_volume_ref_m3
        * transit_decay_factor(decay_constant, transit_time_s)
        * residence_time_factor(decay_constant, residence_time_s)
    )[()]


def chamber_activity_to_net_area(activity_bq, efficiency, intensity, live_time_s):
    """N = A eps I t_live: expected full-energy counts of one line."""
    return (np.asarray(activity_bq, dtype=float) * efficiency * intensity * live_time_s)[()]


# --------------------------------------------------------------- inverse chain
def net_area_to_chamber_activity(net_area, efficiency, intensity, live_time_s):
    """A = N / (eps I t_live): chamber activity (Bq) from a line's net area (counts)."""
    return (np.asarray(net_area, dtype=float) / (efficiency * intensity * live_time_s))[()]


def chamber_activity_to_concentration(
    activity_bq, chamber_volume_ref_m3, decay_constant, transit_time_s, residence_time_s
):
    """C = A e^(lambda tau) / (V_c,ref f): mean stack concentration (Bq/m3, reference)."""
    return (
        np.asarray(activity_bq, dtype=float)
        / (
            chamber_volume_ref_m3
            * transit_decay_factor(decay_constant, transit_time_s)
            * residence_time_factor(decay_constant, residence_time_s)
        )
    )[()]


def concentration_to_release(concentration_bq_m3, stack_flow_m3_s, interval_s):
    """R = C Q_stack dt: Bq released in the interval. Applied to an MDC it gives the MDR."""
    return (np.asarray(concentration_bq_m3, dtype=float) * stack_flow_m3_s * interval_s)[()]


minimum_detectable_release = concentration_to_release  # MDR = MDC Q_stack dt


# ------------------------------------------------------- one chamber, one interval
@dataclass(frozen=True)
class FlowThroughChamber:
    """The transfer from stack to chamber for one counting interval.

    chamber_volume_ref_m3: the counting volume at the reference conditions of the flows;
    stack_flow_m3_s, sample_flow_m3_s: at those reference conditions; transit_time_s:
    stack to chamber; interval_s: the counting interval the release refers to.
    """

    chamber_volume_ref_m3: float
    stack_flow_m3_s: float
    sample_flow_m3_s: float
    transit_time_s: float
    interval_s: float

    @property
    def residence_time_s(self) -> float:
        return float(residence_time(self.chamber_volume_ref_m3, self.sample_flow_m3_s))

    @classmethod
    def from_stack(cls, stack: StackConditions, interval_s: float) -> FlowThroughChamber:
        """From a PHD's `#Stack` block: chamber_volume_m3 is the geometric volume at the
        chamber pressure and temperature; the flows are at the reference conditions."""
        needed = (
            "chamber_volume_m3",
            "stack_flow_m3_s",
            "sample_flow_m3_s",
            "transit_time_s",
            "chamber_pressure_kpa",
            "chamber_temperature_k",
        )
        missing = [name for name in needed if getattr(stack, name) is None]
        if missing:
            raise ValueError(f"#Stack lacks {', '.join(missing)}: cannot compute a release")
        p0 = stack.reference_pressure_kpa or REFERENCE_PRESSURE_KPA
        t0 = stack.reference_temperature_k or REFERENCE_TEMPERATURE_K
        return cls(
            chamber_volume_ref_m3=float(
                volume_at_reference(
                    stack.chamber_volume_m3,
                    stack.chamber_pressure_kpa,
                    stack.chamber_temperature_k,
                    p0,
                    t0,
                )
            ),
            stack_flow_m3_s=float(stack.stack_flow_m3_s),  # type: ignore[arg-type]
            sample_flow_m3_s=float(stack.sample_flow_m3_s),  # type: ignore[arg-type]
            transit_time_s=float(stack.transit_time_s),  # type: ignore[arg-type]
            interval_s=float(interval_s),
        )

    def chamber_activity_per_release(self, decay_constant):
        """A / R (Bq in the chamber per Bq released in the interval)."""
        return concentration_to_chamber_activity(
            1.0,
            self.chamber_volume_ref_m3,
            decay_constant,
            self.transit_time_s,
            self.residence_time_s,
        ) / (self.stack_flow_m3_s * self.interval_s)

    def release_to_concentration(self, release_bq):
        return release_to_concentration(release_bq, self.stack_flow_m3_s, self.interval_s)

    def concentration_to_release(self, concentration_bq_m3):
        return concentration_to_release(concentration_bq_m3, self.stack_flow_m3_s, self.interval_s)

    def release_to_chamber_activity(self, release_bq, decay_constant):
        """R (Bq per interval) -> mean chamber activity A (Bq)."""
        return concentration_to_chamber_activity(
            self.release_to_concentration(release_bq),
            self.chamber_volume_ref_m3,
            decay_constant,
            self.transit_time_s,
            self.residence_time_s,
        )

    def chamber_activity_to_release(self, activity_bq, decay_constant):
        """Mean chamber activity A (Bq) -> R (Bq per interval)."""
        return self.concentration_to_release(
            chamber_activity_to_concentration(
                activity_bq,
                self.chamber_volume_ref_m3,
                decay_constant,
                self.transit_time_s,
                self.residence_time_s,
            )
        )

    def release_to_net_area(self, release_bq, decay_constant, efficiency, intensity, live_time_s):
        """R -> expected full-energy counts N of a line (eps, I as fractions)."""
        return chamber_activity_to_net_area(
            self.release_to_chamber_activity(release_bq, decay_constant),
            efficiency,
            intensity,
            live_time_s,
        )

    def net_area_to_release(self, net_area, decay_constant, efficiency, intensity, live_time_s):
        """A line's net area N (counts) -> R (Bq per interval)."""
        return self.chamber_activity_to_release(
            net_area_to_chamber_activity(net_area, efficiency, intensity, live_time_s),
            decay_constant,
        )

    def mdc_to_mdr(self, mdc_bq_m3):
        """MDR = MDC Q_stack dt (Bq per interval)."""
        return minimum_detectable_release(mdc_bq_m3, self.stack_flow_m3_s, self.interval_s)


def release_to_chamber_activity(
    release_bq,
    stack_flow_m3_s,
    interval_s,
    chamber_volume_ref_m3,
    decay_constant,
    transit_time_s,
    residence_time_s,
):
    """R (Bq per interval) -> mean chamber activity A (Bq): C = R/(Q dt), A = C V e^(-lambda tau) f."""
    return concentration_to_chamber_activity(
        release_to_concentration(release_bq, stack_flow_m3_s, interval_s),
        chamber_volume_ref_m3,
        decay_constant,
        transit_time_s,
        residence_time_s,
    )


def net_area_to_release(
    net_area,
    efficiency,
    intensity,
    live_time_s,
    stack_flow_m3_s,
    interval_s,
    chamber_volume_ref_m3,
    decay_constant,
    transit_time_s,
    residence_time_s,
):
    """A line's net area N (counts) -> R (Bq per interval), the inverse of the forward chain."""
    return concentration_to_release(
        chamber_activity_to_concentration(
            net_area_to_chamber_activity(net_area, efficiency, intensity, live_time_s),
            chamber_volume_ref_m3,
            decay_constant,
            transit_time_s,
            residence_time_s,
        ),
        stack_flow_m3_s,
        interval_s,
    )
