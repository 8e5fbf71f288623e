"""Security headers on every response of the web server: Dash pages, the login page,
downloads, assets, errors and the REST API alike (one after_request hook).

The Content-Security-Policy allows what Dash needs and nothing else: scripts from this
server plus the hashes of Dash's own inline scripts (`Dash.csp_hashes()`), inline styles
(React and Dash set style attributes), images and fonts from here or data: URLs, fetches
to this server only; no plugins; and no framing at all (clickjacking).
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, Response

HSTS_SECONDS = 365 * 24 * 3600


def content_security_policy(script_hashes: Iterable[str]) -> str:
    scripts = " ".join(["'self'", *script_hashes])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self' 'unsafe-inline'",
            # blob: Plotly's PNG export draws the chart's SVG through an object URL the
            # page itself made (the toolbar's camera and "save all charts")
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(script_hashes: Iterable[str], *, https: bool) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": content_security_policy(script_hashes),
        "X-Frame-Options": "DENY",  # frame-ancestors for browsers without CSP level 2
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }
    if https:
        headers["Strict-Transport-Security"] = f"max-age={HSTS_SECONDS}"
    return headers


def init_security_headers(server: Flask, script_hashes: Iterable[str], *, https: bool) -> None:
    """Send the headers with every response of `server` (call once Dash's inline
    scripts are all defined, so that their hashes are known)."""
    headers = security_headers(list(script_hashes), https=https)

    @server.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response
