"""The Users page (`/users`, administrators only): a paged server-side Grid of the users
(central/web/grid.py) with role, enabled, facilities assigned and owned, and
subscriptions, filtered by username, role, enabled and facility; create a user (a one-time password is
shown once), change role, names and e-mail, assign and own facilities, disable or enable
(disabling ends the user's sessions at once), reset the password (shown once).

Every callback checks on the server that the caller is an administrator (and
central/accounts.py checks again): anyone else gets "Not allowed" and changes nothing.
"""

from __future__ import annotations

import math
from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate
from flask import abort

from central.accounts import (
    AccountError,
    NotAdministrator,
    UserFilter,
    admin_create_user,
    count_users,
    edit_user,
    list_users,
    reset_password,
    set_user_enabled,
    user_record,
)
from central.store import ROLES
from central.subscriptions import subscriptions_of
from central.web.auth import current_account
from central.web.clock import now
from central.web.db import get_store
from central.web.grid import Column, Grid, register_grid
from central.web.inputs import strings
from central.web.queries import Page

PATH = "/users"
TITLE = "Users"
ROLE_NAMES = {"admin": "Administrator", "owner": "Facility owner", "user": "Simple user"}
NOT_ALLOWED = "Not allowed: this page is for administrators only."
FIELDS = ("username", "first_name", "last_name", "email", "role", "assigned", "owned")
ACTIONS = ("create", "save", "disable", "enable", "reset")
FILTERS = ("username", "role", "enabled", "facility")
PICK_OPTIONS = 50  # users offered in the chooser at once; typing searches the rest


def field_id(key: str) -> str:
    return f"users-field-{key}"


def subscriptions_text(store, user_id: int) -> str:
    """`AUS02: ATS, CSV; BES01: ALERT` (central/subscriptions.py)."""
    by_facility: dict[str, list[str]] = {}
    for s in subscriptions_of(store, user_id):
        by_facility.setdefault(s["facility"], []).append(s["product"])
    return "; ".join(f"{f}: {', '.join(p)}" for f, p in by_facility.items())


def _yes_no(value: Any) -> str:
    return "Yes" if value else "No"


def _codes_text(value: Any) -> str:
    return ", ".join(value)


USERS = Grid(
    name="users",
    columns=(
        Column("username", "Username"),
        Column("first_name", "First name"),
        Column("last_name", "Last name"),
        Column("email", "Email"),
        Column("role", "Role", format=lambda r: ROLE_NAMES.get(r, r)),
        Column("enabled", "Enabled", format=_yes_no),
        Column("assigned", "Assigned facilities", sortable=False, format=_codes_text),
        Column("owned", "Owned facilities", sortable=False, format=_codes_text),
        Column("subscriptions", "Subscriptions", sortable=False),
        Column("created_at", "Created at", time=True),
        Column("updated_at", "Updated at", time=True),
    ),
    default_sort="username",
)
ENABLED_CHOICES = [{"label": "Yes", "value": "yes"}, {"label": "No", "value": "no"}]


def user_filter(username: Any, roles: Any, enabled: Any, facilities: Any) -> UserFilter:
    """The filters as the browser sent them, anything unexpected left out."""
    return UserFilter(
        username=username if isinstance(username, str) else "",
        roles=strings(roles, ROLES),
        enabled={"yes": True, "no": False}.get(enabled) if isinstance(enabled, str) else None,
        facilities=strings(facilities),
    )


def users_page(store, account, wanted: UserFilter, state: dict[str, Any]) -> Page:
    """One page of the users that match `wanted` (administrators only), with each
    user's subscriptions."""
    total = count_users(store, wanted, by=account)
    size = state["page_size"]
    pages = max(1, math.ceil(total / size))
    number = min(max(1, state["page"]), pages)
    rows = list_users(
        store,
        wanted,
        state["sort"],
        (number - 1) * size,
        size,
        descending=state["desc"],
        by=account,
    )
    for u in rows:
        u["subscriptions"] = subscriptions_text(store, u["id"])
    return Page(rows=rows, total=total, page=number, pages=pages, page_size=size)


def _options(users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"label": u["username"], "value": u["id"]} for u in users]


def pick_options(store, account, search: Any = "", picked: Any = None) -> list[dict[str, Any]]:
    """The user chooser's options (administrators only): the first PICK_OPTIONS users
    whose name has `search` in it, and the picked one, so that a long list of users is
    searched on the server rather than sent whole."""
    wanted = UserFilter(username=search if isinstance(search, str) else "")
    users = list_users(store, wanted, "username", 0, PICK_OPTIONS, by=account)
    if isinstance(picked, int) and all(u["id"] != picked for u in users):
        record = user_record(store, picked, by=account)
        users += [record] if record else []
    return _options(users)


