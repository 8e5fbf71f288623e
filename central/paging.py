"""One page of a list: the rows shown and where they are in the whole (pure).

Both ways the lists are paged share these: the database lists page in SQL with
`clamp_page` (central/web/queries.py), the lists built in memory with `page_of`
(central/alert_list.py). A page past the end is the last page; an empty list is one empty
page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    total: int  # rows that match, on all pages
    page: int  # 1-based, within 1..pages
    pages: int  # at least 1, also when nothing matches
    page_size: int

    @property
    def first(self) -> int:
        """1-based number of the first row shown (0 when there is none)."""
        return (self.page - 1) * self.page_size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def clamp_page(page: int, total: int, page_size: int) -> tuple[int, int]:
    """(page, pages): the page asked for brought within 1..pages, for `total` rows."""
    if page_size <= 0:
        raise ValueError(f"page size must be positive, got {page_size}")
    pages = max(1, math.ceil(total / page_size))
    return min(max(1, page), pages), pages


def page_of(rows: Sequence[dict[str, Any]], page: int, page_size: int) -> Page:
    """Page `page` of rows already filtered and sorted."""
    page, pages = clamp_page(page, len(rows), page_size)
    start = (page - 1) * page_size
    return Page(list(rows[start : start + page_size]), len(rows), page, pages, page_size)
