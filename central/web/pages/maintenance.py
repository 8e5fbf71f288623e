"""The Maintenance page (`/maintenance`): the annotations of the stations a user sees (the
access rule applied), and the notifications they queued; owners of a station and
administrators add, change and delete its annotations in the form below the table
(central/maintenance.py says who may do what).

Adding or changing an annotation queues a notification to the facility's users in the
`notifications` outbox; the page says so. Mailing it is the e-mail subscription queue's
work (central/subscriptions.py), not this page's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, html

from central.access import AccessDenied, message_scope, visible_stations
from central.maintenance import (
    NOTIFICATIONS,
    TABLE,
    MaintenanceError,
    add_annotation,
    can_edit,
    delete_annotation,
    update_annotation,
)
from central.web.auth import current_account
from central.web.clock import now
from central.web.db import get_store
from central.web.grid import Column, Grid, register_grid
from central.web.queries import Page, display_time, fetch_page

PATH = "/maintenance"
TITLE = "Maintenance"
FORM_FIELDS = ("station", "name", "text", "start", "end")

ANNOTATIONS = Grid(
    name="maintenance",
    columns=(
        Column("station", "Station"),
        Column("name", "Annotation"),
        Column("text", "Text"),
        Column("start", "Start", time=True),
        Column("end", "End", time=True),
        Column("created_by", "User"),
        Column("created_at", "Created at", time=True),
        Column("updated_at", "Updated at", time=True),
    ),
    default_sort="start",
)
NOTICES = Grid(
    name="notices",
    columns=(
        Column("station", "Station"),
        Column("subject", "Subject"),
        Column("created_by", "User"),
        Column("created_at", "Created at", time=True),
        Column("state", "Mail", sortable=False),
    ),
    default_sort="created_at",
)
ANNOTATION_FIELDS = ("id", "station", "name", "text", "start", "end", "created_by")
ANNOTATION_FIELDS += ("created_at", "updated_at")
NOTICE_FIELDS = ("id", "station", "subject", "created_by", "created_at", "sent_at")


def field_id(key: str) -> str:
    return f"maintenance-field-{key}"


def editable_stations(store, account) -> list[str]:
    """The stations whose annotations `account` may change."""
    return [s for s in visible_stations(store, account) if can_edit(account, s)]


def choices(store, account) -> list[dict[str, Any]]:
    """The annotations `account` may change, for the form's chooser."""
    stations = editable_stations(store, account)
    if not stations:
        return []
    marks = ", ".join("?" * len(stations))
    rows = store.db.query(
        f"select id, station, name, start from {TABLE} where station in ({marks}) "
        "order by start desc, id desc",
        stations,
    )
    return [
        {"label": f"{r['station']} · {r['name']} · {display_time(r['start'])}", "value": r["id"]}
        for r in rows
    ]


def content(stations: list[str], editable: list[str], options: list[dict[str, Any]]) -> list:
    """The page for a user who sees `stations` and changes the annotations of `editable`."""
    editor = [
        html.H2("Add or change an annotation"),
        html.P(
            "Choose an annotation to change or delete it; with none chosen, Save adds a new "
            "one. Times in UTC (yyyy-mm-dd hh:mm); leave End empty while it goes on. Saving "
            "queues a notification to the facility's users.",
            className="hint",
        ),
        html.Div(
            [
                html.Label("Annotation"),
                dcc.Dropdown(
                    id="maintenance-choice", options=options, placeholder="a new annotation"
                ),
            ],
            className="filter",
        ),
        html.Div(
            [
                _field("Station", dcc.Dropdown(id=field_id("station"), options=editable)),
                _field("Name", dcc.Input(id=field_id("name"), type="text", maxLength=200)),
                _field(
                    "Start (UTC)",
                    dcc.Input(id=field_id("start"), type="text", placeholder="yyyy-mm-dd hh:mm"),
                ),
                _field(
                    "End (UTC)",
                    dcc.Input(id=field_id("end"), type="text", placeholder="yyyy-mm-dd hh:mm"),
                ),
            ],
            className="filters",
        ),
        _field("Text", dcc.Textarea(id=field_id("text"), className="annotation-text")),
        html.Div(
            [
                html.Button("Save", id="maintenance-save", n_clicks=0, className="button"),
                html.Button("Delete", id="maintenance-delete", n_clicks=0, className="button"),
            ],
            className="toolbar",
        ),
        html.Div(id="maintenance-message", role="status"),
    ]
    return [
        html.H1(TITLE),
        dcc.Store(id="maintenance-version", data=0),
        html.H2("Annotations"),
        html.Div(
            _field("Station", dcc.Dropdown(id="maintenance-station", options=stations, multi=True)),
            className="filters",
        ),
        ANNOTATIONS.layout(),
        html.Div(editor, className="editor")
        if editable
        else html.Div(editor, style={"display": "none"}),  # the callbacks exist on every page
        html.H2("Notifications"),
        html.P(
            "What the annotations' changes tell the facilities' users by e-mail: queued here; "
            "the e-mail subscription queue mails each one to the users of its facility.",
            className="hint",
        ),
        NOTICES.layout(),
    ]


def page(store, account) -> list:
    return content(
        visible_stations(store, account),
        editable_stations(store, account),
        choices(store, account),
    )


