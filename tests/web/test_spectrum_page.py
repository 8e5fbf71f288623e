"""The spectrum viewer: its figure and tables without a browser, the central fit's curves
against the stored result, the CSVs against the database, and the page's callback."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from central.reanalysis import analyze
from central.spectrum_fit import fitted_curves
from central.store import Store
from central.web.figures.spectrum import (
    RESULT_COLUMNS,
    found_nuclides,
    nuclide_lines,
    result_rows,
    results_table,
    spectrum_figure,
    spectrum_table,
)
from central.web.pages.spectrum import _spectrum, file_id
from edge_agent.analysis import analyze as station_analyze
from shared.formats import read_message

from .dash_calls import answer, call
from .helpers import login

PHD_FILE = (
    Path(__file__).parents[1] / "data" / "AUS02_856022299609035337_PHD_2023_11_17T14_15_00.TXT"
)


@pytest.fixture(scope="module")
def analysed() -> dict:
    content = PHD_FILE.read_bytes()
    phd = read_message(content, source=PHD_FILE.name).phd
    return {
        "content": content,
        "phd": phd,
        "central": analyze(phd, source=PHD_FILE.name).to_json(),
        "station": station_analyze(phd, source=PHD_FILE.name).to_json(),
        "curves": fitted_curves(phd, PHD_FILE.name),
    }


def store_spectrum(path: Path, analysed: dict) -> int:
    """The real spectrum as AUS02's, with both analyses' results, as the central keeps them."""
    phd = analysed["phd"]
    with Store(path) as store:
        result = store.add_message(
            file_name=PHD_FILE.name,
            station="AUS02",
            data_type="SAMPLEPHD",
            product="PHD",
            msg_id="856022299609035337",
            content=analysed["content"],
            start_time="2023-11-17T14:15:00.000Z",
            summary={"acquisition": {"start": "2023-11-17T14:15:00.000Z", "real_time": 900}},
        )
        message_id = int(result.message_id)
        store.add_analysis(message_id, "central", result=analysed["central"])
        carrier = store.db.query("select id from messages where product = 'ATS' limit 1")
        with store.conn:
            store.conn.execute(
                "insert into station_results (ats_message_id, station, file_name, srid, "
                "acquisition_start, method_version, result, created_at) values (?,?,?,?,?,?,?,?)",
                [next(carrier)["id"], "AUS02", PHD_FILE.name, phd.header.srid,
                 "2023-11-17T14:15:00.000Z", "t", json.dumps(analysed["station"]), "t"],
            )  # fmt: skip
    return message_id


def test_the_recomputed_fit_is_the_stored_central_result(analysed):
    curves = analysed["curves"]
    stored = analysed["central"]["peaks"]
    assert stored
    for peak in stored:
        match = [
            area
            for energy, area, nuclide in zip(
                curves.line_energy, curves.line_area, curves.line_nuclide, strict=True
            )
            if nuclide == peak["nuclide"] and abs(energy - peak["line_kev"]) < 1e-6
        ]
        # (an x-ray group's line may come from two nuclides: one of them is this peak)
        assert any(area == pytest.approx(peak["net_area"], rel=1e-9) for area in match), peak
    # at Xe-133's 81 keV line the fit stands far above the continuum, and follows the counts
    peak = next(p for p in stored if p["nuclide"] == "Xe-133" and round(p["line_kev"]) == 81)
    row = int(np.argmin(np.abs(curves.index - peak["channel"])))
    assert curves.total[row] > 10 * curves.continuum[row]
    counts = np.asarray(analysed["phd"].g_spectrum.counts)[curves.index[row]]
    assert curves.total[row] == pytest.approx(counts, rel=0.2)


def test_the_figure_shows_spectrum_fit_peaks_and_lines(analysed):
    spectrum = _spectrum(analysed["phd"])
    # on the file's own #g_Energy: 46.539 keV at channel 254.165, 1460.822 at 7978.036
    assert np.interp([254.165, 7978.036], spectrum.channel, spectrum.energy) == pytest.approx([46.539, 1460.822], abs=0.05)  # fmt: skip
    results = {"station": analysed["station"], "central": analysed["central"]}
    found = found_nuclides(results)
    assert "Xe-133" in found and "Xe-131m" not in found
    lines = nuclide_lines(found, spectrum.energy.min(), spectrum.energy.max())
    assert ("Xe-133", 80.9979, pytest.approx(0.369, abs=0.02)) in [
        (n, round(e, 4), i) for n, e, i in lines
    ]
    fig = spectrum_figure(spectrum, analysed["curves"], analysed["central"]["peaks"], lines, "x")
    names = [t.name for t in fig.data]
    assert names == ["spectrum (counts)", "continuum, central", "fit, central", "fitted peaks, central"]  # fmt: skip
    assert list(fig.data[0].y) == list(spectrum.counts)
    assert len(fig.data[3].x) == len(analysed["central"]["peaks"])
    assert fig.layout.yaxis.type == "log"
    assert len(fig.layout.shapes) == len(lines)
    assert {a.text for a in fig.layout.annotations} >= {"Xe-133 81.0"}
    # without a central result: the spectrum alone
    assert [t.name for t in spectrum_figure(spectrum, None, [], [], "x").data] == ["spectrum (counts)"]  # fmt: skip


def test_file_ids_from_the_address():
    assert file_id("?file=12") == 12
    for bad in (None, "", "?file=", "?file=1&file=2", "?file=-3", "?file=1e3", "?id=4"):
        assert file_id(bad) is None


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_spectrum_csv_is_the_stored_file(analysed):
    spectrum = _spectrum(analysed["phd"])
    rows = _csv(spectrum_table(spectrum, analysed["curves"], PHD_FILE.name).csv())
    counts = analysed["phd"].g_spectrum.counts
    assert [int(r["counts"]) for r in rows] == list(counts)
    assert [int(r["channel"]) for r in rows] == list(range(len(counts)))
    fitted = {int(r["channel"]): float(r["fit central (counts)"]) for r in rows if r["fit central (counts)"]}  # fmt: skip
    assert sorted(fitted) == sorted(analysed["curves"].index.tolist())
    assert float(rows[1000]["energy (keV)"]) == float(spectrum.energy[1000])


def test_the_results_csv_is_both_analyses_to_the_last_digit(analysed):
    results = {"station": analysed["station"], "central": analysed["central"]}
    table = results_table(result_rows(results), PHD_FILE.name)
    assert table.file_name == PHD_FILE.name.replace(".TXT", "_results.csv")
    rows = _csv(table.csv())
    for r in rows:
        stored = results[r["method"]]["nuclides"][r["nuclide"]]
        for key, title in RESULT_COLUMNS:
            value = stored.get(key)
            if isinstance(value, bool):
                assert r[title] == ("1" if value else "0")
            elif value is None:
                assert r[title] == ""
            else:
                assert float(r[title]) == value, (r["nuclide"], key)
    assert {r["method"] for r in rows} == {"station", "central"}


def test_the_page_shows_a_stored_spectrum_to_those_who_may_see_it(app, config, analysed):
    message_id = store_spectrum(config.storage.database_path, analysed)
    client = app.server.test_client()
    login(client, "admin")
    out = answer(call(client, "spectrum-graph.figure", [("url", "search", f"?file={message_id}")]))
    figure = out["spectrum-graph"]["figure"]
    assert [t["name"] for t in figure["data"]][:3] == ["spectrum (counts)", "continuum, central", "fit, central"]  # fmt: skip
    text = json.dumps(out)
    assert f"/download?ids={message_id}" in text and PHD_FILE.name in text
    assert "Xe-133" in json.dumps(out["spectrum-results"]) and "station" in text
    assert "lines disagree" in json.dumps(out["spectrum-warnings"])  # both report it
    csv_out = answer(
        call(
            client,
            "spectrum-csv.data",
            [("spectrum-csv-button", "n_clicks", 1)],
            [("url", "search", f"?file={message_id}")],
        )
    )
    assert csv_out["spectrum-csv"]["data"]["filename"].endswith("_spectrum.csv")
    # bert sees BES01 only: the same as an id that does not exist
    other = app.server.test_client()
    login(other, "owen")
    hidden = call(other, "spectrum-graph.figure", [("url", "search", f"?file={message_id}")])
    missing = call(other, "spectrum-graph.figure", [("url", "search", "?file=999999")])
    assert hidden.data == missing.data and PHD_FILE.name.encode() not in hidden.data
