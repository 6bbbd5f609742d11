#!/usr/bin/env bash
# Tools the infra checks in `npm test` need, installed from Debian when missing:
#   promtool (package `prometheus`): `promtool check rules|config`, `promtool test rules`.
# The package also ships the Prometheus server; a temporary policy-rc.d keeps apt from starting it.
# Used by .ci/run and `make test`; safe to run again (does nothing when everything is there).
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else echo "need root for: $*" >&2; return 1; fi; }

apt_install() {
  local policy=/usr/sbin/policy-rc.d created=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null && as_root chmod 755 "$policy" && created=1
  fi
  as_root apt-get update -qq >/dev/null || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  local status=$?
  [ "$created" = 1 ] && as_root rm -f "$policy"
  return $status
}

if ! command -v promtool >/dev/null; then
  echo "promtool missing: installing Debian's prometheus package (apt-get)…" >&2
  apt_install prometheus
fi
promtool --version 2>&1 | head -1 >&2

# Kubernetes manifests are rendered with `kubectl kustomize` when a kubectl with kustomize v4+ is
# on the machine; without one, infra/tests/kubernetes.test.ts checks every listed resource itself
# (Debian's kubernetes-client ships kustomize v2, too old for the overlay), so nothing is installed.
if command -v kubectl >/dev/null; then kubectl version --client 2>/dev/null | grep -i kustomize >&2 || true; fi
