/*
 * nslab-probe: the probe's one long-lived helper (lab-server/sandbox/probe-helper.ts).
 *
 * Why long-lived: a check round used to start a helper process per read (`nsenter
 * ... cat` for IPC and sysctls, `nsenter ... unshare ... sh` plus a `stat` and a
 * `head` per queue for POSIX message queues), and with many idle sessions those
 * fork+execs were half of the server's CPU. This process is started once; each
 * request is served by a fork of it (no exec), which joins only what the request
 * needs and exits, so a namespace joined for one sandbox never leaks into the next.
 *
 * Request on stdin: a line "OP PID MAXBYTES ARGLEN\n" followed by ARGLEN bytes of
 * argument. Answer on stdout: "CODE LEN\n" followed by LEN bytes (the data, or an
 * error text when CODE != 0). Requests are served one at a time, in order.
 *
 *   read   ARG = path: a regular file as PID sees it. Joins PID's user and mount
 *          namespaces and root (user first: from then on it has no privilege on the
 *          host), chroots there and only open(2)s and read(2)s: symlinks resolve
 *          inside the sandbox and no program of the learner's can ever run in its
 *          place (docs/security.md, gap 0). CODE 2 no such file, 4 not a regular file.
 *   ipc    /proc/sysvipc/{msg,shm,sem} of PID's IPC namespace, one after the other.
 *   mq     the POSIX message queues of PID's IPC namespace, one per line,
 *          "NAME\tMODE(octal)\tFIRST 200 BYTES" (mqueue mounted in a private mount
 *          namespace of this fork only), names sorted like sh's glob: "*" then ".[!.]*".
 *   sysctl ARG = path under /proc/sys, read in PID's IPC, UTS and net namespaces.
 *   owners which user namespace owns each of PID's namespaces (ioctl NS_GET_USERNS
 *          on /proc/PID/ns/KIND, ioctl_ns(2)), one line "KIND INODE" (for "user" that
 *          is its parent; 0 where the owner is the host's initial user namespace),
 *          then "user-owner-uid UID" (NS_GET_OWNER_UID: the host uid that made it).
 *   nsbatch ARG = lines "PID SECTIONS" (PID on the request line is 0), SECTIONS a
 *          comma-separated subset of "ipc,mq,uts,net,nest,cgroupns": what the map shows
 *          of each PID's IPC, UTS and net namespaces, all in one fork (op_nsbatch).
 *          Per PID, sections "@NAME LEN\n" + LEN bytes: ipc as the ipc op, mq as the
 *          mq op (and "mqtotal", the count of queues), uts "HOSTNAME\nDOMAINNAME\n",
 *          net one line per interface "L\tNAME\tFLAGS(hex)" and per address
 *          "A\tNAME\tinet|inet6\tADDR\tPREFIX", then "T\tINTERFACES\tADDRESSES"
 *          with the totals (also those past MAXBYTES), nest "pid INODE...\nuser
 *          INODE...\n": the namespaces PID's pid and user namespaces are nested in,
 *          nearest first (NS_GET_PARENT), cgroupns PID's /proc/PID/cgroup as seen from
 *          inside its cgroup namespace. MAXBYTES bounds each section.
 *   net    the links, addresses, routes and IPv4/IPv6 neighbours of a network
 *          namespace, read over rtnetlink (rtnetlink(7)), one tab-separated record
 *          per line (see op_net). ARG empty: PID's own network namespace. ARG = path:
 *          a namespace file pinned by a mount (`ip netns add` makes /run/netns/NAME),
 *          opened as PID sees it, exactly like `read` (user and mount namespace and
 *          root of PID, open(2) only: from then on the fork has no more privilege than
 *          the learner's root). CODE 2 no such file, 4 not a network namespace.
 * The ipc, mq, nsbatch, sysctl and net-by-pid forks join no user, mount or pid namespace
 * of the sandbox: the files they open are the host's procfs. CODE 3 is any other failure.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARG 8192
#define FORK_TIMEOUT_S 5

static char *out;
static size_t out_len, out_cap;

static void put(const char *b, size_t n) {
  if (out_len + n > out_cap) {
    size_t cap = out_cap ? out_cap : 65536;
    while (cap < out_len + n) cap *= 2;
    char *p = realloc(out, cap);
    if (!p) _exit(3);
    out = p;
    out_cap = cap;
  }
  memcpy(out + out_len, b, n);
  out_len += n;
}

static int write_all(int fd, const char *b, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w < 0) { if (errno == EINTR) continue; return -1; }
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

/** answer and end this fork */
static void answer(int code) {
  char head[64];
  alarm(0);
  int n = snprintf(head, sizeof head, "%d %zu\n", code, out_len);
  if (write_all(1, head, (size_t)n) != 0 || write_all(1, out ? out : "", out_len) != 0) _exit(1);
  _exit(0);
}

