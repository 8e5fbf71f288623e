"""The re-analysis worker: every stored spectrum is analysed again with the central method,
and compared with the station's own result once that has come (in the station's daily ATS);
once a UTC day has ended and its spectra are analysed, the day's products are made
(central/products.py: the central's ATS and the emission CSVs, new versions after late files).

It runs as its own process (`python -m central.worker --config FILE`, started and
supervised by `stax central serve`), so that a 0.1-1 s analysis never holds up the
intake's event loop or the web UI. It takes the spectra the central method has not seen
yet, oldest first, and records either the result or why the spectrum could not be
analysed; it never drops a spectrum and never analyses one twice.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from shared import logsafe
from shared.formats import FormatError, read_message
from shared.results import AnalysisError, AnalysisResult

from .alerts import run_checks
from .compare import compare, flagged
from .config import CentralConfig, load_central_config
from .impact import scan_atm_dir
from .products import make_products
from .store import Store

log = logging.getLogger(__name__)

METHOD = "central"
Analyzer = Callable[..., AnalysisResult]


def central_method() -> Analyzer:
    from central.reanalysis import analyze

    return analyze


def analyse_pending(
    store: Store, analyze: Analyzer, limit: int = 10, shard: tuple[int, int] = (0, 1)
) -> int:
    """Analyse up to `limit` spectra not yet analysed (of this worker's `shard`)."""
    rows = store.spectra_without_analysis(METHOD, limit, shard)
    for row in rows:
        started = time.perf_counter()
        try:
            message = read_message(store.content(row["id"]), source=row["file_name"], lenient=True)
            if message.phd is None:
                raise AnalysisError("no PHD section")
            result = analyze(message.phd, source=row["file_name"])
        except (AnalysisError, FormatError) as exc:
            log.warning("%s: not analysed: %s", row["file_name"], exc)
            store.add_analysis(
                row["id"], METHOD, error=str(exc), elapsed_s=time.perf_counter() - started
            )
            continue
        except Exception as exc:  # a bug in the method must not stop the others: record it
            log.exception("%s: the central method failed", row["file_name"])
            store.add_analysis(
                row["id"],
                METHOD,
                error=f"internal error: {exc!r}",
                elapsed_s=time.perf_counter() - started,
            )
            continue
        store.add_analysis(
            row["id"],
            METHOD,
            method_version=result.method_version,
            result=result.to_json(),
            elapsed_s=result.elapsed_s,
        )
        detected = [n for n, r in result.nuclides.items() if r.detected]
        log.info(
            "%s: analysed in %.0f ms; detected: %s",
            row["file_name"],
            1000 * result.elapsed_s,
            ", ".join(detected) or "none",
        )
    return len(rows)


def compare_pending(store: Store, limit: int = 50) -> int:
    """Compare the station's and the central's results of up to `limit` spectra that have
    both and were not compared yet; the number handled. Disagreements are logged."""
    pairs = store.pairs_to_compare(limit)
    for pair in pairs:
        ids = dict(
            station_result_id=pair["station_result_id"],
            central_analysis_id=pair["central_analysis_id"],
        )
        try:
            station = AnalysisResult.from_json(json.loads(pair["station_result"]))
            central = AnalysisResult.from_json(json.loads(pair["central_result"]))
            comparisons = compare(station, central)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("%s: not compared: %s", pair["file_name"], exc)
            store.add_comparison(pair["message_id"], error=str(exc), **ids)
            continue
        # the nuclides the station reports (the central also reports background ones,
        # Bi-214, K-40, ..., which have nothing to be compared with)
        rows = [c.to_json() for c in comparisons if c.station_detected is not None]
        store.add_comparison(pair["message_id"], rows=rows, **ids)
        for c in flagged(comparisons):
            log.warning(
                "%s: %s disagrees (%s; station %s, central %s, z %s)",
                pair["file_name"],
                c.nuclide,
                c.reason,
                _g(c.station_value),
                _g(c.central_value),
                _g(c.z),
            )
    return len(pairs)


def pick_up_atm(store: Store, atm_dir) -> int:
    """Record the new files of the ATM folder; the number stored. A missing folder or a
    bad file is logged and tried again at the next scan, never fatal."""
    try:
        outcomes = scan_atm_dir(store, atm_dir)
    except OSError as exc:
        log.warning("ATM folder %s: %s", atm_dir, exc)
        return 0
    stored = [o for o in outcomes if o.outcome == "stored"]
    for o in outcomes:
        if o.outcome == "refused":
            log.warning("ATM file %s refused: %s", o.name, o.reason)
    if stored:
        log.info("ATM folder %s: %d new files", atm_dir, len(stored))
    return len(stored)


def _g(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def start_publisher(config: CentralConfig, clock: Callable[[], datetime]):
    """The MQTT publisher ([mqtt]; central/mqtt.py) in its own threads, or None when no
    broker is configured or it cannot be set up (logged: the worker goes on without it)."""
    if not config.mqtt.enabled:
        return None
    from .mqtt import Publisher

    try:
        publisher = Publisher(config.mqtt, config.storage.database_path, clock)
        publisher.start()
    except (OSError, ValueError) as exc:
        log.error("MQTT: not publishing: %s", exc)
        return None
    return publisher


def run(
    config: CentralConfig,
    stop: threading.Event,
    poll_seconds: float = 2.0,
    analyze: Analyzer | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    shard: tuple[int, int] = (0, 1),
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """Analyse, compare and make the daily products until `stop` is set; `clock` says
    when a day has ended (a simulated day runs in seconds). The first worker also runs
    the central alerts' checks every [alerts] check_seconds (of `monotonic`) and the MQTT
    publisher."""
    analyze = analyze or central_method()
    failed_days: set[tuple[str, str]] = set()
    first = shard[0] == 0
    publisher = None
    next_check = monotonic()
    next_scan = monotonic()  # the ATM folder is looked in at once, then every scan_minutes
    mail_out = _mail_out(config) if first else None
    try:
        with Store(config.storage.database_path) as store:
            if first:  # once the schema is there
                publisher = start_publisher(config, clock)
            while not stop.is_set():
                busy = analyse_pending(store, analyze, shard=shard)
                if first:  # comparing and products are quick: the first worker does them
                    busy += compare_pending(store)
                    if busy == 0:  # the spectra first: a day's products wait for its analyses
                        busy += make_products(store, clock(), failed=failed_days)
                    if config.impact.atm_dir is not None and monotonic() >= next_scan:
                        next_scan = monotonic() + 60 * config.impact.scan_minutes
                        pick_up_atm(store, config.impact.atm_dir)
                    if monotonic() >= next_check:  # also in a backlog: between batches
                        run_checks(store, config.alerts, clock(), config.intake)
                        next_check = monotonic() + config.alerts.check_seconds
                    if mail_out is not None:  # subscription mail, every [mail_out] poll_seconds
                        try:
                            mail_out.round(store, clock())
                        except Exception:  # the queue keeps every row: log, go on, try again
                            log.exception("subscription mail round failed")
                if busy == 0:
                    stop.wait(poll_seconds)
    finally:
        if publisher is not None:
            publisher.stop()


def _mail_out(config: CentralConfig):
    """The subscription mail sender when [mail_out] host is set (docs/mail.md)."""
    if not config.mail_out.enabled:
        return None
    from .mail.outgoing import MailOut

    return MailOut(config.mail_out)


def lower_priority(nice: int, autogroup: Path = Path("/proc/self/autogroup")) -> None:
    """Nice this process and, where Linux groups CPU time by session (autogroup, the
    default on desktops and many servers), its session too: the worker runs in a session
    of its own (central/serve.py), and there a niceness counts only against the other
    processes of the same session, so without this a niced worker still gets as much CPU
    as the intake's whole session. Best effort: no autogroup, no change."""
    os.nice(nice)
    with contextlib.suppress(OSError):
        autogroup.write_text(f"{nice}\n")
    with contextlib.suppress(OSError, AttributeError):  # Linux: run only on idle CPU
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m central.worker", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--config", required=True)
    parser.add_argument("--poll-seconds", type=float, default=2.0)
    parser.add_argument(
        "--shard", default="0/1", metavar="I/N", help="analyse the spectra whose id is I mod N"
    )
    args = parser.parse_args(argv)
    try:
        shard = tuple(int(x) for x in args.shard.split("/"))
        if len(shard) != 2 or not 0 <= shard[0] < shard[1]:
            raise ValueError
    except ValueError:
        parser.error(f"--shard must be I/N with 0 <= I < N, got {args.shard!r}")
    # the re-analysis takes the CPU the intake and the web UI leave: a burst of messages
    # is stored at full speed while the backlog of analyses waits
    lower_priority(19)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logsafe.install()  # outside input is logged escaped, one line per record
    try:
        config = load_central_config(args.config)
    except ValueError as exc:
        print(f"central.worker: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    try:
        _mail_out(config)  # a bad [mail_out] stops the start with its reason
    except (RuntimeError, ValueError) as exc:
        print(f"central.worker: {exc}", file=sys.stderr)
        return 2
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    run(config, stop, args.poll_seconds, shard=shard)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
