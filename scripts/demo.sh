#!/usr/bin/env bash
# The README's run command: set up, then run simulated stations, the central server and
# the web UI on this machine until stopped (Ctrl-C). Extra arguments go to `stax demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh demo
exec .venv/bin/stax demo "$@"