static void fail(int code, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  out_len = 0;
  put(msg, n < 0 ? 0 : (size_t)n >= sizeof msg ? sizeof msg - 1 : (size_t)n);
  answer(code);
}

static int open_proc(const char *pid, const char *what, int flags) {
  char path[128];
  snprintf(path, sizeof path, "/proc/%s/%s", pid, what);
  return open(path, flags | O_CLOEXEC);
}

static void join_ns(const char *pid, const char *kind, int nstype) {
  int fd = open_proc(pid, kind, O_RDONLY);
  if (fd < 0) fail(3, "open /proc/%s/%s: %s", pid, kind, strerror(errno));
  if (setns(fd, nstype) != 0) fail(3, "setns %s: %s", kind, strerror(errno));
  close(fd);
}

/** appends up to max bytes of an open fd; returns bytes read or -1 */
static long slurp(int fd, long max) {
  static char buf[65536];
  long total = 0;
  while (total < max) {
    long want = max - total < (long)sizeof buf ? max - total : (long)sizeof buf;
    ssize_t n = read(fd, buf, (size_t)want);
    if (n < 0) { if (errno == EINTR) continue; return -1; }
    if (n == 0) break;
    put(buf, (size_t)n);
    total += n;
  }
  return total;
}

static void op_read(const char *pid, const char *path, long max) {
  int rootfd = open_proc(pid, "root", O_PATH | O_DIRECTORY);
  int userfd = open_proc(pid, "ns/user", O_RDONLY);
  int mntfd = open_proc(pid, "ns/mnt", O_RDONLY);
  if (rootfd < 0 || userfd < 0 || mntfd < 0) fail(3, "open target %s: %s", pid, strerror(errno));
  clearenv();
  if (setns(userfd, CLONE_NEWUSER) != 0) fail(3, "setns user: %s", strerror(errno));
  if (setns(mntfd, CLONE_NEWNS) != 0) fail(3, "setns mnt: %s", strerror(errno));
  if (fchdir(rootfd) != 0 || chroot(".") != 0 || chdir("/") != 0) fail(3, "chroot: %s", strerror(errno));
  if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) fail(3, "setresuid: %s", strerror(errno));
  int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    fail((e == ENOENT || e == ENOTDIR) ? 2 : 3, "%s: %s", path, strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) fail(4, "%s: not a regular file", path);
  if (slurp(fd, max) < 0) fail(3, "read %s: %s", path, strerror(errno));
  answer(0);
}

