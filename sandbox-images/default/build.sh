#!/usr/bin/env bash
# Builds the default nslab sandbox image: a trimmed Debian bookworm root
# filesystem (mmdebstrap, Debian packages only) packed into a read-only erofs
# file. erofs because the image is shared by every sandbox and the kernel must
# refuse writes even if a learner remounts a bind of it read-write inside.
#
# usage: build.sh OUT_DIR        (writes OUT_DIR/image.erofs and OUT_DIR/manifest.json)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
recipe_hash() {
  (cd "$here" && cat build.sh packages.txt $(ls src/* | sort) $(find files -type f | sort)) | sha256sum | cut -d' ' -f1
}
# --recipe: print the hash of everything the image is made from (the cache key)
if [ "${1-}" = --recipe ]; then recipe_hash; exit 0; fi
out=${1:?usage: build.sh OUT_DIR | build.sh --recipe}
suite=${NSLAB_SUITE:-bookworm}
mirror=${NSLAB_MIRROR:-http://deb.debian.org/debian}

for tool in mmdebstrap mkfs.erofs gcc; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool is missing; run: apt-get install -y mmdebstrap erofs-utils gcc" >&2; exit 2; }
done

work=$(mktemp -d /var/tmp/nslab-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
pkgs=$(grep -v '^\s*#' "$here/packages.txt" | xargs | tr ' ' ',')

echo "[1/4] mmdebstrap $suite ($pkgs)"
mmdebstrap --variant=minbase --include="$pkgs" \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --dpkgopt='path-exclude=/usr/share/man/??/*' \
  --dpkgopt='path-exclude=/usr/share/man/??_??/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --aptopt='APT::Install-Recommends "false"' \
  "$suite" "$root" "$mirror"

echo "[2/4] nslab files"
gcc -O2 -static -Wall -o "$root/usr/local/sbin/nslab-init" "$here/src/nslab-init.c"
cp -a "$here/files/." "$root/"
cat "$here/files/etc/nslab/bashrc-append" >> "$root/etc/bash.bashrc"
rm -f "$root/etc/nslab/bashrc-append"
echo nslab > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tnslab\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
: > "$root/etc/resolv.conf"
mkdir -p "$root/run/nslab" "$root/run/netns" "$root/sys/fs/cgroup" "$root/dev/mqueue" "$root/opt"
# A tiny root filesystem for the chroot part of the process-isolation lesson.
mini=$root/opt/minirootfs
mkdir -p "$mini"/{bin,proc,sys,dev,tmp,etc,root}
cp "$root/bin/busybox" "$mini/bin/busybox"
for app in sh ls ps cat echo hostname mount umount id mkdir uname sleep grep wc rm touch env pwd readlink ln top free df; do ln -s busybox "$mini/bin/$app"; done
echo mini > "$mini/etc/hostname"
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/var/log/*
# man-db's cache is rebuilt lazily; an empty one is enough
mkdir -p "$root/var/cache/man"

echo "[3/4] mkfs.erofs"
mkdir -p "$out"
mkfs.erofs -zlz4hc -Eall-fragments "$work/image.erofs" "$root" >/dev/null 2>&1 || mkfs.erofs -zlz4hc "$work/image.erofs" "$root" >/dev/null
mv "$work/image.erofs" "$out/image.erofs.new"
mv "$out/image.erofs.new" "$out/image.erofs"

echo "[4/4] manifest"
recipe=$(recipe_hash)
size=$(stat -c %s "$out/image.erofs")
printf '{"name":"%s","recipe":"%s","suite":"%s","builtAt":"%s","bytes":%s}\n' \
  "$(basename "$here")" "$recipe" "$suite" "$(date -u +%FT%TZ)" "$size" > "$out/manifest.json"
echo "image $(basename "$here"): $out/image.erofs ($((size / 1048576)) MiB)"
