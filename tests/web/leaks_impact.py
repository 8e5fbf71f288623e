"""The /impact page's callbacks in the leak test (tests/web/test_leaks.py): the impact a
user is shown comes from the spectra that user may see now, and nothing else.

The situation of test_leaks is given releases: every AUS02 and BES01 spectrum gets a central
result with an Xe-133 release, both facilities a place beside a made-up IMS station TST01,
and TST01 an SRS file for its sample of 2024-05-01. The impact is then worked out here from
the visible rows only (the oracle) and must be what the page's CSV says, to the digit.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from central.impact import (
    OPERATOR,
    add_atm_file,
    backward_impact,
    emitters,
    put_ims_station,
    result_rows,
)
from central.store import Store
from shared.atm.ims_stations import ImsStation
from shared.atm.srs import read_srs
from shared.simulation.srs import PuffWeather, simulate_srs_text

from .helpers import call_callback

IMS = "TST01"
SAMPLE_STOP = datetime(2024, 5, 2, tzinfo=UTC)
CONTROLS = [
    ("impact-ims", "value", IMS),
    ("impact-span", "start_date", "2024-05-01"),
    ("impact-span", "end_date", "2024-05-01"),
    ("impact-nuclides", "value", ["XE-133"]),
    ("impact-mode", "value", "backward"),
    ("impact-method", "value", "central"),
    ("impact-decay", "value", ["decay"]),
]


def _database(w) -> str:
    return w.client.application.config["STAX_DATABASE"]


def give_releases(w) -> str:
    """Releases, places and an SRS file as described above (once per world); the SRS text."""
    with Store(_database(w)) as store:
        if store.db.execute("select 1 from atm_files").fetchone():
            return store.db.execute("select content from atm_files").fetchone()[0].decode()
        with store.conn:
            store.conn.execute("update facilities set latitude = 47.5, longitude = 7.5")
        for row in store.db.query("select id, station from messages where product = 'PHD'"):
            result = json.dumps(
                {
                    "interval_s": 900,
                    "nuclides": {"XE-133": {"detected": True, "release_bq": 1e9 * row["id"]}},
                }
            )
            with store.conn:
                store.conn.execute(
                    "insert into analyses (message_id, method, created_at, result) "
                    "values (?, 'central', 't', ?) on conflict (message_id, method) "
                    "do update set result = excluded.result",
                    [row["id"], result],
                )
        put_ims_station(
            store,
            ImsStation(IMS, "Test station", 47.9, 7.9, "SPALAX", 24, 0, "test"),
            by=OPERATOR,
        )
        text = simulate_srs_text(
            IMS, 47.9, 7.9, SAMPLE_STOP, simulation_hours=48, weather=PuffWeather(speed_m_s=1.0)
        )
        outcome = add_atm_file(store, f"{IMS}.2024050200.TEST.txt", text.encode(), by=OPERATOR)
        assert outcome.outcome == "stored", outcome
        return text


def oracle(w, text: str) -> float:
    """Xe-133 total impact at TST01 from the rows this role may see, computed here."""
    with Store(_database(w)) as store:
        rows = result_rows(
            store,
            "central",
            ["AUS02", "BES01"],
            datetime(2024, 4, 29, tzinfo=UTC),
            SAMPLE_STOP,
        )
        every = backward_impact(
            [read_srs(text.encode(), "f.txt")], emitters(store, ["AUS02", "BES01"]), rows
        )[1]
        seen = [r for r in rows if r["message_id"] in w.visible]
        places = emitters(store, sorted(w.stations))
        mine = backward_impact([read_srs(text.encode(), "f.txt")], places, seen, ("XE-133",))[1]
    total = next(t.concentration_bq_m3 for t in mine if t.nuclide == "XE-133")
    everything = next(t.concentration_bq_m3 for t in every if t.nuclide == "XE-133")
    if w.role != "admin":
        assert total != everything  # the hidden releases would show: the test can fail
    return total


def c_impact_draw(w, no_markers) -> None:
    give_releases(w)
    response = call_callback(
        w.client,
        "impact-notes.children",
        [
            {"id": "impact-notes", "property": "children"},
            {"id": "impact-total-graph", "property": "figure"},
            {"id": "impact-emitters-graph", "property": "figure"},
        ],
        [
            *CONTROLS,
            ("impact-emitters-nuclide", "value", "XE-133"),
            ("impact-measured", "data", None),
        ],
    )
    assert response.status_code == 200
    no_markers(w, response)
    text = response.get_data(as_text=True)
    for code in {"AUS02", "BES01"} - w.stations:
        assert code not in text  # a facility not seen is no emitter, not even by name


def _csv(w, prefix: str, extra_state: list) -> list[dict]:
    response = call_callback(
        w.client,
        f"{prefix}-csv.data",
        {"id": f"{prefix}-csv", "property": "data"},
        [(f"{prefix}-csv-button", "n_clicks", 1)],
        [*CONTROLS, *extra_state],
    )
    assert response.status_code == 200
    data = response.get_json()["response"][f"{prefix}-csv"]["data"]
    assert data["type"] == "text/csv"
    return list(csv.DictReader(io.StringIO(data["content"])))


def c_impact_total_csv(w, no_markers) -> None:
    text = give_releases(w)
    rows = _csv(w, "impact-total", [("impact-measured", "data", None)])
    assert len(rows) == 1
    assert float(rows[0]["Total impact central analysis (Bq/m3)"]) == oracle(w, text)


def c_impact_emitters_csv(w, no_markers) -> None:
    give_releases(w)
    rows = _csv(w, "impact-emitters", [])
    assert {r["Emitter"] for r in rows} == w.stations


def c_impact_measured(w, no_markers) -> None:
    body = "sample_start,sample_stop,nuclide,concentration_mbq_m3,uncertainty_mbq_m3\n"
    body += "2024-05-01T00:00:00Z,2024-05-02T00:00:00Z,XE-133,1.5,0.2\n"
    import base64

    response = call_callback(
        w.client,
        "impact-measured.data",
        [
            {"id": "impact-measured", "property": "data"},
            {"id": "impact-measured-status", "property": "children"},
        ],
        [
            (
                "impact-measured-upload",
                "contents",
                "data:text/csv;base64," + base64.b64encode(body.encode()).decode(),
            )
        ],
        [("impact-measured-upload", "filename", "dex33.csv")],
    )
    assert response.status_code == 200
    out = response.get_json()["response"]
    assert out["impact-measured"]["data"][0]["concentration_bq_m3"] == 1.5e-3
    no_markers(w, response)


def c_impact_atm_upload(w, no_markers) -> None:
    import base64

    text = simulate_srs_text("TST02", 10.0, 10.0, SAMPLE_STOP, simulation_hours=24)
    with Store(_database(w)) as store:
        before = store.db.execute("select count(*) from atm_files").fetchone()[0]
    response = call_callback(
        w.client,
        "impact-atm-result.children",
        [
            {"id": "impact-atm-result", "property": "children"},
            {"id": "impact-atm-list", "property": "children"},
        ],
        [
            (
                "impact-atm-upload",
                "contents",
                ["data:text/plain;base64," + base64.b64encode(text.encode()).decode()],
            )
        ],
        [
            ("impact-atm-upload", "filename", ["TST02.2024050200.TEST.txt"]),
            ("impact-fwd-emitter", "value", None),
            ("impact-fwd-rate", "value", None),
            ("impact-fwd-hours", "value", None),
            ("impact-fwd-decayed", "value", []),
        ],
    )
    assert response.status_code == 200
    no_markers(w, response)
    with Store(_database(w)) as store:
        after = store.db.execute("select count(*) from atm_files").fetchone()[0]
    assert after == before + (1 if w.role == "admin" else 0)


def c_impact_save_all(w, no_markers) -> None:
    """A callback of the browser alone (assets/charts.js): the server has no route for it."""
    dependencies = w.client.get("/_dash-dependencies").get_json()
    entry = next(d for d in dependencies if "impact-save-all-done.children" in d["output"])
    assert entry["clientside_function"]["function_name"] == "saveAllCharts"


def c_impact_ims_edit(w, no_markers) -> None:
    """Only administrators change the IMS stations; a forged save by anyone else changes
    nothing."""
    fields = [
        ("impact-ims-code", "value", "tst09"),
        ("impact-ims-name", "value", "Added in a test"),
        ("impact-ims-latitude", "value", 10),
        ("impact-ims-longitude", "value", 20),
        ("impact-ims-system", "value", "SAUNA II"),
        ("impact-ims-sample_hours", "value", 12),
        ("impact-ims-stop_hour", "value", 6),
        ("impact-ims-source", "value", "test"),
    ]
    response = call_callback(
        w.client,
        "impact-ims-message.children",
        [
            {"id": "impact-ims-message", "property": "children"},
            {"id": "impact-ims-table", "property": "children"},
            {"id": "impact-ims", "property": "options"},
        ],
        [("impact-ims-save", "n_clicks", 1), ("impact-ims-remove", "n_clicks", 0)],
        fields,
    )
    assert response.status_code == 200
    no_markers(w, response)
    with Store(_database(w)) as store:
        added = store.db.execute("select count(*) from ims_stations where code = 'TST09'")
        assert added.fetchone()[0] == (1 if w.role == "admin" else 0)
