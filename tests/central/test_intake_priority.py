"""The re-analysis yields the CPU to the intake: its worker nices itself and, where Linux
shares CPU time out per session (autogroup), its session too (central/worker.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from central.worker import lower_priority

AUTOGROUP = Path("/proc/self/autogroup")


@pytest.mark.skipif(not AUTOGROUP.exists(), reason="no autogroup on this kernel")
def test_a_worker_in_a_session_of_its_own_lowers_that_session():
    code = (
        "from pathlib import Path; from central.worker import lower_priority; "
        "lower_priority(10); import os; "
        "print(os.nice(0), Path('/proc/self/autogroup').read_text().split()[-1])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        start_new_session=True,  # as central/serve.py starts it
        cwd=Path(__file__).resolve().parents[2],
    ).stdout.split()
    assert int(out[0]) >= 10 and out[1] == "10"


def test_without_autogroup_only_the_process_is_niced(tmp_path, monkeypatch):
    niced = []
    monkeypatch.setattr(os, "nice", lambda n: niced.append(n) or n)
    lower_priority(10, autogroup=tmp_path / "missing" / "autogroup")  # no such file: fine
    assert niced == [10]
