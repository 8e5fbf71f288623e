"""One page of a list (central/paging.py): the page brought within range, the rows shown
and their numbers, for the lists paged in SQL and those paged in memory."""

import pytest

from central.paging import Page, clamp_page, page_of

ROWS = [{"id": i} for i in range(1, 8)]  # seven rows


@pytest.mark.parametrize(
    ("asked", "total", "size", "expected"),
    [
        (1, 7, 3, (1, 3)),
        (3, 7, 3, (3, 3)),
        (99, 7, 3, (3, 3)),  # past the end: the last page
        (0, 7, 3, (1, 3)),  # before the start: the first
        (-5, 7, 3, (1, 3)),
        (2, 6, 3, (2, 2)),  # an exact multiple: no empty page after
        (3, 0, 10, (1, 1)),  # nothing: one empty page
    ],
)
def test_the_page_asked_for_is_brought_within_the_pages(asked, total, size, expected):
    assert clamp_page(asked, total, size) == expected


@pytest.mark.parametrize("size", [0, -1])
def test_a_page_size_that_is_not_positive_is_refused(size):
    with pytest.raises(ValueError, match="page size must be positive"):
        clamp_page(1, 7, size)
    with pytest.raises(ValueError, match="page size must be positive"):
        page_of(ROWS, 1, size)


def test_a_page_of_rows_in_memory_shows_its_slice_and_numbers():
    second = page_of(ROWS, 2, 3)
    assert [r["id"] for r in second.rows] == [4, 5, 6]
    assert (second.total, second.page, second.pages, second.first, second.last) == (7, 2, 3, 4, 6)
    last = page_of(ROWS, 99, 3)
    assert [r["id"] for r in last.rows] == [7]
    assert (last.page, last.first, last.last) == (3, 7, 7)


def test_an_empty_list_is_one_empty_page_numbered_zero():
    page = page_of([], 4, 25)
    assert page == Page(rows=[], total=0, page=1, pages=1, page_size=25)
    assert (page.first, page.last) == (0, 0)


def test_the_page_is_a_copy_of_the_rows_not_a_view():
    rows = list(ROWS)
    page = page_of(rows, 1, 10)
    rows.clear()
    assert len(page.rows) == 7
