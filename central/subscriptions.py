"""E-mail subscriptions: who receives which product of which facility, and the durable
mail queue that hands each published file to each subscriber once (docs/mail.md,
"Subscriptions").

- `subscriptions`: one row per (user, facility, product); products are the five STAX
  data products (ATS, CSV, PHD, SOH, ALERT). A user subscribes only to facilities they
  may see (`central.access`), and every mail is checked again when it is sent.
- `user_certificates`: the certificate a subscriber's mail is encrypted to (made by the
  server or uploaded: `central.usercerts`); the private key is never kept.
- `mail_queue`: one row per (item, user): a stored file (`message:ID`), a central alert
  episode as raised or cleared (`alert:ID:open|cleared`), or a maintenance notice
  (`notice:ID`). A row is queued once its item is published (`published_scope` at `now`),
  and marked sent only after the SMTP server accepted it (`central.mail.outgoing`).

Pure of the wall clock: every function that needs the time takes `now`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from shared.timeutil import iso_z

from .access import AccessDenied, can_see_message, published_scope
from .accounts import User, get_user
from .store import Store

PRODUCTS = ("ATS", "CSV", "PHD", "SOH", "ALERT")

# queue states: queued (to send, at next_try), sent (the SMTP server accepted it),
# dropped (never to be sent: the user lost access, unsubscribed, or has no address)
QUEUED, SENT, DROPPED = "queued", "sent", "dropped"

# a maintenance notice older than this when a user could first get it is not mailed
# (a user assigned to a facility today does not get last year's notices)
NOTICE_HORIZON = timedelta(days=7)


class SubscriptionError(ValueError):
    """A subscription that cannot be made: the message says why."""


def ensure_schema(db) -> None:
    """The tables of this module (idempotent; `Store` calls it on open)."""
    names = set(db.table_names())
    if "subscriptions" not in names:
        db["subscriptions"].create(
            {"user_id": int, "facility": str, "product": str, "created_at": str},
            pk=("user_id", "facility", "product"),
            foreign_keys=[("user_id", "users", "id")],
            not_null={"created_at"},
        )
        db["subscriptions"].create_index(["facility", "product"])
    if "user_certificates" not in names:
        db["user_certificates"].create(
            {
                "user_id": int,
                "pem": str,  # the certificate alone; the key is never kept
                "subject": str,
                "not_after": str,  # ISO Z
                "origin": str,  # made (by the server, handed over once) or uploaded
                "created_at": str,
            },
            pk="user_id",
            foreign_keys=[("user_id", "users", "id")],
            not_null={"pem", "subject", "not_after", "origin", "created_at"},
        )
    if "mail_queue" not in names:
        db["mail_queue"].create(
            {
                "id": int,
                "item": str,  # message:ID, alert:ID:open|cleared, notice:ID
                "kind": str,  # message, alert, notice
                "message_id": int,  # messages.id (kind message)
                "episode_id": int,  # central_alerts.id (kind alert)
                "notice_id": int,  # notifications.id (kind notice)
                "user_id": int,
                "station": str,  # '' for a central-wide alert
                "data_until": str,  # the item's data time: the publish rule holds at send
                "file_name": str,  # the attachment's name and the Subject
                "details": str,  # JSON: what an alert or notice said when it was queued
                "state": str,
                "tries": int,
                "next_try": str,  # ISO Z
                "last_error": str,
                "created_at": str,
                "sent_at": str,
            },
            pk="id",
            foreign_keys=[("user_id", "users", "id")],
            not_null={"item", "kind", "user_id", "state", "tries", "next_try", "created_at"},
            defaults={"tries": 0},
        )
        db["mail_queue"].create_index(["item", "user_id"], unique=True)
        db["mail_queue"].create_index(["state", "next_try"])


# ------------------------------------------------------------------ subscriptions
def check_products(products: Iterable[str]) -> list[str]:
    """The products in the canonical order; a clear error for an unknown one."""
    wanted = set()
    for product in products:
        if product not in PRODUCTS:
            raise SubscriptionError(
                f"product must be one of {', '.join(PRODUCTS)}, not {product!r}"
            )
        wanted.add(product)
    return [p for p in PRODUCTS if p in wanted]


def subscriptions_of(store: Store, user_id: int) -> list[dict[str, Any]]:
    """The user's subscriptions: `{facility, product, created_at}`, by facility and in
    the order of PRODUCTS."""
    rows = store.db.query(
        "select facility, product, created_at from subscriptions where user_id = ?", [user_id]
    )
    order = {p: i for i, p in enumerate(PRODUCTS)}
    return sorted(rows, key=lambda r: (r["facility"], order.get(r["product"], 99)))


def set_subscriptions(
    store: Store,
    user: User,
    facility: str,
    products: Iterable[str],
    now: datetime | None = None,
) -> list[str]:
    """Make `products` exactly the user's subscriptions for `facility` (others of it end;
    those kept keep their start). Raises AccessDenied for a facility the user may not
    see, SubscriptionError for an unknown product. The products now subscribed.

    A new subscription mails what becomes published from `now` on, not the past.
    """
    wanted = check_products(products)
    if not user.can_see(facility):
        raise AccessDenied(f"user {user.username!r} may not see facility {facility!r}")
    known = store.conn.execute("select 1 from facilities where code = ?", [facility]).fetchone()
    if known is None and wanted:
        raise AccessDenied(f"user {user.username!r} may not see facility {facility!r}")
    started = _iso(now) if now is not None else _store_now()
    with store.conn:
        have = {
            r[0]
            for r in store.conn.execute(
                "select product from subscriptions where user_id = ? and facility = ?",
                [user.id, facility],
            )
        }
        for product in have - set(wanted):
            store.conn.execute(
                "delete from subscriptions where user_id = ? and facility = ? and product = ?",
                [user.id, facility, product],
            )
        for product in wanted:
            if product not in have:
                store.conn.execute(
                    "insert into subscriptions (user_id, facility, product, created_at) "
                    "values (?, ?, ?, ?)",
                    [user.id, facility, product, started],
                )
    return wanted


def _store_now() -> str:
    from .store import now_iso

    return now_iso()


def _iso(t: datetime) -> str:
    return iso_z(t)


# ------------------------------------------------------------------ the queue
def _queue(
    store: Store,
    *,
    item: str,
    kind: str,
    user_id: int,
    station: str,
    data_until: str | None,
    file_name: str,
    now: datetime,
    message_id: int | None = None,
    episode_id: int | None = None,
    notice_id: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> bool:
    """Queue one item for one user unless it is queued already; whether it was new."""
    cursor = store.conn.execute(
        "insert or ignore into mail_queue (item, kind, message_id, episode_id, notice_id, "
        "user_id, station, data_until, file_name, details, state, tries, next_try, "
        "created_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        [
            item,
            kind,
            message_id,
            episode_id,
            notice_id,
            user_id,
            station,
            data_until,
            file_name,
            json.dumps(dict(details), default=str) if details is not None else None,
            QUEUED,
            iso_z(now),
            iso_z(now),
        ],
    )
    return cursor.rowcount == 1


def _subscribers(store: Store, facility: str, product: str) -> list[User]:
    ids = [
        r[0]
        for r in store.conn.execute(
            "select s.user_id from subscriptions s join users u on u.id = s.user_id "
            "where s.facility = ? and s.product = ? and u.enabled = 1 order by s.user_id",
            [facility, product],
        )
    ]
    return [u for u in (get_user(store, i) for i in ids) if u is not None]


def enqueue_published(store: Store, now: datetime) -> int:
    """Queue every file that is published at `now` for each subscriber who may see it
    and has not got it queued yet; also the maintenance notices (table `notifications`,
    when it exists) for the users of their facility. The number of rows queued.

    A subscription mails what was not yet published, or not yet received, when it
    began: subscribing does not mail a facility's whole history.
    """
    queued = 0
    condition, params = published_scope(store, now)
    groups = store.db.query(
        # products subscribed at the same moment share one query (their "since")
        "select s.user_id, s.facility, group_concat(s.product) as products, "
        "s.created_at as since from subscriptions s join users u on u.id = s.user_id "
        "where u.enabled = 1 and u.email like '%_@_%' "
        "group by s.user_id, s.facility, s.created_at "
        "order by s.user_id, s.facility"
    )
    with store.conn:
        for group in list(groups):
            user = get_user(store, group["user_id"])
            if user is None or not user.can_see(group["facility"]):
                continue
            products = group["products"].split(",")
            since = group["since"]
            was_condition, was_params = published_scope(store, _parse(since))
            rows = store.db.query(
                "select id, station, product, file_name, data_until, received_at from messages m "
                f"where station = ? and product in ({', '.join('?' * len(products))}) "
                f"and {condition} and (received_at >= ? or not {was_condition}) "
                "and not exists (select 1 from mail_queue q where q.item = 'message:' || m.id "
                "and q.user_id = ?) order by data_until, id",
                [group["facility"], *products, *params, since, *was_params, user.id],
            )
            for row in list(rows):
                if not can_see_message(store, user, row, now):
                    continue
                queued += _queue(
                    store,
                    item=f"message:{row['id']}",
                    kind="message",
                    user_id=user.id,
                    station=row["station"],
                    data_until=row["data_until"],
                    file_name=row["file_name"],
                    message_id=row["id"],
                    now=now,
                )
        queued += _enqueue_notices(store, now)
    return queued


def _parse(text: str) -> datetime:
    from datetime import UTC

    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _enqueue_notices(store: Store, now: datetime) -> int:
    """Maintenance notices (`notifications`: id, station, kind, subject, text,
    created_at, data_until) to every enabled user who may see the facility."""
    if "notifications" not in store.db.table_names():
        return 0
    horizon = iso_z(now - NOTICE_HORIZON)
    notices = list(
        store.db.query("select * from notifications n where created_at >= ? order by id", [horizon])
    )
    if not notices:
        return 0
    users = [
        u
        for u in (
            get_user(store, r[0])
            for r in store.conn.execute("select id from users where enabled = 1 order by id")
        )
        if u is not None
    ]
    queued = 0
    for notice in notices:
        station = notice.get("station") or ""
        for user in users:
            if not station or not user.can_see(station):
                continue
            queued += _queue(
                store,
                item=f"notice:{notice['id']}",
                kind="notice",
                user_id=user.id,
                station=station,
                data_until=notice.get("data_until"),
                file_name=notice_file_name(notice),
                notice_id=notice["id"],
                details={
                    k: notice.get(k)
                    for k in ("kind", "subject", "text", "created_at", "data_until")
                },
                now=now,
            )
    return queued


def notice_file_name(notice: Mapping[str, Any]) -> str:
    """The attachment's name (and the Subject) of a maintenance notice."""
    moment = _stamp(notice.get("created_at"))
    return f"{notice.get('station') or 'CENTRAL'}_{notice['id']}_NOTICE_{moment}.TXT"


