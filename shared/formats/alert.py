"""Alert messages (ALERT_SYSTEM, ALERT_FLOW, ALERT_TEMP, ALERT_UPS): who, what, when, and free text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ._text import BlockError, Line, check_lines, ftime, ims_time
from .errors import ProblemLog

ALERT_TYPES = ("ALERT_SYSTEM", "ALERT_FLOW", "ALERT_TEMP", "ALERT_UPS")


@dataclass
class Alert:
    data_type: str
    station: str
    alert_type: str
    time: datetime
    text: str
    detector: str | None = None


def parse_alert(
    data_type: str, lines: list[Line], log: ProblemLog, section_line: int
) -> Alert | None:
    content = [ln for ln in lines if ln.text.strip()]
    if not content:
        log.error(
            section_line,
            None,
            f"{data_type}: expected 'station alert-type date time', found nothing",
        )
        return None
    first = content[0]
    tokens = first.text.split()
    try:
        if len(tokens) == 4:
            station, detector, alert_type = tokens[0], None, tokens[1]
        elif len(tokens) == 5:
            station, detector, alert_type = tokens[0], tokens[1], tokens[2]
        else:
            raise BlockError(
                first.no,
                f"expected 'station [detector] alert-type date time', found {first.text.strip()!r}",
            )
        time = ims_time(tokens[-2:], first, "alert time")
    except BlockError as exc:
        log.error(exc.line, None, exc.message)
        return None
    if alert_type != data_type:
        log.warn(first.no, None, f"alert type {alert_type} differs from DATA_TYPE {data_type}")
    start = lines.index(first) + 1
    text = "\n".join(ln.text for ln in lines[start:]).strip("\n")
    return Alert(data_type, station, alert_type, time, text, detector)


def write_alert(alert: Alert) -> list[str]:
    words = [alert.station] + ([alert.detector] if alert.detector else []) + [alert.alert_type]
    for w in words:
        if not w or any(c.isspace() for c in w):
            raise ValueError(f"alert station, detector and type must be single words, got {w!r}")
    lines = check_lines(alert.text.split("\n") if alert.text else [], "alert text", in_block=False)
    if alert.text != alert.text.strip("\n") or any(not ln.strip() for ln in lines[:1] + lines[-1:]):
        raise ValueError("alert text must not begin or end with a blank line")
    return [" ".join(words) + " " + ftime(alert.time), *lines]
