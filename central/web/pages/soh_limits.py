"""The SOH limits editor on the SOH charts (`/charts/soh`): the owners of a facility and
administrators see the alert limits in force at the chosen station (its own, or the
central configuration's default), change a quantity's low and high limits, put it back
to the default, and read the record of every change (who, when, old, new).

Mounted by central/web/pages/soh.py (`section` under the charts, `register`); the
change itself is central/soh.py's `change_limit`, which checks again that the user
manages the facility. After a change the charts are drawn again, their limit lines
where the new limits are. Users who manage no facility get no editor, and every
callback answers them with nothing.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, html, no_update

from central.access import AccessDenied, visible_stations
from central.facilities import can_manage
from central.soh import (
    SohLimitError,
    change_limit,
    limit_changes,
    soh_quantities,
    station_limits,
)
from central.web.auth import current_account
from central.web.clock import now
from central.web.db import get_store
from central.web.queries import display_time

HIDDEN = {"display": "none"}
NOT_ALLOWED = "Not allowed: the facility's owners and administrators change its limits."
HISTORY_ROWS = 20


def managed(store, account, station: Any) -> bool:
    """Whether `account` may change `station`'s limits (and sees it)."""
    return (
        isinstance(station, str)
        and station in visible_stations(store, account)
        and can_manage(account, station)
    )


def _number(value: Any) -> str:
    return "" if value is None else f"{value:g}"


def limits_table(rows: list[dict[str, Any]]) -> html.Table:
    head = html.Tr([html.Th(t) for t in ("Quantity", "Low", "High", "Unit", "From")])
    body = [
        html.Tr(
            [
                html.Td(r["quantity"], className="quantity"),
                html.Td(_number(r["low"]), className="low"),
                html.Td(_number(r["high"]), className="high"),
                html.Td(r["unit"], className="unit"),
                html.Td("station" if r["own"] else "default", className="source"),
            ],
            id=f"soh-limit-row-{r['quantity']}",
        )
        for r in rows
    ] or [html.Tr(html.Td("No limits", colSpan=5, className="empty"))]
    return html.Table([html.Thead(head), html.Tbody(body)], className="grid")


def _span(low: Any, high: Any) -> str:
    if low is None and high is None:
        return "none"
    return f"{_number(low) or '-∞'} to {_number(high) or '∞'}"


def history_table(rows: list[dict[str, Any]]) -> html.Table:
    head = html.Tr([html.Th(t) for t in ("Changed at", "By", "Quantity", "Old", "New", "Unit")])
    body = [
        html.Tr(
            [
                html.Td(display_time(r["changed_at"])),
                html.Td(r["changed_by"]),
                html.Td(r["quantity"]),
                html.Td(_span(r["old_low"], r["old_high"])),
                html.Td(_span(r["new_low"], r["new_high"])),
                html.Td(r["unit"] or ""),
            ]
        )
        for r in rows
    ] or [html.Tr(html.Td("No changes yet", colSpan=6, className="empty"))]
    return html.Table([html.Thead(head), html.Tbody(body)], className="grid")


def _field(label: str, control: Any) -> html.Div:
    return html.Div([html.Label(label), control], className="filter")


def layout() -> html.Div:
    """The editor's components (hidden until a station the user manages is chosen)."""
    return html.Div(
        [
            html.H2("Alert limits"),
            html.P(
                "The limits the central alerts and the charts judge this station's readings "
                "by: its own, or the central configuration's default. Leave Low or High "
                "empty for no limit on that side; “Back to the default” removes the "
                "station's own limits of the quantity. Every change is recorded.",
                className="hint",
            ),
            dcc.Store(id="soh-limits-version", data=0),
            html.Div(id="soh-limits-table", className="grid-scroll"),
            html.Div(
                [
                    _field("Quantity", dcc.Dropdown(id="soh-limit-quantity", options=[])),
                    _field("Low", dcc.Input(id="soh-limit-low", type="number")),
                    _field("High", dcc.Input(id="soh-limit-high", type="number")),
                    _field("Unit", dcc.Input(id="soh-limit-unit", type="text", maxLength=20)),
                ],
                className="filters",
            ),
            html.Div(
                [
                    html.Button("Save limits", id="soh-limit-save", n_clicks=0, className="button"),
                    html.Button(
                        "Back to the default",
                        id="soh-limit-default",
                        n_clicks=0,
                        className="button",
                    ),
                ],
                className="toolbar",
            ),
            html.Div(id="soh-limit-message", role="status"),
            html.H3("Changes"),
            html.Div(id="soh-limit-history", className="grid-scroll"),
        ],
        id="soh-limits",
        className="editor",
        style=HIDDEN,
    )


