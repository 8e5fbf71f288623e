"""benchmarks/analysis/mismatch_focus.py: is a small sample's pull SD within sampling error?"""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from benchmarks.analysis.mismatch_focus import (
    chance_of_sd_at_most,
    parse_observed,
    subset_sd_spread,
)


def test_the_chance_of_a_low_sd_follows_chi_square():
    # the median of chi^2(60) is about 59.3: an SD of sqrt(59.3/60) is the median SD
    assert chance_of_sd_at_most(np.sqrt(59.335 / 60), 1.0, 61) == pytest.approx(0.5, abs=2e-3)
    # the suite's 0.83 on 61 spectra, were the true SD 1: about 3 %
    assert chance_of_sd_at_most(0.83, 1.0, 61) == pytest.approx(0.031, abs=0.003)
    assert chance_of_sd_at_most(0.83, 0.83, 61) > 0.45
    with pytest.raises(ValueError, match="n >= 2"):
        chance_of_sd_at_most(0.8, 1.0, 1)


def test_subsets_of_normal_pulls_scatter_as_the_sd_interval_says():
    pulls = np.random.default_rng(3).standard_normal(600)
    s = subset_sd_spread(pulls, 61, draws=3000, seed=1)
    lo, hi = np.percentile(s, [2.5, 97.5])
    # 1 +- 1.96/sqrt(120) = 0.82-1.18, a little narrower without replacement
    assert 0.80 < lo < 0.87 and 1.13 < hi < 1.20
    assert np.median(s) == pytest.approx(np.std(pulls, ddof=1), abs=0.02)
    with pytest.raises(ValueError, match="subset size"):
        subset_sd_spread(pulls, 601)


def test_observed_is_read_as_sd_and_count():
    assert parse_observed("0.83:61") == (0.83, 61)
    with pytest.raises(argparse.ArgumentTypeError, match="SD:N"):
        parse_observed("0.83")