def annotation_page(store, account, moment, stations: Sequence[str], state: dict) -> Page:
    """One page of the annotations `account` sees at `moment` (of `stations` if any)."""
    scope, params = message_scope(store, account, moment)
    where = [scope]
    if stations:
        where.append(f"station in ({', '.join('?' * len(stations))})")
        params = [*params, *stations]
    return fetch_page(
        store,
        TABLE,
        tuple(f'"{f}"' for f in ANNOTATION_FIELDS),  # "end" is an SQL keyword
        " and ".join(where),
        params,
        sort=f'"{state["sort"]}"',
        descending=state["desc"],
        page=state["page"],
        page_size=state["page_size"],
    )


def notice_page(store, account, moment, state: dict) -> Page:
    """One page of the notifications `account` sees at `moment`."""
    scope, params = message_scope(store, account, moment)
    found = fetch_page(
        store,
        NOTIFICATIONS,
        NOTICE_FIELDS,
        scope,
        params,
        sort=state["sort"],
        descending=state["desc"],
        page=state["page"],
        page_size=state["page_size"],
    )
    rows = [
        {**r, "state": f"sent {display_time(r['sent_at'])}" if r["sent_at"] else "in the outbox"}
        for r in found.rows
    ]
    return replace(found, rows=rows)


def _form_values(row: dict[str, Any] | None) -> list[Any]:
    if row is None:
        return [None] * len(FORM_FIELDS)
    values = []
    for key in FORM_FIELDS:
        value = row.get(key)
        if key in ("start", "end") and value:
            value = display_time(value)[:16].replace("/", "-")
        values.append(value)
    return values


def register(app: Dash, page_size: int = 25) -> None:
    def fetch_annotations(state: dict[str, Any], values: Sequence[Any]) -> Page:
        stations = [s for s in (values[0] or []) if isinstance(s, str)]
        return annotation_page(
            get_store(), current_account(), now(), stations, {**state, "page_size": page_size}
        )

    def fetch_notices(state: dict[str, Any], _values: Sequence[Any]) -> Page:
        return notice_page(get_store(), current_account(), now(), {**state, "page_size": page_size})

    version = Input("maintenance-version", "data")
    register_grid(
        app, ANNOTATIONS, fetch_annotations, (Input("maintenance-station", "value"), version)
    )
    register_grid(app, NOTICES, fetch_notices, (version,))

    @app.callback(
        *(Output(field_id(k), "value") for k in FORM_FIELDS),
        Input("maintenance-choice", "value"),
    )
    def _load(choice: Any) -> list[Any]:
        account, store = current_account(), get_store()
        if not isinstance(choice, int) or isinstance(choice, bool):
            return _form_values(None)
        rows = list(store.db.query(f"select * from {TABLE} where id = ?", [choice]))
        row = rows[0] if rows else None
        if row is None or not can_edit(account, row["station"]):
            return _form_values(None)  # the chooser never offers it: a forged id
        return _form_values(row)

    @app.callback(
        Output("maintenance-message", "children"),
        Output("maintenance-version", "data"),
        Output("maintenance-choice", "options"),
        Output("maintenance-choice", "value"),
        Input("maintenance-save", "n_clicks"),
        Input("maintenance-delete", "n_clicks"),
        State("maintenance-choice", "value"),
        *(State(field_id(k), "value") for k in FORM_FIELDS),
        State("maintenance-version", "data"),
        prevent_initial_call=True,
    )
    def _save(_save: Any, _delete: Any, choice: Any, *rest: Any) -> tuple:
        *values, seen = rest
        account, store, moment = current_account(), get_store(), now()
        fields = dict(zip(FORM_FIELDS, values, strict=True))
        chosen = choice if isinstance(choice, int) and not isinstance(choice, bool) else None
        version = (seen if isinstance(seen, int) else 0) + 1
        try:
            if ctx.triggered_id == "maintenance-delete":
                if chosen is None:
                    return (
                        "Choose the annotation to delete.",
                        version,
                        choices(store, account),
                        None,
                    )
                row = delete_annotation(store, account, moment, chosen)
                message: Any = f"Deleted “{row['name']}” at {row['station']}."
                chosen = None
            elif chosen is None:
                row = add_annotation(store, account, moment, **_as_strings(fields))
                message = _queued(f"Added “{row['name']}” at {row['station']}.", row["station"])
                chosen = row["id"]
            else:
                row = update_annotation(store, account, moment, chosen, **_as_strings(fields))
                message = _queued(f"Saved “{row['name']}” at {row['station']}.", row["station"])
        except AccessDenied:
            message = "You do not own this station: its owners and administrators change it."
        except MaintenanceError as exc:
            message = f"Not saved: {exc}"
        return message, version, choices(store, account), chosen


def _as_strings(fields: dict[str, Any]) -> dict[str, Any]:
    """What a browser sent, as text (anything else as empty: the checks name the field)."""
    return {k: v if isinstance(v, str) else ("" if k != "end" else None) for k, v in fields.items()}


def _queued(done: str, station: str) -> html.Div:
    return html.Div(
        [
            html.P(done),
            html.P(
                f"A notification to the users of {station} is queued; the e-mail queue mails it.",
                id="maintenance-queued",
            ),
        ],
        className="notice",
    )


def _field(label: str, control: Any) -> html.Div:
    return html.Div([html.Label(label), control], className="filter")
