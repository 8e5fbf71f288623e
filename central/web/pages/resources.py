"""The Resources page (`/resources`): documents, data files and reviewed data, general or
about one station, in a table whose names download them (`/resources/<id>`, checked
again there); owners upload for their own stations, administrators for any station or
for everyone, and delete what they may upload (central/resources.py says who may do what).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, html
from flask import Response, current_app

from central.access import AccessDenied, visible_stations
from central.resources import (
    GENERAL,
    KINDS,
    TABLE,
    ResourceError,
    add_resource,
    can_upload,
    delete_resource,
    resource,
    resource_scope,
)
from central.resources import content as resource_content
from central.web.auth import current_account, text_response
from central.web.clock import now
from central.web.db import get_store
from central.web.downloads import safe_file_name
from central.web.grid import Column, Grid, register_grid
from central.web.queries import Page, display_time, fetch_page

PATH = "/resources"
TITLE = "Resources"
DOWNLOAD = "/resources/{id}"
ALL_KINDS = "all"
KIND_NAMES = {"document": "Document", "data": "Data file", "reviewed": "Reviewed data"}
# the listing: the table with a place to show (general or the station) and the days
LISTING = (
    f"(select *, coalesce(station, '{GENERAL}') as place, "
    "case when day_from is null then '' else day_from || ' – ' || day_to end as days "
    f"from {TABLE})"
)
LISTING_FIELDS = (
    "id",
    "station",
    "place",
    "kind",
    "file_name",
    "description",
    "days",
    "size",
    "uploaded_by",
    "uploaded_at",
)

RESOURCES = Grid(
    name="resources",
    columns=(
        Column("place", "Station or STAX (general)"),
        Column("kind", "Kind", format=lambda k: KIND_NAMES.get(k, k)),
        Column("file_name", "Name", href=lambda row: DOWNLOAD.format(id=row["id"])),
        Column("description", "Description"),
        Column("days", "Days"),
        Column("size", "Bytes"),
        Column("uploaded_by", "Uploaded by"),
        Column("uploaded_at", "Uploaded at", time=True),
    ),
    default_sort="uploaded_at",
)


def upload_places(store, account) -> list[dict[str, str]]:
    """Where `account` may upload: general (administrators) and the stations it may."""
    places = [{"label": GENERAL, "value": ""}] if can_upload(account, None) else []
    places += [
        {"label": s, "value": s} for s in visible_stations(store, account) if can_upload(account, s)
    ]
    return places


def deletable(store, account) -> list[dict[str, Any]]:
    """The resources `account` may delete, for the chooser."""
    rows = store.db.query(
        f"select id, station, file_name, uploaded_at from {TABLE} order by uploaded_at desc, id desc"
    )
    return [
        {
            "label": f"{r['station'] or GENERAL} · {r['file_name']} · "
            f"{display_time(r['uploaded_at'])}",
            "value": r["id"],
        }
        for r in rows
        if can_upload(account, r["station"])
    ]


def content_layout(stations: list[str], places: list[dict], max_bytes: int, options: list) -> list:
    kinds = [{"label": label, "value": kind} for kind, label in KINDS.items()]
    editor = [
        html.H2("Upload"),
        html.P(
            f"Choose where it belongs and what it is, then the file (at most {max_bytes:,} "
            "bytes). Reviewed data give the days they cover; a station's resource is "
            "published to its users as its data are (the facility's publish delay).",
            className="hint",
        ),
        html.Div(
            [
                _field("Station", dcc.Dropdown(id="resource-place", options=places)),
                _field(
                    "Kind",
                    dcc.Dropdown(id="resource-kind", options=kinds, value="document"),
                ),
                _field("Description", dcc.Input(id="resource-description", type="text")),
                _field(
                    "Days (UTC)",
                    dcc.DatePickerRange(
                        id="resource-days",
                        display_format="YYYY/MM/DD",
                        start_date_placeholder_text="first",
                        end_date_placeholder_text="last",
                        clearable=True,
                    ),
                ),
            ],
            className="filters",
        ),
        dcc.Upload(
            html.Button("Choose a file to upload", className="button"),
            id="resource-upload",
            max_size=max_bytes,
            multiple=False,
        ),
        html.Div(
            [
                _field("Delete", dcc.Dropdown(id="resource-delete-choice", options=options)),
                html.Button("Delete", id="resource-delete", n_clicks=0, className="button"),
            ],
            className="filters",
        ),
        html.Div(id="resource-message", role="status"),
    ]
    return [
        html.H1(TITLE),
        dcc.Store(id="resources-version", data=0),
        html.Div(
            [
                _field(
                    "Show",
                    dcc.RadioItems(
                        id="resources-kind",
                        options=[*kinds, {"label": "All", "value": ALL_KINDS}],
                        value=ALL_KINDS,
                        inline=True,
                    ),
                ),
                _field(
                    "Station",
                    dcc.Dropdown(
                        id="resources-station",
                        options=[{"label": GENERAL, "value": ""}, *stations],
                        multi=True,
                    ),
                ),
            ],
            className="filters",
        ),
        RESOURCES.layout(),
        html.Div(editor, className="editor")
        if places
        else html.Div(editor, style={"display": "none"}),  # the callbacks exist on every page
    ]


def content(stations: list[str], places: list[dict], max_bytes: int) -> list:
    """The page for a user who sees `stations` and may upload to `places`."""
    return content_layout(stations, places, max_bytes, [])


def page(store, account) -> list:
    return content_layout(
        visible_stations(store, account),
        upload_places(store, account),
        current_app.config["STAX_RESOURCE_MAX_BYTES"],
        deletable(store, account),
    )


def resource_page(store, account, moment, kind: str | None, stations: Sequence[str], state: dict):
    """One page of the resources `account` sees at `moment` (of `kind`; of `stations`,
    '' being the general ones)."""
    scope, params = resource_scope(store, account, moment)
    where = [scope]
    if kind is not None:
        where.append("kind = ?")
        params = [*params, kind]
    if stations:
        where.append(f"coalesce(station, '') in ({', '.join('?' * len(stations))})")
        params = [*params, *stations]
    return fetch_page(
        store,
        LISTING,
        LISTING_FIELDS,
        " and ".join(where),
        params,
        sort=state["sort"],
        descending=state["desc"],
        page=state["page"],
        page_size=state["page_size"],
    )


def decode_upload(contents: Any, max_bytes: int) -> bytes:
    """The bytes of a dcc.Upload `data:...;base64,...` value, refused before decoding
    when they would be larger than `max_bytes`."""
    if not isinstance(contents, str) or ";base64," not in contents:
        raise ResourceError("file: choose a file to upload")
    encoded = contents.split(";base64,", 1)[1]
    if len(encoded) // 4 * 3 > max_bytes + 2:
        raise ResourceError(f"file: larger than {max_bytes} bytes")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ResourceError("file: the upload did not arrive whole") from None


def register(app: Dash, page_size: int = 25) -> None:
    def fetch(state: dict[str, Any], values: Sequence[Any]) -> Page:
        kind, stations, _version = values
        kind = kind if kind in KINDS else None
        chosen = [s for s in (stations or []) if isinstance(s, str)]
        return resource_page(
            get_store(), current_account(), now(), kind, chosen, {**state, "page_size": page_size}
        )

    register_grid(
        app,
        RESOURCES,
        fetch,
        (
            Input("resources-kind", "value"),
            Input("resources-station", "value"),
            Input("resources-version", "data"),
        ),
    )

    @app.callback(
        Output("resource-message", "children"),
        Output("resources-version", "data"),
        Output("resource-delete-choice", "options"),
        Input("resource-upload", "contents"),
        Input("resource-delete", "n_clicks"),
        State("resource-upload", "filename"),
        State("resource-place", "value"),
        State("resource-kind", "value"),
        State("resource-description", "value"),
        State("resource-days", "start_date"),
        State("resource-days", "end_date"),
        State("resource-delete-choice", "value"),
        State("resources-version", "data"),
        prevent_initial_call=True,
    )
    def _change(contents, _delete, file_name, place, kind, description, first, last, gone, seen):
        account, store, moment = current_account(), get_store(), now()
        version = (seen if isinstance(seen, int) else 0) + 1
        max_bytes = current_app.config["STAX_RESOURCE_MAX_BYTES"]
        try:
            if ctx.triggered_id == "resource-delete":
                if not isinstance(gone, int) or isinstance(gone, bool):
                    message: Any = "Choose the resource to delete."
                else:
                    row = delete_resource(store, account, moment, gone)
                    message = f"Deleted {row['file_name']}."
            else:
                row = add_resource(
                    store,
                    account,
                    moment,
                    station=place if isinstance(place, str) else None,
                    kind=kind if isinstance(kind, str) else "",
                    file_name=file_name,
                    data=decode_upload(contents, max_bytes),
                    max_bytes=max_bytes,
                    description=description if isinstance(description, str) else "",
                    day_from=first if isinstance(first, str) else None,
                    day_to=last if isinstance(last, str) else None,
                )
                message = f"Uploaded {row['file_name']} ({row['size']} bytes) for " + (
                    row["station"] or "everyone"
                )
        except AccessDenied as exc:
            message = f"Not allowed: {exc}"
        except ResourceError as exc:
            message = f"Not stored: {exc}"
        return message, version, deletable(store, account)

    @app.server.route("/resources/<int:resource_id>", endpoint="resource_download")
    def _download(resource_id: int) -> Response:
        store = get_store()
        row = resource(store, current_account(), now(), resource_id)
        if row is None:
            # the same answer for another facility's resource and one that does not exist
            return text_response(404, f"no resource with id {resource_id}")
        data = resource_content(store, row)
        response = Response(data, mimetype="application/octet-stream")
        name = safe_file_name(row["file_name"], f"resource-{resource_id}")
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        response.headers["Content-Length"] = str(len(data))
        response.headers["Cache-Control"] = "private, no-store"
        return response


def _field(label: str, control: Any) -> html.Div:
    return html.Div([html.Label(label), control], className="filter")