static void sysvipc_tables(long max) {
  const char *files[] = { "/proc/sysvipc/msg", "/proc/sysvipc/shm", "/proc/sysvipc/sem" };
  for (int i = 0; i < 3; i++) {
    int fd = open(files[i], O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(3, "%s: %s", files[i], strerror(errno));
    size_t before = out_len;
    long n = slurp(fd, max);
    if (n < 0) fail(3, "read %s: %s", files[i], strerror(errno));
    // cut at the bound: keep whole lines only, so no half an entry is parsed as one
    if (n == max) while (out_len > before && out[out_len - 1] != '\n') out_len--;
    close(fd);
  }
}

static void op_ipc(const char *pid, long max) {
  join_ns(pid, "ns/ipc", CLONE_NEWIPC);
  sysvipc_tables(max);
  answer(0);
}

/** sh's glob order for "* .[!.]*": names without a leading dot first, each group by strcmp */
static int glob_order(const struct dirent **a, const struct dirent **b) {
  int da = (*a)->d_name[0] == '.', db = (*b)->d_name[0] == '.';
  if (da != db) return da - db;
  return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_dot_entry(const struct dirent *d) {
  return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

/** lists the queues of this process's IPC namespace (it must be in a mount namespace of its own) */
static int mq_private;

/** a mount namespace of this fork's own, once per fork (copying the host's mount table is the costly part) */
static void mq_prepare(void) {
  if (mq_private) return;
  if (unshare(CLONE_NEWNS) != 0) fail(3, "unshare mnt: %s", strerror(errno));
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail(3, "make mounts private: %s", strerror(errno));
  mq_private = 1;
}

static int mqueue_list(long max) {
  size_t start = out_len;
  // an mqueue mount shows the queues of the IPC namespace of whoever mounts it
  mq_prepare();
  if (mount("nslab-probe", "/mnt", "mqueue", 0, NULL) != 0) fail(3, "mount mqueue: %s", strerror(errno));
  int dirfd = open("/mnt", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) fail(3, "open mqueue mount: %s", strerror(errno));
  struct dirent **names;
  int n = scandir("/mnt", &names, not_dot_entry, glob_order);
  if (n < 0) fail(3, "list mqueue mount: %s", strerror(errno));
  for (int i = 0; i < n && (long)(out_len - start) < max; i++) {
    struct stat st;
    const char *name = names[i]->d_name;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
    int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    char mode[16];
    int m = snprintf(mode, sizeof mode, "%o", (unsigned)(st.st_mode & 07777));
    put(name, strlen(name));
    put("\t", 1);
    put(mode, (size_t)m);
    put("\t", 1);
    size_t before = out_len;
    if (slurp(fd, 200) < 0) out_len = before;
    // the queue's info line ends in a newline of its own: one line per queue
    while (out_len > before && (out[out_len - 1] == '\n')) out_len--;
    for (size_t k = before; k < out_len; k++) if (out[k] == '\n' || out[k] == '\t') out[k] = ' ';
    put("\n", 1);
    close(fd);
  }
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
  close(dirfd);
  (void)umount2("/mnt", MNT_DETACH);
  return n;
}

static void op_mq(const char *pid, long max) {
  join_ns(pid, "ns/ipc", CLONE_NEWIPC);
  mqueue_list(max);
  answer(0);
}

static void op_sysctl(const char *pid, const char *rel, long max) {
  if (rel[0] == '/' || strstr(rel, "..")) fail(3, "bad sysctl path %s", rel);
  join_ns(pid, "ns/ipc", CLONE_NEWIPC);
  join_ns(pid, "ns/uts", CLONE_NEWUTS);
  join_ns(pid, "ns/net", CLONE_NEWNET);
  char path[MAX_ARG + 16];
  snprintf(path, sizeof path, "/proc/sys/%s", rel);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(3, "%s: %s", path, strerror(errno));
  if (slurp(fd, max) < 0) fail(3, "read %s: %s", path, strerror(errno));
  answer(0);
}

/** the inode of the namespace an ioctl_ns(2) request returns, 0 when there is none (EPERM) */
static unsigned long ns_ioctl_inode(int fd, unsigned long request) {
  int got = ioctl(fd, request);
  if (got < 0) return 0;
  struct stat st;
  unsigned long ino = fstat(got, &st) == 0 ? (unsigned long)st.st_ino : 0;
  close(got);
  return ino;
}

static void op_owners(const char *pid) {
  // read from the host's side: no namespace of the sandbox is joined, so nothing the
  // learner did inside can change what the kernel answers
  const char *kinds[] = { "cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "time_for_children", "user", "uts" };
  char line[128];
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    char what[64];
    snprintf(what, sizeof what, "ns/%s", kinds[i]);
    int fd = open_proc(pid, what, O_RDONLY);
    if (fd < 0) {
      if (errno == ENOENT && i > 0) continue; // a kind this kernel lacks (time before 5.6)
      fail(3, "open /proc/%s/%s: %s", pid, what, strerror(errno));
    }
    int n = snprintf(line, sizeof line, "%s %lu\n", kinds[i], ns_ioctl_inode(fd, NS_GET_USERNS));
    put(line, (size_t)n);
    if (strcmp(kinds[i], "user") == 0) {
      uid_t owner;
      if (ioctl(fd, NS_GET_OWNER_UID, &owner) != 0) fail(3, "NS_GET_OWNER_UID: %s", strerror(errno));
      n = snprintf(line, sizeof line, "user-owner-uid %u\n", (unsigned)owner);
      put(line, (size_t)n);
    }
    close(fd);
  }
  answer(0);
}

static void slurp_path(const char *path, long max) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || slurp(fd, max) < 0) put("\n", 1);
  if (fd >= 0) close(fd);
}

static int prefix_len(const struct sockaddr *mask) {
  if (!mask) return 0;
  const unsigned char *b = mask->sa_family == AF_INET ? (const unsigned char *)&((const struct sockaddr_in *)mask)->sin_addr
    : (const unsigned char *)&((const struct sockaddr_in6 *)mask)->sin6_addr;
  int n = mask->sa_family == AF_INET ? 4 : 16, bits = 0;
  for (int i = 0; i < n; i++) bits += __builtin_popcount(b[i]);
  return bits;
}

static void interfaces(long max) {
  struct ifaddrs *all;
  if (getifaddrs(&all) != 0) fail(3, "getifaddrs: %s", strerror(errno));
  long links = 0, addrs = 0;
  size_t start = out_len;
  char line[512];
  for (struct ifaddrs *a = all; a; a = a->ifa_next) {
    if (!a->ifa_addr) continue;
    int n = 0;
    if (a->ifa_addr->sa_family == AF_PACKET) {
      links++;
      n = snprintf(line, sizeof line, "L\t%s\t%x\n", a->ifa_name, a->ifa_flags);
    } else if (a->ifa_addr->sa_family == AF_INET || a->ifa_addr->sa_family == AF_INET6) {
      addrs++;
      char txt[INET6_ADDRSTRLEN] = "";
      const void *src = a->ifa_addr->sa_family == AF_INET ? (const void *)&((struct sockaddr_in *)a->ifa_addr)->sin_addr
        : (const void *)&((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr;
      inet_ntop(a->ifa_addr->sa_family, src, txt, sizeof txt);
      n = snprintf(line, sizeof line, "A\t%s\t%s\t%s\t%d\n", a->ifa_name, a->ifa_addr->sa_family == AF_INET ? "inet" : "inet6", txt, prefix_len(a->ifa_netmask));
    }
    if (n > 0 && (long)(out_len - start) + n <= max) put(line, (size_t)n);
  }
  freeifaddrs(all);
  int n = snprintf(line, sizeof line, "T\t%ld\t%ld\n", links, addrs);
  put(line, (size_t)n);
}

/** "@NAME LEN\n" before a section whose bytes follow: patched in once the length is known */
static size_t section_open(const char *name) {
  char head[64];
  int n = snprintf(head, sizeof head, "@%s %010d\n", name, 0);
  put(head, (size_t)n);
  return out_len;
}

static void section_close(const char *name, size_t body) {
  char head[64];
  int n = snprintf(head, sizeof head, "@%s %010zu\n", name, out_len - body);
  memcpy(out + body - (size_t)n, head, (size_t)n);
}

/** joins PID's namespace of this kind; -1 with the reason in err when it cannot (the process left) */
static int try_join(const char *pid, const char *kind, int nstype, char *err, size_t errlen) {
  int fd = open_proc(pid, kind, O_RDONLY);
  if (fd < 0) { snprintf(err, errlen, "open /proc/%s/%s: %s", pid, kind, strerror(errno)); return -1; }
  int r = setns(fd, nstype);
  if (r != 0) snprintf(err, errlen, "setns %s: %s", kind, strerror(errno));
  close(fd);
  return r;
}

/**
 * "KIND INODE INODE ...": the namespaces PID's namespace of this kind is nested in,
 * nearest first (NS_GET_PARENT until the kernel says the parent is not ours to see);
 * at most 33 (user namespaces nest 32 deep)
 */
static void nest_line(const char *pid, const char *kind) {
  char path[16], line[64];
  snprintf(path, sizeof path, "ns/%s", kind);
  put(kind, strlen(kind));
  int fd = open_proc(pid, path, O_RDONLY);
  for (int depth = 0; fd >= 0 && depth < 33; depth++) {
    int parent = ioctl(fd, NS_GET_PARENT);
    close(fd);
    fd = parent;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) break;
    put(line, (size_t)snprintf(line, sizeof line, " %llu", (unsigned long long)st.st_ino));
  }
  if (fd >= 0) close(fd);
  put("\n", 1);
}

/** the sections of one process's namespaces, appended to out; -1 with err when a namespace cannot be joined */
static int nsinfo_into(const char *pid, const char *sections, long max, char *err, size_t errlen) {
  int want_ipc = strstr(sections, "ipc") != NULL, want_mq = strstr(sections, "mq") != NULL;
  int want_uts = strstr(sections, "uts") != NULL, want_net = strstr(sections, "net") != NULL;
  size_t body;
  // before any setns: it only opens PID's namespace files
  if (strstr(sections, "nest")) {
    body = section_open("nest");
    nest_line(pid, "pid");
    nest_line(pid, "user");
    section_close("nest", body);
  }
  if (strstr(sections, "cgroupns")) {
    // /proc/PID/cgroup shows paths from the reader's cgroup namespace root: joined, it
    // shows where PID is below its own namespace's root
    if (try_join(pid, "ns/cgroup", CLONE_NEWCGROUP, err, errlen) != 0) return -1;
    body = section_open("cgroupns");
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/cgroup", pid);
    slurp_path(path, 4096);
    section_close("cgroupns", body);
  }
  if ((want_ipc || want_mq) && try_join(pid, "ns/ipc", CLONE_NEWIPC, err, errlen) != 0) return -1;
  if (want_uts && try_join(pid, "ns/uts", CLONE_NEWUTS, err, errlen) != 0) return -1;
  if (want_net && try_join(pid, "ns/net", CLONE_NEWNET, err, errlen) != 0) return -1;
  if (want_ipc) { body = section_open("ipc"); sysvipc_tables(max); section_close("ipc", body); }
  if (want_uts) {
    body = section_open("uts");
    slurp_path("/proc/sys/kernel/hostname", 256);
    slurp_path("/proc/sys/kernel/domainname", 256);
    section_close("uts", body);
  }
  if (want_net) { body = section_open("net"); interfaces(max); section_close("net", body); }
  if (want_mq) {
    body = section_open("mq");
    int total = mqueue_list(max);
    section_close("mq", body);
    char line[32];
    body = section_open("mqtotal");
    put(line, (size_t)snprintf(line, sizeof line, "%d", total));
    section_close("mqtotal", body);
  }
  return 0;
}

/**
 * nsbatch: the namespace map's reads for many processes in one fork. ARG is lines "PID SECTIONS"; the
 * answer has per line "@p PID LEN\n" + that process's nsinfo sections, or
 * "@e PID LEN\n" + why it could not be read, or "@s PID 0\n" once the answer
 * passed NSBATCH_TOTAL bytes or NSBATCH_MS (the rest is skipped, so one round's
 * read is bounded in bytes and in how long it holds up other sandboxes' probes).
 * A fork that is root on the host may setns into one IPC, UTS and net namespace
 * after another; the mount namespace for mqueue mounts is made once.
 */
#define NSBATCH_TOTAL (2L << 20)
/** ...or after this long: every sandbox's probes wait behind this one helper */
#define NSBATCH_MS 500

static long elapsed_ms(const struct timespec *since) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

static void op_nsbatch(const char *arg, long max) {
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  const char *line = arg;
  while (*line) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    char pid[16], sections[64];
    char buf[96];
    if (len >= sizeof buf) fail(3, "bad nsbatch line");
    memcpy(buf, line, len);
    buf[len] = 0;
    line += len + (nl ? 1 : 0);
    if (sscanf(buf, "%15s %63s", pid, sections) != 2) fail(3, "bad nsbatch line");
    for (const char *c = pid; *c; c++) if (*c < '0' || *c > '9') fail(3, "bad pid in nsbatch");
    char head[64];
    if ((long)out_len >= NSBATCH_TOTAL || elapsed_ms(&start) >= NSBATCH_MS) {
      put(head, (size_t)snprintf(head, sizeof head, "@s %s 0\n", pid));
      continue;
    }
    int n = snprintf(head, sizeof head, "@p %s %010d\n", pid, 0);
    put(head, (size_t)n);
    size_t body = out_len;
    char err[512];
    if (nsinfo_into(pid, sections, max, err, sizeof err) != 0) {
      out_len = body;
      put(err, strlen(err));
      memcpy(out + body - (size_t)n, "@e", 2);
    }
    char fixed[64];
    int m = snprintf(fixed, sizeof fixed, " %s %010zu\n", pid, out_len - body);
    memcpy(out + body - (size_t)n + 2, fixed, (size_t)m);
  }
  answer(0);
}

/* ---- net: rtnetlink dumps ------------------------------------------------ */

static void put_str(const char *s) { put(s, strlen(s)); }

static void putf(const char *fmt, ...) {
  char b[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b, sizeof b, fmt, ap);
  va_end(ap);
  if (n > 0) put(b, (size_t)n >= sizeof b ? sizeof b - 1 : (size_t)n);
}

/** an address attribute as text: inet_ntop for IPv4/IPv6, "-" for anything else */
static void put_ip(int family, const struct rtattr *a) {
  char b[INET6_ADDRSTRLEN];
  size_t want = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
  if (!a || !want || RTA_PAYLOAD(a) < want || !inet_ntop(family, RTA_DATA(a), b, sizeof b)) { put_str("-"); return; }
  put_str(b);
}

static void put_hw(const struct rtattr *a) {
  if (!a || RTA_PAYLOAD(a) == 0) { put_str("-"); return; }
  const unsigned char *d = RTA_DATA(a);
  for (size_t i = 0; i < RTA_PAYLOAD(a) && i < 32; i++) putf(i ? ":%02x" : "%02x", d[i]);
}

/** interface names cannot hold whitespace (dev_valid_name), so a tab or newline here is a bug: "-" then */
static void put_name(const struct rtattr *a) {
  if (!a || RTA_PAYLOAD(a) == 0) { put_str("-"); return; }
  const char *n = RTA_DATA(a);
  size_t len = strnlen(n, RTA_PAYLOAD(a));
  for (size_t i = 0; i < len; i++) if ((unsigned char)n[i] <= ' ') { put_str("-"); return; }
  put(n, len);
}

static long u32_attr(const struct rtattr *a, long none) {
  return a && RTA_PAYLOAD(a) >= 4 ? (long)*(const unsigned int *)RTA_DATA(a) : none;
}

static long s32_attr(const struct rtattr *a, long none) {
  return a && RTA_PAYLOAD(a) >= 4 ? (long)*(const int *)RTA_DATA(a) : none;
}

#define MAX_ATTR 64
static void parse_attrs(struct rtattr **tb, struct rtattr *a, int len) {
  memset(tb, 0, sizeof(struct rtattr *) * (MAX_ATTR + 1));
  for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    unsigned short t = a->rta_type & ~NLA_F_NESTED;
    if (t <= MAX_ATTR && !tb[t]) tb[t] = a;
  }
}

