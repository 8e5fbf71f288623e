"""The Received page's query: paging, filters, sorting, always within the access rule;
and the grid's state machine (pager, headers, filters)."""

from __future__ import annotations

from datetime import date

import pytest

from central.accounts import authenticate
from central.store import Store
from central.web.layout import RECEIVED
from central.web.queries import (
    ComparisonFilter,
    ReceivedFilter,
    compared_nuclides,
    comparison_page,
    display_time,
    fetch_page,
    quarantine_page,
    received_page,
)

from .helpers import NOW, PASSWORD

NONE = ReceivedFilter()


@pytest.fixture
def store(config):
    with Store(config.storage.database_path) as store:
        yield store


def account(store, name):
    return authenticate(store, name, PASSWORD)


def test_a_user_counts_and_pages_only_the_assigned_facilitys_files(store, sample):
    alice = account(store, "alice")
    first = received_page(store, alice, NONE, page_size=25, now=NOW)
    assert (first.total, first.pages, first.first, first.last) == (32, 2, 1, 25)
    second = received_page(store, alice, NONE, page=2, page_size=25, now=NOW)
    assert (second.first, second.last) == (26, 32)
    seen = {r["id"] for r in first.rows + second.rows}
    assert seen == set(sample.aus_ids)
    assert {r["station"] for r in first.rows + second.rows} == {"AUS02"}


def test_asking_for_another_facility_in_the_filter_gives_nothing(store):
    alice = account(store, "alice")
    page = received_page(store, alice, ReceivedFilter(stations=("BES01",)), now=NOW)
    assert page.total == 0
    assert page.rows == []
    both = received_page(store, alice, ReceivedFilter(stations=("AUS02", "BES01")), now=NOW)
    assert both.total == 32


def test_an_administrator_filters_by_station(store, sample):
    admin = account(store, "admin")
    assert received_page(store, admin, NONE, now=NOW).total == len(sample.aus_ids) + len(
        sample.bes_ids
    )
    bes = received_page(store, admin, ReceivedFilter(stations=("BES01",)), now=NOW)
    assert sorted(r["id"] for r in bes.rows) == sorted(sample.bes_ids)


def test_filters_by_type_analysis_and_start_day_combine(store):
    admin = account(store, "admin")
    assert (
        received_page(store, admin, ReceivedFilter(products=("SOH", "ALERT")), now=NOW).total == 2
    )
    central = received_page(store, admin, ReceivedFilter(analyses=("CENTRAL",)), now=NOW)
    assert [r["product"] for r in central.rows] == ["ATS"]
    day = date(2024, 5, 1)
    assert (
        received_page(store, admin, ReceivedFilter(start_from=day, start_to=day), now=NOW).total
        == 36
    )
    assert (
        received_page(store, admin, ReceivedFilter(start_from=date(2024, 5, 2)), now=NOW).total == 0
    )
    assert (
        received_page(store, admin, ReceivedFilter(start_to=date(2024, 4, 30)), now=NOW).total == 0
    )
    combined = ReceivedFilter(stations=("BES01",), products=("PHD",), start_from=day)
    assert received_page(store, admin, combined, now=NOW).total == 3


def test_sorting_by_any_column_both_ways(store):
    admin = account(store, "admin")
    newest = received_page(store, admin, NONE, sort="start_time", descending=True, now=NOW).rows
    assert newest[0]["start_time"] >= newest[-1]["start_time"]
    by_name = received_page(
        store, admin, NONE, sort="file_name", descending=False, page_size=50, now=NOW
    )
    names = [r["file_name"] for r in by_name.rows]
    assert names == sorted(names)
    with pytest.raises(ValueError, match="cannot sort messages by 'content'"):
        received_page(store, admin, NONE, sort="content", now=NOW)


def test_a_page_past_the_end_shows_the_last_page(store):
    admin = account(store, "admin")
    page = received_page(store, admin, NONE, page=99, page_size=25, now=NOW)
    assert (page.page, page.pages, page.first, page.last) == (2, 2, 26, 36)


def test_an_empty_result_is_one_empty_page(store):
    admin = account(store, "admin")
    page = fetch_page(
        store, "messages", ("id",), "0", [], sort="id", descending=False, page=3, page_size=10
    )
    assert (page.total, page.page, page.pages, page.first, page.last) == (0, 1, 1, 0, 0)
    assert received_page(store, admin, ReceivedFilter(products=("CSV",)), now=NOW).rows == []


