"""The download API on the web server, for scripts (`stax fetch`, `central.client`):

    GET /api/v1/files?station=USS06,AUS02&type=ATS,CSV&day=2023-11-15   (or month=2023-11,
        or since=/until=; analysis=, page=, page_size=)  -> paged JSON rows
    GET /api/v1/files/{id}                                 -> the bytes, with ETag and Range

Authentication is a per-user API token (`Authorization: Bearer stax_...`, central/tokens.py),
with a rate limit per token. Every row goes through the facility and publish-delay rule
(central/access.py) at the server's now, exactly as the Received page. Errors are JSON:
`{"error": {"status": 404, "code": "not_found", "message": "..."}}`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request, url_for
from werkzeug.exceptions import HTTPException

from central.access import can_see_message, visible_stations
from central.tokens import user_for_token
from central.web.clock import now, seconds
from central.web.db import get_store
from central.web.downloads import safe_file_name
from central.web.queries import ANALYSES, FILE_FIELDS, PRODUCTS, ReceivedFilter, received_page

PREFIX = "/api"  # everything under it is the API's, answered in JSON
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    416: "range_not_satisfiable",
    429: "too_many_requests",
    500: "server_error",
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(
        {"error": {"status": status, "code": _CODES.get(status, "error"), "message": message}}
    )
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


class RateLimit:
    """A token bucket per API token: `per_minute` requests a minute, bursts of as many.
    Kept in the web process's memory; a restart forgives."""

    def __init__(self, per_minute: int, clock: Callable[[], float]):
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}  # token id -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: int) -> float:
        """0 when the request may go on, else the seconds to wait."""
        t = self.clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.capacity, t))
            tokens = min(self.capacity, tokens + max(0.0, t - at) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, t)
                return 0.0
            self._buckets[key] = (tokens, t)
            return (1 - tokens) / self.rate


@dataclass(frozen=True)
class FileQuery:
    filters: ReceivedFilter
    page: int
    page_size: int


def parse_file_query(args: Any, stations_allowed: list[str]) -> FileQuery:
    """The query string of GET /files as filters; ApiError 400 (or 403 for a station the
    user may not see) names the parameter and what is expected."""
    stations = _list(args, "station")
    foreign = [s for s in stations if s not in stations_allowed]
    if foreign:
        # the same answer for another facility's station and one that does not exist
        raise ApiError(403, f"station: you may not see station {', '.join(foreign)}")
    products = _list(args, "type")
    bad = [p for p in products if p not in PRODUCTS]
    if bad:
        raise ApiError(400, f"type: {', '.join(bad)} is not one of {', '.join(PRODUCTS)}")
    analyses = _list(args, "analysis")
    bad = [a for a in analyses if a not in ANALYSES]
    if bad:
        raise ApiError(400, f"analysis: {', '.join(bad)} is not one of {', '.join(ANALYSES)}")
    given = [k for k in ("day", "month") if args.get(k)]
    if (given and (args.get("since") or args.get("until"))) or len(given) > 1:
        raise ApiError(400, "give one of day=, month= or since=/until=")
    since = _time(args, "since")
    until = _time(args, "until")
    if args.get("day"):
        since = _day(args["day"])
        until = since + timedelta(days=1)
    elif args.get("month"):
        since = _month(args["month"])
        until = (since + timedelta(days=32)).replace(day=1)
    return FileQuery(
        filters=ReceivedFilter(
            stations=tuple(stations),
            products=tuple(products),
            analyses=tuple(analyses),
            since=since,
            until=until,
        ),
        page=_int(args, "page", 1, 1, None),
        page_size=_int(args, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE),
    )


def _list(args: Any, name: str) -> list[str]:
    values = []
    for text in args.getlist(name):
        values += [v.strip().upper() for v in text.split(",") if v.strip()]
    return list(dict.fromkeys(values))


def _int(args: Any, name: str, default: int, low: int, high: int | None) -> int:
    text = args.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, f"{name}: expected a whole number, got {text!r}") from None
    if value < low or (high is not None and value > high):
        raise ApiError(400, f"{name}: expected {low} to {high or 'more'}, got {value}")
    return value


def _day(text: str) -> datetime:
    try:
        d = date.fromisoformat(text.replace("_", "-"))
    except ValueError:
        raise ApiError(400, f"day: expected YYYY-MM-DD, got {text!r}") from None
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _month(text: str) -> datetime:
    try:
        year, month = (int(p) for p in text.replace("_", "-").split("-"))
        return datetime(year, month, 1, tzinfo=UTC)
    except ValueError:
        raise ApiError(400, f"month: expected YYYY-MM, got {text!r}") from None


