#!/usr/bin/env bash
# Runs one command inside a throwaway VM that looks like a fresh Debian 12 host:
# Debian's stock 6.1 kernel, a pure cgroup v2 hierarchy at /sys/fs/cgroup, and
# this host's own root file system (read-only over 9p, with a tmpfs on top so
# the guest can write anywhere and nothing reaches the host). The command runs
# as root in the project directory; its output is streamed here, and this
# script exits with its exit status. docs/vm.md says what differs from a host.
#
# usage: scripts/vm/run.sh [options] -- COMMAND [ARG...]
#   one argument after -- is a bash command line; several are run as they are
#   -m MB       guest memory (default 4096)
#   -c CPUS     guest cpus (default: the host's, at most 4)
#   -t TIME     give up after TIME (seconds, or 90s/30m/2h; default 60m)
#   -o DIR      share the host directory DIR read-write with the guest, at the same path
#               (for reports; created when missing); the guest's kernel log ends up
#               there too, as vm-dmesg.txt
#   -e NAME=VAL set an environment variable in the guest (NSLAB_* and CI pass through anyway)
#   -s          boot the host's systemd as PID 1 (a real host's cgroup owner) instead of
#               the plain busybox init; the command runs in a service of its own
#   -k          keep the job directory (command, console log, kernel log) and print its path
# exit status: the command's; 124 when the time ran out; 125 when the VM could
# not be prepared or booted, or stopped without an exit status (console tail printed)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/../.." && pwd)
cache=${NSLAB_VM_CACHE:-/var/cache/nslab-vm}

usage() { sed -n '/^# usage:/,/^# exit status/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "nslab-vm: $*" >&2; exit 125; }

mem=4096
cpus=$(nproc); [ "$cpus" -gt 4 ] && cpus=4
limit=60m
outdir=
keep=0
extra_env=()
init_arg=
while getopts ":m:c:t:o:e:ksh" opt; do
  case $opt in
    m) [[ $OPTARG =~ ^[0-9]+$ ]] && [ "$OPTARG" -ge 512 ] || die "-m takes MiB, at least 512 (got '$OPTARG')"; mem=$OPTARG ;;
    c) [[ $OPTARG =~ ^[1-9][0-9]*$ ]] || die "-c takes a number of cpus (got '$OPTARG')"; cpus=$OPTARG ;;
    t) [[ $OPTARG =~ ^[0-9]+[smh]?$ ]] || die "-t takes seconds or a duration like 30m (got '$OPTARG')"; limit=$OPTARG ;;
    o) outdir=$OPTARG ;;
    s) init_arg=" nslab.init=systemd" ;;
    e) [[ $OPTARG =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "-e takes NAME=VALUE (got '$OPTARG')"; extra_env+=("$OPTARG") ;;
    k) keep=1 ;;
    h) usage ;;
    :) die "-$OPTARG needs a value" ;;
    *) echo "nslab-vm: unknown option -$OPTARG" >&2; usage ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = -- ] && shift
[ $# -ge 1 ] || usage
[ "$(id -u)" = 0 ] || die "needs root (the guest runs nslab as root, and the VM's packages are installed with apt)"

paths=$(bash "$here/prepare.sh") || exit 125
eval "$paths"

mkdir -p "$cache/jobs"
# job directories of runs that were killed outright (kill -9, power loss)
find "$cache/jobs" -mindepth 1 -maxdepth 1 -mmin +1440 -exec rm -rf {} + 2>/dev/null
job=$(mktemp -d "$cache/jobs/XXXXXXXX") || die "cannot make a job directory in $cache/jobs"
qemu_pid=
cleanup() {
  [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null
  if [ $keep = 1 ]; then echo "nslab-vm: job directory kept: $job" >&2; else rm -rf "$job"; fi
}
trap cleanup EXIT
trap 'echo "nslab-vm: interrupted" >&2; exit 130' INT TERM HUP

if [ $# -eq 1 ]; then
  printf '%s\n' "$1" > "$job/cmd"
else
  printf '%q ' "$@" > "$job/cmd"
  echo >> "$job/cmd"
fi
echo "$project" > "$job/project"
{
  env | grep -E '^(NSLAB_|CI=)' | grep -v '^NSLAB_VM_' | grep -v $'\t' || true
  for e in "${extra_env[@]}"; do printf '%s\n' "$e"; done
} > "$job/env"

share_out=()
out_arg=
if [ -n "$outdir" ]; then
  mkdir -p "$outdir" || die "cannot make $outdir"
  outdir=$(cd "$outdir" && pwd)
  [ "$outdir" != / ] || die "-o / would hide the guest's root"
  share_out=(-virtfs "local,path=$outdir,mount_tag=out,security_model=none,multidevs=remap")
  out_arg=" nslab.out=$outdir"
fi

[[ $limit =~ ^[0-9]+$ ]] && limit=${limit}s
echo "[nslab-vm] booting $(basename "$KERNEL") under qemu TCG: $cpus cpus, $mem MiB, time limit $limit" >&2
start=$(date +%s)
# TCG, not KVM: on our CI machines /dev/kvm is PVM, which cannot run a stock kernel
timeout --kill-after=15 "$limit" qemu-system-x86_64 \
  -accel tcg,thread=multi -cpu max -smp "$cpus" -m "$mem" \
  -nodefaults -no-user-config -display none -no-reboot \
  -serial stdio \
  -kernel "$KERNEL" -initrd "$INITRD" \
  -append "console=ttyS0 quiet loglevel=3 panic=-1 nslab.job=$job nslab.guest=$here/guest.sh nslab.overlay=$((mem / 2))m$out_arg$init_arg" \
  -virtfs "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap" \
  -virtfs "local,path=$job,mount_tag=job,security_model=none,multidevs=remap" \
  "${share_out[@]}" \
  -device virtio-rng-pci \
  < /dev/null > >(sed -u -e 's/\r$//' -e '/^\[ *[0-9.]*\] reboot: /d' | tee "$job/console.log") 2> >(sed -u 's/^/qemu: /' >&2) &
qemu_pid=$!
wait "$qemu_pid"
qemu_rc=$?
qemu_pid=
# let the output pipes drain before the summary line
sleep 0.2
took=$(( $(date +%s) - start ))

if [ $qemu_rc = 124 ] || [ $qemu_rc = 137 ]; then
  echo "nslab-vm: timed out after $limit (the guest was stopped; -t sets the limit)" >&2
  exit 124
fi
if [ ! -s "$job/status" ]; then
  echo "nslab-vm: the guest stopped without an exit status (qemu exit $qemu_rc, after ${took} s). Last console lines:" >&2
  tail -n 25 "$job/console.log" | sed 's/^/  | /' >&2
  keep=1
  exit 125
fi
[ -n "$outdir" ] && [ -f "$job/dmesg" ] && cp "$job/dmesg" "$outdir/vm-dmesg.txt"
rc=$(cat "$job/status")
echo "[nslab-vm] exit status $rc, ${took} s in all" >&2
exit "$rc"
