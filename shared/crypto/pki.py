"""The network's certificate authority as a folder on disk (what `stax pki` manages).

    DIR/ca/ca.key ca.pem crl.pem index.json    the CA (keep ca.key off the central server)
    DIR/central/central.key central.pem        the central server: TLS and CMS recipient
    DIR/stations/CODE/station.key station.pem  one folder per station, handed over as is:
                     ca.pem central.pem        it also holds what the station trusts and
                                               encrypts to

Folders are 0700 and private keys 0600; an existing key is never overwritten. Every
change is recorded in index.json, and the CRL is re-signed after each revocation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

from cryptography import x509

from . import certs
from .files import (
    CryptoFileError,
    load_certificate,
    load_private_key,
    make_private_dir,
    pem,
    write_private_key,
    write_public_file,
)

DEFAULT_NETWORK = "STAX monitor network"
CA_DAYS = 3650
LEAF_DAYS = 825
CRL_DAYS = 30
CA_KEY_BITS = 3072
LEAF_KEY_BITS = 2048
INDEX_VERSION = 1


class PkiError(Exception):
    """What is wrong with the CA folder or the request, and what to do."""


@dataclass(frozen=True)
class CertificateRecord:
    """One issued certificate as index.json keeps it."""

    name: str  # "ca", "central" or a station code
    kind: str  # ca, central, station
    serial: int
    not_before: datetime
    not_after: datetime
    revoked_at: datetime | None = None
    facility: str | None = None
    hosts: tuple[str, ...] = ()

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if now > self.not_after:
            return "expired"
        return "valid"

    def to_json(self) -> dict:
        out = asdict(self)
        out["serial"] = f"{self.serial:X}"
        out["hosts"] = list(self.hosts)
        for key in ("not_before", "not_after", "revoked_at"):
            if out[key] is not None:
                out[key] = out[key].isoformat()
        return out

    @classmethod
    def from_json(cls, data: dict) -> CertificateRecord:
        revoked = data.get("revoked_at")
        return cls(
            name=data["name"],
            kind=data["kind"],
            serial=int(data["serial"], 16),
            not_before=datetime.fromisoformat(data["not_before"]),
            not_after=datetime.fromisoformat(data["not_after"]),
            revoked_at=datetime.fromisoformat(revoked) if revoked else None,
            facility=data.get("facility"),
            hosts=tuple(data.get("hosts", ())),
        )

    @classmethod
    def of(cls, cert: x509.Certificate, name: str, kind: str, **extra) -> CertificateRecord:
        return cls(
            name=name,
            kind=kind,
            serial=cert.serial_number,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            **extra,
        )


class NetworkCA:
    """An existing CA folder. Create one with `NetworkCA.create`."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        for needed in (self.ca_cert_path, self.ca_key_path, self.index_path):
            if not needed.exists():
                raise PkiError(
                    f"{self.root}: no CA here ({needed.relative_to(self.root)} is missing); "
                    f"create one with `stax pki init --dir {self.root}`"
                )

    # ----------------------------------------------------------------- layout
    @property
    def ca_key_path(self) -> Path:
        return self.root / "ca" / "ca.key"

    @property
    def ca_cert_path(self) -> Path:
        return self.root / "ca" / "ca.pem"

    @property
    def crl_path(self) -> Path:
        return self.root / "ca" / "crl.pem"

    @property
    def index_path(self) -> Path:
        return self.root / "ca" / "index.json"

    @property
    def central_key_path(self) -> Path:
        return self.root / "central" / "central.key"

    @property
    def central_cert_path(self) -> Path:
        return self.root / "central" / "central.pem"

    def station_dir(self, code: str) -> Path:
        return self.root / "stations" / certs.check_station_code(code)

    def station_key_path(self, code: str) -> Path:
        return self.station_dir(code) / "station.key"

    def station_cert_path(self, code: str) -> Path:
        return self.station_dir(code) / "station.pem"

    # --------------------------------------------------------------- creation
    @classmethod
    def create(
        cls,
        root: str | Path,
        *,
        now: datetime,
        central_hosts: Iterable[str] = (),
        network: str = DEFAULT_NETWORK,
        ca_days: int = CA_DAYS,
        central_days: int = LEAF_DAYS,
        crl_days: int = CRL_DAYS,
        ca_key_bits: int = CA_KEY_BITS,
        key_bits: int = LEAF_KEY_BITS,
    ) -> NetworkCA:
        """A new CA, the central server's certificate and an empty CRL."""
        root = Path(root)
        for existing in (root / "ca" / "ca.key", root / "central" / "central.key"):
            if existing.exists():
                raise PkiError(
                    f"{existing}: exists; refusing to overwrite a CA "
                    "(choose another --dir, or move the old one aside)"
                )
        hosts = list(central_hosts)
        make_private_dir(root)
        make_private_dir(root / "ca")
        make_private_dir(root / "central")
        make_private_dir(root / "stations")

        ca_key = certs.new_rsa_key(ca_key_bits)
        ca_cert = certs.ca_certificate(ca_key, network, now, ca_days, x509.random_serial_number())
        write_private_key(root / "ca" / "ca.key", ca_key)
        write_public_file(root / "ca" / "ca.pem", pem(ca_cert))
        index = {
            "version": INDEX_VERSION,
            "network": network,
            "crl_number": 0,
            "crl_days": crl_days,
            "certificates": [CertificateRecord.of(ca_cert, "ca", "ca").to_json()],
        }
        write_public_file(root / "ca" / "index.json", _dump(index))
        ca = cls(root)
        ca._issue_central(hosts, now=now, days=central_days, key_bits=key_bits)
        ca.write_crl(now=now)
        return ca

    # ----------------------------------------------------------------- issuing
    def _issuer(self) -> certs.Issuer:
        try:
            return certs.Issuer(
                load_certificate(self.ca_cert_path), load_private_key(self.ca_key_path)
            )
        except CryptoFileError as exc:
            raise PkiError(str(exc)) from None

    def _issue_central(
        self, hosts: list[str], *, now: datetime, days: int, key_bits: int
    ) -> CertificateRecord:
        key = certs.new_rsa_key(key_bits)
        write_private_key(self.central_key_path, key)
        return self._sign_central(key.public_key(), hosts, now=now, days=days)

    def _sign_central(self, public_key, hosts, *, now, days) -> CertificateRecord:
        cert = certs.central_certificate(
            self._issuer(), public_key, hosts, now, days, x509.random_serial_number()
        )
        write_public_file(self.central_cert_path, pem(cert))
        # every station bundle carries the central certificate it encrypts to
        for bundle in sorted((self.root / "stations").glob("*/central.pem")):
            write_public_file(bundle, pem(cert))
        record = CertificateRecord.of(cert, "central", "central", hosts=tuple(hosts))
        self._add_record(record)
        return record

    def issue_station(
        self,
        code: str,
        *,
        now: datetime,
        facility: str | None = None,
        days: int = LEAF_DAYS,
        key_bits: int = LEAF_KEY_BITS,
    ) -> CertificateRecord:
        """A new key and certificate for a station, in a folder to hand over to it."""
        try:
            folder = self.station_dir(code)
        except ValueError as exc:
            raise PkiError(str(exc)) from None
        key_path = folder / "station.key"
        if key_path.exists():
            raise PkiError(
                f"{key_path}: exists; the station has a key already (renew its certificate "
                f"with `stax pki renew {code}`, or revoke it and move the folder aside)"
            )
        make_private_dir(folder)
        key = certs.new_rsa_key(key_bits)
        write_private_key(key_path, key)
        write_public_file(folder / "ca.pem", self.ca_cert_path.read_bytes())
        write_public_file(folder / "central.pem", self.central_cert_path.read_bytes())
        return self._sign_station(key.public_key(), code, facility, now=now, days=days)

    def _sign_station(self, public_key, code, facility, *, now, days) -> CertificateRecord:
        cert = certs.station_certificate(
            self._issuer(),
            public_key,
            code,
            now,
            days,
            x509.random_serial_number(),
            facility=facility,
        )
        write_public_file(self.station_cert_path(code), pem(cert))
        record = CertificateRecord.of(cert, code, "station", facility=facility)
        self._add_record(record)
        return record

    def renew(self, name: str, *, now: datetime, days: int = LEAF_DAYS) -> CertificateRecord:
        """A new certificate for an existing key ("central" or a station code), with the
        same names as the latest one. The previous certificate stays valid until it expires."""
        latest = self._latest(name)
        if latest.revoked_at is not None:
            # a revoked key may be compromised: it must not get a new certificate
            raise PkiError(
                f"{name}: its latest certificate is revoked, so its key must not be reused; "
                f"move {self.station_dir(name)} aside and issue a new key with "
                f"`stax pki station {name}`"
            )
        if latest.kind == "central":
            key = load_private_key(self.central_key_path)
            return self._sign_central(key.public_key(), list(latest.hosts), now=now, days=days)
        key = load_private_key(self.station_key_path(name))
        return self._sign_station(key.public_key(), name, latest.facility, now=now, days=days)

    def _latest(self, name: str) -> CertificateRecord:
        mine = [r for r in self.records() if r.name == name and r.kind != "ca"]
        if not mine:
            known = ", ".join(sorted({r.name for r in self.records() if r.kind != "ca"}))
            raise PkiError(f"no certificate was issued to {name!r} (issued: {known or 'none'})")
        return max(mine, key=lambda r: r.not_before)

    # --------------------------------------------------------------- revoking
    def revoke(self, name: str, *, now: datetime) -> list[CertificateRecord]:
        """Revoke every unrevoked certificate of a station and re-sign the CRL."""
        try:
            certs.check_station_code(name)
        except ValueError as exc:
            raise PkiError(f"only station certificates are revoked here: {exc}") from None
        self._latest(name)  # a clear error for an unknown station
        index = self._index()
        revoked = []
        for entry in index["certificates"]:
            record = CertificateRecord.from_json(entry)
            if record.name == name and record.kind != "ca" and record.revoked_at is None:
                record = replace(record, revoked_at=now)
                entry.update(record.to_json())
                revoked.append(record)
        if not revoked:
            raise PkiError(f"{name}: every certificate is revoked already")
        self._save(index)
        self.write_crl(now=now)
        return revoked

    def write_crl(
        self, *, now: datetime, days: int | None = None
    ) -> x509.CertificateRevocationList:
        """Sign a new CRL (after a revocation, and before the current one runs out)."""
        index = self._index()
        if days is not None:
            index["crl_days"] = days
        index["crl_number"] += 1
        revoked = [
            certs.Revoked(r.serial, r.revoked_at)
            for r in map(CertificateRecord.from_json, index["certificates"])
            if r.revoked_at is not None
        ]
        crl = certs.revocation_list(
            self._issuer(), revoked, now, index["crl_days"], index["crl_number"]
        )
        write_public_file(self.crl_path, pem(crl))
        self._save(index)
        return crl

    # ------------------------------------------------------------------ index
    def records(self) -> list[CertificateRecord]:
        return [CertificateRecord.from_json(e) for e in self._index()["certificates"]]

    def _index(self) -> dict:
        try:
            return json.loads(self.index_path.read_text())
        except (OSError, ValueError) as exc:
            raise PkiError(f"{self.index_path}: cannot read the CA's index: {exc}") from None

    def _save(self, index: dict) -> None:
        write_public_file(self.index_path, _dump(index))

    def _add_record(self, record: CertificateRecord) -> None:
        index = self._index()
        index["certificates"].append(record.to_json())
        self._save(index)


def _dump(index: dict) -> bytes:
    return (json.dumps(index, indent=1) + "\n").encode()
