"""Shared test fixtures: paths to the real files beside the repository."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PHD_FIXTURES = SHARED / "fixtures" / "phd"


@pytest.fixture
def phd_fixtures() -> list[Path]:
    files = sorted(p for p in PHD_FIXTURES.iterdir() if p.name != "SOURCES.txt")
    assert files, f"no PHD fixtures in {PHD_FIXTURES}"
    return files