def _input(key: str, label: str, **kw: Any) -> html.Div:
    return html.Div(
        [html.Label(label), dcc.Input(id=field_id(key), type="text", **kw)], className="filter"
    )


def content(users: list[dict[str, Any]], facilities: list[str]) -> list:
    """The page of an administrator; the same components, empty, in the validation layout."""
    role_options = [{"label": ROLE_NAMES[r], "value": r} for r in ROLES]
    return [
        html.H1(TITLE),
        dcc.Store(id="users-version", data=0),
        html.Div(
            [
                html.Div(
                    [
                        html.Label("Username"),
                        dcc.Input(
                            id="users-filter-username",
                            type="text",
                            debounce=True,
                            placeholder="a part of the name",
                        ),
                    ],
                    className="filter",
                ),
                _choice("role", "Role", role_options, multi=True),
                _choice("enabled", "Enabled", ENABLED_CHOICES, multi=False),
                _choice("facility", "Facility", facilities, multi=True),
            ],
            className="filters",
        ),
        USERS.layout(),
        html.H2("Create or change a user"),
        html.P(
            "Pick a user to change, or none to create one. A new user gets a one-time "
            "password, shown here once: pass it on. Disabling a user or resetting the "
            "password ends the user's sessions at once.",
            className="hint",
        ),
        html.Div(
            [
                html.Label("User (or click a row)"),
                dcc.Dropdown(id="users-pick", options=_options(users)),
            ],
            className="filter",
            style={"maxWidth": "320px", "marginBottom": "10px"},
        ),
        html.Div(
            [
                _input("username", "Username (new users)"),
                _input("first_name", "First name"),
                _input("last_name", "Last name"),
                _input("email", "Email", placeholder="name@example.org"),
                html.Div(
                    [
                        html.Label("Role"),
                        dcc.Dropdown(
                            id=field_id("role"), options=role_options, value="user", clearable=False
                        ),
                    ],
                    className="filter",
                ),
                html.Div(
                    [
                        html.Label("Assigned facilities"),
                        dcc.Dropdown(id=field_id("assigned"), options=facilities, multi=True),
                    ],
                    className="filter",
                ),
                html.Div(
                    [
                        html.Label("Owned facilities"),
                        dcc.Dropdown(id=field_id("owned"), options=facilities, multi=True),
                    ],
                    className="filter",
                ),
            ],
            className="filters",
        ),
        html.Div(
            [
                html.Button("Create user", id="users-create", n_clicks=0, className="button"),
                html.Button("Save", id="users-save", n_clicks=0, className="button"),
                html.Button("Disable", id="users-disable", n_clicks=0, className="button"),
                html.Button("Enable", id="users-enable", n_clicks=0, className="button"),
                html.Button("Reset password", id="users-reset", n_clicks=0, className="button"),
            ],
            className="toolbar",
        ),
        html.Div(id="users-message", role="status"),
    ]


def _choice(key: str, label: str, options: list, multi: bool) -> html.Div:
    return html.Div(
        [html.Label(label), dcc.Dropdown(id=f"users-filter-{key}", options=options, multi=multi)],
        className="filter",
    )


