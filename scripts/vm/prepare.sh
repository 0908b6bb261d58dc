#!/usr/bin/env bash
# Gets everything the nslab test VM needs, from Debian packages only, and
# caches it (idempotent; a second run does nothing):
#   - qemu-system-x86 and busybox-static (apt, no recommends) when missing
#   - Debian 12's stock kernel: the linux-image-6.1.*-amd64 package that
#     linux-image-amd64 depends on, fetched with `apt-get download` (never
#     installed: no bootloader or /boot is touched) and unpacked with dpkg-deb
#   - an initramfs: static busybox, scripts/vm/init, and the module closure
#     the guest needs to boot (virtio, 9p, overlay) and to run nslab (erofs,
#     loop, veth)
# Prints the cache paths as shell assignments (KERNEL=..., INITRD=...,
# KROOT=...) on stdout; progress goes to stderr.
# usage: scripts/vm/prepare.sh [--refresh]   (--refresh: look for a newer kernel package)
# env:   NSLAB_VM_CACHE (default /var/cache/nslab-vm)
#        NSLAB_VM_KERNEL_PKG (default: what linux-image-amd64 depends on)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${NSLAB_VM_CACHE:-/var/cache/nslab-vm}
refresh=0
for a in "$@"; do
  case $a in
    --refresh) refresh=1 ;;
    *) echo "prepare.sh: unknown option $a" >&2; exit 2 ;;
  esac
done
say() { echo "[nslab-vm] $*" >&2; }
die() { echo "nslab-vm: $*" >&2; exit 125; }

[ "$(id -u)" = 0 ] || die "needs root (it installs Debian packages and boots a VM that runs nslab as root)"
mkdir -p "$cache"
# one preparation at a time (CI and a developer may start two runs)
exec 9> "$cache/.lock"
flock 9

# modules the guest loads at boot, by name; their dependencies come from modules.dep
# (crc32c_generic first: libcrc32c, which erofs needs, looks for a crc32c implementation when it loads)
BOOT_MODULES=(crc32c_generic virtio_pci virtio_rng 9pnet_virtio 9p overlay erofs loop veth)

apt_updated=0
apt_update() {
  [ $apt_updated = 1 ] && return
  say "apt-get update"
  apt-get update -q >/dev/null || die "apt-get update failed"
  apt_updated=1
}

missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
# the static build: the initramfs has no libc
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || die "could not install ${missing[*]}"
fi

# --- the kernel package ---------------------------------------------------------
current=$(cat "$cache/kernel-package" 2>/dev/null || true)
if [ -n "${NSLAB_VM_KERNEL_PKG:-}" ]; then
  pkg=$NSLAB_VM_KERNEL_PKG
elif [ -n "$current" ] && [ $refresh = 0 ]; then
  pkg=$current
else
  [ $refresh = 1 ] && apt_update
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-6\.1.*-amd64$/ { print $2; exit }')
  if [ -z "$pkg" ]; then
    apt_update
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-6\.1.*-amd64$/ { print $2; exit }')
  fi
  [ -n "$pkg" ] || die "no Debian 12 kernel package (linux-image-6.1*-amd64) in the apt lists; is this Debian 12 with bookworm in sources.list?"
fi
[[ $pkg == linux-image-6.1*-amd64 ]] || die "NSLAB_VM_KERNEL_PKG=$pkg is not a linux-image-6.1*-amd64 package"

kroot=$cache/kernel/$pkg
if [ ! -f "$kroot/.complete" ]; then
  mkdir -p "$cache/debs"
  deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ]; then
    say "downloading $pkg (apt-get download, not installed)"
    ( cd "$cache/debs" && apt-get download -q "$pkg" >/dev/null 2>&1 ) \
      || { apt_update; ( cd "$cache/debs" && apt-get download -q "$pkg" >/dev/null ); } \
      || die "apt-get download $pkg failed"
    deb=$(ls "$cache/debs/${pkg}_"*.deb | head -n1)
  fi
  say "unpacking $(basename "$deb")"
  rm -rf "$kroot"
  mkdir -p "$kroot"
  dpkg-deb -x "$deb" "$kroot" || die "dpkg-deb -x $deb failed"
  kver=$(ls "$kroot/lib/modules")
  # Debian generates modules.dep in the package's postinst; we never install it
  /bin/busybox depmod -b "$kroot" "$kver" || die "depmod failed for $kver"
  touch "$kroot/.complete"
fi
echo "$pkg" > "$cache/kernel-package"
kver=$(ls "$kroot/lib/modules")
kernel=$(ls "$kroot/boot/vmlinuz-"* | head -n1)
moddir=$kroot/lib/modules/$kver

# --- the initramfs ----------------------------------------------------------------
# rebuilt whenever init, this script or the kernel changes
key=$(cat "$here/init" "$0" <(echo "$pkg") | sha256sum | cut -c1-16)
initrd=$cache/initramfs-$key.cpio.gz
if [ ! -f "$initrd" ]; then
  say "building the initramfs for $kver"
  work=$(mktemp -d "$cache/initramfs.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work"/{bin,dev,proc,sys,lower,rw,newroot}
  cp /bin/busybox "$work/bin/busybox"
  cp "$here/init" "$work/init"
  chmod 0755 "$work/init"
  echo "$kroot" > "$work/kernel-root"

  # the dependency closure, in load order (dependencies first)
  declare -A seen=()
  order=()
  add() {
    local path=$1 dep
    [ -n "${seen[$path]:-}" ] && return
    seen[$path]=1
    for dep in $(awk -F: -v m="$path" '$1 == m { print $2 }' "$moddir/modules.dep"); do add "$dep"; done
    order+=("$path")
  }
  for name in "${BOOT_MODULES[@]}"; do
    # a module file may spell - as _ or the other way round
    path=$(awk -F: -v a="/$name.ko" -v b="/${name//_/-}.ko" '{ n = $1; sub(/\.(xz|zst|gz)$/, "", n) } n ~ (a "$") || n ~ (b "$") { print $1; exit }' "$moddir/modules.dep")
    [ -n "$path" ] || die "module $name is not in $pkg"
    add "$path"
  done
  for path in "${order[@]}"; do
    case $path in *.ko) ;; *) die "module $path is compressed; this initramfs only loads plain .ko files" ;; esac
    mkdir -p "$work/lib/modules/$kver/$(dirname "$path")"
    cp "$moddir/$path" "$work/lib/modules/$kver/$path"
  done
  printf '%s\n' "${order[@]}" > "$work/modules.load"
  ( cd "$work" && find . -mindepth 1 | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1 ) > "$initrd.tmp"
  mv "$initrd.tmp" "$initrd"
  # older initramfs files of this cache are stale
  find "$cache" -maxdepth 1 -name 'initramfs-*.cpio.gz' ! -name "$(basename "$initrd")" -delete
  say "initramfs: $(( $(stat -c %s "$initrd") / 1024 )) KiB, ${#order[@]} modules"
fi

printf 'KERNEL=%q\nINITRD=%q\nKROOT=%q\nKVER=%q\n' "$kernel" "$initrd" "$kroot" "$kver"
