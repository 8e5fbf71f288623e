"""What the pages do: choosing the page for the address, fetching table pages, selecting
files for download. Every callback asks who is logged in and applies the access rule on
the server; what the browser sends back is never trusted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dash import Dash, Input, Output, State
from flask import abort

from central.access import visible_stations

from .auth import current_account
from .clock import now
from .db import get_store
from .grid import register_grid
from .inputs import day as _day
from .inputs import strings as _strings
from .layout import (
    COMPARISON,
    HOME,
    PAGES,
    QUARANTINE,
    RECEIVED,
    comparison_content,
    message_content,
    nav_links,
    quarantine_content,
    received_content,
    received_preset,
)
from .pages import (
    alerts,
    dashboard,
    facilities,
    impact,
    maintenance,
    ratios,
    releases,
    resources,
    settings,
    soh,
    spectrum,
    trends,
    users,
)
from .queries import (
    ANALYSES,
    PRODUCTS,
    ComparisonFilter,
    Page,
    ReceivedFilter,
    compared_nuclides,
    comparison_page,
    quarantine_page,
    received_page,
)

RECEIVED_FILTERS = (
    Input("received-station", "value"),
    Input("received-type", "value"),
    Input("received-analysis", "value"),
    Input("received-start", "start_date"),
    Input("received-start", "end_date"),
)


COMPARISON_FILTERS = (
    Input("comparison-station", "value"),
    Input("comparison-nuclide", "value"),
    Input("comparison-flagged", "value"),
    Input("comparison-start", "start_date"),
    Input("comparison-start", "end_date"),
)


def register_callbacks(app: Dash, page_size: int) -> None:
    @app.callback(
        Output("page", "children"),
        Output("nav-links", "children"),
        Input("url", "pathname"),
        State("url", "search"),
    )
    def _route(pathname: str | None, search: str | None = None) -> tuple[list, list]:
        account = current_account()
        path = HOME if pathname in (None, "", "/") else pathname
        if path == "/received":
            stations = visible_stations(get_store(), account)
            content = received_content(stations, received_preset(search, stations))
        elif path == "/comparison":
            store = get_store()
            content = comparison_content(
                visible_stations(store, account), compared_nuclides(store, account, now())
            )
        elif path == "/quarantine" and account.is_admin:
            content = quarantine_content()
        elif path == facilities.PATH:
            content = facilities.page(get_store(), account)
        elif path == impact.PATH:
            content = impact.page(get_store(), account)
        elif path == settings.PATH:
            content = settings.page(get_store(), account)
        elif path == maintenance.PATH:
            content = maintenance.page(get_store(), account)
        elif path == resources.PATH:
            content = resources.page(get_store(), account)
        elif path == releases.PATH:
            content = releases.page(get_store(), account)
        elif path in (ratios.PATH, trends.PATH):
            content = (ratios if path == ratios.PATH else trends).page(get_store(), account)
        elif path == spectrum.PATH:
            content = spectrum.page(get_store(), account)
        elif path == soh.PATH:
            content = soh.page(get_store(), account)
        elif path == dashboard.PATH:
            content = dashboard.page(get_store(), account)
        elif path == alerts.PATH:
            content = alerts.page(get_store(), account)
        elif path == users.PATH and account.is_admin:
            content = users.page(get_store(), account)
        elif path in PAGES:
            content = message_content("Not allowed", "This page is for administrators only.")
        else:
            content = message_content("Not found", f"There is no page {path}.")
        return content, nav_links(account.is_admin, path)

    def _page_of(query: Any, filters: Any, state: dict[str, Any]) -> Page:
        return query(
            get_store(),
            current_account(),
            filters,
            now=now(),
            sort=state["sort"],
            descending=state["desc"],
            page=state["page"],
            page_size=page_size,
        )

    def fetch_received(state: dict[str, Any], values: Sequence[Any]) -> Page:
        stations, products, analyses, start_from, start_to = values
        filters = ReceivedFilter(
            stations=_strings(stations),
            products=_strings(products, PRODUCTS),
            analyses=_strings(analyses, ANALYSES),
            start_from=_day(start_from),
            start_to=_day(start_to),
        )
        return _page_of(received_page, filters, state)

    def fetch_comparison(state: dict[str, Any], values: Sequence[Any]) -> Page:
        stations, nuclides, flagged, start_from, start_to = values
        filters = ComparisonFilter(
            stations=_strings(stations),
            nuclides=_strings(nuclides),
            flagged_only="flagged" in _strings(flagged),
            start_from=_day(start_from),
            start_to=_day(start_to),
        )
        return _page_of(comparison_page, filters, state)

    def fetch_quarantine(state: dict[str, Any], _values: Sequence[Any]) -> Page:
        if not current_account().is_admin:
            abort(403)
        return quarantine_page(
            get_store(),
            sort=state["sort"],
            descending=state["desc"],
            page=state["page"],
            page_size=page_size,
        )

    facilities.register(app)
    releases.register(app)
    ratios.register(app)
    trends.register(app)
    settings.register(app)
    impact.register(app)
    maintenance.register(app, page_size)
    resources.register(app, page_size)
    spectrum.register(app)
    soh.register(app)
    dashboard.register(app)
    alerts.register(app, page_size)
    users.register(app, page_size)
    register_grid(app, RECEIVED, fetch_received, RECEIVED_FILTERS)
    register_grid(app, QUARANTINE, fetch_quarantine)
    register_grid(app, COMPARISON, fetch_comparison, COMPARISON_FILTERS)

    @app.callback(
        Output("received-download", "href"),
        Output("received-download", "className"),
        Output("received-selected", "children"),
        Input(RECEIVED.id("body"), "selectedRows"),
    )
    def _selection(rows: Any) -> tuple[str | None, str, str]:
        # the download route checks every id again: this only builds the link
        ids = sorted(
            {
                r["id"]
                for r in rows or []
                if isinstance(r, dict)
                and isinstance(r.get("id"), int)
                and not isinstance(r.get("id"), bool)
            }
        )
        if not ids:
            return None, "button disabled", ""
        count = f"{len(ids)} file selected" if len(ids) == 1 else f"{len(ids)} files selected"
        return f"/download?ids={','.join(map(str, ids))}", "button", count