/*
 * link  INDEX NAME FLAGS(hex) OPERSTATE TYPE(ARPHRD) KIND MASTER LINK LINK_NETNSID MAC
 *   KIND: IFLA_INFO_KIND ("veth", "bridge", ...) or "-"; MASTER, LINK: ifindex or 0;
 *   LINK_NETNSID: -1 when the peer (IFLA_LINK) is in this same namespace
 */
/** links whose peer (IFLA_LINK) is in another namespace, to be looked up there after the dump */
#define MAX_REMOTE 256
static struct { int index, peer, nsid; } remote[MAX_REMOTE];
static int n_remote;

static void on_link(struct nlmsghdr *h) {
  struct ifinfomsg *ifi = NLMSG_DATA(h);
  struct rtattr *tb[MAX_ATTR + 1], *info[MAX_ATTR + 1];
  parse_attrs(tb, IFLA_RTA(ifi), (int)IFLA_PAYLOAD(h));
  if (tb[IFLA_LINK_NETNSID] && s32_attr(tb[IFLA_LINK_NETNSID], -1) >= 0 && s32_attr(tb[IFLA_LINK], 0) > 0 && n_remote < MAX_REMOTE) {
    remote[n_remote].index = ifi->ifi_index;
    remote[n_remote].peer = (int)s32_attr(tb[IFLA_LINK], 0);
    remote[n_remote].nsid = (int)s32_attr(tb[IFLA_LINK_NETNSID], -1);
    n_remote++;
  }
  putf("link\t%d\t", ifi->ifi_index);
  put_name(tb[IFLA_IFNAME]);
  putf("\t%x\t%u\t%u\t", ifi->ifi_flags, tb[IFLA_OPERSTATE] ? *(unsigned char *)RTA_DATA(tb[IFLA_OPERSTATE]) : 0, ifi->ifi_type);
  memset(info, 0, sizeof info);
  if (tb[IFLA_LINKINFO]) parse_attrs(info, RTA_DATA(tb[IFLA_LINKINFO]), (int)RTA_PAYLOAD(tb[IFLA_LINKINFO]));
  put_name(info[IFLA_INFO_KIND]);
  putf("\t%ld\t%ld\t%ld\t", u32_attr(tb[IFLA_MASTER], 0), s32_attr(tb[IFLA_LINK], 0), s32_attr(tb[IFLA_LINK_NETNSID], -1));
  put_hw(tb[IFLA_ADDRESS]);
  put_str("\n");
}

