"""The central server's configuration (TOML), checked at start. See config/central.example.toml."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from shared.config import load_config

SECRET_MODE_MASK = 0o077  # a secret's file: no bit for the group or others (0600 or less)


def check_secret_file(path: Path | None, key: str = "password_file") -> None:
    """A file that holds a password must be the owner's alone (mode 0600 or stricter):
    a ValueError naming it and the fix otherwise. A missing file is left to its reader
    (which says it cannot read it)."""
    if path is None:
        return
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return
    if mode & SECRET_MODE_MASK:
        raise ValueError(
            f"{key} {path}: mode {mode:04o} lets the group or others read or change the "
            f"password; it must be 0600 or stricter (chmod 600 {path})"
        )


@dataclass(frozen=True)
class StorageConfig:
    data_dir: Path = Path("data")  # database, raw messages, quarantine
    database: str = "central.sqlite"  # file name inside data_dir

    @property
    def database_path(self) -> Path:
        return self.data_dir / self.database


@dataclass(frozen=True)
class IntakeConfig:
    server_cert: Path  # central server certificate (TLS server and CMS recipient), PEM
    server_key: Path
    ca_cert: Path  # the network's own CA: the only trust anchor for stations
    crl: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8443
    max_message_bytes: int = 50_000_000
    # per TLS identity over a sliding hour (docs/security.md): beyond it, 429 + Retry-After
    quota_messages_per_hour: int = 1000
    quota_bytes_per_hour: int = 500_000_000
    # an alert (ERROR log, intake_alerts row) when a station is refused this often in an hour
    alert_refusals_per_hour: int = 20

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1-65535, got {self.port}")
        if self.max_message_bytes <= 0:
            raise ValueError("max_message_bytes must be positive")
        if self.quota_messages_per_hour < 1 or self.alert_refusals_per_hour < 1:
            raise ValueError("quota_messages_per_hour and alert_refusals_per_hour must be >= 1")
        if self.quota_bytes_per_hour < self.max_message_bytes:
            raise ValueError(
                "quota_bytes_per_hour must be at least max_message_bytes, or the largest "
                "message allowed could never be sent"
            )


@dataclass(frozen=True)
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8050
    secret_key_file: Path = Path("web-secret.key")  # created with 0600 when absent
    session_minutes: int = 480
    page_size: int = 25
    api_requests_per_minute: int = 120  # per API token; more get 429 with Retry-After
    # served to browsers over HTTPS (a reverse proxy in front): cookies get Secure, and
    # responses Strict-Transport-Security
    https: bool = False
    # login throttling (docs/security.md): failures allowed in a row per user name and per
    # client address before each further one closes the door for 1, 2, 4, ... seconds
    login_failures_per_user: int = 5
    login_failures_per_address: int = 20
    login_max_delay_seconds: int = 900
    # the largest file the Resources page takes (documents, data files, reviewed data)
    resource_max_bytes: int = 20_000_000

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1-65535, got {self.port}")
        if self.api_requests_per_minute <= 0:
            raise ValueError("api_requests_per_minute must be positive")
        if self.session_minutes <= 0:
            raise ValueError("session_minutes must be positive")
        if self.page_size <= 0:
            raise ValueError("page_size must be positive")
        if self.resource_max_bytes <= 0:
            raise ValueError("resource_max_bytes must be positive")
        if min(self.login_failures_per_user, self.login_failures_per_address) < 1:
            raise ValueError("login_failures_per_user and _per_address must be at least 1")
        if self.login_max_delay_seconds < 1:
            raise ValueError("login_max_delay_seconds must be at least 1")


@dataclass(frozen=True)
class ImpactConfig:
    atm_dir: Path | None = None  # ATM files (SRS, cdump) to pick up; see docs/impact.md
    scan_minutes: float = 10.0  # how often the worker looks in atm_dir for new files

    def __post_init__(self) -> None:
        if not self.scan_minutes > 0:
            raise ValueError(f"scan_minutes must be positive, got {self.scan_minutes}")


@dataclass(frozen=True)
class ImapConfig:
    host: str = ""  # the IMAP server; empty: no polling
    port: int = 993
    security: Literal["tls", "starttls", "none"] = "tls"
    ca_file: Path | None = None  # CA of the IMAP server's certificate; None: the system's
    user: str = ""
    password_file: Path | None = None  # the password alone, mode 0600 (or stricter)
    mailbox: str = "INBOX"
    done_mailbox: str = "stax-done"  # where a message goes once stored or quarantined
    poll_seconds: float = 60.0

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1-65535, got {self.port}")
        if self.poll_seconds <= 0:
            raise ValueError("poll_seconds must be positive")
        if self.enabled and (not self.user or self.password_file is None):
            raise ValueError("user and password_file are required when host is set")
        check_secret_file(self.password_file)
        if self.mailbox == self.done_mailbox:
            raise ValueError("done_mailbox must differ from mailbox")


@dataclass(frozen=True)
class MailConfig:
    listen: Literal["off", "smtp", "lmtp"] = "off"  # the listener a mail server delivers to
    host: str = "127.0.0.1"
    port: int = 8025
    max_mail_bytes: int = 70_000_000  # a whole mail (base64 makes the envelope 4/3 larger)
    imap: ImapConfig = field(default_factory=ImapConfig)

    def __post_init__(self) -> None:
        if not 0 <= self.port < 65536:
            raise ValueError(f"port must be 0-65535, got {self.port}")
        if self.max_mail_bytes <= 0:
            raise ValueError("max_mail_bytes must be positive")


@dataclass(frozen=True)
class AlertsConfig:
    """The central's own alerts (docs/alerts.md)."""

    check_seconds: float = 60.0  # how often the worker runs the checks
    # silent: no spectrum for more than this many intervals (the facility's
    # collection_seconds, else 15 min); a station that sends only daily (realtime_data 0)
    # gets a day more
    silent_intervals: int = 8
    # gap: a passed day with at least this many spectra missing, looked for this many days back
    gap_min_missing: int = 1
    gap_days: int = 7
    # quarantine: more than this many messages quarantined in the last hour
    quarantine_per_hour: int = 20
    # certificate / crl: warned this many days before they run out
    certificate_warning_days: int = 30
    crl_warning_days: int = 7

    def __post_init__(self) -> None:
        if self.check_seconds <= 0:
            raise ValueError("check_seconds must be positive")
        if self.silent_intervals < 1 or self.gap_min_missing < 1 or self.gap_days < 1:
            raise ValueError("silent_intervals, gap_min_missing and gap_days must be >= 1")
        if self.quarantine_per_hour < 0:
            raise ValueError("quarantine_per_hour must be >= 0")
        if self.certificate_warning_days < 0 or self.crl_warning_days < 0:
            raise ValueError("certificate_warning_days and crl_warning_days must be >= 0")


