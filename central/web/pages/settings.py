"""The Settings page (`/settings`): one's own password (the current one asked; every
session ends with the change); the user's API tokens for `/api/v1/` and `stax fetch`:
make one (shown once), list them, revoke one. Administrators pick any user's tokens.

Also the user's own e-mail subscriptions (per facility they see and product: ATS, CSV,
PHD, SOH, ALERT) and the S/MIME certificate their mail is encrypted to: made here (the
key pair and certificate handed over once as a password-protected PKCS#12 file; only the
certificate is kept) or uploaded (docs/mail.md, "Subscriptions")."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, dcc, html
from flask import current_app, request

from central.access import AccessDenied, visible_stations
from central.accounts import AccountError, WrongPassword, change_own_password
from central.subscriptions import PRODUCTS, SubscriptionError, set_subscriptions, subscriptions_of
from central.tokens import (
    TokenError,
    list_tokens,
    make_token,
    may_manage_tokens_of,
    revoke_token,
)
from central.usercerts import (
    CertificateError,
    UserCertificate,
    certificate_of,
    make_and_save,
    parse_upload,
    remove_certificate,
    save_certificate,
)
from central.web import throttle
from central.web.auth import current_account
from central.web.clock import now, seconds
from central.web.db import get_store
from central.web.queries import display_time

PATH = "/settings"
TITLE = "Settings"
REVOKE = "token-revoke"
SUBSCRIBE = "sub-products"


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


def subscriptions_form(
    facilities: list[tuple[str, str]], chosen: dict[str, list[str]], address: str | None
) -> list:
    """One row of product boxes per facility the user sees."""
    if not facilities:
        return [html.P("You see no facility yet, so there is nothing to subscribe to.")]
    rows = [
        html.Tr(
            [
                html.Td(f"{code} {name}".strip()),
                html.Td(
                    dcc.Checklist(
                        id={"type": SUBSCRIBE, "facility": code},
                        options=[{"label": p, "value": p} for p in PRODUCTS],
                        value=chosen.get(code, []),
                        inline=True,
                    )
                ),
            ]
        )
        for code, name in facilities
    ]
    head = html.Tr([html.Th("Facility"), html.Th("Receive by e-mail")])
    note = (
        f"Mail goes to {address}."
        if address
        else "You have no e-mail address yet: ask an administrator to enter it, or "
        "nothing can be mailed to you."
    )
    return [
        html.P(note, className="hint"),
        html.Table([html.Thead(head), html.Tbody(rows)], className="grid"),
    ]


def certificate_info(cert: UserCertificate | None, moment: datetime | None = None) -> html.Div:
    if cert is None:
        return html.Div(
            "No certificate: your mail is signed by the central but not encrypted.",
            id="cert-state",
        )
    origin = "made here" if cert.origin == "made" else "uploaded"
    if moment is not None and not cert.valid_at(moment):
        origin += ". It is not valid now: mail to you waits until you make or upload a new one"
    return html.Div(
        [
            html.P(f"Mail to you is encrypted to: {cert.subject}"),
            html.P(
                f"Valid until {display_time(cert.not_after)}; {origin} "
                f"{display_time(cert.created_at)}."
            ),
        ],
        id="cert-state",
    )


def mail_content(
    facilities: list[tuple[str, str]] = (),  # type: ignore[assignment]
    chosen: dict[str, list[str]] | None = None,
    address: str | None = None,
    cert: UserCertificate | None = None,
    moment: datetime | None = None,
) -> list:
    return [
        html.H2("E-mail subscriptions"),
        html.P(
            "Each file of a product you choose is mailed to you once it is published "
            "(the facility's publish delay holds for everyone), one mail per file, the file "
            "name as Subject and the file attached, signed by the central.",
            className="hint",
        ),
        html.Div(subscriptions_form(list(facilities), chosen or {}, address), id="sub-form"),
        html.Button("Save subscriptions", id="sub-save", n_clicks=0, className="button"),
        html.Div(id="sub-message", role="status"),
        html.H2("Your S/MIME certificate"),
        html.P(
            "With a certificate, the central encrypts each mail to you. Make one here: you "
            "get a .p12 file (key and certificate) to import into Outlook or Thunderbird, "
            "protected by the password you choose; it is shown once and the server keeps "
            "only the certificate. Or upload a certificate of your own (PEM or DER).",
            className="hint",
        ),
        html.Div(certificate_info(cert, moment), id="cert-info"),
        html.Div(
            [
                html.Label("File password", htmlFor="cert-password"),
                dcc.Input(id="cert-password", type="password", autoComplete="new-password"),
                html.Label("Again", htmlFor="cert-password2"),
                dcc.Input(id="cert-password2", type="password", autoComplete="new-password"),
                html.Button("Make a certificate", id="cert-make", n_clicks=0, className="button"),
                html.Button("Remove it", id="cert-remove", n_clicks=0, className="button"),
            ],
            className="filters",
        ),
        dcc.Upload(
            html.Div("Upload a certificate: drop it here or click"),
            id="cert-upload",
            className="upload",
            multiple=False,
        ),
        html.Div(id="cert-message", role="status"),
        dcc.Download(id="cert-download"),
    ]


def _password_input(key: str, label: str, autocomplete: str) -> html.Div:
    return html.Div(
        [
            html.Label(label, htmlFor=f"pw-{key}"),
            dcc.Input(id=f"pw-{key}", type="password", autoComplete=autocomplete),
        ],
        className="filter",
    )


def password_content() -> list:
    return [
        html.H2("Your password"),
        html.P(
            "At least 8 characters. Changing it ends every session you have open, this one "
            "too: log in again with the new password.",
            className="hint",
        ),
        html.Div(
            [
                _password_input("current", "Current password", "current-password"),
                _password_input("new", "New password", "new-password"),
                _password_input("again", "New password again", "new-password"),
            ],
            className="filters",
        ),
        html.Button("Change password", id="pw-change", n_clicks=0, className="button"),
        html.Div(id="pw-message", role="status"),
    ]


def content(user_options: list[dict[str, Any]], user_id: int, tokens: list, *mail: Any) -> list:
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
        *password_content(),
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
        *mail_content(*mail),
    ]


def _facilities(store, account) -> list[tuple[str, str]]:
    names = {
        r["code"]: r["name"] or "" for r in store.db.query("select code, name from facilities")
    }
    # subscriptions are to registered facilities: only their files are ever published
    return [(c, names[c]) for c in visible_stations(store, account) if c in names]


def _chosen(store, account) -> dict[str, list[str]]:
    chosen: dict[str, list[str]] = {}
    for row in subscriptions_of(store, account.id):
        chosen.setdefault(row["facility"], []).append(row["product"])
    return chosen


def _address(store, account) -> str | None:
    row = store.conn.execute("select email from users where id = ?", [account.id]).fetchone()
    return row[0] if row and row[0] else None


def page(store, account) -> list:
    if account.is_admin:
        options = [
            {"label": r["username"], "value": r["id"]}
            for r in store.db.query("select id, username from users order by username")
        ]
    else:
        options = [{"label": account.username, "value": account.id}]
    return content(
        options,
        account.id,
        list_tokens(store, account.id),
        _facilities(store, account),
        _chosen(store, account),
        _address(store, account),
        certificate_of(store, account.id),
        now(),
    )


def register(app: Dash) -> None:
    @app.callback(
        Output("pw-message", "children"),
        Output("pw-current", "value"),
        Output("pw-new", "value"),
        Output("pw-again", "value"),
        Input("pw-change", "n_clicks"),
        State("pw-current", "value"),
        State("pw-new", "value"),
        State("pw-again", "value"),
        prevent_initial_call=True,
    )
    def _password(clicks: Any, current: Any, new: Any, again: Any) -> tuple:
        if not clicks:
            return "", None, None, None
        account, store = current_account(), get_store()
        # wrong current passwords are throttled as wrong logins are (a session left open
        # must not become a password-guessing oracle): the same counts, the same waits
        limits = current_app.config.get("STAX_LOGIN_LIMITS", throttle.LoginLimits())
        address, at = request.remote_addr or "?", seconds()
        wait = throttle.wait_seconds(store, limits, account.username, address, at, known=False)
        if wait:
            return (
                f"Not changed: too many wrong passwords; try again in {wait} s.",
                None,
                None,
                None,
            )
        try:
            change_own_password(
                store,
                account,
                current if isinstance(current, str) else "",
                new if isinstance(new, str) else "",
                again if isinstance(again, str) else "",
            )
        except WrongPassword as exc:
            throttle.record_failure(store, limits, account.username, address, at)
            return f"Not changed: {exc}.", None, None, None
        except AccountError as exc:
            return f"Not changed: {exc}.", None, None, None
        throttle.record_success(store, account.username)
        done = html.Div(
            [
                html.P("Your password is changed and your sessions have ended."),
                html.A("Log in again", href="/login", id="pw-login"),
            ],
            className="notice",
        )
        return done, None, None, None

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

    @app.callback(
        Output("sub-message", "children"),
        Input("sub-save", "n_clicks"),
        State({"type": SUBSCRIBE, "facility": ALL}, "value"),
        State({"type": SUBSCRIBE, "facility": ALL}, "id"),
        prevent_initial_call=True,
    )
    def _subscriptions(_save: Any, values: Any, ids: Any) -> Any:
        account, store = current_account(), get_store()
        if not isinstance(values, list) or not isinstance(ids, list):
            return "Nothing to save."
        saved, refused = [], []
        for box, products in zip(ids, values, strict=False):
            facility = box.get("facility") if isinstance(box, dict) else None
            if not isinstance(facility, str):
                continue
            wanted = (
                [p for p in products if isinstance(p, str)] if isinstance(products, list) else []
            )
            try:
                chosen = set_subscriptions(store, account, facility, wanted, now=now())
            except AccessDenied:
                # the same words for a facility that exists and one that does not
                refused.append(f"{facility}: not one of your facilities")
                continue
            except SubscriptionError as exc:
                refused.append(f"{facility}: {exc}")
                continue
            saved.append(f"{facility}: {', '.join(chosen) or 'nothing'}")
        parts = []
        if saved:
            parts.append(html.P("Saved. " + "; ".join(saved) + "."))
        if refused:
            parts.append(html.P("Not saved. " + "; ".join(refused) + "."))
        return parts or "Nothing to save."

    @app.callback(
        Output("cert-download", "data"),
        Output("cert-message", "children"),
        Output("cert-info", "children"),
        Input("cert-make", "n_clicks"),
        Input("cert-remove", "n_clicks"),
        Input("cert-upload", "contents"),
        State("cert-password", "value"),
        State("cert-password2", "value"),
        prevent_initial_call=True,
    )
    def _certificate(_make: Any, _remove: Any, upload: Any, password: Any, again: Any) -> tuple:
        account, store = current_account(), get_store()
        trigger = ctx.triggered_id
        download: Any = None
        message: Any = ""
        try:
            if trigger == "cert-make" and _make:
                if password != again:
                    raise CertificateError("the two passwords differ")
                bundle, cert = make_and_save(store, account.id, password, now())
                download = {
                    "content": base64.b64encode(bundle).decode(),
                    "filename": f"stax-mail-{account.username}.p12",
                    "base64": True,
                    "type": "application/x-pkcs12",
                }
                message = (
                    "Your certificate is made; the .p12 file is being downloaded (only now: "
                    "the key is not kept). Import it into your mail client with the password."
                )
            elif trigger == "cert-remove" and _remove:
                removed = remove_certificate(store, account.id)
                message = "Certificate removed." if removed else "You had no certificate."
            elif trigger == "cert-upload" and isinstance(upload, str):
                cert = parse_upload(_uploaded_bytes(upload), now())
                save_certificate(store, account.id, cert, "uploaded", now())
                message = "Certificate uploaded: your mail is encrypted to it from now on."
        except CertificateError as exc:
            message = f"Not done: {exc}"
        return download, message, certificate_info(certificate_of(store, account.id), now())


def _uploaded_bytes(contents: str) -> bytes:
    """dcc.Upload's `data:...;base64,...` text as bytes."""
    _, _, encoded = contents.partition(",")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise CertificateError("the upload could not be read") from None