/** addr  INDEX FAMILY PREFIXLEN SCOPE ADDRESS (IFA_LOCAL if present, else IFA_ADDRESS) */
static void on_addr(struct nlmsghdr *h) {
  struct ifaddrmsg *ifa = NLMSG_DATA(h);
  struct rtattr *tb[MAX_ATTR + 1];
  parse_attrs(tb, IFA_RTA(ifa), (int)IFA_PAYLOAD(h));
  putf("addr\t%u\t%u\t%u\t%u\t", ifa->ifa_index, ifa->ifa_family, ifa->ifa_prefixlen, ifa->ifa_scope);
  put_ip(ifa->ifa_family, tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS]);
  put_str("\n");
}

/** route  FAMILY TABLE TYPE SCOPE PROTOCOL DST DSTLEN OIF GATEWAY PREFSRC */
static void on_route(struct nlmsghdr *h) {
  struct rtmsg *rt = NLMSG_DATA(h);
  struct rtattr *tb[MAX_ATTR + 1];
  parse_attrs(tb, RTM_RTA(rt), (int)RTM_PAYLOAD(h));
  putf("route\t%u\t%ld\t%u\t%u\t%u\t", rt->rtm_family, u32_attr(tb[RTA_TABLE], rt->rtm_table), rt->rtm_type, rt->rtm_scope, rt->rtm_protocol);
  put_ip(rt->rtm_family, tb[RTA_DST]);
  putf("\t%u\t%ld\t", rt->rtm_dst_len, u32_attr(tb[RTA_OIF], 0));
  put_ip(rt->rtm_family, tb[RTA_GATEWAY]);
  put_str("\t");
  put_ip(rt->rtm_family, tb[RTA_PREFSRC]);
  put_str("\n");
}

