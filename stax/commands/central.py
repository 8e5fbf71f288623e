"""`stax central`: run and prepare the central server.

stax central serve --config FILE     the intake here, the web UI in a supervised child
stax central check --config FILE     check configuration and certificates, create the database
stax central user add NAME --config FILE --role admin|owner|user [--facility CODE ...]
                                     [--owns CODE ...] [--password-file FILE]
stax central facility set CODE --config FILE [--publish-delay 3d] [--name ...] ...
stax central facility list|history [CODE] --config FILE
stax central token add|list USER --config FILE;  token revoke ID --config FILE
stax central soh-limit set STATION QUANTITY --config FILE [--low X] [--high Y] [--unit U]
                                     [--default];  soh-limit list|history STATION
stax central backup --config FILE --out DIR
                                     a consistent copy of the database and its blobs, live
stax central blobs --config FILE [--remove [--older-than HOURS]]
                                     list the blobs no row names; delete the old ones
stax central backfill --config FILE [--batch N]
                                     fill the charts' release tables of an existing database
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from central.config import CentralConfig, load_central_config
from shared.config import ConfigError
from stax.cli import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
        p = subparsers.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--config", required=True, metavar="FILE", help="central.toml")
        return p

    action(sub, "serve", "run the intake and the web UI until SIGTERM or Ctrl-C")
    action(sub, "check", "check the configuration and certificate files; create the database")

    user = sub.add_parser("user", help="manage user accounts").add_subparsers(
        dest="user_action", metavar="ACTION", required=True
    )
    add = action(user, "add", "create a user (password from --password-file or stdin)")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", choices=("admin", "owner", "user"), default="user")
    add.add_argument(
        "--facility", action="append", default=[], metavar="CODE", help="may see this facility"
    )
    add.add_argument(
        "--owns", action="append", default=[], metavar="CODE", help="manages this facility"
    )
    add.add_argument("--email")
    add.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        help="first line is the password (otherwise read from stdin)",
    )

    _facility_arguments(sub, action)
    _token_arguments(sub, action)
    _soh_limit_arguments(sub, action)
    backup = action(sub, "backup", "copy the database and its blobs while the server runs")
    backup.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="folder of the copy (made 0700)"
    )
    blobs = action(
        sub,
        "blobs",
        "list the blobs no row names (left by a crash or a failed commit between a blob and "
        "its row); with --remove delete those last written before --older-than",
    )
    blobs.add_argument("--remove", action="store_true", help="delete the old stray blobs")
    blobs.add_argument(
        "--older-than",
        type=float,
        default=24.0,
        metavar="HOURS",
        help="only blobs last written longer ago than this are removed (24)",
    )
    backfill = action(
        sub,
        "backfill",
        "fill the charts' release tables (release_values, release_overview, release_daily) "
        "of an existing database from its stored results, with progress; safe while the "
        "server runs",
    )
    backfill.add_argument(
        "--batch", type=int, default=500, metavar="N", help="spectra per transaction (500)"
    )
    backfill.add_argument(
        "--all", action="store_true", help="fill all three again, not only those not filled yet"
    )


def run(args: argparse.Namespace) -> int:
    config = _config(args.config)
    if args.action == "facility":
        return _facility(config, args)
    if args.action == "token":
        return _token(config, args)
    if args.action == "soh-limit":
        return _soh_limit(config, args)
    if args.action == "serve":
        return _serve(config, Path(args.config).resolve(), args)
    if args.action == "check":
        return _check(config)
    if args.action == "backup":
        return _backup(config, args.out)
    if args.action == "backfill":
        return _backfill(config, args.batch, args.all)
    if args.action == "blobs":
        return _blobs(config, args.remove, args.older_than)
    return _add_user(config, args)


def _backfill(config: CentralConfig, batch: int, everything: bool = False) -> int:
    import time

    from central.releases import fill_all, pending
    from central.store import Store

    if batch < 1:
        raise UsageError(f"--batch must be at least 1, not {batch}")
    if not config.storage.database_path.exists():
        raise UsageError(
            f"{config.storage.database_path}: no database (stax central check makes one)"
        )
    started = time.monotonic()
    told: dict[str, int] = {}

    def progress(step: str, done: int, total: int) -> None:
        percent = 100 * done // total if total else 100
        if told.get(step, -1) // 5 == percent // 5 and done != total:
            return  # every 5 %
        told[step] = percent
        print(f"{step}: {done:,} of {total:,} ({percent} %), {time.monotonic() - started:.0f} s",
              file=sys.stderr, flush=True)  # fmt: skip

    quiet = logging.getLogger("central.releases")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # opening it would say to run this command
    try:
        store = Store(config.storage.database_path)
    finally:
        quiet.setLevel(level)
    with store:
        steps = None if everything else pending(store.conn)
        if steps == []:
            print("the release tables are filled already (--all fills them again)")
            return 0
        written = fill_all(store.conn, steps, progress=progress, batch=batch)
    print(f"release rows written: {written:,} in {time.monotonic() - started:.0f} s")
    return 0


def _config(path: str) -> CentralConfig:
    try:
        return load_central_config(path)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _serve(config: CentralConfig, path: Path, args: argparse.Namespace) -> int:
    from central.intake import IntakeSetupError
    from central.serve import serve

    if not args.verbose and not args.quiet:
        # a server's default: say what it does (start, stop, each message), not just problems
        logging.getLogger().setLevel(logging.INFO)
    if args.verbose < 2:
        # pyHanko logs each refused signature with a traceback; the intake logs the reason
        for name in ("pyhanko", "pyhanko_certvalidator"):
            logging.getLogger(name).setLevel(logging.ERROR)
    try:
        asyncio.run(serve(config, path))
    except IntakeSetupError as exc:
        raise UsageError(f"{path}: {exc}") from None
    return 0


def _check(config: CentralConfig) -> int:
    from central.intake import IntakeSetupError, TrustFiles, server_tls_context
    from central.mail import check_lines
    from central.permissions import TooOpen, check_private
    from central.serve import web_installed
    from central.store import Store

    try:
        trust = TrustFiles(config.intake)
        server_tls_context(config.intake)
    except IntakeSetupError as exc:
        raise UsageError(str(exc)) from None
    with Store(config.storage.database_path):
        pass
    try:  # what `serve` would refuse (docs/security.md, "Permissions")
        check_private(config.storage.data_dir, "[storage] data_dir")
    except TooOpen as exc:
        raise UsageError(str(exc)) from None
    now = datetime.now(UTC)
    cert = trust.recipient_cert
    next_update = trust.crl_next_update()
    intake = config.intake
    web = f"http://{config.web.host}:{config.web.port}/" if web_installed() else "not installed"
    print(f"intake      https://{intake.host}:{intake.port}/api/v1/messages/")
    print(f"certificate {cert.subject.rfc4514_string()}, until {cert.not_valid_after_utc:%Y-%m-%d}")
    print(f"CRL         next update {next_update:%Y-%m-%d %H:%M} UTC")
    print(f"database    {config.storage.database_path}")
    print(f"web UI      {web}")
    mail_lines, problems = check_lines(config.mail)
    from central.mail.outgoing import check_lines as mail_out_lines
    from central.mqtt import check_lines as mqtt_lines

    out_lines, out_problems = mail_out_lines(config.mail_out, now)
    broker_lines, broker_problems = mqtt_lines(config.mqtt)
    print("\n".join(mail_lines + out_lines + broker_lines))
    problems += out_problems + broker_problems
    if cert.not_valid_after_utc < now:
        problems.append("the central certificate has expired (`stax pki renew central`)")
    if next_update is not None and next_update < now:
        problems.append("the CRL is out of date: sign a new one (`stax pki crl`)")
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _add_user(config: CentralConfig, args: argparse.Namespace) -> int:
    from central.accounts import AccountError, create_user
    from central.store import Store

    password = _password(args.password_file)
    with Store(config.storage.database_path) as store:
        try:
            user = create_user(
                store,
                args.name,
                password,
                role=args.role,
                facilities=args.facility,
                owned=args.owns,
                email=args.email,
            )
        except AccountError as exc:
            raise UsageError(str(exc)) from None
    what = ", ".join(
        [f"role {user.role}"]
        + ([f"sees {' '.join(sorted(user.assigned))}"] if user.assigned else [])
        + ([f"owns {' '.join(sorted(user.owned))}"] if user.owned else [])
    )
    print(f"created user {user.username} ({what})")
    return 0


def _password(path: Path | None) -> str:
    if path is not None:
        try:
            lines = path.read_text().splitlines()
        except OSError as exc:
            raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
        if not lines or not lines[0]:
            raise UsageError(f"{path}: the first line must be the password")
        return lines[0]
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            raise UsageError("the passwords differ")
        return first
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise UsageError("no password on stdin (or give --password-file)")
    return line


# ------------------------------------------------------------------ facility
def _facility_arguments(sub, action) -> None:
    from central.facilities import FIELDS

    facility = sub.add_parser("facility", help="show and change facilities").add_subparsers(
        dest="facility_action", metavar="ACTION", required=True
    )
    change = action(facility, "set", "change a facility's fields (each change is recorded)")
    change.add_argument("code", metavar="CODE")
    for field in FIELDS:
        change.add_argument(
            "--" + field.key.replace("_", "-"),
            dest=f"field_{field.key}",
            metavar="VALUE",
            help=field.label
            + (": immediately, 1d, 3d, 7d or never" if field.key == "publish_delay" else ""),
        )
    change.add_argument("--create", action="store_true", help="register the facility if new")
    action(facility, "list", "the facilities and their publish delays")
    history = action(facility, "history", "every recorded change of a facility")
    history.add_argument("code", metavar="CODE")


def _facility(config: CentralConfig, args: argparse.Namespace) -> int:
    import getpass

    from central.facilities import FacilityError, facility, facility_changes, update_facility
    from central.store import Store

    with Store(config.storage.database_path) as store:
        if args.facility_action == "list":
            for row in store.facilities():
                print(f"{row['code']:8} {row['publish_delay']:12} {row['name'] or ''}")
            return 0
        if facility(store, args.code) is None:
            if args.facility_action == "set" and args.create:
                store.ensure_facility(args.code)
            else:
                raise UsageError(f"no facility {args.code} (--create registers a new one)")
        if args.facility_action == "history":
            for c in facility_changes(store, args.code):
                print(f"{c.changed_at} {c.changed_by}: {c.field} {c.old} -> {c.new}")
            return 0
        values = {
            key.removeprefix("field_"): value
            for key, value in vars(args).items()
            if key.startswith("field_") and value is not None
        }
        try:
            changes = update_facility(
                store,
                args.code,
                values,
                changed_by=f"command line ({getpass.getuser()})",
                now=datetime.now(UTC),
            )
        except FacilityError as exc:
            raise UsageError(f"facility {args.code}: {exc}") from None
    for c in changes:
        print(f"{args.code}: {c.field} {c.old} -> {c.new}")
    if not changes:
        print(f"{args.code}: nothing changed")
    return 0


# ----------------------------------------------------------------- soh-limit
def _soh_limit_arguments(sub, action) -> None:
    limit = sub.add_parser("soh-limit", help="a station's SOH alert limits").add_subparsers(
        dest="limit_action", metavar="ACTION", required=True
    )
    change = action(limit, "set", "change a station's limits of one quantity (recorded)")
    change.add_argument("station", metavar="STATION")
    change.add_argument("quantity", metavar="QUANTITY", help="e.g. room_temperature")
    change.add_argument("--low", type=float, metavar="X", help="no --low: no low limit")
    change.add_argument("--high", type=float, metavar="Y", help="no --high: no high limit")
    change.add_argument("--unit", metavar="U", help="default: the unit the limit has now")
    change.add_argument(
        "--default", action="store_true", help="back to the central configuration's default"
    )
    listed = action(limit, "list", "the limits in force at a station (own or default)")
    listed.add_argument("station", metavar="STATION")
    history = action(limit, "history", "every recorded change of a station's limits")
    history.add_argument("station", metavar="STATION")
    history.add_argument("--quantity", metavar="QUANTITY")


def _soh_limit(config: CentralConfig, args: argparse.Namespace) -> int:
    from central.soh import SohLimitError, change_limit, limit_changes, station_limits
    from central.store import Store

    def shown(value: float | None) -> str:
        return "-" if value is None else f"{value:g}"

    with Store(config.storage.database_path) as store:
        if not store.db["facilities"].count_where("code = ?", [args.station]):
            raise UsageError(f"no facility {args.station}")
        if args.limit_action == "list":
            for r in station_limits(store, args.station):
                source = "station" if r["own"] else "default"
                print(f"{r['quantity']:28} {shown(r['low']):>10} {shown(r['high']):>10} "
                      f"{r['unit']:6} {source}")  # fmt: skip
            return 0
        if args.limit_action == "history":
            for c in limit_changes(store, args.station, args.quantity, limit=10_000):
                print(f"{c['changed_at']} {c['changed_by']}: {c['quantity']} "
                      f"{shown(c['old_low'])}..{shown(c['old_high'])} -> "
                      f"{shown(c['new_low'])}..{shown(c['new_high'])} {c['unit'] or ''}".rstrip())  # fmt: skip
            return 0
        if args.default and (args.low is not None or args.high is not None):
            raise UsageError("--default takes no --low nor --high")
        if not args.default and args.low is None and args.high is None:
            raise UsageError("give --low and/or --high, or --default")
        try:
            change = change_limit(
                store,
                args.station,
                args.quantity,
                args.low,
                args.high,
                unit=args.unit,
                changed_by=f"command line ({getpass.getuser()})",
                now=datetime.now(UTC),
            )
        except SohLimitError as exc:
            raise UsageError(f"{args.station} {args.quantity}: {exc}") from None
    if change is None:
        print(f"{args.station} {args.quantity}: nothing changed")
    else:
        print(f"{args.station} {args.quantity}: {shown(change['old_low'])}..{shown(change['old_high'])}"
              f" -> {shown(change['new_low'])}..{shown(change['new_high'])} {change['unit']}".rstrip())  # fmt: skip
    return 0


# --------------------------------------------------------------------- token
def _token_arguments(sub, action) -> None:
    token = sub.add_parser("token", help="API tokens of users").add_subparsers(
        dest="token_action", metavar="ACTION", required=True
    )
    add = action(token, "add", "make an API token for a user (printed once)")
    add.add_argument("user", metavar="USER")
    add.add_argument("--name", default="command line", help="what the token is for")
    listed = action(token, "list", "a user's API tokens (never the tokens themselves)")
    listed.add_argument("user", metavar="USER")
    revoke = action(token, "revoke", "revoke an API token at once")
    revoke.add_argument("id", type=int, metavar="ID")


def _token(config: CentralConfig, args: argparse.Namespace) -> int:
    from central.store import Store
    from central.tokens import TokenError, list_tokens, make_token, revoke_token

    now = datetime.now(UTC)
    with Store(config.storage.database_path) as store:
        if args.token_action == "revoke":
            try:
                info = revoke_token(store, args.id, by=None, now=now)
            except TokenError as exc:
                raise UsageError(str(exc).replace(" of yours", "")) from None
            print(f"token {info.id} ({info.prefix}...) revoked at {info.revoked_at}")
            return 0
        found = store.conn.execute(
            "select id from users where username = ?", [args.user]
        ).fetchone()
        if found is None:
            raise UsageError(f"no user {args.user!r}")
        if args.token_action == "add":
            token, info = make_token(store, found[0], args.name, by=None, now=now)
            print(token)
            print(f"token {info.id} for {args.user}: shown this once, keep it", file=sys.stderr)
            return 0
        for info in list_tokens(store, found[0]):
            state = f"revoked {info.revoked_at}" if info.revoked_at else "active"
            print(
                f"{info.id:5} {info.prefix}... {info.name!r} made {info.created_at} "
                f"last used {info.last_used_at or 'never'} {state}"
            )


def _backup(config: CentralConfig, out: Path) -> int:
    from central.backup import BackupError, backup

    try:
        report = backup(config.storage.database_path, out)
    except BackupError as exc:
        raise UsageError(str(exc)) from None
    print(report.summary())
    return 0


def _blobs(config: CentralConfig, remove: bool, older_than_hours: float) -> int:
    from datetime import timedelta

    from central.blobcheck import remove_stray, stray_blobs
    from central.store import Store

    if not older_than_hours > 0:
        raise UsageError(f"--older-than must be more than 0 hours, not {older_than_hours}")
    if not config.storage.database_path.exists():
        raise UsageError(
            f"{config.storage.database_path}: no database (stax central check makes one)"
        )
    with Store(config.storage.database_path) as store:
        removed = (
            remove_stray(store, datetime.now(UTC), timedelta(hours=older_than_hours))
            if remove
            else []
        )
        stray = stray_blobs(store)
        total = len(store.blobs.names())
    for s in removed:
        print(f"removed  {s.line()}")
    for s in stray:
        print(f"stray    {s.line()}")
    kept = f" (younger than {older_than_hours:g} h: kept)" if remove and stray else ""
    print(
        f"{total} blobs, {len(stray)} named by no row{kept}, {len(removed)} removed "
        f"({sum(s.size for s in removed)} bytes)"
    )
    return 0
