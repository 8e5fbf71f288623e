"""Lines, blocks and number fields: the common ground of every IMS2.0 text reader and writer."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from itertools import count, islice
from typing import NamedTuple

from shared.timeutil import format_ims_time, parse_ims_time


class Line(NamedTuple):
    """One line of a file (a named tuple: a file has thousands, made on every read)."""

    no: int  # 1-based line number in the file
    text: str


_make_line = partial(tuple.__new__, Line)


class _Source:
    """The text a file's lines were split from (when they are its lines as they are: no CR
    dropped), for searches over the whole text instead of over rejoined lines."""

    __slots__ = ("_block_heads", "line_count", "text")

    def __init__(self, text: str, line_count: int):
        self.text = text
        self.line_count = line_count
        self._block_heads: list[int] | None = None

    def block_heads(self) -> list[int]:
        """0-based numbers of the lines that begin with '#', found once."""
        if self._block_heads is None:
            self._block_heads = lines_with(
                self.text, "#", at_start=True, line_count=self.line_count
            )
        return self._block_heads


class LineList(Sequence[Line]):
    """Lines of a file as a view of their texts: a `Line` is made only when one is asked
    for, and a slice is another view. A spectrum's thousands of lines then go to the
    bulk reader as the texts they are (`texts()`), never one object per line."""

    __slots__ = ("_source", "_start", "_stop", "_texts")

    def __init__(
        self,
        texts: list[str],
        start: int = 0,
        stop: int | None = None,
        source: _Source | None = None,
    ):
        self._texts = texts  # the whole file's lines; line number = index + 1
        self._start = start
        self._stop = len(texts) if stop is None else stop
        self._source = source

    def __len__(self) -> int:
        return self._stop - self._start

    def __getitem__(self, i):
        if isinstance(i, slice):
            a, b, step = i.indices(len(self))
            if step != 1:
                return [self[k] for k in range(a, b, step)]
            return LineList(self._texts, self._start + a, self._start + max(a, b), self._source)
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("line index out of range")
        return _make_line((self._start + i + 1, self._texts[self._start + i]))

    def __iter__(self) -> Iterator[Line]:
        texts = islice(self._texts, self._start, self._stop)
        return map(_make_line, zip(count(self._start + 1), texts))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return list(self) == list(other)
        return NotImplemented

    def texts(self) -> list[str]:
        return self._texts[self._start : self._stop]


def line_texts(lines: Sequence[Line]) -> list[str]:
    """The texts of `lines`, without making a Line each when they are a LineList."""
    return lines.texts() if isinstance(lines, LineList) else [ln.text for ln in lines]


def numbered_lines(text: str) -> LineList:
    """The lines of `text` (split at LF, a CR before it dropped), numbered from 1."""
    texts = text.split("\n")
    if "\r" in text:
        return LineList([t.rstrip("\r") for t in texts])
    return LineList(texts, source=_Source(text, len(texts)))


def _key_char(word: str) -> int:
    """Where in `word` to look first: its first character that is neither a letter nor a
    digit (rare in data), else its first. A search for one character is a memchr, many
    times faster than a search for a longer word (the counts' digits are never it)."""
    return next((i for i, c in enumerate(word) if not c.isalnum()), 0)


def _offsets_with(text: str, word: str, at_start: bool) -> list[int]:
    """Offsets in `text` where `word` is (at a line start, `at_start`)."""
    key = _key_char(word)
    char = word[key]
    out = []
    hit = text.find(char, key)
    while hit >= 0:
        at = hit - key
        if text.startswith(word, at) and (not at_start or at == 0 or text[at - 1] == "\n"):
            out.append(at)
        hit = text.find(char, hit + 1)
    return out


def lines_with(
    text: str, *words: str, at_start: bool = False, line_count: int | None = None
) -> list[int]:
    """0-based numbers (sorted) of the lines of `text` (split at LF) that contain one of
    `words` (or begin with one, `at_start`), found with str.find over the whole text: a
    file has thousands of lines and only a few of them matter to the caller. Line breaks
    are counted from the hit before, or, given the text's `line_count` (its split at LF),
    from the end when that is nearer (a message's STOP after 200 kB of counts)."""
    offsets = sorted({at for word in words for at in _offsets_with(text, word, at_start)})
    found: list[int] = []
    line, done = 0, 0
    for at in offsets:
        if line_count is not None and len(text) - at < at - done:
            line = line_count - 1 - text.count("\n", at)
        else:
            line += text.count("\n", done, at)
        done = at
        if not found or found[-1] != line:
            found.append(line)
    return found


@dataclass
class Block:
    """`#Name arg` and the lines up to the next block."""

    name: str
    arg: str
    line: int
    lines: list[Line] = field(default_factory=list)

    @property
    def label(self) -> str:
        return "#" + self.name

    def data_lines(self) -> list[Line]:
        """Non-blank lines (blank lines carry nothing in data blocks)."""
        return [ln for ln in self.lines if ln.text.strip()]


class BlockError(Exception):
    """A problem inside one block; the reader logs it and goes on with the next block."""

    def __init__(self, line: int | None, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


def _block_heads(lines: Sequence[Line]) -> list[int]:
    """Indexes in `lines` of the lines that begin with '#': from the whole text's, found
    once, when `lines` are a view of a text's lines as they are; else over them rejoined."""
    if isinstance(lines, LineList) and lines._source is not None:
        heads = lines._source.block_heads()
        start = lines._start
        lo, hi = bisect_left(heads, start), bisect_left(heads, lines._stop)
        return [h - start for h in heads[lo:hi]]
    return lines_with("\n".join(line_texts(lines)), "#", at_start=True)


def split_blocks(lines: list[Line]) -> tuple[list[Line], list[Block]]:
    """Split a section's lines into the lines before the first block and the blocks."""
    heads = _block_heads(lines)
    if not heads:
        return list(lines), []
    blocks: list[Block] = []
    for i, end in zip(heads, [*heads[1:], len(lines)], strict=True):
        ln = lines[i]
        head = ln.text[1:].split(None, 1)
        name = head[0] if head else ""
        arg = head[1].strip() if len(head) > 1 else ""
        blocks.append(Block(name, arg, ln.no, lines[i + 1 : end]))
    return lines[: heads[0]], blocks


def number(token: str, line: Line | int | None, what: str) -> float:
    no = line.no if isinstance(line, Line) else line
    try:
        value = float(token)
    except ValueError:
        raise BlockError(no, f"{what}: not a number: {token!r}") from None
    if not math.isfinite(value):
        raise BlockError(no, f"{what}: not a finite number: {token!r}")
    return value


def integer(token: str, line: Line | int | None, what: str) -> int:
    no = line.no if isinstance(line, Line) else line
    try:
        return int(token)
    except ValueError:
        raise BlockError(no, f"{what}: not an integer: {token!r}") from None


def ims_time(tokens: list[str], line: Line, what: str) -> datetime:
    """A date and a time from two tokens."""
    if len(tokens) < 2:
        raise BlockError(line.no, f"{what}: expected a date and a time, found {' '.join(tokens)!r}")
    try:
        return parse_ims_time(tokens[0] + " " + tokens[1])
    except ValueError as exc:
        raise BlockError(line.no, f"{what}: {exc}") from None
    except OverflowError:
        # the fraction rounded up past 9999/12/31 23:59:59
        raise BlockError(
            line.no, f"{what}: date and time out of range: {tokens[0] + ' ' + tokens[1]!r}"
        ) from None


def expect_tokens(line: Line, n: int, what: str, at_least: bool = False) -> list[str]:
    tokens = line.text.split()
    if (len(tokens) < n) if at_least else (len(tokens) != n):
        need = f"at least {n}" if at_least else str(n)
        raise BlockError(
            line.no, f"{what}: expected {need} fields, found {len(tokens)}: {line.text.strip()!r}"
        )
    return tokens


def check_lines(lines: list[str], what: str, in_block: bool = True) -> list[str]:
    """Refuse lines the reader would not give back as written: they would end the section or
    the message, or (inside a block) start a new block. Returns the lines for chaining."""
    for i, line in enumerate(lines, 1):
        tokens = line.split()
        if "\n" in line or line.endswith("\r"):
            problem = "holds a line break"
        elif line.strip() == "STOP" or tokens[:1] in (["DATA_TYPE"], ["DATE_TYPE"]):
            problem = "would end the section"
        elif in_block and line.startswith("#"):
            problem = "would start a new block"
        else:
            continue
        raise ValueError(f"{what}: line {i} {problem}: {line!r}")
    return lines


def fnum(x: float) -> str:
    """Shortest text that reads back as exactly the same float; integers without '.0'."""
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(float(x))


def ftime(t: datetime) -> str:
    return format_ims_time(t)


def columns(values: list[str], width: int = 16) -> str:
    """Left-aligned columns, as the real files have them, without trailing spaces."""
    return (
        " ".join(v.ljust(width) for v in values[:-1])
        + (" " if len(values) > 1 else "")
        + values[-1]
    )
