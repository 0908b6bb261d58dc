/*
 * nslab-userns UID [FIFO]: holds a new user namespace owned by host uid UID.
 *
 * Run by the server (host root) for every sandbox (user-namespace.ts):
 *  1. FIFO given: makes the sandbox's command-log FIFO, mode 0620, owned by UID
 *     (still as root, because the sandbox's directory is root's)
 *  2. drops to UID: no supplementary groups, gid and uid UID, no capability left
 *     (bounding set, inheritable, and permitted/effective by the uid change), as
 *     `setpriv --reuid --regid --clear-groups --inh-caps=-all --bounding-set=-all` did
 *  3. unshare(CLONE_NEWUSER): the new namespace is owned by UID, so the per-user
 *     kernel quotas (ucounts) of the sandbox are UID's, not host root's
 *  4. prints "up" and waits for EOF on stdin; meanwhile the server writes the
 *     uid/gid maps and crun joins /proc/PID/ns/user. The namespace outlives us in
 *     the sandbox's processes.
 * One process instead of sh, mkfifo(1), chown(1), setpriv(1), unshare(1) and a
 * waiting sh: it is on the critical path of every sandbox start.
 * Exit status: 0 at EOF, 125 for errors (with a message on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void die(const char *what) {
  fprintf(stderr, "nslab-userns: %s: %s\n", what, strerror(errno));
  exit(125);
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: nslab-userns UID [FIFO]\n");
    return 125;
  }
  char *end;
  errno = 0;
  unsigned long uid = strtoul(argv[1], &end, 10);
  if (errno || *end || end == argv[1] || uid == 0 || uid > 0xfffeffffUL) { errno = EINVAL; die("bad uid"); }

  if (argc == 3) {
    if (mkfifo(argv[2], 0600) != 0) die("mkfifo");
    if (chown(argv[2], uid, uid) != 0) die("chown fifo");
    /* after chown, and explicitly: mkfifo's mode is masked by the umask */
    if (chmod(argv[2], 0620) != 0) die("chmod fifo");
  }

  /* the bounding set while we still hold CAP_SETPCAP */
  for (int cap = 0; prctl(PR_CAPBSET_READ, cap) >= 0; cap++) {
    if (prctl(PR_CAPBSET_DROP, cap) != 0) die("drop bounding set");
  }
  if (setgroups(0, NULL) != 0) die("setgroups");
  if (setresgid(uid, uid, uid) != 0) die("setresgid");
  if (setresuid(uid, uid, uid) != 0) die("setresuid");
  /* root -> UID cleared permitted and effective; inheritable is cleared by hand */
  struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct none[2];
  memset(none, 0, sizeof none);
  if (syscall(SYS_capset, &hdr, none) != 0) die("capset");

  if (unshare(CLONE_NEWUSER) != 0) die("unshare user namespace");
  static const char up[] = "up\n";
  if (write(1, up, sizeof up - 1) != (ssize_t)(sizeof up - 1)) die("write");
  char buf[64];
  ssize_t n;
  while ((n = read(0, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {}
  return 0;
}