/** neigh  INDEX FAMILY STATE(NUD_* bits) DST LLADDR */
static void on_neigh(struct nlmsghdr *h) {
  struct ndmsg *nd = NLMSG_DATA(h);
  struct rtattr *tb[MAX_ATTR + 1];
  parse_attrs(tb, (struct rtattr *)((char *)nd + NLMSG_ALIGN(sizeof *nd)), (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *nd)));
  putf("neigh\t%d\t%u\t%u\t", nd->ndm_ifindex, nd->ndm_family, nd->ndm_state);
  put_ip(nd->ndm_family, tb[NDA_DST]);
  put_str("\t");
  put_hw(tb[NDA_LLADDR]);
  put_str("\n");
}

static void dump(int sock, unsigned short type, const void *body, size_t body_len, void (*each)(struct nlmsghdr *), long max) {
  static unsigned seq;
  struct { struct nlmsghdr h; char body[64]; } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = NLMSG_LENGTH(body_len);
  req.h.nlmsg_type = type;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = ++seq;
  memcpy(req.body, body, body_len);
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  if (sendto(sock, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) fail(3, "netlink send: %s", strerror(errno));
  static char buf[65536];
  for (;;) {
    ssize_t n = recv(sock, buf, sizeof buf, 0);
    if (n < 0) { if (errno == EINTR) continue; fail(3, "netlink recv: %s", strerror(errno)); }
    if (n == 0) fail(3, "netlink: end of stream");
    int len = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_type == NLMSG_DONE) return;
      if (h->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *e = NLMSG_DATA(h);
        fail(3, "netlink dump %u: %s", type, strerror(-e->error));
      }
      if ((long)out_len < max) each(h);
    }
  }
}