def test_the_quarantine_lists_refused_messages_newest_first(store, sample):
    page = quarantine_page(store)
    assert [r["id"] for r in page.rows] == [sample.quarantine_id]
    assert page.rows[0]["reason"].startswith("signature:")
    assert "body" not in page.rows[0]  # the bytes only through the download


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("2024-05-01T00:15:00.000Z", "2024/05/01 00:15:00"),
        ("2024-05-01T02:15:00.123456+02:00", "2024/05/01 00:15:00"),
        ("2024-05-01T00:15:00", "2024/05/01 00:15:00"),
        (None, ""),
        ("garbage", "garbage"),
    ],
)
def test_times_are_shown_in_utc_as_on_the_stax_pages(stored, shown):
    assert display_time(stored) == shown


def test_the_pager_moves_within_the_pages():
    state = {"page": 3, "sort": "received_at", "desc": True}
    assert RECEIVED.next_state("received-next", state, 5)["page"] == 4
    assert RECEIVED.next_state("received-next", {**state, "page": 5}, 5)["page"] == 5
    assert RECEIVED.next_state("received-prev", state, 5)["page"] == 2
    assert RECEIVED.next_state("received-first", state, 5)["page"] == 1
    assert RECEIVED.next_state("received-last", state, 5)["page"] == 5
    assert RECEIVED.next_state("received-prev", {**state, "page": 1}, 5)["page"] == 1


def _sorted(column: str, order: str) -> list[dict]:
    """A grid's column state as AG Grid reports it after a header click."""
    return [
        {"colId": "received_at", "sort": None, "sortIndex": None, "width": 120},
        {"colId": column, "sort": order, "sortIndex": 0, "width": 90},
    ]


def test_a_header_click_sorts_and_a_second_click_turns_the_order():
    state = {"page": 3, "sort": "received_at", "desc": True}
    body = RECEIVED.id("body")
    by_station = RECEIVED.next_state(body, state, 5, _sorted("station", "asc"))
    assert by_station == {"page": 1, "sort": "station", "desc": False}
    again = RECEIVED.next_state(body, by_station, 5, _sorted("station", "desc"))
    assert again["desc"] is True
    by_start = RECEIVED.next_state(body, again, 5, _sorted("start_time", "desc"))
    assert by_start == {"page": 1, "sort": "start_time", "desc": True}  # newest first
    # a column resized, the sort unchanged: the same page
    assert RECEIVED.next_state(body, by_start | {"page": 2}, 5, _sorted("start_time", "desc")) == (
        by_start | {"page": 2}
    )
    # a column that does not sort, or none: the sort stays
    assert RECEIVED.next_state(body, state, 5, _sorted("content", "asc")) == state
    assert RECEIVED.next_state(body, state, 5, "garbage") == state


def test_the_grid_is_given_one_page_of_formatted_cells_only():
    from central.web.layout import COMPARISON, QUARANTINE
    from central.web.queries import Page

    rows = [{"id": 4, "received_at": "2024-05-01T00:15:00.000Z", "file_name": "a_b[1].PHD",
             "station": "AUS02", "status": 403, "reason": "bad", "size": 10, "body": b"x"}]  # fmt: skip
    [shown] = QUARANTINE.rows(Page(rows=rows, total=1, page=1, pages=1, page_size=25))
    assert shown["received_at"] == "2024/05/01 00:15:00"
    assert shown["raw"] == "[Download](/download/quarantine/4)"
    assert "body" not in shown and shown["id"] == 4
    flagged = {"id": 1, "flagged": 1, "z": 4.2, "station_value": 6.2e6}
    [row] = COMPARISON.rows(Page(rows=[flagged], total=1, page=1, pages=1, page_size=25))
    assert row["row_class"] == "flagged" and row["z"] == "+4.20"
    assert row["station_value"] == "6.20E+06"
    defs = {d["field"]: d for d in QUARANTINE.column_defs()}
    assert defs["received_at"]["sort"] == "desc" and defs["raw"]["cellRenderer"] == "markdown"
    assert defs["raw"]["sortable"] is False


def test_a_filter_change_goes_back_to_page_one():
    state = {"page": 3, "sort": "station", "desc": False}
    assert RECEIVED.next_state("received-station", state, 5) == {**state, "page": 1}


