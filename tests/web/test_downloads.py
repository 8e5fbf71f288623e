"""Downloads: one file as itself, several as a zip, and nothing of a file not one's own."""

from __future__ import annotations

import io
import zipfile

import pytest

from central.store import Store
from central.web.downloads import MAX_FILES, parse_ids, safe_file_name

from .helpers import csrf_header, login


def stored(config, message_id: int) -> dict:
    with Store(config.storage.database_path) as store:
        return {**store.message(message_id), "content": store.content(message_id)}


def test_one_file_comes_as_itself(client, config, sample):
    login(client, "alice")
    file_id = sample.aus_ids[0]
    response = client.get(f"/download?ids={file_id}")
    assert response.status_code == 200
    row = stored(config, file_id)
    assert response.data == row["content"]
    assert response.headers["Content-Disposition"] == f'attachment; filename="{row["file_name"]}"'
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Cache-Control"] == "private, no-store"


def test_several_files_come_as_a_zip_of_the_exact_bytes(client, config, sample):
    login(client, "admin")
    ids = [sample.aus_ids[3], sample.bes_ids[0], sample.aus_ids[-1]]
    response = client.get("/download?ids=" + ",".join(map(str, ids)))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert int(response.headers["Content-Length"]) == len(response.data)
    with zipfile.ZipFile(io.BytesIO(response.data)) as zf:
        assert zf.testzip() is None
        rows = [stored(config, i) for i in ids]
        assert zf.namelist() == [r["file_name"] for r in rows]
        for row in rows:
            assert zf.read(row["file_name"]) == row["content"]


def test_the_download_can_be_a_form_post(client, sample):
    login(client, "alice")
    ids = f"{sample.aus_ids[0]},{sample.aus_ids[1]}"
    response = client.post("/download", data={"ids": ids, **_form_token(client)})
    assert response.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(response.data)).namelist()


def _form_token(client) -> dict[str, str]:
    return {"csrf_token": csrf_header(client)["X-CSRFToken"]}


def test_another_facilitys_file_is_refused_with_nothing_of_it(client, config, sample):
    login(client, "alice")
    other = sample.bes_ids[0]
    response = client.get(f"/download?ids={other}")
    assert response.status_code == 403
    row = stored(config, other)
    assert row["content"] not in response.data
    assert row["file_name"].encode() not in response.data


def test_one_forbidden_file_refuses_the_whole_zip(client, sample):
    login(client, "alice")
    response = client.get(f"/download?ids={sample.aus_ids[0]},{sample.bes_ids[1]}")
    assert response.status_code == 403
    assert b"PK" not in response.data[:2]
    assert str(sample.bes_ids[1]).encode() in response.data


def test_a_user_cannot_tell_a_missing_id_from_a_forbidden_one(client, sample):
    login(client, "alice")
    assert client.get("/download?ids=999999").status_code == 403
    client.post("/logout", data=_form_token(client))
    login(client, "admin")
    assert client.get("/download?ids=999999").status_code == 404


def test_an_owner_downloads_the_owned_facilitys_files_only(client, sample):
    login(client, "owen")
    assert client.get(f"/download?ids={sample.bes_ids[0]}").status_code == 200
    assert client.get(f"/download?ids={sample.aus_ids[0]}").status_code == 403


@pytest.mark.parametrize("ids", ["", "1,x", "-1", "1;2"])
def test_bad_ids_are_a_400_that_says_what_to_send(client, ids):
    login(client, "admin")
    response = client.get(f"/download?ids={ids}")
    assert response.status_code == 400
    assert b"ids=1,2,3" in response.data


def test_parse_ids_keeps_order_drops_repeats_and_limits_the_count():
    assert parse_ids(" 3, 1,3 ,2,") == [3, 1, 2]
    with pytest.raises(ValueError, match=f"at most {MAX_FILES}"):
        parse_ids(",".join(str(i) for i in range(MAX_FILES + 1)))


def test_file_names_are_made_safe_for_headers_and_zips():
    assert safe_file_name("AUS02_1_PHD.PHD", "x") == "AUS02_1_PHD.PHD"
    assert safe_file_name('../../etc/pa"ss wd', "x") == "_.._etc_pa_ss_wd"
    assert safe_file_name("..", "fallback") == "fallback"
    assert safe_file_name(None, "fallback") == "fallback"


def test_an_administrator_downloads_the_raw_bytes_of_a_quarantined_message(client, sample):
    login(client, "admin")
    response = client.get(f"/download/quarantine/{sample.quarantine_id}")
    assert response.status_code == 200
    assert response.data == b"\x30\x82not a CMS message"
    name = f"quarantine-{sample.quarantine_id}-BES01_9999_PHD.PHD.raw"
    assert name in response.headers["Content-Disposition"]
    assert client.get("/download/quarantine/999").status_code == 404


def test_an_owner_cannot_download_quarantined_messages(client, sample):
    login(client, "owen")
    response = client.get(f"/download/quarantine/{sample.quarantine_id}")
    assert response.status_code == 403
    assert b"not a CMS message" not in response.data
