"""The Facilities page (`/facilities`): the facilities a user may see, in a table; their
owners and administrators change them here, the publish delay among them, each change
recorded (central/facilities.py) and shown below the form."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, html

from central.access import AccessDenied
from central.facilities import (
    FIELDS,
    FacilityError,
    can_manage,
    facilities_of,
    facility,
    facility_changes,
    update_facility,
)
from central.web.auth import current_account
from central.web.clock import now
from central.web.db import get_store
from central.web.queries import display_time

PATH = "/facilities"
TITLE = "Facilities"
DELAY_NAMES = {
    "immediately": "Immediately",
    "1d": "1 day",
    "3d": "3 days",
    "7d": "7 days",
    "never": "Do not publish",
}
# the table's columns: code first, the editable fields, then when it was made and changed
COLUMNS = (
    ("code", "Code"),
    *((f.key, f.label) for f in FIELDS if f.key != "name"),
    ("created_at", "Created"),
    ("updated_at", "Updated"),
)


def field_id(key: str) -> str:
    return f"facility-field-{key}"


def _cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if key == "publish_delay":
        return DELAY_NAMES.get(value, value)
    if key == "realtime_data":
        return "yes" if value else "no"
    if key in ("created_at", "updated_at"):
        return display_time(value)
    return str(value)


def facilities_table(rows: list[dict[str, Any]]) -> html.Table:
    header = html.Tr([html.Th(label) for _, label in COLUMNS])
    body = [
        html.Tr(
            [html.Td(_cell(key, row.get(key)), className=key) for key, _ in COLUMNS],
            id=f"facility-row-{row['code']}",
        )
        for row in rows
    ] or [html.Tr(html.Td("No facilities", colSpan=len(COLUMNS), className="empty"))]
    return html.Table([html.Thead(header), html.Tbody(body)], className="grid")


def _control(key: str) -> Any:
    if key == "publish_delay":
        options = [{"label": text, "value": value} for value, text in DELAY_NAMES.items()]
        return dcc.Dropdown(id=field_id(key), options=options, clearable=False)
    if key == "realtime_data":
        options = [{"label": "yes", "value": "yes"}, {"label": "no", "value": "no"}]
        return dcc.Dropdown(id=field_id(key), options=options)
    return dcc.Input(id=field_id(key), type="text", debounce=False)


def content(rows: list[dict[str, Any]], manageable: list[str]) -> list:
    """The page for a user who sees `rows` and manages the facilities `manageable`."""
    parts: list = [html.H1(TITLE), html.Div(facilities_table(rows), id="facilities-table")]
    editor = [
        html.H2("Change a facility"),
        html.P(
            "Owners and administrators change their facilities. The publish delay counts "
            "from the end of each file's data: until then only the facility's owners and "
            "administrators see the file.",
            className="hint",
        ),
        html.Div(
            [html.Label("Facility"), dcc.Dropdown(id="facility-code", options=manageable)],
            className="filter",
        ),
        html.Div(
            [html.Div([html.Label(f.label), _control(f.key)], className="filter") for f in FIELDS],
            className="filters",
        ),
        html.Button("Save", id="facility-save", n_clicks=0, className="button"),
        html.Div(id="facility-message", role="status"),
        html.H3("Changes"),
        html.Div(id="facility-history"),
    ]
    if not manageable:
        # the same components, hidden: the callbacks exist on every page load
        parts.append(
            html.P("You see these facilities; their owners change them.", className="hint")
        )
        parts.append(html.Div(editor, style={"display": "none"}))
    else:
        parts.append(html.Div(editor, className="editor"))
    return parts


def page(store, account) -> list:
    rows = facilities_of(store, account)
    return content(rows, [r["code"] for r in rows if can_manage(account, r["code"])])


def _history(store, code: str) -> html.Table:
    changes = facility_changes(store, code)
    rows = [
        html.Tr(
            [
                html.Td(display_time(c.changed_at)),
                html.Td(c.changed_by),
                html.Td(c.field),
                html.Td(c.old or ""),
                html.Td(c.new or ""),
            ]
        )
        for c in reversed(changes)
    ] or [html.Tr(html.Td("No changes recorded", colSpan=5, className="empty"))]
    header = html.Tr([html.Th(t) for t in ("When", "Who", "Field", "Old", "New")])
    return html.Table([html.Thead(header), html.Tbody(rows)], className="grid")


def _form_values(row: dict[str, Any] | None) -> list[Any]:
    values = []
    for f in FIELDS:
        value = None if row is None else row.get(f.key)
        if f.key == "realtime_data" and value is not None:
            value = "yes" if value else "no"
        elif value is not None and f.key != "publish_delay":
            value = str(value)
        values.append(value)
    return values


def register(app: Dash) -> None:
    fields = [Output(field_id(f.key), "value") for f in FIELDS]

    @app.callback(*fields, Output("facility-history", "children"), Input("facility-code", "value"))
    def _load(code: Any) -> tuple:
        account, store = current_account(), get_store()
        if not isinstance(code, str) or not can_manage(account, code):
            return (*_form_values(None), "")
        return (*_form_values(facility(store, code)), _history(store, code))

    @app.callback(
        Output("facility-message", "children"),
        Output("facilities-table", "children"),
        Output("facility-history", "children", allow_duplicate=True),
        Input("facility-save", "n_clicks"),
        State("facility-code", "value"),
        *(State(field_id(f.key), "value") for f in FIELDS),
        prevent_initial_call=True,
    )
    def _save(_clicks: Any, code: Any, *values: Any) -> tuple:
        account, store = current_account(), get_store()
        if ctx.triggered_id != "facility-save" or not isinstance(code, str):
            return "Choose a facility first.", facilities_table(facilities_of(store, account)), ""
        try:
            changes = update_facility(
                store,
                code,
                {f.key: v for f, v in zip(FIELDS, values, strict=True)},
                changed_by=account.username,
                now=now(),
                user=account,
            )
        except AccessDenied:
            # the page never offers it: a forged request
            message, history = f"You do not manage facility {code}.", ""
        except FacilityError as exc:
            message, history = f"Not saved: {exc}", _history(store, code)
        else:
            what = ", ".join(f"{c.field} {c.old} → {c.new}" for c in changes) or "nothing changed"
            message, history = f"{code}: {what}", _history(store, code)
        return message, facilities_table(facilities_of(store, account)), history
