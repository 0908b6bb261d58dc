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
 * The ipc, mq, nsbatch and sysctl forks join no user, mount or pid namespace of the sandbox:
 * the files they open are the host's procfs. CODE 3 is any other failure.
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
#include <sys/mount.h>
#include <sys/stat.h>
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

static void serve(const char *op, const char *pid, long max, const char *arg) {
  // a fork that hangs (a stuck read) dies here; the parent answers for it
  alarm(FORK_TIMEOUT_S);
  if (strcmp(op, "read") == 0) op_read(pid, arg, max);
  else if (strcmp(op, "ipc") == 0) op_ipc(pid, max);
  else if (strcmp(op, "mq") == 0) op_mq(pid, max);
  else if (strcmp(op, "sysctl") == 0) op_sysctl(pid, arg, max);
  else if (strcmp(op, "nsbatch") == 0) op_nsbatch(arg, max);
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
