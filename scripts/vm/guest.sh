#!/bin/bash
# Stage 2 of the nslab test VM: runs in the guest after switch_root, read from
# the host's checkout. Runs the job's command in the project directory with the
# job's environment, writes its exit status to the job directory, saves the
# kernel log there, and powers the VM off (qemu -no-reboot exits).
# usage (by scripts/vm/init): guest.sh JOB_DIR
job=$1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
export NSLAB_VM_JOB=$job NSLAB_VM=1
uptime_s() { cut -d' ' -f1 /proc/uptime; }

finish() {
  echo "$1" > "$job/status"
  dmesg > "$job/dmesg" 2>/dev/null
  sync
  /run/nslab-vm/busybox reboot -f
}

# environment from the host (NSLAB_* and CI), as NAME=VALUE lines
if [ -f "$job/env" ]; then
  while IFS= read -r line; do export "$line"; done < "$job/env"
fi
project=$(cat "$job/project")
cd "$project" || { echo "nslab-vm: project directory $project is missing in the guest"; finish 125; }

# what the guest's kernel offers the project, in one line for the log
echo "[nslab-vm $(uptime_s)s] kernel $(uname -r), cgroup $(stat -fc %T /sys/fs/cgroup), $(nproc) cpus, $(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 )) MiB; running in $project"
start=$(date +%s)
# through a pipe, so that the command does not write to a terminal (no progress
# redraws from vitest), and its output is streamed to the host as it comes
bash "$job/cmd" < /dev/null 2>&1 | cat
rc=${PIPESTATUS[0]}
echo "[nslab-vm $(uptime_s)s] exit status $rc after $(( $(date +%s) - start )) s"
finish "$rc"
