"""The central database (SQLite through sqlite-utils, WAL, synchronous=FULL) and its blobs.

Everything received is kept: verified messages with their parsed summary, refused
messages in `quarantine` with the reason and the bytes exactly as received. A message's
bytes live in the content-addressed blob store beside the database (`central.blobs`,
`blobs/` next to the database file), written and fsynced before the row that names them:

- from a station, the CMS SignedData it signed (which embeds the file and carries the
  station's signature: the proof of the message), gzip-compressed; the file users
  download is read out of it and checked against the row's sha256;
- a product the central makes itself (no signature), the file, gzip-compressed.

So no bytes are kept twice and none uncompressed. Rows stored before the blob store
(schema 1) kept the file in `content` and the encrypted envelope in `envelope`; they are
read as they are. Tables are created (and schema 1 extended) on open; each process opens
its own connection.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from shared.crypto.cms import CmsError, signed_content

from .blobs import BlobError, BlobStore, Packed, Written, pack
from .datatime import data_until
from .permissions import create_private_file, make_private_dir
from .soh import ensure_schema as ensure_soh_schema
from .soh import record_soh

SCHEMA_VERSION = 2

BLOB_SIGNED = "cms"  # the blob is the CMS SignedData (DER) that embeds the file
BLOB_FILE = "file"  # the blob is the file itself

PUBLISH_DELAYS = ("immediately", "1d", "3d", "7d", "never")
ROLES = ("admin", "owner", "user")


@dataclass(frozen=True)
class StationResultRow:
    """The station's result for one spectrum, as a station ATS brings it."""

    file_name: str  # the PHD's product file name
    srid: str
    acquisition_start: str
    method_version: str
    result: dict[str, Any]  # AnalysisResult JSON


def _finite(row: dict[str, Any]) -> dict[str, Any]:
    """NaN and infinities as NULL: SQLite and JSON have no room for them."""
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()
    }


def _json(value: Any) -> str:
    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(value), allow_nan=False)


def pack_signed(signed_data: bytes, content: bytes, file_name: str) -> Packed:
    """The SignedData compressed and named for the blob store, once it is sure that
    `content` reads back out of it. Pure CPU work: the intake runs it in its worker
    threads so that the database thread only writes."""
    try:
        embedded = signed_content(signed_data)
    except CmsError as exc:
        raise ValueError(f"{file_name}: the signed data cannot be read: {exc}") from None
    if embedded != content:
        raise ValueError(f"{file_name}: the signed data does not embed this file")
    return pack(signed_data)


def blob_root(database: str | Path) -> Path:
    """The blob store's folder beside a database file."""
    return Path(database).parent / "blobs"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class StoredFileError(Exception):
    """A stored message's bytes cannot be read back as they were verified."""


@dataclass(frozen=True)
class StoreResult:
    outcome: str  # created, duplicate, conflict
    message_id: int | None  # row id of the stored message (None for a conflict)


