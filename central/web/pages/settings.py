"""The Settings page (`/settings`): the user's API tokens for `/api/v1/` and `stax fetch`:
make one (shown once), list them, revoke one. Administrators pick any user's tokens."""

from __future__ import annotations

from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, dcc, html

from central.access import AccessDenied
from central.tokens import (
    TokenError,
    list_tokens,
    make_token,
    may_manage_tokens_of,
    revoke_token,
)
from central.web.auth import current_account
from central.web.clock import now
from central.web.db import get_store
from central.web.queries import display_time

PATH = "/settings"
TITLE = "Settings"
REVOKE = "token-revoke"


def tokens_table(tokens: list) -> html.Table:
    header = html.Tr([html.Th(t) for t in ("Name", "Token", "Made", "Last used", "State", "")])
    rows = [
        html.Tr(
            [
                html.Td(t.name),
                html.Td(html.Code(t.prefix + "…")),
                html.Td(display_time(t.created_at)),
                html.Td(display_time(t.last_used_at) or "never"),
                html.Td("active" if t.active else f"revoked {display_time(t.revoked_at)}"),
                html.Td(
                    html.Button("Revoke", id={"type": REVOKE, "index": t.id}, n_clicks=0)
                    if t.active
                    else ""
                ),
            ],
            id=f"token-row-{t.id}",
        )
        for t in tokens
    ] or [html.Tr(html.Td("No API tokens yet", colSpan=6, className="empty"))]
    return html.Table([html.Thead(header), html.Tbody(rows)], className="grid")


def content(user_options: list[dict[str, Any]], user_id: int, tokens: list) -> list:
    chooser = html.Div(
        [
            html.Label("User"),
            dcc.Dropdown(id="token-user", options=user_options, value=user_id, clearable=False),
        ],
        className="filter",
        style=None if len(user_options) > 1 else {"display": "none"},
    )
    return [
        html.H1(TITLE),
        html.H2("API tokens"),
        html.P(
            "A token lets a script download the files you see: `stax fetch --url URL "
            "--token-file FILE ...` or `Authorization: Bearer TOKEN` on /api/v1/files. It is "
            "shown once, when made; revoke it when it is no longer needed.",
            className="hint",
        ),
        chooser,
        html.Div(
            [
                html.Label("Name", htmlFor="token-name"),
                dcc.Input(id="token-name", type="text", placeholder="e.g. laptop script"),
                html.Button("Make a token", id="token-make", n_clicks=0, className="button"),
            ],
            className="filters",
        ),
        html.Div(id="token-new", role="status"),
        html.Div(tokens_table(tokens), id="token-list"),
    ]


def page(store, account) -> list:
    if account.is_admin:
        options = [
            {"label": r["username"], "value": r["id"]}
            for r in store.db.query("select id, username from users order by username")
        ]
    else:
        options = [{"label": account.username, "value": account.id}]
    return content(options, account.id, list_tokens(store, account.id))


def register(app: Dash) -> None:
    @app.callback(
        Output("token-new", "children"),
        Output("token-list", "children"),
        Input("token-make", "n_clicks"),
        Input({"type": REVOKE, "index": ALL}, "n_clicks"),
        Input("token-user", "value"),
        State("token-name", "value"),
        prevent_initial_call=True,
    )
    def _tokens(_make: Any, _revokes: Any, owner: Any, name: Any) -> tuple:
        account, store = current_account(), get_store()
        if not isinstance(owner, int) or not may_manage_tokens_of(account, owner):
            owner = account.id  # a forged user id: one's own tokens
        shown: Any = ""
        trigger = ctx.triggered_id
        try:
            if trigger == "token-make":
                token, info = make_token(
                    store, owner, name if isinstance(name, str) else "", by=account, now=now()
                )
                shown = html.Div(
                    [
                        html.P(f"Token {info.name!r} — copy it now, it is not shown again:"),
                        html.Code(token, id="token-secret"),
                    ],
                    className="notice",
                )
            elif isinstance(trigger, dict) and trigger.get("type") == REVOKE:
                clicked = next((t.get("value") for t in ctx.triggered if t.get("value")), None)
                if clicked:  # a button drawn anew fires with n_clicks 0: not a click
                    info = revoke_token(store, int(trigger["index"]), by=account, now=now())
                    shown = f"Token {info.name!r} ({info.prefix}…) revoked."
        except (TokenError, AccessDenied) as exc:
            shown = str(exc)
        return shown, tokens_table(list_tokens(store, owner))
