"""The re-analysis worker: every stored spectrum analysed once, failures recorded, none lost."""

import json
import threading
import time

import pytest

from central.store import Store
from central.worker import analyse_pending, run
from shared.formats import write_message
from shared.results import AnalysisError, AnalysisResult

from ..formats.canonical import canonical_message  # a valid 16384-channel SAMPLEPHD

WAIT_SECONDS = 60.0  # the bound of every wait: generous for a loaded machine, never slept


def wait_for(condition, worker: threading.Thread, value):
    """Poll `condition` until it holds (then return `value()`), the worker thread has died
    or WAIT_SECONDS have passed (then fail with what `value()` gives)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert worker.is_alive(), f"the worker stopped early: {value()!r}"
        assert time.monotonic() < deadline, f"still waiting after {WAIT_SECONDS} s: {value()!r}"
        time.sleep(0.02)
    return value()


def _result(phd, source: str) -> AnalysisResult:
    return AnalysisResult(
        method="central",
        method_version="test",
        source=source,
        station=phd.header.station,
        detector=phd.header.detector,
        srid=phd.header.srid,
        acquisition_start="",
        live_time_s=phd.acquisition.live_time,
        real_time_s=phd.acquisition.real_time,
        interval_s=900.0,
        nuclides={},
        elapsed_s=0.01,
    )


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "central.sqlite") as s:
        content = write_message(canonical_message()).encode()
        for i, name in enumerate(
            ("A_1_PHD_2023_11_17T14_15_00.TXT", "A_2_PHD_2023_11_17T14_30_00.TXT")
        ):
            s.add_message(
                file_name=name, station="AUS02", data_type="SAMPLEPHD", product="PHD",
                msg_id=str(i + 1), content=content, start_time=None, summary={},
            )  # fmt: skip
        s.add_message(
            file_name="A_3_PHD_2023_11_17T14_45_00.TXT", station="AUS02", data_type="SAMPLEPHD",
            product="PHD", msg_id="3", content=b"BEGIN IMS2.0\nnot a message", start_time=None, summary={},
        )  # fmt: skip
        yield s


def test_each_spectrum_is_analysed_once_and_unreadable_ones_are_recorded(store):
    calls = []

    def analyze(phd, source):
        calls.append(source)
        return _result(phd, source)

    assert analyse_pending(store, analyze) == 3
    assert analyse_pending(store, analyze) == 0  # nothing twice
    assert calls == ["A_1_PHD_2023_11_17T14_15_00.TXT", "A_2_PHD_2023_11_17T14_30_00.TXT"]
    first = store.analysis(1, "central")
    assert json.loads(first["result"])["srid"] == canonical_message().phd.header.srid
    broken = store.analysis(3, "central")
    assert broken["result"] is None and "A_3_PHD_2023_11_17T14_45_00.TXT" in broken["error"]


def test_a_failing_method_is_recorded_and_the_worker_goes_on(store):
    def analyze(phd, source):
        if source.startswith("A_1"):
            raise AnalysisError("no #g_Efficiency points")
        if source.startswith("A_2"):
            raise ZeroDivisionError("a bug")
        return _result(phd, source)

    assert analyse_pending(store, analyze) == 3
    assert store.analysis(1, "central")["error"] == "no #g_Efficiency points"
    assert "ZeroDivisionError" in store.analysis(2, "central")["error"]


def test_run_stops_when_asked(store, tmp_path):
    from central.config import CentralConfig, IntakeConfig, StorageConfig

    config = CentralConfig(
        intake=IntakeConfig(server_cert=tmp_path, server_key=tmp_path, ca_cert=tmp_path),
        storage=StorageConfig(data_dir=tmp_path, database="central.sqlite"),
    )
    stop = threading.Event()
    seen = []

    def analyze(phd, source):
        seen.append(source)
        if len(seen) == 2:
            stop.set()
        return _result(phd, source)

    worker = threading.Thread(target=run, args=(config, stop, 0.05, analyze))
    worker.start()
    worker.join(WAIT_SECONDS)
    assert not worker.is_alive()
    assert len(seen) == 2


def test_run_makes_the_daily_products_once_the_day_has_ended(tmp_path):
    """The worker analyses a day's spectrum, then makes the day's products by its clock."""
    from datetime import UTC, datetime

    from central.config import CentralConfig, IntakeConfig, StorageConfig
    from central.verify import summary

    config = CentralConfig(
        intake=IntakeConfig(server_cert=tmp_path, server_key=tmp_path, ca_cert=tmp_path),
        storage=StorageConfig(data_dir=tmp_path, database="products.sqlite"),
    )
    message = canonical_message()  # AUS02, collected 2023-11-17 14:15
    with Store(config.storage.database_path) as s:
        s.add_message(
            file_name="AUS02_1_PHD_2023_11_17T14_15_00.TXT", station="AUS02",
            data_type="SAMPLEPHD", product="PHD", msg_id="1",
            content=write_message(message).encode(), start_time="2023-11-17T14:15:00.000Z",
            summary=summary(message),
        )  # fmt: skip
    moments = iter([datetime(2023, 11, 17, 23, 0, tzinfo=UTC)] * 3)
    stop = threading.Event()

    def clock():
        # the day ends (and settles) after a few cycles; stop once the products are there
        return next(moments, datetime(2023, 11, 18, 1, 1, tzinfo=UTC))

    worker = threading.Thread(target=run, args=(config, stop, 0.02, _result, clock))
    worker.start()
    try:
        with Store(config.storage.database_path) as s:

            def products() -> list[str]:
                return [r["file_name"] for r in s.db.query(
                    "select file_name from messages where product in ('ATS', 'CSV') order by id"
                )]  # fmt: skip

            # both products, not the first one seen: the CSV may come a cycle after the ATS
            names = wait_for(lambda: len(products()) >= 2, worker, products)
    finally:
        stop.set()
        worker.join(WAIT_SECONDS)
    assert names == [
        "AUS02_CATS20231117V1_ATS_2023_11_17T00_00_00.AS",
        "AUS02_CCSV20231117V1_CSV_2023_11_17T00_00_00.CSV",
    ]


def test_workers_with_shards_share_the_spectra_without_overlap(store):
    seen: dict[int, list[str]] = {0: [], 1: []}
    for shard in (0, 1):

        def analyze(phd, source, shard=shard):
            seen[shard].append(source)
            return _result(phd, source)

        analyse_pending(store, analyze, shard=(shard, 2))
    # ids 1 and 3 are odd (shard 1; 3 does not parse), id 2 is even (shard 0)
    assert seen == {0: ["A_2_PHD_2023_11_17T14_30_00.TXT"], 1: ["A_1_PHD_2023_11_17T14_15_00.TXT"]}
    assert store.analysis(3, "central")["error"]
    assert analyse_pending(store, lambda *a: None, shard=(0, 1)) == 0  # nothing left for anyone
