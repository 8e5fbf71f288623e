"""`python -m central.web --config FILE`: serve the web UI with waitress.

The intake starts this as a child process, so that slow pages never hold up the receiver.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import waitress

from central.config import load_central_config
from shared import logsafe
from shared.config import ConfigError

from .app import create_app

log = logging.getLogger("central.web")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m central.web", description="Serve the STAX monitor web UI."
    )
    parser.add_argument("--config", required=True, type=Path, help="the central TOML file")
    parser.add_argument("--host", help="address to listen on (default: [web] host)")
    parser.add_argument("--port", type=int, help="port to listen on (default: [web] port)")
    parser.add_argument("--threads", type=int, default=8, help="request threads (default: 8)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logsafe.install()  # outside input is logged escaped, one line per record
    if args.port is not None and not 0 < args.port < 65536:
        parser.error(f"--port must be 1-65535, got {args.port}")
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    try:
        config = load_central_config(args.config)
        app = create_app(config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    host = args.host or config.web.host
    port = args.port if args.port is not None else config.web.port
    log.info("web UI for %s on http://%s:%d", config.storage.database_path, host, port)
    waitress.serve(app.server, host=host, port=port, threads=args.threads, ident="stax-web")
    return 0


if __name__ == "__main__":
    sys.exit(main())
