/*
 * nslab-read PID PATH MAXBYTES: print a regular file as process PID sees it.
 *
 * Why not `nsenter -t PID -U -m -r cat PATH`: nsenter execs cat *after* joining
 * the sandbox's mount namespace, so a learner who bind-mounts a program over
 * /usr/bin/cat gets it run by the lab server outside the sandbox's pid, net and
 * cgroup namespaces and without seccomp. This helper never execs anything after
 * joining: it opens the target's root, user and mount namespace first, joins
 * them (user first: from then on it has no privilege on the host), chroots to
 * the target's root, and reads with open(2) — symlinks resolve inside the
 * sandbox. Exit: 0 ok, 2 no such file, 3 other error, 4 not a regular file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int openat_proc(const char *pid, const char *what, int flags) {
  char path[128];
  snprintf(path, sizeof path, "/proc/%s/%s", pid, what);
  return open(path, flags | O_CLOEXEC);
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: nslab-read PID PATH MAXBYTES\n"); return 3; }
  const char *pid = argv[1];
  long max = strtol(argv[3], NULL, 10);
  if (max <= 0) max = 1 << 20;
  int rootfd = openat_proc(pid, "root", O_PATH | O_DIRECTORY);
  int userfd = openat_proc(pid, "ns/user", O_RDONLY);
  int mntfd = openat_proc(pid, "ns/mnt", O_RDONLY);
  if (rootfd < 0 || userfd < 0 || mntfd < 0) { perror("nslab-read: open target"); return 3; }
  clearenv();
  if (setns(userfd, CLONE_NEWUSER) != 0) { perror("nslab-read: setns user"); return 3; }
  if (setns(mntfd, CLONE_NEWNS) != 0) { perror("nslab-read: setns mnt"); return 3; }
  if (fchdir(rootfd) != 0 || chroot(".") != 0 || chdir("/") != 0) { perror("nslab-read: chroot"); return 3; }
  if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) { perror("nslab-read: setresuid"); return 3; }
  int fd = open(argv[2], O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    fprintf(stderr, "nslab-read: %s: %s\n", argv[2], strerror(e));
    return (e == ENOENT || e == ENOTDIR) ? 2 : 3;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { fprintf(stderr, "nslab-read: %s: not a regular file\n", argv[2]); return 4; }
  static char buf[65536];
  long left = max;
  while (left > 0) {
    ssize_t n = read(fd, buf, left < (long)sizeof buf ? (size_t)left : sizeof buf);
    if (n < 0) { if (errno == EINTR) continue; perror("nslab-read: read"); return 3; }
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(1, buf + off, n - off);
      if (w < 0) { if (errno == EINTR) continue; return 3; }
      off += w;
    }
    left -= n;
  }
  return 0;
}
