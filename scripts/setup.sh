#!/usr/bin/env bash
# Prepare this checkout on a Debian machine with Python 3.11: system packages (only those
# missing), a virtual environment in .venv, and the project with the chosen extras.
#   scripts/setup.sh demo   -> what `stax demo` needs
#   scripts/setup.sh test   -> also the test tools: Chromium, ChromeDriver, Mosquitto, Dovecot, OpenSSL
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-demo}

packages=(python3-venv openssl ca-certificates)
command -v npm >/dev/null 2>&1 || packages+=(npm) # the charts' plotly.js strict bundle (below)
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

# The charts draw with WebGL; plotly.js's usual bundle compiles its WebGL code at run time,
# which the web server's Content-Security-Policy forbids (no 'unsafe-eval', docs/web.md).
# Its strict bundle, of the plotly.js version Dash ships, beside the web assets (not in
# git): Dash serves it and the charts use it. Without it they draw in SVG instead.
vendor=central/web/assets/vendor
version=$(.venv/bin/python -c "from plotly.offline import get_plotlyjs_version as v; print(v())")
if [ ! -f "$vendor/plotly-strict-$version.min.js" ]; then
  echo "setup: fetching plotly.js-strict-dist-min $version (npm)" >&2
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack -q "plotly.js-strict-dist-min@$version" >/dev/null)
  tar -xzf "$tmp"/plotly.js-strict-dist-min-*.tgz -C "$tmp"
  mkdir -p "$vendor"
  rm -f "$vendor"/plotly-strict-*.min.js
  cp "$tmp/package/plotly-strict.min.js" "$vendor/plotly-strict-$version.min.js"
  cp "$tmp/package/LICENSE" "$vendor/plotly.js-LICENSE.txt"
  rm -rf "$tmp"
fi
