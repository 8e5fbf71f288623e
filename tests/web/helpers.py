"""Helpers for the web tests: log in as a browser does, call Dash callbacks as the
renderer does."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime
from typing import Any

PASSWORD = "correct horse battery"
# where the tests' clock starts: after every file of the sample, all published at once
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the login form"
    return match.group(1)


def login(client, username: str, password: str = PASSWORD):
    """Log in through the form as a browser would; returns the POST's response."""
    token = form_token(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def csrf_header(client) -> dict[str, str]:
    """The header Dash's renderer sends with callbacks, from the cookie the server set."""
    cookie = client.get_cookie("_csrf_token")
    assert cookie is not None, "no CSRF cookie after logging in"
    return {"X-CSRFToken": cookie.value}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call_callback(client, output_part: str, outputs: list, inputs: list, state: list = ()):
    """POST a callback as Dash's renderer would: `output_part` picks the callback (by a
    piece of its output's id), `inputs` and `state` are (id, property, value) triples."""
    dependencies = client.get("/_dash-dependencies").get_json()
    output = next(d["output"] for d in dependencies if output_part in d["output"])
    body: dict[str, Any] = {
        "output": output,
        "outputs": outputs,
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"]
        if isinstance(inputs[0][0], str)
        else [],
    }
    return client.post("/_dash-update-component", json=body, headers=csrf_header(client))
