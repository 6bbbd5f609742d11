#!/bin/sh
# Install the zfs-sync agent bundle on a host (Linux or FreeBSD) that has Node.js >= 20:
#   sh install.sh [path/to/zfs-sync-agent.mjs]
# Copies the bundle to $PREFIX/lib/zfs-sync-agent/, a `zfs-sync-agent` command to $PREFIX/bin/,
# the example config (if none exists yet) and, on systemd hosts, the service and timer units.
# DESTDIR installs into a staging root (packaging, tests). Nothing is started or enabled.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bundle=${1:-$here/../../dist/zfs-sync-agent.mjs}
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
case "$(uname -s)" in
  FreeBSD) confdir=${CONFDIR:-$PREFIX/etc/zfs-sync} ;;
  *) confdir=${CONFDIR:-/etc/zfs-sync} ;;
esac

[ -f "$bundle" ] || { echo "install.sh: no bundle at $bundle (build it with: npm run build:agent)" >&2; exit 66; }
node=$(command -v node || true)
if [ -z "$DESTDIR" ]; then
  [ -n "$node" ] || { echo "install.sh: Node.js >= 20 is needed (apt install nodejs / pkg install node20)" >&2; exit 69; }
  major=$("$node" -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || { echo "install.sh: Node.js $major is too old; the agent needs >= 20" >&2; exit 69; }
fi

install -d -m 755 "$DESTDIR$PREFIX/lib/zfs-sync-agent" "$DESTDIR$PREFIX/bin"
install -m 644 "$bundle" "$DESTDIR$PREFIX/lib/zfs-sync-agent/zfs-sync-agent.mjs"
cat > "$DESTDIR$PREFIX/bin/zfs-sync-agent" <<WRAPPER
#!/bin/sh
exec ${node:-/usr/bin/env node} $PREFIX/lib/zfs-sync-agent/zfs-sync-agent.mjs "\$@"
WRAPPER
chmod 755 "$DESTDIR$PREFIX/bin/zfs-sync-agent"

install -d -m 750 "$DESTDIR$confdir"
if [ ! -f "$DESTDIR$confdir/agent.yaml" ]; then
  install -m 600 "$here/agent.yaml.example" "$DESTDIR$confdir/agent.yaml"
  echo "wrote $confdir/agent.yaml: set witness_url and enrollment_token in it"
fi

if [ -d "$DESTDIR/etc/systemd/system" ] || { [ -z "$DESTDIR" ] && command -v systemctl >/dev/null 2>&1; }; then
  install -d -m 755 "$DESTDIR/etc/systemd/system"
  for unit in zfs-sync-agent.service zfs-sync-agent.timer zfs-sync-agent-daemon.service; do
    sed "s#/usr/bin/node#${node:-/usr/bin/node}#; s#/usr/local/lib/zfs-sync-agent#$PREFIX/lib/zfs-sync-agent#; s#/etc/zfs-sync/agent.yaml#$confdir/agent.yaml#g" \
      "$here/systemd/$unit" > "$DESTDIR/etc/systemd/system/$unit"
  done
  echo "installed systemd units: systemctl daemon-reload && systemctl enable --now zfs-sync-agent.timer"
fi
echo "installed $PREFIX/bin/zfs-sync-agent ($("${node:-true}" "$DESTDIR$PREFIX/lib/zfs-sync-agent/zfs-sync-agent.mjs" version 2>/dev/null || echo 'version unknown'))"
