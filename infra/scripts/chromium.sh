#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (/usr/bin/chromium) with playwright-core; no browser is
# downloaded by npm. Install it when it is missing (apt-get, as root or through sudo). Used by
# `make test` and CI; `npm run browsers` runs it by hand.
set -euo pipefail
CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
  echo "Chromium present: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")" >&2
  exit 0
fi
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else echo "need root for: $*" >&2; return 1; fi; }
echo "Chromium not installed: installing Debian's chromium (apt-get)…" >&2
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
"$CHROMIUM" --version >&2
