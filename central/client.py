"""A Python client of the central's download API (`/api/v1/`), after ObsPy's FDSN client:
one `Client(base_url, token)`, typed errors, bulk downloads that resume and skip what is
already on disk.

    from central.client import Client
    client = Client("https://stax.example.org/", token=open("token.txt").read().strip())
    files = client.list(station="USS06,AUS02", type="ATS,CSV", day="2023-11-15")
    report = client.download(files, out_dir="data")

Standard library only, so that it runs on any analyst's machine with Python 3.11.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "AccessError",
    "AuthError",
    "BadRequest",
    "Client",
    "ClientError",
    "DownloadReport",
    "IntegrityError",
    "NotFound",
    "RemoteFile",
    "ServerError",
    "TooManyRequests",
]

_CHUNK = 1 << 16


class ClientError(Exception):
    """The API said no, or could not be reached: `status` (None: no answer) and why."""

    def __init__(self, message: str, status: int | None = None, url: str | None = None):
        super().__init__(message)
        self.status = status
        self.url = url


class BadRequest(ClientError):
    """400: a query parameter the server does not accept (the message names it)."""


class AuthError(ClientError):
    """401: no token, or a token that is unknown or revoked."""


class AccessError(ClientError):
    """403: a station the token's user may not see."""


class NotFound(ClientError):
    """404: no such file, or none the user may see (e.g. not yet published)."""


class TooManyRequests(ClientError):
    """429: the token's rate limit; `retry_after` seconds to wait."""

    def __init__(self, message: str, retry_after: float, url: str | None = None):
        super().__init__(message, 429, url)
        self.retry_after = retry_after


class ServerError(ClientError):
    """5xx, a broken connection or a timeout: worth trying again later."""


class IntegrityError(ClientError):
    """The bytes received do not have the SHA-256 the server listed."""


_ERRORS: dict[int, type[ClientError]] = {
    400: BadRequest,
    401: AuthError,
    403: AccessError,
    404: NotFound,
}


@dataclass(frozen=True)
class RemoteFile:
    """One file as the API lists it."""

    id: int
    name: str
    type: str  # PHD, SOH, ALERT, ATS, CSV
    analysis: str  # STATION or CENTRAL
    station: str
    start: str | None
    size: int
    sha256: str
    url: str
    data_until: str | None = None
    received: str | None = None

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> RemoteFile:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in row.items() if k in names})


@dataclass
class DownloadReport:
    """What `Client.download` did, file by file."""

    out_dir: Path
    downloaded: list[RemoteFile] = field(default_factory=list)
    skipped: list[RemoteFile] = field(default_factory=list)  # already there, same SHA-256
    failed: list[tuple[RemoteFile, ClientError]] = field(default_factory=list)
    bytes: int = 0  # received over the network

    @property
    def ok(self) -> bool:
        """Every file is on disk with the SHA-256 the server listed."""
        return not self.failed

    def summary(self) -> str:
        total = len(self.downloaded) + len(self.skipped) + len(self.failed)
        return (
            f"{total} file{'s' if total != 1 else ''}: {len(self.downloaded)} downloaded "
            f"({_size(self.bytes)}), {len(self.skipped)} already there, "
            f"{len(self.failed)} failed; in {self.out_dir}"
        )


# progress(done, count, file, outcome): outcome is downloaded, skipped or failed
Progress = Callable[[int, int, RemoteFile, str], None]


