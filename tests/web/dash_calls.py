"""Calling a Dash callback by a piece of its first output's id, its outputs read from the
app's own dependencies (for callbacks with many outputs, such as the SOH charts')."""

from __future__ import annotations

from typing import Any

from .helpers import csrf_header


def outputs_of(output: str) -> list[dict[str, str]]:
    """`..a.figure...b.children..` (or `a.figure`) as [{id, property}, ...]."""
    parts = output.strip(".").split("...") if output.startswith("..") else [output]
    out = []
    for part in parts:
        component, _, prop = part.rpartition(".")
        out.append({"id": component, "property": prop})
    return out


def call(
    client, part: str, inputs: list[tuple[str, str, Any]], state: list = (), changed: str = ""
) -> Any:
    """POST the callback whose output names `part`; returns the response. `changed`
    (`id.property`): the input that fired (what `dash.ctx.triggered_id` reads), by default
    the first."""
    dependencies = client.get("/_dash-dependencies").get_json()
    dep = next(d for d in dependencies if part in d["output"])
    outputs = outputs_of(dep["output"])
    body = {
        "output": dep["output"],
        "outputs": outputs if dep["output"].startswith("..") else outputs[0],
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [changed or f"{inputs[0][0]}.{inputs[0][1]}"],
    }
    return client.post("/_dash-update-component", json=body, headers=csrf_header(client))


def answer(response) -> dict[str, dict[str, Any]]:
    """The callback's outputs: {component id: {property: value}}."""
    assert response.status_code == 200, response.data
    return response.get_json()["response"]


def call_changed(
    client, part: str, inputs: list[tuple[str, str, Any]], changed: str, state: list = ()
) -> Any:
    """As `call`, for a callback of many inputs of which `changed` (`id.property`) is
    the one that fired; `inputs` all of them, in the callback's order."""
    return call(client, part, inputs, state, changed=changed)
