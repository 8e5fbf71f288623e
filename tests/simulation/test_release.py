"""The release arithmetic of physics.md section 6, checked against hand computation."""

import math

import numpy as np
import pytest

from shared.formats.phd import StackConditions
from shared.release import (
    FlowThroughChamber,
    chamber_activity_to_net_area,
    concentration_to_chamber_activity,
    minimum_detectable_release,
    net_area_to_chamber_activity,
    net_area_to_release,
    release_to_chamber_activity,
    release_to_concentration,
    residence_time,
    residence_time_factor,
    volume_at_reference,
)

XE133_LAMBDA = math.log(2) / (5.2474 * 86400)


def test_volume_at_reference_conditions():
    # 1.7 L at 100 kPa and 300 K is 1.7 * (100/101.325) * (273.15/300) L at 0 degC, 1 atm
    assert volume_at_reference(0.0017, 100.0, 300.0) == pytest.approx(
        0.0017 * 100.0 / 101.325 * 273.15 / 300.0, rel=1e-15
    )
    assert volume_at_reference(2.0, 101.325, 273.15) == pytest.approx(2.0)


def test_residence_time_factor_by_hand_and_in_the_limit():
    lam, t_res = math.log(2) / 60.0, 60.0  # one half-life in the chamber
    assert residence_time_factor(lam, t_res) == pytest.approx(0.5 / math.log(2), rel=1e-14)
    assert residence_time_factor(0.0, 10.0) == 1.0
    assert residence_time_factor(1e-20, 5.0) == pytest.approx(1.0, abs=1e-15)
    small = residence_time_factor(1e-9, 1.0)
    assert small == pytest.approx(1.0 - 0.5e-9, rel=1e-15)
    values = residence_time_factor(np.array([0.0, 1e-3, 1.0]), 1.0)
    assert values.tolist() == pytest.approx([1.0, (1 - math.exp(-1e-3)) / 1e-3, 1 - math.exp(-1)])


def test_forward_chain_by_hand():
    release, q, dt = 1.0e10, 20.0, 900.0
    v_ref, tau, t_res = 1.5e-3, 10.0, 6.0
    c = release_to_concentration(release, q, dt)
    assert c == pytest.approx(1.0e10 / 18000.0)
    a = concentration_to_chamber_activity(c, v_ref, XE133_LAMBDA, tau, t_res)
    x = XE133_LAMBDA * t_res
    hand = c * v_ref * math.exp(-XE133_LAMBDA * tau) * (1 - math.exp(-x)) / x
    assert a == pytest.approx(hand, rel=1e-12)
    assert release_to_chamber_activity(release, q, dt, v_ref, XE133_LAMBDA, tau, t_res) == (
        pytest.approx(hand, rel=1e-12)
    )
    n = chamber_activity_to_net_area(a, 0.054, 0.37, 899.5)
    assert n == pytest.approx(hand * 0.054 * 0.37 * 899.5)
    assert net_area_to_chamber_activity(n, 0.054, 0.37, 899.5) == pytest.approx(a, rel=1e-14)


def test_release_to_counts_and_back():
    lam = math.log(2) / (2.84 * 3600)  # Kr-88: the residence-time factor matters
    releases = np.array([1e7, 3e9, 1e12])
    kwargs = dict(
        stack_flow_m3_s=17.0,
        interval_s=900.0,
        chamber_volume_ref_m3=1.55e-3,
        decay_constant=lam,
        transit_time_s=12.0,
        residence_time_s=residence_time(1.55e-3, 2.5e-4),
    )
    a = release_to_chamber_activity(releases, **kwargs)
    n = chamber_activity_to_net_area(a, 0.0045, 0.346, 898.0)
    back = net_area_to_release(n, 0.0045, 0.346, 898.0, **kwargs)
    np.testing.assert_allclose(back, releases, rtol=1e-13)


def test_flow_through_chamber_from_a_stack_block():
    stack = StackConditions(
        chamber_volume_m3=0.0017,
        stack_flow_m3_s=19.0,
        sample_flow_m3_s=2.5e-4,
        transit_time_s=8.0,
        chamber_pressure_kpa=100.4,
        chamber_temperature_k=296.0,
        reference_pressure_kpa=101.325,
        reference_temperature_k=273.15,
    )
    ch = FlowThroughChamber.from_stack(stack, 900.0)
    v_ref = 0.0017 * 100.4 / 101.325 * 273.15 / 296.0
    assert ch.chamber_volume_ref_m3 == pytest.approx(v_ref, rel=1e-15)
    assert ch.residence_time_s == pytest.approx(v_ref / 2.5e-4)
    a = ch.release_to_chamber_activity(5e9, XE133_LAMBDA)
    assert a == pytest.approx(5e9 * ch.chamber_activity_per_release(XE133_LAMBDA), rel=1e-14)
    assert ch.chamber_activity_to_release(a, XE133_LAMBDA) == pytest.approx(5e9, rel=1e-14)
    n = ch.release_to_net_area(5e9, XE133_LAMBDA, 0.05, 0.37, 899.0)
    assert ch.net_area_to_release(n, XE133_LAMBDA, 0.05, 0.37, 899.0) == pytest.approx(5e9)
    assert ch.mdc_to_mdr(100.0) == pytest.approx(100.0 * 19.0 * 900.0)
    assert minimum_detectable_release(100.0, 19.0, 900.0) == pytest.approx(1.71e6)


def test_a_stack_block_without_flows_cannot_give_a_release():
    with pytest.raises(ValueError, match="stack_flow_m3_s"):
        FlowThroughChamber.from_stack(StackConditions(chamber_volume_m3=0.0017), 900.0)