class Client:
    """The download API of one central server, as the user of one API token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 60.0,
        retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not re.match(r"^https?://", base_url):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        token = token.strip()
        if not token:
            raise ValueError("an API token is needed (make one on the web UI's Settings page)")
        self.base_url = base_url.rstrip("/") + "/"
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep

    # ----------------------------------------------------------------- queries
    def list(
        self,
        *,
        station: str | Iterable[str] | None = None,
        type: str | Iterable[str] | None = None,
        analysis: str | Iterable[str] | None = None,
        day: str | None = None,
        month: str | None = None,
        since: str | None = None,
        until: str | None = None,
        page_size: int = 1000,
    ) -> list[RemoteFile]:
        """Every file that matches, across all pages, oldest first. `station`, `type` and
        `analysis` take one value, several separated by commas, or a list; `day` is
        YYYY-MM-DD, `month` YYYY-MM, `since`/`until` ISO 8601 times."""
        params = {
            "station": _joined(station),
            "type": _joined(type),
            "analysis": _joined(analysis),
            "day": day,
            "month": month,
            "since": since,
            "until": until,
            "page_size": str(page_size),
        }
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v})
        url: str | None = self.base_url + "api/v1/files?" + query
        files: list[RemoteFile] = []
        while url:
            page = self._json(url)
            files += [RemoteFile.from_json(row) for row in page["files"]]
            url = page.get("next")
        return files

    def fetch(self, file: RemoteFile | int) -> bytes:
        """One file's bytes, checked against its SHA-256 when `file` is a listed file."""
        url = file.url if isinstance(file, RemoteFile) else self._file_url(file)

        def once() -> bytes:
            with self._open(url) as response:
                return response.read()

        data = self._retrying(once)
        if isinstance(file, RemoteFile) and hashlib.sha256(data).hexdigest() != file.sha256:
            raise IntegrityError(
                f"{file.name}: the bytes received do not match its SHA-256", url=url
            )
        return data

    def download(
        self,
        files: Iterable[RemoteFile] | None = None,
        out_dir: str | Path = ".",
        *,
        progress: Progress | None = None,
        **query: Any,
    ) -> DownloadReport:
        """Download `files` (or every file of `list(**query)`) into `out_dir`.

        A file already there with the same SHA-256 is skipped; a partial one (NAME.part,
        left by an interrupted run) is resumed with a Range request; each file is written
        beside its final name and renamed once complete and checked. A file that fails
        does not stop the others (a refused token does); see the report's `failed`.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        wanted = list(self.list(**query) if files is None else files)
        report = DownloadReport(out)
        for done, remote in enumerate(wanted, 1):
            target = out / _local_name(remote)
            try:
                if target.exists() and _sha256(target) == remote.sha256:
                    report.skipped.append(remote)
                    outcome = "skipped"
                else:
                    report.bytes += self._download_one(remote, target)
                    report.downloaded.append(remote)
                    outcome = "downloaded"
            except AuthError:
                raise
            except ClientError as exc:
                report.failed.append((remote, exc))
                outcome = "failed"
            if progress is not None:
                progress(done, len(wanted), remote, outcome)
        return report

    # --------------------------------------------------------------- internals
    def _download_one(self, remote: RemoteFile, target: Path) -> int:
        part = target.with_name(target.name + ".part")

        def once() -> int:
            have = part.stat().st_size if part.exists() else 0
            headers = {}
            if 0 < have < remote.size:
                headers = {"Range": f"bytes={have}-", "If-Range": f'"{remote.sha256}"'}
            elif have:
                part.unlink()  # as long as the file or longer: not a prefix of it
            with self._open(remote.url, headers) as response:
                resumed = response.status == 206
                received = 0
                with part.open("ab" if resumed else "wb") as f:
                    while chunk := response.read(_CHUNK):
                        f.write(chunk)
                        received += len(chunk)
                    f.flush()
                    os.fsync(f.fileno())
            if _sha256(part) != remote.sha256:
                part.unlink()
                raise IntegrityError(
                    f"{remote.name}: the bytes received do not match its SHA-256 "
                    "(the partial file is removed; run again)",
                    url=remote.url,
                )
            os.replace(part, target)
            return received

        return self._retrying(once)

    def _file_url(self, file_id: int) -> str:
        return f"{self.base_url}api/v1/files/{int(file_id)}"

    def _json(self, url: str) -> dict[str, Any]:
        def once() -> dict[str, Any]:
            with self._open(url, {"Accept": "application/json"}) as response:
                return json.loads(response.read())

        return self._retrying(once)

    def _open(self, url: str, headers: dict[str, str] | None = None):
        request = urllib.request.Request(
            url,
            headers={
                "Authorization": f"Bearer {self.token}",
                "User-Agent": "stax-client/1",
                **(headers or {}),
            },
        )
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            raise _typed_error(exc, url) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServerError(f"{url}: no answer ({reason})", None, url) from None

    def _retrying(self, once: Callable[[], Any]) -> Any:
        """`once()`, again after 429 (waiting Retry-After), 5xx and broken connections,
        with exponential backoff; other errors at once."""
        wait = self.backoff
        for attempt in range(self.retries + 1):
            try:
                return once()
            except TooManyRequests as exc:
                if attempt == self.retries:
                    raise
                self.sleep(min(max(exc.retry_after, wait), self.max_backoff))
            except (ServerError, IntegrityError, TimeoutError, http.client.HTTPException,
                    ConnectionError) as exc:  # fmt: skip
                if attempt == self.retries:
                    if isinstance(exc, ClientError):
                        raise
                    raise ServerError(f"the connection broke: {exc}") from None
                self.sleep(min(wait, self.max_backoff))
            wait *= 2
        raise AssertionError("unreachable")


def _typed_error(exc: urllib.error.HTTPError, url: str) -> ClientError:
    try:
        body = json.loads(exc.read() or b"{}")
        message = body["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = exc.reason or f"HTTP {exc.code}"
    text = f"{exc.code}: {message}"
    if exc.code == 429:
        try:
            retry = float(exc.headers.get("Retry-After", "1"))
        except ValueError:
            retry = 1.0
        return TooManyRequests(text, retry, url)
    if exc.code >= 500:
        return ServerError(text, exc.code, url)
    return _ERRORS.get(exc.code, ClientError)(text, exc.code, url)


def _joined(value: str | Iterable[str] | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return ",".join(value)


def _local_name(remote: RemoteFile) -> str:
    """The server's file name, made safe as a name in one folder."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(remote.name).name).lstrip(".")
    return name or f"file-{remote.id}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"
