#!/usr/bin/env bash
# Installs what `npm test` needs beyond npm (npm runs this as `pretest`): Debian's Chromium for
# the browser tests (never a downloaded browser build) and Prometheus's promtool for the alerting
# rules' test. Each is installed only where missing; CHROMIUM_PATH / PROMTOOL_PATH point at others.
set -u
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
promtool="${PROMTOOL_PATH:-promtool}"
missing=""
[ -x "$chromium" ] || missing="$missing chromium"
command -v "$promtool" >/dev/null 2>&1 || missing="$missing prometheus"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test tools: installing$missing from Debian's packages (once)"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null; then
    exit 0
  fi
  echo "test tools: apt-get could not install$missing" >&2
else
  echo "test tools: missing$missing; install them (apt-get install$missing) or set CHROMIUM_PATH / PROMTOOL_PATH" >&2
fi
# The tests that need them fail with their own message; the rest still run.
exit 0