def test_state_from_the_browser_is_cleaned():
    assert RECEIVED.clean_state({"page": "2; drop table", "sort": "content", "desc": 1}) == (
        RECEIVED.initial_state()
    )
    assert RECEIVED.clean_state(None) == {"page": 1, "sort": "received_at", "desc": True}


def test_comparisons_follow_the_access_rule_and_the_filters(store, sample):
    admin, alice, owen = (account(store, name) for name in ("admin", "alice", "owen"))
    everything = ComparisonFilter()
    assert comparison_page(store, admin, everything, now=NOW).total == 4
    mine = comparison_page(store, alice, everything, now=NOW)
    assert mine.total == 3 and {r["station"] for r in mine.rows} == {"AUS02"}
    assert {r["station"] for r in comparison_page(store, owen, everything, now=NOW).rows} == {
        "BES01"
    }
    # a forged filter for another facility finds nothing of it
    assert comparison_page(store, alice, ComparisonFilter(stations=("BES01",)), now=NOW).total == 0
    flagged = comparison_page(store, alice, ComparisonFilter(flagged_only=True), now=NOW)
    assert [(r["nuclide"], r["flagged"]) for r in flagged.rows] == [("Xe-133", 1)]
    assert flagged.rows[0]["file_name"].startswith("AUS02_1029_PHD")
    only_xe135 = comparison_page(store, admin, ComparisonFilter(nuclides=("Xe-135",)), now=NOW)
    assert only_xe135.total == 1
    assert compared_nuclides(store, alice, now=NOW) == ["Xe-133", "Xe-135"]
    assert compared_nuclides(store, owen, now=NOW) == ["Xe-133"]


def test_owners_see_which_of_their_files_are_unpublished_and_until_when(store, sample):
    """BES01's files are from 2024-05-01 (data until 06:45 to 07:30); at NOW (2024-06-01)
    a 7-day delay has published them, `never` and a later clock leave them unpublished:
    its owner and the administrators see "unpublished until <time>"; a user of AUS02 (an
    immediate facility) sees no note and never BES01's files."""
    from datetime import timedelta

    from central.access import published_at
    from central.web.queries import publication_note

    owen, admin, alice = (account(store, n) for n in ("owen", "admin", "alice"))
    store.ensure_facility("BES01", publish_delay="7d")
    early = NOW - timedelta(days=30, hours=12)  # 2024-05-01 12:00: a week not yet passed
    bes = ReceivedFilter(stations=("BES01",))
    rows = received_page(store, owen, bes, now=early).rows
    assert len(rows) == 4
    for row in rows:
        until = published_at("7d", row["data_until"])
        assert row["publication"] == f"unpublished until {display_time(until)}"
        assert display_time(until).startswith("2024/05/08 ")
    assert [r["publication"] for r in received_page(store, admin, bes, now=early).rows] == [
        r["publication"] for r in rows
    ]
    assert {r["publication"] for r in received_page(store, owen, bes, now=NOW).rows} == {""}
    store.ensure_facility("BES01", publish_delay="never")
    assert {r["publication"] for r in received_page(store, owen, bes, now=NOW).rows} == {
        "unpublished (do not publish)"
    }
    mine = received_page(store, alice, NONE, now=early)
    assert mine.total == 31 and {r["publication"] for r in mine.rows} == {""}  # not the ATS yet
    assert {r["station"] for r in mine.rows} == {"AUS02"}
    # the column, on the page as the grid draws it
    header = str(RECEIVED.column("publication").label)
    assert header == "Published" and not RECEIVED.column("publication").sortable
    assert publication_note(None, rows[0]["data_until"], NOW) == (
        "unpublished (not a registered facility)"
    )


def test_published_at_is_the_data_time_plus_the_delay():
    from central.access import published_at

    assert published_at("immediately", "2024-05-01T07:30:00.000Z") == "2024-05-01T07:30:00.000Z"
    assert published_at("1d", "2024-05-01T07:30:00.000Z") == "2024-05-02T07:30:00.000Z"
    assert published_at("3d", "2024-05-01T07:30:00.000Z") == "2024-05-04T07:30:00.000Z"
    assert published_at("7d", "2024-05-01T07:30:00.000Z") == "2024-05-08T07:30:00.000Z"
    assert published_at("never", "2024-05-01T07:30:00.000Z") is None
    assert published_at("3d", None) is None
    with pytest.raises(ValueError, match="publish delay must be one of"):
        published_at("2d", "2024-05-01T07:30:00.000Z")
