"""The re-analysis worker: every stored spectrum is analysed again with the central method.

It runs as its own process (`python -m central.worker --config FILE`, started and
supervised by `stax central serve`), so that a 0.1-1 s analysis never holds up the
intake's event loop or the web UI. It takes the spectra the central method has not seen
yet, oldest first, and records either the result or why the spectrum could not be
analysed; it never drops a spectrum and never analyses one twice.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable

from shared.formats import FormatError, read_message
from shared.results import AnalysisError, AnalysisResult

from .config import CentralConfig, load_central_config
from .store import Store

log = logging.getLogger(__name__)

METHOD = "central"
Analyzer = Callable[..., AnalysisResult]


def central_method() -> Analyzer:
    from central.reanalysis import analyze

    return analyze


def analyse_pending(store: Store, analyze: Analyzer, limit: int = 10) -> int:
    """Analyse up to `limit` spectra not yet analysed; the number handled."""
    rows = store.spectra_without_analysis(METHOD, limit)
    for row in rows:
        started = time.perf_counter()
        try:
            message = read_message(row["content"], source=row["file_name"], lenient=True)
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


def run(
    config: CentralConfig,
    stop: threading.Event,
    poll_seconds: float = 2.0,
    analyze: Analyzer | None = None,
) -> None:
    analyze = analyze or central_method()
    with Store(config.storage.database_path) as store:
        while not stop.is_set():
            if analyse_pending(store, analyze) == 0:
                stop.wait(poll_seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m central.worker", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--config", required=True)
    parser.add_argument("--poll-seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = load_central_config(args.config)
    except ValueError as exc:
        print(f"central.worker: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    run(config, stop, args.poll_seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