def section(store, account) -> list:
    """What the SOH page shows of the editor to `account`: nothing to a user who
    manages no facility it sees."""
    if not any(can_manage(account, s) for s in visible_stations(store, account)):
        return []
    return [layout()]


def _quantity_options(store, account, station: str) -> list[str]:
    known = {r["quantity"] for r in station_limits(store, station)}
    return sorted(known | set(soh_quantities(store, account, now(), station)))


def save(store, account, action: str, station: Any, values: dict[str, Any]) -> str:
    """Do `action` (`save` or `default`) as `account`; what to tell the user."""
    if not managed(store, account, station):
        return NOT_ALLOWED
    quantity = values["quantity"]
    if not isinstance(quantity, str) or not quantity:
        return "Choose a quantity first."
    if action == "default":
        low = high = unit = None
    else:
        low, high = values["low"], values["high"]
        if low is None and high is None:
            return "Give a low or a high limit (or put the quantity back to the default)."
        unit = values["unit"] if isinstance(values["unit"], str) else None
    try:
        change = change_limit(
            store,
            station,
            quantity,
            low,
            high,
            unit=unit,
            changed_by=account.username,
            now=now(),
            user=account,
        )
    except AccessDenied:
        return NOT_ALLOWED
    except SohLimitError as exc:
        return f"Not saved: {exc}"
    if change is None:
        return f"{station} {quantity}: the limits were already these."
    return (
        f"{station} {quantity}: limits {_span(change['old_low'], change['old_high'])} → "
        f"{_span(change['new_low'], change['new_high'])} {change['unit'] or ''}".rstrip()
        + "."
    )


def register(app: Dash) -> None:
    @app.callback(
        Output("soh-limits-table", "children"),
        Output("soh-limit-quantity", "options"),
        Output("soh-limit-history", "children"),
        Output("soh-limits", "style"),
        Input("soh-station", "value"),
        Input("soh-limits-version", "data"),
    )
    def _show(station: Any, _version: Any) -> tuple:
        store, account = get_store(), current_account()
        if not managed(store, account, station):
            return None, [], None, HIDDEN
        return (
            limits_table(station_limits(store, station)),
            _quantity_options(store, account, station),
            history_table(limit_changes(store, station, limit=HISTORY_ROWS)),
            {},
        )

    @app.callback(
        Output("soh-limit-low", "value"),
        Output("soh-limit-high", "value"),
        Output("soh-limit-unit", "value"),
        Input("soh-limit-quantity", "value"),
        Input("soh-limits-version", "data"),
        State("soh-station", "value"),
    )
    def _load(quantity: Any, _version: Any, station: Any) -> tuple:
        store, account = get_store(), current_account()
        if not managed(store, account, station):
            return None, None, None
        row = next((r for r in station_limits(store, station) if r["quantity"] == quantity), None)
        if row is None:
            return None, None, None
        return row["low"], row["high"], row["unit"]

    @app.callback(
        Output("soh-limit-message", "children"),
        Output("soh-limits-version", "data"),
        # the charts are drawn again (the same quantities): their limit lines move
        Output("soh-quantities", "value", allow_duplicate=True),
        Input("soh-limit-save", "n_clicks"),
        Input("soh-limit-default", "n_clicks"),
        State("soh-station", "value"),
        State("soh-limit-quantity", "value"),
        State("soh-limit-low", "value"),
        State("soh-limit-high", "value"),
        State("soh-limit-unit", "value"),
        State("soh-limits-version", "data"),
        State("soh-quantities", "value"),
        prevent_initial_call=True,
    )
    def _save(_s: Any, _d: Any, station: Any, quantity: Any, *rest: Any) -> tuple:
        low, high, unit, seen, charted = rest
        store, account = get_store(), current_account()
        action = "default" if ctx.triggered_id == "soh-limit-default" else "save"
        values = {"quantity": quantity, "low": low, "high": high, "unit": unit}
        message = save(store, account, action, station, values)
        if message == NOT_ALLOWED:
            return message, no_update, no_update  # nothing changed, nothing to draw
        version = (seen if isinstance(seen, int) and not isinstance(seen, bool) else 0) + 1
        return message, version, charted if isinstance(charted, list) else []