def _time(args: Any, name: str) -> datetime | None:
    text = args.get(name)
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace(" ", "+"))  # a '+' sent unescaped
    except ValueError:
        raise ApiError(
            400, f"{name}: expected an ISO 8601 time (2023-11-15T06:00:00Z), got {text!r}"
        ) from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def file_row(row: dict[str, Any]) -> dict[str, Any]:
    """One file as the API lists it."""
    return {
        "id": row["id"],
        "name": row["file_name"],
        "type": row["product"],
        "analysis": row["analysis"],
        "station": row["station"],
        "start": row["start_time"],
        "data_until": row["data_until"],
        "received": row["received_at"],
        "size": row["size"],
        "sha256": row["sha256"],
        "url": url_for("api.get_file", file_id=row["id"], _external=True),
    }


def make_blueprint(requests_per_minute: int) -> Blueprint:
    api = Blueprint("api", __name__, url_prefix=PREFIX)
    limit = RateLimit(requests_per_minute, seconds)  # seconds: the app's clock, per request

    @api.before_request
    def _authenticate() -> Response | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return error_response(
                401,
                "send an API token as 'Authorization: Bearer <token>' "
                "(make one on the Settings page)",
                {"WWW-Authenticate": 'Bearer realm="stax"'},
            )
        found = user_for_token(get_store(), token.strip(), now())
        if found is None:
            return error_response(
                401,
                "the API token is unknown or revoked",
                {"WWW-Authenticate": 'Bearer realm="stax", error="invalid_token"'},
            )
        g.api_user, token_id = found
        wait = limit.take(token_id)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            return error_response(
                429,
                f"more than {requests_per_minute} requests a minute with this token: "
                f"retry in {retry} s",
                {"Retry-After": str(retry)},
            )
        return None

    @api.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.message, exc.headers)

    @api.get("/v1/files")
    def list_files() -> Response:
        store, user = get_store(), g.api_user
        query = parse_file_query(request.args, visible_stations(store, user))
        page = received_page(
            store,
            user,
            query.filters,
            now=now(),
            sort="start_time",
            descending=False,
            page=query.page,
            page_size=query.page_size,
            fields=FILE_FIELDS,
        )
        past_end = query.page > page.pages
        rows = [] if past_end else [file_row(r) for r in page.rows]
        following = None
        if not past_end and page.page < page.pages:
            args = request.args.to_dict(flat=True)
            args["page"] = str(page.page + 1)
            following = url_for("api.list_files", _external=True, **args)
        response = jsonify(
            {
                "files": rows,
                "total": page.total,
                "page": query.page,
                "pages": page.pages,
                "page_size": query.page_size,
                "next": following,
            }
        )
        response.headers["Cache-Control"] = "private, no-store"
        return response

    @api.get("/v1/files/<int:file_id>")
    def get_file(file_id: int) -> Response:
        store, user = get_store(), g.api_user
        row = _file_row(store, file_id)
        # unpublished, another facility's and missing files: the same 404 for everybody
        if row is None or not can_see_message(store, user, row, now()):
            raise ApiError(404, f"no file {file_id} that you may see")
        content = store.content(file_id)
        response = Response(content, mimetype="application/octet-stream")
        response.set_etag(row["sha256"])
        name = safe_file_name(row["file_name"], f"file-{file_id}")
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        response.headers["Cache-Control"] = "private, no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Checksum-Sha256"] = row["sha256"]
        # 206 for Range (also with If-Range), 304 for If-None-Match, 416 past the end
        return response.make_conditional(request, accept_ranges=True, complete_length=len(content))

    @api.get("/")
    @api.get("/<path:rest>")
    def unknown(rest: str = "") -> Response:
        # without this, Dash's catch-all page route would answer with its HTML page
        raise ApiError(404, f"no API route {request.path} (try {PREFIX}/v1/files)")

    return api


def _file_row(store: Any, file_id: int) -> dict[str, Any] | None:
    rows = list(
        store.db.query(
            "select id, station, file_name, data_until, sha256 from messages where id = ?",
            [file_id],
        )
    )
    return rows[0] if rows else None


def init_api(server: Flask, requests_per_minute: int) -> None:
    """The API's blueprint on the web server, and JSON errors for anything under it."""
    server.register_blueprint(make_blueprint(requests_per_minute))

    def _json_error(exc: HTTPException) -> Response | HTTPException:
        if not request.path.startswith(PREFIX + "/"):
            return exc
        return error_response(exc.code or 500, exc.description or exc.name)

    for status in (404, 405, 416):
        server.register_error_handler(status, _json_error)
