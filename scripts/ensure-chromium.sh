#!/usr/bin/env bash
# Make sure Debian's Chromium is installed at /usr/bin/chromium for the dashboard's browser test
# (tests/test_dashboard_browser.py). The test never downloads a browser of its own.
# Installs with apt-get when missing and we are root (as in CI); otherwise only says what to do.
set -euo pipefail
CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-chromium: $CHROMIUM is missing; install it with: sudo apt-get install -y chromium" >&2
    echo "ensure-chromium: (the browser test fails under CI=true and is skipped otherwise)" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: $CHROMIUM is missing and apt-get is not available" >&2
    exit 0
fi
echo "ensure-chromium: installing Debian's chromium (and fonts-liberation) with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
test -x "$CHROMIUM"
