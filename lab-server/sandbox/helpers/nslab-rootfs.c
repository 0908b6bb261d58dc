/*
 * nslab-rootfs ROOTFS TMPFS_OPTIONS UID: the sandbox's writable root.
 *
 * Run by the crun wrapper inside the private mount namespace crun then runs in
 * (crun.ts), so the host never has this tmpfs mounted. Mounts a size-capped
 * tmpfs at ROOTFS and makes the skeleton the OCI config mounts the image parts
 * on, owned by the sandbox's host uid. One small program instead of a dozen
 * coreutils processes: it sits on the critical path of every sandbox start.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: nslab-rootfs ROOTFS TMPFS_OPTIONS UID\n");
    return 2;
  }
  char *end;
  errno = 0;
  unsigned long uid = strtoul(argv[3], &end, 10);
  if (errno || *end || uid == 0 || uid > 0xfffeffffUL) { errno = EINVAL; die("bad uid", argv[3]); }
  if (mount("nslab-rw", argv[1], "tmpfs", MS_NOSUID | MS_NODEV, argv[2]) != 0) die("mount tmpfs on", argv[1]);
  int root = open(argv[1], O_DIRECTORY | O_PATH | O_CLOEXEC);
  if (root < 0) die("open", argv[1]);
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
  return 0;
}
