"""`python -m central.web --config FILE`: the command the intake starts as a child."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request

from .helpers import free_port


def write_config(tmp_path, config) -> str:
    path = tmp_path / "central.toml"
    path.write_text(
        f"""
[intake]
server_cert = "server.pem"
server_key = "server.key"
ca_cert = "ca.pem"

[storage]
data_dir = "{config.storage.data_dir}"

[web]
host = "127.0.0.1"
port = 1
secret_key_file = "web-secret.key"
"""
    )
    return str(path)


def get(url: str) -> tuple[int, str]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", "")


def test_the_command_serves_the_login_page_on_the_port_given(tmp_path, config):
    port = free_port()
    command = [sys.executable, "-m", "central.web", "--config", write_config(tmp_path, config)]
    process = subprocess.Popen(
        [*command, "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, text = get(f"http://127.0.0.1:{port}/login")
                break
            except OSError:
                assert process.poll() is None, process.stdout.read().decode()
                assert time.monotonic() < deadline, "the web UI did not start in 30 s"
                time.sleep(0.2)
        assert status == 200
        assert "STAX monitor" in text
        assert get(f"http://127.0.0.1:{port}/received") == (302, "/login?next=/received")
        assert (tmp_path / "web-secret.key").stat().st_mode & 0o777 == 0o600
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def test_a_bad_configuration_stops_it_with_the_file_and_key_named(tmp_path):
    path = tmp_path / "central.toml"
    path.write_text(
        '[intake]\nserver_cert = "a"\nserver_key = "b"\nca_cert = "c"\n[web]\nport = "x"\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "central.web", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"{path}: [web] port: expected an integer" in result.stderr
