"""The chart pages at a year of data: 10 stations x 35,040 intervals x 9 nuclides x 2
analyses (6.3 million `release_values` rows) and a station-year of SOH (10 quantities,
350,400 readings) in a real SQLite database, and each chart callback timed.

Run: .venv/bin/python benchmarks/web_charts.py [--keep DIR] [--no-browser]

Rows are bulk-inserted with SQL (no spectra, no JSON results): this measures what the
charts read. For each chart it prints the best of 3 (ms) of
- "builder": the page module's query + figure function, called directly;
- "callback": the Dash callback through the Flask test client as an administrator
  (routing, access rule, figure, JSON of the response);
and, unless --no-browser, the draw time in headless Chromium of the served year
figures (releases: one station, all 9 nuclides, both analyses; the 10 SOH charts; the
trends of all stations): Plotly.newPlot of the callbacks' figures in the logged-in app
(with the CSP-safe WebGL bundle) until drawn, first on a fresh page (a WebGL figure
then makes its context and compiles its shaders), then the best of three more.
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from central.accounts import authenticate, create_user
from central.config import CentralConfig, IntakeConfig, StorageConfig, WebConfig
from central.maintenance import add_annotation
from central.releases import TABLE, insert_rows, rebuild_summaries
from central.store import Store
from central.web import create_app
from central.web.pages import ratios, releases, soh, trends

STATIONS = [f"ST{i:03d}" for i in range(10)]
NUCLIDES = ("Xe-133", "Xe-131m", "Xe-133m", "Xe-135", "Xe-138", "Kr-85m", "Kr-87", "Kr-88",
            "I-131")  # fmt: skip
INTERVALS = 35_040  # a year of 15-minute intervals
START = datetime(2023, 1, 1, tzinfo=UTC)
NOW = datetime(2024, 3, 1, tzinfo=UTC)
YEAR = ("2023-01-01", "2023-12-31")
PASSWORD = "benchmark password"


def fill(store: Store, seed: int = 1) -> int:
    """A year of releases per station: a daily cycle with random peaks, non-detects
    where the release falls below the MDR; 0.5 % of the intervals flagged."""
    rng = random.Random(seed)
    for code in STATIONS:
        store.ensure_facility(code, publish_delay="immediately")
    conn = store.conn
    conn.execute("PRAGMA foreign_keys=OFF")  # comparisons without their runs: reads only
    conn.execute("PRAGMA synchronous=OFF")
    base = int(START.timestamp())
    message_id = 0
    total = 0
    for code in STATIONS:
        rows, flagged = [], []
        for i in range(INTERVALS):
            message_id += 1
            t = base + 900 * i
            start = datetime.fromtimestamp(t, UTC)
            iso = start.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            until = (start + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            level = (
                1e9 * (1.5 + math.sin(2 * math.pi * i / 96)) * (50 if rng.random() < 0.002 else 1)
            )
            for k, nuclide in enumerate(NUCLIDES):
                for method, factor in (("station", 1.05), ("central", 1.0)):
                    value = level * factor / (3**k) * rng.uniform(0.9, 1.1)
                    mdr = 2e6
                    rows.append((code, nuclide, method, t, f"{code}_{i}.PHD", message_id, iso,
                                 until, value, 0.08 * value, mdr, value / 1e4, value / 1.25e5,
                                 1 if value > mdr else 0, 900.0))  # fmt: skip
            if rng.random() < 0.005:
                flagged.append((message_id, "Xe-133", "release", 4.2, 1, "both detect: |z| > 3"))
        with conn:
            insert_rows(conn, rows, overview=False)
            conn.executemany(
                "insert into comparisons (message_id, nuclide, quantity, z, flagged, reason) "
                "values (?, ?, ?, ?, ?, ?)",
                flagged,
            )
        total += len(rows)
    with conn:
        rebuild_summaries(conn)  # once, rather than bucket by bucket
    conn.execute(f"analyze {TABLE}")
    conn.execute("PRAGMA synchronous=FULL")
    return total


SOH_QUANTITIES = ("crystal_temperature", "room_temperature", "humidity", "high_voltage",
                  "sample_flow", "gas_flow", "pressure", "CoolerPower.CP5Power",
                  "PowerSupply.voltage", "DetEnv.shield_temperature")  # fmt: skip


def fill_soh(store: Store, station: str = "ST000", seed: int = 2) -> int:
    """A year of SOH of one station: a daily report of 96 readings of 10 quantities
    (the charts read `soh_values`; no report text is parsed here)."""
    rng = random.Random(seed)
    conn = store.conn
    conn.execute("PRAGMA foreign_keys=OFF")
    base = int(START.timestamp())
    values = []
    with conn:
        for day in range(INTERVALS // 96):
            start = datetime.fromtimestamp(base + 86400 * day, UTC)
            until = (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            message_id = conn.execute(
                "insert into messages (file_name, station, data_type, product, msg_id, sha256, "
                "start_time, received_at, data_until) values (?, ?, 'STAXSOH', 'SOH', ?, '', ?, "
                "?, ?)",
                [f"{station}_SOH_{day}.TXT", station, f"S{day}", start.isoformat(), until, until],
            ).lastrowid
            conn.execute("insert into soh_messages (message_id, readings) values (?, ?)",
                         [message_id, 96 * len(SOH_QUANTITIES)])  # fmt: skip
            for i in range(96):
                t = (start + timedelta(minutes=15 * i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
                for k, q in enumerate(SOH_QUANTITIES):
                    v = 10.0 * (k + 1) + math.sin(2 * math.pi * i / 96) + rng.gauss(0, 0.1)
                    if rng.random() < 0.0005:
                        v *= 3  # a spike now and then
                    values.append((message_id, station, t, until, "B", q, v, "u", None))
        conn.executemany(
            "insert into soh_values (message_id, station, time, data_until, block, quantity, "
            "value, unit, state) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )
    conn.execute("analyze soh_values")
    return len(values)


def best(fn: Callable[[], object], repeat: int = 3) -> tuple[float, float]:
    """(wall, CPU) ms of the fastest of `repeat` runs: on a loaded machine the CPU time
    of this process (SQLite runs in it) is the machine-independent figure."""
    times = []
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - started, time.process_time() - cpu))
    wall, cpu = min(times)
    return 1000 * wall, 1000 * cpu


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def login(client) -> None:
    import re

    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/login", data={"username": "admin", "password": PASSWORD,
                                         "csrf_token": token})  # fmt: skip
    assert answer.status_code == 302, answer.status_code


def post(client, output: str, outputs, inputs, state=()):
    body = {
        "output": output,
        "outputs": outputs,
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"],
    }
    token = client.get_cookie("_csrf_token").value
    answer = client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": token})
    assert answer.status_code == 200, answer.data[:300]
    return answer


def release_inputs(relayout=None, nuclides=None):
    return [
        ("releases-station", "value", "ST000"),
        ("releases-span", "start_date", YEAR[0]),
        ("releases-span", "end_date", YEAR[1]),
        ("releases-nuclides", "value", nuclides),
        ("releases-unit", "value", "Bq"),
        ("releases-show", "value", ["mdr", "differences", "maintenance"]),
        ("releases-graph", "relayoutData", relayout),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="make the database in DIR and keep it")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium draw")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp())
    (folder / "data").mkdir(parents=True, exist_ok=True)
    path = folder / "data" / "central.sqlite"
    with Store(path) as store:
        if not store.conn.execute(f"select 1 from {TABLE} limit 1").fetchone():
            started = time.perf_counter()
            rows = fill(store)
            print(f"filled {rows:,} release rows in {time.perf_counter() - started:.0f} s")
        if not store.db["soh_values"].count:
            print(f"filled {fill_soh(store):,} SOH readings", flush=True)
        if not store.db["users"].count:
            create_user(store, "admin", PASSWORD, role="admin")
        admin = authenticate(store, "admin", PASSWORD)
        if not store.db["maintenance"].count:
            for day in (40, 200, 300):
                add_annotation(store, admin, NOW, station="ST000", name="maintenance",
                               start=START + timedelta(days=day),
                               end=START + timedelta(days=day, hours=6))  # fmt: skip
    config = CentralConfig(
        intake=IntakeConfig(server_cert=folder / "s.pem", server_key=folder / "s.key",
                            ca_cert=folder / "ca.pem"),
        storage=StorageConfig(data_dir=folder / "data"),
        web=WebConfig(secret_key_file=folder / "web-secret.key", session_minutes=600),
    )  # fmt: skip
    app = create_app(config, clock=lambda: NOW.timestamp())
    client = app.server.test_client()
    login(client)
    day = {"xaxis.range[0]": "2023-06-01 00:00:00", "xaxis.range[1]": "2023-06-02 00:00:00"}
    selection = {"range": {"x": ["2023-03-01", "2023-09-01"]}}
    fig_out = {"id": "releases-graph", "property": "figure"}

    with Store(path) as store:
        results = []

        def in_app(fn):  # the page functions read the app's clock
            def run():
                with app.server.app_context():
                    return fn()

            return run

        def measure(label, builder, callback):
            (bw, bc), (cw, cc) = best(builder), best(callback)
            results.append((label, bw, bc, cw, cc))
            print(f"{label:<50} builder {bw:6.0f} ms (CPU {bc:5.0f})   "
                  f"callback {cw:6.0f} ms (CPU {cc:5.0f})", flush=True)  # fmt: skip

        measure(
            "releases: station-year, 9 nuclides x 2 analyses",
            lambda: releases.figure(store, admin, NOW, "ST000", *YEAR, None, "Bq",
                                    ["mdr", "differences", "maintenance"], None, "x"),
            lambda: post(client, "releases-graph.figure", fig_out, release_inputs(),
                         [("releases-mode", "value", "x")]),
        )  # fmt: skip
        measure(
            "releases: zoomed to one day (full resolution)",
            lambda: releases.figure(store, admin, NOW, "ST000", *YEAR, None, "Bq",
                                    ["mdr", "differences", "maintenance"], day, "x"),
            lambda: post(client, "releases-graph.figure", fig_out, release_inputs(day),
                         [("releases-mode", "value", "x")]),
        )  # fmt: skip
        measure(
            "releases: integral over a 6-month selection",
            lambda: releases.integral_rows(store, admin, NOW, "ST000", *YEAR, None, selection,
                                           None),
            lambda: post(client, "releases-integral.children",
                         {"id": "releases-integral", "property": "children"},
                         [("releases-graph", "selectedData", selection),
                          ("releases-graph", "relayoutData", None),
                          ("releases-station", "value", "ST000"),
                          ("releases-span", "start_date", YEAR[0]),
                          ("releases-span", "end_date", YEAR[1]),
                          ("releases-nuclides", "value", None)]),
        )  # fmt: skip
        week = {"xaxis.range[0]": "2023-06-01", "xaxis.range[1]": "2023-06-08"}
        measure(
            "releases: CSV of a week (full resolution)",
            lambda: releases.csv_table(store, admin, NOW, "ST000", *YEAR, None, "Bq", week).csv(),
            lambda: post(client, "releases-csv.data", {"id": "releases-csv", "property": "data"},
                         [("releases-csv-button", "n_clicks", 1)],
                         [("releases-station", "value", "ST000"),
                          ("releases-span", "start_date", YEAR[0]),
                          ("releases-span", "end_date", YEAR[1]),
                          ("releases-nuclides", "value", None),
                          ("releases-unit", "value", "Bq"),
                          ("releases-graph", "relayoutData", week)]),
        )  # fmt: skip
        ratio_values = (*YEAR, "Xe-133m", "Xe-131m", "Xe-135", "Xe-133", "central", "Xe-133")
        ratio_inputs = [("ratios-station", "value", "ST000")] + [
            (f"ratios-{k}", "value", v)
            for k, v in zip(("span", "span", "x-num", "x-den", "y-num", "y-den", "method",
                             "colour"), ratio_values, strict=True)
        ]  # fmt: skip
        ratio_inputs[1] = ("ratios-span", "start_date", YEAR[0])
        ratio_inputs[2] = ("ratios-span", "end_date", YEAR[1])
        measure(
            "ratios: station-year",
            lambda: ratios.figure(store, admin, NOW, "ST000", *ratio_values),
            lambda: post(client, "ratios-graph.figure", {"id": "ratios-graph",
                         "property": "figure"}, ratio_inputs),
        )  # fmt: skip
        for station, label in (("ST000", "one station-year"), (trends.ALL, "10 station-years")):
            trend_inputs = [("trends-station", "value", station),
                            ("trends-span", "start_date", YEAR[0]),
                            ("trends-span", "end_date", YEAR[1]),
                            ("trends-nuclides", "value", list(trends.TREND_NUCLIDES))]  # fmt: skip
            measure(
                f"trends: {label}, 4 nuclides x 2 analyses",
                lambda s=station: trends.figure(store, admin, NOW, s, *YEAR, None),
                lambda t=trend_inputs: post(client, "trends-graph.figure",
                                            {"id": "trends-graph", "property": "figure"}, t),
            )  # fmt: skip
        deps = client.get("/_dash-dependencies").get_json()
        soh_out = next(d["output"] for d in deps if d["output"].startswith("..soh-summary."))
        soh_outputs = [dict(zip(("id", "property"), part.rsplit(".", 1), strict=True))
                       for part in soh_out.strip(".").split("...")]  # fmt: skip
        soh_filters = [("soh-station", "value", "ST000"), ("soh-span", "start_date", YEAR[0]),
                       ("soh-span", "end_date", YEAR[1]),
                       ("soh-quantities", "value", list(SOH_QUANTITIES))]  # fmt: skip
        measure(
            "soh: station-year, 10 quantities",
            in_app(lambda: [soh.chart_figure(s, *YEAR) for s in soh.chosen_series(
                store, admin, "ST000", *YEAR, list(SOH_QUANTITIES))]),
            lambda: post(client, soh_out, soh_outputs, soh_filters),
        )  # fmt: skip
        zoom_out = next(d["output"] for d in deps if "soh-0-graph.figure@" in d["output"])
        zoom_outputs = [dict(zip(("id", "property"), part.rsplit(".", 1), strict=True))
                        for part in zoom_out.strip(".").split("...")]  # fmt: skip
        zoom_inputs = [(f"soh-{k}-graph", "relayoutData", day if k == 0 else None)
                       for k in range(soh.MAX_CHARTS)]  # fmt: skip
        measure(
            "soh: one chart zoomed to a day (full resolution)",
            in_app(lambda: [soh.chart_figure(s, *YEAR) for s in soh.chosen_series(
                store, admin, "ST000", *YEAR, list(SOH_QUANTITIES[:1]), day)]),
            lambda: post(client, zoom_out, zoom_outputs, zoom_inputs,
                         [*soh_filters, ("soh-shown", "data", list(SOH_QUANTITIES))]),
        )  # fmt: skip
        soh_answer = post(client, soh_out, soh_outputs, soh_filters).get_json()["response"]
        trends_answer = post(client, "trends-graph.figure", {"id": "trends-graph",
                             "property": "figure"}, trend_inputs).get_json()["response"]  # fmt: skip
        year_figure = post(client, "releases-graph.figure", fig_out, release_inputs(),
                           [("releases-mode", "value", "x")])  # fmt: skip
        size = len(year_figure.data)
        print(f"the station-year figure's response: {size / 1e6:.2f} MB")
    if not args.no_browser:
        soh_figures = [v["figure"] for k, v in soh_answer.items() if k.endswith("-graph")]
        draw(app, {
            "the releases station-year figure": [
                year_figure.get_json()["response"]["releases-graph"]["figure"]],
            f"the SOH station-year ({len(soh_figures)} charts)": soh_figures,
            "the trends of 10 station-years": [trends_answer["trends-graph"]["figure"]],
        })  # fmt: skip
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


DRAW = """
const [figures, done] = arguments;
const t0 = performance.now();
const divs = figures.map(() => {
    const div = document.createElement('div');
    div.style.width = '1200px'; div.style.height = figures.length > 1 ? '260px' : '520px';
    document.body.appendChild(div);
    return div;
});
Promise.all(figures.map((f, i) => Plotly.newPlot(divs[i], f.data, f.layout))).then(() => {
    requestAnimationFrame(() => {
        const ms = performance.now() - t0;
        const gl = divs.some(d => { const s = d._fullLayout._plots.xy._scene;
                                    return !!(s && s.scatter2d); });
        divs.forEach(d => { Plotly.purge(d); d.remove(); });
        done([ms, gl]);
    });
});
"""


def draw(app, figures: dict[str, list[dict]]) -> None:
    """Chromium: each set of served figures drawn by Plotly in the logged-in app; first
    on a fresh page (the spectrum page: Plotly loaded, no chart in WebGL yet, so a
    WebGL figure pays for its context and shaders), then three times more on it."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from werkzeug.serving import make_server
    except ImportError as exc:
        print(f"Chromium draw skipped: {exc} (install the test extra)")
        return
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        print("Chromium draw skipped: no chromium (scripts/setup.sh test installs it)")
        return
    if not releases.webgl():
        print("note: no plotly.js strict bundle in central/web/assets/vendor: SVG, not WebGL")
    port = free_port()
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    options = Options()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,900"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options)
    try:
        url = f"http://127.0.0.1:{port}"
        driver.get(url + "/login")
        driver.find_element("id", "username").send_keys("admin")
        driver.find_element("id", "password").send_keys(PASSWORD)
        driver.find_element("id", "login-button").click()
        driver.set_script_timeout(120)
        for label, shown in figures.items():
            driver.get(url + "/charts/spectrum")  # a fresh page
            for _ in range(200):
                if driver.execute_script("return !!window.Plotly"):
                    break
                time.sleep(0.1)
            time.sleep(1)  # the page's own callbacks done
            first, gl = driver.execute_async_script(DRAW, shown)
            again = [driver.execute_async_script(DRAW, shown)[0] for _ in range(3)]
            print(f"Chromium draw of {label}: first on a fresh page {first:.0f} ms, then "
                  f"best {min(again):.0f} ms (of {', '.join(f'{t:.0f}' for t in again)}); "
                  f"{'WebGL' if gl else 'SVG'}", flush=True)  # fmt: skip
    finally:
        driver.quit()
        server.shutdown()


if __name__ == "__main__":
    main()