def alert_file_name(episode: Mapping[str, Any]) -> str:
    """The attachment's name (and the Subject) of a central alert episode, raised or
    cleared: `STATION_ID_ALERT_CENTRAL_<kind>_<time>[_CLEARED].TXT`."""
    cleared = episode.get("state") == "cleared"
    moment = _stamp(episode.get("cleared_at") if cleared else episode.get("raised_at"))
    station = episode.get("station") or "CENTRAL"
    kind = str(episode.get("kind") or "alert").upper()
    return (
        f"{station}_{episode['id']}_ALERT_CENTRAL_{kind}_{moment}"
        + ("_CLEARED" if cleared else "")
        + ".TXT"
    )


def _stamp(value: Any) -> str:
    try:
        return _parse(str(value)).strftime("%Y_%m_%dT%H_%M_%S")
    except (ValueError, TypeError):
        return "UNKNOWN"


def mail_alert(store: Store, episode: Mapping[str, Any], now: datetime) -> int:
    """Queue a central alert episode (a row of `central_alerts`: id, station, kind, key,
    state, raised_at, cleared_at, data_until, value, message, details) to the users
    subscribed to ALERT for its facility; a central-wide one (no station) to the
    administrators subscribed to ALERT for any facility. Called when an episode is raised
    and again when it clears (each is mailed once). The number of rows queued.

    The mail leaves once the episode is published for that user (the publish rule on its
    station and data_until), checked at send time.
    """
    if "id" not in episode:
        raise ValueError("an alert episode needs its id")
    station = episode.get("station") or ""
    state = "cleared" if episode.get("state") == "cleared" else "open"
    if station:
        users = _subscribers(store, station, "ALERT")
    else:
        ids = [
            r[0]
            for r in store.conn.execute(
                "select distinct s.user_id from subscriptions s join users u on u.id = "
                "s.user_id where s.product = 'ALERT' and u.enabled = 1 and u.role = 'admin'"
            )
        ]
        users = [u for u in (get_user(store, i) for i in ids) if u is not None]
    data_time = episode.get("data_until") or episode.get("raised_at") or iso_z(now)
    queued = 0
    with store.conn:
        for user in users:
            if station and not user.can_see(station):
                continue
            if not station and not user.is_admin:
                continue
            queued += _queue(
                store,
                item=f"alert:{episode['id']}:{state}",
                kind="alert",
                user_id=user.id,
                station=station,
                data_until=str(data_time),
                file_name=alert_file_name(episode),
                episode_id=int(episode["id"]),
                details={k: _plain(v) for k, v in episode.items()},
                now=now,
            )
    return queued


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def queue_rows(store: Store, user_id: int | None = None) -> list[dict[str, Any]]:
    """The queue, oldest first (for operators and tests)."""
    if user_id is None:
        return list(store.db.query("select * from mail_queue order by id"))
    return list(store.db.query("select * from mail_queue where user_id = ? order by id", [user_id]))
