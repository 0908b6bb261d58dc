#!/usr/bin/env bash
# One-time (and idempotent) set-up of a Debian 12 host for nslab:
#   - Debian packages the sandboxes need (crun, mmdebstrap, erofs-utils, ...)
#   - npm dependencies (npm ci when node_modules is missing or stale)
#   - the default sandbox image (built once, then cached under $NSLAB_DATA)
#   - with --with-browser, Debian's chromium for the browser tests (npm test asks for it)
#   - with --with-postgres, Debian's postgresql: the classroom store tests start a
#     throwaway server of their own with it (test/classroom/postgres.ts); npm start
#     does not need it (SQLite is the default store)
# usage: scripts/setup.sh [--with-browser] [--with-postgres] [--quiet] [--list-packages]
#   --list-packages: print the Debian packages this set-up ensures, one a line, and stop
set -euo pipefail
cd "$(dirname "$0")/.."
quiet=0; browser=0; postgres=0; list=0
for a in "$@"; do
  case $a in
    --quiet) quiet=1 ;;
    --with-browser) browser=1 ;;
    --with-postgres) postgres=1 ;;
    --list-packages) list=1 ;;
    *) echo "setup.sh: unknown option $a" >&2; exit 2 ;;
  esac
done
say() { [ $quiet = 1 ] || echo "[setup] $*"; }

pkgs=(crun mmdebstrap erofs-utils gcc libc6-dev util-linux iproute2 python3 make g++)
[ $browser = 1 ] && pkgs+=(chromium)
[ $postgres = 1 ] && pkgs+=(postgresql)
if [ $list = 1 ]; then printf '%s\n' "${pkgs[@]}"; exit 0; fi

if [ "$(id -u)" != 0 ]; then
  echo "nslab needs root on the host: it creates namespaces, cgroups and uid-mapped sandboxes." >&2
  echo "  fix: run as root (e.g. sudo -E npm start)" >&2
  exit 2
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp=node_modules/.nslab-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  say "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

# Builds only when the image is missing or its recipe changed.
bin/nslab image ensure ${NSLAB_IMAGE:-default} $([ $quiet = 1 ] && echo --quiet)
