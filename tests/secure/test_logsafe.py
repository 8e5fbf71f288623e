"""Outside input cannot forge log lines: a file name with a line break or a NUL, sent to
the running `stax central serve`, comes out escaped on one line of its log."""

from __future__ import annotations

import http.client
import logging
import re
import signal
import subprocess
import sys
from pathlib import Path

from shared import logsafe

from .conftest import alert_message
from .intake_harness import client_context, free_port, write_config
from .test_serve import wait_for_health

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")


def test_printable_escapes_what_could_break_or_hide_a_line():
    assert logsafe.printable("AUS02_1_PHD.TXT") == "AUS02_1_PHD.TXT"
    assert logsafe.printable("a\nb\r\x00\x1b[31m\u2028\u202e z") == (
        "a\\nb\\r\\x00\\x1b[31m\\u2028\\u202e z"
    )
    assert logsafe.shown("x\ny") == "'x\\ny'"


def test_a_forged_line_in_a_file_name_stays_on_one_escaped_line(network, tmp_path):
    port = free_port()
    config_path = write_config(tmp_path, network, port)
    repo = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "stax", "central", "serve", "--config", str(config_path)],
        cwd=repo,
        stderr=subprocess.PIPE,
        text=True,
        errors="backslashreplace",
    )
    forged = "2026-01-01 00:00:00,000 INFO central.intake: stored FORGED as message 1"
    station = network.stations["AUS02"]
    body = station.seal(alert_message("AUS02", "6001"), network.central.cert)
    try:
        wait_for_health(port, network)
        for raw in ("AUS02_6001_ALERT.TXT%0a" + forged.replace(" ", "%20"), "NUL%00BYTE.TXT"):
            conn = http.client.HTTPSConnection(
                "127.0.0.1", port, context=client_context(network, station), timeout=30
            )
            conn.request(
                "PUT",
                f"/api/v1/messages/{raw}",
                body=body,
                headers={"Content-Type": "application/pkcs7-mime"},
            )
            answer = conn.getresponse()
            assert answer.status == 400, answer.read()
            answer.read()
            conn.close()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert "\x00" not in err
    refusals = [line for line in err.splitlines() if "refused (400" in line]
    assert len(refusals) == 2, err
    assert "'AUS02_6001_ALERT.TXT\\n2026-01-01 00:00:00,000 INFO" in refusals[0]
    assert "'NUL\\x00BYTE.TXT'" in refusals[1]
    # the forgery is never a line of its own: wherever it shows (the refusal, aiohttp's
    # access log), it is inside the record of the request that carried it
    for line in err.splitlines():
        assert not line.startswith(forged)
        if "FORGED" in line:
            assert LOG_LINE.match(line) and "AUS02_6001_ALERT.TXT" in line, line


def test_install_escapes_records_of_every_logger(caplog):
    logsafe.install()
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library").info("got %s", "a\nb")
    assert caplog.records[-1].getMessage() == "got a\\nb"
