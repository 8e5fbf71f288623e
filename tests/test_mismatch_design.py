"""benchmarks/analysis/mismatch_design.py: the mismatch category can test every nuclide."""

from __future__ import annotations

import argparse

import pytest

from benchmarks.analysis import run
from benchmarks.analysis.mismatch_design import (
    MIN_STRONG_SPECTRA,
    MISMATCH_DEFAULT_N,
    MISMATCH_MIN_COUNTS,
    MISMATCH_MIXTURES,
    mismatch_cases,
    mixture_counts,
    mixture_of,
    strong_spectra,
)
from benchmarks.analysis.spectra import REPORTED, benchmark_cases, counts_per_bq, simulate


def test_every_reported_nuclide_gets_enough_strong_spectra_in_a_default_run():
    # the expected line areas of the world each case is simulated in (no analysis)
    sims = [simulate(c) for c in mismatch_cases(MISMATCH_DEFAULT_N, 20261)]
    strong = strong_spectra(sims)
    assert set(strong) == set(REPORTED)
    for nuc in REPORTED:
        assert strong[nuc] >= MIN_STRONG_SPECTRA, (nuc, strong[nuc])
    # every spectrum is the mismatch category's, each in a world of its own
    assert {s.case.category for s in sims} == {"mismatch"}
    assert len({s.case.world["seed"] for s in sims}) == len(sims)


def test_each_mixture_draws_its_nuclides_at_1000_counts_or_more():
    for case in mismatch_cases(300, 5):
        drivers = MISMATCH_MIXTURES[mixture_of(case)][1]
        for nuc in drivers:
            if nuc in case.sources:  # xray: Xe-131m in three spectra of four
                assert case.truth(nuc) * counts_per_bq(nuc) >= MISMATCH_MIN_COUNTS, case.note
    assert mismatch_cases(50, 5) == mismatch_cases(50, 5)  # deterministic
    assert mismatch_cases(50, 5) != mismatch_cases(50, 6)


def test_the_mixtures_share_the_spectra_as_designed():
    counts = mixture_counts(MISMATCH_DEFAULT_N)
    assert sum(counts.values()) == MISMATCH_DEFAULT_N
    assert set(counts) == set(MISMATCH_MIXTURES)
    assert counts["xray"] == pytest.approx(1.5 * counts["krypton"], abs=2)
    assert sum(mixture_counts(7).values()) == 7 and mixture_counts(0) == dict.fromkeys(counts, 0)
    with pytest.raises(ValueError, match=">= 0"):
        mixture_counts(-1)


def test_a_mismatch_only_run_keeps_the_clean_blanks_and_nothing_else_of_the_clean_suite():
    clean = benchmark_cases(400, 3)
    cases = run.suite_cases(400, 3, ["mismatch"], mismatch_n=60)
    blanks = [c for c in clean if c.category == "blank"]
    assert cases[: len(blanks)] == blanks  # the clean cases as they are
    rest = cases[len(blanks) :]
    assert len(rest) == 60 and {c.category for c in rest} == {"mismatch"}
    assert [c.index for c in rest] == list(range(len(blanks), len(blanks) + 60))
    assert run.suite_cases(400, 3) == clean  # without --category: the clean suite alone
    assert run._count("0") == 0
    with pytest.raises(argparse.ArgumentTypeError, match=">= 0"):
        run._count("-3")