@dataclass(frozen=True)
class MqttConfig:
    """Publishing to an MQTT broker (docs/mqtt.md). Empty host: no publishing."""

    host: str = ""
    port: int = 1883
    prefix: str = "stax"
    tls: bool = False
    ca_file: Path | None = None  # CA of the broker's certificate (tls); None: the system's
    # the client certificate and its key (PEM), for a broker that asks for one (tls); the
    # key may be in cert_file itself
    cert_file: Path | None = None
    key_file: Path | None = None
    username: str = ""
    password_file: Path | None = None  # the password alone, mode 0600 (or stricter)
    client_id: str = "stax-central"
    # MQTT 5 tells a publication the broker refused (an ACL: PUBACK "Not authorized");
    # 3.1.1 for a broker without MQTT 5, which drops such a publication unseen
    protocol: Literal["5", "3.1.1"] = "5"
    keepalive_seconds: int = 30
    poll_seconds: float = 2.0  # how often the publisher looks for new published data
    # central-wide alerts (CRL, quarantine, the central's certificates) on
    # <prefix>/central/alert: only for a broker whose readers are the operators
    central_alerts: bool = False
    # alerts whose data are older than this are not sent any more (a long broker outage)
    alert_max_age_hours: float = 336.0
    # a central alert (kind mqtt) once publishing has failed this long (a broker that is
    # down, refuses the login or fails TLS); cleared when publishing works again
    alert_after_seconds: float = 300.0

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1-65535, got {self.port}")
        if not self.prefix or any(c in self.prefix for c in "#+") or self.prefix.endswith("/"):
            raise ValueError(
                f"prefix must be a topic level or path without # + or a trailing /, "
                f"got {self.prefix!r}"
            )
        if self.keepalive_seconds < 5 or self.poll_seconds <= 0 or self.alert_max_age_hours <= 0:
            raise ValueError(
                "keepalive_seconds must be >= 5, poll_seconds and alert_max_age_hours positive"
            )
        if self.password_file is not None and not self.username:
            raise ValueError("password_file needs username")
        check_secret_file(self.password_file)
        files = [n for n in ("ca_file", "cert_file", "key_file") if getattr(self, n) is not None]
        if files and not self.tls:
            raise ValueError(f"{', '.join(files)} need{'s' if len(files) == 1 else ''} tls = true")
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("key_file needs cert_file (the client certificate)")
        if not self.alert_after_seconds > 0:
            raise ValueError(
                f"alert_after_seconds must be positive, got {self.alert_after_seconds}"
            )
        if not self.client_id:
            raise ValueError("client_id must not be empty")