class Store:
    """A connection to the central database with the operations the services need."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        # private from the first byte: 0700 folder, 0600 file (SQLite gives the -wal and
        # -shm files the database file's mode); central/permissions.py says why
        make_private_dir(self.path.parent)
        create_private_file(self.path)
        conn = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self.blobs = BlobStore(blob_root(self.path))
        self._create_schema()

    def close(self) -> None:
        # keeps the planner's statistics current as the tables grow (cheap when they are)
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("PRAGMA optimize")
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ schema
    def _create_schema(self) -> None:
        db = self.db
        if "facilities" not in db.table_names():
            db["facilities"].create(
                {
                    "code": str,
                    "name": str,
                    "site": str,
                    "country": str,
                    "latitude": float,
                    "longitude": float,
                    "publish_delay": str,
                    "created_at": str,
                    "updated_at": str,
                },
                pk="code",
                not_null={"code", "publish_delay"},
                defaults={"publish_delay": "immediately"},
            )
        if "users" not in db.table_names():
            db["users"].create(
                {
                    "id": int,
                    "username": str,
                    "password_hash": str,
                    "role": str,
                    "enabled": int,
                    "first_name": str,
                    "last_name": str,
                    "email": str,
                    "created_at": str,
                    "updated_at": str,
                },
                pk="id",
                not_null={"username", "password_hash", "role", "enabled"},
                defaults={"enabled": 1, "role": "user"},
            )
            db["users"].create_index(["username"], unique=True)
        # the Users page sorts by created_at (central/accounts.py, list_users; "created_at,
        # id": an index of one column ends with the row id); made on older databases too
        db["users"].create_index(["created_at"], if_not_exists=True)
        if "user_facilities" not in db.table_names():
            db["user_facilities"].create(
                {"user_id": int, "facility": str, "relation": str},
                pk=("user_id", "facility"),
                foreign_keys=[("user_id", "users", "id"), ("facility", "facilities", "code")],
                not_null={"relation"},
            )
        if "messages" not in db.table_names():
            db["messages"].create(
                {
                    "id": int,
                    "file_name": str,
                    "station": str,
                    "data_type": str,
                    "product": str,
                    "analysis": str,
                    "msg_id": str,
                    "sha256": str,
                    "size": int,
                    "start_time": str,
                    "received_at": str,
                    "signer": str,
                    "summary": str,  # JSON: header fields, no counts
                    "blob": str,  # sha256 of the blob holding the bytes (central.blobs)
                    "blob_kind": str,  # cms (SignedData embedding the file) or file
                    "content": bytes,  # schema 1 only: the verified file, exact bytes
                    "envelope": bytes,  # schema 1 only: the CMS message as received
                },
                pk="id",
                not_null={
                    "file_name",
                    "station",
                    "data_type",
                    "product",
                    "msg_id",
                    "sha256",
                    "received_at",
                },
            )
            db["messages"].create_index(["file_name"], unique=True)
            db["messages"].create_index(["station", "msg_id"], unique=True)
            db["messages"].create_index(["station", "start_time"])
        self._upgrade_messages()
        if "quarantine" not in db.table_names():
            db["quarantine"].create(
                {
                    "id": int,
                    "file_name": str,
                    "station": str,
                    "received_at": str,
                    "status": int,
                    "reason": str,
                    "peer": str,
                    "size": int,
                    "sha256": str,
                    "body": bytes,  # exactly what arrived
                    "blob": str,  # a conflict's SignedData, kept as evidence (central.blobs)
                },
                pk="id",
                not_null={"received_at", "reason", "body"},
            )
            db["quarantine"].create_index(["received_at"])
        self._upgrade_quarantine()
        if "analyses" not in db.table_names():
            db["analyses"].create(
                {
                    "id": int,
                    "message_id": int,
                    "method": str,  # "central" (re-analysis) or "station"
                    "method_version": str,
                    "created_at": str,
                    "elapsed_s": float,
                    "result": str,  # AnalysisResult JSON; None when the analysis failed
                    "error": str,  # why the spectrum could not be analysed
                },
                pk="id",
                foreign_keys=[("message_id", "messages", "id")],
                not_null={"message_id", "method", "created_at"},
            )
            db["analyses"].create_index(["message_id", "method"], unique=True)
        if "station_results" not in db.table_names():
            db["station_results"].create(
                {
                    "id": int,
                    "ats_message_id": int,  # the station ATS it came in
                    "station": str,
                    "file_name": str,  # the PHD it belongs to (its product file name)
                    "srid": str,
                    "acquisition_start": str,
                    "method_version": str,
                    "result": str,  # AnalysisResult JSON, rebuilt from the ATS
                    "created_at": str,
                },
                pk="id",
                foreign_keys=[("ats_message_id", "messages", "id")],
                not_null={"ats_message_id", "station", "file_name", "result", "created_at"},
            )
            db["station_results"].create_index(["station", "file_name"], unique=True)
        if "comparison_runs" not in db.table_names():
            db["comparison_runs"].create(
                {
                    "message_id": int,  # the PHD
                    "station_result_id": int,
                    "central_analysis_id": int,
                    "created_at": str,
                    "nuclides": int,
                    "flagged": int,  # how many nuclides disagree
                    "error": str,  # why they could not be compared
                },
                pk="message_id",
                foreign_keys=[
                    ("message_id", "messages", "id"),
                    ("station_result_id", "station_results", "id"),
                    ("central_analysis_id", "analyses", "id"),
                ],
                not_null={"station_result_id", "central_analysis_id", "created_at"},
            )
        if "comparisons" not in db.table_names():
            db["comparisons"].create(
                {
                    "id": int,
                    "message_id": int,
                    "nuclide": str,
                    "quantity": str,  # release (Bq per interval) or activity (Bq)
                    "station_value": float,
                    "station_unc": float,
                    "station_detected": int,
                    "station_limit": float,
                    "central_value": float,
                    "central_unc": float,
                    "central_detected": int,
                    "central_limit": float,
                    "z": float,
                    "flagged": int,
                    "reason": str,
                },
                pk="id",
                foreign_keys=[("message_id", "comparison_runs", "message_id")],
                not_null={"message_id", "nuclide", "flagged", "reason"},
            )
            db["comparisons"].create_index(["message_id", "nuclide"], unique=True)
            db["comparisons"].create_index(["flagged"])
        if "comparison_view" not in db.view_names():
            db.create_view(
                "comparison_view",
                "select c.*, m.station, m.file_name, m.start_time "
                "from comparisons c join messages m on m.id = c.message_id",
            )
        if "meta" not in db.table_names():
            db["meta"].insert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")
        elif db["meta"].get("schema_version")["value"] != str(SCHEMA_VERSION):
            with self.conn:
                db["meta"].upsert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")
        # --- impact at IMS stations (central/impact.py) ---
        if "ims_stations" not in db.table_names():
            db["ims_stations"].create(
                {
                    "code": str,
                    "name": str,
                    "latitude": float,
                    "longitude": float,
                    "system": str,
                    "sample_hours": float,
                    "stop_hour": float,
                    "source": str,
                    "updated_at": str,
                    "updated_by": str,
                },
                pk="code",
                not_null={"code", "latitude", "longitude", "sample_hours", "stop_hour"},
            )
        if "atm_files" not in db.table_names():
            db["atm_files"].create(
                {
                    "id": int,
                    "file_name": str,
                    "sha256": str,
                    "kind": str,  # srs (backward) or cdump (forward)
                    "station": str,  # receptor (srs)
                    "emitter": str,  # facility code (cdump)
                    "sample_start": str,  # srs: the IMS sample; cdump: first output period
                    "sample_stop": str,
                    "window_start": str,  # the releases the file covers
                    "window_end": str,
                    "details": str,  # JSON: centre, step base, cells, grid, unit release ...
                    "content": bytes,  # the file as received
                    "origin": str,  # upload or the atm_dir path
                    "added_by": str,
                    "received_at": str,
                },
                pk="id",
                not_null={"file_name", "sha256", "kind", "content", "received_at"},
            )
            db["atm_files"].create_index(["sha256"], unique=True)
            db["atm_files"].create_index(["kind", "station", "sample_start"])
        # security (docs/security.md): web sessions kept on the server, failed logins for
        # throttling, and alerts about stations refused again and again
        if "web_sessions" not in db.table_names():
            db["web_sessions"].create(
                {
                    "id": str,  # SHA-256 of the token in the signed cookie, never the token
                    "user_id": int,
                    "created_at": str,
                    "last_seen": float,  # the web app's clock, seconds
                    "address": str,
                },
                pk="id",
                foreign_keys=[("user_id", "users", "id")],
                not_null={"user_id", "created_at", "last_seen"},
            )
            db["web_sessions"].create_index(["user_id"])
        if "login_failures" not in db.table_names():
            db["login_failures"].create(
                {
                    "scope": str,  # "user" (name as typed) or "address"
                    "key": str,
                    "failures": int,
                    "last_failure": float,  # seconds
                    "blocked_until": float,
                },
                pk=("scope", "key"),
                not_null={"failures", "last_failure", "blocked_until"},
            )
        if "intake_alerts" not in db.table_names():
            db["intake_alerts"].create(
                {
                    "id": int,
                    "created_at": str,
                    "station": str,  # the TLS identity
                    "kind": str,  # quota, refusals
                    "count": int,  # refusals in the last hour
                    "message": str,
                },
                pk="id",
                not_null={"created_at", "kind", "message"},
            )
            db["intake_alerts"].create_index(["created_at"])
        self._create_publish_schema()
        self._create_module_schemas()

    def _create_module_schemas(self) -> None:
        """The tables of the modules built on the store, each made by its own
        `ensure_schema` (idempotent; a database from before them is brought up to date)."""
        from central import alerts, maintenance, releases, resources, station_alerts, subscriptions

        for module in (releases, maintenance, resources):
            module.ensure_schema(self.db)
        ensure_soh_schema(self.db, self)  # central/soh.py: the SOH readings as values, limits
        for module in (alerts, subscriptions, station_alerts):
            module.ensure_schema(self.db)

    def _create_publish_schema(self) -> None:
        """The publish delay, the facility register and API tokens (issue 15); also brings
        a database made before them up to date: `messages.data_until` added and filled."""
        db = self.db
        messages = db["messages"]
        if "data_until" not in messages.columns_dict:
            try:
                self._add_data_until()
            except sqlite3.OperationalError as exc:
                # the intake, the web server and the worker open the database together:
                # another one added (and filled) it first
                if "duplicate column" not in str(exc):
                    raise
        messages.create_index(["station", "data_until"], if_not_exists=True)
        messages.create_index(["start_time"], if_not_exists=True)  # the API's order
        view = db["comparison_view"]
        if "data_until" not in view.columns_dict:
            # the publish rule filters comparisons by their spectrum's data time
            view.drop()
            db.create_view(
                "comparison_view",
                "select c.*, m.station, m.file_name, m.start_time, m.data_until "
                "from comparisons c join messages m on m.id = c.message_id",
            )
        facility_columns = {
            "network": str,
            "type": str,  # e.g. medical isotope production, nuclear power plant
            "altitude": float,  # m above sea level
            "stack_height": float,  # m
            "emitter_type": str,
            "realtime_data": int,  # 1: the station sends each spectrum as it is made
            "collection_seconds": int,  # length of one sample's collection
        }
        present = db["facilities"].columns_dict
        for name, kind in facility_columns.items():
            if name not in present:
                db["facilities"].add_column(name, kind)
        if "facility_changes" not in db.table_names():
            db["facility_changes"].create(
                {
                    "id": int,
                    "facility": str,
                    "field": str,
                    "old": str,
                    "new": str,
                    "changed_by": str,  # user name, or how (e.g. "cli")
                    "changed_at": str,
                },
                pk="id",
                foreign_keys=[("facility", "facilities", "code")],
                not_null={"facility", "field", "changed_by", "changed_at"},
            )
            db["facility_changes"].create_index(["facility", "changed_at"])
        if "api_tokens" not in db.table_names():
            db["api_tokens"].create(
                {
                    "id": int,
                    "user_id": int,
                    "name": str,  # what the user calls it
                    "prefix": str,  # the first characters, to recognise it in lists
                    "token_hash": str,  # SHA-256 of the token: the token itself is never kept
                    "created_at": str,
                    "created_by": str,
                    "last_used_at": str,
                    "revoked_at": str,
                },
                pk="id",
                foreign_keys=[("user_id", "users", "id")],
                not_null={"user_id", "token_hash", "created_at"},
            )
            db["api_tokens"].create_index(["token_hash"], unique=True)

    def _add_data_until(self) -> None:
        """`messages.data_until` added to a database from before it, and filled."""
        with self.conn:
            self.conn.execute("alter table messages add column data_until text")
            rows = self.conn.execute(
                "select id, product, start_time, summary, received_at from messages"
            ).fetchall()
            self.conn.executemany(
                "update messages set data_until = ? where id = ?",
                [
                    (
                        data_until(
                            product=product,
                            start_time=start,
                            summary=_summary(summary),
                            received_at=received,
                        ),
                        row_id,
                    )
                    for row_id, product, start, summary, received in rows
                ],
            )

    def _upgrade_messages(self) -> None:
        """Schema 1 to 2: the blob columns and the indexes of the paged lists. Old rows
        keep their `content` and `envelope` and are read from there."""
        table = self.db["messages"]
        with self.conn:
            for column in ("blob", "blob_kind"):
                if column not in table.columns_dict:
                    table.add_column(column, str)
            # The Received page and the API page through a year of files (336,000 rows of
            # 10 stations). Newest first is read from this index alone (it holds every
            # column the list shows and filters on), so that skipping to a deep page never
            # reads the rows themselves; the others give each sortable column its order
            # ("column, id": an index of one column ends with the row id).
            table.create_index(
                ["received_at", "id", "station", "product", "analysis", "start_time",
                 "file_name", "msg_id"],
                index_name="messages_received_list",
                if_not_exists=True,
            )  # fmt: skip
            for column in ("start_time", "station", "product", "analysis", "msg_id"):
                table.create_index([column], if_not_exists=True)
            # schema 1's index of received_at alone would be chosen instead, and read rows
            self.conn.execute("drop index if exists idx_messages_received_at")
        self._plan_statistics()

    def _upgrade_quarantine(self) -> None:
        """`quarantine.blob` added to a database from before it (rows before it have none)."""
        if "blob" in self.db["quarantine"].columns_dict:
            return
        try:
            with self.conn:
                self.conn.execute("alter table quarantine add column blob text")
        except sqlite3.OperationalError as exc:
            # the intake, the web server and the worker open the database together
            if "duplicate column" not in str(exc):
                raise

    def _plan_statistics(self) -> None:
        """Without statistics SQLite takes `station in (...)` for selective and sorts a
        year of rows rather than walk the list's index: make them once the table has
        rows (`PRAGMA optimize` in `close` keeps them current as it grows). A full
        ANALYZE (0.5 s on a year): sampled statistics take a station for rare."""
        if (
            "sqlite_stat1" in self.db.table_names()
            and self.conn.execute(
                "select 1 from sqlite_stat1 where tbl = 'messages' limit 1"
            ).fetchone()
        ):
            return
        if self.conn.execute("select 1 from messages limit 1 offset 1000").fetchone():
            with self.conn:
                self.conn.execute("ANALYZE messages")

    # --------------------------------------------------------------- messages
    def add_message(
        self,
        *,
        file_name: str,
        station: str,
        data_type: str,
        product: str,
        msg_id: str,
        content: bytes,
        start_time: str | None,
        summary: dict[str, Any],
        signed_data: bytes | Packed | Written | None = None,
        signer: str | None = None,
        analysis: str = "STATION",
        received_at: str | None = None,
        station_results: Sequence[StationResultRow] = (),
    ) -> StoreResult:
        """Store a verified message once. Same (station, msg_id) or file name with the same
        bytes: duplicate; with other bytes: conflict (the caller quarantines it).

        `signed_data` is the CMS SignedData the file arrived in (or the `pack_signed` of
        it, to do that work outside the database thread, or its `Written` name once a
        checking process has stored that); it is kept instead
        of the file, which is read out of it. Without it (the central's own products) the
        file itself is kept. The blob is on disk before the row is committed.

        `station_results` (from a station's ATS) are stored with it in one transaction; a
        spectrum that already has the station's result keeps the first one."""
        [result] = self.add_messages([{k: v for k, v in locals().items() if k != "self"}])
        if isinstance(result, BaseException):
            raise result
        return result

    def add_messages(self, batch: Sequence[Mapping[str, Any]]) -> list[StoreResult | Exception]:
        """Store several messages (each the keyword arguments of `add_message`) in one
        transaction: one commit, so one fsync of the database, for all (group commit).

        Each message's result or its own exception, in order. Their blobs are written
        (side by side, so that their fsyncs overlap) and on disk before the commit; each
        row is written in a savepoint of its own, so that one message that fails is
        rolled back alone; a failed commit is every message's error, and none of them is
        stored. Nothing is durable before this returns."""
        results: list[StoreResult | Exception | None] = [None] * len(batch)
        todo: list[tuple[int, Mapping[str, Any], str, Packed | Written]] = []
        for i, fields in enumerate(batch):
            try:
                digest = hashlib.sha256(fields["content"]).hexdigest()
                found = self._existing(fields, digest)
                if found is not None:
                    results[i] = found
                    continue
                todo.append((i, fields, digest, self._blob_of(fields)))
            except Exception as exc:
                results[i] = exc
        written = self.blobs.put_many([packed for *_, packed in todo])
        ready = []
        for item, error in zip(todo, written, strict=True):
            if error is None:
                ready.append(item)
            else:
                results[item[0]] = error
        if ready:
            self._insert_batch(ready, results)
        assert all(r is not None for r in results)
        return results  # type: ignore[return-value]

    def _existing(self, fields: Mapping[str, Any], digest: str) -> StoreResult | None:
        """The duplicate or conflict this message would be, else None."""
        existing = self.conn.execute(
            "select id, sha256 from messages where file_name = ? or (station = ? and msg_id = ?)",
            [fields["file_name"], fields["station"], fields["msg_id"]],
        ).fetchall()
        if not existing:
            return None
        if all(sha == digest for _, sha in existing):
            return StoreResult("duplicate", existing[0][0])
        return StoreResult("conflict", None)

    def _blob_of(self, fields: Mapping[str, Any]) -> Packed | Written:
        signed = fields.get("signed_data")
        if signed is None:
            return pack(fields["content"])
        if isinstance(signed, Packed | Written):
            return signed
        return pack_signed(signed, fields["content"], fields["file_name"])

    def _insert_batch(
        self,
        ready: list[tuple[int, Mapping[str, Any], str, Packed | Written]],
        results: list[StoreResult | Exception | None],
    ) -> None:
        created: list[int] = []
        try:
            self.conn.execute("BEGIN IMMEDIATE")  # the write lock first: no lost upgrade
            for i, fields, digest, packed in ready:
                if not self.conn.in_transaction:  # a failure took the transaction with it
                    raise sqlite3.OperationalError("the transaction was rolled back")
                try:
                    with self.db.atomic():  # a savepoint: this message alone on failure
                        # again: an earlier message of this batch may have the same name
                        found = self._existing(fields, digest)
                        if found is None:
                            self._blob_still_there(packed)
                            found = StoreResult("created", self._insert(fields, digest, packed))
                            created.append(i)
                        results[i] = found
                except Exception as exc:
                    results[i] = exc
            self._commit()
        except sqlite3.Error as exc:
            if self.conn.in_transaction:
                self.conn.rollback()
            for i, *_ in ready:  # nothing of this batch is stored: each is told so
                results[i] = exc

    def _blob_still_there(self, packed: Packed | Written) -> None:
        """Under the write lock, before the row: a stray-blob removal
        (central/blobcheck.py) may have taken a blob that was there already when it was
        put. Packed: written again; Written: an error (the message is sent again)."""
        if self.blobs.exists(packed.sha256):
            return
        if isinstance(packed, Written):
            raise BlobError(f"blob {packed.sha256} is missing from {self.blobs.root}")
        self.blobs.put(packed)

    def _commit(self) -> None:
        self.conn.commit()

    def _insert(self, fields: Mapping[str, Any], digest: str, packed: Packed | Written) -> int:
        """One message's rows (inside the caller's transaction); its row id."""
        content = fields["content"]
        product = fields["product"]
        station = fields["station"]
        summary = fields["summary"]
        received_at = fields.get("received_at") or now_iso()
        kind = BLOB_FILE if fields.get("signed_data") is None else BLOB_SIGNED
        row = {
            "data_until": data_until(
                product=product,
                start_time=fields["start_time"],
                summary=summary,
                received_at=received_at,
            ),
            "file_name": fields["file_name"],
            "station": station,
            "data_type": fields["data_type"],
            "product": product,
            "analysis": fields.get("analysis", "STATION"),
            "msg_id": fields["msg_id"],
            "sha256": digest,
            "size": len(content),
            "start_time": fields["start_time"],
            "received_at": received_at,
            "signer": fields.get("signer"),
            "summary": json.dumps(summary),
            "blob": packed.sha256,
            "blob_kind": kind,
        }
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        cursor = self.conn.execute(
            f"insert into messages ({columns}) values ({marks})", list(row.values())
        )
        message_id = int(cursor.lastrowid)
        if product == "SOH":  # its readings as values (central/soh.py), in this transaction
            record_soh(self.conn, message_id, content)
        now = now_iso()
        for r in fields.get("station_results", ()):
            self.conn.execute(
                "insert or ignore into station_results (ats_message_id, station, file_name, "
                "srid, acquisition_start, method_version, result, created_at) "
                "values (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    message_id,
                    station,
                    r.file_name,
                    r.srid,
                    r.acquisition_start,
                    r.method_version,
                    _json(r.result),
                    now,
                ],
            )
        from central.releases import fill_message; fill_message(self.conn, message_id)  # noqa: E702, I001  # fmt: skip
        return message_id

    def message(self, row_id: int) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from messages where id = ?", [row_id]))
        return rows[0] if rows else None

    def content(self, message_id: int) -> bytes:
        """The stored file's exact bytes, as verified (what users download and the
        re-analysis reads). Every reader of file bytes goes through here, so that where
        the bytes live is this class's business alone."""
        row = self.conn.execute(
            "select content, blob, blob_kind, sha256, file_name from messages where id = ?",
            [message_id],
        ).fetchone()
        if row is None:
            raise KeyError(f"no stored message with id {message_id}")
        content, blob, kind, digest, name = row
        if content is not None:  # stored before the blob store
            return bytes(content)
        try:
            data = self.blobs.get(blob)
            if kind == BLOB_SIGNED:
                data = signed_content(data)
        except (BlobError, CmsError) as exc:
            raise StoredFileError(f"message {message_id} ({name}): {exc}") from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise StoredFileError(
                f"message {message_id} ({name}): the stored file is not the one verified "
                "(sha256 differs); restore data_dir/blobs from a backup"
            )
        return data

    def signed_data(self, message_id: int) -> bytes | None:
        """The CMS SignedData (DER) a station's message arrived in: the station's
        signature over the file, checkable again with `openssl cms -verify`. None for the
        central's own products and for rows stored before the blob store (their proof is
        the encrypted envelope in `envelope`)."""
        row = self.conn.execute(
            "select blob, blob_kind from messages where id = ?", [message_id]
        ).fetchone()
        if row is None:
            raise KeyError(f"no stored message with id {message_id}")
        if row[1] != BLOB_SIGNED:
            return None
        try:
            return self.blobs.get(row[0])
        except BlobError as exc:
            raise StoredFileError(f"message {message_id}: {exc}") from None

    def quarantine(
        self,
        *,
        body: bytes,
        reason: str,
        status: int,
        file_name: str | None = None,
        station: str | None = None,
        peer: str | None = None,
        blob: Packed | Written | None = None,
    ) -> int:
        """Keep a refused message with its reason; its id. `blob` is the SignedData a
        conflicting message was verified with (a checking process may have written it
        already): kept in the blob store and named by the row, as the evidence of what the
        station signed, instead of being left there unreferenced."""
        name = None
        if blob is not None:
            name = self.blobs.put(blob) if isinstance(blob, Packed) else blob.sha256
        with self.conn:
            table = self.db["quarantine"]
            table.insert(
                {
                    "file_name": file_name,
                    "station": station,
                    "received_at": now_iso(),
                    "status": status,
                    "reason": reason,
                    "peer": peer,
                    "size": len(body),
                    "sha256": hashlib.sha256(body).hexdigest(),
                    "body": body,
                    "blob": name,
                }
            )
            return int(table.last_pk)

    def referenced_blobs(self) -> set[str]:
        """The blobs the rows point to (what a backup must hold): the messages' and the
        quarantined conflicts' SignedData."""
        return {
            r[0]
            for r in self.conn.execute(
                "select blob from messages where blob is not null "
                "union select blob from quarantine where blob is not null"
            )
        }

    # --------------------------------------------------------------- analyses
    def spectra_without_analysis(
        self, method: str, limit: int = 10, shard: tuple[int, int] = (0, 1)
    ) -> list[dict[str, Any]]:
        """Stored spectra (oldest first) that `method` has not analysed yet; with
        `shard` (i, n) only those whose id is i modulo n (one of n workers' share)."""
        i, n = shard
        return list(
            self.db.query(
                "select id, file_name from messages where product = 'PHD' and id % ? = ? "
                "and id not in (select message_id from analyses where method = ?) "
                "order by id limit ?",
                [n, i, method, limit],
            )
        )

    def add_analysis(
        self,
        message_id: int,
        method: str,
        *,
        method_version: str = "",
        result: dict[str, Any] | None = None,
        error: str | None = None,
        elapsed_s: float | None = None,
    ) -> None:
        """Record a method's result (or why it failed) for a stored spectrum, once."""
        with self.conn:
            self.db["analyses"].insert(
                {
                    "message_id": message_id,
                    "method": method,
                    "method_version": method_version,
                    "created_at": now_iso(),
                    "elapsed_s": elapsed_s,
                    "result": None if result is None else json.dumps(result),
                    "error": error,
                },
                replace=False,
                ignore=True,
            )
            from central.releases import fill_phd; fill_phd(self.conn, message_id)  # noqa: E702, I001  # fmt: skip

    def analysis(self, message_id: int, method: str) -> dict[str, Any] | None:
        rows = list(
            self.db.query(
                "select * from analyses where message_id = ? and method = ?", [message_id, method]
            )
        )
        return rows[0] if rows else None

    # ----------------------------------------------------------- comparisons
    def pairs_to_compare(self, limit: int = 50) -> list[dict[str, Any]]:
        """Spectra with both the station's result and the central's, not compared yet."""
        return list(
            self.db.query(
                "select m.id as message_id, m.file_name, s.id as station_result_id, "
                "s.result as station_result, a.id as central_analysis_id, "
                "a.result as central_result "
                "from messages m "
                "join analyses a on a.message_id = m.id and a.method = 'central' "
                "join station_results s on s.station = m.station and s.file_name = m.file_name "
                "where m.product = 'PHD' and a.result is not null "
                "and m.id not in (select message_id from comparison_runs) "
                "order by m.id limit ?",
                [limit],
            )
        )

    def add_comparison(
        self,
        message_id: int,
        *,
        station_result_id: int,
        central_analysis_id: int,
        rows: Sequence[dict[str, Any]] = (),
        error: str | None = None,
    ) -> None:
        """Record the comparison of one spectrum's two results (per nuclide), once."""
        with self.conn:
            inserted = self.conn.execute(
                "insert or ignore into comparison_runs (message_id, station_result_id, "
                "central_analysis_id, created_at, nuclides, flagged, error) "
                "values (?, ?, ?, ?, ?, ?, ?)",
                [
                    message_id,
                    station_result_id,
                    central_analysis_id,
                    now_iso(),
                    len(rows),
                    sum(1 for r in rows if r["flagged"]),
                    error,
                ],
            ).rowcount
            if inserted:
                self.db["comparisons"].insert_all(
                    [{**_finite(r), "message_id": message_id} for r in rows]
                )

    def comparisons(self, message_id: int) -> list[dict[str, Any]]:
        return list(
            self.db.query(
                "select * from comparisons where message_id = ? order by id", [message_id]
            )
        )

    # ------------------------------------------------------------- facilities
    def ensure_facility(self, code: str, **fields: Any) -> None:
        if "publish_delay" in fields and fields["publish_delay"] not in PUBLISH_DELAYS:
            raise ValueError(f"publish delay must be one of {', '.join(PUBLISH_DELAYS)}")
        now = now_iso()
        with self.conn:
            if self.db["facilities"].count_where("code = ?", [code]):
                if fields:
                    self.db["facilities"].update(code, {**fields, "updated_at": now})
            else:
                self.db["facilities"].insert(
                    {"code": code, "created_at": now, "updated_at": now, **fields}
                )

    def facilities(self) -> list[dict[str, Any]]:
        return list(self.db.query("select * from facilities order by code"))


def _summary(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
