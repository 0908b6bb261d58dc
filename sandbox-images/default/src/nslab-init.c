/*
 * nslab-init: PID 1 of every sandbox.
 *
 * Why a program of our own instead of `sleep infinity`: PID 1 must reap the
 * orphans the learner leaves behind (or zombies pile up until pids.max), and
 * a few things can only be set up from inside the namespaces the runtime made:
 *  - loopback up in the new network namespace;
 *  - /sys stacked twice, because `ip netns exec` unmounts /sys and the kernel
 *    only lets a user namespace mount a new sysfs while a full one stays visible;
 *  - the command-log FIFO held open read-write, so a shell reporting a command
 *    never blocks in open() while the server is (re)connecting.
 *  - on cgroup v2 hosts, the "no internal processes" rule: the sandbox's cgroup
 *    can only hand controllers (memory, pids, cpu) to groups the learner makes
 *    if it holds no process itself, so PID 1 moves into a leaf group "init"
 *    first and then enables the controllers for its children (the driver
 *    starts terminals in that leaf with `crun exec --cgroup init`).
 * Inside the sandbox nobody can signal PID 1; the host ends it with SIGKILL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  close(fd);
  return n < 0 ? -1 : 0;
}

static void cgroup2_leaf(void) {
  struct statfs st;
  if (statfs("/sys/fs/cgroup", &st) != 0 || st.f_type != CGROUP2_SUPER_MAGIC) return;
  if (mkdir("/sys/fs/cgroup/init", 0755) != 0 && errno != EEXIST) return;
  if (write_file("/sys/fs/cgroup/init/cgroup.procs", "1") != 0) return;
  write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
  write_file("/sys/fs/cgroup/cgroup.subtree_control", "+pids");
  write_file("/sys/fs/cgroup/cgroup.subtree_control", "+cpu");
}

/*
 * v1 and hybrid hosts: /sys/fs/cgroup is a tmpfs holding one mount per
 * controller. Writable, it let `mkdir /sys/fs/cgroup/mygroup; echo ... >
 * memory.max` (the cgroup v2 recipe) "succeed" into plain files that limit
 * nothing. Read-only (this mount only, the controller mounts below stay
 * writable), the same commands fail with "Read-only file system" and the
 * learner uses the controller directories, e.g. /sys/fs/cgroup/memory/mygroup.
 * Root inside could remount it; this is a signpost, not a security boundary.
 */
static void cgroup_v1_top_readonly(void) {
  struct statfs st;
  if (statfs("/sys/fs/cgroup", &st) != 0 || st.f_type != TMPFS_MAGIC) return;
  mount(NULL, "/sys/fs/cgroup", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

static void loopback_up(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    ioctl(fd, SIOCSIFFLAGS, &ifr);
  }
  close(fd);
}

int main(void) {
  loopback_up();
  cgroup2_leaf();
  /* The learner mounts mqueue here (a pre-mounted one would make that fail). */
  mkdir("/dev/mqueue", 0755);
  if (mount("/sys", "/sys", NULL, MS_BIND | MS_REC, NULL) == 0)
    mount(NULL, "/sys", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  cgroup_v1_top_readonly();
  int logfd = open("/run/nslab/cmdlog", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  (void)logfd;

  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, NULL);
  /* Tell the server the sandbox is set up (it waits for this line on stdout). */
  static const char ready[] = "nslab-init ready\n";
  (void)!write(1, ready, sizeof ready - 1);
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) { dup2(devnull, 0); dup2(devnull, 1); dup2(devnull, 2); }

  /* Signals from inside the sandbox never reach PID 1 (the kernel drops them
   * while our handlers are default), and SIGKILL from the host ends everything.
   * SIGCHLD delivery to a namespace init is not something to lean on either:
   * reap on every wake-up and at least once a second. */
  struct timespec tick = { .tv_sec = 1, .tv_nsec = 0 };
  for (;;) {
    sigtimedwait(&all, NULL, &tick);
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
  }
}