@dataclass(frozen=True)
class SohLimit:
    """`[soh.limits.QUANTITY]`: the range a state-of-health reading should stay in, in the
    unit the station reports it in (central/soh.py); a reading outside is marked on the
    SOH charts and raises a central alert."""

    low: float | None = None
    high: float | None = None
    unit: str = ""

    def __post_init__(self) -> None:
        if self.low is None and self.high is None:
            raise ValueError("a limit needs low, high or both")
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")


def default_soh_limits() -> dict[str, SohLimit]:
    """The limits every station gets unless `[soh.limits]` gives others. Names and units
    are those of the STAXSOH/RMSSOH readings (shared/formats/soh.py)."""
    return {
        # an HPGe crystal warming above ~110 K (-163 C) degrades the spectra before the
        # high voltage must go off; the same threshold as the station's own alert
        # (edge_agent/config.py, cold_tip_temperature_k)
        "crystal_temperature": SohLimit(high=-163.15, unit="C"),
        # the electronics' usual operating range
        "room_temperature": SohLimit(low=5.0, high=40.0, unit="C"),
        "humidity": SohLimit(high=80.0, unit="%"),
    }


@dataclass(frozen=True)
class SohConfig:
    # [soh.limits.QUANTITY] tables (low, high, unit); given, they replace the defaults
    # entirely. A station's own limits (central.soh.set_limit) override these.
    limits: dict[str, SohLimit] = field(default_factory=default_soh_limits)


@dataclass(frozen=True)
class MailOutConfig:
    """Subscription mail (docs/mail.md, "Subscriptions"): the SMTP server it goes through
    and the central's own mail certificate that signs it. Empty host: no mail out."""

    host: str = ""
    port: int = 587
    starttls: bool = True  # false only for a mail server on loopback
    ca_file: Path | None = None  # the SMTP server's CA; None: the system's trust store
    login_file: Path | None = None  # user name, then password, on two lines (mode 0600)
    from_address: str = ""
    signing_cert: Path | None = None  # the central's mail certificate (PEM, chain after it)
    signing_key: Path | None = None
    chain_file: Path | None = None  # more certificates to include (e.g. the issuing CA)
    poll_seconds: float = 30.0
    retry_first_seconds: float = 60.0  # after a failure; doubles up to retry_max_seconds
    retry_max_seconds: float = 3600.0

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1-65535, got {self.port}")
        if self.poll_seconds <= 0 or self.retry_first_seconds <= 0:
            raise ValueError("poll_seconds and retry_first_seconds must be positive")
        if self.retry_max_seconds < self.retry_first_seconds:
            raise ValueError("retry_max_seconds must be at least retry_first_seconds")
        if self.enabled:
            if "@" not in self.from_address:
                raise ValueError("from_address (an e-mail address) is required when host is set")
            if self.signing_cert is None or self.signing_key is None:
                raise ValueError("signing_cert and signing_key are required when host is set")


@dataclass(frozen=True)
class CentralConfig:
    intake: IntakeConfig
    storage: StorageConfig = field(default_factory=StorageConfig)
    web: WebConfig = field(default_factory=WebConfig)
    impact: ImpactConfig = field(default_factory=ImpactConfig)
    mail: MailConfig = field(default_factory=MailConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    soh: SohConfig = field(default_factory=SohConfig)
    mail_out: MailOutConfig = field(default_factory=MailOutConfig)


def load_central_config(path: str | Path) -> CentralConfig:
    return load_config(CentralConfig, path)
