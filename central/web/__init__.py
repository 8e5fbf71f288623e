"""The web UI of the central server: Dash pages behind a login, served by waitress.

Run it alone with `python -m central.web --config central.toml`; see docs/web.md.
"""

from .app import create_app

__all__ = ["create_app"]
