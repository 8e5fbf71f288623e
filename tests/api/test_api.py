"""GET /api/v1/files and /api/v1/files/{id} through Flask's test client: tokens, filters,
paging, bytes with ETag and Range, typed JSON errors, the rate limit, the publish delay."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from central.accounts import authenticate
from central.facilities import update_facility
from central.store import Store
from central.tokens import list_tokens, revoke_token
from central.web import create_app
from tests.web.helpers import NOW, PASSWORD

SAMPLE_DAY = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture
def api(app):
    return app.server.test_client()


def get(api, path, token=None, **headers):
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return api.get(path, headers=headers)


def error(response, status):
    assert response.status_code == status, response.data
    body = response.get_json()
    assert body["error"]["status"] == status
    return body["error"]


def set_delay(config, code, delay):
    with Store(config.storage.database_path) as store:
        update_facility(store, code, {"publish_delay": delay}, changed_by="test", now=NOW)


def test_no_token_or_an_unknown_one_gets_401_in_json(api, tokens):
    missing = get(api, "/api/v1/files")
    assert error(missing, 401)["code"] == "unauthorized"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in error(missing, 401)["message"]
    wrong = get(api, "/api/v1/files", tokens["alice"][:-2] + "xx")
    assert error(wrong, 401)["message"] == "the API token is unknown or revoked"
    assert error(get(api, "/api/v1/files/1", "nonsense"), 401)


def test_a_revoked_token_is_refused_at_once(api, config, tokens):
    assert get(api, "/api/v1/files", tokens["alice"]).status_code == 200
    with Store(config.storage.database_path) as store:
        alice = authenticate(store, "alice", PASSWORD)
        (token,) = list_tokens(store, alice.id)
        revoke_token(store, token.id, by=alice, now=NOW)
    assert get(api, "/api/v1/files", tokens["alice"]).status_code == 401


def test_a_user_lists_only_the_assigned_facilitys_files(api, tokens, sample):
    page = get(api, "/api/v1/files?page_size=1000", tokens["alice"]).get_json()
    assert page["total"] == len(sample.aus_ids) == len(page["files"])
    assert {f["station"] for f in page["files"]} == {"AUS02"}
    first = page["files"][0]
    assert set(first) >= {"name", "type", "analysis", "station", "start", "size", "sha256", "url"}
    assert first["url"] == f"http://localhost/api/v1/files/{first['id']}"
    starts = [f["start"] for f in page["files"]]
    assert starts == sorted(starts)  # oldest first: downloads go in time order


def test_another_facilitys_station_is_403_like_one_that_does_not_exist(api, tokens):
    foreign = error(get(api, "/api/v1/files?station=BES01", tokens["alice"]), 403)
    unknown = error(get(api, "/api/v1/files?station=ZZZ99", tokens["alice"]), 403)
    assert foreign["code"] == unknown["code"] == "forbidden"
    assert "BES01" in foreign["message"]
    both = get(api, "/api/v1/files?station=AUS02,BES01", tokens["admin"]).get_json()
    assert both["total"] == 36


def test_filters_by_type_analysis_day_month_and_time(api, tokens):
    def total(query, who="admin"):
        response = get(api, f"/api/v1/files?{query}", tokens[who])
        assert response.status_code == 200, response.data
        return response.get_json()["total"]

    assert total("type=ATS,CSV") == 1
    assert total("type=soh,alert") == 2
    assert total("analysis=CENTRAL") == 1
    assert total("day=2024-05-01") == 36
    assert total("day=2024_05_02") == 0
    assert total("month=2024-05") == 36 and total("month=2024-04") == 0
    assert total("since=2024-05-01T07:00:00Z") == 6  # AUS02 28-31, BES01 28-29
    assert total("since=2024-05-01T07:00:00Z&until=2024-05-01T07:30:00Z") == 4
    assert error(get(api, "/api/v1/files?type=DROP", tokens["admin"]), 400)["code"] == "bad_request"
    assert "day" in error(get(api, "/api/v1/files?day=15.11.2023", tokens["admin"]), 400)["message"]
    assert error(get(api, "/api/v1/files?day=2024-05-01&month=2024-05", tokens["admin"]), 400)
    assert error(get(api, "/api/v1/files?page_size=5000", tokens["admin"]), 400)


def test_pages_link_to_the_next(api, tokens):
    first = get(api, "/api/v1/files?station=AUS02&page_size=10", tokens["alice"]).get_json()
    assert (first["pages"], len(first["files"])) == (4, 10)
    assert first["next"] == "http://localhost/api/v1/files?station=AUS02&page_size=10&page=2"
    ids = [f["id"] for f in first["files"]]
    url = first["next"]
    while url:
        page = get(api, url.removeprefix("http://localhost"), tokens["alice"]).get_json()
        ids += [f["id"] for f in page["files"]]
        url = page["next"]
    assert len(ids) == len(set(ids)) == 32
    beyond = get(api, "/api/v1/files?page=9", tokens["alice"]).get_json()
    assert beyond["files"] == [] and beyond["next"] is None


def test_a_file_comes_with_its_etag_and_by_range(api, config, tokens, sample):
    file_id = sample.aus_ids[3]
    with Store(config.storage.database_path) as store:
        content = store.content(file_id)
    whole = get(api, f"/api/v1/files/{file_id}", tokens["alice"])
    assert whole.status_code == 200 and whole.data == content
    digest = hashlib.sha256(content).hexdigest()
    assert whole.headers["ETag"] == f'"{digest}"'
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert "AUS02_1003_PHD" in whole.headers["Content-Disposition"]
    part = get(api, f"/api/v1/files/{file_id}", tokens["alice"], Range="bytes=10-")
    assert part.status_code == 206 and part.data == content[10:]
    assert part.headers["Content-Range"] == f"bytes 10-{len(content) - 1}/{len(content)}"
    same = get(api, f"/api/v1/files/{file_id}", tokens["alice"], **{"If-None-Match": f'"{digest}"'})
    assert same.status_code == 304 and same.data == b""
    past = get(api, f"/api/v1/files/{file_id}", tokens["alice"], Range="bytes=9999-")
    assert error(past, 416)


def test_foreign_unpublished_and_missing_files_are_the_same_404(api, config, tokens, sample):
    set_delay(config, "BES01", "never")
    answers = [
        get(api, f"/api/v1/files/{sample.bes_ids[0]}", tokens["alice"]),  # another facility's
        get(api, "/api/v1/files/999999", tokens["alice"]),  # none
    ]
    set_delay(config, "AUS02", "never")
    answers.append(get(api, f"/api/v1/files/{sample.aus_ids[0]}", tokens["alice"]))  # unpublished
    bodies = [error(a, 404) for a in answers]
    assert {b["code"] for b in bodies} == {"not_found"}
    assert all(b"BEGIN IMS2.0" not in a.data for a in answers)
    # the owner and the administrator see their unpublished files
    assert get(api, f"/api/v1/files/{sample.bes_ids[0]}", tokens["owen"]).status_code == 200
    assert get(api, f"/api/v1/files/{sample.aus_ids[0]}", tokens["admin"]).status_code == 200


def test_the_publish_delay_with_the_clock_moved(config, tokens, sample):
    set_delay(config, "AUS02", "3d")
    from tests.web.conftest import FakeClock

    clock = FakeClock()
    clock.now = datetime(2024, 5, 2, 12, tzinfo=UTC).timestamp()
    api = create_app(config, clock=clock).server.test_client()

    def total():
        return get(api, "/api/v1/files", tokens["alice"]).get_json()["total"]

    assert total() == 0
    clock.now = datetime(2024, 5, 4, 8, tzinfo=UTC).timestamp()  # 3 days after 08:00: the spectra
    assert total() == 31
    clock.now = datetime(2024, 5, 5, tzinfo=UTC).timestamp()  # and the day's ATS
    assert total() == 32
    set_delay(config, "AUS02", "7d")  # longer: hidden again
    assert total() == 0


def test_the_rate_limit_answers_429_with_retry_after(config, tokens, clock):
    limited = replace(config, web=replace(config.web, api_requests_per_minute=3))
    api = create_app(limited, clock=clock).server.test_client()
    for _ in range(3):
        assert get(api, "/api/v1/files", tokens["alice"]).status_code == 200
    refused = get(api, "/api/v1/files", tokens["alice"])
    assert error(refused, 429)["code"] == "too_many_requests"
    assert refused.headers["Retry-After"] == "20"
    assert get(api, "/api/v1/files", tokens["owen"]).status_code == 200  # per token
    clock.advance(20 / 60)
    assert get(api, "/api/v1/files", tokens["alice"]).status_code == 200


def test_unknown_api_paths_are_json_404_not_the_dash_page(api, tokens):
    assert error(get(api, "/api/v2/files", tokens["alice"]), 404)["code"] == "not_found"
    assert error(get(api, "/api/v1/files/abc", tokens["alice"]), 404)
    wrong_method = api.post("/api/v1/files", headers={"Authorization": f"Bearer {tokens['alice']}"})
    assert error(wrong_method, 405)
