"""Downloads: received files (one as itself, several as a zip) and quarantined messages.

Each requested row is checked against the user here, on the server, whatever the page
offered: one file the user may not see refuses the whole request, before any content is
read.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Flask, Response, request

from central.access import can_see_message
from central.store import Store

from .auth import current_account, text_response
from .clock import now
from .db import get_store

MAX_FILES = 1000  # per request: a zip of a year of one station's PHD files is ~35,000
_CHUNK = 1 << 16
_SPOOL_BYTES = 32 << 20  # zips larger than this are built in a temporary file


def parse_ids(text: str) -> list[int]:
    """`1,2,3` as [1, 2, 3], in order, without repeats."""
    ids: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit():
            raise ValueError(f"ids: {part!r} is not a file id (expected e.g. ids=1,2,3)")
        value = int(part)
        if value not in ids:
            ids.append(value)
    if not ids:
        raise ValueError("ids: no file ids given (expected e.g. ids=1,2,3)")
    if len(ids) > MAX_FILES:
        raise ValueError(f"ids: {len(ids)} files asked for, at most {MAX_FILES} per download")
    return ids


def safe_file_name(name: str | None, fallback: str) -> str:
    """A name that is safe in a Content-Disposition header and as a zip member."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name or "").lstrip(".")
    return cleaned or fallback


def init_downloads(server: Flask) -> None:
    @server.route("/download", methods=["GET", "POST"])
    def download() -> Response:
        try:
            ids = parse_ids(request.values.get("ids", ""))
        except ValueError as exc:
            return text_response(400, str(exc))
        user = current_account()
        store = get_store()
        marks = ", ".join("?" * len(ids))
        rows = {
            row["id"]: row
            for row in store.db.query(
                "select id, station, file_name, received_at, data_until from messages "
                f"where id in ({marks})",
                ids,
            )
        }
        moment = now()
        refused = [
            i for i in ids if i not in rows or not can_see_message(store, user, rows[i], moment)
        ]
        if refused:
            # only administrators learn whether an id exists at all
            listed = ", ".join(map(str, refused))
            if user.is_admin:
                return text_response(404, f"no received file with id {listed}")
            return text_response(403, f"not allowed: file id {listed}")
        if len(ids) == 1:
            row = rows[ids[0]]
            content = _content(store, row["id"])
            name = safe_file_name(row["file_name"], f"file-{row['id']}")
            return _attachment(iter([content]), name, "application/octet-stream", len(content))
        return _zip_response(store, [rows[i] for i in ids])

    @server.route("/download/quarantine/<int:quarantine_id>")
    def download_quarantined(quarantine_id: int) -> Response:
        if not current_account().is_admin:
            return text_response(403, "quarantined messages are for administrators only")
        row = (
            get_store()
            .conn.execute("select file_name, body from quarantine where id = ?", [quarantine_id])
            .fetchone()
        )
        if row is None:
            return text_response(404, f"no quarantined message with id {quarantine_id}")
        file_name, body = row
        name = f"quarantine-{quarantine_id}"
        if file_name:
            name += "-" + safe_file_name(file_name, "")
        return _attachment(iter([body]), name + ".raw", "application/octet-stream", len(body))


def _content(store: Store, message_id: int) -> bytes:
    return store.content(message_id)


def _zip_response(store: Store, rows: list[dict]) -> Response:
    # closed by _chunks once the response has been sent
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
    try:
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for row in rows:  # one file's content in memory at a time
                info = zipfile.ZipInfo(
                    safe_file_name(row["file_name"], f"file-{row['id']}"),
                    date_time=_zip_time(row["received_at"]),
                )
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, _content(store, row["id"]))
    except BaseException:
        spool.close()
        raise
    size = spool.tell()
    spool.seek(0)
    stamp = now().strftime("%Y%m%dT%H%M%SZ")
    return _attachment(
        _chunks(spool), f"stax-{len(rows)}-files-{stamp}.zip", "application/zip", size
    )


def _zip_time(iso: str | None) -> tuple[int, int, int, int, int, int]:
    try:
        t = datetime.fromisoformat(iso or "")
    except ValueError:
        t = datetime(1980, 1, 1)
    if t.tzinfo is not None:
        t = t.astimezone(UTC)
    return (max(t.year, 1980), t.month, t.day, t.hour, t.minute, t.second)


def _chunks(spool) -> Iterator[bytes]:
    with spool:
        while chunk := spool.read(_CHUNK):
            yield chunk


def _attachment(body: Iterator[bytes], name: str, mimetype: str, size: int) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Content-Length"] = str(size)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
