"""`stax demo`'s logins.json: a password and an API token per user, kept across runs; a
folder from before the API (passwords alone) gets its tokens."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from central.demo import prepare_demo
from central.store import Store
from central.tokens import user_for_token


def test_each_demo_user_has_a_working_token_kept_across_runs(tmp_path):
    first = prepare_demo(tmp_path / "demo", stations=1)
    path = tmp_path / "demo" / "logins.json"
    saved = json.loads(path.read_text())
    assert set(saved["admin"]) == {"password", "token"} and saved == first.logins
    database = tmp_path / "demo" / "central" / "data" / "central.sqlite"
    with Store(database) as store:
        for name in ("admin", "viewer"):
            user, _ = user_for_token(store, saved[name]["token"], datetime.now(UTC))
            assert user.username == name
    # an old folder: passwords only
    path.write_text(json.dumps({name: v["password"] for name, v in saved.items()}))
    again = prepare_demo(tmp_path / "demo", stations=1)
    assert again.logins["viewer"]["password"] == saved["viewer"]["password"]
    with Store(database) as store:
        assert user_for_token(store, again.logins["viewer"]["token"], datetime.now(UTC))
