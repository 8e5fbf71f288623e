"""The IMS2.0 message envelope (`BEGIN IMS2.0` / `BEGIN STX1.0` ... `STOP`) and its sections.

`read_message` is the one entry point for every message the network exchanges; it
dispatches each `DATA_TYPE` section to the reader of its type and keeps sections of
unknown types verbatim.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path

from ._text import Line, check_lines, lines_with, numbered_lines
from .alert import ALERT_TYPES, Alert, parse_alert, write_alert
from .errors import FormatError, Problem, ProblemLog
from .phd import PHD_TYPES, Phd, parse_phd, write_phd
from .soh import SOH_TYPES, Soh, parse_soh, write_soh

BEGIN_LINES = ("IMS2.0", "STX1.0")


@dataclass
class RawSection:
    """A section whose type this reader does not interpret (LOG, MET, ...), kept verbatim."""

    data_type: str
    lines: list[str]


Section = Phd | Soh | Alert | RawSection


@dataclass
class Message:
    sections: list[Section]
    msg_id: str
    msg_source: str | None = None
    msg_type: str = "DATA"
    format: str = "IMS2.0"  # or STX1.0
    ref_id: str | None = None  # rest of the REF_ID line, verbatim
    prod_id: str | None = None  # rest of the PROD_ID line, verbatim
    warnings: list[Problem] = field(default_factory=list, compare=False, repr=False)

    @property
    def data_types(self) -> list[str]:
        return [s.data_type for s in self.sections]

    def first(self, kind: type) -> Section | None:
        for s in self.sections:
            if isinstance(s, kind):
                return s
        return None

    @property
    def phd(self) -> Phd | None:
        return self.first(Phd)  # type: ignore[return-value]

    @property
    def soh(self) -> Soh | None:
        return self.first(Soh)  # type: ignore[return-value]

    @property
    def alert(self) -> Alert | None:
        return self.first(Alert)  # type: ignore[return-value]

    @property
    def station(self) -> str | None:
        """The station the message speaks for (from its first section that names one)."""
        for s in self.sections:
            if isinstance(s, Phd):
                return s.header.station
            if isinstance(s, Soh | Alert):
                return s.station
        return None


def _decode(data: bytes | str, log: ProblemLog) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as exc:
        log.recoverable(
            None, None, f"not ASCII: byte 0x{data[exc.start]:02x} at offset {exc.start}"
        )
        return data.decode("latin-1")


def _data_type_of(tokens: list[str], line: Line, log: ProblemLog) -> str | None:
    """The data type a `DATA_TYPE` line opens, or None when the line opens no section."""
    if not tokens:
        return None
    if tokens[0] == "DATE_TYPE":
        log.recoverable(
            line.no,
            None,
            "DATE_TYPE is a misspelling of DATA_TYPE (seen in a real STAX alert); "
            "read as DATA_TYPE in lenient mode",
        )
    elif tokens[0] != "DATA_TYPE":
        return None
    if len(tokens) < 2:
        log.error(line.no, None, "DATA_TYPE without a type")
        return ""
    return tokens[1]


def read_message(data: bytes | str, source: str = "<message>", lenient: bool = False) -> Message:
    """Read a whole message. Raises FormatError naming file, line and block.

    In lenient mode, problems that leave the data usable become `message.warnings`.
    """
    log = ProblemLog(source, lenient)
    text = _decode(data, log)
    lines = numbered_lines(text)
    pos = 0
    while pos < len(lines) and not lines[pos].text.strip():
        pos += 1
    if pos == len(lines):
        raise FormatError(log.problem(None, None, "empty message"))
    begin = lines[pos].text.split()
    if begin[:1] != ["BEGIN"] or len(begin) != 2:
        raise FormatError(
            log.problem(
                lines[pos].no,
                None,
                f"expected 'BEGIN IMS2.0' or 'BEGIN STX1.0', found {lines[pos].text.strip()!r}",
            )
        )
    fmt = begin[1]
    if fmt not in BEGIN_LINES:
        log.recoverable(
            lines[pos].no, None, f"unknown message format {fmt!r} (expected IMS2.0 or STX1.0)"
        )
    pos += 1

    envelope: dict[str, tuple[list[str], Line]] = {}
    heads: list[tuple[str, Line]] = []  # each section's type and DATA_TYPE line
    stopped = False
    end = len(lines)  # index of the STOP line, or the end
    # Only lines with DATA_TYPE, DATE_TYPE or STOP in them can open a section or end the
    # message: the others after a DATA_TYPE line all belong to its section, which is
    # therefore the run of lines up to the next section or STOP (a view, made below).
    special = lines_with(text, "_TYPE", "STOP", line_count=len(lines))
    i = pos
    while i < len(lines):
        if heads:
            k = bisect_left(special, i)
            upto = special[k] if k < len(special) else len(lines)
            if upto > i:
                i = upto
                continue
        line = lines[i]
        i += 1
        tokens = line.text.split()
        if line.text.strip() == "STOP":
            stopped = True
            stop_line = line
            end = line.no - 1
            break
        data_type = _data_type_of(tokens, line, log)
        if data_type is not None:
            heads.append((data_type, line))
        elif heads:
            continue  # a line of the open section
        elif not tokens:
            continue
        elif tokens[0] in ("MSG_TYPE", "MSG_ID", "REF_ID", "PROD_ID"):
            if tokens[0] in envelope:
                log.error(line.no, None, f"{tokens[0]} given twice")
            envelope[tokens[0]] = (tokens[1:], line)
        else:
            log.recoverable(
                line.no, None, f"unexpected line before the first DATA_TYPE: {line.text.strip()!r}"
            )
    sections = [
        (data_type, line, lines[line.no : nxt[1].no - 1 if nxt else end])
        for (data_type, line), nxt in zip(heads, [*heads[1:], None][: len(heads)], strict=True)
    ]
    if not stopped:
        log.recoverable(lines[-1].no, None, "message does not end with STOP")
    else:
        trailing = [ln for ln in lines[stop_line.no :] if ln.text.strip()]
        if trailing:
            log.recoverable(trailing[0].no, None, "text after STOP ignored")

    if "MSG_ID" not in envelope or not envelope["MSG_ID"][0]:
        where = envelope["MSG_ID"][1].no if "MSG_ID" in envelope else None
        log.error(where, None, "MSG_ID line missing or empty")
        msg_id, msg_source = "", None
    else:
        ids = envelope["MSG_ID"][0]
        msg_id, msg_source = ids[0], (" ".join(ids[1:]) or None)
    msg_type = " ".join(envelope.get("MSG_TYPE", (["DATA"], None))[0]) or "DATA"
    if "MSG_TYPE" not in envelope:
        log.recoverable(None, None, "MSG_TYPE line missing")
    if not sections:
        log.error(None, None, "no DATA_TYPE section")

    parsed: list[Section] = []
    for data_type, line, body in sections:
        section: Section | None
        if data_type in PHD_TYPES:
            section = parse_phd(data_type, body, log, line.no)
        elif data_type in SOH_TYPES:
            section = parse_soh(data_type, body, log, line.no)
        elif data_type.startswith("ALERT_"):
            section = parse_alert(data_type, body, log, line.no)
        else:
            section = RawSection(data_type, [ln.text for ln in body])
        if section is not None:
            parsed.append(section)
    log.raise_if_errors()
    ref = envelope.get("REF_ID")
    prod = envelope.get("PROD_ID")
    return Message(
        sections=parsed,
        msg_id=msg_id,
        msg_source=msg_source,
        msg_type=msg_type,
        format=fmt,
        ref_id=" ".join(ref[0]) if ref else None,
        prod_id=" ".join(prod[0]) if prod else None,
        warnings=log.warnings,
    )


def read_file(path: str | Path, lenient: bool = False) -> Message:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(Problem(str(path), None, None, f"cannot read: {exc.strerror}")) from None
    return read_message(data, source=str(path), lenient=lenient)


def _word(value: str, what: str) -> str:
    if not value or any(c.isspace() for c in value):
        raise ValueError(f"{what} must be one word, got {value!r}")
    return value


def write_message(message: Message, format: str | None = None) -> str:
    """The message as text with LF line endings, ending in `STOP\\n`."""
    fmt = format or message.format
    out = [
        f"BEGIN {_word(fmt, 'message format')}",
        f"MSG_TYPE {_word(message.msg_type, 'MSG_TYPE')}",
    ]
    out.append(
        f"MSG_ID {_word(message.msg_id, 'MSG_ID')}"
        + (f" {message.msg_source}" if message.msg_source else "")
    )
    if message.ref_id:
        out.append(f"REF_ID {message.ref_id}")
    if message.prod_id:
        out.append(f"PROD_ID {message.prod_id}")
    if not message.sections:
        raise ValueError("a message needs at least one section")
    for section in message.sections:
        out.append(f"DATA_TYPE {_word(section.data_type, 'DATA_TYPE')}")
        if isinstance(section, Phd):
            out.extend(write_phd(section))
        elif isinstance(section, Soh):
            out.extend(write_soh(section))
        elif isinstance(section, Alert):
            out.extend(write_alert(section))
        else:
            out.extend(check_lines(section.lines, section.data_type, in_block=False))
    out.append("STOP")
    return "\n".join(out) + "\n"


__all__ = [
    "ALERT_TYPES",
    "BEGIN_LINES",
    "Message",
    "RawSection",
    "Section",
    "read_file",
    "read_message",
    "write_message",
]
