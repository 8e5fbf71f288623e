"""The central server's configuration (TOML), checked at start. See config/central.example.toml."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from shared.config import load_config


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

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1-65535, got {self.port}")
        if self.max_message_bytes <= 0:
            raise ValueError("max_message_bytes must be positive")


@dataclass(frozen=True)
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8050
    secret_key_file: Path = Path("web-secret.key")  # created with 0600 when absent
    session_minutes: int = 480
    page_size: int = 25
    api_requests_per_minute: int = 120  # per API token; more get 429 with Retry-After

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1-65535, got {self.port}")
        if self.api_requests_per_minute <= 0:
            raise ValueError("api_requests_per_minute must be positive")
        if self.session_minutes <= 0:
            raise ValueError("session_minutes must be positive")
        if self.page_size <= 0:
            raise ValueError("page_size must be positive")


@dataclass(frozen=True)
class CentralConfig:
    intake: IntakeConfig
    storage: StorageConfig = field(default_factory=StorageConfig)
    web: WebConfig = field(default_factory=WebConfig)


def load_central_config(path: str | Path) -> CentralConfig:
    return load_config(CentralConfig, path)