def page(store, account) -> list:
    if not account.is_admin:
        return [html.H1("Not allowed"), html.P(NOT_ALLOWED, className="hint")]
    codes = [r["code"] for r in store.db.query("select code from facilities order by code")]
    return content(list_users(store, UserFilter(), "username", 0, PICK_OPTIONS, by=account), codes)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _codes(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _secret(what: str, password: str) -> html.Div:
    return html.Div(
        [html.P(f"{what} — copy the password now, it is not shown again:"),
         html.Code(password, id="users-secret")],
        className="notice",
    )  # fmt: skip


def act(store, account, action: str, picked: Any, values: dict[str, Any]) -> tuple[Any, Any]:
    """Do one action of the page (`create`, `save`, `disable`, `enable`, `reset`) as
    `account`; returns what to show and the id of the user to pick then."""
    moment = now()
    if action == "create":
        user, password = admin_create_user(
            store,
            _text(values["username"]) or "",
            by=account,
            now=moment,
            role=values["role"] if values["role"] in ROLES else "user",
            first_name=_text(values["first_name"]),
            last_name=_text(values["last_name"]),
            email=_text(values["email"]),
            assigned=_codes(values["assigned"]),
            owned=_codes(values["owned"]),
        )
        return _secret(f"User {user.username} created", password), user.id
    if not isinstance(picked, int) or isinstance(picked, bool):
        return "Pick a user first.", None
    if action == "save":
        user = edit_user(
            store,
            picked,
            by=account,
            now=moment,
            role=_text(values["role"]) or "",
            first_name=_text(values["first_name"]),
            last_name=_text(values["last_name"]),
            email=_text(values["email"]),
            assigned=_codes(values["assigned"]),
            owned=_codes(values["owned"]),
        )
        return f"User {user.username} saved.", picked
    if action in ("disable", "enable"):
        user = set_user_enabled(store, picked, action == "enable", by=account, now=moment)
        done = "enabled" if user.enabled else "disabled; its sessions have ended"
        return f"User {user.username} {done}.", picked
    if action == "reset":
        password = reset_password(store, picked, by=account, now=moment)
        record = user_record(store, picked, by=account)
        return _secret(f"New password of {record['username']}", password), picked
    return "", picked


def register(app: Dash, page_size: int = 25) -> None:
    def fetch(state: dict[str, Any], values: Any) -> Page:
        account = current_account()
        if not account.is_admin:
            abort(403)  # as the Quarantine grid: nothing of the users leaves the server
        return users_page(
            get_store(), account, user_filter(*values), {**state, "page_size": page_size}
        )

    register_grid(
        app,
        USERS,
        fetch,
        tuple(Input(f"users-filter-{k}", "value") for k in FILTERS),
        refresh=(Input("users-version", "data"),),
    )
    fields = [Output(field_id(k), "value") for k in FIELDS]

    @app.callback(*fields, Input("users-pick", "value"))
    def _load(picked: Any) -> tuple:
        account, store = current_account(), get_store()
        if not account.is_admin or not isinstance(picked, int):
            return (None, None, None, None, "user", [], [])
        record = user_record(store, picked, by=account)
        if record is None:
            return (None, None, None, None, "user", [], [])
        return tuple(record[k] for k in FIELDS)

    @app.callback(
        Output("users-message", "children"),
        Output("users-version", "data"),
        Output("users-pick", "options"),
        Output("users-pick", "value"),
        *(Input(f"users-{a}", "n_clicks") for a in ACTIONS),
        State("users-pick", "value"),
        *(State(field_id(k), "value") for k in FIELDS),
        State("users-version", "data"),
        prevent_initial_call=True,
    )
    def _act(*args: Any) -> tuple:
        account, store = current_account(), get_store()
        if not account.is_admin:
            return NOT_ALLOWED, 0, [], None  # nothing read, nothing changed
        picked = args[len(ACTIONS)]
        *field_values, seen = args[len(ACTIONS) + 1 :]
        values = dict(zip(FIELDS, field_values, strict=True))
        version = (seen if isinstance(seen, int) and not isinstance(seen, bool) else 0) + 1
        trigger = ctx.triggered_id
        clicked = any(t.get("value") for t in ctx.triggered)
        action = trigger.removeprefix("users-") if isinstance(trigger, str) and clicked else ""
        try:
            shown, picked = act(store, account, action, picked, values)
        except (AccountError, NotAdministrator) as exc:
            shown = f"Not done: {exc}"
        return shown, version, pick_options(store, account, "", picked), picked

    @app.callback(
        Output("users-pick", "value", allow_duplicate=True),
        Output("users-pick", "options", allow_duplicate=True),
        Input(USERS.id("body"), "cellClicked"),
        State(USERS.id("body"), "rowData"),
        prevent_initial_call=True,
    )
    def _pick_row(clicked: Any, rows: Any) -> tuple:
        """A click on a row of the grid picks its user for the form."""
        account, store = current_account(), get_store()
        if not account.is_admin or not isinstance(clicked, dict) or not isinstance(rows, list):
            raise PreventUpdate
        index = clicked.get("rowIndex")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(rows):
            raise PreventUpdate
        row = rows[index]
        user_id = row.get("id") if isinstance(row, dict) else None
        if not isinstance(user_id, int) or user_record(store, user_id, by=account) is None:
            raise PreventUpdate
        return user_id, pick_options(store, account, "", user_id)

    @app.callback(
        Output("users-pick", "options", allow_duplicate=True),
        Input("users-pick", "search_value"),
        State("users-pick", "value"),
        prevent_initial_call=True,
    )
    def _search(search: Any, picked: Any) -> Any:
        account, store = current_account(), get_store()
        if not account.is_admin:
            return []
        return pick_options(store, account, search if isinstance(search, str) else "", picked)