/*
 * peer  INDEX MAC: the link-layer address of the peer of local link INDEX, read in the
 * peer's namespace through IFLA_TARGET_NETNSID (a namespace id is only meaningful
 * inside the namespace that assigned it, so the request is made from here). A peer's
 * index alone is ambiguous across namespaces; index and MAC together name it.
 */
static void put_remote_peers(int sock) {
  static char buf[65536];
  for (int i = 0; i < n_remote; i++) {
    struct { struct nlmsghdr h; struct ifinfomsg ifi; char attrs[64]; } req;
    memset(&req, 0, sizeof req);
    req.h.nlmsg_type = RTM_GETLINK;
    req.h.nlmsg_flags = NLM_F_REQUEST;
    req.h.nlmsg_seq = 100000 + (unsigned)i;
    req.ifi.ifi_family = AF_UNSPEC;
    req.ifi.ifi_index = remote[i].peer;
    struct rtattr *a = (struct rtattr *)req.attrs;
    a->rta_type = IFLA_TARGET_NETNSID;
    a->rta_len = RTA_LENGTH(sizeof(int));
    memcpy(RTA_DATA(a), &remote[i].nsid, sizeof(int));
    req.h.nlmsg_len = NLMSG_LENGTH(sizeof req.ifi) + RTA_ALIGN(a->rta_len);
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    if (sendto(sock, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) fail(3, "netlink send: %s", strerror(errno));
    ssize_t n;
    do n = recv(sock, buf, sizeof buf, 0); while (n < 0 && errno == EINTR);
    if (n < 0) fail(3, "netlink recv: %s", strerror(errno));
    int len = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      // an error (the peer went away meanwhile) leaves this peer without a MAC
      if (h->nlmsg_seq != req.h.nlmsg_seq || h->nlmsg_type != RTM_NEWLINK) continue;
      struct ifinfomsg *ifi = NLMSG_DATA(h);
      struct rtattr *tb[MAX_ATTR + 1];
      parse_attrs(tb, IFLA_RTA(ifi), (int)IFLA_PAYLOAD(h));
      putf("peer\t%d\t", remote[i].index);
      put_hw(tb[IFLA_ADDRESS]);
      put_str("\n");
    }
  }
}

/*
 * One record per line, fields separated by tabs; the first field names the record:
 * "ns INODE" first, then link, peer, addr, route and neigh lines (see on_link ...).
 * Numbers are the kernel's own (ARPHRD_*, IF_OPER_*, RT_TABLE_*, RTN_*, RT_SCOPE_*,
 * NUD_*): lab-server/sandbox/net-state.ts names them.
 */
