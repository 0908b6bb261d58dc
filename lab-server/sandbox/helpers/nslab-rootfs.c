/*
 * nslab-rootfs [-c CGROUP_PROCS] [-u UNMOUNT] ROOTFS TMPFS_OPTIONS UID -- COMMAND [ARG]...
 *
 * The sandbox's writable root, and the private mount namespace `crun run` runs
 * in (crun.ts), so the host never has this tmpfs mounted:
 *  1. -c: joins the cgroup whose cgroup.procs is CGROUP_PROCS (hybrid hosts: the
 *     sandbox's unified group, so the cgroup namespace crun makes is rooted there)
 *  2. makes a mount namespace of its own, every mount in it private
 *  3. -u: detaches UNMOUNT there (hybrid hosts: crun refuses to run while it sees
 *     the cgroup2 at /sys/fs/cgroup/unified)
 *  4. mounts a size-capped tmpfs at ROOTFS and makes the skeleton the OCI config
 *     mounts the image parts on, owned by the sandbox's host uid
 *  5. execs COMMAND (crun run) in that namespace.
 * One small program instead of a shell, unshare(1), umount(1) and a dozen coreutils
 * processes: it sits on the critical path of every sandbox start.
 * Exit status: 125 for our own errors, 127 if COMMAND cannot be started.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static void die(const char *what, const char *arg) {
  fprintf(stderr, "nslab-rootfs: %s %s: %s\n", what, arg, strerror(errno));
  exit(125);
}

static void usage(void) {
  fprintf(stderr, "usage: nslab-rootfs [-c CGROUP_PROCS] [-u UNMOUNT] ROOTFS TMPFS_OPTIONS UID -- COMMAND [ARG]...\n");
  exit(125);
}

static void join_cgroup(const char *procs) {
  int fd = open(procs, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die("open", procs);
  char pid[24];
  int n = snprintf(pid, sizeof pid, "%d", (int)getpid());
  if (write(fd, pid, n) != n) die("join cgroup", procs);
  close(fd);
}

int main(int argc, char **argv) {
  const char *procs = NULL, *unmount = NULL;
  int opt;
  while ((opt = getopt(argc, argv, "+c:u:")) != -1) {
    if (opt == 'c') procs = optarg;
    else if (opt == 'u') unmount = optarg;
    else usage();
  }
  /* ROOTFS TMPFS_OPTIONS UID -- COMMAND... */
  if (argc - optind < 5 || strcmp(argv[optind + 3], "--") != 0) usage();
  const char *rootfs = argv[optind], *options = argv[optind + 1], *uid_text = argv[optind + 2];
  char **command = argv + optind + 4;
  char *end;
  errno = 0;
  unsigned long uid = strtoul(uid_text, &end, 10);
  if (errno || *end || uid == 0 || uid > 0xfffeffffUL) { errno = EINVAL; die("bad uid", uid_text); }

  if (procs) join_cgroup(procs);
  if (unshare(CLONE_NEWNS) != 0) die("unshare", "mount namespace");
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("make private", "/");
  if (unmount && umount2(unmount, MNT_DETACH) != 0) die("umount", unmount);

  if (mount("nslab-rw", rootfs, "tmpfs", MS_NOSUID | MS_NODEV, options) != 0) die("mount tmpfs on", rootfs);
  int root = open(rootfs, O_DIRECTORY | O_PATH | O_CLOEXEC);
  if (root < 0) die("open", rootfs);
  static const char *dirs[] = { "usr", "etc", "opt", "var", "proc", "sys", "dev", "run", "home", "srv", "mnt", "media" };
  struct { const char *name; mode_t mode; } special[] = { { "tmp", 01777 }, { "root", 0700 } };
  for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
    if (mkdirat(root, dirs[i], 0755) != 0) die("mkdir", dirs[i]);
    if (fchownat(root, dirs[i], uid, uid, AT_SYMLINK_NOFOLLOW) != 0) die("chown", dirs[i]);
  }
  for (size_t i = 0; i < sizeof special / sizeof *special; i++) {
    if (mkdirat(root, special[i].name, 0700) != 0) die("mkdir", special[i].name);
    if (fchownat(root, special[i].name, uid, uid, AT_SYMLINK_NOFOLLOW) != 0) die("chown", special[i].name);
    /* after chown: mkdir's mode is masked by the umask, and 1777 needs the sticky bit */
    if (fchmodat(root, special[i].name, special[i].mode, 0) != 0) die("chmod", special[i].name);
  }
  static const char *links[][2] = { { "bin", "usr/bin" }, { "sbin", "usr/sbin" }, { "lib", "usr/lib" }, { "lib64", "usr/lib64" } };
  for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
    if (symlinkat(links[i][1], root, links[i][0]) != 0) die("symlink", links[i][0]);
    if (fchownat(root, links[i][0], uid, uid, AT_SYMLINK_NOFOLLOW) != 0) die("chown", links[i][0]);
  }
  close(root);
  execvp(command[0], command);
  fprintf(stderr, "nslab-rootfs: cannot run %s: %s\n", command[0], strerror(errno));
  return 127;
}
