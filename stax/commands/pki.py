"""`stax pki`: the network's certificate authority (see shared/crypto/pki.py for the layout).

stax pki init --dir DIR [--central-host NAME ...]
stax pki station CODE --dir DIR [--facility NAME]
stax pki renew NAME --dir DIR          NAME: a station code or "central"
stax pki revoke CODE --dir DIR
stax pki crl --dir DIR [--days N]      re-sign the CRL before it runs out
stax pki list --dir DIR
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from shared.crypto import pki
from shared.crypto.files import CryptoFileError
from stax.cli import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--dir", required=True, help="the CA's folder")
        return p

    init = action("init", "create the CA, the central server's certificate and an empty CRL")
    init.add_argument(
        "--central-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name or address of the central server (repeat for several; "
        "localhost and 127.0.0.1 are always included)",
    )
    init.add_argument("--network", default=pki.DEFAULT_NETWORK, help="the CA's name")
    init.add_argument("--ca-days", type=int, default=pki.CA_DAYS, help="CA validity (days)")
    init.add_argument(
        "--days", type=int, default=pki.LEAF_DAYS, help="central certificate validity (days)"
    )
    init.add_argument(
        "--crl-days", type=int, default=pki.CRL_DAYS, help="how long each CRL is valid (days)"
    )

    station = action("station", "issue a key and certificate for a station")
    station.add_argument("code", metavar="CODE", help="station code, e.g. AUS02")
    station.add_argument("--facility", help="the facility's name (subject O)")
    station.add_argument("--days", type=int, default=pki.LEAF_DAYS, help="validity (days)")

    renew = action("renew", "a new certificate for an existing key (a station or central)")
    renew.add_argument("name", metavar="NAME", help="station code, or 'central'")
    renew.add_argument("--days", type=int, default=pki.LEAF_DAYS, help="validity (days)")

    revoke = action("revoke", "revoke a station's certificates and re-sign the CRL")
    revoke.add_argument("name", metavar="CODE", help="station code")

    crl = action("crl", "re-sign the CRL (do it before the current one runs out)")
    crl.add_argument("--days", type=int, help="validity of this and later CRLs (days)")

    action("list", "list the certificates issued")


def run(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    try:
        if args.action == "init":
            ca = pki.NetworkCA.create(
                args.dir,
                now=now,
                central_hosts=args.central_host,
                network=args.network,
                ca_days=args.ca_days,
                central_days=args.days,
                crl_days=args.crl_days,
            )
            print(f"created the CA in {ca.root}")
            print(f"  CA certificate      {ca.ca_cert_path}")
            print(f"  CRL                 {ca.crl_path}")
            print(f"  central certificate {ca.central_cert_path}")
            print(f"  central key         {ca.central_key_path}")
            return 0
        ca = pki.NetworkCA(args.dir)
        if args.action == "station":
            record = ca.issue_station(args.code, now=now, facility=args.facility, days=args.days)
            print(f"issued {_describe(record)}")
            print(f"  hand over the folder {ca.station_dir(args.code)} to the station")
        elif args.action == "renew":
            print(f"issued {_describe(ca.renew(args.name, now=now, days=args.days))}")
        elif args.action == "revoke":
            for record in ca.revoke(args.name, now=now):
                print(f"revoked {_describe(record)}")
            print(f"  new CRL {ca.crl_path}: copy it to the central server")
        elif args.action == "crl":
            crl = ca.write_crl(now=now, days=args.days)
            print(f"signed {ca.crl_path}, valid until {crl.next_update_utc:%Y-%m-%d %H:%M} UTC")
        elif args.action == "list":
            _list(ca, now)
        return 0
    except (pki.PkiError, CryptoFileError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def _describe(record: pki.CertificateRecord) -> str:
    return (
        f"{record.kind} certificate {record.name} serial {record.serial:X}, "
        f"valid until {record.not_after:%Y-%m-%d}"
    )


def _list(ca: pki.NetworkCA, now: datetime) -> None:
    rows = [("NAME", "KIND", "STATUS", "VALID UNTIL", "SERIAL", "FACILITY / HOSTS")]
    for r in ca.records():
        detail = r.facility or " ".join(r.hosts)
        rows.append(
            (r.name, r.kind, r.status(now), f"{r.not_after:%Y-%m-%d}", f"{r.serial:X}", detail)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False))
        print(f"{line}  {row[-1]}".rstrip())
