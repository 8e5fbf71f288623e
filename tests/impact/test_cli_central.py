"""`stax impact srs --url`: the releases from a running central's download API (its daily
emission CSVs, latest version of each day), through the same arithmetic as --releases."""

from __future__ import annotations

import json
from datetime import timedelta

from central.store import Store
from shared.formats import EmissionRow, NuclideValue, write_emission_csv
from stax.cli import main
from tests.api.conftest import server, tokens  # noqa: F401 - fixtures
from tests.web.conftest import (  # noqa: F401 - fixtures
    app,
    cheap_password_hashing,
    clock,
    config,
    sample,
    template_db,
)

from .synthetic import STOP, srs_text

M = 1e15


def _csv(store: Store, station: str, version: int, kbq: float) -> None:
    t0 = STOP - timedelta(minutes=30)
    rows = [
        EmissionRow(station, t0 + timedelta(minutes=15 * i), {"XE-133": NuclideValue(val=kbq)},
                    "kBq/900s")
        for i in range(2)
    ]  # fmt: skip
    day = STOP.strftime("%Y%m%d")
    store.add_message(
        file_name=f"{station}_CCSV{day}V{version}_CSV_{STOP:%Y_%m_%d}T00_00_00.CSV",
        station=station, data_type="CSV", product="CSV", msg_id=f"CCSV{day}V{version}",
        content=write_emission_csv(rows).encode(), start_time=f"{STOP:%Y-%m-%d}T00:00:00.000Z",
        summary={"Day": STOP.date().isoformat(), "Version": version}, analysis="CENTRAL",
    )  # fmt: skip


def test_releases_from_the_central_latest_version_of_the_day(
    config,  # noqa: F811
    server,  # noqa: F811
    tokens,  # noqa: F811
    tmp_path,
    capsys,
):
    with Store(config.storage.database_path) as store:
        _csv(store, "AUS02", 1, 9.0)  # replaced by version 2
        _csv(store, "AUS02", 2, 1.5)
        _csv(store, "BES01", 1, 7.0)  # another facility
    srs = tmp_path / "TSX01.2024030206.TEST.txt"
    srs.write_text(srs_text(["10.00 20.00 0 6.0", "10.00 20.00 1 9.0"]))
    token = tmp_path / "token"
    token.write_text(tokens["admin"])
    args = ["impact", "srs", str(srs), "--emitter", "10,20", "--url", server,
            "--token-file", str(token), "--no-decay", "--json"]  # fmt: skip
    assert main(args) == 2
    assert "--url needs --station" in capsys.readouterr().err
    assert main([*args, "--station", "AUS02"]) == 0
    view = json.loads(capsys.readouterr().out)
    (xe,) = view["impacts"]
    # two 15-minute releases of 1.5 kBq in step 0 (6.0 s/m3 of M): version 2, not 1
    assert abs(xe["concentration_bq_m3"] / (3000 * 6.0 / M) - 1) < 1e-9
    assert view["release"] == {"url": server, "station": "AUS02", "analysis": "CENTRAL"}


def test_a_wrong_token_is_a_clear_error(config, server, tmp_path, capsys):  # noqa: F811
    srs = tmp_path / "TSX01.2024030206.TEST.txt"
    srs.write_text(srs_text(["10.00 20.00 0 6.0"]))
    token = tmp_path / "token"
    token.write_text("stax_not-a-real-token")
    rc = main(["impact", "srs", str(srs), "--emitter", "10,20", "--url", server,
               "--token-file", str(token), "--station", "AUS02", "--json"])  # fmt: skip
    assert rc == 2 and f"--url {server}:" in capsys.readouterr().err