static void op_net(const char *pid, const char *pinned, long max) {
  int nsfd;
  if (pinned[0]) {
    int rootfd = open_proc(pid, "root", O_PATH | O_DIRECTORY);
    int userfd = open_proc(pid, "ns/user", O_RDONLY);
    int mntfd = open_proc(pid, "ns/mnt", O_RDONLY);
    if (rootfd < 0 || userfd < 0 || mntfd < 0) fail(3, "open target %s: %s", pid, strerror(errno));
    clearenv();
    if (setns(userfd, CLONE_NEWUSER) != 0) fail(3, "setns user: %s", strerror(errno));
    if (setns(mntfd, CLONE_NEWNS) != 0) fail(3, "setns mnt: %s", strerror(errno));
    if (fchdir(rootfd) != 0 || chroot(".") != 0 || chdir("/") != 0) fail(3, "chroot: %s", strerror(errno));
    if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) fail(3, "setresuid: %s", strerror(errno));
    nsfd = open(pinned, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (nsfd < 0) { int e = errno; fail((e == ENOENT || e == ENOTDIR) ? 2 : 3, "%s: %s", pinned, strerror(e)); }
  } else {
    nsfd = open_proc(pid, "ns/net", O_RDONLY);
    if (nsfd < 0) fail(3, "open /proc/%s/ns/net: %s", pid, strerror(errno));
  }
  struct stat st;
  struct statfs sfs;
  if (fstat(nsfd, &st) != 0 || fstatfs(nsfd, &sfs) != 0) fail(3, "stat namespace: %s", strerror(errno));
  if (sfs.f_type != NSFS_MAGIC) fail(4, "%s: not a namespace file", pinned[0] ? pinned : "ns/net");
  if (setns(nsfd, CLONE_NEWNET) != 0) fail(4, "setns net: %s", strerror(errno));
  close(nsfd);
  int sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (sock < 0) fail(3, "netlink socket: %s", strerror(errno));
  putf("ns\t%lu\n", (unsigned long)st.st_ino);
  struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
  dump(sock, RTM_GETLINK, &ifi, sizeof ifi, on_link, max);
  put_remote_peers(sock);
  struct ifaddrmsg ifa = { .ifa_family = AF_UNSPEC };
  dump(sock, RTM_GETADDR, &ifa, sizeof ifa, on_addr, max);
  struct rtmsg rt = { .rtm_family = AF_UNSPEC };
  dump(sock, RTM_GETROUTE, &rt, sizeof rt, on_route, max);
  struct ndmsg nd = { .ndm_family = AF_UNSPEC };
  dump(sock, RTM_GETNEIGH, &nd, sizeof nd, on_neigh, max);
  answer(0);
}

static void serve(const char *op, const char *pid, long max, const char *arg) {
  // a fork that hangs (a stuck read) dies here; the parent answers for it
  alarm(FORK_TIMEOUT_S);
  if (strcmp(op, "read") == 0) op_read(pid, arg, max);
  else if (strcmp(op, "ipc") == 0) op_ipc(pid, max);
  else if (strcmp(op, "mq") == 0) op_mq(pid, max);
  else if (strcmp(op, "sysctl") == 0) op_sysctl(pid, arg, max);
  else if (strcmp(op, "owners") == 0) op_owners(pid);
  else if (strcmp(op, "nsbatch") == 0) op_nsbatch(arg, max);
  else if (strcmp(op, "net") == 0) op_net(pid, arg, max);
  fail(3, "unknown request %s", op);
}

int main(void) {
  char line[256];
  static char arg[MAX_ARG + 1];
  signal(SIGPIPE, SIG_DFL);
  while (fgets(line, sizeof line, stdin)) {
    char op[16], pid[16];
    long max;
    size_t arglen;
    if (sscanf(line, "%15s %15s %ld %zu", op, pid, &max, &arglen) != 4 || arglen > MAX_ARG) return 3;
    for (const char *c = pid; *c; c++) if (*c < '0' || *c > '9') return 3;
    if (arglen && fread(arg, 1, arglen, stdin) != arglen) return 3;
    arg[arglen] = 0;
    if (strlen(arg) != arglen) return 3;
    if (max <= 0 || max > (1L << 24)) max = 1L << 20;
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) return 3;
    if (child == 0) serve(op, pid, max, arg);
    int status;
    while (waitpid(child, &status, 0) < 0) if (errno != EINTR) return 3;
    // a fork that died before answering: answer for it, or the stream loses its framing
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      const char *msg = WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? "timed out" : "helper failed";
      printf("3 %zu\n%s", strlen(msg), msg);
      fflush(stdout);
    }
  }
  return 0;
}
