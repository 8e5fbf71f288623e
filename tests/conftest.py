"""Shared test fixtures: paths to the real files beside the repository."""

import os
from pathlib import Path

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PHD_FIXTURES = SHARED / "fixtures" / "phd"


@pytest.fixture
def phd_fixtures() -> list[Path]:
    files = sorted(p for p in PHD_FIXTURES.iterdir() if p.name != "SOURCES.txt")
    assert files, f"no PHD fixtures in {PHD_FIXTURES}"
    return files


# In CI, property tests and fuzzing draw the same examples every run, so that a landing
# is never refused by a new random draw; locally they explore (and remember failures).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
