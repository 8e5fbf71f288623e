"""Log lines that outside input cannot forge: every character that is not printable (line
breaks, NUL, escape sequences, Unicode line separators and bidirectional overrides) is
written escaped, repr-style (`\\n`, `\\x00`, `\\u202e`).

A file name such as `AUS02_1_PHD.TXT\\n2026-01-01 INFO stored ...` must come out on one line
that shows what was sent, not as a second, forged log line. `install()` puts the escaping
into every log record the process makes (ours and the libraries'), whatever handler or
format writes it; `shown()` is for a value in a message of our own, quoted as repr() does.
Tracebacks are left as they are: they are ours, not the sender's.
"""

from __future__ import annotations

import logging
from typing import Any


def printable(text: str) -> str:
    """`text` with every non-printable character (except the space) escaped repr-style."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def shown(value: Any) -> str:
    """A value from outside for a log message: quoted and escaped, as repr() of a str."""
    return repr(value if isinstance(value, str) else str(value))


_installed = False


def install() -> None:
    """Escape the message of every log record made from now on in this process (once)."""
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def escaped_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it as usual
            return record
        record.msg, record.args = printable(message), None
        return record

    logging.setLogRecordFactory(escaped_record)
    _installed = True
