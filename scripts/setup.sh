#!/usr/bin/env bash
# Prepare this checkout on a Debian machine with Python 3.11: system packages (only those
# missing), a virtual environment in .venv, and the project with the chosen extras.
#   scripts/setup.sh demo   -> what `stax demo` needs
#   scripts/setup.sh test   -> also the test tools: Chromium, ChromeDriver, Mosquitto, Dovecot, OpenSSL
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-demo}

packages=(python3-venv openssl ca-certificates)
if [ "$what" = test ]; then
  packages+=(chromium chromium-driver mosquitto mosquitto-clients dovecot-imapd)
  packages+=(systemd) # systemd-analyze verify/security checks config/systemd/*.service
fi

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
extras=central,agent
[ "$what" = test ] && extras=test
[ "$what" = bench ] && extras=bench
stamp=".venv/.installed-$extras-$(sha1sum pyproject.toml | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[$extras]"
  touch "$stamp"
fi
