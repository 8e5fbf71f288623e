"""The data folder and the database are the central's alone: made 0700/0600, and
`stax central serve` refuses to start when other users could read them."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from central.permissions import TooOpen, check_private, make_private_dir
from central.store import Store

from .intake_harness import free_port, write_config
from .test_serve import wait_for_health

REPO = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def serve(config_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "stax", "central", "serve", "--config", str(config_path)],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_refuses_a_data_folder_others_can_read_then_runs_once_fixed(network, tmp_path):
    port = free_port()
    config_path = write_config(tmp_path, network, port)
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    (data / "central.sqlite").touch()
    os.chmod(data / "central.sqlite", 0o644)

    process = serve(config_path)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2, err
    assert "[storage] data_dir is readable by other users" in err
    assert "central.sqlite (mode 644)" in err and f"chmod -R go-rwx {data}" in err

    subprocess.run(["chmod", "-R", "go-rwx", str(data)], check=True)
    (data / "central.sqlite").unlink()  # and let the server make everything itself
    data.rmdir()
    process = serve(config_path)
    try:
        assert wait_for_health(port, network)["status"] == "ok"
        modes = {p.name: mode(p) for p in data.iterdir()}
        assert mode(data) == 0o700
        assert modes == {"central.sqlite": 0o600, "central.sqlite-wal": 0o600,
                         "central.sqlite-shm": 0o600}  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


def test_a_store_makes_its_folder_and_files_private(tmp_path):
    old = os.umask(0o022)  # the usual umask, whatever the test runner's
    try:
        with Store(tmp_path / "new" / "central.sqlite") as store, store.conn:
            store.conn.execute("select 1")
        assert mode(tmp_path / "new") == 0o700
        assert mode(tmp_path / "new" / "central.sqlite") == 0o600
    finally:
        os.umask(old)


def test_check_private_names_what_is_open_inside(tmp_path):
    folder = make_private_dir(tmp_path / "blobs")
    assert mode(folder) == 0o700
    check_private(folder, "the blob store")  # nothing open: no error
    (folder / "ab").mkdir()
    (folder / "ab" / "cdef").write_bytes(b"x")
    os.chmod(folder / "ab" / "cdef", 0o640)
    with pytest.raises(TooOpen, match=r"the blob store is readable .*cdef \(mode 640\)"):
        check_private(folder, "the blob store")


def test_check_reports_a_data_folder_others_can_read(network, tmp_path, capsys):
    from stax.cli import main

    config_path = write_config(tmp_path, network, free_port())
    assert main(["central", "check", "--config", str(config_path)]) == 0
    os.chmod(tmp_path / "data", 0o755)
    capsys.readouterr()
    assert main(["central", "check", "--config", str(config_path)]) == 2
    assert "chmod -R go-rwx" in capsys.readouterr().err
