"""Every route behind the login: found by walking Flask's URL map, so that a route added
later is checked too."""

from __future__ import annotations

import pytest

from central.web.auth import PAGE_ENDPOINTS, PUBLIC_ENDPOINTS

from .helpers import login

# values for the URL variables (numbers for the others)
_EXAMPLES = {"path": "received", "package_name": "dash", "fingerprinted_path": "dash.js"}


def _protected_requests(app):
    urls = app.server.url_map.bind("localhost")
    for rule in app.server.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        url = urls.build(rule.endpoint, {name: _EXAMPLES.get(name, 1) for name in rule.arguments})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url


def test_the_url_map_has_the_routes_this_test_expects(app):
    endpoints = {rule.endpoint for rule in app.server.url_map.iter_rules()}
    assert {"login", "logout", "download", "download_quarantined"} <= endpoints
    assert endpoints >= PAGE_ENDPOINTS
    assert "/_dash-update-component" in endpoints
    assert "static" not in endpoints  # no Flask static folder beside Dash's assets


def test_every_route_but_login_and_assets_refuses_anonymous_users(app, client, sample):
    checked = 0
    for endpoint, method, url in _protected_requests(app):
        response = client.open(url, method=method, json={} if method == "POST" else None)
        if endpoint in PAGE_ENDPOINTS and method == "GET":
            assert response.status_code == 302, (method, url)
            assert response.headers["Location"].startswith("/login?next="), (method, url)
        else:
            assert response.status_code == 401, (method, url, response.status_code)
        assert b"BEGIN IMS2.0" not in response.data
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("path", ["/login", "/assets/style.css", "/_favicon.ico"])
def test_the_login_page_and_its_assets_are_public(client, path):
    assert client.get(path).status_code == 200


def test_a_user_gets_the_pages_but_not_the_quarantine(client, sample):
    login(client, "alice")
    assert client.get("/received").status_code == 200
    assert client.get(f"/download/quarantine/{sample.quarantine_id}").status_code == 403
