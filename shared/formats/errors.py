"""Problems found in a message: where (file, line, block) and what."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, located well enough for a person to find it."""

    source: str
    line: int | None
    block: str | None
    message: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        if self.block:
            return f"{where}: {self.block}: {self.message}"
        return f"{where}: {self.message}"


class FormatError(ValueError):
    """A message that cannot be read. Carries every problem found, the first one in str()."""

    def __init__(self, problems: list[Problem] | Problem):
        if isinstance(problems, Problem):
            problems = [problems]
        if not problems:
            raise ValueError("FormatError needs at least one problem")
        self.problems: list[Problem] = list(problems)
        super().__init__(str(self.problems[0]))

    def __str__(self) -> str:
        return str(self.problems[0])


class ProblemLog:
    """Collects problems while reading.

    `error()` marks data the reader cannot use; `recoverable()` marks data that is
    usable but not as the format says: an error in strict mode, a warning in lenient mode.
    """

    def __init__(self, source: str, lenient: bool):
        self.source = source
        self.lenient = lenient
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []

    def problem(self, line: int | None, block: str | None, message: str) -> Problem:
        return Problem(self.source, line, block, message)

    def error(self, line: int | None, block: str | None, message: str) -> None:
        self.errors.append(self.problem(line, block, message))

    def recoverable(self, line: int | None, block: str | None, message: str) -> None:
        p = self.problem(line, block, message)
        (self.warnings if self.lenient else self.errors).append(p)

    def warn(self, line: int | None, block: str | None, message: str) -> None:
        self.warnings.append(self.problem(line, block, message))

    def raise_if_errors(self) -> None:
        if self.errors:
            raise FormatError(self.errors)


def utf8_text(data: bytes | str, source: str) -> str:
    """The text of a UTF-8 product (JSON, CSV); FormatError naming the first bad byte."""
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}"
        raise FormatError(Problem(source, None, None, bad)) from None
