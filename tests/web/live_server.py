"""The web UI as it runs for real (`python -m central.web`, waitress) on a loopback port,
and a browser-like HTTP client (requests) that logs in through the form."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from .helpers import PASSWORD, form_token, free_port


@dataclass
class LiveWeb:
    url: str
    process: subprocess.Popen

    def client(self) -> requests.Session:
        return requests.Session()

    def login(self, client: requests.Session, username: str, password: str = PASSWORD):
        token = form_token(client.get(f"{self.url}/login", timeout=10).text)
        return client.post(
            f"{self.url}/login",
            data={"username": username, "password": password, "csrf_token": token},
            allow_redirects=False,
            timeout=30,
        )

    def get(self, client: requests.Session, path: str) -> requests.Response:
        return client.get(f"{self.url}{path}", allow_redirects=False, timeout=10)


def start_live_web(tmp_path: Path, config, web_lines: list[str] = ()) -> LiveWeb:
    """Serve `config`'s database on a free port; `web_lines` are extra [web] settings."""
    port = free_port()
    path = tmp_path / "central-live.toml"
    path.write_text(
        "\n".join(
            [
                "[intake]",
                'server_cert = "server.pem"',
                'server_key = "server.key"',
                'ca_cert = "ca.pem"',
                "[storage]",
                f'data_dir = "{config.storage.data_dir}"',
                "[web]",
                'host = "127.0.0.1"',
                f"port = {port}",
                f'secret_key_file = "{config.web.secret_key_file}"',
                *web_lines,
            ]
        )
        + "\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "central.web", "--config", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"{url}/login", timeout=2)
            return LiveWeb(url, process)
        except requests.ConnectionError:
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read()) from None
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.2)


def stop_live_web(web: LiveWeb) -> None:
    web.process.terminate()
    try:
        web.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        web.process.kill()
        web.process.wait()
    web.process.stderr.close()
